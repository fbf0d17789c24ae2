/**
 * Executors run the conversion's chunk jobs: a chunk of rows of one parameter read, cast to
 * the model dtype and (for quantized parameters) group quantized. Which one runs is chosen
 * from {@link EXECUTORS}, the first that accepts the backend and thread count:
 *
 * - {@link WorkerExecutor}: kernel workers on one {@link PipelineMemory} with the shard
 *   buffers; outputs placed in a shard are written there by the kernel; the workers also hash
 *   shards.
 * - {@link LocalWasmExecutor}: the same kernel job runner on this thread.
 * - {@link BackendExecutor}: any backend's `cast` and `groupQuantize` (or fused method).
 *
 * A new executor implements {@link Executor} and is put in {@link EXECUTORS}.
 *
 * @module
 */
import { type FloatDType, itemSize } from "../dtype.ts";
import { closeFiles, type FileRange, readRanges } from "../io/direct_read.ts";
import { type KernelJob, kernelJobBytes, kernelJobLayout, runKernelJob } from "../kernels/job.ts";
import { DTYPE_CODE, type WasmKernels } from "../kernels/wasm.ts";
import { countNonFinite } from "../quant/nonfinite.ts";
import { kernelTieFlags, type QuantBackend, type TieRounding } from "../quant/backend.ts";
import { SHARD_CAP } from "../shard_layout.ts";
import { GrowableBuffers } from "./buffers.ts";
import type { Md5Service } from "./hashing.ts";
import { PipelineMemory } from "./memory.ts";
import { QuantWorkerPool } from "./pool.ts";
import { type ChunkBounds, partBytesOf, SLOTS_PER_WORKER, WORKER_SHARD_BUFFERS } from "./sizes.ts";

/** One chunk of rows of one parameter: cast only, or cast and quantize. */
export interface ChunkJob {
  /** Fused cast + quantize, or cast only. */
  kind: "quant" | "cast";
  /** Source dtype. */
  srcDtype: FloatDType;
  /** Model dtype. */
  modelDtype: FloatDType;
  /** Rows. */
  rows: number;
  /** Elements per row. */
  k: number;
  /** Quantization bits. */
  bits: 3 | 4;
  /** Group size. */
  groupSize: number;
  /** Tie rule of `round`. */
  tie: TieRounding;
  /** MLC's output_transpose (KN Linear weights): bf16 codes from the unrounded f32 scale. */
  outputTranspose: boolean;
  /** Bytes of output (words, or the cast elements). */
  outBytes: number;
  /** Bytes of scales. */
  scaleBytes: number;
  /** The parameter the chunk belongs to (for the non-finite tally). */
  param: string;
  /** Fills the source bytes of the chunk. */
  fill: (into: Uint8Array) => Promise<void>;
  /** Local file ranges of the source bytes, when the executor may read them itself. */
  reads?: FileRange[];
  /** Where the words (or cast elements) go in place: a view of the executor's memory. */
  dest?: Uint8Array;
  /** Where the scales go in place (a view of the executor's memory). */
  scaleDest?: Uint8Array;
}

/** A chunk's outputs; views valid until its slot is released. */
export interface ChunkOut {
  /** Words, or the cast elements. */
  out: Uint8Array;
  /** Scales. */
  scales: Uint8Array;
  /** NaN and infinite values among the chunk's source elements. */
  nonFinite: number;
}

/** Milliseconds of reading and computing (thread-time: work in workers overlaps). */
export interface Timing {
  /** Reading source data. */
  readMs: number;
  /** Casting and quantizing. */
  computeMs: number;
}

/** Runs chunk jobs in slots; at most `slots` jobs are unreleased at a time. */
export interface Executor {
  /** Jobs that may be in flight. */
  readonly slots: number;
  /** Threads that compute (1: this one). */
  readonly threads: number;
  /** Whether jobs may carry `reads` (the executor reads local files itself). */
  readonly directReads: boolean;
  /**
   * Shared memory with shard buffers in which jobs' outputs can be placed (`dest`,
   * `scaleDest`), when the executor has one.
   */
  readonly memory?: PipelineMemory;
  /** md5 in the executor's threads, when it has some (hashes the shard buffers in place). */
  readonly md5?: Md5Service;
  /** Runs `job` in `slot`; the outputs stay valid until the slot is reused. */
  run(job: ChunkJob, slot: number): Promise<ChunkOut>;
  /** Stops threads, closes files. */
  close(): void | Promise<void>;
}

/** What an executor is made for. */
export interface ExecutorContext {
  /** The compute backend. */
  backend: QuantBackend;
  /** Threads asked for. */
  threads: number;
  /** Source bytes per chunk. */
  chunkBytes: number;
  /** The plan's largest chunk. */
  bounds: ChunkBounds;
  /** Where the time goes (the executor adds to it). */
  timing: Timing;
}

/** A kind of executor: whether it runs a backend with a thread count, and how to make one. */
export interface ExecutorKind {
  /** Name (for messages and tests). */
  readonly name: string;
  /** Whether it runs `backend` with `threads` threads. */
  accepts(backend: QuantBackend, threads: number): boolean;
  /** Makes one. */
  create(ctx: ExecutorContext): Executor;
}

const align16 = (n: number): number => (n + 15) & ~15;

/** The kernel job of `job`, `partRows` rows at a time. */
function kernelJobOf(job: ChunkJob, partRows: number): KernelJob {
  return {
    kind: job.kind,
    srcDtype: DTYPE_CODE[job.srcDtype],
    srcSize: itemSize(job.srcDtype),
    modelDtype: DTYPE_CODE[job.modelDtype],
    rows: job.rows,
    k: job.k,
    bits: job.bits,
    groupSize: job.groupSize,
    tie: kernelTieFlags(job),
    outBytes: job.outBytes,
    scaleBytes: job.scaleBytes,
    partRows: Math.min(job.rows, partRows),
  };
}

/** Rows of `job` in `partBytes` of source (at least one). */
function partRowsOf(job: ChunkJob, partBytes: number): number {
  return Math.max(1, Math.floor(partBytes / (job.k * itemSize(job.srcDtype))));
}

/** Any backend, on this thread: cast, then quantize (or its fused method when it has one). */
export class BackendExecutor implements Executor {
  readonly slots = 1;
  readonly threads = 1;
  readonly directReads = false;
  readonly #b: QuantBackend;
  readonly #t: Timing;
  readonly #bufs = new GrowableBuffers();
  /** Runs `backend` on this thread. */
  constructor(backend: QuantBackend, t: Timing) {
    this.#b = backend;
    this.#t = t;
  }
  /** Runs a job. */
  async run(job: ChunkJob): Promise<ChunkOut> {
    const count = job.rows * job.k;
    const raw = this.#bufs.get("src", count * itemSize(job.srcDtype));
    const t0 = performance.now();
    await job.fill(raw);
    const t1 = performance.now();
    const nonFinite = countNonFinite(raw, job.srcDtype, count);
    const outBuf = this.#bufs.get("out", align16(job.outBytes) + job.scaleBytes);
    const out = outBuf.subarray(0, job.outBytes);
    const scales = outBuf.subarray(align16(job.outBytes), align16(job.outBytes) + job.scaleBytes);
    if (job.kind === "cast") await this.#b.cast(raw, job.srcDtype, out, job.modelDtype, count);
    else await this.#quantize(job, raw, outBuf);
    this.#t.readMs += t1 - t0;
    this.#t.computeMs += performance.now() - t1;
    return { out, scales, nonFinite };
  }
  async #quantize(job: ChunkJob, raw: Uint8Array, outBuf: Uint8Array): Promise<void> {
    const md = job.modelDtype, count = job.rows * job.k;
    const at = outBuf.byteOffset + align16(job.outBytes);
    const words = new Uint32Array(outBuf.buffer, outBuf.byteOffset, job.outBytes / 4);
    const scales = md === "float32"
      ? new Float32Array(outBuf.buffer, at, job.scaleBytes / 4)
      : new Uint16Array(outBuf.buffer, at, job.scaleBytes / 2);
    const q = { rows: job.rows, k: job.k, words, scales, bits: job.bits, groupSize: job.groupSize };
    const params = { ...q, modelDtype: md, tie: job.tie, outputTranspose: job.outputTranspose };
    if (this.#b.castGroupQuantize) return await this.#b.castGroupQuantize(raw, job.srcDtype, params);
    const mdBuf = this.#bufs.get("md", count * itemSize(md));
    await this.#b.cast(raw, job.srcDtype, mdBuf, md, count);
    const input = md === "float32"
      ? new Float32Array(mdBuf.buffer, mdBuf.byteOffset, count)
      : new Uint16Array(mdBuf.buffer, mdBuf.byteOffset, count);
    await this.#b.groupQuantize({ ...params, input });
  }
  /** Nothing to release. */
  close(): void {}
}

/**
 * The WASM kernels on this thread: the kernel job runner, source rows read straight into
 * linear memory (part by part with direct reads).
 */
export class LocalWasmExecutor implements Executor {
  readonly slots = 1;
  readonly threads = 1;
  readonly directReads = true;
  readonly #k: WasmKernels;
  readonly #files = new Map<string, Deno.FsFile>();
  readonly #t: Timing;
  readonly #partBytes: number;
  /** Runs jobs with `kernels`, reading `partBytes` of source at a time with direct reads. */
  constructor(kernels: WasmKernels, partBytes: number, t: Timing) {
    this.#k = kernels;
    this.#partBytes = partBytes;
    this.#t = t;
  }
  /** Runs a job. */
  async run(job: ChunkJob): Promise<ChunkOut> {
    const k = this.#k;
    const kj = kernelJobOf(job, job.reads ? partRowsOf(job, this.#partBytes) : job.rows);
    const base = k.reserve(kernelJobBytes(kj));
    const { input } = kernelJobLayout(base, kj);
    const rowBytes = job.k * kj.srcSize;
    const t0 = performance.now();
    if (!job.reads) await job.fill(new Uint8Array(k.exports.memory.buffer, input, job.rows * rowBytes));
    const t1 = performance.now();
    const reads = job.reads;
    let directMs = 0;
    const r = runKernelJob(k.exports, base, kj, (row0, rows, at) => {
      if (!reads) return;
      const t2 = performance.now();
      readRanges(
        this.#files,
        reads,
        row0 * rowBytes,
        new Uint8Array(k.exports.memory.buffer, at, rows * rowBytes),
      );
      directMs += performance.now() - t2;
    });
    this.#t.readMs += t1 - t0 + directMs;
    this.#t.computeMs += performance.now() - t1 - directMs;
    const mem = k.exports.memory.buffer;
    return {
      out: new Uint8Array(mem, r.words, job.outBytes),
      scales: new Uint8Array(mem, r.scales, job.scaleBytes),
      nonFinite: r.nonFinite,
    };
  }
  /** Closes the files it read. */
  close(): void {
    closeFiles(this.#files);
  }
}

/**
 * Kernel workers of a {@link QuantWorkerPool} on a {@link PipelineMemory} that also holds the
 * writer's shard buffers; each slot: input region, then output region (for outputs not placed
 * in a shard buffer).
 */
export class WorkerExecutor implements Executor {
  readonly slots: number;
  readonly threads: number;
  readonly directReads = true;
  readonly memory: PipelineMemory;
  readonly md5: Md5Service;
  readonly #pool: QuantWorkerPool;
  readonly #inBytes: number;
  readonly #partBytes: number;
  readonly #t: Timing;
  /** Starts `threads` kernel workers with buffers for chunks within `bounds`. */
  constructor(threads: number, bounds: ChunkBounds, partBytes: number, t: Timing) {
    this.#inBytes = align16(bounds.input);
    this.#partBytes = partBytes;
    this.memory = new PipelineMemory({
      workers: threads,
      // a job's scratch row, input and output (see runKernelJob)
      workBytes: align16(bounds.row) + this.#inBytes + align16(bounds.output),
      shardBuffers: WORKER_SHARD_BUFFERS,
      shardBytes: SHARD_CAP,
    });
    this.#pool = new QuantWorkerPool(this.memory, {
      slotsPerWorker: SLOTS_PER_WORKER,
      slotBytes: this.#inBytes + bounds.output,
    });
    this.md5 = this.#pool.md5;
    this.slots = this.#pool.slots.length;
    this.threads = threads;
    this.#t = t;
  }
  /** Runs a job on the least loaded worker. */
  async run(job: ChunkJob, slot: number): Promise<ChunkOut> {
    const sab = this.#pool.slots[slot];
    if (!job.reads) {
      const t0 = performance.now();
      await job.fill(new Uint8Array(sab, 0, job.rows * job.k * itemSize(job.srcDtype)));
      this.#t.readMs += performance.now() - t0;
    }
    const kj = kernelJobOf(job, job.reads ? partRowsOf(job, this.#partBytes) : job.rows);
    if (job.dest) kj.wordsAt = this.memory.offsetOf(job.dest);
    if (job.scaleDest) kj.scalesAt = this.memory.offsetOf(job.scaleDest);
    const t = await this.#pool.run({ type: "job", slot, job: kj, reads: job.reads, outAt: this.#inBytes });
    this.#t.readMs += t.readMs;
    this.#t.computeMs += t.computeMs;
    return {
      out: new Uint8Array(sab, this.#inBytes, job.outBytes),
      scales: new Uint8Array(sab, this.#inBytes + align16(job.outBytes), job.scaleBytes),
      nonFinite: t.nonFinite,
    };
  }
  /** Stops the workers. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}

/**
 * The executors, in order of preference: kernel workers for the WASM kernels with more than
 * one thread, the WASM kernels on this thread, any backend on this thread.
 */
export const EXECUTORS: readonly ExecutorKind[] = [
  {
    name: "kernel workers",
    accepts: (backend, threads) => backend.kernels !== undefined && threads > 1,
    create: (c) => new WorkerExecutor(c.threads, c.bounds, partBytesOf(c.chunkBytes), c.timing),
  },
  {
    name: "kernels on this thread",
    accepts: (backend) => backend.kernels !== undefined,
    create: (c) => new LocalWasmExecutor(c.backend.kernels!, partBytesOf(c.chunkBytes), c.timing),
  },
  {
    name: "backend on this thread",
    accepts: () => true,
    create: (c) => new BackendExecutor(c.backend, c.timing),
  },
];

/**
 * The first executor of {@link EXECUTORS} that accepts the context's backend and threads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReferenceBackend } from "@mlc-deno/convert";
 * import { createExecutor } from "./executors.ts";
 * const exec = createExecutor({ backend: new ReferenceBackend(), threads: 4, chunkBytes: 1 << 20,
 *   bounds: { input: 0, output: 0, row: 0 }, timing: { readMs: 0, computeMs: 0 } });
 * assert.deepEqual([exec.slots, exec.threads, exec.directReads], [1, 1, false]);
 * ```
 */
export function createExecutor(ctx: ExecutorContext): Executor {
  const kind = EXECUTORS.find((e) => e.accepts(ctx.backend, ctx.threads))!;
  return kind.create(ctx);
}
