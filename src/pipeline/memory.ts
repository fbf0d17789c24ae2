/**
 * The parallel pipeline's shared memory, one object: the kernel workers' WebAssembly memory,
 * laid out once (the module's static data, then per worker a stack and working region, then
 * the shard buffers) and never grown. The worker pool runs in it, the tensor cache writer
 * collects shards in its shard buffers, the kernels write outputs straight into their place
 * in a shard (a view's offset in the memory), and shards are hashed where they lie.
 *
 * @module
 */
import { kernelsMemory, kernelsMinPages } from "../kernels/wasm.ts";

/** A worker's part of the memory: its stack, then its working bytes `[base, end)`. */
export interface WorkerRegion {
  /** Initial stack pointer (the stack grows down from here). */
  stackTop: number;
  /** First working byte (16-aligned). */
  base: number;
  /** End of the region. */
  end: number;
}

/** Sizes of a {@link PipelineMemory}. */
export interface PipelineMemoryOptions {
  /** Kernel workers (a region each). */
  workers: number;
  /** Working bytes per worker, at least (a job's work region; md5 scratch). */
  workBytes: number;
  /** Shard buffers. */
  shardBuffers: number;
  /** Bytes per shard buffer, at least (rounded up to whole pages). */
  shardBytes: number;
}

/** WebAssembly page size. */
export const PAGE = 65536;
const alignPage = (n: number) => Math.ceil(n / PAGE) * PAGE;
/** Stack of each worker's kernels instance (the module's own stack size). */
const STACK_BYTES = PAGE;
/** Working bytes the md5 messages need at least (scratch of `md5Update`'s 1 MiB slices). */
export const MD5_WORK_BYTES = (1 << 20) + 256;

/**
 * One shared memory for kernel workers and shard buffers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PipelineMemory } from "./memory.ts";
 * const m = new PipelineMemory({ workers: 2, workBytes: 4096, shardBuffers: 3, shardBytes: 100_000 });
 * assert.deepEqual(m.shardBuffers.map((b) => [b.byteOffset % 65536, b.length]), [[0, 131072], [0, 131072], [0, 131072]]);
 * assert.equal(m.offsetOf(m.shardBuffers[1].subarray(8)), m.shardBuffers[1].byteOffset + 8);
 * assert.throws(() => m.offsetOf(new Uint8Array(8)), /outside the pipeline's memory/);
 * ```
 */
export class PipelineMemory {
  /** The WebAssembly memory (shared), of the kernels module's shared flavour. */
  readonly memory: WebAssembly.Memory;
  /** Its buffer. */
  readonly buffer: SharedArrayBuffer;
  /** Each worker's stack and working region. */
  readonly regions: readonly WorkerRegion[];
  /** Shard buffers (page-aligned views, for the writer's rotation and direct I/O). */
  readonly shardBuffers: readonly Uint8Array[];

  /** Lays out a new memory for `opts`. */
  constructor(opts: PipelineMemoryOptions) {
    const regionBytes = STACK_BYTES + alignPage(Math.max(opts.workBytes, MD5_WORK_BYTES));
    const shardBytes = alignPage(opts.shardBytes);
    const regionsAt = kernelsMinPages() * PAGE; // (the module's stack and static data below)
    const shardsAt = regionsAt + opts.workers * regionBytes;
    const total = shardsAt + opts.shardBuffers * shardBytes;
    // (laid out once, never grown: no address space reserved beyond it)
    this.memory = kernelsMemory(true, total / PAGE, total / PAGE);
    this.buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    this.regions = Array.from({ length: opts.workers }, (_, i) => {
      const at = regionsAt + i * regionBytes;
      return { stackTop: at + STACK_BYTES, base: at + STACK_BYTES, end: at + regionBytes };
    });
    this.shardBuffers = Array.from(
      { length: opts.shardBuffers },
      (_, i) => new Uint8Array(this.buffer, shardsAt + i * shardBytes, shardBytes),
    );
  }

  /** Whether `view` lies in this memory. */
  holds(view: Uint8Array): boolean {
    return view.buffer === this.buffer;
  }

  /** The offset of `view` in the memory (where a kernel writes it); throws for other views. */
  offsetOf(view: Uint8Array): number {
    if (!this.holds(view)) throw new Error("a view outside the pipeline's memory");
    return view.byteOffset;
  }
}
