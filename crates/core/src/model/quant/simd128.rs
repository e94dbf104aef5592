//! The exact integer block dots on wasm `simd128`: bytes widened to i16 and multiplied pairwise
//! into i32 lanes (`i32x4.dot_i16x8_s`).
//!
//! Built with `+relaxed-simd` (the worker's second build, chosen at run time where the browser
//! has it), a Q4_1 block takes one instruction per 16 weights instead of seven:
//! `i32x4.relaxed_dot_i8x16_i7x16_add_s` multiplies signed bytes (the activations) by 7-bit ones
//! (the weights' 4-bit nibbles, 0..=15) and adds each group of four products into an i32 lane.
//! "Relaxed" leaves only one thing to the engine — whether the second operand's top bit is a sign
//! — and a nibble's top bit is always 0, so the result is exact and the same on every engine
//! (pairs of products stay within ±3,840, far from the i16 limit). Q8_0 weights are signed, so
//! they keep the widening path.
//!
//! The float half of a block (`d·dₓ·dot + m·sₓ`, added to the row's sum) is done for four blocks
//! at once in one f32x4 vector (`add_with_min`, `add_scaled`): four weight rows of one token, or
//! one weight row of four tokens. Each lane does the scalar expression's operations in its order,
//! and wasm has no fused multiply-add, so the bits are the scalar path's.

use core::arch::wasm32::*;

use super::kernel::Kernel;

pub struct Simd128;
impl Kernel for Simd128 {
    // Measured: 72 tokens/s decode with, 66 without (BENCHMARKS.md).
    const WEIGHT_ROWS_4: bool = true;
    // Measured: the 49,152 × 576 Q8_0 output projection 6.5 ms with, 3.4–4.0 without; decode
    // 21.0–22.1 → 18.1–18.6 ms per token (BENCHMARKS.md, 2026-12-04).
    const WEIGHT_ROWS_4_BYTES: bool = false;
    // Measured: prefill 1.14× faster with, the same bits (BENCHMARKS.md, 2026-12-03).
    const TILE_4X4: bool = true;
    #[inline(always)]
    fn q4(w: &[u8; 16], x: &[i8; 32]) -> i32 {
        isum_q4_simd128(w, x)
    }
    #[inline(always)]
    fn q8(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        isum_q8_simd128(w, x)
    }
    #[inline(always)]
    fn q8_halves(w: &[i8; 32], x: &[i8; 32]) -> [i32; 2] {
        let ((w0, w1), (x0, x1)) = (load32(w), load32(x));
        [hsum(dot16(w0, x0)), hsum(dot16(w1, x1))]
    }
    #[inline(always)]
    fn q4x4(w: &[u8; 16], x: [&[i8; 32]; 4]) -> [i32; 4] {
        let (lo, hi) = unpack_q4(w);
        hsum4(x.map(|x| {
            let (x0, x1) = load32(x);
            dot_q4(lo, hi, x0, x1)
        }))
    }
    #[inline(always)]
    fn q8x4(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
        let (w0, w1) = load32(w);
        hsum4(x.map(|x| {
            let (x0, x1) = load32(x);
            i32x4_add(dot16(w0, x0), dot16(w1, x1))
        }))
    }
    #[inline(always)]
    fn q4w4(w: [&[u8; 16]; 4], x: &[i8; 32]) -> [i32; 4] {
        let (x0, x1) = load32(x);
        hsum4(w.map(|w| {
            let (lo, hi) = unpack_q4(w);
            dot_q4(lo, hi, x0, x1)
        }))
    }
    /// The four activation blocks stay in registers (eight vectors) while each weight block is
    /// unpacked once against all four.
    #[inline(always)]
    fn q4w4x4(w: [&[u8; 16]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        let x = x.map(load32);
        w.map(|w| {
            let (lo, hi) = unpack_q4(w);
            hsum4(x.map(|(x0, x1)| dot_q4(lo, hi, x0, x1)))
        })
    }
    #[inline(always)]
    fn q8w4x4(w: [&[i8; 32]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        let x = x.map(load32);
        w.map(|w| {
            let (w0, w1) = load32(w);
            hsum4(x.map(|(x0, x1)| i32x4_add(dot16(w0, x0), dot16(w1, x1))))
        })
    }
    /// The four lanes in one vector: each lane's operations are the scalar expression's, in its
    /// order (no fused multiply-add in wasm), so the bits are the same.
    #[inline(always)]
    fn add_with_min(
        sum: [f32; 4],
        d: [f32; 4],
        xd: [f32; 4],
        dot: [i32; 4],
        m: [f32; 4],
        xs: [f32; 4],
    ) -> [f32; 4] {
        let min = f32x4_mul(f4(m), f4(xs));
        lanes(f32x4_add(f4(sum), f32x4_add(scaled4(d, xd, dot), min)))
    }
    #[inline(always)]
    fn add_scaled(sum: [f32; 4], d: [f32; 4], xd: [f32; 4], dot: [i32; 4]) -> [f32; 4] {
        lanes(f32x4_add(f4(sum), scaled4(d, xd, dot)))
    }
}

/// `d·dₓ·dot` in four lanes: `(d·dₓ)·dot`, the scalar expression's order.
#[inline(always)]
fn scaled4(d: [f32; 4], xd: [f32; 4], dot: [i32; 4]) -> v128 {
    f32x4_mul(f32x4_mul(f4(d), f4(xd)), f32x4_convert_i32x4(i4(dot)))
}

#[inline(always)]
fn f4(a: [f32; 4]) -> v128 {
    f32x4(a[0], a[1], a[2], a[3])
}

#[inline(always)]
fn i4(a: [i32; 4]) -> v128 {
    i32x4(a[0], a[1], a[2], a[3])
}

#[inline(always)]
fn lanes(v: v128) -> [f32; 4] {
    [
        f32x4_extract_lane::<0>(v),
        f32x4_extract_lane::<1>(v),
        f32x4_extract_lane::<2>(v),
        f32x4_extract_lane::<3>(v),
    ]
}

/// [`super::scalar::quantize_block`] four values at a time, with the same bits:
/// - `max|x|`: `f32x4.pmax` ignores a NaN in its second operand as `f32::max` does, and a maximum
///   does not depend on the order it is taken in;
/// - `x·(1/d)` is the same multiplication;
/// - rounding halves away from zero (`f32::round`, a libm call in wasm): with `t = trunc(y)`,
///   `y − t` is exact, and `|y − t| ≥ ½` moves `t` one away from zero (infinities and NaN stay
///   as they are: `∞ − ∞` is NaN, which compares false);
/// - `as i8`: saturating conversion to i32 (NaN → 0), then two saturating narrowings;
/// - `Σq` is summed from the saturated bytes.
#[inline(always)]
pub(super) fn quantize_block(x: &[f32; 32], q: &mut [i8; 32]) -> (f32, i32) {
    // SAFETY: 32 readable floats, 4 per load.
    let v: [v128; 8] = std::array::from_fn(|k| unsafe { v128_load(x.as_ptr().add(4 * k).cast()) });
    let m = v
        .iter()
        .fold(f32x4_splat(0.0), |m, &v| f32x4_pmax(m, f32x4_abs(v)));
    let amax = lanes(m).into_iter().fold(0.0f32, f32::max);
    let d = amax / 127.0;
    let id = f32x4_splat(if d != 0.0 { 1.0 / d } else { 0.0 });
    let (half, one, sign) = (f32x4_splat(0.5), f32x4_splat(1.0), f32x4_splat(-0.0));
    let ints: [v128; 8] = v.map(|v| {
        let y = f32x4_mul(v, id);
        let t = f32x4_trunc(y);
        let away = f32x4_ge(f32x4_abs(f32x4_sub(y, t)), half);
        let step = v128_or(one, v128_and(y, sign)); // ±1 with y's sign
        i32x4_trunc_sat_f32x4(v128_bitselect(f32x4_add(t, step), t, away))
    });
    let bytes = [
        i8x16_narrow_i16x8(
            i16x8_narrow_i32x4(ints[0], ints[1]),
            i16x8_narrow_i32x4(ints[2], ints[3]),
        ),
        i8x16_narrow_i16x8(
            i16x8_narrow_i32x4(ints[4], ints[5]),
            i16x8_narrow_i32x4(ints[6], ints[7]),
        ),
    ];
    // SAFETY: 32 writable bytes, 16 per store.
    unsafe {
        v128_store(q.as_mut_ptr().cast(), bytes[0]);
        v128_store(q.as_mut_ptr().add(16).cast(), bytes[1]);
    }
    let pairs = |b: v128| i32x4_extadd_pairwise_i16x8(i16x8_extadd_pairwise_i8x16(b));
    (d, hsum(i32x4_add(pairs(bytes[0]), pairs(bytes[1]))))
}

/// A Q4_1 block's nibbles as two vectors of signed bytes: elements 0..16 and 16..32.
#[inline(always)]
fn unpack_q4(w: &[u8; 16]) -> (v128, v128) {
    // SAFETY: 16 readable bytes; v128_load allows unaligned reads.
    let q = unsafe { v128_load(w.as_ptr().cast()) };
    (v128_and(q, u8x16_splat(0x0F)), u8x16_shr(q, 4))
}

#[inline(always)]
fn load32(x: &[i8; 32]) -> (v128, v128) {
    // SAFETY: 32 readable bytes.
    unsafe {
        (
            v128_load(x.as_ptr().cast()),
            v128_load(x.as_ptr().add(16).cast()),
        )
    }
}

/// Four i32×4 vectors → their four lane sums, by two rounds of transpose-and-add.
#[inline(always)]
fn hsum4(v: [v128; 4]) -> [i32; 4] {
    let ab = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(v[0], v[1]),
        i32x4_shuffle::<2, 6, 3, 7>(v[0], v[1]),
    ); // a0+a2 b0+b2 a1+a3 b1+b3
    let cd = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(v[2], v[3]),
        i32x4_shuffle::<2, 6, 3, 7>(v[2], v[3]),
    );
    let s = i32x4_add(
        i32x4_shuffle::<0, 1, 4, 5>(ab, cd),
        i32x4_shuffle::<2, 3, 6, 7>(ab, cd),
    ); // a b c d
    [
        i32x4_extract_lane::<0>(s),
        i32x4_extract_lane::<1>(s),
        i32x4_extract_lane::<2>(s),
        i32x4_extract_lane::<3>(s),
    ]
}

/// i32 lanes → their sum.
#[inline(always)]
fn hsum(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        + i32x4_extract_lane::<1>(v)
        + i32x4_extract_lane::<2>(v)
        + i32x4_extract_lane::<3>(v)
}

/// Σ a·b over 16 signed bytes: widen to i16, multiply pairwise and add into i32 lanes.
#[inline(always)]
fn dot16(a: v128, b: v128) -> v128 {
    i32x4_add(
        i32x4_dot_i16x8(i16x8_extend_low_i8x16(a), i16x8_extend_low_i8x16(b)),
        i32x4_dot_i16x8(i16x8_extend_high_i8x16(a), i16x8_extend_high_i8x16(b)),
    )
}

/// Σ nibble·x over one Q4_1 block, in i32 lanes: `lo`, `hi` the weights 0..16 and 16..32
/// (0..=15 each), `x0`, `x1` the activations.
#[cfg(not(target_feature = "relaxed-simd"))]
#[inline(always)]
fn dot_q4(lo: v128, hi: v128, x0: v128, x1: v128) -> v128 {
    i32x4_add(dot16(lo, x0), dot16(hi, x1))
}

/// The same with two relaxed dots (the nibbles are the 7-bit operand: exact, see the top).
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
fn dot_q4(lo: v128, hi: v128, x0: v128, x1: v128) -> v128 {
    let acc = i32x4_relaxed_dot_i8x16_i7x16_add(x0, lo, i32x4_splat(0));
    i32x4_relaxed_dot_i8x16_i7x16_add(x1, hi, acc)
}

#[inline(always)]
fn isum_q4_simd128(w: &[u8; 16], x: &[i8; 32]) -> i32 {
    // SAFETY: the arrays are 16 and 32 bytes long; v128_load allows unaligned reads.
    let (q, x0, x1) = unsafe {
        (
            v128_load(w.as_ptr().cast()),
            v128_load(x.as_ptr().cast()),
            v128_load(x.as_ptr().add(16).cast()),
        )
    };
    let lo = v128_and(q, u8x16_splat(0x0F)); // elements 0..16 (0..=15, valid as i8)
    let hi = u8x16_shr(q, 4); // elements 16..32
    hsum(dot_q4(lo, hi, x0, x1))
}

#[inline(always)]
fn isum_q8_simd128(w: &[i8; 32], x: &[i8; 32]) -> i32 {
    // SAFETY: both arrays are 32 bytes long.
    let (w0, w1, x0, x1) = unsafe {
        (
            v128_load(w.as_ptr().cast()),
            v128_load(w.as_ptr().add(16).cast()),
            v128_load(x.as_ptr().cast()),
            v128_load(x.as_ptr().add(16).cast()),
        )
    };
    hsum(i32x4_add(dot16(w0, x0), dot16(w1, x1)))
}
