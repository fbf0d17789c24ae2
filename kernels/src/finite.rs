//! Counting non-finite values (NaN, +Inf, -Inf) in a source chunk, so a conversion can name the
//! tensors that hold them (MLC converts them silently).
//!
//! Invariant: a value is non-finite exactly when all its exponent bits are set:
//! f16 `(h & 0x7c00) == 0x7c00`, bf16 `(b & 0x7f80) == 0x7f80`, f32 `(u & 0x7f80_0000) == 0x7f80_0000`.
//! The scalar path is the definition; the `simd128` path must give the same count (checked over
//! every f16 and bf16 bit pattern and the f32 boundaries in `tests/nonfinite_test.ts`).
use core::arch::wasm32::*;

/// Exponent mask of a dtype code (0 f16, 1 bf16, 2 f32) and its element size, or `None`.
#[inline(always)]
fn mask_of(dtype: u32) -> Option<(u32, usize)> {
    match dtype {
        0 => Some((0x7c00, 2)),
        1 => Some((0x7f80, 2)),
        2 => Some((0x7f80_0000, 4)),
        _ => None,
    }
}

/// Scalar count of the non-finite elements among `n` elements at `src`.
///
/// # Safety
/// `src` must point to `n` readable elements of the dtype.
pub unsafe fn count_nonfinite_scalar(src: *const u8, dtype: u32, n: usize) -> u32 {
    let (mask, size) = match mask_of(dtype) {
        Some(m) => m,
        None => return u32::MAX,
    };
    let mut count = 0u32;
    for i in 0..n {
        let bits = if size == 2 {
            (src.add(i * 2) as *const u16).read_unaligned() as u32
        } else {
            (src.add(i * 4) as *const u32).read_unaligned()
        };
        count += ((bits & mask) == mask) as u32;
    }
    count
}

/// SIMD count: 16 bytes at a time (8 halves or 4 floats), the tail by the scalar path.
///
/// # Safety
/// As [`count_nonfinite_scalar`].
pub unsafe fn count_nonfinite_simd(src: *const u8, dtype: u32, n: usize) -> u32 {
    let (mask, size) = match mask_of(dtype) {
        Some(m) => m,
        None => return u32::MAX,
    };
    let lanes = 16 / size;
    let full = n / lanes;
    // per-lane counters (all-ones lanes are -1: subtracting counts up); flushed before they wrap
    let mut total = 0u32;
    let mut i = 0usize;
    while i < full {
        let end = core::cmp::min(full, i + 16_000);
        if size == 2 {
            let m = u16x8_splat(mask as u16);
            let mut acc = u16x8_splat(0);
            while i < end {
                let v = v128_load(src.add(i * 16) as *const v128);
                acc = i16x8_sub(acc, i16x8_eq(v128_and(v, m), m));
                i += 1;
            }
            let wide = i32x4_extadd_pairwise_u16x8(acc);
            total += (u32x4_extract_lane::<0>(wide) + u32x4_extract_lane::<1>(wide))
                + (u32x4_extract_lane::<2>(wide) + u32x4_extract_lane::<3>(wide));
        } else {
            let m = u32x4_splat(mask);
            let mut acc = u32x4_splat(0);
            while i < end {
                let v = v128_load(src.add(i * 16) as *const v128);
                acc = i32x4_sub(acc, i32x4_eq(v128_and(v, m), m));
                i += 1;
            }
            total += (u32x4_extract_lane::<0>(acc) + u32x4_extract_lane::<1>(acc))
                + (u32x4_extract_lane::<2>(acc) + u32x4_extract_lane::<3>(acc));
        }
    }
    let done = full * lanes;
    total + count_nonfinite_scalar(src.add(done * size), dtype, n - done)
}

/// Export: the number of non-finite elements among `n` elements of dtype code `dtype` at byte
/// offset `src` (`u32::MAX` for an unknown dtype code). `simd` 0 selects the scalar path.
#[no_mangle]
pub unsafe extern "C" fn count_nonfinite(src: usize, dtype: u32, n: usize, simd: u32) -> u32 {
    let p = src as *const u8;
    if simd == 0 {
        count_nonfinite_scalar(p, dtype, n)
    } else {
        count_nonfinite_simd(p, dtype, n)
    }
}
