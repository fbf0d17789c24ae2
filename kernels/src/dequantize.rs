//! Dequantization of group-quantized weights (NK layout): `(code - max_int) * scale` as f32.
//!
//! The product is computed in f32; it is exact for f16 and bf16 scales (an 11- or 8-bit
//! significand times a code of at most 4 bits). MLC's f16 dequantize would round it to f16.
use crate::convert::f16_to_f32_scalar;
use crate::quantize::{DT_BF16, DT_F16};
use core::arch::wasm32::*;

#[inline(always)]
fn m(a: u32, b: u32, c: u32, d: u32) -> v128 {
    u32x4(1 << a, 1 << b, 1 << c, 1 << d)
}

/// Codes of elements 4i..4i+3 of one full group (4 words in `w`) as `code - max_int` f32 lanes.
/// Lane j of the result is `(word << (top - j bits)) >> top` with `top = 32 - BITS`: the
/// variable shift is a multiply by a power of two.
#[inline(always)]
pub fn decode_vec<const BITS: u32>(w: v128, i: usize) -> v128 {
    let x = if BITS == 4 {
        let word = match i / 2 {
            0 => i32x4_shuffle::<0, 0, 0, 0>(w, w),
            1 => i32x4_shuffle::<1, 1, 1, 1>(w, w),
            2 => i32x4_shuffle::<2, 2, 2, 2>(w, w),
            _ => i32x4_shuffle::<3, 3, 3, 3>(w, w),
        };
        u32x4_shr(i32x4_mul(word, if i % 2 == 0 { m(28, 24, 20, 16) } else { m(12, 8, 4, 0) }), 28)
    } else {
        let (word, mul) = match i {
            0 => (i32x4_shuffle::<0, 0, 0, 0>(w, w), m(29, 26, 23, 20)),
            1 => (i32x4_shuffle::<0, 0, 0, 0>(w, w), m(17, 14, 11, 8)),
            2 => (i32x4_shuffle::<0, 0, 1, 1>(w, w), m(5, 2, 29, 26)),
            3 => (i32x4_shuffle::<1, 1, 1, 1>(w, w), m(23, 20, 17, 14)),
            4 => (i32x4_shuffle::<1, 1, 1, 1>(w, w), m(11, 8, 5, 2)),
            5 => (i32x4_shuffle::<2, 2, 2, 2>(w, w), m(29, 26, 23, 20)),
            6 => (i32x4_shuffle::<2, 2, 2, 2>(w, w), m(17, 14, 11, 8)),
            7 => (i32x4_shuffle::<2, 2, 3, 3>(w, w), m(5, 2, 29, 26)),
            8 => (i32x4_shuffle::<3, 3, 3, 3>(w, w), m(23, 20, 17, 14)),
            _ => (i32x4_shuffle::<3, 3, 3, 3>(w, w), m(11, 8, 5, 2)),
        };
        u32x4_shr(i32x4_mul(word, mul), 29)
    };
    let max_int = ((1u32 << (BITS - 1)) - 1) as f32;
    f32x4_sub(f32x4_convert_i32x4(x), f32x4_splat(max_int))
}

/// Scale `g` as f32 (`dtype`: 0 f16 bits, 1 bf16 bits, 2 f32).
#[inline(always)]
pub unsafe fn load_scale(scales: *const u8, dtype: u32, g: usize) -> f32 {
    match dtype {
        DT_F16 => f16_to_f32_scalar(*(scales as *const u16).add(g) as u32),
        DT_BF16 => f32::from_bits((*(scales as *const u16).add(g) as u32) << 16),
        _ => *(scales as *const f32).add(g),
    }
}

/// Code `idx` (element index within its group) of a group starting at `words`.
#[inline(always)]
pub unsafe fn code_at(words: *const u32, bits: u32, idx: usize) -> u32 {
    let epw = if bits == 4 { 8 } else { 10 };
    (*words.add(idx / epw) >> ((idx % epw) as u32 * bits)) & ((1 << bits) - 1)
}

#[inline(always)]
unsafe fn run<const BITS: u32, const NV: usize>(
    words: *const u32,
    scales: *const u8,
    rows: usize,
    k: usize,
    gs: usize,
    dtype: u32,
    out: *mut f32,
) {
    let groups = (k + gs - 1) / gs;
    let wpg = gs / if BITS == 4 { 8 } else { 10 };
    let max_int = ((1u32 << (BITS - 1)) - 1) as f32;
    for r in 0..rows {
        for g in 0..groups {
            let gi = r * groups + g;
            let s = load_scale(scales, dtype, gi);
            let wp = words.add(gi * wpg);
            let o = out.add(r * k + g * gs);
            let n = if k - g * gs < gs { k - g * gs } else { gs };
            if NV > 0 && n == gs {
                let w = v128_load(wp as *const v128);
                let sv = f32x4_splat(s);
                for i in 0..NV {
                    v128_store(o.add(4 * i) as *mut v128, f32x4_mul(decode_vec::<BITS>(w, i), sv));
                }
            } else {
                for j in 0..n {
                    *o.add(j) = (code_at(wp, BITS, j) as f32 - max_int) * s;
                }
            }
        }
    }
}

/// Dequantizes `rows` x `k` elements to f32 at `out`. Same parameters as `group_quantize`.
/// Returns 0, or -1 for unsupported parameters.
#[no_mangle]
pub unsafe extern "C" fn dequantize(
    words: *const u32,
    scales: *const u8,
    rows: usize,
    k: usize,
    bits: u32,
    gs: usize,
    dtype: u32,
    out: *mut f32,
) -> i32 {
    if !(bits == 3 || bits == 4) || dtype > 2 || gs == 0 || gs % (32 / bits as usize) != 0 {
        return -1;
    }
    match (bits, gs) {
        (4, 32) => run::<4, 8>(words, scales, rows, k, gs, dtype, out),
        (3, 40) => run::<3, 10>(words, scales, rows, k, gs, dtype, out),
        (4, _) => run::<4, 0>(words, scales, rows, k, gs, dtype, out),
        _ => run::<3, 0>(words, scales, rows, k, gs, dtype, out),
    }
    0
}
