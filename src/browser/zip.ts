/**
 * A zip {@link OutputStore} for browsers without the File System Access API: files are kept as
 * `Blob` pieces (which the browser may hold out of the JS heap, on disk for large ones) and
 * joined into a stored (uncompressed) zip `Blob` for download. No zip64: at most 4 GiB.
 *
 * @module
 */
import type { FileSink, OutputStore } from "../io/types.ts";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * Continues a CRC-32 (zip's) over `data` from `crc` (0 to start).
 *
 * @example
 * ```ts
 * import { crc32 } from "./zip.ts";
 * crc32(0, new TextEncoder().encode("123456789")).toString(16); // "cbf43926"
 * ```
 */
export function crc32(crc: number, data: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** An {@link OutputStore} whose files become one zip. */
export interface ZipOutput extends OutputStore {
  /** Names of the closed files, in order. */
  readonly names: string[];
  /** The zip of the closed files (in the order they were closed). */
  toBlob(): Blob;
}

interface Entry {
  name: Uint8Array<ArrayBuffer>;
  crc: number;
  size: number;
  data: Blob;
}

const LIMIT = 0xffffffff;
const DOS_DATE = (1 << 5) | 1; // 1980-01-01 (fixed: the zip's bytes depend only on the files)

function header(size: number, fill: (v: DataView) => void): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

/**
 * Creates a zip output.
 *
 * @example
 * ```ts
 * import { zipOutput } from "./zip.ts";
 * const out = zipOutput();
 * await out.writeTextFile("a.txt", "hi");
 * out.toBlob().size; // 22 + 30 + 5 + 2 + 46 + 5
 * ```
 */
export function zipOutput(): ZipOutput {
  const entries: Entry[] = [];
  let total = 0;
  const create = (name: string): Promise<FileSink> => {
    const parts: Blob[] = [];
    let crc = 0, size = 0;
    return Promise.resolve({
      write(chunk: Uint8Array) {
        crc = crc32(crc, chunk);
        size += chunk.length;
        parts.push(new Blob([new Uint8Array(chunk)]));
        return Promise.resolve();
      },
      close() {
        const n = new TextEncoder().encode(name);
        total += 30 + 46 + 2 * n.length + size;
        if (total + 22 > LIMIT) {
          throw new Error("the zip would exceed 4 GiB (no zip64): write to a folder instead");
        }
        entries.push({ name: n, crc, size, data: new Blob(parts) });
        return Promise.resolve();
      },
    });
  };
  return {
    get names() {
      return entries.map((e) => new TextDecoder().decode(e.name));
    },
    create,
    async writeTextFile(name, text) {
      const s = await create(name);
      await s.write(new TextEncoder().encode(text));
      await s.close();
    },
    toBlob(): Blob {
      const out: BlobPart[] = [], central: BlobPart[] = [];
      let offset = 0, cdSize = 0;
      for (const e of entries) {
        const common = (v: DataView, at: number) => {
          v.setUint16(at, 20, true); // version needed
          v.setUint16(at + 2, 0x0800, true); // UTF-8 names
          v.setUint16(at + 4, 0, true); // stored
          v.setUint16(at + 6, 0, true);
          v.setUint16(at + 8, DOS_DATE, true);
          v.setUint32(at + 10, e.crc, true);
          v.setUint32(at + 14, e.size, true);
          v.setUint32(at + 18, e.size, true);
          v.setUint16(at + 22, e.name.length, true);
        };
        out.push(header(30, (v) => (v.setUint32(0, 0x04034b50, true), common(v, 4))), e.name, e.data);
        const cd = header(46, (v) => {
          v.setUint32(0, 0x02014b50, true);
          v.setUint16(4, 20, true);
          common(v, 6);
          v.setUint32(42, offset, true);
        });
        central.push(cd, e.name);
        offset += 30 + e.name.length + e.size;
        cdSize += 46 + e.name.length;
      }
      const end = header(22, (v) => {
        v.setUint32(0, 0x06054b50, true);
        v.setUint16(8, entries.length, true);
        v.setUint16(10, entries.length, true);
        v.setUint32(12, cdSize, true);
        v.setUint32(16, offset, true);
      });
      return new Blob([...out, ...central, end], { type: "application/zip" });
    },
  };
}
