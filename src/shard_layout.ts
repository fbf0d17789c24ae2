/**
 * The shard layout of a tensor cache, as TVM's `tvmjs.dump_tensor_cache` makes it: tensors in
 * emission order are appended to a pending shard until the next one would reach the cap; a
 * tensor of at least half the cap that does not fit goes out of band, into a shard of its own
 * that takes the next index at once (the pending shard takes its index when it is committed).
 * One rule ({@link placeTensor}), used by the plan ({@link layoutShards}, for the dry run and
 * for the writer, which follows the plan's placement) and by a writer without a plan.
 *
 * @module
 */
import { type DType, itemSize } from "./dtype.ts";

/** Default shard cap: 32 MiB (`dump_tensor_cache`'s `shard_cap_mb=32`). */
export const SHARD_CAP = 32 * 1024 * 1024;

/**
 * Bytes a tensor takes on disk (float32 is stored as bf16).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { storedBytes } from "./shard_layout.ts";
 * assert.equal(storedBytes([2, 3], "float32"), 12);
 * ```
 */
export function storedBytes(shape: readonly number[], dtype: DType): number {
  const n = shape.reduce((a, b) => a * b, 1);
  return n * (dtype === "float32" ? 2 : itemSize(dtype));
}

/**
 * Where the next tensor goes: appended to the pending shard, appended after the pending shard
 * is committed (`commit`), or out of band, into a shard of its own (`own`).
 */
export type Placement = "append" | "commit" | "own";

/**
 * `dump_tensor_cache`'s rule for the next tensor of `nbytes` bytes when the pending shard holds
 * `pendingBytes` (thresholds use `>=`: exactly the cap flushes, exactly half the cap is out of
 * band; tvm/python/tvm/contrib/tvmjs.py `dump_tensor_cache`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { placeTensor } from "./shard_layout.ts";
 * assert.deepEqual([placeTensor(60, 39, 100), placeTensor(60, 40, 100), placeTensor(60, 50, 100)], [
 *   "append",
 *   "commit",
 *   "own",
 * ]);
 * ```
 */
export function placeTensor(pendingBytes: number, nbytes: number, cap: number): Placement {
  if (pendingBytes + nbytes < cap) return "append";
  return 2 * nbytes >= cap ? "own" : "commit";
}

/** A shard layout: where each tensor goes and how large each shard is. */
export interface ShardLayout {
  /** Per tensor, in emission order: shard index and byte offset in the shard. */
  placement: [shard: number, offset: number][];
  /** Shard file sizes, by index. */
  shardSizes: number[];
  /** By shard index: whether the shard holds one out-of-band tensor (written when it ends). */
  outOfBand: boolean[];
}

/**
 * The shard layout `dump_tensor_cache` produces for tensors of the given on-disk sizes, in
 * emission order (see {@link placeTensor}). Pure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutShards } from "./shard_layout.ts";
 * const MiB = 1 << 20;
 * // the 250 MiB tensor goes out of band and takes shard 0; the others share shard 1
 * assert.deepEqual(layoutShards([MiB, 250 * MiB, MiB]), {
 *   placement: [[1, 0], [0, 0], [1, MiB]],
 *   shardSizes: [250 * MiB, 2 * MiB],
 *   outOfBand: [true, false],
 * });
 * ```
 */
export function layoutShards(sizes: readonly number[], cap: number = SHARD_CAP): ShardLayout {
  const placement: [number, number][] = [];
  const shardSizes: number[] = [];
  const outOfBand: boolean[] = [];
  let pending: number[] = [];
  let pendingBytes = 0;
  const commit = () => {
    if (pendingBytes > 0) {
      for (const i of pending) placement[i][0] = shardSizes.length;
      outOfBand.push(false);
      shardSizes.push(pendingBytes);
    }
    pending = [];
    pendingBytes = 0;
  };
  sizes.forEach((n, i) => {
    const where = placeTensor(pendingBytes, n, cap);
    if (where === "own") {
      placement[i] = [shardSizes.length, 0];
      outOfBand.push(true);
      shardSizes.push(n);
      return;
    }
    if (where === "commit") commit();
    placement[i] = [-1, pendingBytes];
    pending.push(i);
    pendingBytes += n;
  });
  commit(); // records of a never-committed empty pending shard keep shard -1 (tvmjs drops them)
  return { placement, shardSizes, outOfBand };
}

/** Alignment of direct I/O writes (file offset and length). */
const IO_ALIGN = 4096;

/**
 * Bytes of each piece of an out-of-band tensor of `nbytes` bytes in `rows` rows that is larger
 * than a shard buffer and filled in place: the most whole rows a buffer of `cap` bytes holds,
 * in runs of rows that are also whole multiples of 4096 bytes (so that every piece is written
 * at an aligned file offset, with direct I/O) where a buffer holds such a run; 0 when a row is
 * larger than a buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { streamPieceBytes } from "./shard_layout.ts";
 * const MiB = 1 << 20;
 * // rows of 2048 bytes fill a buffer; rows of 1536 bytes come in runs of 8 (12288 bytes)
 * assert.equal(streamPieceBytes(8192 * 2048, 8192, 32 * MiB), 32 * MiB);
 * assert.equal(streamPieceBytes(128256 * 1536, 128256, 32 * MiB), 2730 * 12288);
 * // no run of whole rows is a multiple of 4096 within the buffer: whole rows only
 * assert.equal(streamPieceBytes(10 * 4097, 10, 3 * 4097), 3 * 4097);
 * assert.equal(streamPieceBytes(4 * 5000, 4, 4000), 0);
 * ```
 */
export function streamPieceBytes(nbytes: number, rows: number, cap: number): number {
  const rowBytes = nbytes / rows;
  if (!Number.isInteger(rowBytes) || rowBytes > cap) return 0;
  const gcd = (a: number, b: number): number => b === 0 ? a : gcd(b, a % b);
  const run = rowBytes / gcd(rowBytes, IO_ALIGN) * IO_ALIGN; // (lcm)
  const unit = run <= cap ? run : rowBytes;
  return Math.floor(cap / unit) * unit;
}
