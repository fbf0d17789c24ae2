/**
 * The MD5 driver over the kernels' `md5_blocks` (scalar) and `md5_blocks_x4` (four streams,
 * one per SIMD lane): several streams are hashed together in slices, four at a time while at
 * least two have whole blocks left, then each stream's tail is padded and finished.
 *
 * {@link md5Streams} is self-contained (no imports, no captured variables) so that workers
 * started from a data: URL can carry its source text.
 *
 * @module
 */

/** The exports {@link md5Streams} uses. */
export interface Md5Exports {
  /** Linear memory. */
  readonly memory: WebAssembly.Memory;
  /** Scalar compression of whole blocks. */
  md5_blocks(state: number, data: number, nblocks: number): void;
  /** Four-stream compression of whole blocks. */
  md5_blocks_x4(states: number, p0: number, p1: number, p2: number, p3: number, nblocks: number): void;
}

/**
 * The multi-stream md5 loop: hashes `full[i]` bytes (whole blocks) of each stream `i` into its
 * state `states[i]`, four streams at a time while at least two have whole blocks left (idle
 * lanes repeat lane 0's data into a state that is thrown away), at most `step` bytes a stream a
 * call; `at(i, from, bytes, lane)` gives the memory offset of bytes `[from, from + bytes)` of
 * stream `i` (copied in for `lane` where needed). States at `scratch` (192 bytes, 16-aligned).
 * Self-contained.
 *
 * @example
 * ```ts ignore
 * import { md5Blocks } from "./md5.ts";
 * md5Blocks(exports, scratch, [state], [64], 1 << 20, () => dataAt); // one block into state
 * ```
 */
export function md5Blocks(
  ex: Md5Exports,
  scratch: number,
  states: readonly Uint32Array[],
  full: readonly number[],
  step: number,
  at: (i: number, from: number, bytes: number, lane: number) => number,
): void {
  const done = full.map(() => 0); // bytes hashed per stream
  for (;;) {
    const live: number[] = [];
    for (let i = 0; i < full.length && live.length < 4; i++) if (done[i] < full[i]) live.push(i);
    if (live.length === 0) break;
    let bytes = step;
    for (const i of live) bytes = Math.min(bytes, full[i] - done[i]);
    const ptr = live.map((i, lane) => at(i, done[i], bytes, lane));
    const st = new Uint32Array(ex.memory.buffer, scratch, 16);
    if (live.length === 1) {
      st.set(states[live[0]]);
      ex.md5_blocks(scratch, ptr[0], bytes / 64);
      states[live[0]].set(st.subarray(0, 4));
    } else {
      for (let l = 0; l < 4; l++) st.set(states[live[l < live.length ? l : 0]], 4 * l);
      const p = [0, 1, 2, 3].map((l) => ptr[l < live.length ? l : 0]);
      ex.md5_blocks_x4(scratch, p[0], p[1], p[2], p[3], bytes / 64);
      for (let l = 0; l < live.length; l++) states[live[l]].set(st.subarray(4 * l, 4 * l + 4));
    }
    for (const i of live) done[i] += bytes;
  }
}

/**
 * The multi-stream md5 driver of {@link md5Streams} and {@link md5InPlace}: the whole blocks of
 * streams of `lengths` bytes through {@link md5Blocks} (`step` and `at` as there), then each
 * stream's last partial block, `tail(i, from)`, through {@link md5Digest}. States at `scratch`
 * (192 bytes, 16-aligned). Self-contained, after `md5Blocks` and `md5Digest`.
 *
 * @example
 * ```ts ignore
 * import { md5Drive } from "./md5.ts";
 * md5Drive(exports, scratch, [0], 1 << 20, () => 0, () => new Uint8Array(0));
 * // ["d41d8cd98f00b204e9800998ecf8427e"]
 * ```
 */
export function md5Drive(
  ex: Md5Exports,
  scratch: number,
  lengths: readonly number[],
  step: number,
  at: (i: number, from: number, bytes: number, lane: number) => number,
  tail: (i: number, from: number) => Uint8Array,
): string[] {
  const states = lengths.map(() => new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]));
  const full = lengths.map((n) => n - (n % 64));
  md5Blocks(ex, scratch, states, full, step, at);
  return lengths.map((length, i) => {
    const rest = new Uint8Array(64);
    rest.set(tail(i, full[i]));
    return md5Digest(ex, scratch, { state: states[i], length, tail: rest });
  });
}

/** One stream's piece for {@link md5Lanes}. */
export interface Md5LanePiece {
  /** The stream's state words so far (4 numbers). */
  state: number[];
  /** Bytes of the stream before this piece (a multiple of 64). */
  before: number;
  /** Memory offset of the piece. */
  ptr: number;
  /** Bytes of the piece (a multiple of 64 unless `final`). */
  length: number;
  /** Whether the piece ends the stream (its digest is returned). */
  final: boolean;
}

/**
 * Hashes the next piece of each of several md5 streams whose state travels with the call (so
 * that any worker can take the next pieces), where the pieces lie in the module's memory, four
 * streams at a time (see {@link md5Blocks}): returns each stream's new state, and the digest of
 * those whose piece is `final`. 192 bytes of scratch at `scratch`. Self-contained, after
 * `md5Blocks` and `md5Digest`.
 *
 * @example
 * ```ts ignore
 * import { md5Lanes } from "./md5.ts";
 * const init = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
 * md5Lanes(exports, scratch, [{ state: init, before: 0, ptr: at, length: 0, final: true }]);
 * // [{ state: init, hex: "d41d8cd98f00b204e9800998ecf8427e" }]
 * ```
 */
export function md5Lanes(
  ex: Md5Exports,
  scratch: number,
  pieces: readonly Md5LanePiece[],
): { state: number[]; hex?: string }[] {
  for (const p of pieces) {
    if (p.before % 64 !== 0 || (!p.final && p.length % 64 !== 0)) {
      throw new Error(`md5 lanes: a piece of ${p.length} bytes after ${p.before} is not whole blocks`);
    }
  }
  const states = pieces.map((p) => Uint32Array.from(p.state));
  const full = pieces.map((p) => p.length - (p.length % 64));
  md5Blocks(ex, scratch, states, full, 1 << 20, (i, from) => pieces[i].ptr + from);
  return pieces.map((p, i) => {
    if (!p.final) return { state: [...states[i]] };
    const tail = new Uint8Array(64);
    tail.set(new Uint8Array(ex.memory.buffer, p.ptr + full[i], p.length - full[i]));
    return {
      state: [...states[i]],
      hex: md5Digest(ex, scratch, { state: states[i], length: p.before + p.length, tail }),
    };
  });
}

/**
 * Lowercase hex md5 of each of `datas`, using linear memory from byte `base` (16-aligned) on;
 * memory grows to `base + 64 + 4 * sliceBytes + 128` bytes if smaller. `sliceBytes` (a multiple
 * of 64) bounds the bytes copied in per stream and call. Self-contained, after {@link md5Drive}
 * and {@link md5Digest}.
 *
 * @example
 * ```ts ignore
 * import { md5Streams } from "./md5.ts";
 * md5Streams(exports, base, [new Uint8Array(0)]); // ["d41d8cd98f00b204e9800998ecf8427e"]
 * ```
 */
export function md5Streams(
  ex: Md5Exports,
  base: number,
  datas: readonly Uint8Array[],
  sliceBytes: number = 1 << 18,
): string[] {
  const slice = Math.max(64, sliceBytes & ~63);
  const need = base + 64 + 4 * slice + 128;
  const have = ex.memory.buffer.byteLength;
  if (need > have) ex.memory.grow(Math.ceil((need - have) / 65536));
  const pData = base + 64;
  return md5Drive(ex, base, datas.map((d) => d.length), slice, (i, from, bytes, lane) => {
    const p = pData + lane * slice;
    new Uint8Array(ex.memory.buffer, p, bytes).set(datas[i].subarray(from, from + bytes));
    return p;
  }, (i, from) => datas[i].subarray(from));
}

/**
 * Lowercase hex md5 of `lengths[i]` bytes at offset `ptrs[i]` of the module's memory each,
 * hashed where they lie (four streams at a time while at least two have whole blocks left);
 * 192 bytes of scratch at `scratch` (16-aligned). Self-contained, after {@link md5Drive}, `md5Blocks` and
 * {@link md5Digest}.
 *
 * @example
 * ```ts ignore
 * import { md5InPlace } from "./md5.ts";
 * md5InPlace(exports, scratch, [dataAt], [0]); // ["d41d8cd98f00b204e9800998ecf8427e"]
 * ```
 */
export function md5InPlace(
  ex: Md5Exports,
  scratch: number,
  ptrs: readonly number[],
  lengths: readonly number[],
): string[] {
  // (calls of at most 1 MiB a stream: a long first call would run all in baseline code)
  return md5Drive(
    ex,
    scratch,
    lengths,
    1 << 20,
    (i, from) => ptrs[i] + from,
    (i, from) => new Uint8Array(ex.memory.buffer, ptrs[i] + from, lengths[i] - from),
  );
}

/** State of one md5 stream hashed piece by piece ({@link md5Update}, {@link md5Digest}). */
export interface Md5StreamState {
  /** The four state words. */
  state: Uint32Array;
  /** Bytes taken so far. */
  length: number;
  /** Bytes of the last, incomplete block (the first `length % 64`). */
  tail: Uint8Array;
}

/**
 * A new md5 stream state.
 *
 * @example
 * ```ts
 * import { md5StreamState } from "./md5.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(md5StreamState().length, 0);
 * ```
 */
export function md5StreamState(): Md5StreamState {
  return {
    state: new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]),
    length: 0,
    tail: new Uint8Array(64),
  };
}

/**
 * Hashes `data` into the stream `st` (scalar kernel), using linear memory from byte `base` on
 * (grown to `base + 64 + sliceBytes` if smaller). Self-contained, like {@link md5Streams}.
 *
 * @example
 * ```ts ignore
 * import { md5Digest, md5StreamState, md5Update } from "./md5.ts";
 * const st = md5StreamState();
 * md5Update(exports, base, st, new TextEncoder().encode("ab"));
 * md5Update(exports, base, st, new TextEncoder().encode("c"));
 * md5Digest(exports, base, st); // "900150983cd24fb0d6963f7d28e17f72"
 * ```
 */
export function md5Update(
  ex: Md5Exports,
  base: number,
  st: Md5StreamState,
  data: Uint8Array,
  sliceBytes: number = 1 << 20,
): void {
  const slice = Math.max(64, sliceBytes & ~63);
  const need = base + 64 + slice;
  const have = ex.memory.buffer.byteLength;
  if (need > have) ex.memory.grow(Math.ceil((need - have) / 65536));
  const pState = base, pData = base + 64;
  let at = 0;
  let tailLen = st.length % 64;
  st.length += data.length;
  const words = new Uint32Array(ex.memory.buffer, pState, 4);
  words.set(st.state);
  if (tailLen > 0) {
    const take = Math.min(64 - tailLen, data.length);
    st.tail.set(data.subarray(0, take), tailLen);
    tailLen += take;
    at = take;
    if (tailLen < 64) return; // (state unchanged)
    new Uint8Array(ex.memory.buffer, pData, 64).set(st.tail);
    ex.md5_blocks(pState, pData, 1);
  }
  while (data.length - at >= 64) {
    const bytes = Math.min(slice, (data.length - at) & ~63);
    new Uint8Array(ex.memory.buffer, pData, bytes).set(data.subarray(at, at + bytes));
    ex.md5_blocks(pState, pData, bytes / 64);
    at += bytes;
  }
  st.tail.set(data.subarray(at));
  st.state.set(new Uint32Array(ex.memory.buffer, pState, 4));
}

/**
 * Finishes the stream `st`: lowercase hex md5 of everything given to {@link md5Update}.
 *
 * @example
 * ```ts ignore
 * import { md5Digest, md5StreamState } from "./md5.ts";
 * md5Digest(exports, base, md5StreamState()); // "d41d8cd98f00b204e9800998ecf8427e"
 * ```
 */
export function md5Digest(ex: Md5Exports, base: number, st: Md5StreamState): string {
  const need = base + 64 + 128;
  const have = ex.memory.buffer.byteLength;
  if (need > have) ex.memory.grow(Math.ceil((need - have) / 65536));
  const pState = base, pData = base + 64;
  const rem = st.length % 64;
  const blocks = rem < 56 ? 1 : 2;
  const tail = new Uint8Array(ex.memory.buffer, pData, 64 * blocks);
  tail.fill(0);
  tail.set(st.tail.subarray(0, rem));
  tail[rem] = 0x80;
  const dv = new DataView(ex.memory.buffer, pData + 64 * blocks - 8, 8);
  dv.setUint32(0, (st.length * 8) >>> 0, true);
  dv.setUint32(4, Math.floor(st.length / 0x20000000), true);
  new Uint32Array(ex.memory.buffer, pState, 4).set(st.state);
  ex.md5_blocks(pState, pData, blocks);
  let h = "";
  for (const b of new Uint8Array(ex.memory.buffer, pState, 16)) h += (b < 16 ? "0" : "") + b.toString(16);
  return h;
}
