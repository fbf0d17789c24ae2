//! Dtype conversions between float16, bfloat16 and float32 bit patterns, with the exact
//! semantics of `castReference` (`src/quant/reference.ts`): round to nearest even, IEEE
//! subnormals, overflow to infinity. NaN results, as the reference produces them:
//! f16 -> f32 gives 0x7fc00000, f16 -> bf16 gives 0x7fc0, bf16 -> f32 sets the quiet bit,
//! (bf16|f32) -> f16 gives sign|0x7e00, f32 -> bf16 gives sign|0x7fc0. The tvmjs storage
//! encoding (`f32-to-bf16`) truncates when |v| >= 0x7F7F0000 (NaN and infinities included).
use core::arch::wasm32::*;

// ---------------------------------------------------------------------------------------------
// Scalar paths (bits in, bits out).

/// f16 bits -> f32 value (exact; every NaN becomes 0x7fc00000).
#[inline(always)]
pub fn f16_to_f32_scalar(h: u32) -> f32 {
    let a = h & 0x7fff;
    let sign = (h & 0x8000) << 16;
    if a > 0x7c00 {
        return f32::from_bits(0x7fc0_0000);
    }
    let bits = if a >= 0x7c00 {
        0x7f80_0000
    } else if a < 0x400 {
        (a as f32 * (1.0 / 16_777_216.0)).to_bits()
    } else {
        (a << 13) + 0x3800_0000
    };
    f32::from_bits(bits | sign)
}

/// f32 bits -> f16 bits, round to nearest even (NaN -> sign|0x7e00).
#[inline(always)]
pub fn f32_to_f16_scalar(u: u32) -> u32 {
    let sign = (u >> 16) & 0x8000;
    let a = u & 0x7fff_ffff;
    if a > 0x7f80_0000 {
        return sign | 0x7e00;
    }
    if a >= 0x477f_f000 {
        return sign | 0x7c00;
    }
    if a < 0x3880_0000 {
        // |x| < 2^-14: 0.5 + |x| rounds |x| to a multiple of 2^-24 (RNE), exactly f16's grid.
        return sign | ((f32::from_bits(a) + 0.5).to_bits() - 0x3f00_0000);
    }
    sign | ((a - 0x3800_0000 + 0xfff + ((a >> 13) & 1)) >> 13)
}

/// f32 bits -> bf16 bits as ml_dtypes (RNE, NaN -> sign|0x7fc0).
#[inline(always)]
pub fn f32_to_bf16_scalar(u: u32) -> u32 {
    if u & 0x7fff_ffff > 0x7f80_0000 {
        return ((u >> 16) & 0x8000) | 0x7fc0;
    }
    (u.wrapping_add(((u >> 16) & 1) + 0x7fff)) >> 16
}

/// f32 bits -> bf16 bits, tvmjs `f32-to-bf16` storage encoding.
#[inline(always)]
pub fn f32_to_bf16_storage_scalar(u: u32) -> u32 {
    if u & 0x7fff_ffff < 0x7f7f_0000 {
        (u + ((u >> 16) & 1) + 0x7fff) >> 16
    } else {
        u >> 16
    }
}

/// bf16 bits -> f32 bits (exact; NaN gets its quiet bit set, as V8 loads it).
#[inline(always)]
pub fn bf16_to_f32_scalar(b: u32) -> u32 {
    let u = b << 16;
    if u & 0x7fff_ffff > 0x7f80_0000 {
        u | 0x0040_0000
    } else {
        u
    }
}

// ---------------------------------------------------------------------------------------------
// SIMD paths: four lanes of u32 (f16/bf16 bits zero-extended, or f32 bits).

/// f16 bits (u32 lanes) -> f32 bits, as [`f16_to_f32_scalar`].
#[inline(always)]
pub fn f16_to_f32_simd(h: v128) -> v128 {
    let a = v128_and(h, u32x4_splat(0x7fff));
    let sign = i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    let nrm = i32x4_add(i32x4_shl(a, 13), u32x4_splat(0x3800_0000));
    let sub = f32x4_mul(f32x4_convert_i32x4(a), f32x4_splat(1.0 / 16_777_216.0));
    let r = v128_bitselect(sub, nrm, i32x4_lt(a, u32x4_splat(0x400)));
    let r = v128_bitselect(u32x4_splat(0x7f80_0000), r, i32x4_ge(a, u32x4_splat(0x7c00)));
    let r = v128_or(r, sign);
    v128_bitselect(u32x4_splat(0x7fc0_0000), r, i32x4_gt(a, u32x4_splat(0x7c00)))
}

/// f32 bits -> f16 bits (u32 lanes), as [`f32_to_f16_scalar`].
#[inline(always)]
pub fn f32_to_f16_simd(u: v128) -> v128 {
    let sign = v128_and(u32x4_shr(u, 16), u32x4_splat(0x8000));
    let a = v128_and(u, u32x4_splat(0x7fff_ffff));
    let odd = v128_and(u32x4_shr(a, 13), u32x4_splat(1));
    let nrm = u32x4_shr(i32x4_add(i32x4_sub(a, u32x4_splat(0x3800_0000 - 0xfff)), odd), 13);
    let sub = i32x4_sub(f32x4_add(a, f32x4_splat(0.5)), u32x4_splat(0x3f00_0000));
    let r = v128_bitselect(sub, nrm, i32x4_lt(a, u32x4_splat(0x3880_0000)));
    let r = v128_bitselect(u32x4_splat(0x7c00), r, i32x4_ge(a, u32x4_splat(0x477f_f000)));
    let r = v128_bitselect(u32x4_splat(0x7e00), r, i32x4_gt(a, u32x4_splat(0x7f80_0000)));
    v128_or(r, sign)
}

/// f32 bits -> bf16 bits (u32 lanes), as [`f32_to_bf16_scalar`].
#[inline(always)]
pub fn f32_to_bf16_simd(u: v128) -> v128 {
    let odd = v128_and(u32x4_shr(u, 16), u32x4_splat(1));
    let r = u32x4_shr(i32x4_add(i32x4_add(u, odd), u32x4_splat(0x7fff)), 16);
    let nan = i32x4_gt(v128_and(u, u32x4_splat(0x7fff_ffff)), u32x4_splat(0x7f80_0000));
    let qnan = v128_or(v128_and(u32x4_shr(u, 16), u32x4_splat(0x8000)), u32x4_splat(0x7fc0));
    v128_bitselect(qnan, r, nan)
}

/// f32 bits -> bf16 storage bits (u32 lanes), as [`f32_to_bf16_storage_scalar`].
#[inline(always)]
pub fn f32_to_bf16_storage_simd(u: v128) -> v128 {
    let odd = v128_and(u32x4_shr(u, 16), u32x4_splat(1));
    let r = u32x4_shr(i32x4_add(i32x4_add(u, odd), u32x4_splat(0x7fff)), 16);
    let small = i32x4_lt(v128_and(u, u32x4_splat(0x7fff_ffff)), u32x4_splat(0x7f7f_0000));
    v128_bitselect(r, u32x4_shr(u, 16), small)
}

/// bf16 bits (u32 lanes) -> f32 bits, as [`bf16_to_f32_scalar`].
#[inline(always)]
pub fn bf16_to_f32_simd(b: v128) -> v128 {
    let u = i32x4_shl(b, 16);
    let nan = i32x4_gt(v128_and(u, u32x4_splat(0x7fff_ffff)), u32x4_splat(0x7f80_0000));
    v128_or(u, v128_and(nan, u32x4_splat(0x0040_0000)))
}

// ---------------------------------------------------------------------------------------------
// Array drivers.

#[inline(always)]
unsafe fn map_16_to_32(src: *const u16, dst: *mut u32, n: usize, f: impl Fn(v128) -> v128, s: impl Fn(u32) -> u32) {
    let mut i = 0;
    while i + 8 <= n {
        let v = v128_load(src.add(i) as *const v128);
        v128_store(dst.add(i) as *mut v128, f(u32x4_extend_low_u16x8(v)));
        v128_store(dst.add(i + 4) as *mut v128, f(u32x4_extend_high_u16x8(v)));
        i += 8;
    }
    while i < n {
        *dst.add(i) = s(*src.add(i) as u32);
        i += 1;
    }
}

#[inline(always)]
unsafe fn map_32_to_16(src: *const u32, dst: *mut u16, n: usize, f: impl Fn(v128) -> v128, s: impl Fn(u32) -> u32) {
    let mut i = 0;
    while i + 8 <= n {
        let lo = f(v128_load(src.add(i) as *const v128));
        let hi = f(v128_load(src.add(i + 4) as *const v128));
        v128_store(dst.add(i) as *mut v128, u16x8_narrow_i32x4(lo, hi));
        i += 8;
    }
    while i < n {
        *dst.add(i) = s(*src.add(i)) as u16;
        i += 1;
    }
}

#[inline(always)]
unsafe fn map_16_to_16(src: *const u16, dst: *mut u16, n: usize, f: impl Fn(v128) -> v128, s: impl Fn(u32) -> u32) {
    let mut i = 0;
    while i + 8 <= n {
        let v = v128_load(src.add(i) as *const v128);
        let lo = f(u32x4_extend_low_u16x8(v));
        let hi = f(u32x4_extend_high_u16x8(v));
        v128_store(dst.add(i) as *mut v128, u16x8_narrow_i32x4(lo, hi));
        i += 8;
    }
    while i < n {
        *dst.add(i) = s(*src.add(i) as u32) as u16;
        i += 1;
    }
}

/// f16 -> f32, `n` elements.
#[no_mangle]
pub unsafe extern "C" fn cvt_f16_f32(src: *const u16, dst: *mut u32, n: usize) {
    map_16_to_32(src, dst, n, f16_to_f32_simd, |h| f16_to_f32_scalar(h).to_bits());
}

/// bf16 -> f32, `n` elements.
#[no_mangle]
pub unsafe extern "C" fn cvt_bf16_f32(src: *const u16, dst: *mut u32, n: usize) {
    map_16_to_32(src, dst, n, bf16_to_f32_simd, bf16_to_f32_scalar);
}

/// f32 -> f16 (RNE), `n` elements.
#[no_mangle]
pub unsafe extern "C" fn cvt_f32_f16(src: *const u32, dst: *mut u16, n: usize) {
    map_32_to_16(src, dst, n, f32_to_f16_simd, f32_to_f16_scalar);
}

/// f32 -> bf16 (RNE, ml_dtypes), `n` elements.
#[no_mangle]
pub unsafe extern "C" fn cvt_f32_bf16(src: *const u32, dst: *mut u16, n: usize) {
    map_32_to_16(src, dst, n, f32_to_bf16_simd, f32_to_bf16_scalar);
}

/// f32 -> bf16, tvmjs `f32-to-bf16` storage encoding, `n` elements.
#[no_mangle]
pub unsafe extern "C" fn cvt_f32_bf16_storage(src: *const u32, dst: *mut u16, n: usize) {
    map_32_to_16(src, dst, n, f32_to_bf16_storage_simd, f32_to_bf16_storage_scalar);
}

/// bf16 -> f16 (via f32, RNE), `n` elements.
#[no_mangle]
pub unsafe extern "C" fn cvt_bf16_f16(src: *const u16, dst: *mut u16, n: usize) {
    map_16_to_16(src, dst, n, |b| f32_to_f16_simd(i32x4_shl(b, 16)), |b| f32_to_f16_scalar(b << 16));
}

/// f16 -> bf16 (via f32, RNE), `n` elements.
#[no_mangle]
pub unsafe extern "C" fn cvt_f16_bf16(src: *const u16, dst: *mut u16, n: usize) {
    map_16_to_16(src, dst, n, |h| f32_to_bf16_simd(f16_to_f32_simd(h)), |h| {
        f32_to_bf16_scalar(f16_to_f32_scalar(h).to_bits())
    });
}
