//! Group quantization (MLC `GroupQuantize`, CPU/LLVM semantics), NK layout, byte-identical to
//! `groupQuantizeReference` (`src/quant/reference.ts`).
//!
//! Per group: `max_abs` (sequential `acc > v ? acc : v`), `scale = max_abs / max_int` in the
//! model dtype, `t = (w / scale) + max_int` with one rounding per op (f16: each op rounded to
//! f16; bf16 and f32: f32 ops, the bf16 scale rounded by TVM's bit arithmetic), `round` with the
//! tie rule, clamp to `[0, 2 max_int]` by ordered selects, then packing (element j of a word in
//! bits `[j bits, (j+1) bits)`).
//!
//! Flag `F32_SCALE` (MLC's `output_transpose`, the KN layout of `q4bf16_0`): MLC transposes the
//! scale after computing it, so the untransposed scale is an internal buffer, and TVM's
//! `BF16ComputeLegalize` re-types internal bf16 buffers to f32 (apache/tvm
//! `src/tir/transforms/unsupported_dtype_legalize.cc`, `ComputeLegalizePlanner`). For bf16 the
//! codes then use the unrounded f32 `max_abs / max_int`; the stored scale is still rounded to
//! bf16. No effect for f16 and f32.
//!
//! The SIMD path handles full groups of the registry's sizes (int4/32, int3/40) without NaN or
//! infinity; groups holding NaN or infinity, ragged tails and other group sizes take the scalar
//! path, which follows the reference step by step (including NaN payloads of the scale).
use crate::convert::{f16_to_f32_scalar, f32_to_f16_scalar};
use core::arch::wasm32::*;

/// Model dtype codes of the ABI.
pub const DT_F16: u32 = 0;
/// bfloat16.
pub const DT_BF16: u32 = 1;
/// float32.
pub const DT_F32: u32 = 2;

/// Flag bit of the `tie` argument: ties away from zero (else to even).
pub const TIE_AWAY: u32 = 1;
/// Flag bit of the `tie` argument: bf16 codes from the unrounded f32 scale (see the module doc).
pub const F32_SCALE: u32 = 2;

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// Rounds f32 values to f16 precision, staying in f32 (valid where the result is a normal f16;
/// see `simd_group_f16` for why the subnormal and overflow ranges do not matter there).
#[inline(always)]
fn round16_normal(x: v128) -> v128 {
    let odd = v128_and(u32x4_shr(x, 13), u32x4_splat(1));
    v128_and(i32x4_add(i32x4_add(x, u32x4_splat(0xfff)), odd), u32x4_splat(0xffff_e000))
}

/// Rounds f32 values to f16 precision (11 significant bits, ties to even), staying in f32, by
/// Veltkamp's splitting: `g = x * (2^13 + 1)`, `x_hi = g + (x - g)`. For every normal f32 (and
/// zero, whose sign may be lost) this is exactly [`round16_normal`], checked exhaustively over
/// |x| < 16 (kernels/check_rounding.c, run by CI); only f32 subnormals differ, which
/// `w / scale` with a normal f16 scale never is (|w| >= 2^-24 or 0, scale < 2^14).
#[inline(always)]
fn round16_split(x: v128) -> v128 {
    let g = f32x4_mul(x, f32x4_splat(8193.0));
    f32x4_add(g, f32x4_sub(x, g))
}

/// f16 codes from `q = w / scale` (f32, exact division result) for a normal f16 scale
/// `f16(max_abs / max_int)`: `round16(round16(q) + max_int)`, rounded to an integer with the tie
/// rule. No clamp is needed: |q| <= max_int (1 + 2^-11), so `t` lies in
/// [-0.0035, 2 max_int + 0.008], which rounds into [0, 2 max_int] under both tie rules.
///
/// Adding 2^23 rounds `t` to an integer, ties to even. Ties away: `t` is on the f16 grid, whose
/// points below a half-integer n + 0.5 >= 0.5 are at least 2^-12 apart, so `t + 2^-12` (exact)
/// is at least n + 0.5 exactly when `t` is, and never reaches a tie of its own. Both rules were
/// checked against the step-by-step rounding (with the clamp) for every f32 `q` with
/// |q| <= 7.01 (max_int 7) and |q| <= 3.01 (max_int 3) by kernels/check_rounding.c.
#[inline(always)]
pub(crate) fn codes_of_q<const AWAY: bool>(q: v128, max_int: f32) -> v128 {
    let q = round16_split(q);
    let t = round16_split(f32x4_add(q, f32x4_splat(max_int)));
    let t = if AWAY { f32x4_add(t, f32x4_splat(1.0 / 4096.0)) } else { t };
    i32x4_sub(f32x4_add(t, f32x4_splat(8_388_608.0)), u32x4_splat(0x4b00_0000))
}

/// Clamp to `[0, max_code]` (NaN -> 0), round with the tie rule, convert to integer codes.
/// Adding 2^23 to a value in [0, 2^23) rounds it to an integer (ties to even, the default
/// rounding) and leaves that integer in the low mantissa bits.
#[inline(always)]
fn finish<const AWAY: bool>(t: v128, max_code: f32) -> v128 {
    let c = f32x4_pmin(f32x4_splat(max_code), f32x4_pmax(f32x4_splat(0.0), t));
    let r = if AWAY {
        let f = f32x4_floor(c);
        let up = f32x4_ge(f32x4_sub(c, f), f32x4_splat(0.5));
        f32x4_add(f, v128_and(up, f32x4_splat(1.0)))
    } else {
        c
    };
    i32x4_sub(f32x4_add(r, f32x4_splat(8_388_608.0)), u32x4_splat(0x4b00_0000))
}

#[inline(always)]
fn hsum4(a: v128, b: v128, c: v128, d: v128) -> v128 {
    let ab = i32x4_add(i32x4_shuffle::<0, 4, 2, 6>(a, b), i32x4_shuffle::<1, 5, 3, 7>(a, b));
    let cd = i32x4_add(i32x4_shuffle::<0, 4, 2, 6>(c, d), i32x4_shuffle::<1, 5, 3, 7>(c, d));
    i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(ab, cd), i32x4_shuffle::<2, 3, 6, 7>(ab, cd))
}

#[inline(always)]
fn m(a: u32, b: u32, c: u32, d: u32) -> v128 {
    u32x4(1 << a, 1 << b, 1 << c, 1 << d)
}

/// Packs the codes of one group into 4 words; `c(i)` gives the codes of elements 4i..4i+3.
/// Element j of a word is shifted by j * BITS (a multiply per lane), then the lanes of each
/// word are summed (the fields never overlap).
#[inline(always)]
unsafe fn pack_store<const BITS: u32>(c: impl Fn(usize) -> v128, out: *mut u32) {
    let words = if BITS == 4 {
        // codes -> bytes (element order), then two codes per byte (element 2i in the low nibble)
        let b0 = u8x16_narrow_i16x8(i16x8_narrow_i32x4(c(0), c(1)), i16x8_narrow_i32x4(c(2), c(3)));
        let b1 = u8x16_narrow_i16x8(i16x8_narrow_i32x4(c(4), c(5)), i16x8_narrow_i32x4(c(6), c(7)));
        let n0 = v128_or(b0, u16x8_shr(b0, 4));
        let n1 = v128_or(b1, u16x8_shr(b1, 4));
        i8x16_shuffle::<0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30>(n0, n1)
    } else {
        let (m0, m1, m2, m3, m4) = (m(0, 3, 6, 9), m(12, 15, 18, 21), m(24, 27, 0, 3), m(6, 9, 12, 15), m(18, 21, 24, 27));
        let first = u32x4(!0, !0, 0, 0);
        let pair = |o: usize| {
            let mid = i32x4_mul(c(o + 2), m2);
            let a = i32x4_add(i32x4_add(i32x4_mul(c(o), m0), i32x4_mul(c(o + 1), m1)), v128_and(mid, first));
            let b = i32x4_add(i32x4_add(i32x4_mul(c(o + 3), m3), i32x4_mul(c(o + 4), m4)), v128_andnot(mid, first));
            (a, b)
        };
        let (a, b) = pair(0);
        let (cc, d) = pair(5);
        hsum4(a, b, cc, d)
    };
    v128_store(out as *mut v128, words);
}

#[inline(always)]
fn hmax_u16(v: v128) -> u32 {
    let v = u16x8_max(v, i16x8_shuffle::<4, 5, 6, 7, 0, 1, 2, 3>(v, v));
    let v = u16x8_max(v, i16x8_shuffle::<2, 3, 0, 1, 2, 3, 0, 1>(v, v));
    let v = u16x8_max(v, i16x8_shuffle::<1, 0, 1, 0, 1, 0, 1, 0>(v, v));
    u16x8_extract_lane::<0>(v) as u32
}

#[inline(always)]
fn hmax_u32(v: v128) -> u32 {
    let v = u32x4_max(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    let v = u32x4_max(v, i32x4_shuffle::<1, 0, 1, 0>(v, v));
    u32x4_extract_lane::<0>(v)
}

/// Max of the 16-bit magnitudes of `n8` vectors of 8 elements.
#[inline(always)]
unsafe fn amax16(p: *const u16, n8: usize) -> u32 {
    let mut mx = u16x8_splat(0);
    for i in 0..n8 {
        mx = u16x8_max(mx, v128_and(v128_load(p.add(8 * i) as *const v128), u16x8_splat(0x7fff)));
    }
    hmax_u16(mx)
}

// ---------------------------------------------------------------------------------------------
// SIMD groups (return false when the group holds NaN or infinity: the caller goes scalar).

/// f16 group. Values are kept scaled by 2^-112 (f16 bits << 13 read as f32, exact for normals
/// and subnormals), which leaves `w / scale` unchanged. `q = w / scale` is rounded to f16 by bit
/// arithmetic that is exact for normal f16 results; when |q| < 2^-14 the rounding is not f16's,
/// but then `q + 7` rounds to 7 either way; when |q| > 65504 it stays finite instead of
/// becoming inf, but `q + 7` is then clamped to the same code. `t = q + 7` is always a normal
/// f16 (a multiple of 2^-8) or zero.
#[inline(always)]
unsafe fn simd_group_f16<const BITS: u32, const NV: usize, const AWAY: bool>(
    p: *const u16,
    words: *mut u32,
    scale_out: *mut u16,
) -> bool {
    let max_int = ((1u32 << (BITS - 1)) - 1) as f32;
    let amax = amax16(p, NV / 2);
    if amax >= 0x7c00 {
        return false;
    }
    let sbits = f32_to_f16_scalar((f16_to_f32_scalar(amax) / max_int).to_bits());
    *scale_out = sbits as u16;
    let s = f32x4_splat(f32::from_bits(sbits << 13));
    let w = |i: usize| {
        let h = i32x4_load_extend_i16x4(p.add(4 * i) as *const i16);
        v128_and(i32x4_shl(h, 13), u32x4_splat(0x8fff_ffff))
    };
    if sbits >= 0x400 {
        // a normal scale bounds |q| (see codes_of_q)
        pack_store::<BITS>(|i| codes_of_q::<AWAY>(f32x4_div(w(i), s), max_int), words);
    } else {
        let code = |i: usize| {
            let q = round16_normal(f32x4_div(w(i), s));
            let t = round16_normal(f32x4_add(q, f32x4_splat(max_int)));
            finish::<AWAY>(t, 2.0 * max_int)
        };
        pack_store::<BITS>(code, words);
    }
    true
}

/// bf16 group: f32 arithmetic, scale rounded to bf16 by TVM's bit arithmetic; the codes use the
/// rounded scale, or with `f32_scale` the unrounded f32 one.
#[inline(always)]
unsafe fn simd_group_bf16<const BITS: u32, const NV: usize, const AWAY: bool>(
    p: *const u16,
    words: *mut u32,
    scale_out: *mut u16,
    f32_scale: bool,
) -> bool {
    let max_int = ((1u32 << (BITS - 1)) - 1) as f32;
    let amax = amax16(p, NV / 2);
    if amax >= 0x7f80 {
        return false;
    }
    let f = (f32::from_bits(amax << 16) / max_int).to_bits();
    let sb = (f + ((f >> 16) & 1) + 0x7fff) >> 16;
    *scale_out = sb as u16;
    let s = f32x4_splat(f32::from_bits(if f32_scale { f } else { sb << 16 }));
    let code = |i: usize| {
        let w = i32x4_shl(u32x4_load_extend_u16x4(p.add(4 * i)), 16);
        let t = f32x4_add(f32x4_div(w, s), f32x4_splat(max_int));
        finish::<AWAY>(t, 2.0 * max_int)
    };
    pack_store::<BITS>(code, words);
    true
}

/// f32 group: f32 arithmetic.
#[inline(always)]
unsafe fn simd_group_f32<const BITS: u32, const NV: usize, const AWAY: bool>(
    p: *const u32,
    words: *mut u32,
    scale_out: *mut u32,
) -> bool {
    let max_int = ((1u32 << (BITS - 1)) - 1) as f32;
    let mut mx = u32x4_splat(0);
    for i in 0..NV {
        mx = u32x4_max(mx, v128_and(v128_load(p.add(4 * i) as *const v128), u32x4_splat(0x7fff_ffff)));
    }
    let amax = hmax_u32(mx);
    if amax >= 0x7f80_0000 {
        return false;
    }
    let sf = f32::from_bits(amax) / max_int;
    *scale_out = sf.to_bits();
    let s = f32x4_splat(sf);
    let code = |i: usize| {
        let t = f32x4_add(f32x4_div(v128_load(p.add(4 * i) as *const v128), s), f32x4_splat(max_int));
        finish::<AWAY>(t, 2.0 * max_int)
    };
    pack_store::<BITS>(code, words);
    true
}

// ---------------------------------------------------------------------------------------------
// Scalar path.

#[inline(always)]
fn nearest(x: f32) -> f32 {
    f32x4_extract_lane::<0>(f32x4_nearest(f32x4_splat(x)))
}

#[inline(always)]
fn floor(x: f32) -> f32 {
    f32x4_extract_lane::<0>(f32x4_floor(f32x4_splat(x)))
}

#[inline(always)]
fn round16(x: f32) -> f32 {
    f16_to_f32_scalar(f32_to_f16_scalar(x.to_bits()))
}

/// Element `i` as f32 bits, as the reference reads it (NaN quieted for bf16 and f32).
#[inline(always)]
unsafe fn load_bits(src: *const u8, dtype: u32, i: usize) -> u32 {
    match dtype {
        DT_F16 => f16_to_f32_scalar(*(src as *const u16).add(i) as u32).to_bits(),
        DT_BF16 => crate::convert::bf16_to_f32_scalar(*(src as *const u16).add(i) as u32),
        _ => {
            let u = *(src as *const u32).add(i);
            if u & 0x7fff_ffff > 0x7f80_0000 {
                u | 0x0040_0000
            } else {
                u
            }
        }
    }
}

/// One group of `n <= gs` elements starting at element `base`, exactly as the reference.
/// Returns 1 when the group holds NaN or infinity, else 0 (every SIMD path leaves such a group
/// to this one: the drivers' counts of them are exact).
#[inline(never)]
unsafe fn scalar_group(
    src: *const u8,
    base: usize,
    n: usize,
    gs: usize,
    bits: u32,
    dtype: u32,
    away: bool,
    f32_scale: bool,
    words: *mut u32,
    scales: *mut u8,
    g: usize,
) -> u32 {
    let max_int = ((1u32 << (bits - 1)) - 1) as f32;
    let max_code = 2.0 * max_int;
    let mut acc = f32::NEG_INFINITY.to_bits();
    let mut non_finite = 0u32;
    for j in 0..n {
        let v = load_bits(src, dtype, base + j) & 0x7fff_ffff;
        non_finite |= (v >= 0x7f80_0000) as u32;
        if !(f32::from_bits(acc) > f32::from_bits(v)) {
            acc = v;
        }
    }
    let acc_nan = acc & 0x7fff_ffff > 0x7f80_0000;
    // NaN / max_int keeps the (quiet) payload in V8: model it without wasm's NaN nondeterminism.
    let quot = if acc_nan { acc | 0x0040_0000 } else { (f32::from_bits(acc) / max_int).to_bits() };
    let scale = match dtype {
        DT_F16 => {
            let h = if acc_nan { 0x7e00 } else { f32_to_f16_scalar(quot) };
            *(scales as *mut u16).add(g) = h as u16;
            f16_to_f32_scalar(h)
        }
        DT_BF16 => {
            let b = (quot.wrapping_add(((quot >> 16) & 1) + 0x7fff) >> 16) & 0xffff;
            *(scales as *mut u16).add(g) = b as u16;
            f32::from_bits(if f32_scale { quot } else { b << 16 })
        }
        _ => {
            *(scales as *mut u32).add(g) = quot;
            f32::from_bits(quot)
        }
    };
    let epw = if bits == 4 { 8 } else { 10 };
    let wpg = gs / epw;
    for w in 0..wpg {
        let mut word = 0u32;
        for e in 0..epw {
            let idx = w * epw + e;
            if idx >= n {
                break;
            }
            let x = f32::from_bits(load_bits(src, dtype, base + idx));
            let t = if dtype == DT_F16 { round16(round16(x / scale) + max_int) } else { (x / scale) + max_int };
            let c1 = if t > 0.0 { t } else { 0.0 };
            let c2 = if c1 < max_code { c1 } else { max_code };
            let r = if away {
                let f = floor(c2);
                if c2 - f >= 0.5 {
                    f + 1.0
                } else {
                    f
                }
            } else {
                nearest(c2)
            };
            word |= (r as u32) << (e as u32 * bits);
        }
        *words.add(w) = word;
    }
    non_finite
}

// ---------------------------------------------------------------------------------------------
// Drivers.

#[inline(always)]
pub(crate) unsafe fn run<const BITS: u32, const NV: usize, const AWAY: bool>(
    src: *const u8,
    rows: usize,
    k: usize,
    words: *mut u32,
    scales: *mut u8,
    dtype: u32,
    f32_scale: bool,
) -> u32 {
    let gs = 4 * NV;
    let groups = (k + gs - 1) / gs;
    let mut non_finite = 0u32;
    for r in 0..rows {
        for g in 0..groups {
            let base = r * k + g * gs;
            let n = if k - g * gs < gs { k - g * gs } else { gs };
            let gi = r * groups + g;
            let wp = words.add(gi * 4);
            let ok = n == gs
                && match dtype {
                    DT_F16 => {
                        simd_group_f16::<BITS, NV, AWAY>((src as *const u16).add(base), wp, (scales as *mut u16).add(gi))
                    }
                    DT_BF16 => {
                        simd_group_bf16::<BITS, NV, AWAY>((src as *const u16).add(base), wp, (scales as *mut u16).add(gi), f32_scale)
                    }
                    _ => simd_group_f32::<BITS, NV, AWAY>((src as *const u32).add(base), wp, (scales as *mut u32).add(gi)),
                };
            if !ok {
                non_finite += scalar_group(src, base, n, gs, BITS, dtype, AWAY, f32_scale, wp, scales, gi);
            }
        }
    }
    non_finite
}

/// Group-quantizes `rows` rows of `k` model-dtype elements at `src` (NK layout).
///
/// `words` receives `rows * ceil(k / gs) * (gs * bits / 32)` words, `scales` receives
/// `rows * ceil(k / gs)` scales (2 bytes for f16/bf16, 4 for f32). `dtype`: 0 f16, 1 bf16,
/// 2 f32. `tie`: flags, [`TIE_AWAY`] (else ties to even) and [`F32_SCALE`]. Returns the number of
/// groups holding NaN or infinity (0 for finite input), or -1 for unsupported parameters.
#[no_mangle]
pub unsafe extern "C" fn group_quantize(
    src: *const u8,
    rows: usize,
    k: usize,
    words: *mut u32,
    scales: *mut u8,
    bits: u32,
    gs: usize,
    dtype: u32,
    tie: u32,
) -> i32 {
    if !(bits == 3 || bits == 4) || dtype > DT_F32 || tie > 3 || gs == 0 || gs % (32 / bits as usize) != 0 {
        return -1;
    }
    let away = tie & TIE_AWAY != 0;
    let f32_scale = tie & F32_SCALE != 0;
    let non_finite = match (bits, gs, away) {
        (4, 32, false) if dtype == DT_F16 => {
            crate::fused::f16_q4_rows::<false>(src as *const u16, rows, k, words, scales as *mut u16)
        }
        (4, 32, true) if dtype == DT_F16 => {
            crate::fused::f16_q4_rows::<true>(src as *const u16, rows, k, words, scales as *mut u16)
        }
        (4, 32, false) => run::<4, 8, false>(src, rows, k, words, scales, dtype, f32_scale),
        (4, 32, true) => run::<4, 8, true>(src, rows, k, words, scales, dtype, f32_scale),
        (3, 40, false) => run::<3, 10, false>(src, rows, k, words, scales, dtype, f32_scale),
        (3, 40, true) => run::<3, 10, true>(src, rows, k, words, scales, dtype, f32_scale),
        _ => {
            let groups = (k + gs - 1) / gs;
            let wpg = gs / if bits == 4 { 8 } else { 10 };
            let mut nf = 0u32;
            for r in 0..rows {
                for g in 0..groups {
                    let n = if k - g * gs < gs { k - g * gs } else { gs };
                    let gi = r * groups + g;
                    nf += scalar_group(src, r * k + g * gs, n, gs, bits, dtype, away, f32_scale, words.add(gi * wpg), scales, gi);
                }
            }
            nf
        }
    };
    non_finite as i32
}
