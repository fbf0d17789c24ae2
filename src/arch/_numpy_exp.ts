/**
 * numpy's float32 `np.exp` as it runs on x86-64 (the AVX2+FMA3 and AVX512F loops of
 * `numpy/core/src/umath/loops_exponent_log.dispatch.c.src`, `simd_exp_FLOAT`): Cody-Waite range
 * reduction with `k = rint(x * log2e)`, a 5th/2nd order rational approximation evaluated with
 * fused multiply-adds, then scaling by `2^k`. It is not correctly rounded (up to 2.52 ULP), so
 * reproducing MLC's rwkv5 `time_decay` (`np.exp(-np.exp(x))` in float32) bit for bit needs this
 * exact sequence of float32 operations rather than `Math.exp`. Checked against numpy 1.24 on an
 * AVX2 machine over every float16 input and random float32 inputs (tests/arch_rwkv_test.ts).
 *
 * @module
 */

const F = Math.fround;
const f32 = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0];

// npy_simd_data.h / npy_math_internal constants, as the float32 values the loops load
const LOG2E = f32(0x3fb8aa3b); // NPY_LOG2Ef
const MAGIC = f32(0x4b400000); // NPY_RINT_CVT_MAGICf = 0x1.8p23
const C1 = F(-6.93145752e-1); // NPY_CODY_WAITE_LOGE_2_HIGHf
const C2 = F(-1.42860677e-6); // NPY_CODY_WAITE_LOGE_2_LOWf
const P = [
  9.999999999980870924916e-01,
  7.257664613233124478488e-01,
  2.473615434895520810817e-01,
  5.114512081637298353406e-02,
  6.757896990527504603057e-03,
  5.082762527590693718096e-04,
].map(F);
const Q = [1.0, -2.742335390411667452936e-01, 2.159509375685829852307e-02].map(F);
const XMAX = F(88.72283935546875);
const XMIN = F(-103.97208404541015625);

/**
 * Single-rounding float32 `a * b + c` (the `fmadd` instruction) for float32 inputs: the product
 * is exact in double; the double sum's rounding error is recovered (TwoSum) to settle the one
 * case where rounding the double sum to float32 could differ, an exact float32 midpoint.
 *
 * @example
 * ```ts
 * import { fmaF32 } from "./_numpy_exp.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(fmaF32(1, 1, 2 ** -24) === 1, true); // 1 + 2^-24 is a tie: to even
 * ```
 */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const e = (p - (s - bb)) + (c - bb);
  const r = F(s);
  if (e !== 0) {
    const d = s - r;
    const other = r + 2 * d;
    // s sits exactly between r and `other`: the rounding error decides the side
    if (d !== 0 && F(other) === other && (d > 0) === (e > 0)) return other;
  }
  return r;
}

/**
 * `np.exp` of one float32 value, as numpy's x86-64 SIMD loop computes it.
 *
 * @example
 * ```ts
 * import { numpyExpF32 } from "./_numpy_exp.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(numpyExpF32(-1) === Math.fround(0.36787942), true); // Math.exp(-1) rounds to the next float32
 * ```
 */
export function numpyExpF32(x: number): number {
  if (x !== x) return x;
  if (x >= XMAX) return Infinity;
  if (x <= XMIN) return 0;
  let k = F(x * LOG2E);
  k = F(F(k + MAGIC) - MAGIC);
  let y = fmaF32(k, C1, x);
  y = fmaF32(k, C2, y);
  let num = fmaF32(P[5], y, P[4]);
  num = fmaF32(num, y, P[3]);
  num = fmaF32(num, y, P[2]);
  num = fmaF32(num, y, P[1]);
  num = fmaF32(num, y, P[0]);
  let den = fmaF32(Q[2], y, Q[1]);
  den = fmaF32(den, y, Q[0]);
  return F(F(num / den) * 2 ** k);
}
