/**
 * Direct reads of local files: positional reads with synchronous handles, into any memory
 * (e.g. a kernel's linear memory), by whichever thread runs them. Used where a store offers
 * a local path for a file (`SourceStore.localPath`). Self-contained functions (no imports, no
 * captured variables): the kernel workers run them too (see `startWorker`).
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any

/**
 * A file range: local path, byte offset, length; or, with `stride` and `count`, `count`
 * segments of `length` bytes, the i-th at `offset + i * stride` (e.g. some columns of every row).
 */
export type FileRange = [path: string, offset: number, length: number, stride?: number, count?: number];

/**
 * Fills `into` with bytes `[from, from + into.length)` of the concatenation of `ranges`,
 * opening files synchronously as needed (handles cached in `files`, closed by
 * {@link closeFiles}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeFiles, readRanges } from "./direct_read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]));
 * const files = new Map();
 * const into = new Uint8Array(3);
 * readRanges(files, [[path, 1, 2], [path, 6, 2]], 1, into); // bytes 2, 6, 7
 * assert.deepEqual([...into], [2, 6, 7]);
 * // segments of 2 bytes every 3 bytes from byte 1: 1 2, 4 5, 7 (the window's last byte)
 * const five = new Uint8Array(5);
 * readRanges(files, [[path, 1, 2, 3, 3]], 0, five);
 * closeFiles(files);
 * assert.deepEqual([...five], [1, 2, 4, 5, 7]);
 * await Deno.remove(path);
 * ```
 */
export function readRanges(
  files: Map<string, any>,
  ranges: readonly FileRange[],
  from: number,
  into: Uint8Array,
): void {
  let at = 0, filled = 0;
  for (const [path, offset, length, stride = length, count = 1] of ranges) {
    const total = length * count;
    const lo = Math.max(from + filled, at), hi = Math.min(from + into.length, at + total);
    if (lo < hi) {
      let f = files.get(path);
      if (!f) files.set(path, f = (globalThis as any).Deno.openSync(path, { read: true }));
      // the segments overlapping [lo, hi)
      for (let i = Math.floor((lo - at) / length); at + i * length < hi; i++) {
        const sLo = Math.max(lo, at + i * length), sHi = Math.min(hi, at + (i + 1) * length);
        const start = offset + i * stride + (sLo - at - i * length);
        f.seekSync(start, 0);
        const part = into.subarray(filled, filled + sHi - sLo);
        let done = 0;
        while (done < part.length) {
          const n = f.readSync(part.subarray(done));
          if (n === null || n === 0) throw new Error(`${path}: unexpected end of file at ${start + done}`);
          done += n;
        }
        filled += sHi - sLo;
      }
    }
    at += total;
    if (filled === into.length) break;
  }
}

/** Closes the handles {@link readRanges} opened. */
export function closeFiles(files: Map<string, any>): void {
  for (const f of files.values()) f.close();
  files.clear();
}
