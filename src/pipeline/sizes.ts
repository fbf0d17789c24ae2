/**
 * The conversion pipeline's sizes, in one place: chunks, parts, slot and work regions, shard
 * buffers. The executors are laid out with them and the dry run's memory estimate
 * (`estimatePeakMemory`) counts with them.
 *
 * @module
 */
import { rowLayout } from "../param_rows.ts";
import type { ConversionPlan } from "../plan.ts";
import { placeTensor, SHARD_CAP, streamPieceBytes } from "../shard_layout.ts";
import { MD5_LANES } from "./hashing.ts";

/** Source bytes per chunk of rows (default of `ConvertOptions.chunkBytes`). */
export const DEFAULT_CHUNK_BYTES = 8 << 20;

/**
 * Shard buffers of a conversion by kernel workers: the shard filling now, and {@link MD5_LANES}
 * more (the last shard committed, whose regions are still being filled, and the older shards
 * in md5 lanes, `LaneMd5`, which hashes every shard, the filling one included, as it fills, and
 * frees the oldest about when the next one commits).
 */
export const WORKER_SHARD_BUFFERS: number = MD5_LANES + 1;

/** Shard buffers on one thread (or with an md5 worker): a batch being hashed, one filling. */
export const LOCAL_SHARD_BUFFERS: number = MD5_LANES + 1;

/** Bytes of the blocks a KN layout's words and scales are written transposed in. */
export const TRANSPOSE_BLOCK: number = 4 << 20;

/** Slot buffers per kernel worker (chunks in flight). */
export const SLOTS_PER_WORKER = 3;

/**
 * Rows per chunk of a parameter whose rows hold `rowElems` source elements of `srcItem` bytes
 * (at least one row).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunkRowsOf } from "./sizes.ts";
 * assert.equal(chunkRowsOf(2048, 2, 8 << 20), 2048);
 * assert.equal(chunkRowsOf(1 << 23, 2, 8 << 20), 1);
 * ```
 */
export function chunkRowsOf(rowElems: number, srcItem: number, chunkBytes: number): number {
  return Math.max(1, Math.floor(chunkBytes / (rowElems * srcItem)));
}

/**
 * Source bytes a kernel worker reads and converts at a time (512 KiB, or an eighth of a small
 * chunk): each part is still in the core's cache when the kernel takes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partBytesOf } from "./sizes.ts";
 * assert.deepEqual([partBytesOf(8 << 20), partBytesOf(1000)], [512 << 10, 125]);
 * ```
 */
export function partBytesOf(chunkBytes: number): number {
  return Math.max(1, Math.min(512 << 10, Math.floor(chunkBytes / 8)));
}

/** The largest chunk of a plan, as the executors' buffers must hold it. */
export interface ChunkBounds {
  /** Bytes of the largest chunk input (4 bytes an element). */
  input: number;
  /** Bytes of the largest chunk output (outputs then scales, 4 bytes an element each). */
  output: number;
  /** Bytes of the longest row (4 bytes an element: the kernel's scratch row). */
  row: number;
}

/**
 * Bounds of the chunks of `plan`'s parameters: rows per chunk are largest for 2-byte sources;
 * buffers hold them at 4 bytes an element.
 *
 * @example
 * ```ts ignore
 * const { input, output, row } = chunkBounds(plan, DEFAULT_CHUNK_BYTES);
 * ```
 */
export function chunkBounds(plan: Pick<ConversionPlan, "params">, chunkBytes: number): ChunkBounds {
  const align16 = (n: number) => (n + 15) & ~15;
  let input = 0, output = 0, row = 0;
  for (const pp of plan.params) {
    const { rows, rowElems } = rowLayout(pp.shape);
    const n = Math.min(rows, chunkRowsOf(rowElems, 2, chunkBytes));
    input = Math.max(input, n * rowElems * 4);
    output = Math.max(output, align16(n * rowElems * 4) + n * rowElems * 4);
    row = Math.max(row, rowElems * 4);
  }
  return { input, output, row };
}

/**
 * Names of the quantized parameters of `plan` whose scales stream beside their words: NK words
 * out of band (a shard of their own) and scales that are not float32, which the writer begins
 * beside the open words (`TensorCacheWriter.canBeginBeside`), by `dump_tensor_cache`'s rule.
 *
 * @example
 * ```ts ignore
 * scalesBeside(plan).has("model.embed_tokens.q_weight"); // true for a 197 MB embedding first
 * ```
 */
export function scalesBeside(plan: Pick<ConversionPlan, "params">, cap: number = SHARD_CAP): Set<string> {
  const beside = new Set<string>();
  let pending = 0;
  const place = (n: number) => {
    const where = placeTensor(pending, n, cap);
    if (where === "append") pending += n;
    else if (where === "commit") pending = n;
    return where;
  };
  for (const p of plan.params) {
    const [qw, qs] = p.outputs;
    const own = place(qw.nbytes) === "own";
    if (!qs) continue;
    place(qs.nbytes);
    if (p.quant === "NK" && own && qs.dtype !== "float32") beside.add(qw.name);
    for (const o of p.outputs.slice(2)) place(o.nbytes);
  }
  return beside;
}

/**
 * Whether the kernel workers place output `i` of `p` in the shard buffers (see
 * `convertParam`'s paths): NK layouts, not float32 (stored as bf16), and fitting a shard
 * buffer, or words streamed through them in pieces (`streamPieceBytes`).
 */
function placedInShards(p: ConversionPlan["params"][number], i: number): boolean {
  const streamed = (o: ConversionPlan["params"][number]["outputs"][number]) =>
    o.nbytes > SHARD_CAP && o.dtype !== "float32" && streamPieceBytes(o.nbytes, o.shape[0], SHARD_CAP) > 0;
  if (p.outputs.length === 2 && streamed(p.outputs[0])) {
    // words streamed in pieces; scales beside them (not float32: NK holds those whole, KN then
    // collects everything whole)
    const f32Scales = p.outputs[1].dtype === "float32";
    return p.quant === "KN" ? !f32Scales : i === 0 || !f32Scales;
  }
  return p.outputs.every((o) => o.dtype !== "float32" && o.nbytes <= SHARD_CAP);
}

/**
 * Estimated peak memory of a conversion, counted with the pipeline's own sizes: the runtime
 * baseline, the shard buffers in rotation ({@link WORKER_SHARD_BUFFERS} or
 * {@link LOCAL_SHARD_BUFFERS} of `SHARD_CAP` bytes), the chunk buffers (or, with kernel
 * workers, each worker's runtime, kernel memory and slots, whose output regions hold a chunk's
 * outputs of the parameters not written in place), the I/O worker, and for the largest
 * parameter its whole scale array (and words, for KN layouts, written transposed in blocks; parameters written in place by
 * the kernel workers need neither; scales streamed beside out-of-band words, see
 * {@link scalesBeside}, are not held). The bench prints it beside the measured peak RSS.
 *
 * @example
 * ```ts ignore
 * console.log(estimatePeakMemory(plan, 8 << 20, 2));
 * ```
 */
export function estimatePeakMemory(
  plan: Pick<ConversionPlan, "params">,
  chunkBytes: number = DEFAULT_CHUNK_BYTES,
  threads = 1,
): number {
  let perParam = 0, slotOutput = 0, knPlaced = false;
  const beside = scalesBeside(plan);
  for (const p of plan.params) {
    // (scales are held until the words are written unless streamed beside them, or placed in
    // the shard buffers by kernel workers)
    const placed = threads > 1 && p.outputs.every((_, i) => placedInShards(p, i));
    const held = p.outputs.length > 1 && !beside.has(p.outputs[0].name) && !placed;
    const scale = held ? p.outputs[1].nbytes : 0;
    // (KN not placed: the words, collected whole, then written transposed a block at a time: the
    // block and the writer's copy of it)
    const words = p.quant === "KN" && !placed ? p.outputs[0].nbytes + 2 * TRANSPOSE_BLOCK : 0;
    knPlaced ||= p.quant === "KN" && placed;
    const whole = p.param.transform?.kind === "whole" ? 3 * p.sources.reduce((a, s) => a + s.nbytes, 0) : 0;
    perParam = Math.max(perParam, scale + words + whole);
    // outputs not placed in a shard buffer by the kernel workers (float32, more than a shard
    // buffer holds unless streamed in pieces), and KN ones (transposed into place on this
    // thread), come back through the slot buffers, a chunk's worth each
    const { rows, rowElems } = rowLayout(p.shape);
    const chunkRows = Math.min(rows, chunkRowsOf(rowElems, 2, chunkBytes));
    const kn = p.quant === "KN";
    const back = p.outputs.reduce((a, o, i) => a + (placedInShards(p, i) && !kn ? 0 : o.nbytes), 0);
    slotOutput = Math.max(slotOutput, back / rows * chunkRows);
  }
  const MiB = 1 << 20;
  // Deno runtime and module code, the heaps of this thread and the workers (measured: the peak
  // RSS of a sparse Llama-3-8B conversion less the parts counted below, which grows slowly over
  // long runs until V8 collects)
  const baseline = 64 * MiB;
  const workers = threads > 1;
  const shards = (workers ? WORKER_SHARD_BUFFERS : LOCAL_SHARD_BUFFERS) * SHARD_CAP;
  // a kernel worker: its runtime, the part of a chunk it reads at a time and a chunk's outputs
  // (at most a chunk; most are written in place, into the shard buffers); on one thread the
  // chunk buffers; the I/O worker that writes shards
  const pipeline =
    (workers ? threads * (16 * MiB + chunkBytes + SLOTS_PER_WORKER * slotOutput) : 3 * chunkBytes) +
    10 * MiB;
  // KN outputs transposed into place on this thread: a strip's scale rows, and the garbage of
  // the scale rows written as they come (measured: a sparse Llama-3-8B q4f16_0 conversion peaks
  // about 34 MB above its q4f16_1 one, 14 of them in the slots counted above)
  const kn = workers && knPlaced ? 20 * MiB : 0;
  return baseline + shards + pipeline + perParam + kn;
}
