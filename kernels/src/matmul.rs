//! Dequantize-matmul: `y[b, n] = sum_k x[b, k] * (code[n, k] - max_int) * scale[n, k / gs]`,
//! quantized weight N x K (NK layout) times f32 activations B x K, f32 output B x N.
//!
//! Per group, the dot product with the unscaled codes is accumulated in f32 lanes and then
//! multiplied by the scale; up to four activation rows share one decode of the weight group.
use crate::dequantize::{code_at, decode_vec, load_scale};
use core::arch::wasm32::*;

#[inline(always)]
fn hsum(v: v128) -> f32 {
    let v = f32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    let v = f32x4_add(v, i32x4_shuffle::<1, 0, 1, 0>(v, v));
    f32x4_extract_lane::<0>(v)
}

/// One weight row against `BB` activation rows.
#[inline(always)]
unsafe fn row_block<const BITS: u32, const NV: usize, const BB: usize>(
    wrow: *const u32,
    scales: *const u8,
    gbase: usize,
    dtype: u32,
    k: usize,
    gs: usize,
    x: *const f32,
    y: *mut f32,
    ystride: usize,
) {
    let groups = (k + gs - 1) / gs;
    let wpg = gs / if BITS == 4 { 8 } else { 10 };
    let max_int = ((1u32 << (BITS - 1)) - 1) as f32;
    let mut acc = [f32x4_splat(0.0); BB];
    let mut tail = [0f32; BB];
    for g in 0..groups {
        let s = load_scale(scales, dtype, gbase + g);
        let wp = wrow.add(g * wpg);
        let n = if k - g * gs < gs { k - g * gs } else { gs };
        if NV > 0 && n == gs {
            let w = v128_load(wp as *const v128);
            let sv = f32x4_splat(s);
            let mut ga = [f32x4_splat(0.0); BB];
            for i in 0..NV {
                let c = decode_vec::<BITS>(w, i);
                for b in 0..BB {
                    let xv = v128_load(x.add(b * k + g * gs + 4 * i) as *const v128);
                    ga[b] = f32x4_add(ga[b], f32x4_mul(xv, c));
                }
            }
            for b in 0..BB {
                acc[b] = f32x4_add(acc[b], f32x4_mul(ga[b], sv));
            }
        } else {
            for b in 0..BB {
                let xp = x.add(b * k + g * gs);
                let mut d = 0f32;
                for j in 0..n {
                    d += *xp.add(j) * (code_at(wp, BITS, j) as f32 - max_int);
                }
                tail[b] += d * s;
            }
        }
    }
    for b in 0..BB {
        *y.add(b * ystride) = hsum(acc[b]) + tail[b];
    }
}

#[inline(always)]
unsafe fn run<const BITS: u32, const NV: usize>(
    words: *const u32,
    scales: *const u8,
    n_rows: usize,
    k: usize,
    gs: usize,
    dtype: u32,
    x: *const f32,
    batch: usize,
    y: *mut f32,
) {
    let groups = (k + gs - 1) / gs;
    let wpg = gs / if BITS == 4 { 8 } else { 10 };
    for n in 0..n_rows {
        let wrow = words.add(n * groups * wpg);
        let gbase = n * groups;
        let mut b = 0;
        while b + 4 <= batch {
            row_block::<BITS, NV, 4>(wrow, scales, gbase, dtype, k, gs, x.add(b * k), y.add(b * n_rows + n), n_rows);
            b += 4;
        }
        let xb = x.add(b * k);
        let yb = y.add(b * n_rows + n);
        match batch - b {
            3 => row_block::<BITS, NV, 3>(wrow, scales, gbase, dtype, k, gs, xb, yb, n_rows),
            2 => row_block::<BITS, NV, 2>(wrow, scales, gbase, dtype, k, gs, xb, yb, n_rows),
            1 => row_block::<BITS, NV, 1>(wrow, scales, gbase, dtype, k, gs, xb, yb, n_rows),
            _ => {}
        }
    }
}

/// `y (batch x n) = x (batch x k) * dequant(W)^T` for a quantized W of `n` rows of `k` (NK layout;
/// parameters as `group_quantize`). Returns 0, or -1 for unsupported parameters.
#[no_mangle]
pub unsafe extern "C" fn dequant_matmul(
    words: *const u32,
    scales: *const u8,
    n: usize,
    k: usize,
    bits: u32,
    gs: usize,
    dtype: u32,
    x: *const f32,
    batch: usize,
    y: *mut f32,
) -> i32 {
    if !(bits == 3 || bits == 4) || dtype > 2 || gs == 0 || gs % (32 / bits as usize) != 0 {
        return -1;
    }
    match (bits, gs) {
        (4, 32) => run::<4, 8>(words, scales, n, k, gs, dtype, x, batch, y),
        (3, 40) => run::<3, 10>(words, scales, n, k, gs, dtype, x, batch, y),
        (4, _) => run::<4, 0>(words, scales, n, k, gs, dtype, x, batch, y),
        _ => run::<3, 0>(words, scales, n, k, gs, dtype, x, batch, y),
    }
    0
}
