/**
 * Reusable byte buffers that grow (to at least twice their size, so that a run of growing
 * requests allocates a few times only).
 *
 * @module
 */

/**
 * Byte buffers by key, reused and grown on demand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GrowableBuffers } from "./buffers.ts";
 * const bufs = new GrowableBuffers();
 * const a = bufs.get("x", 100);
 * assert.equal(a.length, 100);
 * assert.equal(bufs.get("x", 50).buffer, a.buffer); // (reused)
 * assert.equal(bufs.get("x", 150).buffer.byteLength, 200); // (grown to twice the old size)
 * ```
 */
export class GrowableBuffers {
  readonly #bufs = new Map<string, ArrayBuffer>();

  /** A view of `bytes` bytes of buffer `key` (its contents are not kept across growth). */
  get(key: string, bytes: number): Uint8Array {
    let b = this.#bufs.get(key);
    if (!b || b.byteLength < bytes) {
      b = new ArrayBuffer(Math.max(bytes, b ? Math.min(b.byteLength * 2, bytes * 2) : bytes));
      this.#bufs.set(key, b);
    }
    return new Uint8Array(b, 0, bytes);
  }
}
