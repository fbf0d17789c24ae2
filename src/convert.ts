/**
 * The streaming conversion pipeline: source reader -> architecture mapping -> quantizer
 * (backend) -> cache writer. Big tensors go in row chunks through buffers allocated once, so
 * peak memory does not grow with model size.
 *
 * With the `cpu` backend and `threads > 1`, chunks are cast and quantized by a pool of kernel
 * workers (fused WASM kernel; source rows read by the workers straight into their memory when
 * the checkpoint is on the local file system), each chunk on the least loaded worker, several
 * in flight. The workers' kernel instances share one memory, which also holds the shard
 * buffers: the kernel writes each output straight into its place in the shard (regions the
 * writer reserves, a region per output and chunk; a shard is written once they are filled),
 * except for float32 outputs, KN layouts and tensors larger than a shard buffer, whose results
 * this thread applies in order. Committed shards are hashed four at a time by the same workers
 * between chunks, where they lie (multi-buffer md5 kernel), the last one while it fills, and
 * written while the next shard fills (direct I/O from an I/O worker with `denoOutput`). With
 * one thread all compute runs here, still through the fused kernel for `cpu` (and the
 * multi-buffer md5).
 *
 * @module
 */
import { rowLayout, rowSourceFor } from "./_param_rows.ts";
import { TensorCacheWriter, type TensorSink } from "./cache_writer.ts";
import type { TensorCache } from "./cache_json.ts";
import { SHARD_CAP } from "./shard_layout.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { type DType, type FloatDType, itemSize } from "./dtype.ts";
import type { OutputStore } from "./io/types.ts";
import type { ConversionPlan } from "./plan.ts";
import { kernelTieFlags, type QuantBackend, type TieRounding } from "./quant/backend.ts";
import { DTYPE_CODE, WasmBackend, type WasmKernels } from "./kernels/wasm.ts";
import {
  BatchMd5,
  MD5_LANES,
  Md5WorkerPool,
  QuantWorkerPool,
  WORKER_SHARD_BUFFERS,
} from "./pipeline/pool.ts";
import { groupConstants } from "./quant/schemes.ts";
import { countNonFinite, NonFiniteError, type NonFiniteTensor } from "./quant/nonfinite.ts";

/** Progress after each parameter. */
export interface ConvertProgress {
  /** Parameters done. */
  done: number;
  /** Parameters in total. */
  total: number;
  /** Name of the parameter just finished. */
  name: string;
  /** Source bytes read so far. */
  bytesRead: number;
  /** Source bytes in total. */
  bytesTotal: number;
  /** Seconds since the start. */
  seconds: number;
}

/** Options of {@link convertWeight}. */
export interface ConvertOptions {
  /** The plan (must have no problems). */
  plan: ConversionPlan;
  /** The checkpoint the plan was made from. */
  checkpoint: Checkpoint;
  /** Compute backend. */
  backend: QuantBackend;
  /** Where shards and cache JSON go. */
  output: OutputStore;
  /** Tie rule for `round` (default `even`). */
  tie?: TieRounding;
  /** Source bytes per chunk (default 8 MiB). */
  chunkBytes?: number;
  /**
   * Threads (default 1): with more than one, md5 of shards runs in workers, and with the
   * `cpu` backend `threads` workers cast and quantize.
   */
  threads?: number;
  /**
   * The checkpoint's `SourceTensor.file` paths are local file-system paths that workers may
   * open themselves (true for `denoSource()` checkpoints; default false: this thread reads).
   */
  directReads?: boolean;
  /**
   * Convert tensors with NaN or infinite source values (default false: the conversion ends
   * with a {@link NonFiniteError} naming them, before the cache JSON is written; MLC LLM converts
   * them silently).
   */
  allowNonFinite?: boolean;
  /** Called after each parameter. */
  onProgress?: (p: ConvertProgress) => void;
}

/** Where the time went, in thread-seconds (work in workers overlaps). */
export interface ConvertStats {
  /** Threads used for quantization (1: this thread). */
  threads: number;
  /** Reading source data (into kernel memory or chunk buffers). */
  readSeconds: number;
  /** Cast and quantization (kernels, copies of their outputs). */
  quantizeSeconds: number;
  /** md5 of shards. */
  md5Seconds: number;
  /** Shard file writes. */
  writeSeconds: number;
  /** Waiting for a free shard buffer (wall seconds this thread stood still for md5 and writes). */
  waitSeconds: number;
  /** Parameters whose outputs the kernel workers wrote in place, into the shard buffers. */
  paramsInPlace: number;
}

/** Result of a conversion. */
export interface ConvertResult {
  /** The cache JSON content. */
  cache: TensorCache;
  /** Source bytes read. */
  bytesRead: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Time shares. */
  stats: ConvertStats;
  /** Tensors with NaN or infinite source values (converted: `allowNonFinite` was set). */
  nonFinite: NonFiniteTensor[];
}

/** Reusable growable byte buffers. */
class Buffers {
  #bufs = new Map<string, ArrayBuffer>();
  get(key: string, bytes: number): ArrayBuffer {
    let b = this.#bufs.get(key);
    if (!b || b.byteLength < bytes) {
      b = new ArrayBuffer(Math.max(bytes, b ? Math.min(b.byteLength * 2, bytes * 2) : bytes));
      this.#bufs.set(key, b);
    }
    return b;
  }
}

function transpose(src: Uint8Array, rows: number, cols: number, elem: number, dst: Uint8Array): void {
  if (elem === 4) {
    const s = new Uint32Array(src.buffer, src.byteOffset, rows * cols);
    const d = new Uint32Array(dst.buffer, dst.byteOffset, rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) d[c * rows + r] = s[r * cols + c];
  } else {
    const s = new Uint16Array(src.buffer, src.byteOffset, rows * cols);
    const d = new Uint16Array(dst.buffer, dst.byteOffset, rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) d[c * rows + r] = s[r * cols + c];
  }
}

/** One chunk of rows of one parameter: cast only, or cast and quantize. */
interface ChunkJob {
  kind: "quant" | "cast";
  srcDtype: FloatDType;
  modelDtype: FloatDType;
  rows: number;
  k: number;
  bits: 3 | 4;
  groupSize: number;
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
  /** Direct file reads, when workers may read the source themselves. */
  reads?: [string, number, number][];
  /** Where the words (or cast elements) go in place: the kernel workers' memory (only theirs). */
  dest?: Uint8Array;
  /** Where the scales go in place (the kernel workers' memory). */
  scaleDest?: Uint8Array;
}

/** A chunk's outputs; views valid until its slot is released. */
interface ChunkOut {
  out: Uint8Array;
  scales: Uint8Array;
  /** NaN and infinite values among the chunk's source elements. */
  nonFinite: number;
}

/** Runs chunk jobs into slots; at most `slots` jobs are unreleased at a time. */
interface Executor {
  readonly slots: number;
  run(job: ChunkJob, slot: number): Promise<ChunkOut>;
  close(): void | Promise<void>;
}

interface Timing {
  readMs: number;
  computeMs: number;
}

const align16 = (n: number): number => (n + 15) & ~15;
const FLOAT: ReadonlySet<DType> = new Set(["float16", "bfloat16", "float32"]);

/** Any backend, on this thread: cast, then quantize (or its fused method when it has one). */
class BackendExecutor implements Executor {
  readonly slots = 1;
  readonly #b: QuantBackend;
  readonly #t: Timing;
  #src = new ArrayBuffer(0);
  #md = new ArrayBuffer(0);
  #out = new ArrayBuffer(0);
  constructor(backend: QuantBackend, t: Timing) {
    this.#b = backend;
    this.#t = t;
  }
  #buf(which: "src" | "md" | "out", bytes: number): ArrayBuffer {
    const key = `#${which}` as const;
    const cur = which === "src" ? this.#src : which === "md" ? this.#md : this.#out;
    if (cur.byteLength >= bytes) return cur;
    const b = new ArrayBuffer(Math.max(bytes, Math.min(cur.byteLength * 2, bytes * 2)));
    if (key === "#src") this.#src = b;
    else if (key === "#md") this.#md = b;
    else this.#out = b;
    return b;
  }
  async run(job: ChunkJob): Promise<ChunkOut> {
    const count = job.rows * job.k;
    const raw = new Uint8Array(
      this.#buf("src", count * itemSize(job.srcDtype)),
      0,
      count * itemSize(job.srcDtype),
    );
    const t0 = performance.now();
    await job.fill(raw);
    const t1 = performance.now();
    const nonFinite = countNonFinite(raw, job.srcDtype, count);
    const outBuf = this.#buf("out", align16(job.outBytes) + job.scaleBytes);
    const out = new Uint8Array(outBuf, 0, job.outBytes);
    const scales = new Uint8Array(outBuf, align16(job.outBytes), job.scaleBytes);
    const md = job.modelDtype;
    if (job.kind === "cast") {
      await this.#b.cast(raw, job.srcDtype, out, md, count);
    } else {
      const words = new Uint32Array(outBuf, 0, job.outBytes / 4);
      const sc = md === "float32"
        ? new Float32Array(outBuf, align16(job.outBytes), job.scaleBytes / 4)
        : new Uint16Array(outBuf, align16(job.outBytes), job.scaleBytes / 2);
      const q = { rows: job.rows, k: job.k, words, scales: sc, bits: job.bits, groupSize: job.groupSize };
      const params = { ...q, modelDtype: md, tie: job.tie, outputTranspose: job.outputTranspose };
      if (this.#b.castGroupQuantize) {
        await this.#b.castGroupQuantize(raw, job.srcDtype, params);
      } else {
        const mdBytes = count * itemSize(md);
        const mdBuf = this.#buf("md", mdBytes);
        await this.#b.cast(raw, job.srcDtype, new Uint8Array(mdBuf, 0, mdBytes), md, count);
        const input = md === "float32" ? new Float32Array(mdBuf, 0, count) : new Uint16Array(mdBuf, 0, count);
        await this.#b.groupQuantize({ ...params, input });
      }
    }
    this.#t.readMs += t1 - t0;
    this.#t.computeMs += performance.now() - t1;
    return { out, scales, nonFinite };
  }
  close(): void {}
}

/** The WASM kernels on this thread: source read straight into linear memory, fused kernel. */
class LocalWasmExecutor implements Executor {
  readonly slots = 1;
  readonly #k: WasmKernels;
  readonly #files = new Map<string, Deno.FsFile>();
  readonly #t: Timing;
  constructor(k: WasmKernels, t: Timing) {
    this.#k = k;
    this.#t = t;
  }
  async run(job: ChunkJob): Promise<ChunkOut> {
    const k = this.#k;
    const inBytes = job.rows * job.k * itemSize(job.srcDtype);
    const scratch = align16(job.k * 4);
    const base = k.reserve(scratch + align16(inBytes) + align16(job.outBytes) + job.scaleBytes);
    const pIn = base + scratch, pOut = pIn + align16(inBytes), pS = pOut + align16(job.outBytes);
    const t0 = performance.now();
    if (job.reads) {
      let at = pIn;
      for (const [path, offset, length] of job.reads) {
        readSyncAt(this.#files, path, offset, new Uint8Array(k.exports.memory.buffer, at, length));
        at += length;
      }
    } else {
      await job.fill(new Uint8Array(k.exports.memory.buffer, pIn, inBytes));
    }
    const t1 = performance.now();
    const sdt = DTYPE_CODE[job.srcDtype], mdt = DTYPE_CODE[job.modelDtype];
    const rc = job.kind === "quant"
      ? k.exports.cast_group_quantize(
        pIn,
        sdt,
        job.rows,
        job.k,
        base,
        pOut,
        pS,
        job.bits,
        job.groupSize,
        mdt,
        kernelTieFlags(job),
      )
      : k.exports.cast(pIn, sdt, pOut, mdt, job.rows * job.k);
    if (rc < 0) {
      throw new Error(`kernel rejected a ${job.kind} job (bits ${job.bits}, group ${job.groupSize})`);
    }
    // the quantizer reports groups holding NaN/Inf (0 proves the source finite): count only then
    const nonFinite = job.kind === "quant" && rc === 0
      ? 0
      : k.exports.count_nonfinite(pIn, sdt, job.rows * job.k, 1);
    this.#t.readMs += t1 - t0;
    this.#t.computeMs += performance.now() - t1;
    const mem = k.exports.memory.buffer;
    return {
      out: new Uint8Array(mem, pOut, job.outBytes),
      scales: new Uint8Array(mem, pS, job.scaleBytes),
      nonFinite,
    };
  }
  close(): void {
    for (const f of this.#files.values()) f.close();
    this.#files.clear();
  }
}

/**
 * Workers of a {@link QuantWorkerPool}; each slot: input region, then output region. The
 * pool's memory also holds the writer's shard buffers.
 */
class WorkerExecutor implements Executor {
  readonly slots: number;
  readonly #pool: QuantWorkerPool;
  readonly #inBytes: number;
  readonly #partBytes: number;
  readonly #t: Timing;
  constructor(
    threads: number,
    inBytes: number,
    outBytes: number,
    rowBytes: number,
    partBytes: number,
    t: Timing,
  ) {
    this.#inBytes = align16(inBytes);
    this.#partBytes = partBytes;
    this.#pool = new QuantWorkerPool({
      threads,
      slotsPerWorker: 3,
      slotBytes: this.#inBytes + outBytes,
      // a job's scratch row, input and output (see quantWorkerMain)
      workBytes: align16(rowBytes) + this.#inBytes + align16(outBytes),
      shardBuffers: WORKER_SHARD_BUFFERS,
      shardBytes: SHARD_CAP,
    });
    this.slots = this.#pool.slots.length;
    this.#t = t;
  }

  /** The workers, which also hash shards. */
  get pool(): QuantWorkerPool {
    return this.#pool;
  }
  async run(job: ChunkJob, slot: number): Promise<ChunkOut> {
    const inBytes = job.rows * job.k * itemSize(job.srcDtype);
    const sab = this.#pool.slots[slot];
    if (!job.reads) {
      const t0 = performance.now();
      await job.fill(new Uint8Array(sab, 0, inBytes));
      this.#t.readMs += performance.now() - t0;
    }
    const scalesAt = align16(job.outBytes);
    const t = await this.#pool.run({
      slot,
      kind: job.kind,
      srcDtype: DTYPE_CODE[job.srcDtype],
      srcSize: itemSize(job.srcDtype),
      modelDtype: DTYPE_CODE[job.modelDtype],
      rows: job.rows,
      k: job.k,
      bits: job.bits,
      groupSize: job.groupSize,
      tie: kernelTieFlags(job),
      outBytes: scalesAt + job.scaleBytes,
      scalesAt,
      outAt: this.#inBytes,
      reads: job.reads,
      partBytes: this.#partBytes,
      outRowBytes: job.outBytes / job.rows,
      scaleRowBytes: job.scaleBytes / job.rows,
      destAt: job.dest && this.#pool.offsetOf(job.dest),
      scaleDestAt: job.scaleDest && this.#pool.offsetOf(job.scaleDest),
    });
    this.#t.readMs += t.readMs;
    this.#t.computeMs += t.computeMs;
    return {
      out: new Uint8Array(sab, this.#inBytes, job.outBytes),
      scales: new Uint8Array(sab, this.#inBytes + scalesAt, job.scaleBytes),
      nonFinite: t.nonFinite,
    };
  }
  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** Positional read into `into` with a cached synchronous handle (direct reads on this thread). */
function readSyncAt(files: Map<string, Deno.FsFile>, path: string, offset: number, into: Uint8Array): void {
  let f = files.get(path);
  if (!f) files.set(path, f = Deno.openSync(path, { read: true }));
  f.seekSync(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < into.length) {
    const n = f.readSync(into.subarray(done));
    if (n === null || n === 0) throw new Error(`${path}: unexpected end of file at ${offset + done}`);
    done += n;
  }
}

/** Rows per chunk of a parameter. */
function chunkRowsOf(rowElems: number, srcItem: number, chunkBytes: number): number {
  return Math.max(1, Math.floor(chunkBytes / (rowElems * srcItem)));
}

/**
 * Runs the conversion described by `plan`, writing the tensor cache to `output`.
 *
 * @example
 * ```ts ignore
 * import { convertWeight } from "./convert.ts";
 * const result = await convertWeight({ plan, checkpoint, backend, output, threads: 2 });
 * console.log(result.cache.metadata, result.stats);
 * ```
 */
export async function convertWeight(opts: ConvertOptions): Promise<ConvertResult> {
  const { plan, backend, output } = opts;
  if (plan.problems.length) throw new Error(`cannot convert:\n${plan.problems.join("\n")}`);
  const tie = opts.tie ?? "even";
  const threads = Math.max(1, Math.floor(opts.threads ?? 1));
  const useWorkers = threads > 1 && backend instanceof WasmBackend;
  const chunkBytes = opts.chunkBytes ?? 8 << 20;
  const scheme = plan.scheme;
  const timing: Timing = { readMs: 0, computeMs: 0 };
  // reads of this thread (chunk fills may overlap) go one at a time: handles seek, then read
  let readChain: Promise<unknown> = Promise.resolve();
  const checkpoint: Pick<Checkpoint, "read"> = {
    read: (name, start, into) => {
      const r = readChain.then(() => opts.checkpoint.read(name, start, into));
      readChain = r.catch(() => {});
      return r;
    },
  };

  // slot sizes: the largest chunk input and output over all parameters (and the longest row)
  let maxIn = 0, maxOut = 0, maxRow = 0;
  for (const pp of plan.params) {
    const { rows, rowElems } = rowLayout(pp.shape);
    // rows per chunk are largest for 2-byte sources; buffers hold them at 4 bytes an element
    const n = Math.min(rows, chunkRowsOf(rowElems, 2, chunkBytes));
    maxIn = Math.max(maxIn, n * rowElems * 4);
    maxOut = Math.max(maxOut, align16(n * rowElems * 4) + n * rowElems * 4);
    maxRow = Math.max(maxRow, rowElems * 4);
  }
  let exec: Executor;
  // a worker reads and quantizes a chunk in parts (512 KiB, or an eighth of a small chunk),
  // each still in the core's cache when the kernel takes it
  const partBytes = Math.max(1, Math.min(512 << 10, Math.floor(chunkBytes / 8)));
  if (useWorkers) exec = new WorkerExecutor(threads, maxIn, maxOut, maxRow, partBytes, timing);
  else if (backend instanceof WasmBackend) exec = new LocalWasmExecutor(backend.kernels, timing);
  else exec = new BackendExecutor(backend, timing);
  // committed shards are hashed MD5_LANES at a time (multi-buffer md5): by the kernel workers
  // between chunk jobs, in an md5 worker, or here; a batch is hashed while the next shard fills
  const md5Pool = !useWorkers && threads > 1 ? new Md5WorkerPool(1) : undefined;
  const hasher = new BatchMd5(exec instanceof WorkerExecutor ? exec.pool.md5 : md5Pool?.md5);
  const writer = new TensorCacheWriter(output, SHARD_CAP, {
    hasher,
    // (on one thread or an md5 worker: a batch being hashed, one filling)
    buffers: exec instanceof WorkerExecutor ? WORKER_SHARD_BUFFERS : MD5_LANES + 1,
    shardBuffers: exec instanceof WorkerExecutor ? exec.pool.shardBuffers : undefined,
    layout: plan.layout,
  });

  // (a message round trip is a cheap macrotask; setTimeout(0) takes milliseconds)
  const channel = new MessageChannel();
  const yieldToEventLoop = () =>
    new Promise<void>((resolve) => {
      channel.port1.onmessage = () => resolve();
      channel.port2.postMessage(0);
    });
  const bufs = new Buffers();
  const t0 = performance.now();
  let bytesRead = 0;
  let done = 0;
  let outputPrepared = false;
  // results are applied in submission order; a slot is free again once its result is applied
  // (jobs without an apply free their slot when done, in any order: see `submit`)
  const fifo: { ready: Promise<ChunkOut | undefined>; apply: (o: ChunkOut | undefined) => Promise<void> }[] =
    [];
  const free: number[] = Array.from({ length: exec.slots }, (_, i) => i);
  const unordered = new Set<Promise<unknown>>();
  let slotFreed: (() => void) | undefined;
  let unorderedError: unknown;
  const drainOne = async () => {
    const e = fifo.shift()!;
    await e.apply(await e.ready);
  };
  const ordered = (apply: () => Promise<void>) => {
    fifo.push({ ready: Promise.resolve(undefined), apply: () => apply() });
  };
  /**
   * Runs `job` in a free slot (waiting for one). Its result goes to `apply`, in submission
   * order; without `apply` (outputs written in place), the slot is free again as soon as the
   * job is done, so that a job held up behind md5 in one worker does not stop the other
   * worker's slots from being refilled.
   */
  const submit = async (
    job: ChunkJob,
    apply?: (o: ChunkOut) => Promise<void> | void,
  ): Promise<{ ready: Promise<unknown> }> => {
    while (!free.length) {
      // every slot has a job: a good moment to start the output's writer thread (starting a
      // worker blocks this thread, which now only waits)
      if (!outputPrepared) {
        outputPrepared = true;
        output.prepare?.();
      }
      if (fifo.length) await drainOne();
      else await new Promise<void>((resolve) => slotFreed = resolve);
    }
    if (unorderedError) throw unorderedError; // (stop at the first failed job)
    // a busy thread never returns to the event loop by itself: let background shard writes
    // (their open, write and close steps) progress between chunks
    if (exec.slots === 1 && writer.writing) await yieldToEventLoop();
    const slot = free.shift()!;
    const ready = exec.run(job, slot);
    ready.then(
      (o) => o.nonFinite && nonFinite.set(job.param, (nonFinite.get(job.param) ?? 0) + o.nonFinite),
      () => {},
    );
    ready.catch(() => {}); // observed when drained
    if (!apply) {
      // (a failure is observed by the caller through `ready`)
      unordered.add(ready);
      const release = () => {
        unordered.delete(ready);
        free.push(slot);
        slotFreed?.();
        slotFreed = undefined;
      };
      ready.then(release, (e) => {
        unorderedError ??= e;
        release();
      });
      return { ready };
    }
    fifo.push({
      ready,
      apply: async (o) => {
        await apply(o!);
        free.push(slot);
      },
    });
    return { ready }; // (not the promise itself: awaiting submit must not wait for the job)
  };
  // whether writer calls wait in the FIFO (parameters not converted in place)
  let writerQueued = false;
  let paramsInPlace = 0;
  // NaN and infinite source values per parameter (the executors count them in each chunk)
  const nonFinite = new Map<string, number>();

  try {
    for (const pp of plan.params) {
      const src = await rowSourceFor(
        pp,
        checkpoint,
        opts.directReads === true && !(exec instanceof BackendExecutor),
      );
      if (!FLOAT.has(src.dtype)) throw new Error(`Parameter ${pp.param.name}: cannot convert ${src.dtype}`);
      const srcDtype = src.dtype as FloatDType;
      const srcItem = itemSize(srcDtype);
      const md = pp.dtype as FloatDType;
      const mdItem = itemSize(md);
      const chunkRows = chunkRowsOf(src.rowElems, srcItem, chunkBytes);
      const k = src.rowElems;
      const gs = scheme.kind === "group-quant" ? scheme : undefined;
      if (pp.quant && !gs) throw new Error("unreachable: quantized param without group scheme");
      const groups = gs ? Math.ceil(k / gs.groupSize) : 0;
      const wpr = gs ? groups * groupConstants(gs).wordsPerGroup : 0;
      // the job for rows [r, r + n): cast and quantize, or cast only
      const jobFor = (r: number, n: number): ChunkJob => ({
        srcDtype,
        modelDtype: md,
        k,
        tie,
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
            outBytes: n * wpr * 4,
            scaleBytes: n * groups * mdItem,
          }
          : { kind: "cast", bits: 4, groupSize: 32, outBytes: n * k * mdItem, scaleBytes: 0 }),
      });
      // in place: the outputs' regions are reserved in the shard buffers at once and the kernel
      // workers fill them; the writer writes and hashes a shard once its regions are filled
      const inPlace = exec instanceof WorkerExecutor && pp.quant !== "KN" &&
        pp.outputs.every((o) => writer.reservable(o.shape, o.dtype));
      if (inPlace) {
        paramsInPlace++;
        if (writerQueued) { // (writer calls of earlier parameters come first)
          while (fifo.length) await drainOne();
          writerQueued = false;
        }
        // a region per output and chunk, filled by the chunk's job (the writer learns which
        // parts of a shard are ready chunk by chunk)
        const chunks: { job: ChunkJob; ok: () => void; fail: (e: unknown) => void; filled: Promise<void> }[] =
          [];
        for (let r = 0; r < src.rows; r += chunkRows) {
          let ok!: () => void, fail!: (e: unknown) => void;
          const filled = new Promise<void>((resolve, reject) => [ok, fail] = [resolve, reject]);
          chunks.push({ job: jobFor(r, Math.min(chunkRows, src.rows - r)), ok, fail, filled });
        }
        for (const [i, o] of pp.outputs.entries()) {
          const sink = await writer.begin(o.name, o.shape, o.dtype);
          for (const c of chunks) {
            const view = sink.reserve!(i === 0 ? c.job.outBytes : c.job.scaleBytes, c.filled);
            if (i === 0) c.job.dest = view;
            else c.job.scaleDest = view;
          }
          await sink.end();
        }
        for (const c of chunks) (await submit(c.job)).ready.then(c.ok, c.fail);
      } else if (!pp.quant) {
        writerQueued = true;
        const [out] = pp.outputs;
        let sink: TensorSink;
        ordered(async () => void (sink = await writer.begin(out.name, out.shape, out.dtype)));
        for (let r = 0; r < src.rows; r += chunkRows) {
          const n = Math.min(chunkRows, src.rows - r);
          await submit(jobFor(r, n), (o) => sink.write(o.out));
        }
        ordered(() => sink.end());
      } else {
        writerQueued = true;
        const [qw, qs] = pp.outputs;
        const kn = pp.quant === "KN";
        const rows = src.rows;
        let sink: TensorSink | undefined;
        let scaleAll: Uint8Array, wordsAll: Uint8Array | undefined;
        ordered(async () => {
          // (buffers of the previous parameter are no longer in use: applies run in order)
          scaleAll = new Uint8Array(bufs.get("scales", rows * groups * mdItem), 0, rows * groups * mdItem);
          wordsAll = kn ? new Uint8Array(bufs.get("wordsAll", rows * wpr * 4), 0, rows * wpr * 4) : undefined;
          sink = kn ? undefined : await writer.begin(qw.name, qw.shape, qw.dtype);
        });
        for (let r = 0; r < rows; r += chunkRows) {
          const n = Math.min(chunkRows, rows - r);
          await submit(jobFor(r, n), async (o) => {
            scaleAll.set(o.scales, r * groups * mdItem);
            if (wordsAll) wordsAll.set(o.out, r * wpr * 4);
            else await sink!.write(o.out);
          });
        }
        ordered(async () => {
          if (sink) await sink.end();
          if (wordsAll) {
            const tw = new Uint8Array(bufs.get("transpose", wordsAll.length), 0, wordsAll.length);
            transpose(wordsAll, rows, wpr, 4, tw);
            await writer.add(qw.name, qw.shape, qw.dtype, tw);
            const ts = new Uint8Array(bufs.get("transpose", scaleAll.length), 0, scaleAll.length);
            transpose(scaleAll, rows, groups, mdItem, ts);
            await writer.add(qs.name, qs.shape, qs.dtype, ts);
          } else {
            await writer.add(qs.name, qs.shape, qs.dtype, scaleAll);
          }
        });
      }
      const name = pp.param.name;
      const nbytes = pp.sources.reduce((a, s) => a + s.nbytes, 0);
      ordered(() => {
        bytesRead += nbytes;
        done++;
        opts.onProgress?.({
          done,
          total: plan.params.length,
          name,
          bytesRead,
          bytesTotal: plan.sourceBytes,
          seconds: (performance.now() - t0) / 1000,
        });
        return Promise.resolve();
      });
    }
    while (fifo.length) await drainOne();
    await Promise.all(unordered);
    const nonFiniteTensors = plan.params.filter((pp) => nonFinite.has(pp.param.name))
      .map((pp) => ({ name: pp.param.name, count: nonFinite.get(pp.param.name)! }));
    if (nonFiniteTensors.length && !opts.allowNonFinite) throw new NonFiniteError(nonFiniteTensors);
    const cache = await writer.finish(plan.totalParamNum);
    const ws = writer.stats;
    return {
      cache,
      bytesRead,
      nonFinite: nonFiniteTensors,
      seconds: (performance.now() - t0) / 1000,
      stats: {
        threads: useWorkers ? threads : 1,
        readSeconds: timing.readMs / 1000,
        quantizeSeconds: timing.computeMs / 1000,
        md5Seconds: (ws.md5Ms + hasher.ms) / 1000,
        writeSeconds: ws.writeMs / 1000,
        waitSeconds: ws.waitMs / 1000,
        paramsInPlace,
      },
    };
  } finally {
    // settle what is still in flight (after an error) before stopping the workers
    await Promise.allSettled([...fifo.map((e) => e.ready), ...unordered]);
    await exec.close();
    await md5Pool?.close();
    channel.port1.close();
    channel.port2.close();
  }
}
