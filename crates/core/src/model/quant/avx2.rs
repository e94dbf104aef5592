//! The exact integer block dots on x86_64 AVX2 (chosen at run time): `vpmaddubsw` on unsigned ×
//! signed bytes, then `vpmaddwd` into i32 lanes.

use std::arch::x86_64::*;

use std::ops::Range;

use super::kernel::{matmul_with, Kernel};
use super::{Q8Row, QMatrix};

#[target_feature(enable = "avx2")]
pub(super) fn matmul_avx2(w: &QMatrix, xs: &[Q8Row], out: &mut [f32], part: Range<usize>) {
    matmul_with::<Avx2>(w, xs, out, part);
}

/// Only used inside `matmul_avx2`, which checked that the CPU has AVX2.
struct Avx2;
impl Kernel for Avx2 {
    // Row by row measured faster here (124 vs 114 tokens/s decode).
    const WEIGHT_ROWS_4: bool = false;
    // Measured: a 1,536 × 576 Q4_1 product of 64 tokens 2.4–4.2 → 1.6 ms, the synthetic
    // model's prefill 422–500 → 314–351 ms (BENCHMARKS.md, 2026-12-04, tenth session).
    const TILE_4X4: bool = true;
    #[inline(always)]
    fn q4(w: &[u8; 16], x: &[i8; 32]) -> i32 {
        // SAFETY: reached only from `matmul_avx2` (AVX2 present).
        unsafe { isum_q4_avx2(w, x) }
    }
    #[inline(always)]
    fn q8(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        // SAFETY: as above.
        unsafe { isum_q8_avx2(w, x) }
    }
    #[inline(always)]
    fn q8_halves(w: &[i8; 32], x: &[i8; 32]) -> [i32; 2] {
        // SAFETY: as above.
        unsafe { isum_q8_halves_avx2(w, x) }
    }
    #[inline(always)]
    fn q4x4(w: &[u8; 16], x: [&[i8; 32]; 4]) -> [i32; 4] {
        // SAFETY: as above.
        unsafe { isum_q4x4_avx2(w, x) }
    }
    #[inline(always)]
    fn q8x4(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
        // SAFETY: as above.
        unsafe { isum_q8x4_avx2(w, x) }
    }
    #[inline(always)]
    fn q4w4(w: [&[u8; 16]; 4], x: &[i8; 32]) -> [i32; 4] {
        // SAFETY: as above.
        unsafe { isum_q4w4_avx2(w, x) }
    }
    #[inline(always)]
    fn q8w4(w: [&[i8; 32]; 4], x: &[i8; 32]) -> [i32; 4] {
        // SAFETY: as above.
        unsafe { isum_q8w4_avx2(w, x) }
    }
}

/// Four i32×8 vectors → the four lane sums, in order.
#[inline]
#[target_feature(enable = "avx2")]
fn hsum4(v: [__m256i; 4]) -> [i32; 4] {
    let ab = _mm256_hadd_epi32(v[0], v[1]); // a01 a23 b01 b23 | a45 a67 b45 b67
    let cd = _mm256_hadd_epi32(v[2], v[3]);
    let abcd = _mm256_hadd_epi32(ab, cd); // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(abcd),
        _mm256_extracti128_si256::<1>(abcd),
    );
    let mut out = [0i32; 4];
    // SAFETY: 16 writable bytes.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), s) };
    out
}

/// The 32 nibbles of a Q4_1 block as unsigned bytes in element order.
#[inline]
#[target_feature(enable = "avx2")]
fn unpack_q4(w: &[u8; 16]) -> __m256i {
    // SAFETY: 16 readable bytes.
    let q = unsafe { _mm_loadu_si128(w.as_ptr().cast()) };
    let q = _mm256_set_m128i(_mm_srli_epi16::<4>(q), q);
    _mm256_and_si256(q, _mm256_set1_epi8(0x0F))
}

#[inline]
#[target_feature(enable = "avx2")]
fn load32(x: &[i8; 32]) -> __m256i {
    // SAFETY: 32 readable bytes.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

/// Σ over 32 byte pairs of u8 × i8. `vpmaddubsw` saturates a pair's sum to i16; it never does
/// here: the unsigned side is at most 128 (a nibble, or |w| of a byte weight, 128 for −128) and
/// the signed side within ±127 (activations are never −128), so |pair| ≤ 2·128·127 = 32,512.
#[inline]
#[target_feature(enable = "avx2")]
fn dot_u8_i8(u: __m256i, s: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
}

#[inline]
#[target_feature(enable = "avx2")]
fn isum_q4x4_avx2(w: &[u8; 16], x: [&[i8; 32]; 4]) -> [i32; 4] {
    let q = unpack_q4(w);
    hsum4(x.map(|x| dot_u8_i8(q, load32(x))))
}

#[inline]
#[target_feature(enable = "avx2")]
fn isum_q8x4_avx2(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
    let w = load32(w);
    let abs = _mm256_sign_epi8(w, w);
    hsum4(x.map(|x| dot_u8_i8(abs, _mm256_sign_epi8(load32(x), w))))
}

/// i32 lanes → their sum.
#[inline]
#[target_feature(enable = "avx2")]
fn hsum(v: __m256i) -> i32 {
    hsum128(_mm_add_epi32(
        _mm256_castsi256_si128(v),
        _mm256_extracti128_si256::<1>(v),
    ))
}

#[inline]
#[target_feature(enable = "avx2")]
fn isum_q4w4_avx2(w: [&[u8; 16]; 4], x: &[i8; 32]) -> [i32; 4] {
    let x = load32(x);
    hsum4(w.map(|w| dot_u8_i8(unpack_q4(w), x)))
}

#[inline]
#[target_feature(enable = "avx2")]
fn isum_q8w4_avx2(w: [&[i8; 32]; 4], x: &[i8; 32]) -> [i32; 4] {
    let x = load32(x);
    hsum4(w.map(|w| {
        let w = load32(w);
        dot_u8_i8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w))
    }))
}

#[inline]
#[target_feature(enable = "avx2")]
fn isum_q4_avx2(w: &[u8; 16], x: &[i8; 32]) -> i32 {
    // 32 unsigned nibbles in element order times 32 signed bytes, summed.
    hsum(dot_u8_i8(unpack_q4(w), load32(x)))
}

#[inline]
#[target_feature(enable = "avx2")]
fn isum_q8_avx2(w: &[i8; 32], x: &[i8; 32]) -> i32 {
    // maddubs needs an unsigned left operand: multiply |w| by x carrying w's sign (exact because
    // x is never −128, whose negation is itself: see `quantize_block`).
    let w = load32(w);
    hsum(dot_u8_i8(
        _mm256_sign_epi8(w, w),
        _mm256_sign_epi8(load32(x), w),
    ))
}

#[inline]
#[target_feature(enable = "avx2")]
fn isum_q8_halves_avx2(w: &[i8; 32], x: &[i8; 32]) -> [i32; 2] {
    // Lanes 0..4 of the product hold bytes 0..16, lanes 4..8 bytes 16..32.
    let w = load32(w);
    let v = dot_u8_i8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(load32(x), w));
    let (lo, hi) = (_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    [hsum128(lo), hsum128(hi)]
}

/// Four i32 lanes → their sum.
#[inline]
#[target_feature(enable = "avx2")]
fn hsum128(s: __m128i) -> i32 {
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}
