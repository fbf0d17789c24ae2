//! Transposes of row-major matrices (the KN layout's `q_weight` and `q_scale`).

/// `dst[c * rows + r] = src[r * cols + c]` for u32 elements.
#[no_mangle]
pub unsafe extern "C" fn transpose_u32(src: *const u32, rows: usize, cols: usize, dst: *mut u32) {
    transpose(src, rows, cols, dst);
}

/// `dst[c * rows + r] = src[r * cols + c]` for u16 elements.
#[no_mangle]
pub unsafe extern "C" fn transpose_u16(src: *const u16, rows: usize, cols: usize, dst: *mut u16) {
    transpose(src, rows, cols, dst);
}

/// Blocked transpose (8 x 8 tiles keep both sides within a few cache lines).
#[inline(always)]
unsafe fn transpose<T: Copy>(src: *const T, rows: usize, cols: usize, dst: *mut T) {
    const B: usize = 8;
    let mut r0 = 0;
    while r0 < rows {
        let r1 = if r0 + B < rows { r0 + B } else { rows };
        let mut c0 = 0;
        while c0 < cols {
            let c1 = if c0 + B < cols { c0 + B } else { cols };
            for r in r0..r1 {
                for c in c0..c1 {
                    *dst.add(c * rows + r) = *src.add(r * cols + c);
                }
            }
            c0 = c1;
        }
        r0 = r1;
    }
}
