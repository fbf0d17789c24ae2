/**
 * WGSL sources of the WebGPU kernels: dtype casts, group quantization, dequantization and the
 * dequantize-matmul.
 *
 * # Exactness method (why these kernels are byte-identical with the TypeScript reference)
 *
 * WGSL gives weak guarantees about floating point: `/` on f32 is only accurate to 2.5 ulp,
 * conversions to f16 (`pack2x16float`) may round either way, subnormals may be flushed to zero,
 * and `shader-f16` is often missing (it is on the llvmpipe fallback adapter). So every value
 * that ends up in a file is computed with **integer arithmetic on IEEE bit patterns** (u32 only,
 * no f16/f32 arithmetic at all):
 *
 * - `unpack` splits a float's bits into a class (zero, finite, inf, NaN), a sign, and an exact
 *   integer significand `m` and exponent `e` (value = m * 2^e; subnormals included).
 * - `round_pack` rounds an exact value `(M + sticky) * 2^E` (M an integer, `sticky` = some nonzero
 *   fraction below M's last bit) to nearest-even in a format with `p` significand bits, handling
 *   subnormals (the quantum is clamped at the minimum exponent), the carry into the exponent, and
 *   overflow to infinity. This is the single rounding routine behind every cast and division.
 * - `fdiv` divides two floats of the same format **exactly rounded**: after normalizing both
 *   significands to p bits, the integer quotient `floor(ma * 2^(p+1) / mb)` has p+2 significant
 *   bits and the remainder gives the sticky bit, which is all round-to-nearest-even needs. For
 *   f16 (p = 11) the dividend fits in 23 bits, so one native u32 division is exact; for f32
 *   (p = 24, used for bf16 and f32 model dtypes) a 26-step restoring (shift-subtract) long
 *   division produces the same quotient and remainder with 25-bit intermediates.
 *   NaN operands propagate quietened (as x86/ARM do for the reference's JS arithmetic).
 * - The element step `t = round_p(q + max_int)`, `r = round(t)` with the tie rule, then the
 *   ordered-select clamp, is done in 26-bit fixed point: |q| >= 32 decides the code directly
 *   (t stays far outside [0, 2*max_int]); otherwise q * 2^26 is exact up to a sticky bit, the
 *   sum with max_int * 2^26 fits in u32, values below 0.25 give code 0 (no rounding can reach
 *   0.5), and for the rest the p-bit rounding of t needs at most 26 fraction bits. The tie rule
 *   then compares the fraction with exactly one half.
 * - max-abs is the reference's sequential `acc = acc > v ? acc : v` on magnitudes compared as
 *   integers (monotone for non-NaN), with NaN making the comparison false. Codes pack LSB first.
 * - bf16 follows TVM's legalization: arithmetic in f32 (p = 24) and the stored scale rounded to
 *   bf16 by `(b + ((b >> 16) & 1) + 0x7fff) >> 16`, without NaN special-casing; the codes use that
 *   rounded scale, or (KN, `outputTranspose`) the unrounded f32 one.
 *
 * Only the dequantize and dequantize-matmul kernels use f32 arithmetic (their results are
 * compared with a tolerance, or are exact products of a small integer and an f16/bf16 scale).
 *
 * @module
 */
import type { DType, FloatDType } from "../dtype.ts";

/** Invocations per workgroup of every 1-D kernel. */
export const WORKGROUP = 64;
/** Batch rows handled by one dequantize-matmul pass. */
export const MATMUL_MAX_BATCH = 8;

const SOFT_FLOAT = /* wgsl */ `
struct Unp { cls: u32, s: u32, m: u32, e: i32 }

fn blen(x: u32) -> u32 { return 32u - countLeadingZeros(x); }

// Classes: 0 zero, 1 finite nonzero, 2 infinity, 3 NaN. Value = m * 2^e.
fn unpack(x: u32, p: u32, bias: i32, ebits: u32) -> Unp {
  let mb = p - 1u;
  let s = x >> (ebits + mb);
  let emax = (1u << ebits) - 1u;
  let E = (x >> mb) & emax;
  let M = x & ((1u << mb) - 1u);
  if (E == emax) { return Unp(select(2u, 3u, M != 0u), s, M, 0); }
  if (E == 0u) {
    if (M == 0u) { return Unp(0u, s, 0u, 0); }
    return Unp(1u, s, M, 1 - bias - i32(mb));
  }
  return Unp(1u, s, M | (1u << mb), i32(E) - bias - i32(mb));
}

// Round (M + sticky) * 2^E (M != 0) to nearest even with p significand bits.
fn round_pack(s: u32, M: u32, E: i32, sticky: bool, p: u32, bias: i32, ebits: u32) -> u32 {
  let mb = p - 1u;
  let sign = s << (ebits + mb);
  let emax = i32((1u << ebits) - 1u);
  let inf = u32(emax) << mb;
  let lead = E + i32(blen(M)) - 1;
  if (lead + bias >= emax) { return sign | inf; }
  let qe = max(lead, 1 - bias) - i32(mb);
  let sh = qe - E;
  var kept: u32;
  if (sh <= 0) {
    kept = M << u32(-sh);
  } else if (sh >= 33) {
    kept = 0u;
  } else {
    var k: u32;
    var rem: u32;
    var half: u32;
    if (sh == 32) {
      k = 0u;
      rem = M;
      half = 0x80000000u;
    } else {
      k = M >> u32(sh);
      rem = M & ((1u << u32(sh)) - 1u);
      half = 1u << u32(sh - 1);
    }
    let up = rem > half || (rem == half && (sticky || (k & 1u) == 1u));
    kept = k + select(0u, 1u, up);
  }
  let bits = (u32(max(lead + bias, 1) - 1) << mb) + kept;
  return sign | min(bits, inf);
}

// Correctly rounded a / b in the format (p, bias, ebits).
fn fdiv(a: u32, b: u32, p: u32, bias: i32, ebits: u32) -> u32 {
  let mb = p - 1u;
  let A = unpack(a, p, bias, ebits);
  let B = unpack(b, p, bias, ebits);
  let quiet = 1u << (mb - 1u);
  let sign = (A.s ^ B.s) << (ebits + mb);
  let inf = ((1u << ebits) - 1u) << mb;
  if (A.cls == 3u) { return a | quiet; }
  if (B.cls == 3u) { return b | quiet; }
  if (A.cls == 2u) { return select(sign | inf, inf | quiet, B.cls == 2u); }
  if (B.cls == 2u) { return sign; }
  if (B.cls == 0u) { return select(sign | inf, inf | quiet, A.cls == 0u); }
  if (A.cls == 0u) { return sign; }
  let la = blen(A.m);
  let lb = blen(B.m);
  let ma = A.m << (p - la);
  let mv = B.m << (p - lb);
  let e = (A.e - i32(p - la)) - (B.e - i32(p - lb)) - i32(p + 1u);
  var q = 0u;
  var r = 0u;
  if (p <= 12u) {
    let n = ma << (p + 1u);
    q = n / mv;
    r = n % mv;
  } else {
    r = ma;
    for (var i = 0u; i < p + 2u; i++) {
      q = q << 1u;
      if (r >= mv) {
        r -= mv;
        q |= 1u;
      }
      r = r << 1u;
    }
  }
  return round_pack(A.s ^ B.s, q, e, r != 0u, p, bias, ebits);
}

fn f16_to_f32(h: u32) -> u32 {
  let s = (h >> 15u) << 31u;
  let E = (h >> 10u) & 31u;
  let M = h & 0x3ffu;
  if (E == 31u) { return select(s | 0x7f800000u, 0x7fc00000u, M != 0u); }
  if (E == 0u) {
    if (M == 0u) { return s; }
    return round_pack(h >> 15u, M, -24, false, 24u, 127, 8u);
  }
  return s | ((E + 112u) << 23u) | (M << 13u);
}

fn f32_to_f16(x: u32) -> u32 {
  let U = unpack(x, 24u, 127, 8u);
  if (U.cls == 3u) { return (U.s << 15u) | 0x7e00u; }
  if (U.cls == 2u) { return (U.s << 15u) | 0x7c00u; }
  if (U.cls == 0u) { return U.s << 15u; }
  return round_pack(U.s, U.m, U.e, false, 11u, 15, 5u);
}

fn f32_to_bf16(x: u32) -> u32 {
  if ((x & 0x7fffffffu) > 0x7f800000u) { return ((x >> 16u) & 0x8000u) | 0x7fc0u; }
  return ((x + ((x >> 16u) & 1u) + 0x7fffu) >> 16u) & 0xffffu;
}

fn bf16_to_f32(b: u32) -> u32 {
  let x = b << 16u;
  return select(x, x | 0x400000u, (x & 0x7fffffffu) > 0x7f800000u);
}
`;

/** Arithmetic format of a model dtype: significand bits, bias, exponent bits. */
const ARITH: Record<FloatDType, { p: number; bias: number; ebits: number }> = {
  float16: { p: 11, bias: 15, ebits: 5 },
  bfloat16: { p: 24, bias: 127, ebits: 8 },
  float32: { p: 24, bias: 127, ebits: 8 },
};

/** Raw element read of the input in its own dtype (16-bit elements packed two per word). */
function rawLoad(src: FloatDType): string {
  return src === "float32"
    ? `fn raw(i: u32) -> u32 { return src[i + prm.off]; }`
    : `fn raw(i: u32) -> u32 { let j = i + prm.off; return (src[j >> 1u] >> ((j & 1u) * 16u)) & 0xffffu; }`;
}

/**
 * Conversion of a raw input element to the model dtype's arithmetic bits (f16 bits for float16,
 * f32 bits for bfloat16 and float32), composing the cast kernels' functions, so that a fused
 * cast + quantize equals the reference's cast followed by quantization.
 */
const TO_ARITH: Record<string, string> = {
  "float16>float16": "h",
  "bfloat16>float16": "f32_to_f16(h << 16u)",
  "float32>float16": "f32_to_f16(h)",
  "bfloat16>bfloat16": "h << 16u",
  "float16>bfloat16": "f32_to_bf16(f16_to_f32(h)) << 16u",
  "float32>bfloat16": "f32_to_bf16(h) << 16u",
  "float32>float32": "h",
  "float16>float32": "f16_to_f32(h)",
  "bfloat16>float32": "bf16_to_f32(h)",
};
/** Scale computation: sets `out` (stored bits) and `sdiv` (arithmetic bits). */
function scaleCode(dtype: FloatDType, maxInt: number, f32Scale: boolean): string {
  if (dtype === "float16") {
    const c = maxInt === 7 ? "0x4700u" : "0x4200u";
    return `let sd = fdiv(acc, ${c}, 11u, 15, 5u);
  let out = select(sd, 0x7e00u, sd > 0x7c00u);
  let sdiv = out;`;
  }
  const c = maxInt === 7 ? "0x40e00000u" : "0x40400000u";
  if (dtype === "bfloat16") {
    return `let s32 = fdiv(acc, ${c}, 24u, 127, 8u);
  let out = ((s32 + ((s32 >> 16u) & 1u) + 0x7fffu) >> 16u) & 0xffffu;
  let sdiv = ${f32Scale ? "s32" : "out << 16u"};`;
  }
  return `let out = fdiv(acc, ${c}, 24u, 127, 8u);
  let sdiv = out;`;
}

/** Compile-time parameters of a group quantization kernel. */
export interface QuantKernelKey {
  /** Model dtype. */
  readonly modelDtype: FloatDType;
  /** 3 or 4. */
  readonly bits: number;
  /** Elements per group. */
  readonly groupSize: number;
  /** Tie rule. */
  readonly tie: "even" | "away";
  /** Dtype of the input elements when it differs from the model dtype (fused cast). */
  readonly srcDtype?: FloatDType;
  /** MLC's output_transpose (KN): bfloat16 codes from the unrounded f32 scale (`GroupQuantParams`). */
  readonly outputTranspose?: boolean;
}

/**
 * The group quantization kernel. One invocation quantizes one (row, group) unit.
 * Bindings: 0 input words, 1 output code words, 2 one u32 per group with the scale bits,
 * 3 uniform params (units, k, groups, element offset of the input, dispatch stride).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizeShader } from "./_shaders.ts";
 * const wgsl = quantizeShader({ modelDtype: "float16", bits: 4, groupSize: 32, tie: "even" });
 * const bindings = (s: string) => [...s.matchAll(/@binding\((\d)\) var<[^>]*> (\w+)/g)].map((m) => m[2]);
 * assert.deepEqual(bindings(wgsl), ["src", "words", "scales", "prm"]);
 * assert.match(wgsl, /@compute @workgroup_size\(64\)\nfn main\(/);
 * ```
 */
export function quantizeShader(key: QuantKernelKey): string {
  const { modelDtype, bits, groupSize, tie } = key;
  const srcDtype = key.srcDtype ?? modelDtype;
  const epw = Math.floor(32 / bits);
  const wpg = groupSize / epw;
  const maxInt = 2 ** (bits - 1) - 1;
  const { p, bias, ebits } = ARITH[modelDtype];
  const absMask = modelDtype === "float16" ? "0x7fffu" : "0x7fffffffu";
  const inf = modelDtype === "float16" ? "0x7c00u" : "0x7f800000u";
  return /* wgsl */ `
struct Params { units: u32, k: u32, groups: u32, off: u32, stride: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> words: array<u32>;
@group(0) @binding(2) var<storage, read_write> scales: array<u32>;
@group(0) @binding(3) var<uniform> prm: Params;
${SOFT_FLOAT}
${rawLoad(srcDtype)}
fn load(i: u32) -> u32 {
  let h = raw(i);
  return ${TO_ARITH[`${srcDtype}>${modelDtype}`]};
}

// Code of one element from q = round_p(w / scale) (bits in the arithmetic format).
fn code_of(qb: u32) -> u32 {
  let Q = unpack(qb, ${p}u, ${bias}, ${ebits}u);
  if (Q.cls == 3u) { return 0u; }
  if (Q.cls == 2u) { return select(${2 * maxInt}u, 0u, Q.s == 1u); }
  if (Q.cls == 0u) { return ${maxInt}u; }
  if (Q.e + i32(blen(Q.m)) - 1 >= 5) { return select(${2 * maxInt}u, 0u, Q.s == 1u); }
  let sh = Q.e + 26;
  var qf = 0u;
  var st = false;
  if (sh >= 0) {
    qf = Q.m << u32(sh);
  } else if (sh > -32) {
    qf = Q.m >> u32(-sh);
    st = (Q.m & ((1u << u32(-sh)) - 1u)) != 0u;
  } else {
    st = true;
  }
  let c = ${maxInt}u << 26u;
  var x = 0u;
  if (Q.s == 0u) {
    x = c + qf;
  } else {
    if (qf > c || (qf == c && st)) { return 0u; }
    x = c - qf - select(0u, 1u, st);
  }
  if (x < (1u << 24u)) { return 0u; }
  let n = blen(x);
  var t = x;
  if (n > ${p}u) {
    let s2 = n - ${p}u;
    let k = x >> s2;
    let rem = x & ((1u << s2) - 1u);
    let half = 1u << (s2 - 1u);
    let up = rem > half || (rem == half && (st || (k & 1u) == 1u));
    t = (k + select(0u, 1u, up)) << s2;
  }
  let ip = t >> 26u;
  let fr = t & 0x3ffffffu;
  var r = ip;
  if (fr > 0x2000000u || (fr == 0x2000000u && ${
    tie === "even" ? "(ip & 1u) == 1u" : "true"
  })) { r = ip + 1u; }
  return min(r, ${2 * maxInt}u);
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let u = gid.x + gid.y * prm.stride;
  if (u >= prm.units) { return; }
  let row = u / prm.groups;
  let g = u % prm.groups;
  let start = g * ${groupSize}u;
  let n = min(${groupSize}u, prm.k - start);
  let base = row * prm.k + start;
  var vals: array<u32, ${groupSize}>;
  var acc = 0u;
  for (var j = 0u; j < n; j++) {
    let v = load(base + j);
    vals[j] = v;
    let a = v & ${absMask};
    let keep = j > 0u && acc <= ${inf} && a <= ${inf} && acc > a;
    acc = select(a, acc, keep);
  }
  ${scaleCode(modelDtype, maxInt, key.outputTranspose === true && modelDtype === "bfloat16")}
  scales[u] = out;
  for (var w = 0u; w < ${wpg}u; w++) {
    var word = 0u;
    for (var e = 0u; e < ${epw}u; e++) {
      let idx = w * ${epw}u + e;
      if (idx < n) {
        word |= code_of(fdiv(vals[idx], sdiv, ${p}u, ${bias}, ${ebits}u)) << (e * ${bits}u);
      }
    }
    words[u * ${wpg}u + w] = word;
  }
}
`;
}

const CAST_ELEM: Record<string, string> = {
  "float16>bfloat16": "f32_to_bf16(f16_to_f32(h))",
  "float16>float32": "f16_to_f32(h)",
  "bfloat16>float16": "f32_to_f16(h << 16u)",
  "bfloat16>float32": "bf16_to_f32(h)",
  "float32>float16": "f32_to_f16(h)",
  "float32>bfloat16": "f32_to_bf16(h)",
};

/**
 * The cast kernel from `src` to `dst` (different dtypes). One invocation writes one output u32
 * word: two 16-bit elements or one f32. Bindings: 0 input, 1 output, 2 params (words, stride).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { castShader } from "./_shaders.ts";
 * const wgsl = castShader("bfloat16", "float16");
 * const bindings = (s: string) => [...s.matchAll(/@binding\((\d)\) var<[^>]*> (\w+)/g)].map((m) => m[2]);
 * assert.deepEqual(bindings(wgsl), ["inp", "outp", "prm"]);
 * assert.match(wgsl, /@compute @workgroup_size\(64\)\nfn main\(/);
 * ```
 */
export function castShader(src: DType, dst: FloatDType): string {
  const conv = CAST_ELEM[`${src}>${dst}`];
  if (!conv) throw new Error(`no WebGPU cast from ${src} to ${dst}`);
  const src16 = src !== "float32";
  const get = src16 ? "(inp[j >> 1u] >> ((j & 1u) * 16u)) & 0xffffu" : "inp[j]";
  const body = dst === "float32" ? `outp[i] = cvt(i);` : `outp[i] = cvt(2u * i) | (cvt(2u * i + 1u) << 16u);`;
  return /* wgsl */ `
struct Params { words: u32, stride: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<storage, read> inp: array<u32>;
@group(0) @binding(1) var<storage, read_write> outp: array<u32>;
@group(0) @binding(2) var<uniform> prm: Params;
${SOFT_FLOAT}
fn cvt(j: u32) -> u32 {
  let h = ${get};
  return ${conv};
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * prm.stride;
  if (i >= prm.words) { return; }
  ${body}
}
`;
}

/** Scale load as f32 (f16 and bf16 widened exactly by integer operations). */
function scaleLoad(dtype: FloatDType): string {
  const h = "(scl[(i + prm.soff) >> 1u] >> (((i + prm.soff) & 1u) * 16u)) & 0xffffu";
  if (dtype === "float16") return `fn scale(i: u32) -> f32 { return bitcast<f32>(f16_to_f32(${h})); }`;
  if (dtype === "bfloat16") return `fn scale(i: u32) -> f32 { return bitcast<f32>((${h}) << 16u); }`;
  return `fn scale(i: u32) -> f32 { return bitcast<f32>(scl[i + prm.soff]); }`;
}

/** Compile-time parameters of dequantize kernels. */
export interface DequantKernelKey {
  /** Scale dtype. */
  readonly modelDtype: FloatDType;
  /** 3 or 4. */
  readonly bits: number;
  /** Elements per group. */
  readonly groupSize: number;
}

const DQ_PARAMS =
  `struct Params { rows: u32, k: u32, groups: u32, soff: u32, stride: u32, batch: u32, p0: u32, p1: u32 }`;

/**
 * Dequantize kernel: one invocation per code word, writes `(code - max_int) * scale` as f32
 * (row-major rows x k). Bindings: 0 words, 1 scales, 2 output f32, 3 params.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dequantizeShader } from "./_shaders.ts";
 * const wgsl = dequantizeShader({ modelDtype: "float16", bits: 4, groupSize: 32 });
 * const bindings = (s: string) => [...s.matchAll(/@binding\((\d)\) var<[^>]*> (\w+)/g)].map((m) => m[2]);
 * assert.deepEqual(bindings(wgsl), ["wds", "scl", "outp", "prm"]);
 * assert.match(wgsl, /@compute @workgroup_size\(64\)\nfn main\(/);
 * ```
 */
export function dequantizeShader(key: DequantKernelKey): string {
  const epw = Math.floor(32 / key.bits);
  const wpg = key.groupSize / epw;
  const maxInt = 2 ** (key.bits - 1) - 1;
  return /* wgsl */ `
${DQ_PARAMS}
@group(0) @binding(0) var<storage, read> wds: array<u32>;
@group(0) @binding(1) var<storage, read> scl: array<u32>;
@group(0) @binding(2) var<storage, read_write> outp: array<f32>;
@group(0) @binding(3) var<uniform> prm: Params;
${SOFT_FLOAT}
${scaleLoad(key.modelDtype)}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let u = gid.x + gid.y * prm.stride;
  let spr = prm.groups * ${wpg}u;
  if (u >= prm.rows * spr) { return; }
  let row = u / spr;
  let s = u % spr;
  let sc = scale(row * prm.groups + s / ${wpg}u);
  let word = wds[u];
  for (var e = 0u; e < ${epw}u; e++) {
    let idx = s * ${epw}u + e;
    if (idx < prm.k) {
      let c = i32((word >> (e * ${key.bits}u)) & ${(1 << key.bits) - 1}u) - ${maxInt};
      outp[row * prm.k + idx] = f32(c) * sc;
    }
  }
}
`;
}

/**
 * Dequantize-matmul kernel: out[b, n] = sum_k x[b, k] * W[n, k] for up to
 * {@link MATMUL_MAX_BATCH} batch rows; one workgroup per output row n, each invocation
 * accumulates a strided subset of groups in f32, then a fixed tree reduction.
 * Bindings: 0 words, 1 scales, 2 activations f32 (batch x k), 3 output f32 (batch x rows),
 * 4 params.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulShader } from "./_shaders.ts";
 * const wgsl = matmulShader({ modelDtype: "bfloat16", bits: 4, groupSize: 32 });
 * const bindings = (s: string) => [...s.matchAll(/@binding\((\d)\) var<[^>]*> (\w+)/g)].map((m) => m[2]);
 * assert.deepEqual(bindings(wgsl), ["wds", "scl", "act", "outp", "prm"]);
 * assert.match(wgsl, /var<workgroup> red: array<f32, 512>/); // (a workgroup reduces one dot product)
 * ```
 */
export function matmulShader(key: DequantKernelKey): string {
  const epw = Math.floor(32 / key.bits);
  const wpg = key.groupSize / epw;
  const maxInt = 2 ** (key.bits - 1) - 1;
  const mb = MATMUL_MAX_BATCH;
  return /* wgsl */ `
${DQ_PARAMS}
@group(0) @binding(0) var<storage, read> wds: array<u32>;
@group(0) @binding(1) var<storage, read> scl: array<u32>;
@group(0) @binding(2) var<storage, read> act: array<f32>;
@group(0) @binding(3) var<storage, read_write> outp: array<f32>;
@group(0) @binding(4) var<uniform> prm: Params;
${SOFT_FLOAT}
${scaleLoad(key.modelDtype)}
var<workgroup> red: array<f32, ${mb * WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * prm.stride;
  var acc: array<f32, ${mb}>;
  for (var b = 0u; b < ${mb}u; b++) { acc[b] = 0.0; }
  if (row < prm.rows) {
    for (var g = lid; g < prm.groups; g += ${WORKGROUP}u) {
      let sc = scale(row * prm.groups + g);
      for (var w = 0u; w < ${wpg}u; w++) {
        let word = wds[(row * prm.groups + g) * ${wpg}u + w];
        for (var e = 0u; e < ${epw}u; e++) {
          let idx = g * ${key.groupSize}u + w * ${epw}u + e;
          if (idx < prm.k) {
            let wv = f32(i32((word >> (e * ${key.bits}u)) & ${(1 << key.bits) - 1}u) - ${maxInt}) * sc;
            for (var b = 0u; b < prm.batch; b++) { acc[b] += wv * act[b * prm.k + idx]; }
          }
        }
      }
    }
  }
  for (var b = 0u; b < ${mb}u; b++) { red[b * ${WORKGROUP}u + lid] = acc[b]; }
  workgroupBarrier();
  for (var s = ${WORKGROUP / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var b = 0u; b < ${mb}u; b++) { red[b * ${WORKGROUP}u + lid] += red[b * ${WORKGROUP}u + lid + s]; }
    }
    workgroupBarrier();
  }
  if (lid == 0u && row < prm.rows) {
    for (var b = 0u; b < prm.batch; b++) { outp[b * prm.rows + row] = red[b * ${WORKGROUP}u]; }
  }
}
`;
}
