/**
 * The conversion of one planned parameter, by one of six paths:
 *
 * - {@link convertInPlace}: the outputs' regions are placed in the shard buffers at once and
 *   the executor's kernels fill them (kernel workers; outputs that fit a shard buffer, NK).
 * - {@link convertStreamed}: the same for NK words larger than a shard buffer, placed in the
 *   pieces the writer streams them in, a piece at a time.
 * - {@link convertKnPlaced}, {@link convertKnStrips}: KN outputs (stored transposed) placed in
 *   the shard buffers whole, or, for words larger than a shard buffer, by column strips a piece at
 *   a time, each chunk's outputs transposed into their place on this thread.
 * - {@link convertCast}: each chunk's cast elements are written in order.
 * - {@link convertQuantized}: each chunk's words are written in order (or, for KN layouts,
 *   collected and transposed), its scales collected and written after the words.
 *
 * @module
 */
import type { FileRange } from "../io/direct_read.ts";
import { rowSourceFor } from "../param_rows.ts";
import type { TensorCacheWriter, TensorSink } from "../cache_writer.ts";
import type { Checkpoint } from "../checkpoint.ts";
import { type DType, type FloatDType, itemSize } from "../dtype.ts";
import type { PlannedParam } from "../plan.ts";
import type { TieRounding } from "../quant/backend.ts";
import { groupConstants, type QuantScheme } from "../quant/schemes.ts";
import type { GrowableBuffers } from "./buffers.ts";
import type { ChunkJob, ChunkOut, Executor } from "./executors.ts";
import type { ChunkScheduler } from "./scheduler.ts";
import { chunkRowsOf, TRANSPOSE_BLOCK } from "./sizes.ts";

/** What the per-parameter paths work with. */
export interface ParamContext {
  /** The source (reads of this thread). */
  checkpoint: Pick<Checkpoint, "read" | "localPath">;
  /** The quantization scheme. */
  scheme: QuantScheme;
  /** Tie rule of `round`. */
  tie: TieRounding;
  /** Source bytes per chunk. */
  chunkBytes: number;
  /** The executor. */
  exec: Executor;
  /** The scheduler on its slots. */
  sched: ChunkScheduler;
  /** The writer. */
  writer: TensorCacheWriter;
  /** Whole-tensor buffers (scales, KN layouts). */
  bufs: GrowableBuffers;
}

/** A parameter cut into chunk jobs. */
export interface ParamChunks {
  /** Rows of the parameter. */
  rows: number;
  /** Rows per chunk. */
  chunkRows: number;
  /** Groups per row (quantized). */
  groups: number;
  /** Words per row (quantized). */
  wordsPerRow: number;
  /** Bytes per model-dtype element. */
  modelItem: number;
  /** The job for rows `[r, r + n)`. */
  jobFor(r: number, n: number): ChunkJob;
  /**
   * The job for groups `[g0, g1)` of rows `[r, r + n)` (a column strip, read as one file range
   * per row): quantized parameters with direct reads only.
   */
  stripJobFor?(r: number, n: number, g0: number, g1: number): ChunkJob;
}

const FLOAT: ReadonlySet<DType> = new Set(["float16", "bfloat16", "float32"]);

/**
 * Opens the rows of `pp` and cuts them into chunk jobs: cast and quantize, or cast only.
 *
 * @example
 * ```ts ignore
 * const { rows, chunkRows, jobFor } = await paramChunks(ctx, plan.params[0]);
 * ```
 */
export async function paramChunks(ctx: ParamContext, pp: PlannedParam): Promise<ParamChunks> {
  const src = await rowSourceFor(pp, ctx.checkpoint, ctx.exec.directReads);
  if (!FLOAT.has(src.dtype)) throw new Error(`Parameter ${pp.param.name}: cannot convert ${src.dtype}`);
  const srcDtype = src.dtype as FloatDType;
  const md = pp.dtype as FloatDType;
  const modelItem = itemSize(md);
  const k = src.rowElems;
  const gs = ctx.scheme.kind === "group-quant" ? ctx.scheme : undefined;
  if (pp.quant && !gs) throw new Error("unreachable: quantized param without group scheme");
  const groups = gs ? Math.ceil(k / gs.groupSize) : 0;
  const wordsPerRow = gs ? groups * groupConstants(gs).wordsPerGroup : 0;
  const jobFor = (r: number, n: number): ChunkJob => ({
    srcDtype,
    modelDtype: md,
    k,
    tie: ctx.tie,
    outputTranspose: pp.quant === "KN",
    rows: n,
    param: pp.param.name,
    fill: (into: Uint8Array) => src.read(r, n, into),
    reads: src.segments?.(r, n), // (direct reads only)
    ...(pp.quant && gs
      ? {
        kind: "quant",
        bits: gs.bits,
        groupSize: gs.groupSize,
        outBytes: n * wordsPerRow * 4,
        scaleBytes: n * groups * modelItem,
      }
      : { kind: "cast", bits: 4, groupSize: 32, outBytes: n * k * modelItem, scaleBytes: 0 }),
  });
  const chunkRows = chunkRowsOf(k, itemSize(srcDtype), ctx.chunkBytes);
  const segments = src.segments, srcItem = itemSize(srcDtype);
  const stripJobFor = gs && segments
    ? (r: number, n: number, g0: number, g1: number): ChunkJob => {
      const c0 = g0 * gs.groupSize, c1 = Math.min(k, g1 * gs.groupSize);
      return {
        ...jobFor(r, n),
        k: c1 - c0,
        reads: columnRanges(segments(r, n), k * srcItem, c0 * srcItem, c1 * srcItem),
        outBytes: n * (g1 - g0) * groupConstants(gs).wordsPerGroup * 4,
        scaleBytes: n * (g1 - g0) * modelItem,
      };
    }
    : undefined;
  return { rows: src.rows, chunkRows, groups, wordsPerRow, modelItem, jobFor, stripJobFor };
}

/**
 * Bytes `[b0, b1)` of each row of `rowBytes` bytes in `ranges` (file ranges of whole rows): one
 * strided range (a segment per row) for each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { columnRanges } from "./params.ts";
 * assert.deepEqual(columnRanges([["a", 100, 30], ["b", 0, 10]], 10, 2, 6), [
 *   ["a", 102, 4, 10, 3],
 *   ["b", 2, 4, 10, 1],
 * ]);
 * ```
 */
export function columnRanges(
  ranges: readonly FileRange[],
  rowBytes: number,
  b0: number,
  b1: number,
): FileRange[] {
  return ranges.map(([path, offset, length]) => [path, offset + b0, b1 - b0, rowBytes, length / rowBytes]);
}

/** The row ranges `[r, n]` of chunks of `chunkRows` rows over `rows` rows. */
export function* chunkRanges(rows: number, chunkRows: number): Generator<[number, number]> {
  for (let r = 0; r < rows; r += chunkRows) yield [r, Math.min(chunkRows, rows - r)];
}

/**
 * Whether `pp` can be converted in place: its outputs' regions placed in the executor's shard
 * buffers (an executor with shared memory, NK layout, outputs the writer can place there).
 */
export function canConvertInPlace(ctx: ParamContext, pp: PlannedParam): boolean {
  return ctx.exec.memory !== undefined && pp.quant !== "KN" &&
    pp.outputs.every((o) => ctx.writer.reservable(o.shape, o.dtype));
}

/**
 * In place: a region per output and chunk is placed in the shard buffers at once, filled by
 * the chunk's job (the writer learns which parts of a shard are ready chunk by chunk, and
 * writes and hashes a shard once its regions are filled).
 */
export async function convertInPlace(ctx: ParamContext, pp: PlannedParam, c: ParamChunks): Promise<void> {
  await ctx.sched.drain(); // (writer calls of earlier parameters come first)
  const chunks = [...chunkRanges(c.rows, c.chunkRows)].map(([r, n]) => {
    const filled = Promise.withResolvers<void>();
    filled.promise.catch(() => {}); // (a failed job fails the conversion through the scheduler)
    return { job: c.jobFor(r, n), filled };
  });
  for (const [i, o] of pp.outputs.entries()) {
    const sink = await ctx.writer.begin(o.name, o.shape, o.dtype);
    for (const { job, filled } of chunks) {
      const view = sink.reserve!(i === 0 ? job.outBytes : job.scaleBytes, filled.promise);
      if (i === 0) job.dest = view;
      else job.scaleDest = view;
    }
    await sink.end();
  }
  for (const { job, filled } of chunks) {
    (await ctx.sched.submit(job)).done.then(() => filled.resolve(), (e) => filled.reject(e));
  }
}

/**
 * Whether `pp`'s words can be streamed in place: NK words larger than a shard buffer, which the
 * writer streams through the executor's shard buffers in pieces it lets be filled in place
 * (see `TensorCacheWriter.inPlacePieceBytes`).
 */
export function canStreamInPlace(ctx: ParamContext, pp: PlannedParam): boolean {
  const [qw] = pp.outputs;
  return ctx.exec.memory !== undefined && pp.quant === "NK" && pp.outputs.length === 2 &&
    ctx.writer.inPlacePieceBytes(qw.shape, qw.dtype) > 0;
}

/**
 * Words streamed in place (out of band, larger than a shard buffer): each chunk's words are
 * placed in the piece of the shard being streamed (chunks end where pieces end), its scales
 * beside them in the pending shard (in place, or written in order where the writer takes them as
 * they come) where the writer can (`canBeginBeside`), else collected and written after the
 * words.
 */
export async function convertStreamed(ctx: ParamContext, pp: PlannedParam, c: ParamChunks): Promise<void> {
  const [qw, qs] = pp.outputs;
  const scaleRow = c.groups * c.modelItem;
  await ctx.sched.drain(); // (writer calls of earlier parameters come first)
  const pieceRows = ctx.writer.inPlacePieceBytes(qw.shape, qw.dtype) / (c.wordsPerRow * 4);
  if (qw.shape[0] !== c.rows || !Number.isInteger(pieceRows)) {
    throw new Error(`unreachable: ${qw.name} pieces of ${pieceRows} rows of ${c.rows}`);
  }
  const sink = await ctx.writer.begin(qw.name, qw.shape, qw.dtype);
  const beside = ctx.writer.canBeginBeside(qs.shape, qs.dtype);
  const scaleSink = beside ? await ctx.writer.begin(qs.name, qs.shape, qs.dtype) : undefined;
  const scaleAll = beside ? undefined : ctx.bufs.get("scales", c.rows * scaleRow);
  for (let p = 0; p < c.rows; p += pieceRows) {
    for (const [r0, n] of chunkRanges(Math.min(pieceRows, c.rows - p), c.chunkRows)) {
      const r = p + r0, job = c.jobFor(r, n);
      const filled = Promise.withResolvers<void>();
      filled.promise.catch(() => {}); // (a failed job fails the conversion through the scheduler)
      job.dest = await sink.reservePiece!(job.outBytes, filled.promise);
      if (scaleSink?.reserve) job.scaleDest = scaleSink.reserve(job.scaleBytes, filled.promise);
      const apply = job.scaleDest ? undefined : async (o: ChunkOut) => {
        if (scaleSink) await scaleSink.write(o.scales);
        else scaleAll!.set(o.scales, r * scaleRow);
      };
      (await ctx.sched.submit(job, apply)).done.then(() => filled.resolve(), (e) => filled.reject(e));
    }
  }
  ctx.sched.ordered(async () => {
    await sink.end();
    if (scaleSink) await scaleSink.end();
    else await ctx.writer.add(qs.name, qs.shape, qs.dtype, scaleAll!);
  });
}

/** Cast only: each chunk's elements are written in order. */
export async function convertCast(ctx: ParamContext, pp: PlannedParam, c: ParamChunks): Promise<void> {
  const [out] = pp.outputs;
  let sink: TensorSink;
  ctx.sched.ordered(async () => void (sink = await ctx.writer.begin(out.name, out.shape, out.dtype)));
  for (const [r, n] of chunkRanges(c.rows, c.chunkRows)) {
    await ctx.sched.submit(c.jobFor(r, n), (o) => sink.write(o.out));
  }
  ctx.sched.ordered(() => sink.end());
}

/**
 * Quantized, outputs applied on this thread: words written in order (NK) or collected and
 * transposed (KN). Scales are streamed into their place in the pending shard beside
 * out-of-band words where the writer can (`canBeginBeside`), else collected and written after
 * the words.
 */
export async function convertQuantized(ctx: ParamContext, pp: PlannedParam, c: ParamChunks): Promise<void> {
  const [qw, qs] = pp.outputs;
  const kn = pp.quant === "KN";
  const { rows, groups, wordsPerRow: wpr, modelItem } = c;
  let sink: TensorSink | undefined, scaleSink: TensorSink | undefined;
  let scaleAll: Uint8Array | undefined, wordsAll: Uint8Array | undefined;
  ctx.sched.ordered(async () => {
    // (buffers of the previous parameter are no longer in use: steps run in order)
    wordsAll = kn ? ctx.bufs.get("wordsAll", rows * wpr * 4) : undefined;
    sink = kn ? undefined : await ctx.writer.begin(qw.name, qw.shape, qw.dtype);
    if (sink && ctx.writer.canBeginBeside(qs.shape, qs.dtype)) {
      scaleSink = await ctx.writer.begin(qs.name, qs.shape, qs.dtype);
    } else scaleAll = ctx.bufs.get("scales", rows * groups * modelItem);
  });
  for (const [r, n] of chunkRanges(rows, c.chunkRows)) {
    await ctx.sched.submit(c.jobFor(r, n), async (o) => {
      if (scaleSink) await scaleSink.write(o.scales);
      else scaleAll!.set(o.scales, r * groups * modelItem);
      if (wordsAll) wordsAll.set(o.out, r * wpr * 4);
      else await sink!.write(o.out);
    });
  }
  ctx.sched.ordered(async () => {
    if (sink) await sink.end();
    if (scaleSink) await scaleSink.end();
    else if (wordsAll) {
      await writeTransposed(ctx, qw, wordsAll, rows, wpr, 4);
      await writeTransposed(ctx, qs, scaleAll!, rows, groups, modelItem);
    } else {
      await ctx.writer.add(qs.name, qs.shape, qs.dtype, scaleAll!);
    }
  });
}

/**
 * Pre-quantized imports (AWQ, FP8 block-scale): the rows copied unchanged, chunk by chunk, in
 * order (MLC's `astype` to the same bits; float32 scales still go through the writer's bf16
 * encoding).
 */
export async function convertRaw(ctx: ParamContext, pp: PlannedParam): Promise<void> {
  const src = await rowSourceFor(pp, ctx.checkpoint, ctx.exec.directReads);
  const [out] = pp.outputs;
  const rb = src.rowElems * itemSize(src.dtype);
  const step = chunkRowsOf(src.rowElems, itemSize(src.dtype), ctx.chunkBytes);
  ctx.sched.ordered(async () => {
    const sink = await ctx.writer.begin(out.name, out.shape, out.dtype);
    for (const [r, n] of chunkRanges(src.rows, step)) {
      const buf = new Uint8Array(n * rb);
      await src.read(r, n, buf);
      await sink.write(buf);
    }
    await sink.end();
  });
}

/**
 * Writes `src` (`rows` x `cols` elements of `elem` bytes) transposed, as tensor `out`, a block
 * of output rows (about `block` bytes) at a time: no second whole copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryOutput } from "@mlc-deno/convert";
 * import { TensorCacheWriter } from "../cache_writer.ts";
 * import { GrowableBuffers } from "./buffers.ts";
 * import { type ParamContext, writeTransposed } from "./params.ts";
 * const out = memoryOutput(), writer = new TensorCacheWriter(out);
 * const ctx = { writer, bufs: new GrowableBuffers() } as unknown as ParamContext;
 * // 2 x 3 u16 elements, blocks of one output row (4 bytes)
 * const src = new Uint8Array(new Uint16Array([1, 2, 3, 4, 5, 6]).buffer);
 * await writeTransposed(ctx, { name: "t", shape: [3, 2], dtype: "float16" }, src, 2, 3, 2, 4);
 * await writer.finish(6);
 * assert.deepEqual([...new Uint16Array(out.files.get("params_shard_0.bin")!.slice().buffer)], [1, 4, 2, 5, 3, 6]);
 * ```
 */
export async function writeTransposed(
  ctx: Pick<ParamContext, "writer" | "bufs">,
  out: { name: string; shape: readonly number[]; dtype: DType },
  src: Uint8Array,
  rows: number,
  cols: number,
  elem: number,
  block: number = TRANSPOSE_BLOCK,
): Promise<void> {
  const sink = await ctx.writer.begin(out.name, out.shape, out.dtype);
  const per = Math.max(1, Math.floor(block / (rows * elem))); // output rows a block
  for (let c0 = 0; c0 < cols; c0 += per) {
    const c1 = Math.min(cols, c0 + per);
    const block = ctx.bufs.get("transpose", (c1 - c0) * rows * elem);
    transposeColumns(src, rows, cols, elem, c0, c1, block);
    await sink.write(block); // (taken before it returns: the block is free again)
  }
  await sink.end();
}

/**
 * `dst[(c - c0) * pitch + at + r] = src[r * cols + c]` for `rows` rows and columns `[c0, c1)`
 * (elements of 2 or 4 bytes, little-endian): a block of rows transposed into its columns of a
 * wider matrix. Views at any byte offset (a tensor's place in a shard need not be aligned).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { transposeColumns } from "./params.ts";
 * // rows [1 2 3] [4 5 6] (u16) into columns 1-2 of a 3 x 4 matrix, at byte 1 of dst
 * const src = new Uint8Array(new Uint16Array([1, 2, 3, 4, 5, 6]).buffer);
 * const dst = new Uint8Array(1 + 24);
 * transposeColumns(src, 2, 3, 2, 0, 3, dst.subarray(1), 4, 1);
 * assert.deepEqual([...new Uint16Array(dst.slice(1).buffer)], [0, 1, 4, 0, 0, 2, 5, 0, 0, 3, 6, 0]);
 * ```
 */
export function transposeColumns(
  src: Uint8Array,
  rows: number,
  cols: number,
  elem: number,
  c0: number,
  c1: number,
  dst: Uint8Array,
  pitch: number = rows,
  at = 0,
): void {
  const aligned = src.byteOffset % elem === 0 && dst.byteOffset % elem === 0;
  if (!aligned) {
    const s = new DataView(src.buffer, src.byteOffset, src.length);
    const d = new DataView(dst.buffer, dst.byteOffset, dst.length);
    const get = elem === 4
      ? (i: number) => s.getUint32(i * 4, true)
      : (i: number) => s.getUint16(i * 2, true);
    const set = elem === 4
      ? (i: number, v: number) => d.setUint32(i * 4, v, true)
      : (i: number, v: number) => d.setUint16(i * 2, v, true);
    for (let r = 0; r < rows; r++) {
      for (let c = c0; c < c1; c++) set((c - c0) * pitch + at + r, get(r * cols + c));
    }
    return;
  }
  const view = (b: Uint8Array) =>
    elem === 4
      ? new Uint32Array(b.buffer, b.byteOffset, b.length >> 2)
      : new Uint16Array(b.buffer, b.byteOffset, b.length >> 1);
  const s = view(src), d = view(dst);
  for (let r = 0; r < rows; r++) {
    for (let c = c0; c < c1; c++) d[(c - c0) * pitch + at + r] = s[r * cols + c];
  }
}

/**
 * Whether `pp`'s KN outputs can be placed in the shard buffers whole (each fits one; kernel
 * workers), to be filled by transposing each chunk's outputs into them.
 */
export function canPlaceKn(ctx: ParamContext, pp: PlannedParam): boolean {
  return ctx.exec.memory !== undefined && pp.quant === "KN" && pp.outputs.length === 2 &&
    pp.outputs.every((o) => ctx.writer.reservable(o.shape, o.dtype));
}

/**
 * KN outputs placed in the shard buffers whole: MLC's KN layout stores them transposed
 * (`[words per row, rows]`, `[groups, rows]`), so each chunk's words and scales, back from the
 * kernel, are transposed into their columns of the regions on this thread; the shard is written
 * and hashed once every chunk is in. Nothing is held whole.
 */
export async function convertKnPlaced(ctx: ParamContext, pp: PlannedParam, c: ParamChunks): Promise<void> {
  await ctx.sched.drain(); // (writer calls of earlier parameters come first)
  const filled = Promise.withResolvers<void>();
  filled.promise.catch(() => {}); // (a failed job fails the conversion through the scheduler)
  const regions: Uint8Array[] = [];
  for (const o of pp.outputs) {
    const sink = await ctx.writer.begin(o.name, o.shape, o.dtype);
    regions.push(sink.reserve!(o.nbytes, filled.promise));
    await sink.end();
  }
  const [words, scales] = regions, { rows, wordsPerRow: wpr, groups } = c;
  for (const [r, n] of chunkRanges(rows, c.chunkRows)) {
    const run = await ctx.sched.submit(c.jobFor(r, n), (o) => {
      transposeColumns(o.out, n, wpr, 4, 0, wpr, words, rows, r);
      transposeColumns(o.scales, n, groups, c.modelItem, 0, groups, scales, rows, r);
    });
    run.done.catch((e) => filled.reject(e));
  }
  ctx.sched.ordered(() => filled.resolve());
}

/** Groups per column strip of `pp`'s KN words (output rows of whole groups in a shard piece); 0: none fit. */
function stripGroupsOf(ctx: ParamContext, pp: PlannedParam, c: ParamChunks): number {
  const [qw] = pp.outputs;
  const wpg = c.wordsPerRow / c.groups;
  return Math.floor(ctx.writer.inPlacePieceBytes(qw.shape, qw.dtype) / (c.rows * 4 * wpg));
}

/**
 * Whether `pp`'s KN words can be streamed in place by column strips: words larger than a shard
 * buffer, which the writer streams in pieces, scales that begin beside them (not float32),
 * kernel workers reading the source directly (a strip is read as one range per row).
 */
export function canStreamKnStrips(ctx: ParamContext, pp: PlannedParam, c: ParamChunks): boolean {
  return ctx.exec.memory !== undefined && pp.quant === "KN" && pp.outputs.length === 2 &&
    pp.outputs[1].dtype !== "float32" && c.stripJobFor !== undefined && stripGroupsOf(ctx, pp, c) > 0;
}

/**
 * KN words streamed in place by column strips. MLC's KN layout stores the words transposed
 * (`[words per row, rows]`), so a piece of the output (whole output rows) holds some groups of
 * every source row: per strip of groups, each chunk of source rows is read as one range per row
 * (the strip's columns), quantized, and its words transposed into the strip's place in the
 * piece on this thread; the strip's scale rows then go to the scales, begun beside the words.
 * Nothing is held whole.
 */
export async function convertKnStrips(ctx: ParamContext, pp: PlannedParam, c: ParamChunks): Promise<void> {
  const [qw, qs] = pp.outputs;
  const rows = c.rows, per = stripGroupsOf(ctx, pp, c), wpg = c.wordsPerRow / c.groups;
  await ctx.sched.drain(); // (writer calls of earlier parameters come first)
  const sink = await ctx.writer.begin(qw.name, qw.shape, qw.dtype);
  const scaleSink = await ctx.writer.begin(qs.name, qs.shape, qs.dtype); // (beside the words)
  const probe = c.stripJobFor!(0, 1, 0, Math.min(per, c.groups));
  const chunkRows = chunkRowsOf(probe.k, itemSize(probe.srcDtype), ctx.chunkBytes);
  for (let g0 = 0; g0 < c.groups; g0 += per) {
    const g1 = Math.min(c.groups, g0 + per), sw = (g1 - g0) * wpg, sg = g1 - g0;
    await ctx.sched.drain(); // (the strip before applied: its piece can be written, a buffer freed)
    const filled = Promise.withResolvers<void>();
    filled.promise.catch(() => {}); // (a failed job fails the conversion through the scheduler)
    const words = await sink.reservePiece!(sw * rows * 4, filled.promise);
    const scales = ctx.bufs.get("kn-scales", sg * rows * c.modelItem);
    for (const [r, n] of chunkRanges(rows, chunkRows)) {
      const run = await ctx.sched.submit(c.stripJobFor!(r, n, g0, g1), (o) => {
        transposeColumns(o.out, n, sw, 4, 0, sw, words, rows, r);
        transposeColumns(o.scales, n, sg, c.modelItem, 0, sg, scales, rows, r);
      });
      run.done.catch((e) => filled.reject(e));
    }
    ctx.sched.ordered(async () => {
      filled.resolve();
      await scaleSink.write(scales);
    });
  }
  ctx.sched.ordered(async () => {
    await sink.end();
    await scaleSink.end();
  });
}

/**
 * Converts `pp` by the path that fits it (see the module's description).
 *
 * @example
 * ```ts ignore
 * for (const pp of plan.params) await convertParam(ctx, pp);
 * ```
 */
export async function convertParam(ctx: ParamContext, pp: PlannedParam): Promise<"in place" | "ordered"> {
  if (pp.param.raw) {
    await convertRaw(ctx, pp);
    return "ordered";
  }
  const chunks = await paramChunks(ctx, pp);
  if (canConvertInPlace(ctx, pp)) {
    await convertInPlace(ctx, pp, chunks);
    return "in place";
  }
  if (canStreamInPlace(ctx, pp)) {
    await convertStreamed(ctx, pp, chunks);
    return "in place";
  }
  if (canPlaceKn(ctx, pp)) {
    await convertKnPlaced(ctx, pp, chunks);
    return "in place";
  }
  if (canStreamKnStrips(ctx, pp, chunks)) {
    await convertKnStrips(ctx, pp, chunks);
    return "in place";
  }
  if (pp.quant) await convertQuantized(ctx, pp, chunks);
  else await convertCast(ctx, pp, chunks);
  return "ordered";
}
