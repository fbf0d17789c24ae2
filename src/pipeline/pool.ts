/**
 * Worker pools of the parallel pipeline: kernel workers (each with its own instance of the
 * kernels module, all on one shared memory that also holds the shard buffers) that quantize
 * into the shard buffers (or shared slot buffers) and hash finished shards (several at once,
 * multi-buffer md5, where they lie) between chunk jobs, each job going to the least loaded
 * worker; and plain md5 workers for backends without kernel workers.
 * {@link BatchMd5} collects committed shards into multi-buffer batches.
 *
 * @module
 */
import type { ShardHasher, ShardStreamHasher } from "../cache_writer.ts";
import { md5Digest, md5Drive, md5InPlace, md5Streams, md5StreamState, md5Update } from "../kernels/_md5.ts";
import { kernelsMemory, kernelsMinPages, kernelsModule, WasmKernels } from "../kernels/wasm.ts";
import { md5Message, md5WorkerMain, quantWorkerMain, shutDown, startWorker } from "./_workers.ts";

/** A chunk job as a worker receives it (dtype codes of the kernels' ABI). */
export interface WorkerJob {
  /** Job id (answers carry it back). */
  id: number;
  /** Slot whose buffer receives the output (and holds the input when `reads` is absent). */
  slot: number;
  /** Fused cast + quantize, or cast only. */
  kind: "quant" | "cast";
  /** Source dtype code. */
  srcDtype: number;
  /** Bytes per source element. */
  srcSize: number;
  /** Model dtype code. */
  modelDtype: number;
  /** Rows and elements per row. */
  rows: number;
  /** Elements per row. */
  k: number;
  /** Quantization bits. */
  bits: number;
  /** Group size. */
  groupSize: number;
  /** 0 ties-to-even, 1 ties-away. */
  tie: number;
  /** Output bytes (words then scales at `scalesAt`, or the cast elements). */
  outBytes: number;
  /** Offset of the scales in the output. */
  scalesAt: number;
  /** Offset of the output in the slot buffer. */
  outAt: number;
  /** Direct file reads `[path, offset, length]`, concatenated; absent: input is in the slot. */
  reads?: [string, number, number][];
  /** With `reads`: source bytes read and quantized at a time (whole rows, at least one). */
  partBytes?: number;
  /** Bytes of words (or cast elements) per row: where a part's outputs start. */
  outRowBytes: number;
  /** Bytes of scales per row. */
  scaleRowBytes: number;
  /**
   * Where the words (or cast elements) go instead of the slot: an offset in the pool's memory
   * (see {@link QuantWorkerPool.offsetOf}), written by the kernel directly.
   */
  destAt?: number;
  /** Where the scales go instead of the slot (an offset in the pool's memory). */
  scaleDestAt?: number;
}

/** A worker's part of the pool's memory: its stack, then its working bytes `[base, end)`. */
export interface WorkerRegion {
  /** Initial stack pointer (the stack grows down from here). */
  stackTop: number;
  /** First working byte (16-aligned). */
  base: number;
  /** End of the region. */
  end: number;
}

/** Messages to a quantization worker. */
export type WorkerMessage =
  | {
    type: "init";
    module: WebAssembly.Module;
    memory: WebAssembly.Memory;
    region: WorkerRegion;
    slots: SharedArrayBuffer[];
  }
  | { type: "job"; job: WorkerJob }
  | { type: "close" };

/** Per-job timings a worker reports. */
export interface JobTimes {
  /** Milliseconds reading (or copying in) the source. */
  readMs: number;
  /** Milliseconds in the kernel and copying out. */
  computeMs: number;
  /** NaN and infinite values among the job's source elements. */
  nonFinite: number;
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  worker: number;
  load: number;
}

/**
 * Workers answering `{ id, ... }` messages (or `{ id, error }`), with the outstanding work of
 * each (in estimated bytes) for choosing the least loaded one.
 */
class WorkerGroup {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  readonly #load: number[];
  #nextId = 0;
  #error: Error | undefined;
  /** Milliseconds of md5 reported by the workers. */
  md5Ms = 0;

  constructor(workers: Worker[], what: string) {
    this.#workers = workers;
    this.#load = workers.map(() => 0);
    for (const w of workers) {
      w.onmessage = (e: MessageEvent<{ id: number; error?: string; hex?: unknown; ms?: number }>) => {
        const p = this.#pending.get(e.data.id);
        if (!p) return;
        this.#pending.delete(e.data.id);
        this.#load[p.worker] -= p.load;
        if (e.data.error) {
          p.reject(new Error(`${what} worker: ${e.data.error}`));
          return;
        }
        if (typeof e.data.ms === "number") this.md5Ms += e.data.ms; // (md5 answers)
        p.resolve(e.data);
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(new Error(`${what} worker failed: ${e.message}`));
      };
    }
  }

  /** The worker with the least outstanding work. */
  leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.#load.length; i++) if (this.#load[i] < this.#load[best]) best = i;
    return best;
  }

  #fail(e: Error): void {
    this.#error ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** Posts `msg` (plus an id) to worker `worker`, counting `load` until it is answered. */
  post(worker: number, msg: Record<string, unknown>, load: number): Promise<Record<string, unknown>> {
    if (this.#error) return Promise.reject(this.#error);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker, load });
      this.#load[worker] += load;
      const m = msg.type === "job" ? { ...msg, job: { ...(msg.job as object), id } } : { ...msg, id };
      this.#workers[worker].postMessage(m);
    });
  }

  async close(): Promise<void> {
    this.#fail(new Error("pool closed"));
    await shutDown(this.#workers);
  }
}

// self-contained functions the md5 messages of a worker call (their sources are prepended)
const MD5_HELPERS = [md5Drive, md5Streams, md5InPlace, md5StreamState, md5Update, md5Digest, md5Message];

/**
 * What {@link BatchMd5} hashes with: multi-buffer md5 of views of shared memory, and long
 * streams piece by piece.
 */
export interface Md5Service {
  /** Lowercase hex md5 of each of `datas` (views of shared memory), hashed together. */
  hashMany(datas: readonly Uint8Array[]): Promise<string[]>;
  /** Hashes `data` (a view of shared memory) as the next piece of stream `stream`. */
  streamUpdate(stream: number, data: Uint8Array): Promise<void>;
  /** Lowercase hex md5 of all pieces of stream `stream` (which then ends). */
  streamDigest(stream: number): Promise<string>;
  /** Milliseconds spent hashing. */
  readonly ms: number;
}

/**
 * md5 messages to a worker group (both pools' {@link Md5Service}): each on the least loaded
 * worker, a stream on the worker of its first piece. Views of `memory` (the workers' own) go as
 * offsets and are hashed where they lie.
 */
class GroupMd5 implements Md5Service {
  readonly #group: WorkerGroup;
  readonly #memory: SharedArrayBuffer | undefined;
  readonly #streamWorker = new Map<number, number>();

  constructor(group: WorkerGroup, memory?: SharedArrayBuffer) {
    this.#group = group;
    this.#memory = memory;
  }

  get ms(): number {
    return this.#group.md5Ms;
  }

  // (a byte of single-stream md5 costs about three of four-lane md5 or of quantization input)
  async hashMany(datas: readonly Uint8Array[]): Promise<string[]> {
    const load = datas.reduce((a, d) => a + d.length, 0);
    const lengths = datas.map((d) => d.length), offsets = datas.map((d) => d.byteOffset);
    const msg = this.#memory && datas.every((d) => d.buffer === this.#memory)
      ? { type: "md5", offsets, lengths }
      : { type: "md5", bufs: datas.map((d) => d.buffer), offsets, lengths };
    return (await this.#group.post(this.#group.leastLoaded(), msg, load)).hex as string[];
  }

  async streamUpdate(stream: number, data: Uint8Array): Promise<void> {
    let w = this.#streamWorker.get(stream);
    if (w === undefined) this.#streamWorker.set(stream, w = this.#group.leastLoaded());
    const msg = { type: "update", stream, buf: data.buffer, offset: data.byteOffset, length: data.length };
    await this.#group.post(w, msg, 3 * data.length);
  }

  async streamDigest(stream: number): Promise<string> {
    const w = this.#streamWorker.get(stream) ?? 0;
    this.#streamWorker.delete(stream);
    return (await this.#group.post(w, { type: "digest", stream }, 0)).hex as string;
  }
}

/** Sizes of a {@link QuantWorkerPool}. */
export interface QuantPoolOptions {
  /** Worker threads. */
  threads: number;
  /** Slot buffers per worker (inputs filled on the caller's side, ordered outputs). */
  slotsPerWorker: number;
  /** Bytes per slot buffer. */
  slotBytes: number;
  /**
   * Working bytes per worker in the pool's memory (a job's scratch row, input and output;
   * md5 scratch): at least what the largest job needs.
   */
  workBytes: number;
  /** Shard buffers to place in the pool's memory (see {@link QuantWorkerPool.shardBuffers}). */
  shardBuffers?: number;
  /** Bytes per shard buffer. */
  shardBytes?: number;
}

const PAGE = 65536;
const alignPage = (n: number) => Math.ceil(n / PAGE) * PAGE;
/** Stack of each worker's kernels instance (the module's own stack size). */
const STACK_BYTES = PAGE;
/** Working bytes the md5 messages need at least (scratch of `md5Update`'s 1 MiB slices). */
const MD5_WORK_BYTES = (1 << 20) + 256;

/**
 * `threads` kernel workers: chunk jobs (each on the least loaded worker; slot buffers are
 * shared by all) and md5 ({@link QuantWorkerPool.md5}) in the same threads.
 *
 * The workers' kernel instances share one memory: the module's static data, then per worker a
 * stack and working region, then the shard buffers. Outputs reserved in a shard buffer are
 * written there by the kernel and shards are hashed where they lie (no copies).
 */
export class QuantWorkerPool {
  /** Slot buffers (a job's input and output; any worker may use any slot). */
  readonly slots: SharedArrayBuffer[];
  /**
   * Shard buffers in the workers' memory (page-aligned views, `shardBytes` each), for the
   * tensor cache writer's rotation (see `WriterOptions.shardBuffers`).
   */
  readonly shardBuffers: Uint8Array[];
  /** The workers' shared memory. */
  readonly memory: WebAssembly.Memory;
  /** md5 in the same workers (views of {@link QuantWorkerPool.memory} hashed in place). */
  readonly md5: Md5Service;
  readonly #group: WorkerGroup;
  readonly #buffer: SharedArrayBuffer;

  /** Starts the workers on a new shared memory laid out for `opts`. */
  constructor(opts: QuantPoolOptions) {
    const { threads, slotsPerWorker, slotBytes } = opts;
    this.slots = Array.from({ length: threads * slotsPerWorker }, () => new SharedArrayBuffer(slotBytes));
    const regionBytes = STACK_BYTES + alignPage(Math.max(opts.workBytes, MD5_WORK_BYTES));
    const shardBytes = alignPage(opts.shardBytes ?? 0);
    const regionsAt = kernelsMinPages() * PAGE; // (the module's stack and static data below)
    const shardsAt = regionsAt + threads * regionBytes;
    const total = shardsAt + (opts.shardBuffers ?? 0) * shardBytes;
    // (laid out once, never grown: no address space reserved beyond it)
    this.memory = kernelsMemory(true, total / PAGE, total / PAGE);
    this.#buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    this.shardBuffers = Array.from(
      { length: opts.shardBuffers ?? 0 },
      (_, i) => new Uint8Array(this.#buffer, shardsAt + i * shardBytes, shardBytes),
    );
    const module = kernelsModule(true);
    const workers = Array.from({ length: threads }, (_, i) => {
      const at = regionsAt + i * regionBytes;
      const region: WorkerRegion = {
        stackTop: at + STACK_BYTES,
        base: at + STACK_BYTES,
        end: at + regionBytes,
      };
      const w = startWorker(quantWorkerMain, MD5_HELPERS);
      w.postMessage(
        { type: "init", module, memory: this.memory, region, slots: this.slots } satisfies WorkerMessage,
      );
      return w;
    });
    this.#group = new WorkerGroup(workers, "quantization");
    this.md5 = new GroupMd5(this.#group, this.#buffer);
  }

  /** The offset of `view` in the workers' memory (for `WorkerJob.destAt`); throws elsewhere. */
  offsetOf(view: Uint8Array): number {
    if (view.buffer !== this.#buffer) {
      throw new Error("QuantWorkerPool: a destination outside the pool's memory");
    }
    return view.byteOffset;
  }

  /** Runs a job on the least loaded worker. */
  async run(job: Omit<WorkerJob, "id">): Promise<JobTimes> {
    const load = job.rows * job.k * job.srcSize;
    return (await this.#group.post(
      this.#group.leastLoaded(),
      { type: "job", job },
      load,
    )) as unknown as JobTimes;
  }

  /** Stops the workers (after the jobs they have; see {@link shutDown}). */
  close(): Promise<void> {
    return this.#group.close();
  }
}

/** md5 of shared buffers in `n` workers ({@link Md5WorkerPool.md5}), several buffers per call at once. */
export class Md5WorkerPool {
  /** md5 in these workers. */
  readonly md5: Md5Service;
  readonly #group: WorkerGroup;

  /** Starts `n` md5 workers (each with its own instance of the kernels). */
  constructor(n: number) {
    const module = kernelsModule();
    const workers = Array.from({ length: n }, () => {
      // (the worker calls md5Message and its helpers, whose sources are prepended)
      const w = startWorker(md5WorkerMain, MD5_HELPERS);
      w.postMessage({ type: "init", module, pages: kernelsMinPages() });
      return w;
    });
    this.#group = new WorkerGroup(workers, "md5");
    this.md5 = new GroupMd5(this.#group);
  }

  /** Stops the workers (after the jobs they have). */
  close(): Promise<void> {
    return this.#group.close();
  }
}

/** Shards per multi-buffer md5 batch (the kernel's lanes). */
export const MD5_LANES = 4;

/**
 * Shard buffers of a conversion by kernel workers: a batch of {@link MD5_LANES} shards being
 * hashed, and two more, so that the workers keep filling shards (the next jobs' outputs are
 * reserved ahead) while a batch is hashed, which takes longer than filling one shard.
 */
export const WORKER_SHARD_BUFFERS: number = MD5_LANES + 2;

interface Queued {
  buf: Uint8Array;
  length: number;
  resolve: (hex: string) => void;
  reject: (e: unknown) => void;
}

/**
 * A {@link ShardHasher} that hashes committed shards in batches of `batch` shards (at most
 * {@link MD5_LANES}, one per lane of the multi-buffer md5), in an {@link Md5WorkerPool} or on
 * this thread; a batch starts early when one of its buffers is urged (the writer needs it back,
 * or finishes).
 */
export class BatchMd5 implements ShardHasher {
  /** Whether buffers must be shared (hashing in workers). */
  readonly shared: boolean;
  readonly #pool: Md5Service | undefined;
  #kernels: WasmKernels | undefined;
  #queue: Queued[] = [];
  #ms = 0;
  #streams = 0;
  readonly #batch: number;

  /**
   * Hashes with `pool` (workers), or (without) on this thread with an own kernels instance;
   * `batch` shards at a time (default {@link MD5_LANES}).
   */
  constructor(pool?: Md5Service, batch: number = MD5_LANES) {
    this.#pool = pool;
    this.shared = pool !== undefined;
    this.#batch = Math.max(1, Math.min(MD5_LANES, Math.floor(batch)));
  }

  /** Milliseconds spent hashing (in workers or on this thread). */
  get ms(): number {
    return this.#ms + (this.#pool?.ms ?? 0);
  }

  /** Queues a shard; a full batch starts at once. */
  hash(buf: Uint8Array, length: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.#queue.push({ buf, length, resolve, reject });
      if (this.#queue.length >= this.#batch) this.#run();
    });
  }

  /**
   * A stream for one long shard, hashed piece by piece (scalar md5) in the pool's worker or on
   * this thread.
   */
  stream(): ShardStreamHasher {
    const pool = this.#pool;
    if (pool) {
      const id = this.#streams++;
      let last: Promise<void> = Promise.resolve();
      return {
        update: (buf, length) => last = pool.streamUpdate(id, buf.subarray(0, length)),
        digest: async () => {
          await last;
          return pool.streamDigest(id);
        },
      };
    }
    const st = md5StreamState();
    return {
      update: (buf, length) => {
        try {
          const t0 = performance.now();
          this.#kernels ??= WasmKernels.createSync();
          this.#kernels.md5StreamUpdate(st, buf.subarray(0, length));
          this.#ms += performance.now() - t0;
          return Promise.resolve();
        } catch (e) {
          return Promise.reject(e);
        }
      },
      digest: () => {
        try {
          this.#kernels ??= WasmKernels.createSync();
          return Promise.resolve(this.#kernels.md5StreamDigest(st));
        } catch (e) {
          return Promise.reject(e);
        }
      },
    };
  }

  /** Starts the waiting batch if it holds `buf`. */
  urge(buf: Uint8Array): void {
    if (this.#queue.some((q) => q.buf === buf)) this.#run();
  }

  #run(): void {
    const batch = this.#queue;
    this.#queue = [];
    let done: Promise<string[]>;
    if (this.#pool) {
      done = this.#pool.hashMany(batch.map((q) => q.buf.subarray(0, q.length)));
    } else {
      try {
        const t0 = performance.now();
        this.#kernels ??= WasmKernels.createSync();
        done = Promise.resolve(this.#kernels.md5Many(batch.map((q) => q.buf.subarray(0, q.length))));
        this.#ms += performance.now() - t0;
      } catch (e) {
        done = Promise.reject(e);
      }
    }
    done.then(
      (hex) => batch.forEach((q, i) => q.resolve(hex[i])),
      (e) => batch.forEach((q) => q.reject(e)),
    );
  }
}
