/**
 * The central directory of a zip archive whose entries are stored (not compressed), as
 * `torch.save` writes them: each entry becomes a byte range of the file, read on demand.
 * Zip64 records (archives over 4 GiB) are understood. Every offset and size is checked
 * against the archive before it is trusted: entries must lie inside the archive's data area,
 * before the central directory, and must not overlap.
 *
 * @module
 */
import type { RandomAccessFile } from "../io/types.ts";

/** One stored entry: where its data lies in the archive file. */
export interface ZipEntry {
  /** Name inside the archive (`archive/data/0`). */
  readonly name: string;
  /** Absolute file offset of the entry's data. */
  readonly dataOffset: number;
  /** Data length in bytes. */
  readonly size: number;
}

/** Error for a malformed or unsupported archive; names the file. */
export class ZipError extends Error {
  /** Creates the error. */
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "ZipError";
  }
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U32_MAX = 0xffffffff;
/** Largest central directory read (a checkpoint with 100k tensors needs about 6 MB). */
const MAX_CENTRAL_BYTES = 256 << 20;

async function readBytes(file: RandomAccessFile, offset: number, n: number): Promise<DataView> {
  const buf = new Uint8Array(n);
  await file.readAt(offset, buf);
  return new DataView(buf.buffer);
}

function u64(dv: DataView, at: number, path: string, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(path, `${what} ${v} is out of range`);
  return Number(v);
}

/** Where the central directory is: from the end record, or its zip64 form. */
async function findCentralDirectory(
  file: RandomAccessFile,
  path: string,
): Promise<{ offset: number; size: number; count: number; end: number }> {
  const tailLen = Math.min(file.size, 22 + 0xffff);
  if (tailLen < 22) throw new ZipError(path, `file is too small (${file.size} bytes) to be a zip archive`);
  const tailStart = file.size - tailLen;
  const tail = await readBytes(file, tailStart, tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tail.getUint32(i, true) === EOCD_SIG && i + 22 + tail.getUint16(i + 20, true) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new ZipError(
      path,
      "no zip end-of-central-directory record: the file is truncated or not a zip archive",
    );
  }
  const end = tailStart + eocd;
  if (tail.getUint16(eocd + 4, true) !== 0 || tail.getUint16(eocd + 6, true) !== 0) {
    throw new ZipError(path, "multi-disk zip archives are not supported");
  }
  let count = tail.getUint16(eocd + 10, true);
  let size = tail.getUint32(eocd + 12, true);
  let offset = tail.getUint32(eocd + 16, true);
  let dirEnd = end;
  if (end >= 20) {
    const loc = await readBytes(file, end - 20, 20);
    if (loc.getUint32(0, true) === ZIP64_LOCATOR_SIG) {
      const at = u64(loc, 8, path, "zip64 end record offset");
      if (at + 56 > end - 20) {
        throw new ZipError(path, `zip64 end record offset ${at} points outside the archive`);
      }
      const z = await readBytes(file, at, 56);
      if (z.getUint32(0, true) !== ZIP64_EOCD_SIG) {
        throw new ZipError(path, `no zip64 end record at offset ${at}`);
      }
      count = u64(z, 32, path, "zip64 entry count");
      size = u64(z, 40, path, "zip64 central directory size");
      offset = u64(z, 48, path, "zip64 central directory offset");
      dirEnd = at;
    }
  }
  if (offset + size > dirEnd) {
    throw new ZipError(
      path,
      `the central directory (offset ${offset}, ${size} bytes) runs past its end record at ${dirEnd}`,
    );
  }
  if (size > MAX_CENTRAL_BYTES) {
    throw new ZipError(
      path,
      `central directory of ${size} bytes exceeds the ${MAX_CENTRAL_BYTES}-byte limit`,
    );
  }
  return { offset, size, count, end: dirEnd };
}

/** Zip64 extended information (extra field 0x0001) for the saturated 32-bit fields. */
function zip64Extra(
  dv: DataView,
  start: number,
  len: number,
  need: { usize: boolean; csize: boolean; offset: boolean },
  path: string,
  name: string,
): { usize?: number; csize?: number; offset?: number } {
  const out: { usize?: number; csize?: number; offset?: number } = {};
  let p = start;
  while (p + 4 <= start + len) {
    const id = dv.getUint16(p, true);
    const n = dv.getUint16(p + 2, true);
    if (p + 4 + n > start + len) break;
    if (id === 0x0001) {
      let q = p + 4;
      for (const k of ["usize", "csize", "offset"] as const) {
        if (!need[k]) continue;
        if (q + 8 > p + 4 + n) throw new ZipError(path, `entry ${name}: zip64 extra field is too short`);
        out[k] = u64(dv, q, path, `entry ${name}: zip64 ${k}`);
        q += 8;
      }
      return out;
    }
    p += 4 + n;
  }
  throw new ZipError(path, `entry ${name}: sizes or offset need a zip64 extra field, which is missing`);
}

function decodeName(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return String.fromCharCode(...bytes);
  }
}

/** Parses the central directory entries (not yet checked against the local headers). */
function parseCentral(
  dv: DataView,
  count: number,
  path: string,
): { name: string; local: number; size: number }[] {
  const out: { name: string; local: number; size: number }[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dv.byteLength || dv.getUint32(p, true) !== CENTRAL_SIG) {
      throw new ZipError(path, `central directory entry ${i} of ${count} is malformed (at byte ${p})`);
    }
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > dv.byteLength) {
      throw new ZipError(path, `central directory entry ${i} runs past the directory`);
    }
    const name = decodeName(new Uint8Array(dv.buffer, p + 46, nameLen));
    if (flags & 1) throw new ZipError(path, `entry ${name} is encrypted`);
    if (method !== 0) {
      throw new ZipError(
        path,
        `entry ${name} is compressed (method ${method}); torch.save stores entries uncompressed`,
      );
    }
    let csize = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    let local = dv.getUint32(p + 42, true);
    const need = { usize: usize === U32_MAX, csize: csize === U32_MAX, offset: local === U32_MAX };
    if (need.usize || need.csize || need.offset) {
      const z = zip64Extra(dv, p + 46 + nameLen, extraLen, need, path, name);
      usize = z.usize ?? usize;
      csize = z.csize ?? csize;
      local = z.offset ?? local;
    }
    if (csize !== usize) {
      throw new ZipError(path, `entry ${name}: stored size ${csize} differs from its size ${usize}`);
    }
    out.push({ name, local, size: usize });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/**
 * Reads the central directory of a zip archive of stored entries and the local header of
 * each entry, and returns every entry's data range. Refuses compressed or encrypted entries,
 * entries (or their headers) outside the data area before the central directory, sizes that
 * disagree, overlapping entries and duplicate names, naming the file and the entry.
 *
 * @example
 * ```ts ignore
 * import { readZipEntries } from "./_zip.ts";
 * import { openRandomAccess } from "../io/deno_fs.ts";
 * const entries = await readZipEntries(await openRandomAccess("pytorch_model.bin"), "pytorch_model.bin");
 * entries.get("archive/data.pkl")?.size;
 * ```
 */
export async function readZipEntries(
  file: RandomAccessFile,
  path: string,
): Promise<Map<string, ZipEntry>> {
  const cd = await findCentralDirectory(file, path);
  const central = parseCentral(await readBytes(file, cd.offset, cd.size), cd.count, path);
  const entries = new Map<string, ZipEntry>();
  const spans: { name: string; start: number; end: number }[] = [];
  for (const c of central) {
    if (entries.has(c.name)) throw new ZipError(path, `entry ${c.name} appears twice`);
    if (c.local + 30 > cd.offset) {
      throw new ZipError(
        path,
        `entry ${c.name}: local header offset ${c.local} points outside the archive's data`,
      );
    }
    const lh = await readBytes(file, c.local, 30);
    if (lh.getUint32(0, true) !== LOCAL_SIG) {
      throw new ZipError(path, `entry ${c.name}: no local header at offset ${c.local}`);
    }
    const nameLen = lh.getUint16(26, true);
    const dataOffset = c.local + 30 + nameLen + lh.getUint16(28, true);
    if (dataOffset + c.size > cd.offset) {
      throw new ZipError(
        path,
        `entry ${c.name}: its ${c.size} bytes at offset ${dataOffset} run past the archive's data ` +
          `(which ends at ${cd.offset}); the entry size is wrong or the file is truncated`,
      );
    }
    const local = new Uint8Array(nameLen);
    await file.readAt(c.local + 30, local);
    if (decodeName(local) !== c.name) {
      throw new ZipError(
        path,
        `entry ${c.name}: its local header names ${JSON.stringify(decodeName(local))}`,
      );
    }
    entries.set(c.name, { name: c.name, dataOffset, size: c.size });
    spans.push({ name: c.name, start: c.local, end: dataOffset + c.size });
  }
  // (each entry from its local header to the end of its data: a size that reaches into the
  // next entry's header is caught too)
  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].start < spans[i - 1].end) {
      throw new ZipError(
        path,
        `entries ${spans[i - 1].name} and ${spans[i].name} overlap (the size of ${
          spans[i - 1].name
        } is wrong)`,
      );
    }
  }
  return entries;
}
