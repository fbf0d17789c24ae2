/**
 * Hashing committed shards for the tensor cache writer: {@link BatchMd5} collects them into
 * multi-buffer md5 batches, hashed by a worker pool's {@link Md5Service} or on this thread.
 *
 * @module
 */
import type { ShardHasher, ShardStreamHasher } from "../cache_writer.ts";
import { md5StreamState } from "../kernels/md5.ts";
import { WasmKernels } from "../kernels/wasm.ts";

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

/** Shards per multi-buffer md5 batch (the kernel's lanes). */
export const MD5_LANES = 4;

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
