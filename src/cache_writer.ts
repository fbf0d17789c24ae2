/**
 * The tensor cache writer: TVM's `tvmjs.dump_tensor_cache` with `encode_format="f32-to-bf16"`
 * (32 MiB shards, the out-of-band rule, md5 per shard, float32 stored as bf16, Python JSON).
 * Tensors are streamed: data arrives in chunks, nothing larger than one shard is buffered.
 *
 * @module
 */
import { createHash } from "./_md5_hash.ts";
import {
  type CacheFileNames,
  cacheJsonText,
  type CacheRecord,
  DEFAULT_CACHE_FILES,
  type ShardRecord,
  type TensorCache,
} from "./cache_json.ts";
import { type DType, f32BitsToBf16Storage, itemSize } from "./dtype.ts";
import type { FileSink, OutputStore } from "./io/types.ts";
import { alignedBuffer } from "./io/aligned.ts";
import {
  type Placement,
  placeTensor,
  SHARD_CAP,
  type ShardLayout,
  storedBytes,
  streamPieceBytes,
} from "./shard_layout.ts";

/** Sink for one tensor's bytes, in the tensor's dtype (float32 given as float32). */
export interface TensorSink {
  /** Appends elements (for float32: a multiple of 4 bytes). */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Takes the next `bytes` bytes of the tensor in place, for the caller (e.g. a worker) to fill
   * before `filled` settles: a view of the shard buffer. The shard is written and hashed only
   * after every such promise has settled. Present where the tensor lands in a shared shard
   * buffer (see {@link TensorCacheWriter.reservable}).
   */
  reserve?(bytes: number, filled: Promise<unknown>): Uint8Array;
  /**
   * As {@link TensorSink.reserve}, for a tensor streamed through the shard buffers a piece at a
   * time (see {@link TensorCacheWriter.inPlacePieceBytes}): the view may wait for a free buffer,
   * and no region spans two pieces (a region that does not fit the rest of a piece begins the
   * next one). Calls must not overlap.
   */
  reservePiece?(bytes: number, filled: Promise<unknown>): Promise<Uint8Array>;
  /** Finishes the tensor; checks the byte count. */
  end(): Promise<void>;
}

/** Progress of written shards (for callers that report). */
export interface WriterStats {
  /** Tensors written. */
  paramSize: number;
  /** ParamBytes as MLC counts it. */
  paramBytes: number;
  /** Bytes written to shard files. */
  bytesWritten: number;
  /** Whether any float32 tensor was written. */
  hasFloat32: boolean;
  /** Milliseconds of md5 on this thread (hashing in workers is not counted). */
  md5Ms: number;
  /** Milliseconds spent in shard file writes (async writes overlap other work). */
  writeMs: number;
  /** Milliseconds the writer waited for a free shard buffer (its write and md5 behind). */
  waitMs: number;
}

/**
 * Hashes committed shards, possibly several together (e.g. multi-buffer md5): a shard's
 * buffer stays unchanged until its hash settles; the writer calls `urge` when it needs a
 * buffer back, and for all buffers before the cache JSON is written. A shard buffer is a
 * `Uint8Array` (of a `SharedArrayBuffer` when the writer rotates buffers), the same object
 * each time it is passed.
 */
export interface ShardHasher {
  /** Whether buffers must be views of `SharedArrayBuffer`s (hashing in a worker). */
  readonly shared: boolean;
  /** Lowercase hex md5 of the first `length` bytes of `buf` (may wait for more shards). */
  hash(buf: Uint8Array, length: number): Promise<string>;
  /** Start hashing `buf` (and what waits with it) now if it still waits. */
  urge(buf: Uint8Array): void;
  /**
   * Told, where present, how many bytes of a shard buffer that is still being filled (the
   * pending shard, or a committed one whose regions are being filled in place) are final, so
   * that it can hash them before the shard is committed (its `hash` call follows with the
   * length). The writer then does not stream the last shard itself.
   */
  progress?(buf: Uint8Array, prefix: number): void;
  /**
   * Starts hashing one shard piece by piece: a tensor larger than the shard buffers (collected
   * and written a buffer at a time; without `stream`, hashed with the WASM md5 (`createHash`) on this thread
   * and written as they come), and the last shard while it fills (see
   * `WriterOptions.expectedShards`).
   */
  stream?(): ShardStreamHasher;
}

/** md5 of one shard given piece by piece (see {@link ShardHasher.stream}). */
export interface ShardStreamHasher {
  /** Hashes the first `length` bytes of `buf` next; `buf` is free again once this settles. */
  update(buf: Uint8Array, length: number): Promise<void>;
  /** Lowercase hex md5 of all pieces, after the last update settled. */
  digest(): Promise<string>;
}

/** A region of a shard buffer reserved to be filled in place. */
interface Region {
  /** Offset in the buffer. */
  at: number;
  /** Whether it is filled. */
  done: boolean;
  /** Settles once filled. */
  filled: Promise<unknown>;
}

/** Options of {@link TensorCacheWriter}. */
export interface WriterOptions {
  /**
   * Hashes committed shards: shards are collected in buffers used in rotation, each committed
   * shard is written while the next fills and hashed when the hasher chooses (before the cache
   * JSON is written).
   */
  hasher?: ShardHasher;
  /**
   * Without `hasher`: still rotate shard buffers and write each committed shard while the
   * next one fills (md5 on this thread, at commit). Default false.
   */
  overlapWrites?: boolean;
  /** Shard buffers in rotation (default 2; at least 2). */
  buffers?: number;
  /**
   * The shard buffers to rotate (instead of allocating `buffers` of them): views of at least the
   * cap's bytes each, of shared memory, page-aligned for direct I/O (e.g. regions of a worker
   * pool's memory, so that workers fill and hash them in place).
   */
  shardBuffers?: readonly Uint8Array[];
  /**
   * Shards the conversion will write (from its plan), when known: once at most one is still to
   * come, committed shards are hashed at once instead of waiting for a full hashing batch, and
   * the last shard is hashed while it fills (with a hasher that can `stream`), along the prefix
   * of it that is filled, so that little is left to hash after the last tensor.
   */
  expectedShards?: number;
  /**
   * The shard layout to follow (the plan's, see `layoutShards`): each tensor goes where it
   * places it, checked as the writer goes (the layout's shard count is also `expectedShards`).
   * Without it the writer places tensors by the same rule as it goes.
   */
  layout?: ShardLayout;
}

/**
 * Streams tensors into `params_shard_N.bin` files and builds the cache JSON.
 *
 * @example
 * ```ts
 * import { TensorCacheWriter } from "./cache_writer.ts";
 * import { memoryOutput } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const out = memoryOutput();
 * const w = new TensorCacheWriter(out);
 * const t = await w.begin("w", [2], "float16");
 * await t.write(new Uint8Array([0, 60, 0, 60]));
 * await t.end();
 * const cache = await w.finish(16);
 * deepStrictEqual(cache.records[0].nbytes, 4);
 * ```
 */
export class TensorCacheWriter {
  readonly #out: OutputStore;
  readonly #cap: number;
  #pending: Uint8Array;
  #pendingLen = 0;
  #pendingRecords: CacheRecord[] = [];
  #counter = 0;
  #shards: ShardRecord[] = [];
  #busy = false;
  /** Whether the open tensor (`#busy`) is out of band, and whether one is open beside it. */
  #ownOpen = false;
  #beside = false;
  #encodeBuf = new Uint8Array(0);
  readonly #hasher: ShardHasher | undefined;
  readonly #rotate: boolean;
  readonly #expectedShards: number;
  readonly #layout: ShardLayout | undefined;
  /** With a layout: the layout's index of the pending shard. */
  #pendingShard = -1;
  /** Shard buffers (rotating), each buffer's write and hash, and those not held, in release order. */
  readonly #shared: Uint8Array[] = [];
  readonly #inflight = new Map<Uint8Array, Promise<void>>();
  #free: Uint8Array[] = [];
  #writing = 0;
  #asyncError: unknown;
  /** Per shard buffer: regions being filled in place (see `reserve`). */
  readonly #fills = new Map<Uint8Array, Region[]>();
  /**
   * The last shard, hashed while it fills (see {@link #startLast}): its stream, buffer, and
   * the bytes handed to the stream so far.
   */
  #last: { stream: ShardStreamHasher; buf: Uint8Array; hashed: number } | undefined;
  /** Committed shards' buffers still being filled in place, and their lengths. */
  readonly #filling = new Map<Uint8Array, number>();
  /** Buffers whose write and hash wait for fills, and those of them urged meanwhile. */
  readonly #awaitingFills = new Set<Uint8Array>();
  readonly #urgedEarly = new Set<Uint8Array>();
  /** Running statistics. */
  readonly stats: WriterStats = {
    paramSize: 0,
    paramBytes: 0,
    bytesWritten: 0,
    hasFloat32: false,
    md5Ms: 0,
    writeMs: 0,
    waitMs: 0,
  };

  /** Whether committed shards are still being written in the background. */
  get writing(): boolean {
    return this.#writing > 0;
  }

  /** Creates a writer into `out` with shard cap `cap` (default 32 MiB). */
  constructor(out: OutputStore, cap: number = SHARD_CAP, opts: WriterOptions = {}) {
    this.#out = out;
    this.#cap = cap;
    this.#pending = new Uint8Array(0);
    this.#hasher = opts.hasher;
    this.#rotate = this.#hasher !== undefined || opts.overlapWrites === true;
    this.#layout = opts.layout;
    this.#expectedShards = opts.layout?.shardSizes.length ?? opts.expectedShards ?? Infinity;
    if (this.#rotate) {
      const given = opts.shardBuffers;
      if (given && (given.length < 2 || given.some((b) => b.length < cap))) {
        throw new Error(`TensorCacheWriter: shardBuffers must be at least 2 views of ${cap} bytes`);
      }
      for (let i = 0; i < (given?.length ?? Math.max(2, opts.buffers ?? 2)); i++) {
        // in-band tensors keep a shard below the cap
        // shared and page-aligned: shards can be hashed in a worker and written by an I/O
        // worker with direct I/O
        this.#shared.push(
          given ? given[i].subarray(0, cap) : new Uint8Array(alignedBuffer(cap, true), 0, cap),
        );
      }
      this.#pending = this.#shared[0];
      this.#free = this.#shared.slice(1);
      this.#startLast();
    }
  }

  /**
   * Whether workers can fill regions of the shard buffers in place: rotating buffers of shared
   * memory, with a hasher.
   */
  get #fillable(): boolean {
    return this.#rotate && this.#hasher !== undefined && typeof SharedArrayBuffer !== "undefined" &&
      this.#shared[0].buffer instanceof SharedArrayBuffer;
  }

  /**
   * Whether a tensor of `shape` and `dtype` would land in a shared shard buffer, so that its
   * sink can {@link TensorSink.reserve} regions to be filled in place (rotating buffers with a
   * hasher; not float32, which is stored as bf16; at most one shard buffer).
   */
  reservable(shape: readonly number[], dtype: DType): boolean {
    return this.#fillable && dtype !== "float32" && storedBytes(shape, dtype) <= this.#cap;
  }

  /**
   * Bytes of the pieces in which a tensor of `shape` and `dtype`, larger than a shard buffer,
   * is streamed through the shared shard buffers to be filled in place (a shard of its own,
   * with a hasher that streams): its sink can then {@link TensorSink.reservePiece} regions, each
   * within one piece of {@link streamPieceBytes} bytes (whole rows of the first axis), and each
   * piece is written and hashed once its regions are filled, in order. 0 where the tensor is
   * not streamed so.
   */
  inPlacePieceBytes(shape: readonly number[], dtype: DType): number {
    const n = storedBytes(shape, dtype);
    if (!this.#fillable || !this.#hasher?.stream || dtype === "float32" || n <= this.#cap) return 0;
    return shape.length > 0 ? streamPieceBytes(n, shape[0], this.#cap) : 0;
  }

  /**
   * Whether the next tensor, of `dtype`, can begin now beside the open one: the open tensor is
   * out of band (a shard of its own, whose index it took when it began) and the next one is not
   * float32 (e.g. a `q_scale` streamed into its place in the pending shard, committing the
   * pending shard first if it must, or into a shard file of its own, while its out-of-band
   * `q_weight` is still written). Its data is then taken by `write` as it comes (a shard of its
   * own: hashed on this thread and written as it comes).
   */
  canBeginBeside(_shape: readonly number[], dtype: DType): boolean {
    return this.#busy && this.#ownOpen && !this.#beside && dtype !== "float32";
  }

  /** Starts a tensor; data follows through the returned sink (see {@link canBeginBeside}). */
  async begin(name: string, shape: readonly number[], dtype: DType): Promise<TensorSink> {
    const beside = this.#busy && this.canBeginBeside(shape, dtype);
    if ((this.#busy && !beside) || this.#beside) {
      throw new Error("TensorCacheWriter: previous tensor not ended");
    }
    const n = storedBytes(shape, dtype);
    const record: CacheRecord = {
      name,
      shape: [...shape],
      dtype,
      format: "f32-to-bf16",
      nbytes: n,
      byteOffset: 0,
    };
    this.stats.paramSize++;
    this.stats.paramBytes += shape.reduce((a, b) => a * b, 1) * itemSize(dtype);
    if (dtype === "float32") this.stats.hasFloat32 = true;
    let written = 0;
    const encode = dtype === "float32" ? (c: Uint8Array) => this.#encode(c) : (c: Uint8Array) => c;
    const check = (len: number) => {
      written += len;
      if (written > n) {
        throw new Error(`tensor ${name}: more data than its shape ${JSON.stringify(shape)} holds`);
      }
    };
    if (beside) {
      this.#beside = true;
      const where = this.#place(n);
      if (where === "own") return await this.#unbufferedOutOfBand(record, encode, check);
      if (where === "commit") await this.#commit(); // (the open tensor's shard comes first)
      return this.#inPending(record, encode, check);
    }
    this.#busy = true;
    const where = this.#place(n);
    this.#ownOpen = where === "own";
    if (where === "own") {
      // out of band: a shard of its own, written now (collected in a free buffer when one holds it)
      if (this.#rotate && n <= this.#cap) return await this.#bufferedOutOfBand(record, encode, check);
      const stream = this.#rotate ? this.#hasher?.stream?.() : undefined;
      if (stream) return await this.#streamedOutOfBand(record, encode, check, stream);
      return await this.#unbufferedOutOfBand(record, encode, check);
    }
    if (where === "commit") await this.#commit();
    return this.#inPending(record, encode, check);
  }

  /** A tensor placed in the pending shard (the buffer filling now). */
  #inPending(
    record: CacheRecord,
    encode: (c: Uint8Array) => Uint8Array,
    check: (len: number) => void,
  ): TensorSink {
    const n = record.nbytes, name = record.name;
    let placed = 0;
    this.#checkOffset(record);
    record.byteOffset = this.#pendingLen;
    this.#pendingRecords.push(record);
    this.#ensurePending(this.#pendingLen + n);
    const start = this.#pendingLen;
    const pending = this.#pending;
    const beside = this.#beside;
    return {
      write: (chunk) => {
        const data = encode(chunk);
        const at = start + placed;
        check(data.length);
        placed += data.length;
        this.#pending.set(data, at);
        return Promise.resolve();
      },
      reserve: this.reservable(record.shape, record.dtype as DType)
        ? (bytes, filled) => {
          const at = start + placed;
          check(bytes);
          placed += bytes;
          this.#addFill(pending, at, filled);
          return pending.subarray(at, at + bytes);
        }
        : undefined,
      end: () => {
        if (placed !== n) throw new Error(`tensor ${name}: got ${placed} bytes, expected ${n}`);
        this.#pendingLen += n;
        if (beside) this.#beside = false;
        else this.#busy = false;
        this.#pumpLast();
        this.#progress(pending);
        return Promise.resolve();
      },
    };
  }

  /** A tensor in a shard of its own, hashed and written chunk by chunk as it comes. */
  async #unbufferedOutOfBand(
    record: CacheRecord,
    encode: (c: Uint8Array) => Uint8Array,
    check: (len: number) => void,
  ): Promise<TensorSink> {
    const n = record.nbytes, name = record.name;
    const shard = this.#ownShard(record);
    const file: FileSink = await this.#out.create(shard.dataPath);
    const md5 = createHash("md5");
    const beside = this.#beside;
    let written = 0;
    return {
      write: async (chunk) => {
        const data = encode(chunk);
        check(data.length);
        written += data.length;
        const t0 = performance.now();
        md5.update(data);
        const t1 = performance.now();
        await file.write(data);
        this.stats.md5Ms += t1 - t0;
        this.stats.writeMs += performance.now() - t1;
      },
      end: async () => {
        if (written !== n) throw new Error(`tensor ${name}: got ${written} bytes, expected ${n}`);
        if (beside && this.#busy) throw new Error(`tensor ${name}: ends before the tensor it began beside`);
        await file.close();
        shard.md5sum = md5.digest("hex");
        this.stats.bytesWritten += n;
        if (beside) this.#beside = false;
        else this.#busy = false;
      },
    };
  }

  /**
   * An out-of-band tensor that fits a shard buffer: collected in the next buffer of the
   * rotation (once free), then written and hashed like a committed shard; the pending shard
   * keeps its buffer.
   */
  async #bufferedOutOfBand(
    record: CacheRecord,
    encode: (c: Uint8Array) => Uint8Array,
    check: (len: number) => void,
  ): Promise<TensorSink> {
    const n = record.nbytes;
    const shard = this.#ownShard(record);
    const path = shard.dataPath;
    const buf = await this.#nextFree();
    let written = 0;
    return {
      write: (chunk) => {
        const data = encode(chunk);
        check(data.length);
        buf.set(data, written);
        written += data.length;
        return Promise.resolve();
      },
      reserve: this.reservable(record.shape, record.dtype as DType)
        ? (bytes, filled) => {
          check(bytes);
          this.#addFill(buf, written, filled);
          written += bytes;
          return buf.subarray(written - bytes, written);
        }
        : undefined,
      end: () => {
        if (written !== n) throw new Error(`tensor ${record.name}: got ${written} bytes, expected ${n}`);
        this.stats.bytesWritten += n;
        if (!this.#hasher) {
          const t0 = performance.now();
          shard.md5sum = createHash("md5").update(buf.subarray(0, n)).digest("hex");
          this.stats.md5Ms += performance.now() - t0;
        }
        this.#release(buf, this.#afterFills(buf, () => this.#writeShared(path, buf, n, shard)));
        this.#busy = false;
        return Promise.resolve();
      },
    };
  }

  /**
   * Where the next tensor of `n` bytes goes: where the layout places it (checked against the
   * writer's state), or by `dump_tensor_cache`'s rule.
   */
  #place(n: number, i: number = this.stats.paramSize - 1 /* (this tensor, counted) */): Placement {
    const layout = this.#layout;
    if (!layout) return placeTensor(this.#pendingLen, n, this.#cap);
    const [shard] = layout.placement[i] ?? [];
    if (shard === undefined) throw new Error(`TensorCacheWriter: tensor ${i} is not in the layout`);
    if (layout.outOfBand[shard]) {
      if (layout.shardSizes[shard] !== n) {
        throw new Error(
          `TensorCacheWriter: tensor ${i} has ${n} bytes, the layout's shard ${shard} holds ${
            layout.shardSizes[shard]
          }`,
        );
      }
      return "own";
    }
    return this.#pendingLen > 0 && shard !== this.#pendingShard ? "commit" : "append";
  }

  /** With a layout: the record's offset in the pending shard must be the layout's. */
  #checkOffset(record: CacheRecord): void {
    const at = this.#layout?.placement[this.stats.paramSize - 1];
    if (!at) return;
    if (at[1] !== this.#pendingLen) {
      throw new Error(
        `TensorCacheWriter: ${record.name} lands at ${this.#pendingLen} of a shard, the layout places it at ${
          at[1]
        } of shard ${at[0]}`,
      );
    }
    this.#pendingShard = at[0];
  }

  /** A shard of its own for an out-of-band tensor: the next shard index. */
  #ownShard(record: CacheRecord): ShardRecord {
    const at = this.#layout?.placement[this.stats.paramSize - 1];
    if (at && at[0] !== this.#counter) {
      throw new Error(
        `TensorCacheWriter: ${record.name} would be shard ${this.#counter}, the layout's is ${at[0]}`,
      );
    }
    const dataPath = `params_shard_${this.#counter++}.bin`;
    this.#startLast(); // (the pending shard may now be the last)
    const shard: ShardRecord = {
      dataPath,
      format: "raw-shard",
      nbytes: record.nbytes,
      records: [record],
      md5sum: "",
    };
    this.#shards.push(shard); // (in shard order: a pending shard committed beside it comes after)
    return shard;
  }

  /**
   * The shard buffer released longest ago (see {@link #release}), once free (its shard written
   * and hashed).
   */
  async #nextFree(): Promise<Uint8Array> {
    const buf = this.#free.shift();
    if (!buf) throw new Error("unreachable: every shard buffer is held");
    this.#urge(buf);
    const t0 = performance.now();
    await this.#inflight.get(buf);
    this.stats.waitMs += performance.now() - t0;
    if (this.#asyncError) throw this.#asyncError;
    return buf;
  }

  /** Releases a filled shard buffer to `work` (its write and hash), after which it is free. */
  #release(buf: Uint8Array, work: Promise<void>): void {
    this.#inflight.set(buf, work);
    this.#free.push(buf);
  }

  #addFill(buf: Uint8Array, at: number, filled: Promise<unknown>): void {
    const region: Region = { at, done: false, filled };
    filled.then(() => {
      region.done = true;
      if (this.#last?.buf === buf) this.#pumpLast();
      this.#progress(buf);
    }, () => {}); // (a failed fill fails the conversion elsewhere; its shard is not written)
    const list = this.#fills.get(buf);
    if (list) list.push(region);
    else this.#fills.set(buf, [region]);
  }

  /**
   * Once the pending shard is the last one the conversion writes (`expectedShards`), it is
   * hashed while it fills, piece by piece as its filled prefix grows, instead of all after the
   * last tensor (with a hasher that streams).
   */
  #startLast(): void {
    if (this.#last || !this.#rotate || this.#counter !== this.#expectedShards - 1) return;
    if (this.#hasher?.progress) return; // (the hasher takes the filled prefix of every shard)
    const stream = this.#hasher?.stream?.();
    if (stream) this.#last = { stream, buf: this.#pending, hashed: 0 };
  }

  /**
   * Tells a hasher that takes progress (see {@link ShardHasher.progress}) how much of `buf`, the
   * pending shard or a committed one still being filled, is final: up to the first region not
   * yet filled.
   */
  #progress(buf: Uint8Array): void {
    const progress = this.#hasher?.progress;
    const length = buf === this.#pending ? this.#pendingLen : this.#filling.get(buf);
    if (!progress || length === undefined) return;
    let prefix = length;
    for (const r of this.#fills.get(buf) ?? []) if (!r.done) prefix = Math.min(prefix, r.at);
    progress.call(this.#hasher, buf, prefix);
  }

  /** Hands the last shard's newly filled bytes to its stream. */
  #pumpLast(): void {
    const last = this.#last;
    if (!last || last.buf !== this.#pending) return;
    let prefix = this.#pendingLen;
    for (const r of this.#fills.get(last.buf) ?? []) if (!r.done) prefix = Math.min(prefix, r.at);
    // (pieces of at least 2 MiB, or a 16th of the cap for small caps)
    if (prefix - last.hashed < Math.min(2 << 20, Math.max(64, this.#cap >> 4))) return;
    const piece = last.buf.subarray(last.hashed, prefix);
    last.hashed = prefix;
    last.stream.update(piece, piece.length).catch((e) => this.#asyncError ??= e);
  }

  /** Runs `work` (a shard's write and hash) once the regions reserved in `buf` are filled. */
  #afterFills(buf: Uint8Array, work: () => Promise<void>): Promise<void> {
    const fills = this.#fills.get(buf);
    if (!fills) return work();
    this.#awaitingFills.add(buf);
    return Promise.all(fills.map((f) => f.filled)).then(
      () => {
        this.#fills.delete(buf); // (kept until now for the filled prefix, see #progress)
        this.#awaitingFills.delete(buf);
        return work();
      },
      (e) => {
        this.#fills.delete(buf);
        this.#awaitingFills.delete(buf);
        this.#urgedEarly.delete(buf);
        this.#asyncError ??= e;
      },
    );
  }

  /** Asks the hasher to start `buf`'s batch now, or as soon as its hash is queued. */
  #urge(buf: Uint8Array): void {
    if (this.#awaitingFills.has(buf)) this.#urgedEarly.add(buf);
    this.#hasher?.urge(buf);
  }

  /**
   * An out-of-band tensor larger than a shard buffer: collected a buffer at a time (pieces of
   * the rotation's size; filled in place, pieces of {@link streamPieceBytes}), each piece
   * written at its offset and hashed by `stream`, in order, once its regions are filled, while
   * the next fills; the pending shard keeps its buffer.
   */
  async #streamedOutOfBand(
    record: CacheRecord,
    encode: (c: Uint8Array) => Uint8Array,
    check: (len: number) => void,
    stream: ShardStreamHasher,
  ): Promise<TensorSink> {
    const n = record.nbytes, name = record.name;
    const shard = this.#ownShard(record);
    const handOff = this.#pieceWriter(await this.#out.create(shard.dataPath), stream, shard);
    const inPlace = this.inPlacePieceBytes(record.shape, record.dtype as DType);
    const piece = inPlace || this.#cap;
    let buf = await this.#nextFree();
    let fill = 0, written = 0;
    const nextPiece = async () => {
      handOff(buf, fill, false);
      buf = await this.#nextFree();
      fill = 0;
    };
    return {
      write: async (chunk) => {
        let data = encode(chunk);
        check(data.length);
        written += data.length;
        while (data.length) {
          if (fill === piece) await nextPiece();
          const take = Math.min(piece - fill, data.length);
          buf.set(data.subarray(0, take), fill);
          fill += take;
          data = data.subarray(take);
        }
      },
      reservePiece: inPlace
        ? async (bytes, filled) => {
          if (bytes > piece) {
            throw new Error(
              `tensor ${name}: a region of ${bytes} bytes, a piece holds ${piece}`,
            );
          }
          check(bytes);
          written += bytes;
          if (fill + bytes > piece) await nextPiece();
          this.#addFill(buf, fill, filled);
          fill += bytes;
          return buf.subarray(fill - bytes, fill);
        }
        : undefined,
      end: () => {
        if (written !== n) throw new Error(`tensor ${name}: got ${written} bytes, expected ${n}`);
        handOff(buf, fill, true);
        this.stats.bytesWritten += n;
        this.#busy = false;
        return Promise.resolve();
      },
    };
  }

  /**
   * Hands off the pieces of a streamed out-of-band shard (see {@link #streamedOutOfBand}): each,
   * once the regions reserved in it and in the pieces before it are filled, is written to `file`
   * after the previous piece and hashed by `stream` after it, taking the place of the pending
   * shard's buffer in the rotation meanwhile; the last one closes the file and sets the md5.
   */
  #pieceWriter(
    file: FileSink,
    stream: ShardStreamHasher,
    shard: ShardRecord,
  ): (piece: Uint8Array, len: number, last: boolean) => void {
    let filled: Promise<unknown> = Promise.resolve(); // the pieces so far, filled
    let writes: Promise<void> = Promise.resolve(); // piece writes, in file order
    let hashes: Promise<void> = Promise.resolve(); // piece hashes, in order
    let fileError: unknown;
    return (piece, len, last) => {
      const ready = filled = filled.then(() => this.#fillsOf(piece));
      this.#writing++;
      const wrote = writes = writes.then(() => ready).then(async () => {
        if (fileError) return;
        const t0 = performance.now();
        try {
          await file.write(piece.subarray(0, len));
          if (last) await file.close();
        } catch (e) {
          fileError = e;
        }
        this.stats.writeMs += performance.now() - t0;
      });
      const hashed = hashes = hashes.then(() => ready).then(() => stream.update(piece, len));
      const work = (async () => {
        try {
          await Promise.all([wrote, hashed]);
          if (fileError) throw fileError;
          if (last) shard.md5sum = await stream.digest();
        } catch (e) {
          this.#asyncError ??= e;
        } finally {
          this.#writing--;
        }
      })();
      this.#release(piece, work);
    };
  }

  /** Settles once the regions reserved in `buf` are filled (and forgets them). */
  #fillsOf(buf: Uint8Array): Promise<unknown> {
    const fills = this.#fills.get(buf);
    this.#fills.delete(buf);
    return fills ? Promise.all(fills.map((f) => f.filled)) : Promise.resolve();
  }

  /** Writes a whole tensor given as one buffer. */
  async add(name: string, shape: readonly number[], dtype: DType, data: Uint8Array): Promise<void> {
    const s = await this.begin(name, shape, dtype);
    await s.write(data);
    await s.end();
  }

  #ensurePending(size: number): void {
    if (this.#pending.length >= size) return;
    if (this.#rotate) throw new Error(`unreachable: pending shard of ${size} bytes over the cap`);
    const cap = Math.max(size, Math.min(this.#cap, Math.max(1 << 20, this.#pending.length * 2)));
    const next = new Uint8Array(cap);
    next.set(this.#pending.subarray(0, this.#pendingLen));
    this.#pending = next;
  }

  #encode(chunk: Uint8Array): Uint8Array {
    if (chunk.length % 4 !== 0) throw new Error("float32 data must come in whole elements");
    const n = chunk.length / 4;
    if (this.#encodeBuf.length < n * 2) this.#encodeBuf = new Uint8Array(n * 2);
    const src = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const dst = new DataView(this.#encodeBuf.buffer);
    for (let i = 0; i < n; i++) dst.setUint16(i * 2, f32BitsToBf16Storage(src.getUint32(i * 4, true)), true);
    return this.#encodeBuf.subarray(0, n * 2);
  }

  async #commit(): Promise<void> {
    if (this.#pendingLen > 0) {
      const layout = this.#layout;
      if (layout && this.#pendingShard !== this.#counter) {
        throw new Error(
          `TensorCacheWriter: the pending shard would be shard ${this.#counter}, the layout's is ${this.#pendingShard}`,
        );
      }
      if (layout && layout.shardSizes[this.#counter] !== this.#pendingLen) {
        throw new Error(
          `TensorCacheWriter: the pending shard ${this.#counter} holds ${this.#pendingLen} bytes, the layout's ${
            layout.shardSizes[this.#counter]
          }`,
        );
      }
      const path = `params_shard_${this.#counter++}.bin`;
      const shard: ShardRecord = {
        dataPath: path,
        format: "raw-shard",
        nbytes: this.#pendingLen,
        records: this.#pendingRecords,
        md5sum: "",
      };
      this.#shards.push(shard);
      this.stats.bytesWritten += this.#pendingLen;
      if (this.#rotate) {
        const buf = this.#pending;
        const len = this.#pendingLen;
        if (!this.#hasher) {
          const t0 = performance.now();
          shard.md5sum = createHash("md5").update(buf.subarray(0, len)).digest("hex");
          this.stats.md5Ms += performance.now() - t0;
        }
        const last = this.#last?.buf === buf ? this.#last : undefined;
        this.#last = undefined;
        this.#filling.set(buf, len);
        this.#release(
          buf,
          this.#afterFills(buf, () => {
            this.#filling.delete(buf);
            // (the last shard: the rest of its stream, once filled)
            const hash = last && (async () => {
              await last.stream.update(buf.subarray(last.hashed, len), len - last.hashed);
              return await last.stream.digest();
            })();
            return this.#writeShared(path, buf, len, shard, hash);
          }),
        );
        // the next buffer is free once its shard is out
        this.#pending = await this.#nextFree();
        this.#startLast();
      } else {
        const data = this.#pending.subarray(0, this.#pendingLen);
        const t0 = performance.now();
        const file = await this.#out.create(path);
        await file.write(data);
        await file.close();
        const t1 = performance.now();
        shard.md5sum = createHash("md5").update(data).digest("hex");
        this.stats.writeMs += t1 - t0;
        this.stats.md5Ms += performance.now() - t1;
      }
    }
    this.#pendingLen = 0;
    this.#pendingRecords = [];
  }

  async #writeShared(
    path: string,
    buf: Uint8Array,
    len: number,
    shard: ShardRecord,
    streamed?: Promise<string>,
  ): Promise<void> {
    this.#writing++;
    try {
      // (hashed by the hasher now, unless streamed while it filled)
      const hash = streamed ?? this.#hasher?.hash(buf, len);
      hash?.catch(() => {}); // (awaited below, after the write)
      if (!streamed && (this.#counter >= this.#expectedShards - 1 || this.#urgedEarly.delete(buf))) {
        this.#hasher?.urge(buf); // (near the end, or needed back while its regions were filled)
      }
      const t0 = performance.now();
      const file = await this.#out.create(path);
      await file.write(buf.subarray(0, len));
      await file.close();
      this.stats.writeMs += performance.now() - t0;
      if (hash) shard.md5sum = await hash;
    } catch (e) {
      this.#asyncError ??= e;
    } finally {
      this.#writing--;
    }
  }

  /**
   * Commits the last shard and writes `tensor-cache.json` and `ndarray-cache.json` (plus the
   * `-b16` side files when a float32 tensor was written). `totalParamNum` is the
   * BitsPerParam denominator. Returns the cache object.
   */
  async finish(totalParamNum: number, fileNames: CacheFileNames = DEFAULT_CACHE_FILES): Promise<TensorCache> {
    if (this.#busy || this.#beside) throw new Error("TensorCacheWriter: a tensor is still open");
    await this.#commit();
    for (const b of this.#shared) this.#urge(b);
    await Promise.all(this.#inflight.values());
    if (this.#asyncError) throw this.#asyncError;
    const cache: TensorCache = {
      metadata: {
        ParamSize: this.stats.paramSize,
        ParamBytes: this.stats.paramBytes,
        BitsPerParam: this.stats.paramBytes * 8 / totalParamNum,
      },
      records: this.#shards,
    };
    const text = cacheJsonText(cache);
    for (const f of fileNames.main) await this.#out.writeTextFile(f, text);
    if (this.stats.hasFloat32) {
      const b16 = cacheJsonText(cache, true);
      for (const f of fileNames.b16) await this.#out.writeTextFile(f, b16);
    }
    return cache;
  }
}
