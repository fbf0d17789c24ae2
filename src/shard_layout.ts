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
