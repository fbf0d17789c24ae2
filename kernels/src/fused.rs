//! Fused cast + group quantization: source elements (f16, bf16 or f32) are cast to the model
//! dtype (`castReference` semantics) and group-quantized (`groupQuantizeReference`) in one
//! pass, byte-identical to casting first and quantizing the result.
//!
//! The hot case (bf16 source, f16 model dtype, int4 groups of 32: `q4f16_1` on bf16
//! checkpoints) keeps each group in registers: bf16 -> f16 rounding, max_abs, scale and codes
//! without storing the cast values. Other cases cast one row into `scratch` (in cache) and run
//! the group quantizer on it. Groups the fast path cannot take exactly (NaN, infinity, values
//! that overflow f16, a subnormal scale, ragged tails) are cast into `scratch` and quantized by
//! the general path.
use crate::convert::{f16_to_f32_scalar, f32_to_f16_scalar};
use crate::quantize::{codes_of_q, group_quantize, DT_BF16, DT_F16, DT_F32, TIE_AWAY};
use core::arch::wasm32::*;

/// Casts `n` elements at `src` (dtype `sdt`) to `mdt` at `dst` (equal dtypes: a copy).
#[inline(always)]
unsafe fn cast_into(src: *const u8, sdt: u32, dst: *mut u8, mdt: u32, n: usize) {
    use crate::convert::*;
    let s16 = src as *const u16;
    let s32 = src as *const u32;
    let d16 = dst as *mut u16;
    let d32 = dst as *mut u32;
    match (sdt, mdt) {
        (DT_BF16, DT_F16) => cvt_bf16_f16(s16, d16, n),
        (DT_F16, DT_BF16) => cvt_f16_bf16(s16, d16, n),
        (DT_F32, DT_F16) => cvt_f32_f16(s32, d16, n),
        (DT_F32, DT_BF16) => cvt_f32_bf16(s32, d16, n),
        (DT_F16, DT_F32) => cvt_f16_f32(s16, d32, n),
        (DT_BF16, DT_F32) => cvt_bf16_f32(s16, d32, n),
        _ => {
            let size = if sdt == DT_F32 { 4 } else { 2 };
            core::ptr::copy_nonoverlapping(src, dst, n * size);
        }
    }
}

/// Rounds f32 values (u32 lanes of bits) to the f16 grid, staying in f32: normals to 10
/// mantissa bits, |x| < 2^-14 to multiples of 2^-24 (round to nearest even). Adding then
/// subtracting M = 2^(e + 13) (e: the exponent of x, at least -14) rounds x to a multiple of
/// 2^(e - 10). Exact for |x| < 65520; larger values are excluded by the caller.
#[inline(always)]
fn round_f16_grid(x: v128) -> v128 {
    let sign = v128_and(x, u32x4_splat(0x8000_0000));
    let a = v128_and(x, u32x4_splat(0x7fff_ffff));
    let e = u32x4_max(v128_and(a, u32x4_splat(0x7f80_0000)), u32x4_splat(0x3880_0000));
    let m = i32x4_add(e, u32x4_splat(13 << 23));
    v128_or(f32x4_sub(f32x4_add(a, m), m), sign)
}

/// Rounds one f32 value (bits, |x| < 65520) to the f16 grid, as [`round_f16_grid`].
#[inline(always)]
fn round_f16_scalar(x: u32) -> u32 {
    f16_to_f32_scalar(f32_to_f16_scalar(x)).to_bits()
}

#[inline(always)]
fn hmax16(v: v128) -> v128 {
    let v = u16x8_max(v, i16x8_shuffle::<4, 5, 6, 7, 0, 1, 2, 3>(v, v));
    let v = u16x8_max(v, i16x8_shuffle::<2, 3, 0, 1, 2, 3, 0, 1>(v, v));
    u16x8_max(v, i16x8_shuffle::<1, 0, 1, 0, 1, 0, 1, 0>(v, v))
}

/// One bf16 group of 32 -> f16 int4 codes and scale. Returns false when the group must take
/// the general path (non-finite values, f16 overflow, or a subnormal or zero scale).
///
/// The cast values stay f32 values on the f16 grid (exactly the f16 values the reference
/// computes with). `w / scale` is then rounded as the f16 kernel does (quantize.rs).
#[inline(always)]
unsafe fn bf16_f16_q4_group<const AWAY: bool>(p: *const u16, words: *mut u32, scale_out: *mut u16) -> bool {
    let mut v = [u32x4_splat(0); 8];
    let mut raw_max = u16x8_splat(0);
    let mut small = u16x8_splat(0);
    for i in 0..4 {
        let b = v128_load(p.add(8 * i) as *const v128);
        let a = v128_and(b, u16x8_splat(0x7fff));
        raw_max = u16x8_max(raw_max, a);
        // nonzero and below 2^-14 (0x3880): (a - 1) wraps zero to 0xffff
        small = v128_or(small, u16x8_lt(i16x8_sub(a, u16x8_splat(1)), u16x8_splat(0x387f)));
        v[2 * i] = i32x4_shl(u32x4_extend_low_u16x8(b), 16);
        v[2 * i + 1] = i32x4_shl(u32x4_extend_high_u16x8(b), 16);
    }
    // 0x477f: the largest bf16 below f16's overflow threshold (65520); NaN and inf are above
    if !u16x8_all_true(u16x8_lt(raw_max, u16x8_splat(0x4780))) {
        return false;
    }
    // bf16 values (8 significant bits) are exact in f16 unless they are f16 subnormals
    if v128_any_true(small) {
        for i in 0..8 {
            v[i] = round_f16_grid(v[i]);
        }
    }
    // max_abs of the f16 values: the rounding is monotonic, so it is the rounded raw max
    let amax = f32::from_bits(round_f16_scalar((u16x8_extract_lane::<0>(hmax16(raw_max)) as u32) << 16));
    let sbits = f32_to_f16_scalar((amax / 7.0).to_bits());
    if sbits < 0x400 {
        return false;
    }
    *scale_out = sbits as u16;
    let s = f32x4_splat(f16_to_f32_scalar(sbits));
    let c = |i: usize| codes_of_q::<AWAY>(f32x4_div(v[i], s), 7.0);
    let b0 = u8x16_narrow_i16x8(i16x8_narrow_i32x4(c(0), c(1)), i16x8_narrow_i32x4(c(2), c(3)));
    let b1 = u8x16_narrow_i16x8(i16x8_narrow_i32x4(c(4), c(5)), i16x8_narrow_i32x4(c(6), c(7)));
    let n0 = v128_or(b0, u16x8_shr(b0, 4));
    let n1 = v128_or(b1, u16x8_shr(b1, 4));
    let w = i8x16_shuffle::<0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30>(n0, n1);
    v128_store(words as *mut v128, w);
    true
}

/// Packs 32 codes (8 vectors of 4) into 4 words (two codes per byte, element 2i low).
#[inline(always)]
unsafe fn pack4(c: impl Fn(usize) -> v128, words: *mut u32) {
    let b0 = u8x16_narrow_i16x8(i16x8_narrow_i32x4(c(0), c(1)), i16x8_narrow_i32x4(c(2), c(3)));
    let b1 = u8x16_narrow_i16x8(i16x8_narrow_i32x4(c(4), c(5)), i16x8_narrow_i32x4(c(6), c(7)));
    let n0 = v128_or(b0, u16x8_shr(b0, 4));
    let n1 = v128_or(b1, u16x8_shr(b1, 4));
    let w = i8x16_shuffle::<0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30>(n0, n1);
    v128_store(words as *mut v128, w);
}

/// Lane i = max of the u32 lanes of vector i.
#[inline(always)]
fn hmax4(a: v128, b: v128, c: v128, d: v128) -> v128 {
    let ab = u32x4_max(i32x4_shuffle::<0, 4, 2, 6>(a, b), i32x4_shuffle::<1, 5, 3, 7>(a, b));
    let cd = u32x4_max(i32x4_shuffle::<0, 4, 2, 6>(c, d), i32x4_shuffle::<1, 5, 3, 7>(c, d));
    u32x4_max(i32x4_shuffle::<0, 1, 4, 5>(ab, cd), i32x4_shuffle::<2, 3, 6, 7>(ab, cd))
}

/// Four consecutive groups of 32 (bf16 source, or f16 source when `F16`) -> f16 int4: the four
/// scales are computed in one vector (max_abs, f16 rounding, division by 7, f16 rounding), then
/// each group's codes. Groups the fast path cannot take (non-finite values, f16 overflow,
/// subnormal or zero scale) are left to `general`, called with the group index after the others
/// are stored.
///
/// f16 values are taken as their bits shifted into an f32 (`h << 13`, sign kept): that f32 is
/// the value times 2^-112, exactly, subnormals included; the scale is taken the same way, so
/// `w / scale` is unchanged.
#[inline(always)]
unsafe fn q4_block4<const F16: bool, const AWAY: bool>(
    p: *const u16,
    words: *mut u32,
    scales: *mut u16,
    general: impl Fn(usize) -> u32,
) -> u32 {
    let mut mx = [u32x4_splat(0); 4];
    let mut small = 0u32;
    for g in 0..4 {
        let mut m = u16x8_splat(0);
        let mut least = u16x8_splat(0xffff);
        for i in 0..4 {
            let a = v128_and(v128_load(p.add(32 * g + 8 * i) as *const v128), u16x8_splat(0x7fff));
            m = u16x8_max(m, a);
            if !F16 {
                // the least nonzero magnitude: (a - 1) wraps zero to 0xffff
                least = u16x8_min(least, i16x8_sub(a, u16x8_splat(1)));
            }
        }
        mx[g] = u32x4_max(u32x4_extend_low_u16x8(m), u32x4_extend_high_u16x8(m));
        if !F16 {
            // a nonzero bf16 below 2^-14 (0x3880) is a subnormal in f16, not exact there
            small |= (v128_any_true(u16x8_lt(least, u16x8_splat(0x387f))) as u32) << g;
        }
    }
    let raw = hmax4(mx[0], mx[1], mx[2], mx[3]);
    let (amax, over) = if F16 {
        // f16 magnitudes as f32, exact for normals; inf and NaN (>= 0x7c00) go to `general`. A
        // subnormal maximum comes out below 2^-13, so its scale is subnormal too (and goes there)
        let amax = i32x4_add(i32x4_shl(raw, 13), u32x4_splat(0x3800_0000));
        (amax, u32x4_ge(raw, u32x4_splat(0x7c00)))
    } else {
        // max_abs of the f16 values = the f16 rounding of the raw max (rounding is monotonic);
        // 0x4780: f16 overflow (and NaN, inf)
        (round_f16_grid(i32x4_shl(raw, 16)), u32x4_ge(raw, u32x4_splat(0x4780)))
    };
    let sbits = crate::convert::f32_to_f16_simd(f32x4_div(amax, f32x4_splat(7.0)));
    // sbits < 0x400: subnormal or zero scale
    let bad = u32x4_bitmask(v128_or(over, u32x4_lt(sbits, u32x4_splat(0x400))));
    let sv = if F16 { i32x4_shl(sbits, 13) } else { crate::convert::f16_to_f32_simd(sbits) };
    v128_store64_lane::<0>(u16x8_narrow_i32x4(sbits, sbits), scales as *mut u64);
    let group = |g: usize, s: v128| {
        let q = p.add(32 * g);
        let mut v = [u32x4_splat(0); 8];
        let z = u32x4_splat(0);
        for i in 0..4 {
            // 16-bit values -> f32 bits << 16: interleave zero low halves (one unpack per four
            // lanes); f16: then down 3 places with the sign, the sign's copies cleared
            let b = v128_load(q.add(8 * i) as *const v128);
            v[2 * i] = i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(z, b);
            v[2 * i + 1] = i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(z, b);
            if F16 {
                for j in 0..2 {
                    v[2 * i + j] = v128_and(i32x4_shr(v[2 * i + j], 3), u32x4_splat(0x8fff_ffff));
                }
            }
        }
        if !F16 && small & (1 << g) != 0 {
            for i in 0..8 {
                v[i] = round_f16_grid(v[i]);
            }
        }
        pack4(|i| codes_of_q::<AWAY>(f32x4_div(v[i], s), 7.0), words.add(4 * g));
    };
    if bad == 0 {
        group(0, i32x4_shuffle::<0, 0, 0, 0>(sv, sv));
        group(1, i32x4_shuffle::<1, 1, 1, 1>(sv, sv));
        group(2, i32x4_shuffle::<2, 2, 2, 2>(sv, sv));
        group(3, i32x4_shuffle::<3, 3, 3, 3>(sv, sv));
        return 0;
    }
    let mut non_finite = 0;
    for g in 0..4 {
        if bad & (1 << g) != 0 {
            non_finite += general(g);
        } else {
            let s = match g {
                0 => i32x4_shuffle::<0, 0, 0, 0>(sv, sv),
                1 => i32x4_shuffle::<1, 1, 1, 1>(sv, sv),
                2 => i32x4_shuffle::<2, 2, 2, 2>(sv, sv),
                _ => i32x4_shuffle::<3, 3, 3, 3>(sv, sv),
            };
            group(g, s);
        }
    }
    non_finite
}

/// Rows of int4 groups of 32 into f16 codes and scales (bf16 source, or f16 when `F16`): four
/// groups at a time by [`q4_block4`], the others one by one (full bf16 groups by
/// [`bf16_f16_q4_group`]); what these cannot take goes to
/// `general(group start, its words, its scale, elements)`.
#[inline(always)]
unsafe fn q4_rows<const F16: bool, const AWAY: bool>(
    src: *const u16,
    rows: usize,
    k: usize,
    words: *mut u32,
    scales: *mut u16,
    general: impl Fn(*const u16, *mut u32, *mut u16, usize) -> u32,
) -> u32 {
    let groups = (k + 31) / 32;
    let mut non_finite = 0;
    for r in 0..rows {
        let row = src.add(r * k);
        let rw = words.add(r * groups * 4);
        let rs = scales.add(r * groups);
        let at = |g: usize, n: usize| general(row.add(g * 32), rw.add(g * 4), rs.add(g), n);
        let full = k / 32;
        let mut g0 = 0;
        while g0 + 4 <= full {
            non_finite += q4_block4::<F16, AWAY>(row.add(g0 * 32), rw.add(g0 * 4), rs.add(g0), |g| at(g0 + g, 32));
            g0 += 4;
        }
        for g in g0..groups {
            let n = if k - g * 32 < 32 { k - g * 32 } else { 32 };
            if !F16 && n == 32 && bf16_f16_q4_group::<AWAY>(row.add(g * 32), rw.add(g * 4), rs.add(g)) {
                continue;
            }
            non_finite += at(g, n);
        }
    }
    non_finite
}

/// bf16 rows -> f16 int4 groups of 32; a group the fast paths cannot take is cast into `scratch`
/// and quantized as one row of f16 values.
#[inline(always)]
unsafe fn bf16_f16_q4_rows<const AWAY: bool>(
    src: *const u16,
    rows: usize,
    k: usize,
    scratch: *mut u8,
    words: *mut u32,
    scales: *mut u16,
) -> u32 {
    q4_rows::<false, AWAY>(src, rows, k, words, scales, |p, w, s, n| {
        crate::convert::cvt_bf16_f16(p, scratch as *mut u16, n);
        group_quantize(scratch, 1, n, w, s as *mut u8, 4, 32, DT_F16, AWAY as u32) as u32
    })
}

/// f16 int4 groups of 32 from f16 rows (`group_quantize`'s `q4f16` case), four groups at a time
/// ([`q4_block4`]); other groups and ragged tails take the per-group path of quantize.rs.
#[inline(always)]
pub(crate) unsafe fn f16_q4_rows<const AWAY: bool>(
    src: *const u16,
    rows: usize,
    k: usize,
    words: *mut u32,
    scales: *mut u16,
) -> u32 {
    q4_rows::<true, AWAY>(src, rows, k, words, scales, |p, w, s, n| {
        crate::quantize::run::<4, 8, AWAY>(p as *const u8, 1, n, w, s as *mut u8, DT_F16, false)
    })
}

/// Casts `rows * k` elements at `src` from `src_dtype` to `dtype` and group-quantizes them
/// (NK layout), exactly as `cast` then `group_quantize`. `scratch` must hold `k` elements of
/// `dtype` (16-byte aligned). Dtype codes: 0 f16, 1 bf16, 2 f32. `tie`: the flags of
/// `group_quantize`. Returns the number of groups holding NaN or infinity after the cast (0 when
/// the source is finite and fits the model dtype), or -1 for unsupported parameters.
#[no_mangle]
pub unsafe extern "C" fn cast_group_quantize(
    src: *const u8,
    src_dtype: u32,
    rows: usize,
    k: usize,
    scratch: *mut u8,
    words: *mut u32,
    scales: *mut u8,
    bits: u32,
    gs: usize,
    dtype: u32,
    tie: u32,
) -> i32 {
    if src_dtype > DT_F32 || dtype > DT_F32 || tie > 3 || !(bits == 3 || bits == 4) || gs == 0 {
        return -1;
    }
    if gs % (32 / bits as usize) != 0 {
        return -1;
    }
    if src_dtype == dtype {
        return group_quantize(src, rows, k, words, scales, bits, gs, dtype, tie);
    }
    if src_dtype == DT_BF16 && dtype == DT_F16 && bits == 4 && gs == 32 {
        let (s, w, sc) = (src as *const u16, words, scales as *mut u16);
        let non_finite = if tie & TIE_AWAY != 0 {
            bf16_f16_q4_rows::<true>(s, rows, k, scratch, w, sc)
        } else {
            bf16_f16_q4_rows::<false>(s, rows, k, scratch, w, sc)
        };
        return non_finite as i32;
    }
    let ssize = if src_dtype == DT_F32 { 4 } else { 2 };
    let msize = if dtype == DT_F32 { 4 } else { 2 };
    let groups = (k + gs - 1) / gs;
    let wpr = groups * (gs / (32 / bits as usize));
    let mut non_finite = 0;
    for r in 0..rows {
        cast_into(src.add(r * k * ssize), src_dtype, scratch, dtype, k);
        let rc = group_quantize(scratch, 1, k, words.add(r * wpr), scales.add(r * groups * msize), bits, gs, dtype, tie);
        if rc < 0 {
            return rc;
        }
        non_finite += rc;
    }
    non_finite
}

/// Casts `n` elements at `src` from `src_dtype` to `dtype` (`castReference` semantics).
/// Returns 0, or -1 for unsupported dtype codes.
#[no_mangle]
pub unsafe extern "C" fn cast(src: *const u8, src_dtype: u32, dst: *mut u8, dtype: u32, n: usize) -> i32 {
    if src_dtype > DT_F32 || dtype > DT_F32 {
        return -1;
    }
    cast_into(src, src_dtype, dst, dtype, n);
    0
}
