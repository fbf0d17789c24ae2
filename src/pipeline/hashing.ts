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
  /** Whether {@link Md5Service.hashLanes} is available (pieces hashed where they lie). */
  readonly inPlace: boolean;
  /**
   * Hashes the next piece of several streams whose states travel with the call (views of the
   * workers' memory; see `md5Lanes`): their new states, and the digests of final pieces.
   */
  hashLanes(pieces: readonly Md5Piece[]): Promise<{ state: number[]; hex?: string }[]>;
  /** Milliseconds spent hashing. */
  readonly ms: number;
}

/** A piece of an md5 stream for {@link Md5Service.hashLanes}. */
export interface Md5Piece {
  /** The bytes (a multiple of 64 unless `final`). */
  data: Uint8Array;
  /** The stream's state words so far. */
  state: number[];
  /** Bytes of the stream before this piece (a multiple of 64). */
  before: number;
  /** Whether the piece ends the stream. */
  final: boolean;
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
    if (pool) return poolStream(pool, this.#streams++);
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

/** A stream hashed piece by piece in `pool`'s workers, as stream `id` (scalar md5). */
function poolStream(pool: Md5Service, id: number): ShardStreamHasher {
  let last: Promise<void> = Promise.resolve();
  return {
    update: (buf, length) => last = pool.streamUpdate(id, buf.subarray(0, length)),
    digest: async () => {
      await last;
      return pool.streamDigest(id);
    },
  };
}

/** Bytes of each stream a {@link LaneMd5} quantum hashes (a quarter of a 32 MiB shard). */
export const LANE_QUANTUM = 8 << 20;

interface Lane {
  buf: Uint8Array;
  /** Bytes that may be hashed (the final length once `hash` is called). */
  avail: number;
  /** Whether the length is final (`hash` was called). */
  final: boolean;
  /** Bytes hashed. */
  done: number;
  state: number[];
  resolve?: (hex: string) => void;
  reject?: (e: unknown) => void;
}

const MD5_INIT = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

/**
 * A {@link ShardHasher} for a pool that hashes in place (kernel workers on the pipeline's
 * memory) and a writer that reports the progress of its shard buffers: each shard buffer is a
 * lane from its first final bytes on (the pending shard as it fills, then committed). Whenever
 * four lanes have a quantum's worth ({@link LANE_QUANTUM} bytes, or their end), a quantum hashes
 * it in the oldest three and the newest of them together, at the four-lane rate. The newest is
 * the shard filling now: since its lane keeps up with it, lanes stand apart (about a quarter of a
 * shard each), so that the oldest shard is done, and its buffer free, about when the next one
 * commits, instead of four at once after a batch of four whole shards: the writer needs one
 * buffer fewer at the same speed. A lane the writer urges (it needs the buffer back, or
 * finishes) is hashed to its end first.
 *
 * @example
 * ```ts ignore
 * const hasher = new LaneMd5(pool.md5);
 * hasher.progress(shardView, 1 << 20); // (its first MiB is final)
 * const hex = await hasher.hash(shardView, length);
 * ```
 */
export class LaneMd5 implements ShardHasher {
  readonly shared = true;
  readonly #pool: Md5Service;
  #lanes: Lane[] = [];
  readonly #urged = new Set<Uint8Array>();
  #running = false;
  #streams = 0;

  /** Hashes with `pool`, which must hash in place ({@link Md5Service.inPlace}). */
  constructor(pool: Md5Service) {
    if (!pool.inPlace) throw new Error("LaneMd5: the pool must hash in place");
    this.#pool = pool;
  }

  /** Milliseconds spent hashing (in the pool's workers). */
  get ms(): number {
    return this.#pool.ms;
  }

  /** The first `prefix` bytes of `buf` (still being filled) are final. */
  progress(buf: Uint8Array, prefix: number): void {
    const lane = this.#laneOf(buf);
    if (!lane.final) lane.avail = Math.max(lane.avail, prefix);
    this.#drive();
  }

  /** The shard in `buf` is `length` bytes (its lane's end): settles with its md5. */
  hash(buf: Uint8Array, length: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const lane = this.#laneOf(buf);
      Object.assign(lane, { avail: length, final: true, resolve, reject });
      this.#drive();
    });
  }

  /** Hashes `buf`'s lane to its end now (once its length is final), if it has one. */
  urge(buf: Uint8Array): void {
    if (!this.#lanes.some((l) => l.buf === buf)) return;
    this.#urged.add(buf);
    this.#drive();
  }

  /** A stream for one long shard, hashed piece by piece in the pool's workers. */
  stream(): ShardStreamHasher {
    return poolStream(this.#pool, this.#streams++);
  }

  #laneOf(buf: Uint8Array): Lane {
    let lane = this.#lanes.find((l) => l.buf === buf);
    if (!lane) this.#lanes.push(lane = { buf, avail: 0, final: false, done: 0, state: MD5_INIT });
    return lane;
  }

  async #drive(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      // (a quantum when four lanes have a quantum's worth, or one the writer waits for is final)
      const full = (l: Lane) => l.final || l.avail - l.done >= LANE_QUANTUM;
      const urged = (l: Lane) => l.final && this.#urged.has(l.buf);
      while (this.#lanes.filter(full).length >= MD5_LANES || this.#lanes.some(urged)) {
        if (!await this.#quantum()) break;
      }
    } catch (e) {
      for (const l of this.#lanes) l.reject?.(e);
      this.#lanes = [];
      this.#urged.clear();
    } finally {
      this.#running = false;
    }
  }

  /**
   * The next quantum of the urged lanes, then the oldest, four at most, each as far as it may
   * be hashed (whole blocks unless final); whether there was anything to hash.
   */
  async #quantum(): Promise<boolean> {
    const ready = (l: Lane) => l.final || l.avail - l.done >= 64;
    const byUrge = [...this.#lanes].sort((a, b) => +this.#urged.has(b.buf) - +this.#urged.has(a.buf));
    const all = byUrge.filter(ready);
    // the oldest three and the newest (the shard filling now: its lane keeps up with it)
    const lanes = all.length > MD5_LANES ? [...all.slice(0, MD5_LANES - 1), all[all.length - 1]] : all;
    if (!lanes.length) return false;
    const pieces = lanes.map((l) => {
      const left = l.avail - l.done;
      const final = l.final && left <= LANE_QUANTUM;
      const bytes = final ? left : Math.min(LANE_QUANTUM, left - (left % 64));
      return { data: l.buf.subarray(l.done, l.done + bytes), state: l.state, before: l.done, final };
    });
    const out = await this.#pool.hashLanes(pieces);
    lanes.forEach((l, i) => {
      l.state = out[i].state;
      l.done += pieces[i].data.length;
      if (!pieces[i].final) return;
      this.#lanes = this.#lanes.filter((x) => x !== l);
      this.#urged.delete(l.buf);
      l.resolve!(out[i].hex!);
    });
    return true;
  }
}
