//! MD5 (RFC 1321) compression of whole 64-byte blocks: a scalar single-stream function (the
//! reference, also used for tails and odd counts) and a multi-buffer one hashing four
//! independent streams at once, one per 32-bit lane of a `v128`.
//!
//! A state is four little-endian u32 words `a b c d` (16 bytes); the wrapper initialises it,
//! pads the last block(s) and reads the digest from it (the state's 16 bytes are the digest).

use core::arch::wasm32::*;

const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// `K` with each constant in four lanes (a load is cheaper than materialising a splat).
static KX4: [[u32; 4]; 64] = {
    let mut t = [[0u32; 4]; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = [K[i]; 4];
        i += 1;
    }
    t
};

/// The four round functions, on scalars or on four lanes.
trait Word: Copy {
    fn add(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn and(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    fn not(self) -> Self;
    fn rotl<const S: u32>(self) -> Self;
    fn k(i: usize) -> Self;
}

impl Word for u32 {
    #[inline(always)]
    fn add(self, o: u32) -> u32 {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn xor(self, o: u32) -> u32 {
        self ^ o
    }
    #[inline(always)]
    fn and(self, o: u32) -> u32 {
        self & o
    }
    #[inline(always)]
    fn or(self, o: u32) -> u32 {
        self | o
    }
    #[inline(always)]
    fn not(self) -> u32 {
        !self
    }
    #[inline(always)]
    fn rotl<const S: u32>(self) -> u32 {
        self.rotate_left(S)
    }
    #[inline(always)]
    fn k(i: usize) -> u32 {
        K[i]
    }
}

impl Word for v128 {
    #[inline(always)]
    fn add(self, o: v128) -> v128 {
        u32x4_add(self, o)
    }
    #[inline(always)]
    fn xor(self, o: v128) -> v128 {
        v128_xor(self, o)
    }
    #[inline(always)]
    fn and(self, o: v128) -> v128 {
        v128_and(self, o)
    }
    #[inline(always)]
    fn or(self, o: v128) -> v128 {
        v128_or(self, o)
    }
    #[inline(always)]
    fn not(self) -> v128 {
        v128_not(self)
    }
    #[inline(always)]
    fn rotl<const S: u32>(self) -> v128 {
        if S == 16 {
            // (one byte shuffle instead of two shifts and an or)
            i8x16_shuffle::<2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13>(self, self)
        } else {
            v128_or(u32x4_shl(self, S), u32x4_shr(self, 32 - S))
        }
    }
    #[inline(always)]
    fn k(i: usize) -> v128 {
        unsafe { core::ptr::read_volatile(KX4.as_ptr().add(i) as *const v128) }
    }
}

/// One MD5 step: `a = b + rotl(a + f(b, c, d) + K[i] + m, s)`.
macro_rules! step {
    ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $i:expr, $s:expr) => {
        $a = $b.add($a.add(W::k($i)).add($m).add($f($b, $c, $d)).rotl::<$s>());
    };
}

// The round functions are written so that `b`, the word computed by the previous step, enters
// as late as possible: the steps form one dependency chain, so its length (not the operation
// count) bounds the four-lane kernel.
#[inline(always)]
fn ff<W: Word>(b: W, c: W, d: W) -> W {
    d.xor(b.and(c.xor(d)))
}
#[inline(always)]
fn gg<W: Word>(b: W, c: W, d: W) -> W {
    // (b & d) | (c & !d)
    b.and(d).or(c.and(d.not()))
}
#[inline(always)]
fn hh<W: Word>(b: W, c: W, d: W) -> W {
    b.xor(c.xor(d))
}
#[inline(always)]
fn ii<W: Word>(b: W, c: W, d: W) -> W {
    c.xor(b.or(d.not()))
}

/// The 64 steps of one block on state `s` with message words `m`.
#[inline(always)]
fn compress<W: Word>(s: &mut [W; 4], m: &[W; 16]) {
    let (mut a, mut b, mut c, mut d) = (s[0], s[1], s[2], s[3]);
    step!(ff, a, b, c, d, m[0], 0, 7);
    step!(ff, d, a, b, c, m[1], 1, 12);
    step!(ff, c, d, a, b, m[2], 2, 17);
    step!(ff, b, c, d, a, m[3], 3, 22);
    step!(ff, a, b, c, d, m[4], 4, 7);
    step!(ff, d, a, b, c, m[5], 5, 12);
    step!(ff, c, d, a, b, m[6], 6, 17);
    step!(ff, b, c, d, a, m[7], 7, 22);
    step!(ff, a, b, c, d, m[8], 8, 7);
    step!(ff, d, a, b, c, m[9], 9, 12);
    step!(ff, c, d, a, b, m[10], 10, 17);
    step!(ff, b, c, d, a, m[11], 11, 22);
    step!(ff, a, b, c, d, m[12], 12, 7);
    step!(ff, d, a, b, c, m[13], 13, 12);
    step!(ff, c, d, a, b, m[14], 14, 17);
    step!(ff, b, c, d, a, m[15], 15, 22);

    step!(gg, a, b, c, d, m[1], 16, 5);
    step!(gg, d, a, b, c, m[6], 17, 9);
    step!(gg, c, d, a, b, m[11], 18, 14);
    step!(gg, b, c, d, a, m[0], 19, 20);
    step!(gg, a, b, c, d, m[5], 20, 5);
    step!(gg, d, a, b, c, m[10], 21, 9);
    step!(gg, c, d, a, b, m[15], 22, 14);
    step!(gg, b, c, d, a, m[4], 23, 20);
    step!(gg, a, b, c, d, m[9], 24, 5);
    step!(gg, d, a, b, c, m[14], 25, 9);
    step!(gg, c, d, a, b, m[3], 26, 14);
    step!(gg, b, c, d, a, m[8], 27, 20);
    step!(gg, a, b, c, d, m[13], 28, 5);
    step!(gg, d, a, b, c, m[2], 29, 9);
    step!(gg, c, d, a, b, m[7], 30, 14);
    step!(gg, b, c, d, a, m[12], 31, 20);

    step!(hh, a, b, c, d, m[5], 32, 4);
    step!(hh, d, a, b, c, m[8], 33, 11);
    step!(hh, c, d, a, b, m[11], 34, 16);
    step!(hh, b, c, d, a, m[14], 35, 23);
    step!(hh, a, b, c, d, m[1], 36, 4);
    step!(hh, d, a, b, c, m[4], 37, 11);
    step!(hh, c, d, a, b, m[7], 38, 16);
    step!(hh, b, c, d, a, m[10], 39, 23);
    step!(hh, a, b, c, d, m[13], 40, 4);
    step!(hh, d, a, b, c, m[0], 41, 11);
    step!(hh, c, d, a, b, m[3], 42, 16);
    step!(hh, b, c, d, a, m[6], 43, 23);
    step!(hh, a, b, c, d, m[9], 44, 4);
    step!(hh, d, a, b, c, m[12], 45, 11);
    step!(hh, c, d, a, b, m[15], 46, 16);
    step!(hh, b, c, d, a, m[2], 47, 23);

    step!(ii, a, b, c, d, m[0], 48, 6);
    step!(ii, d, a, b, c, m[7], 49, 10);
    step!(ii, c, d, a, b, m[14], 50, 15);
    step!(ii, b, c, d, a, m[5], 51, 21);
    step!(ii, a, b, c, d, m[12], 52, 6);
    step!(ii, d, a, b, c, m[3], 53, 10);
    step!(ii, c, d, a, b, m[10], 54, 15);
    step!(ii, b, c, d, a, m[1], 55, 21);
    step!(ii, a, b, c, d, m[8], 56, 6);
    step!(ii, d, a, b, c, m[15], 57, 10);
    step!(ii, c, d, a, b, m[6], 58, 15);
    step!(ii, b, c, d, a, m[13], 59, 21);
    step!(ii, a, b, c, d, m[4], 60, 6);
    step!(ii, d, a, b, c, m[11], 61, 10);
    step!(ii, c, d, a, b, m[2], 62, 15);
    step!(ii, b, c, d, a, m[9], 63, 21);

    s[0] = s[0].add(a);
    s[1] = s[1].add(b);
    s[2] = s[2].add(c);
    s[3] = s[3].add(d);
}

/// Scalar MD5 of `nblocks` whole 64-byte blocks at `data` into the state at `state` (16 bytes,
/// four little-endian u32 words). The reference for [`md5_blocks_x4`].
#[no_mangle]
pub unsafe extern "C" fn md5_blocks(state: *mut u32, data: *const u8, nblocks: usize) {
    let mut s = [*state, *state.add(1), *state.add(2), *state.add(3)];
    let mut p = data;
    for _ in 0..nblocks {
        let mut m = [0u32; 16];
        for (j, w) in m.iter_mut().enumerate() {
            *w = u32::from_le((p.add(4 * j) as *const u32).read_unaligned());
        }
        compress(&mut s, &m);
        p = p.add(64);
    }
    for (j, w) in s.iter().enumerate() {
        *state.add(j) = *w;
    }
}

/// `[x0, x1, x2, x3]` rows to columns (4 x 4 transpose of u32 lanes).
#[inline(always)]
fn transpose4(x0: v128, x1: v128, x2: v128, x3: v128) -> [v128; 4] {
    let t0 = i32x4_shuffle::<0, 4, 1, 5>(x0, x1); // a0 b0 a1 b1
    let t1 = i32x4_shuffle::<2, 6, 3, 7>(x0, x1); // a2 b2 a3 b3
    let t2 = i32x4_shuffle::<0, 4, 1, 5>(x2, x3); // c0 d0 c1 d1
    let t3 = i32x4_shuffle::<2, 6, 3, 7>(x2, x3); // c2 d2 c3 d3
    [
        i64x2_shuffle::<0, 2>(t0, t2),
        i64x2_shuffle::<1, 3>(t0, t2),
        i64x2_shuffle::<0, 2>(t1, t3),
        i64x2_shuffle::<1, 3>(t1, t3),
    ]
}

/// Multi-buffer MD5: four independent streams (`p0`..`p3`, `nblocks` whole 64-byte blocks
/// each) hashed together, one per lane. `states` holds the four streams' states one after the
/// other (16 bytes each, as for [`md5_blocks`]); lane `i` gives the same result as
/// `md5_blocks(states + 16 i, p_i, nblocks)`.
#[no_mangle]
pub unsafe extern "C" fn md5_blocks_x4(
    states: *mut u32,
    p0: *const u8,
    p1: *const u8,
    p2: *const u8,
    p3: *const u8,
    nblocks: usize,
) {
    let sp = states as *mut v128;
    let mut s = transpose4(
        v128_load(sp),
        v128_load(sp.add(1)),
        v128_load(sp.add(2)),
        v128_load(sp.add(3)),
    );
    let ps = [p0, p1, p2, p3];
    for blk in 0..nblocks {
        let o = blk * 64;
        let mut m = [u32x4_splat(0); 16];
        for q in 0..4 {
            let l = |i: usize| v128_load(ps[i].add(o + 16 * q) as *const v128);
            let t = transpose4(l(0), l(1), l(2), l(3));
            m[4 * q] = t[0];
            m[4 * q + 1] = t[1];
            m[4 * q + 2] = t[2];
            m[4 * q + 3] = t[3];
        }
        compress(&mut s, &m);
    }
    let out = transpose4(s[0], s[1], s[2], s[3]);
    for (j, v) in out.iter().enumerate() {
        v128_store(sp.add(j), *v);
    }
}
