/**
 * Page-aligned buffers for direct I/O. `O_DIRECT` writes need the memory address, the file
 * offset and the length aligned to the device's block size; JavaScript cannot choose the
 * address of an `ArrayBuffer` (V8's large buffers start 16 bytes past a page boundary), but a
 * WebAssembly memory always starts on a page boundary.
 *
 * @module
 */

const WASM_PAGE = 65536;

/**
 * A zeroed buffer of at least `bytes` bytes (rounded up to 64 KiB) starting on a page boundary:
 * the buffer of a WebAssembly memory, shared (a `SharedArrayBuffer`) when `shared`. Falls back to
 * a plain buffer where WebAssembly memories cannot be made.
 *
 * @example
 * ```ts
 * import { alignedBuffer } from "./aligned.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * const b = alignedBuffer(100_000, false);
 * deepStrictEqual(b.byteLength, 131072);
 * ```
 */
export function alignedBuffer(bytes: number, shared: boolean): ArrayBuffer | SharedArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared }).buffer;
  } catch {
    return shared ? new SharedArrayBuffer(pages * WASM_PAGE) : new ArrayBuffer(pages * WASM_PAGE);
  }
}
