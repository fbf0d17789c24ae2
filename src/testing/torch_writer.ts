/**
 * Writes PyTorch checkpoints in `torch.save`'s zip format (tests and benchmark): the state
 * dict pickle as torch 1.13 writes it (protocol 2, `collections.OrderedDict`,
 * `torch._utils._rebuild_tensor_v2`, one storage per tensor), entries stored uncompressed with
 * their data aligned to 64 bytes, zip64 records where offsets or sizes pass 4 GiB. A sparse
 * file writes only the headers and leaves the tensor data as a hole (all zeros; its CRCs are
 * then left 0, which torch would reject but nothing here reads). Also the raw pieces
 * ({@link encodeStoredZip}, {@link encodeStateDictPickle}) for crafting malformed files.
 *
 * @module
 */
import { type GenDType, type GenTensor, tensorData } from "../gen_tensors.ts";
import { crc32 } from "../crc32.ts";

/** One tensor of a pickled state dict (a view of a storage). */
export interface PickledTensor {
  /** State-dict key. */
  name: string;
  /** Storage class (`HalfStorage`, `BFloat16Storage`, `FloatStorage`, ...). */
  storageClass: string;
  /** Storage key (its record is `<archive>/data/<key>`). */
  key: string;
  /** Elements in the storage. */
  numel: number;
  /** Storage offset (elements). */
  offset: number;
  /** Shape. */
  shape: readonly number[];
  /** Element strides. */
  stride: readonly number[];
}

/** Dtypes the writer knows: the generator's, and bool (buffers such as causal masks; zeros). */
export type TorchGenDType = GenDType | "BOOL";

const STORAGE_CLASS: Readonly<Record<TorchGenDType, [string, number]>> = {
  F16: ["HalfStorage", 2],
  BF16: ["BFloat16Storage", 2],
  F32: ["FloatStorage", 4],
  BOOL: ["BoolStorage", 1],
};

class Bytes {
  parts: number[] = [];
  byte(...b: number[]): this {
    this.parts.push(...b);
    return this;
  }
  text(s: string): this {
    for (const c of new TextEncoder().encode(s)) this.parts.push(c);
    return this;
  }
  u16(v: number): this {
    return this.byte(v & 0xff, (v >>> 8) & 0xff);
  }
  u32(v: number): this {
    return this.byte(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  u64(v: number): this {
    return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32));
  }
  get(): Uint8Array {
    return new Uint8Array(this.parts);
  }
}

function pickleInt(b: Bytes, v: number): void {
  if (v >= 0 && v < 256) b.byte(0x4b, v); // BININT1
  else if (v >= 0 && v < 65536) b.byte(0x4d).u16(v); // BININT2
  else if (v >= -(2 ** 31) && v < 2 ** 31) b.byte(0x4a).u32(v >>> 0); // BININT
  else b.byte(0x8a, 8).u64(v); // LONG1 (non-negative)
}

function pickleStr(b: Bytes, s: string): void {
  const e = new TextEncoder().encode(s);
  b.byte(0x58).u32(e.length).byte(...e); // BINUNICODE
}

function pickleTuple(b: Bytes, items: readonly number[]): void {
  b.byte(0x28); // MARK
  for (const v of items) pickleInt(b, v);
  b.byte(0x74); // TUPLE
}

/**
 * The `data.pkl` of a state dict of tensors, as torch.save writes it (protocol 2).
 *
 * @example
 * ```ts
 * import { encodeStateDictPickle } from "./torch_writer.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const p = encodeStateDictPickle([
 *   { name: "w", storageClass: "HalfStorage", key: "0", numel: 4, offset: 0, shape: [2, 2], stride: [2, 1] },
 * ]);
 * deepStrictEqual(p[0], 0x80); // PROTO
 * ```
 */
export function encodeStateDictPickle(tensors: readonly PickledTensor[]): Uint8Array {
  const b = new Bytes();
  b.byte(0x80, 2).text("ccollections\nOrderedDict\n").byte(0x29, 0x52, 0x28); // OrderedDict() MARK
  for (const t of tensors) {
    pickleStr(b, t.name);
    b.text("ctorch._utils\n_rebuild_tensor_v2\n").byte(0x28, 0x28); // fn MARK MARK
    pickleStr(b, "storage");
    b.text(`ctorch\n${t.storageClass}\n`);
    pickleStr(b, t.key);
    pickleStr(b, "cpu");
    pickleInt(b, t.numel);
    b.byte(0x74, 0x51); // TUPLE BINPERSID
    pickleInt(b, t.offset);
    pickleTuple(b, t.shape);
    pickleTuple(b, t.stride);
    b.byte(0x89).text("ccollections\nOrderedDict\n").byte(0x29, 0x52); // False, OrderedDict()
    b.byte(0x74, 0x52); // TUPLE REDUCE
  }
  b.byte(0x75, 0x2e); // SETITEMS STOP
  return b.get();
}

/** A record of a stored zip: its data, or (sparse) only its size. */
export interface ZipRecord {
  /** Name in the archive. */
  name: string;
  /** Data (omit for a hole of `size` zero bytes). */
  data?: Uint8Array;
  /** Size when `data` is omitted. */
  size?: number;
  /** CRC-32 of the data when `data` is omitted (default 0). */
  crc?: number;
}

/** A zip archive as pieces: headers at offsets, holes between them. */
export interface ZipLayout {
  /** Total size. */
  size: number;
  /** Bytes to write at each offset (the rest of the file is the records' data or holes). */
  pieces: { offset: number; bytes: Uint8Array }[];
  /** Where each record's data starts. */
  dataOffsets: number[];
}

/**
 * Lays out a zip of stored records as torch's writer does: local headers padded with an
 * `FB` extra field so each record's data starts at a multiple of 64, a central directory,
 * and the zip64 end records (always written, as torch does); zip64 extra fields where a size
 * or offset passes 4 GiB, or for every record with `forceZip64`.
 *
 * @example
 * ```ts
 * import { encodeStoredZip } from "./torch_writer.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const z = encodeStoredZip([{ name: "a/data.pkl", data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) }]);
 * deepStrictEqual(z.pieces[0].offset, 0);
 * ```
 */
export function encodeStoredZip(
  records: readonly ZipRecord[],
  opts: { forceZip64?: boolean } = {},
): ZipLayout {
  const pieces: { offset: number; bytes: Uint8Array }[] = [];
  const dataOffsets: number[] = [];
  const central = new Bytes();
  let pos = 0;
  for (const r of records) {
    const size = r.data?.length ?? r.size ?? 0;
    const crc = r.data ? crc32(0, r.data) : r.crc ?? 0;
    const name = new TextEncoder().encode(r.name);
    const big = opts.forceZip64 || size >= 0xffffffff || pos >= 0xffffffff;
    // local header: zip64 sizes in the local extra when big; then FB padding to 64
    const localZip64 = big ? new Bytes().u16(1).u16(16).u64(size).u64(size).get() : new Uint8Array(0);
    const base = pos + 30 + name.length + localZip64.length;
    let pad = (64 - ((base + 4) % 64)) % 64;
    if (base % 64 === 0) pad = -4;
    const extra = new Bytes().byte(...localZip64);
    if (pad >= 0) extra.u16(0x4246).u16(pad).byte(...new Uint8Array(pad).fill(0x5a));
    const ex = extra.get();
    const local = new Bytes().u32(0x04034b50).u16(big ? 45 : 20).u16(0).u16(0).u16(0).u16(0).u32(crc)
      .u32(big ? 0xffffffff : size).u32(big ? 0xffffffff : size).u16(name.length).u16(ex.length)
      .byte(...name).byte(...ex).get();
    pieces.push({ offset: pos, bytes: local });
    const dataAt = pos + local.length;
    dataOffsets.push(dataAt);
    if (r.data) pieces.push({ offset: dataAt, bytes: r.data });
    const cz = big ? new Bytes().u16(1).u16(24).u64(size).u64(size).u64(pos).get() : new Uint8Array(0);
    central.u32(0x02014b50).u16(big ? 45 : 20).u16(big ? 45 : 20).u16(0).u16(0).u16(0).u16(0).u32(crc)
      .u32(big ? 0xffffffff : size).u32(big ? 0xffffffff : size).u16(name.length).u16(cz.length).u16(0)
      .u16(0).u16(0).u32(0).u32(big ? 0xffffffff : pos).byte(...name).byte(...cz);
    pos = dataAt + size;
  }
  const cd = central.get();
  const cdAt = pos;
  pieces.push({ offset: cdAt, bytes: cd });
  const z64At = cdAt + cd.length;
  const n = records.length;
  const tail = new Bytes()
    .u32(0x06064b50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(n).u64(n).u64(cd.length).u64(cdAt)
    .u32(0x07064b50).u32(0).u64(z64At).u32(1)
    .u32(0x06054b50).u16(0).u16(0).u16(Math.min(n, 0xffff)).u16(Math.min(n, 0xffff))
    .u32(Math.min(cd.length, 0xffffffff)).u32(Math.min(cdAt, 0xffffffff)).u16(0).get();
  pieces.push({ offset: z64At, bytes: tail });
  return { size: z64At + tail.length, pieces, dataOffsets };
}

/** The bytes of a layout (holes as zeros): small archives only. */
export function zipBytes(layout: ZipLayout): Uint8Array {
  const out = new Uint8Array(layout.size);
  for (const p of layout.pieces) out.set(p.bytes, p.offset);
  return out;
}

/** Options of {@link writeTorchFile}. */
export interface WriteTorchOptions {
  /** Source dtype (default BF16). */
  dtype?: GenDType;
  /** Seed of the generated data (default 0). */
  seed?: number;
  /** Headers only; the data is a hole (zeros, no disk cost). */
  sparse?: boolean;
  /** Archive folder name (default `archive`, as torch >= 2 writes). */
  archive?: string;
  /** Zip64 extra fields on every record (as for an archive over 4 GiB). */
  forceZip64?: boolean;
  /** Per-tensor dtype override. */
  dtypeOf?: (name: string) => TorchGenDType | undefined;
}

/**
 * Writes `tensors` (in this order) as a torch.save checkpoint at `path`, one storage each.
 *
 * @example
 * ```ts ignore
 * import { writeTorchFile } from "./torch_writer.ts";
 * await writeTorchFile("/tmp/m/pytorch_model.bin", [{ name: "w", shape: [2, 2] }], { dtype: "F16" });
 * ```
 */
export async function writeTorchFile(
  path: string,
  tensors: readonly GenTensor[],
  opts: WriteTorchOptions = {},
): Promise<void> {
  const dt = (t: GenTensor): TorchGenDType => opts.dtypeOf?.(t.name) ?? opts.dtype ?? "BF16";
  const arch = opts.archive ?? "archive";
  const pickled: PickledTensor[] = tensors.map((t, i) => {
    const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const numel = t.shape.reduce((a, b) => a * b, 1);
    return {
      name: t.name,
      storageClass: STORAGE_CLASS[dt(t)][0],
      key: String(i),
      numel,
      offset: 0,
      shape: t.shape,
      stride,
    };
  });
  const small = (name: string, text: string): ZipRecord => ({
    name: `${arch}/${name}`,
    data: new TextEncoder().encode(text),
  });
  const records: ZipRecord[] = [
    { name: `${arch}/data.pkl`, data: encodeStateDictPickle(pickled) },
    small("byteorder", "little"),
    ...tensors.map((t, i) => ({
      name: `${arch}/data/${i}`,
      size: pickled[i].numel * STORAGE_CLASS[dt(t)][1],
    })),
    small("version", "3\n"),
  ];
  // the tensors' data first (generated one at a time, CRCs noted), then every header
  const { dataOffsets } = encodeStoredZip(records, { forceZip64: opts.forceZip64 });
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  const writeAt = async (offset: number, bytes: Uint8Array) => {
    await f.seek(offset, Deno.SeekMode.Start);
    let o = 0;
    while (o < bytes.length) o += await f.write(bytes.subarray(o));
  };
  try {
    if (!opts.sparse) {
      for (let i = 0; i < tensors.length; i++) {
        const d = dt(tensors[i]);
        const data = d === "BOOL"
          ? new Uint8Array(pickled[i].numel)
          : tensorData(tensors[i], d, opts.seed ?? 0);
        records[i + 2].crc = crc32(0, data);
        await writeAt(dataOffsets[i + 2], data);
      }
    }
    const layout = encodeStoredZip(records, { forceZip64: opts.forceZip64 });
    await f.truncate(layout.size);
    for (const p of layout.pieces) await writeAt(p.offset, p.bytes);
  } finally {
    f.close();
  }
}

/** Options of {@link writeTorchCheckpoint}. */
export interface WriteTorchCheckpointOptions extends Omit<WriteTorchOptions, "archive"> {
  /** Number of files; > 1 writes `pytorch_model-0000i-of-0000n.bin` and a sorted index. */
  shards?: number;
  /** Keep the given tensor order (a state dict's) instead of sorting by name (one file only). */
  keepOrder?: boolean;
}

/**
 * Writes `config.json` and PyTorch weights into `dir` like `save_pretrained` of the torch era:
 * tensors sorted by name (or in the given order), cut into `shards` files of similar size the
 * way the safetensors generator (`writeCheckpoint`) cuts them, with `pytorch_model.bin.index.json`.
 *
 * @example
 * ```ts ignore
 * import { writeTorchCheckpoint } from "./torch_writer.ts";
 * await writeTorchCheckpoint("/tmp/m", { model_type: "llama" }, [{ name: "w", shape: [2] }], { shards: 1 });
 * ```
 */
export async function writeTorchCheckpoint(
  dir: string,
  config: Record<string, unknown>,
  tensors: readonly GenTensor[],
  opts: WriteTorchCheckpointOptions = {},
): Promise<void> {
  const n = opts.shards ?? 1;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 2));
  const list = opts.keepOrder && n === 1
    ? [...tensors]
    : [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const size = (t: GenTensor) =>
    t.shape.reduce((a, b) => a * b, 1) * STORAGE_CLASS[opts.dtypeOf?.(t.name) ?? opts.dtype ?? "BF16"][1];
  const total = list.reduce((a, t) => a + size(t), 0);
  const groups: GenTensor[][] = Array.from({ length: n }, () => []);
  let acc = 0;
  for (const t of list) {
    groups[Math.min(n - 1, Math.floor(acc / (total / n)))].push(t);
    acc += size(t);
  }
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const name = n === 1
      ? "pytorch_model.bin"
      : `pytorch_model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.bin`;
    await writeTorchFile(`${dir}/${name}`, groups[i], opts);
    for (const t of groups[i]) weightMap[t.name] = name;
  }
  if (n > 1) {
    const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
    await Deno.writeTextFile(
      `${dir}/pytorch_model.bin.index.json`,
      JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2),
    );
  }
}
