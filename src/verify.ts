/**
 * `verify`: re-reads a converted directory and checks it. Every shard's size and md5 (streamed
 * through one reused buffer); with the source model, the conversion is re-planned and each
 * tensor is compared with the source as cast to the model dtype: dequantized values (max abs
 * error, RMS error, SNR) and, for quantized linear layers, the quantized matmul on seeded
 * random activations against the original weights (relative error). Tensor by tensor, in row
 * chunks: memory does not grow with shard or model size (KN layouts hold one tensor).
 *
 * @module
 */
import { createHash } from "./_md5_hash.ts";
import { type RowSource, rowSourceFor } from "./param_rows.ts";
import type { CacheRecord, ShardRecord, TensorCache } from "./cache_json.ts";
import { storedBytes } from "./shard_layout.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { type DType, type FloatDType, itemSize } from "./dtype.ts";
import type { RandomAccessFile, SourceStore } from "./io/types.ts";
import { loadModelConfig, type OpenedModel, openWeights } from "./model.ts";
import { type ConversionPlan, planConversion, type PlannedParam } from "./plan.ts";
import {
  getQuantization,
  groupConstants,
  IMPORT_QUANTIZATIONS,
  QUANTIZATIONS,
  type QuantScheme,
} from "./quant/schemes.ts";
import { createVerifyKernels, type VerifyKernels } from "./verify_kernels.ts";
import { fnv1a, Rng } from "./rng.ts";

/** Result of one shard's integrity check. */
export interface ShardCheck {
  /** `params_shard_N.bin`. */
  readonly dataPath: string;
  /** `ok`, `missing`, `size` (wrong length, e.g. truncated) or `md5` (content differs). */
  readonly status: "ok" | "missing" | "size" | "md5";
  /** Size recorded in the cache JSON. */
  readonly expectedBytes: number;
  /** Size found (null when missing). */
  readonly actualBytes: number | null;
  /** md5 recorded in the cache JSON. */
  readonly expectedMd5: string;
  /** md5 computed (null when missing or the size is wrong). */
  readonly actualMd5: string | null;
}

/** Comparison of one parameter with its source. */
export interface TensorCheck {
  /** MLC parameter name (quantized ones are stored as `.q_weight` and `.q_scale`). */
  readonly name: string;
  /** Stored tensor names. */
  readonly stored: readonly string[];
  /** Unquantized shape. */
  readonly shape: readonly number[];
  /** Model dtype the source is cast to. */
  readonly dtype: FloatDType;
  /** Scheme name when group-quantized, else null. */
  readonly quantization: string | null;
  /** Quantized layout on disk (null when not quantized). */
  readonly layout: "NK" | "KN" | null;
  /** Elements compared. */
  readonly elements: number;
  /** Largest |stored - source| (NaN when either holds NaN). */
  readonly maxAbsError: number;
  /** sqrt(mean((stored - source)^2)). */
  readonly rmsError: number;
  /** 10 log10(sum source^2 / sum (stored - source)^2); Infinity when the error is zero. */
  readonly snrDb: number;
  /**
   * ||x W_q^T - x W^T|| / ||x W^T|| over the batch of seeded activations, for quantized linear
   * layers (null otherwise).
   */
  readonly matmulRelError: number | null;
  /** Cast tensors: whether the stored bits equal the expected encoding exactly (else null). */
  readonly exact: boolean | null;
  /** Why the comparison could not run (else null). */
  readonly error: string | null;
  /** NaN and infinite values of the source (cast to the model dtype). */
  readonly sourceNonFinite: number;
  /**
   * NaN and infinite stored values where the source value is finite (for quantized tensors, in
   * groups whose source values are all finite): damage, a verify problem.
   */
  readonly introducedNonFinite: number;
}

/** Everything `verify` found. */
export interface VerifyReport {
  /** No problem found. */
  readonly ok: boolean;
  /** Cache JSON read (`tensor-cache.json` or `ndarray-cache.json`). */
  readonly cacheFile: string;
  /** Shard checks in cache order. */
  readonly shards: readonly ShardCheck[];
  /** Problems (damaged or missing shards, tensors that do not match the plan, ...). */
  readonly problems: readonly string[];
  /** Warnings. */
  readonly warnings: readonly string[];
  /** Quantization used for the comparison (null without a source). */
  readonly quantization: string | null;
  /** Where the quantization came from. */
  readonly quantizationFrom: "option" | "mlc-chat-config.json" | "records" | null;
  /** Device of the matmul checks. */
  readonly device: string | null;
  /** Activation rows of the matmul checks. */
  readonly batch: number;
  /** Seed of the activations. */
  readonly seed: number;
  /** Per-parameter comparisons, in emission order. */
  readonly tensors: readonly TensorCheck[];
  /** Aggregates. */
  readonly summary: VerifySummary;
}

/** Aggregates of a {@link VerifyReport}. */
export interface VerifySummary {
  /** Shards with status ok. */
  readonly shardsOk: number;
  /** Shards with the wrong size or md5. */
  readonly shardsDamaged: number;
  /** Shards not found. */
  readonly shardsMissing: number;
  /** Parameters compared. */
  readonly compared: number;
  /** Quantized parameters compared. */
  readonly quantized: number;
  /** Cast parameters whose bits are exact. */
  readonly exactCasts: number;
  /** Lowest SNR over quantized parameters, with the parameter. */
  readonly minSnrDb: { readonly value: number; readonly name: string } | null;
  /** Median SNR over quantized parameters. */
  readonly medianSnrDb: number | null;
  /** Largest matmul relative error, with the parameter. */
  readonly maxMatmulRelError: { readonly value: number; readonly name: string } | null;
}

/** Options of {@link verifyConversion}. */
export interface VerifyOptions {
  /** Read access to the converted directory and the source model. */
  readonly store: SourceStore;
  /** Converted directory. */
  readonly dir: string;
  /** Source model (directory or config.json); without it only the shards are checked. */
  readonly source?: string;
  /** Quantization; default: mlc-chat-config.json in `dir`, else inferred from the records. */
  readonly quantization?: string;
  /** Architecture (default auto). */
  readonly modelType?: string;
  /** Kernels of the comparisons (default: `cpu`). */
  readonly kernels?: VerifyKernels;
  /** Activation rows of the matmul checks (default 4). */
  readonly batch?: number;
  /** Seed of the activations (default 0). */
  readonly seed?: number;
  /** Elements per row chunk of the comparisons (default 1 Mi). */
  readonly chunkElems?: number;
  /** Read buffer of the md5 check (default 4 MiB). */
  readonly bufferBytes?: number;
  /** Called after each parameter. */
  readonly onProgress?: (done: number, total: number, name: string) => void;
}

const CACHE_FILES = ["tensor-cache.json", "ndarray-cache.json"];

const join = (dir: string, name: string): string =>
  dir === "" || dir === "." ? name : dir.endsWith("/") ? dir + name : `${dir}/${name}`;

/**
 * Reads and validates the cache JSON of a converted directory (`tensor-cache.json`, else
 * `ndarray-cache.json`).
 *
 * @example
 * ```ts
 * import { readTensorCache } from "@mlc-deno/convert";
 * import { memorySource } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const store = memorySource({ "out/ndarray-cache.json": '{"metadata": {}, "records": []}' });
 * deepStrictEqual((await readTensorCache(store, "out")).file, "ndarray-cache.json");
 * ```
 */
export async function readTensorCache(
  store: SourceStore,
  dir: string,
): Promise<{ file: string; cache: TensorCache }> {
  for (const file of CACHE_FILES) {
    const path = join(dir, file);
    if (!(await store.exists(path))) continue;
    let v: TensorCache;
    try {
      v = JSON.parse(await store.readTextFile(path));
    } catch (e) {
      throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
    }
    if (!v || typeof v !== "object" || !Array.isArray(v.records)) {
      throw new Error(`${path}: not a tensor cache (no "records" list)`);
    }
    v.records.forEach((s: ShardRecord, i: number) => {
      const where = `${path}: records[${i}]`;
      if (typeof s?.dataPath !== "string" || /(^|\/)\.\.(\/|$)|^\/|\\/.test(s.dataPath)) {
        throw new Error(`${where}: dataPath must be a file name inside the directory`);
      }
      if (!Number.isSafeInteger(s.nbytes) || typeof s.md5sum !== "string" || !Array.isArray(s.records)) {
        throw new Error(`${where}: needs nbytes, md5sum and records`);
      }
    });
    return { file, cache: v };
  }
  throw new Error(`${dir}: no ${CACHE_FILES.join(" or ")} found; is this a converted model directory?`);
}

/**
 * Checks every shard's size and md5, streaming each file through one reused buffer.
 *
 * @example
 * ```ts
 * import { checkShards } from "@mlc-deno/convert";
 * import { memorySource } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const store = memorySource({ "o/params_shard_0.bin": new Uint8Array(0) });
 * const [s] = await checkShards(store, "o", { metadata: { ParamSize: 0, ParamBytes: 0, BitsPerParam: 0 },
 *   records: [{ dataPath: "params_shard_0.bin", format: "raw-shard", nbytes: 0, records: [],
 *     md5sum: "d41d8cd98f00b204e9800998ecf8427e" }] });
 * deepStrictEqual(s.status, "ok");
 * ```
 */
export async function checkShards(
  store: SourceStore,
  dir: string,
  cache: TensorCache,
  bufferBytes: number = 4 << 20,
): Promise<ShardCheck[]> {
  const buf = new Uint8Array(bufferBytes);
  const out: ShardCheck[] = [];
  for (const s of cache.records) {
    const path = join(dir, s.dataPath);
    const base = { dataPath: s.dataPath, expectedBytes: s.nbytes, expectedMd5: s.md5sum };
    if (!(await store.exists(path))) {
      out.push({ ...base, status: "missing", actualBytes: null, actualMd5: null });
      continue;
    }
    const f = await store.open(path);
    try {
      if (f.size !== s.nbytes) {
        out.push({ ...base, status: "size", actualBytes: f.size, actualMd5: null });
        continue;
      }
      const md5 = createHash("md5");
      for (let at = 0; at < f.size; at += buf.length) {
        const view = buf.subarray(0, Math.min(buf.length, f.size - at));
        await f.readAt(at, view);
        md5.update(view);
      }
      const actual = md5.digest("hex");
      out.push({
        ...base,
        status: actual === s.md5sum.toLowerCase() ? "ok" : "md5",
        actualBytes: f.size,
        actualMd5: actual,
      });
    } finally {
      f.close();
    }
  }
  return out;
}

function shardProblem(c: ShardCheck): string | undefined {
  if (c.status === "missing") return `${c.dataPath}: missing`;
  if (c.status === "size") {
    return `${c.dataPath}: damaged: ${c.actualBytes} bytes, expected ${c.expectedBytes}${
      c.actualBytes! < c.expectedBytes ? " (truncated)" : ""
    }`;
  }
  if (c.status === "md5") return `${c.dataPath}: damaged: md5 ${c.actualMd5}, expected ${c.expectedMd5}`;
  return undefined;
}

interface Located {
  shard: number;
  record: CacheRecord;
}

/** Whether the plan's outputs are exactly the cache's tensors (names, shapes, dtypes). */
function planMatches(plan: ConversionPlan, byName: Map<string, Located>): boolean {
  if (plan.outputs.length !== byName.size) return false;
  return plan.outputs.every((o) => {
    const r = byName.get(o.name)?.record;
    return !!r && r.dtype === o.dtype && r.shape.length === o.shape.length &&
      r.shape.every((d, i) => d === o.shape[i]);
  });
}

/** Standard normal values (mulberry32 + Box-Muller), for the seeded activations. */
function gaussians(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.gauss();
  return out;
}

/** Growable reused buffers. */
class Buffers {
  #m = new Map<string, ArrayBuffer>();
  bytes(key: string, n: number): Uint8Array {
    let b = this.#m.get(key);
    if (!b || b.byteLength < n) {
      b = new ArrayBuffer(Math.max(n, 16));
      this.#m.set(key, b);
    }
    return new Uint8Array(b, 0, n);
  }
}

/** Decodes `count` stored elements to float32 values (`float32` is stored as bf16). */
function decodeStored(bytes: Uint8Array, dtype: DType, count: number, out: Float32Array): void {
  if (dtype === "float16") {
    const h = new Float16Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) out[i] = h[i];
  } else if (dtype === "bfloat16" || dtype === "float32") {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    const u = new Uint32Array(out.buffer, out.byteOffset, count);
    for (let i = 0; i < count; i++) u[i] = h[i] << 16;
  } else throw new Error(`cannot decode ${dtype}`);
}

/** Model-dtype bytes to float32 values. */
function decodeModel(bytes: Uint8Array, dtype: FloatDType, count: number, out: Float32Array): void {
  if (dtype === "float32") out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
  else decodeStored(bytes, dtype, count, out);
}

/** Running error statistics. */
class ErrorStats {
  maxAbs = 0;
  sumErr2 = 0;
  sumRef2 = 0;
  n = 0;
  /** Non-finite source values. */
  sourceNonFinite = 0;
  /** Non-finite stored values where the source is finite (outside groups holding a non-finite value). */
  introducedNonFinite = 0;
  /**
   * Counts non-finite values: those of the source, and those of the output the source does not
   * explain. With `group` (quantized rows of `group` elements, the last one of a row maybe
   * shorter, rows of `rowElems`), a group holding a non-finite source value has a non-finite
   * scale by construction: its other elements are not counted as introduced.
   */
  countNonFinite(
    got: ArrayLike<number>,
    ref: ArrayLike<number>,
    count: number,
    group = 1,
    rowElems = count,
  ): void {
    for (let row = 0; row < count; row += rowElems) {
      for (let g0 = row; g0 < row + rowElems; g0 += group) {
        const g1 = Math.min(g0 + group, row + rowElems);
        let bad = 0, introduced = 0;
        for (let i = g0; i < g1; i++) {
          if (!Number.isFinite(ref[i])) bad++;
          else if (!Number.isFinite(got[i])) introduced++;
        }
        this.sourceNonFinite += bad;
        if (!bad) this.introducedNonFinite += introduced;
      }
    }
  }
  add(got: ArrayLike<number>, ref: ArrayLike<number>, count: number): void {
    let m = this.maxAbs, e2 = this.sumErr2, r2 = this.sumRef2;
    for (let i = 0; i < count; i++) {
      const d = got[i] - ref[i];
      const a = Math.abs(d);
      if (!(a <= m)) m = a; // NaN sticks
      e2 += d * d;
      r2 += ref[i] * ref[i];
    }
    this.maxAbs = m;
    this.sumErr2 = e2;
    this.sumRef2 = r2;
    this.n += count;
  }
  get rms(): number {
    return this.n ? Math.sqrt(this.sumErr2 / this.n) : 0;
  }
  get snrDb(): number {
    if (this.sumErr2 === 0 && !Number.isNaN(this.sumRef2)) return Infinity;
    return 10 * Math.log10(this.sumRef2 / this.sumErr2);
  }
  get relError(): number {
    return this.sumErr2 === 0 ? 0 : Math.sqrt(this.sumErr2 / this.sumRef2);
  }
}

/** Reads stored tensors from shards (handles opened once, closed by `close`). */
class ShardReader {
  readonly #store: SourceStore;
  readonly #dir: string;
  readonly #cache: TensorCache;
  readonly #open = new Map<number, RandomAccessFile>();
  constructor(store: SourceStore, dir: string, cache: TensorCache) {
    this.#store = store;
    this.#dir = dir;
    this.#cache = cache;
  }
  async read(loc: Located, start: number, into: Uint8Array): Promise<void> {
    let f = this.#open.get(loc.shard);
    if (!f) {
      f = await this.#store.open(join(this.#dir, this.#cache.records[loc.shard].dataPath));
      this.#open.set(loc.shard, f);
    }
    await f.readAt(loc.record.byteOffset + start, into);
  }
  /** The shard file of a record. */
  dataPath(loc: Located): string {
    return this.#cache.records[loc.shard].dataPath;
  }
  close(): void {
    for (const f of this.#open.values()) f.close();
    this.#open.clear();
  }
}

interface CompareContext {
  kernels: VerifyKernels;
  reader: ShardReader;
  checkpoint: Checkpoint;
  scheme: QuantScheme;
  batch: number;
  seed: number;
  chunkElems: number;
  bufs: Buffers;
}

/** Source rows [r0, r0+n) cast to the model dtype, as float32 values. */
async function sourceValues(
  ctx: CompareContext,
  rows: RowSource,
  dtype: FloatDType,
  r0: number,
  n: number,
): Promise<{ values: Float32Array; cast: Uint8Array }> {
  const count = n * rows.rowElems;
  const raw = ctx.bufs.bytes("src", count * itemSize(rows.dtype));
  await rows.read(r0, n, raw);
  const cast = ctx.bufs.bytes("cast", count * itemSize(dtype));
  ctx.kernels.cast(raw, rows.dtype, cast, dtype, count);
  const values = new Float32Array(ctx.bufs.bytes("ref", count * 4).buffer, 0, count);
  decodeModel(cast, dtype, count, values);
  return { values, cast };
}

async function compareCast(ctx: CompareContext, pp: PlannedParam, loc: Located): Promise<TensorCheck> {
  const rows = await rowSourceFor(pp, ctx.checkpoint);
  const dtype = pp.dtype as FloatDType;
  const sb = pp.outputs[0].dtype === "float32" ? 2 : itemSize(pp.outputs[0].dtype);
  const per = Math.max(1, Math.floor(ctx.chunkElems / Math.max(1, rows.rowElems)));
  const stats = new ErrorStats();
  let exact = true;
  for (let r0 = 0; r0 < rows.rows; r0 += per) {
    const n = Math.min(per, rows.rows - r0);
    const count = n * rows.rowElems;
    const { values, cast } = await sourceValues(ctx, rows, dtype, r0, n);
    const stored = ctx.bufs.bytes("stored", count * sb);
    await ctx.reader.read(loc, r0 * rows.rowElems * sb, stored);
    const got = new Float32Array(ctx.bufs.bytes("got", count * 4).buffer, 0, count);
    decodeStored(stored, pp.outputs[0].dtype, count, got);
    stats.add(got, values, count);
    stats.countNonFinite(got, values, count);
    if (exact) exact = sameEncoding(stored, cast, dtype, count);
  }
  return {
    name: pp.param.name,
    stored: [pp.outputs[0].name],
    shape: pp.shape,
    dtype,
    elements: stats.n,
    maxAbsError: stats.maxAbs,
    rmsError: stats.rms,
    snrDb: stats.snrDb,
    quantization: null,
    layout: null,
    matmulRelError: null,
    exact,
    error: null,
    sourceNonFinite: stats.sourceNonFinite,
    introducedNonFinite: stats.introducedNonFinite,
  };
}

/**
 * Pre-quantized imports (AWQ, FP8 block-scale): the stored bytes must be the source's (float32
 * through TVM's f32-to-bf16 storage encoding); values are not decoded, so the error statistics
 * are 0 (equal) or NaN (different).
 */
async function compareRaw(ctx: CompareContext, pp: PlannedParam, loc: Located): Promise<TensorCheck> {
  const rows = await rowSourceFor(pp, ctx.checkpoint);
  const f32 = pp.outputs[0].dtype === "float32";
  const item = itemSize(rows.dtype);
  const sb = f32 ? 2 : item;
  const per = Math.max(1, Math.floor(ctx.chunkElems / Math.max(1, rows.rowElems)));
  let exact = true;
  for (let r0 = 0; r0 < rows.rows && exact; r0 += per) {
    const count = Math.min(per, rows.rows - r0) * rows.rowElems;
    const src = ctx.bufs.bytes("src", count * item);
    await rows.read(r0, count / rows.rowElems, src);
    const stored = ctx.bufs.bytes("stored", count * sb);
    await ctx.reader.read(loc, r0 * rows.rowElems * sb, stored);
    exact = f32 ? sameEncoding(stored, src, "float32", count) : stored.every((b, i) => b === src[i]);
  }
  const err = exact ? 0 : NaN;
  return {
    name: pp.param.name,
    stored: [pp.outputs[0].name],
    shape: pp.shape,
    dtype: pp.dtype as FloatDType,
    elements: rows.rows * rows.rowElems,
    maxAbsError: err,
    rmsError: err,
    snrDb: exact ? Infinity : NaN,
    quantization: ctx.scheme.name,
    layout: null,
    matmulRelError: null,
    exact,
    error: null,
    sourceNonFinite: 0,
    introducedNonFinite: 0,
  };
}

/** Stored bits vs the cast bits (float32: vs TVM's f32-to-bf16 storage encoding). */
function sameEncoding(stored: Uint8Array, cast: Uint8Array, dtype: FloatDType, count: number): boolean {
  if (dtype !== "float32") {
    for (let i = 0; i < count * 2; i++) if (stored[i] !== cast[i]) return false;
    return true;
  }
  const s = new Uint16Array(stored.buffer, stored.byteOffset, count);
  const c = new Uint32Array(cast.buffer, cast.byteOffset, count);
  for (let i = 0; i < count; i++) {
    const u = c[i];
    const enc = (u & 0x7fffffff) < 0x7f7f0000 ? ((u + ((u >>> 16) & 1) + 0x7fff) >>> 16) & 0xffff : u >>> 16;
    if (s[i] !== enc) return false;
  }
  return true;
}

/** The transpose of a `rows x cols` row-major matrix (a new array of the same type). */
function transposed<T extends Uint32Array | Uint16Array>(src: T, rows: number, cols: number): T {
  const d = new (src.constructor as new (n: number) => T)(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) d[c * rows + r] = src[r * cols + c];
  return d;
}

/**
 * The stored codes and scale bits of rows `[r0, r0 + n)`: NK records read a block at a time; KN
 * records (the transposed layout) read whole once and transposed back to NK, as the conversion
 * holds them.
 */
async function storedCodes(
  ctx: CompareContext,
  qw: Located,
  qs: Located,
  kn: boolean,
  dims: { rows: number; wpr: number; groups: number },
): Promise<(r0: number, n: number) => Promise<{ words: Uint32Array; scaleBits: Uint16Array }>> {
  const { rows, wpr, groups } = dims;
  if (kn) {
    const w = new Uint32Array(wpr * rows);
    await ctx.reader.read(qw, 0, new Uint8Array(w.buffer));
    const s = new Uint16Array(groups * rows);
    await ctx.reader.read(qs, 0, new Uint8Array(s.buffer));
    const words = transposed(w, wpr, rows), scales = transposed(s, groups, rows);
    return (r0, n) =>
      Promise.resolve({
        words: words.subarray(r0 * wpr, (r0 + n) * wpr),
        scaleBits: scales.subarray(r0 * groups, (r0 + n) * groups),
      });
  }
  return async (r0, n) => {
    const wb = ctx.bufs.bytes("words", n * wpr * 4);
    await ctx.reader.read(qw, r0 * wpr * 4, wb);
    const sbuf = ctx.bufs.bytes("scales", n * groups * 2);
    await ctx.reader.read(qs, r0 * groups * 2, sbuf);
    return {
      words: new Uint32Array(wb.buffer, 0, n * wpr),
      scaleBits: new Uint16Array(sbuf.buffer, 0, n * groups),
    };
  };
}

/** `y[b, r] = sum_j x[b, j] * values[r, j]` in float64 (the source side of the matmul check). */
function referenceMatmul(
  x: Float32Array,
  values: Float32Array,
  batch: number,
  n: number,
  k: number,
): Float64Array {
  const y = new Float64Array(batch * n);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < n; r++) {
      let s = 0;
      const xo = b * k, wo = r * k;
      for (let j = 0; j < k; j++) s += x[xo + j] * values[wo + j];
      y[b * n + r] = s;
    }
  }
  return y;
}

/** Stored scale bits (bf16 on disk for float32) to the kernels' scale array. */
function scalesFor(bits: Uint16Array, dtype: FloatDType): Uint16Array | Float32Array {
  if (dtype !== "float32") return bits;
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return new Float32Array(u.buffer);
}

async function compareQuantized(
  ctx: CompareContext,
  pp: PlannedParam,
  qw: Located,
  qs: Located,
): Promise<TensorCheck> {
  const scheme = ctx.scheme;
  if (scheme.kind !== "group-quant") {
    throw new Error("unreachable: quantized parameter without a group scheme");
  }
  const rows = await rowSourceFor(pp, ctx.checkpoint);
  const dtype = pp.dtype as FloatDType;
  const k = rows.rowElems;
  const nRows = rows.rows;
  const groups = Math.ceil(k / scheme.groupSize);
  const wpr = groups * groupConstants(scheme).wordsPerGroup;
  const params = { bits: scheme.bits, groupSize: scheme.groupSize, modelDtype: dtype };
  const codes = await storedCodes(ctx, qw, qs, pp.quant === "KN", { rows: nRows, wpr, groups });
  const linear = pp.param.quant === "linear" && pp.shape.length === 2;
  const x = linear ? gaussians(fnv1a(pp.param.name, 2166136261 ^ ctx.seed), ctx.batch * k) : undefined;
  const mm = new ErrorStats();
  const stats = new ErrorStats();
  const per = Math.max(1, Math.floor(ctx.chunkElems / Math.max(1, k)));
  for (let r0 = 0; r0 < nRows; r0 += per) {
    const n = Math.min(per, nRows - r0);
    const count = n * k;
    const { values } = await sourceValues(ctx, rows, dtype, r0, n);
    const { words, scaleBits } = await codes(r0, n);
    const job = { words, scales: scalesFor(scaleBits, dtype), rows: n, k, ...params };
    const deq = await ctx.kernels.dequantize(job);
    stats.add(deq, values, count);
    stats.countNonFinite(deq, values, count, scheme.groupSize, k);
    if (x) {
      const y = await ctx.kernels.dequantMatmul({ ...job, x, batch: ctx.batch });
      const yRef = referenceMatmul(x, values, ctx.batch, n, k);
      mm.add(y, yRef, ctx.batch * n);
    }
  }
  return {
    name: pp.param.name,
    stored: pp.outputs.map((o) => o.name),
    shape: pp.shape,
    dtype,
    quantization: scheme.name,
    layout: pp.quant ?? null,
    elements: stats.n,
    maxAbsError: stats.maxAbs,
    rmsError: stats.rms,
    snrDb: stats.snrDb,
    matmulRelError: x ? mm.relError : null,
    exact: null,
    error: null,
    sourceNonFinite: stats.sourceNonFinite,
    introducedNonFinite: stats.introducedNonFinite,
  };
}

async function chooseScheme(
  opts: VerifyOptions,
  model: OpenedModel,
  checkpoint: Checkpoint,
  byName: Map<string, Located>,
): Promise<{ scheme?: QuantScheme; from?: VerifyReport["quantizationFrom"]; problem?: string }> {
  if (opts.quantization) return { scheme: getQuantization(opts.quantization), from: "option" };
  const chat = join(opts.dir, "mlc-chat-config.json");
  if (await opts.store.exists(chat)) {
    try {
      const q = JSON.parse(await opts.store.readTextFile(chat))?.quantization;
      const named = typeof q === "string" ? QUANTIZATIONS[q] ?? IMPORT_QUANTIZATIONS[q] : undefined;
      if (named) return { scheme: named, from: "mlc-chat-config.json" };
    } catch { /* fall through to the records */ }
  }
  const fits = [...Object.values(QUANTIZATIONS), ...Object.values(IMPORT_QUANTIZATIONS)].filter((s) =>
    planMatches(planConversion({ arch: model.arch, config: model.config, scheme: s, checkpoint }), byName)
  );
  if (fits.length === 1) return { scheme: fits[0], from: "records" };
  return {
    problem: fits.length
      ? `The cache's tensors fit several quantizations (${
        fits.map((s) => s.name).join(", ")
      }); pass --quantization`
      : "No quantization reproduces the cache's tensor names, shapes and dtypes from this source; " +
        "pass --quantization to see the differences",
  };
}

/** Plan vs cache: every difference, once. */
function planProblems(plan: ConversionPlan, byName: Map<string, Located>, cache: TensorCache): string[] {
  const problems: string[] = [];
  const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;
  const planned = new Set(plan.outputs.map((o) => o.name));
  for (const o of plan.outputs) {
    const loc = byName.get(o.name);
    if (!loc) {
      problems.push(`${o.name}: planned (${fmt(o.shape)} ${o.dtype}) but not in the cache`);
      continue;
    }
    const r = loc.record;
    if (r.dtype !== o.dtype || fmt(r.shape) !== fmt(o.shape)) {
      problems.push(`${o.name}: cache has ${fmt(r.shape)} ${r.dtype}, expected ${fmt(o.shape)} ${o.dtype}`);
    }
  }
  for (const n of byName.keys()) if (!planned.has(n)) problems.push(`${n}: in the cache but not planned`);
  for (const { shard, record: r } of byName.values()) {
    const s = cache.records[shard];
    if (r.nbytes !== storedBytes(r.shape, r.dtype as DType)) {
      problems.push(`${r.name}: nbytes ${r.nbytes} does not match shape ${fmt(r.shape)} ${r.dtype}`);
    }
    if (r.byteOffset + r.nbytes > s.nbytes) {
      problems.push(`${r.name}: bytes ${r.byteOffset}..${r.byteOffset + r.nbytes} lie outside ${s.dataPath}`);
    }
  }
  return problems;
}

function summarize(shards: readonly ShardCheck[], tensors: readonly TensorCheck[]): VerifySummary {
  const q = tensors.filter((t) => t.quantization && !t.error);
  const snrs = q.map((t) => t.snrDb).sort((a, b) => a - b);
  const minT = q.reduce<TensorCheck | undefined>((m, t) => (!m || t.snrDb < m.snrDb ? t : m), undefined);
  const mmT = q.filter((t) => t.matmulRelError !== null).reduce<TensorCheck | undefined>(
    (m, t) => (!m || t.matmulRelError! > m.matmulRelError! ? t : m),
    undefined,
  );
  const mid = snrs.length >> 1;
  return {
    shardsOk: shards.filter((s) => s.status === "ok").length,
    shardsDamaged: shards.filter((s) => s.status === "size" || s.status === "md5").length,
    shardsMissing: shards.filter((s) => s.status === "missing").length,
    compared: tensors.filter((t) => !t.error).length,
    quantized: q.length,
    exactCasts: tensors.filter((t) => t.exact === true).length,
    minSnrDb: minT ? { value: minT.snrDb, name: minT.name } : null,
    medianSnrDb: snrs.length ? (snrs.length % 2 ? snrs[mid] : (snrs[mid - 1] + snrs[mid]) / 2) : null,
    maxMatmulRelError: mmT ? { value: mmT.matmulRelError!, name: mmT.name } : null,
  };
}

/**
 * Verifies a converted directory: shard sizes and md5s, and with `source` every tensor against
 * the source model (see the module documentation). Never throws for damage: it is reported.
 *
 * @example
 * ```ts ignore
 * import { verifyConversion } from "@mlc-deno/convert";
 * import { denoSource } from "@mlc-deno/convert";
 * const report = await verifyConversion({ store: denoSource(), dir: "out", source: "models/x" });
 * if (!report.ok) console.error(report.problems.join("\n"));
 * ```
 */
export async function verifyConversion(opts: VerifyOptions): Promise<VerifyReport> {
  const { store, dir } = opts;
  const batch = opts.batch ?? 4;
  const seed = opts.seed ?? 0;
  const { file, cache } = await readTensorCache(store, dir);
  const shards = await checkShards(store, dir, cache, opts.bufferBytes);
  const problems = shards.map(shardProblem).filter((p): p is string => !!p);
  const found: SourceComparison = opts.source === undefined
    ? { warnings: [], tensors: [], quantization: null, quantizationFrom: null, device: null }
    : await compareWithSource(opts, file, cache, shards, problems);
  return {
    ok: problems.length === 0,
    cacheFile: file,
    shards,
    problems,
    warnings: found.warnings,
    quantization: found.quantization,
    quantizationFrom: found.quantizationFrom,
    device: found.device,
    batch,
    seed,
    tensors: found.tensors,
    summary: summarize(shards, found.tensors),
  };
}

/** What the comparison with the source adds to the report. */
interface SourceComparison {
  warnings: string[];
  tensors: TensorCheck[];
  quantization: string | null;
  quantizationFrom: VerifyReport["quantizationFrom"];
  device: string | null;
}

/** Where each record is (a name recorded twice is a problem). */
function locateRecords(cache: TensorCache, file: string, problems: string[]): Map<string, Located> {
  const byName = new Map<string, Located>();
  cache.records.forEach((s, shard) => {
    for (const record of s.records) {
      if (byName.has(record.name)) problems.push(`${record.name}: recorded twice in ${file}`);
      byName.set(record.name, { shard, record });
    }
  });
  return byName;
}

/** `--source`: every planned parameter compared with the source as cast (and quantized) to the model dtype. */
async function compareWithSource(
  opts: VerifyOptions,
  file: string,
  cache: TensorCache,
  shards: readonly ShardCheck[],
  problems: string[],
): Promise<SourceComparison> {
  const { store, dir } = opts;
  const out: SourceComparison = {
    warnings: [],
    tensors: [],
    quantization: null,
    quantizationFrom: null,
    device: null,
  };
  const byName = locateRecords(cache, file, problems);
  const model = await loadModelConfig(store, opts.source!, opts.modelType ?? "auto");
  const { checkpoint, warnings } = await openWeights(store, model.dir);
  out.warnings.push(...warnings);
  const kernels = opts.kernels ?? (await createVerifyKernels("cpu"));
  const reader = new ShardReader(store, dir, cache);
  try {
    const chosen = await chooseScheme(opts, model, checkpoint, byName);
    if (chosen.problem) problems.push(chosen.problem);
    if (!chosen.scheme) return out;
    const scheme = chosen.scheme;
    [out.quantization, out.quantizationFrom, out.device] = [scheme.name, chosen.from ?? null, kernels.name];
    const plan = planConversion({ arch: model.arch, config: model.config, scheme, checkpoint });
    problems.push(...plan.problems, ...planProblems(plan, byName, cache));
    const unreadable = new Set(
      shards.filter((s) => s.status === "missing" || s.status === "size").map((s) => s.dataPath),
    );
    const ctx: CompareContext = {
      kernels,
      reader,
      checkpoint,
      scheme,
      batch: opts.batch ?? 4,
      seed: opts.seed ?? 0,
      chunkElems: opts.chunkElems ?? 1 << 20,
      bufs: new Buffers(),
    };
    for (const [n, pp] of plan.params.entries()) {
      const locs = pp.outputs.map((o) => byName.get(o.name));
      const check = await compareParam(ctx, pp, locs, (l) => unreadable.has(cache.records[l.shard].dataPath));
      noteCheck(check, problems, out.warnings);
      out.tensors.push(check);
      opts.onProgress?.(n + 1, plan.params.length, pp.param.name);
    }
    return out;
  } finally {
    reader.close();
    checkpoint.close();
    if (!opts.kernels) await kernels.close();
  }
}

/** One parameter's check (an error in it is its result, not the run's failure). */
async function compareParam(
  ctx: CompareContext,
  pp: PlannedParam,
  locs: (Located | undefined)[],
  unreadable: (l: Located) => boolean,
): Promise<TensorCheck> {
  const fail = (error: string): TensorCheck => ({
    name: pp.param.name,
    stored: pp.outputs.map((o) => o.name),
    shape: pp.shape,
    dtype: pp.dtype as FloatDType,
    elements: 0,
    maxAbsError: NaN,
    rmsError: NaN,
    snrDb: NaN,
    quantization: pp.quant ? ctx.scheme.name : null,
    layout: pp.quant ?? null,
    matmulRelError: null,
    exact: null,
    error,
    sourceNonFinite: 0,
    introducedNonFinite: 0,
  });
  const matches = locs.every((l, i) =>
    l && l.record.dtype === pp.outputs[i].dtype && l.record.shape.join() === pp.outputs[i].shape.join()
  );
  if (!matches) return fail("not in the cache as planned");
  if (locs.some((l) => unreadable(l!))) {
    return fail(`shard ${ctx.reader.dataPath(locs[0]!)} is missing or truncated`);
  }
  try {
    return pp.param.raw
      ? await compareRaw(ctx, pp, locs[0]!)
      : pp.quant
      ? await compareQuantized(ctx, pp, locs[0]!, locs[1]!)
      : await compareCast(ctx, pp, locs[0]!);
  } catch (e) {
    return fail((e as Error).message);
  }
}

/** A check's problems (errors, NaN/Inf it introduced, inexact copies) and warnings (NaN/Inf of the source). */
function noteCheck(check: TensorCheck, problems: string[], warnings: string[]): void {
  if (check.error) problems.push(`${check.name}: not compared: ${check.error}`);
  if (check.introducedNonFinite) {
    problems.push(
      `${check.name}: ${check.introducedNonFinite} NaN or infinite stored values where the source is finite`,
    );
  }
  if (check.sourceNonFinite) {
    warnings.push(
      `${check.name}: the source holds ${check.sourceNonFinite} NaN or infinite values (stored as converted)`,
    );
  }
  if (check.exact === false) {
    problems.push(`${check.name}: stored values differ from the source cast to ${check.dtype}`);
  }
}

const num = (v: number | undefined, f: (v: number) => string): string =>
  v === undefined ? "-" : Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : f(v);

/**
 * The report as readable lines: shards, the per-tensor table, problems and a summary line.
 *
 * @example
 * ```ts ignore
 * import { formatVerifyReport, verifyConversion } from "@mlc-deno/convert";
 * console.log(formatVerifyReport(await verifyConversion(opts)).join("\n"));
 * ```
 */
export function formatVerifyReport(r: VerifyReport): string[] {
  const lines: string[] = [];
  for (const s of r.shards) {
    lines.push(
      `${s.dataPath.padEnd(22)} ${
        s.status === "ok" ? "OK     " : s.status === "missing" ? "MISSING" : "DAMAGED"
      } ${String(s.expectedBytes).padStart(11)} bytes  md5 ${s.expectedMd5}${
        s.status === "size"
          ? `  (found ${s.actualBytes} bytes)`
          : s.status === "md5"
          ? `  (found md5 ${s.actualMd5})`
          : ""
      }`,
    );
  }
  if (r.tensors.length) {
    const rows = r.tensors.map((t) => [
      t.name,
      `[${t.shape.join(", ")}]`,
      t.quantization ? `${t.quantization}${t.layout === "KN" ? " KN" : ""}` : t.dtype,
      num(t.error ? undefined : t.maxAbsError, (v) => v.toExponential(3)),
      num(t.error ? undefined : t.rmsError, (v) => v.toExponential(3)),
      num(t.error ? undefined : t.snrDb, (v) => v.toFixed(2)),
      t.error ? `error: ${t.error}` : num(t.matmulRelError ?? undefined, (v) => v.toExponential(3)),
    ]);
    const head = ["tensor", "shape", "dtype", "max abs", "RMS", "SNR dB", "matmul rel err"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i].length)));
    const fmt = (c: string[]) =>
      c.map((v, i) => (i < 3 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ").trimEnd();
    lines.push("", fmt(head), ...rows.map(fmt));
  }
  for (const w of r.warnings) lines.push(`Warning: ${w}`);
  for (const p of r.problems) lines.push(`Problem: ${p}`);
  const s = r.summary;
  const shardPart =
    `${r.shards.length} shard(s): ${s.shardsOk} OK, ${s.shardsDamaged} damaged, ${s.shardsMissing} missing`;
  const tensorPart = r.quantization
    ? `; ${s.compared} parameter(s) compared with the source as ${r.quantization} (device ${r.device}): ` +
      (s.quantized
        ? `SNR min ${num(s.minSnrDb?.value, (v) => v.toFixed(2))} dB, median ${
          num(s.medianSnrDb ?? undefined, (v) => v.toFixed(2))
        } dB, matmul rel err max ${num(s.maxMatmulRelError?.value, (v) => v.toExponential(3))}; `
        : "") +
      `${s.exactCasts} cast tensor(s) exact`
    : "";
  lines.push("", `${r.ok ? "OK" : "FAILED"}: ${shardPart}${tensorPart}`);
  return lines;
}

/**
 * The report as JSON text for scripts; non-finite numbers become `null` (an `snrDb` of null with
 * a `maxAbsError` of 0 means the error is exactly zero).
 *
 * @example
 * ```ts ignore
 * import { verifyReportJson } from "@mlc-deno/convert";
 * JSON.parse(verifyReportJson(report)).ok;
 * ```
 */
export function verifyReportJson(r: VerifyReport): string {
  return JSON.stringify(r, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2);
}
