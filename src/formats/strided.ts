/**
 * Reads part of a strided tensor (a transposed or sliced view saved as such by `torch.save`)
 * into row-major order without loading the whole tensor: the requested rows are cut into
 * runs that are contiguous in the file (along the dimension of stride 1), near runs are read
 * together in bounded windows, and the elements are scattered to their row-major places.
 *
 * @module
 */
import type { RandomAccessFile } from "../io/types.ts";

/** A strided view of a file. */
export interface StridedTensor {
  /** Absolute file offset of element `[0, ..., 0]`. */
  readonly offset: number;
  /** Shape. */
  readonly shape: readonly number[];
  /** Element strides. */
  readonly strides: readonly number[];
  /** Bytes per element. */
  readonly item: number;
}

/** Largest window read at once. */
const WINDOW_BYTES = 8 << 20;
/** Runs closer than this are read together even when the gap is wasted. */
const MIN_GAP_BYTES = 4096;

/**
 * Fills `into` with the row-major bytes `[start, start + into.length)` of `t`.
 *
 * @example
 * ```ts
 * import { readStrided } from "./strided.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * // a 2x3 u8 matrix stored transposed (3x2 in the file: 1 2 / 3 4 / 5 6)
 * const data = new Uint8Array([1, 2, 3, 4, 5, 6]);
 * const file = { size: 6, close() {}, readAt(o: number, b: Uint8Array) { b.set(data.subarray(o, o + b.length)); return Promise.resolve(); } };
 * const out = new Uint8Array(6);
 * await readStrided(file, { offset: 0, shape: [2, 3], strides: [1, 2], item: 1 }, 0, out);
 * deepStrictEqual(Array.from(out), [1, 3, 5, 2, 4, 6]);
 * ```
 */
export async function readStrided(
  file: RandomAccessFile,
  t: StridedTensor,
  start: number,
  into: Uint8Array,
): Promise<void> {
  const rowElems = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const rowBytes = rowElems * t.item;
  const r0 = Math.floor(start / rowBytes);
  const r1 = Math.ceil((start + into.length) / rowBytes);
  if (r0 * rowBytes !== start || r1 * rowBytes !== start + into.length) {
    // not whole rows: read the enclosing rows and copy the part asked for
    const tmp = new Uint8Array((r1 - r0) * rowBytes);
    await readStrided(file, t, r0 * rowBytes, tmp);
    into.set(tmp.subarray(start - r0 * rowBytes, start - r0 * rowBytes + into.length));
    return;
  }
  const box = t.shape.length ? [r1 - r0, ...t.shape.slice(1)] : [1];
  const strides = t.shape.length ? t.strides : [1];
  const base = t.shape.length ? r0 * t.strides[0] : 0;
  await gatherBox(file, t.offset, t.item, box, strides, base, into);
}

/** Row-major strides of `shape`. */
function rowMajor(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** Gathers the box `shape` (storage strides `strides`, first element `base`) into `into`. */
async function gatherBox(
  file: RandomAccessFile,
  offset: number,
  item: number,
  shape: readonly number[],
  strides: readonly number[],
  base: number,
  into: Uint8Array,
): Promise<void> {
  const total = shape.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  // the run dimension: stride 1 and the longest extent (none: runs of one element)
  let runDim = -1;
  for (let d = 0; d < shape.length; d++) {
    if (strides[d] === 1 && shape[d] > 1 && (runDim < 0 || shape[d] > shape[runDim])) runDim = d;
  }
  const runLen = runDim < 0 ? 1 : shape[runDim];
  const outStrides = rowMajor(shape);
  const outStep = runDim < 0 ? 1 : outStrides[runDim];
  const nRuns = total / runLen;
  const src = new Float64Array(nRuns);
  const dst = new Float64Array(nRuns);
  const idx = new Array<number>(shape.length).fill(0);
  let s = base, o = 0, sorted = true;
  for (let r = 0; r < nRuns; r++) {
    src[r] = s;
    dst[r] = o;
    if (r > 0 && s < src[r - 1]) sorted = false;
    // next index (row-major over the dimensions other than the run dimension)
    for (let d = shape.length - 1; d >= 0; d--) {
      if (d === runDim) continue;
      idx[d]++;
      s += strides[d];
      o += outStrides[d];
      if (idx[d] < shape[d]) break;
      s -= strides[d] * shape[d];
      o -= outStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
  // runs in file order, so that near ones share a window
  const order = Array.from({ length: nRuns }, (_, i) => i);
  if (!sorted) order.sort((a, b) => src[a] - src[b]);
  const runBytes = runLen * item;
  const gap = Math.max(runBytes, MIN_GAP_BYTES);
  let buf = new Uint8Array(0);
  for (let i = 0; i < nRuns;) {
    const first = order[i];
    const winStart = src[first] * item;
    let winEnd = winStart + runBytes;
    let j = i + 1;
    while (j < nRuns) {
      const st = src[order[j]] * item;
      const end = Math.max(winEnd, st + runBytes);
      if (st - winEnd > gap || end - winStart > Math.max(WINDOW_BYTES, runBytes)) break;
      winEnd = end;
      j++;
    }
    if (buf.length < winEnd - winStart) buf = new Uint8Array(winEnd - winStart);
    const win = buf.subarray(0, winEnd - winStart);
    await file.readAt(offset + winStart, win);
    for (let k = i; k < j; k++) {
      const r = order[k];
      const from = src[r] * item - winStart;
      const to = dst[r] * item;
      if (outStep === 1) into.set(win.subarray(from, from + runBytes), to);
      else {
        for (let e = 0; e < runLen; e++) {
          const a = from + e * item, b = to + e * outStep * item;
          for (let x = 0; x < item; x++) into[b + x] = win[a + x];
        }
      }
    }
    i = j;
  }
}
