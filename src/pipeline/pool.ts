/**
 * Worker pools of the parallel pipeline: quantization workers (each with its own instance of
 * the kernels module, posted once) that write into shared slot buffers allocated once, and md5
 * workers that hash finished shards (several at once, multi-buffer md5 of the kernels) while
 * quantization goes on; {@link BatchMd5} collects committed shards into such batches.
 *
 * @module
 */
import type { ShardHasher, ShardStreamHasher } from "../cache_writer.ts";
import { md5Digest, md5Streams, md5StreamState, md5Update } from "../kernels/_md5.ts";
import { kernelsModule, WasmKernels } from "../kernels/wasm.ts";
import { md5WorkerMain, quantWorkerMain, startWorker } from "./_workers.ts";

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
}

/** Messages to a quantization worker. */
export type WorkerMessage =
  | { type: "init"; module: WebAssembly.Module; slots: SharedArrayBuffer[] }
  | { type: "job"; job: WorkerJob }
  | { type: "close" };

/** Per-job timings a worker reports. */
export interface JobTimes {
  /** Milliseconds reading (or copying in) the source. */
  readMs: number;
  /** Milliseconds in the kernel and copying out. */
  computeMs: number;
}

/**
 * Asks workers to finish (a `close` message: they answer `{ closed: true }` and exit), waits
 * for their answers (at most `ms`), then terminates them. Exiting by themselves, between jobs,
 * spares the runtime tearing a busy worker down.
 */
async function shutDown(workers: readonly Worker[], ms = 1000): Promise<void> {
  const answered = workers.map((w) =>
    new Promise<void>((resolve) => {
      w.onmessage = (e: MessageEvent<{ closed?: boolean }>) => {
        if (e.data?.closed) resolve();
      };
      w.onerror = (e) => {
        e.preventDefault();
        resolve();
      };
    })
  );
  for (const w of workers) w.postMessage({ type: "close" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(answered),
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
  for (const w of workers) w.terminate();
}

interface Pending<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
}

/** `threads` quantization workers sharing `slotsPerWorker` slot buffers each. */
export class QuantWorkerPool {
  /** Slot buffers (slot i belongs to worker i % threads). */
  readonly slots: SharedArrayBuffer[];
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending<JobTimes>>();
  #nextId = 0;
  #error: Error | undefined;

  /** Starts the workers; each slot holds `slotBytes` bytes. */
  constructor(threads: number, slotsPerWorker: number, slotBytes: number) {
    this.slots = Array.from({ length: threads * slotsPerWorker }, () => new SharedArrayBuffer(slotBytes));
    const module = kernelsModule();
    this.#workers = Array.from({ length: threads }, () => {
      const w = startWorker(quantWorkerMain);
      w.onmessage = (e: MessageEvent<{ id: number; error?: string } & JobTimes>) => {
        const p = this.#pending.get(e.data.id);
        if (!p) return;
        this.#pending.delete(e.data.id);
        if (e.data.error) p.reject(new Error(`quantization worker: ${e.data.error}`));
        else p.resolve(e.data);
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(new Error(`quantization worker failed: ${e.message}`));
      };
      w.postMessage({ type: "init", module, slots: this.slots } satisfies WorkerMessage);
      return w;
    });
  }

  #fail(e: Error): void {
    this.#error ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** Runs a job on the worker owning `job.slot`. */
  run(job: Omit<WorkerJob, "id">): Promise<JobTimes> {
    if (this.#error) return Promise.reject(this.#error);
    const id = this.#nextId++;
    return new Promise<JobTimes>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#workers[job.slot % this.#workers.length].postMessage(
        { type: "job", job: { ...job, id } } satisfies WorkerMessage,
      );
    });
  }

  /** Stops the workers (after the jobs they have; see {@link shutDown}). */
  async close(): Promise<void> {
    this.#fail(new Error("pool closed"));
    await shutDown(this.#workers);
  }
}

/** md5 of shared buffers in `n` workers (round robin), several buffers per call at once. */
export class Md5WorkerPool {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending<string[]>>();
  #nextId = 0;
  #turn = 0;
  /** Total milliseconds spent hashing (in the workers). */
  ms = 0;

  /** Starts `n` md5 workers (each with its own instance of the kernels). */
  constructor(n: number) {
    const module = kernelsModule();
    this.#workers = Array.from({ length: n }, () => {
      // (the worker calls md5Streams, md5Update and md5Digest, whose sources are prepended)
      const w = startWorker(md5WorkerMain, [md5Streams, md5Update, md5Digest]);
      w.onmessage = (e: MessageEvent<{ id: number; hex: string[]; ms: number; error?: string }>) => {
        const p = this.#pending.get(e.data.id);
        this.#pending.delete(e.data.id);
        if (e.data.error) {
          p?.reject(new Error(`md5 worker: ${e.data.error}`));
          return;
        }
        this.ms += e.data.ms;
        p?.resolve(e.data.hex);
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(new Error(`md5 worker failed: ${e.message}`));
      };
      w.postMessage({ type: "init", module });
      return w;
    });
  }

  #error: Error | undefined;

  #fail(e: Error): void {
    this.#error ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** Lowercase hex md5 of the first `lengths[i]` bytes of each `bufs[i]`, hashed together. */
  hashMany(bufs: SharedArrayBuffer[], lengths: number[]): Promise<string[]> {
    if (this.#error) return Promise.reject(this.#error);
    const id = this.#nextId++;
    return new Promise<string[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#workers[this.#turn++ % this.#workers.length].postMessage({ type: "job", id, bufs, lengths });
    });
  }

  /** Lowercase hex md5 of the first `length` bytes of `buf`. */
  async hash(buf: SharedArrayBuffer, length: number): Promise<string> {
    return (await this.hashMany([buf], [length]))[0];
  }

  #post(worker: number, msg: Record<string, unknown>): Promise<unknown> {
    if (this.#error) return Promise.reject(this.#error);
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: string[]) => void, reject });
      this.#workers[worker % this.#workers.length].postMessage({ ...msg, id });
    });
  }

  /**
   * Hashes the first `length` bytes of `buf` as the next piece of stream `stream` (pieces of
   * one stream are hashed in the order given; the buffer is free again once this settles).
   */
  async streamUpdate(stream: number, buf: SharedArrayBuffer, length: number): Promise<void> {
    await this.#post(stream, { type: "update", stream, buf, length });
  }

  /** Lowercase hex md5 of all pieces of stream `stream` (which then ends). */
  async streamDigest(stream: number): Promise<string> {
    return (await this.#post(stream, { type: "digest", stream })) as unknown as string;
  }

  /** Stops the workers (after the jobs they have). */
  async close(): Promise<void> {
    this.#fail(new Error("pool closed"));
    await shutDown(this.#workers);
  }
}

/** Shards per multi-buffer md5 batch (the kernel's lanes). */
export const MD5_LANES = 4;

interface Queued {
  buf: SharedArrayBuffer | ArrayBuffer;
  length: number;
  resolve: (hex: string) => void;
  reject: (e: unknown) => void;
}

/**
 * A {@link ShardHasher} that hashes committed shards in batches of {@link MD5_LANES} (one per
 * lane of the multi-buffer md5), in an {@link Md5WorkerPool} or on this thread; a batch starts
 * early when one of its buffers is urged (the writer needs it back, or finishes).
 */
export class BatchMd5 implements ShardHasher {
  /** Whether buffers must be shared (hashing in workers). */
  readonly shared: boolean;
  readonly #pool: Md5WorkerPool | undefined;
  #kernels: WasmKernels | undefined;
  #queue: Queued[] = [];
  #ms = 0;
  #streams = 0;

  /** Hashes in `pool`'s workers, or (without) on this thread with an own kernels instance. */
  constructor(pool?: Md5WorkerPool) {
    this.#pool = pool;
    this.shared = pool !== undefined;
  }

  /** Milliseconds spent hashing (in workers or on this thread). */
  get ms(): number {
    return this.#ms + (this.#pool?.ms ?? 0);
  }

  /** Queues a shard; batches of {@link MD5_LANES} start at once. */
  hash(buf: SharedArrayBuffer | ArrayBuffer, length: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.#queue.push({ buf, length, resolve, reject });
      if (this.#queue.length >= MD5_LANES) this.#run();
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
        update: (buf, length) => last = pool.streamUpdate(id, buf as SharedArrayBuffer, length),
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
          this.#kernels.md5StreamUpdate(st, new Uint8Array(buf, 0, length));
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
  urge(buf: SharedArrayBuffer | ArrayBuffer): void {
    if (this.#queue.some((q) => q.buf === buf)) this.#run();
  }

  #run(): void {
    const batch = this.#queue;
    this.#queue = [];
    let done: Promise<string[]>;
    if (this.#pool) {
      done = this.#pool.hashMany(batch.map((q) => q.buf as SharedArrayBuffer), batch.map((q) => q.length));
    } else {
      try {
        const t0 = performance.now();
        this.#kernels ??= WasmKernels.createSync();
        done = Promise.resolve(this.#kernels.md5Many(batch.map((q) => new Uint8Array(q.buf, 0, q.length))));
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
