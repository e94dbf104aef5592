//! The exact integer block dots on wasm `simd128`: bytes widened to i16 and multiplied pairwise
//! into i32 lanes (`i32x4.dot_i16x8_s`).
//!
//! Built with `+relaxed-simd` (the worker's second build, chosen at run time where the browser
//! has it), a 4-bit block can use the relaxed dot products, which multiply signed bytes (the
//! activations) by 7-bit ones (the weights' 4-bit nibbles, 0..=15). "Relaxed" leaves only one
//! thing to the engine — whether the second operand's top bit is a sign — and a nibble's top bit
//! is always 0, so the results are exact and the same on every engine. There are two of them,
//! and which is faster depends on the CPU under the browser, so the build has both, and
//! [`choose`](super::choose::choose) times them once when the worker starts (a [`Form`] each):
//!
//! - **quads**, `i32x4.relaxed_dot_i8x16_i7x16_add_s`: four products added into an i32 lane. One
//!   instruction where the CPU has a 4-way byte dot (ARM's `sdot`, x86's AVX-VNNI); elsewhere V8
//!   spells it as five (x86 without VNNI: `pmaddubsw`, `pmaddwd` by ones it builds, `paddd`).
//! - **pairs**, `i16x8.relaxed_dot_i8x16_i7x16_s`: two products added into an i16 lane (one
//!   `pmaddubsw` on x86, three on ARM); a block's two halves are added in i16 (|pair| ≤ 2·127·15,
//!   so the sum of two stays within ±7,620, far from the i16 limit) and widened once.
//!
//! Q5_1's and Q5_K's weights (0..=31, the Q8Min layout) fit the 7-bit operand too and take the
//! same forms. So do signed weights within −127..=127 (Q5_0, Q6_K, and a Q8_0 without −128: a
//! `symmetric` Q8 layout, which every file llama.cpp writes is): |w| is the 7-bit operand and
//! the activation takes w's sign (`dot_signed16`). A Q8_0 matrix holding −128 keeps the widening
//! path, as does the build without relaxed SIMD ([`Form::Widen`]).
//!
//! The float half of a block (`d·dₓ·dot + m·sₓ`, added to the row's sum) is done for four blocks
//! at once in one f32x4 vector (`add_with_min`, `add_scaled`): four weight rows of one token, or
//! one weight row of four tokens. Each lane does the scalar expression's operations in its order,
//! and wasm has no fused multiply-add, so the bits are the scalar path's.

use core::arch::wasm32::*;

use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};

use super::kernel::{matmul_with, Kernel};
use super::{Q8Row, QMatrix};

/// How a block of byte weights is multiplied (4-bit, Q8Min's 5-bit, or signed within ±127: see
/// the top of this file). Every form gives the same integers; only their speed differs from one CPU to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Form {
    /// Widened to i16 and multiplied pairwise (`i32x4.dot_i16x8_s`): plain simd128.
    Widen = 0,
    /// `i16x8.relaxed_dot_i8x16_i7x16_s`: small weights' two halves added in i16 and widened
    /// once; signed bytes' halves widened apart (their pairs reach 32,258).
    Pairs = 1,
    /// `i32x4.relaxed_dot_i8x16_i7x16_add_s`.
    Quads = 2,
}

impl Form {
    /// The forms this build has: the relaxed ones only where it was built with relaxed SIMD.
    pub const BUILT: &[Form] = if cfg!(target_feature = "relaxed-simd") {
        &[Form::Widen, Form::Pairs, Form::Quads]
    } else {
        &[Form::Widen]
    };

    pub fn name(self) -> &'static str {
        match self {
            Form::Widen => "widening",
            Form::Pairs => "pairs",
            Form::Quads => "quads",
        }
    }
}

/// The form the products use now: quads until [`choose`](super::choose::choose) (or
/// [`set_form`]) says otherwise.
static FORM: AtomicU8 = AtomicU8::new(if cfg!(target_feature = "relaxed-simd") {
    Form::Quads as u8
} else {
    Form::Widen as u8
});

pub fn form() -> Form {
    match FORM.load(Ordering::Relaxed) {
        #[cfg(target_feature = "relaxed-simd")]
        PAIRS => Form::Pairs,
        #[cfg(target_feature = "relaxed-simd")]
        QUADS => Form::Quads,
        _ => Form::Widen,
    }
}

/// Makes later products use `form` (one this build has; else the widening one).
pub fn set_form(form: Form) {
    let form = if Form::BUILT.contains(&form) {
        form
    } else {
        Form::Widen
    };
    FORM.store(form as u8, Ordering::Relaxed);
}

/// The rows `band` of `w · xq` (see [`QMatrix::matmul`]) in the form chosen.
pub(super) fn matmul(w: &QMatrix, xq: &[Q8Row], out: &mut [f32], band: Range<usize>) {
    matmul_in(form(), w, xq, out, band);
}

/// The same in `form` (one this build lacks: the widening one).
pub(super) fn matmul_in(
    form: Form,
    w: &QMatrix,
    xq: &[Q8Row],
    out: &mut [f32],
    band: Range<usize>,
) {
    match form {
        #[cfg(target_feature = "relaxed-simd")]
        Form::Pairs => matmul_with::<Simd128<PAIRS>>(w, xq, out, band),
        #[cfg(target_feature = "relaxed-simd")]
        Form::Quads => matmul_with::<Simd128<QUADS>>(w, xq, out, band),
        _ => matmul_with::<Simd128<WIDEN>>(w, xq, out, band),
    }
}

const WIDEN: u8 = Form::Widen as u8;
#[cfg(target_feature = "relaxed-simd")]
const PAIRS: u8 = Form::Pairs as u8;
#[cfg(target_feature = "relaxed-simd")]
const QUADS: u8 = Form::Quads as u8;

/// The simd128 kernels, with blocks of small weights in the [`Form`] `FORM`.
pub struct Simd128<const FORM: u8>;
impl<const FORM: u8> Kernel for Simd128<FORM> {
    // Measured: 72 tokens/s decode with, 66 without (BENCHMARKS.md).
    const WEIGHT_ROWS_4: bool = true;
    // Measured: the 49,152 × 576 Q8_0 output projection 6.5 ms with, 3.4–4.0 without; decode
    // 21.0–22.1 → 18.1–18.6 ms per token (BENCHMARKS.md, 2026-12-04; widening, before the
    // relaxed forms took signed bytes: not measured again since).
    const WEIGHT_ROWS_4_BYTES: bool = false;
    // Measured: prefill 1.14× faster with, the same bits (BENCHMARKS.md, 2026-12-03).
    const TILE_4X4: bool = true;
    #[inline(always)]
    fn q4(w: &[u8; 16], x: &[i8; 32]) -> i32 {
        small::<FORM>(unpack_q4(w), x)
    }
    // Signed bytes that may hold −128: the symmetric dots' widening form, whatever `FORM` is.
    #[inline(always)]
    fn q8(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        Simd128::<WIDEN>::q8s(w, x)
    }
    #[inline(always)]
    fn q8_halves(w: &[i8; 32], x: &[i8; 32]) -> [i32; 2] {
        let ((w0, w1), (x0, x1)) = (load32(w), load32(x));
        [
            hsum(dot_signed16::<FORM>(w0, x0)),
            hsum(dot_signed16::<FORM>(w1, x1)),
        ]
    }
    // Weights in −127..=127: |w| as the 7-bit operand of the relaxed dots (see `dot_signed16`).
    #[inline(always)]
    fn q8s(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        let ((w0, w1), (x0, x1)) = (load32(w), load32(x));
        hsum(dot_signed::<FORM>(w0, w1, x0, x1))
    }
    #[inline(always)]
    fn q8sx4(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
        let (w0, w1) = load32(w);
        hsum4(x.map(|x| {
            let (x0, x1) = load32(x);
            dot_signed::<FORM>(w0, w1, x0, x1)
        }))
    }
    #[inline(always)]
    fn q8sw4(w: [&[i8; 32]; 4], x: &[i8; 32]) -> [i32; 4] {
        w.map(|w| Self::q8s(w, x))
    }
    #[inline(always)]
    fn q8sw4x4(w: [&[i8; 32]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        let x = x.map(load32);
        w.map(|w| {
            let (w0, w1) = load32(w);
            hsum4(x.map(|(x0, x1)| dot_signed::<FORM>(w0, w1, x0, x1)))
        })
    }
    #[inline(always)]
    fn q4x4(w: &[u8; 16], x: [&[i8; 32]; 4]) -> [i32; 4] {
        small_x4::<FORM>(unpack_q4(w), x)
    }
    #[inline(always)]
    fn q8x4(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
        Simd128::<WIDEN>::q8sx4(w, x)
    }
    #[inline(always)]
    fn q4w4(w: [&[u8; 16]; 4], x: &[i8; 32]) -> [i32; 4] {
        small_w4::<FORM, _>(w, unpack_q4, x)
    }
    #[inline(always)]
    fn q4w4x4(w: [&[u8; 16]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        small_w4x4::<FORM, _>(w, unpack_q4, x)
    }
    #[inline(always)]
    fn q8w4x4(w: [&[i8; 32]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        Simd128::<WIDEN>::q8sw4x4(w, x)
    }
    // Q8Min's weights (0..=31) as Q4's nibbles: the same small-weight dots, their two halves
    // loaded as they are.
    #[inline(always)]
    fn q8u(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        small::<FORM>(load32(w), x)
    }
    #[inline(always)]
    fn q8ux4(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
        small_x4::<FORM>(load32(w), x)
    }
    #[inline(always)]
    fn q8uw4(w: [&[i8; 32]; 4], x: &[i8; 32]) -> [i32; 4] {
        small_w4::<FORM, _>(w, load32, x)
    }
    #[inline(always)]
    fn q8uw4x4(w: [&[i8; 32]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        small_w4x4::<FORM, _>(w, load32, x)
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
/// - `as i8`: saturating conversion to i32 (NaN → 0), then two saturating narrowings, and
///   `max(−127)` as the scalar definition (−128 only came from −∞);
/// - `Σq` is summed from those bytes.
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
    let floor = i8x16_splat(-127);
    let bytes = [
        i8x16_max(
            i8x16_narrow_i16x8(
                i16x8_narrow_i32x4(ints[0], ints[1]),
                i16x8_narrow_i32x4(ints[2], ints[3]),
            ),
            floor,
        ),
        i8x16_max(
            i8x16_narrow_i16x8(
                i16x8_narrow_i32x4(ints[4], ints[5]),
                i16x8_narrow_i32x4(ints[6], ints[7]),
            ),
            floor,
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
    let v = i32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    i32x4_extract_lane::<0>(i32x4_add(v, i32x4_shuffle::<1, 0, 3, 2>(v, v)))
}

/// Σ a·b over 16 signed bytes: widen to i16, multiply pairwise and add into i32 lanes.
#[inline(always)]
fn dot16(a: v128, b: v128) -> v128 {
    i32x4_add(
        i32x4_dot_i16x8(i16x8_extend_low_i8x16(a), i16x8_extend_low_i8x16(b)),
        i32x4_dot_i16x8(i16x8_extend_high_i8x16(a), i16x8_extend_high_i8x16(b)),
    )
}

/// Σ w·x over one block of small non-negative weights, in i32 lanes: `lo`, `hi` the weights
/// 0..16 and 16..32 (a Q4 block's nibbles, 0..=15, or a Q8Min block's values, 0..=31), `x0`,
/// `x1` the activations; in the [`Form`] `FORM`. The weights are the 7-bit operand of the relaxed
/// forms (exact, see the top); in pairs, a lane of one half is at most 2·31·127 = 7,874 and of
/// both 15,748, within i16.
#[inline(always)]
fn dot_small<const FORM: u8>(lo: v128, hi: v128, x0: v128, x1: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        if FORM == PAIRS {
            let pairs = i16x8_add(
                i16x8_relaxed_dot_i8x16_i7x16(x0, lo),
                i16x8_relaxed_dot_i8x16_i7x16(x1, hi),
            );
            return i32x4_extadd_pairwise_i16x8(pairs);
        }
        if FORM == QUADS {
            let acc = i32x4_relaxed_dot_i8x16_i7x16_add(x0, lo, i32x4_splat(0));
            return i32x4_relaxed_dot_i8x16_i7x16_add(x1, hi, acc);
        }
    }
    i32x4_add(dot16(lo, x0), dot16(hi, x1))
}

/// Σ w·x over 16 signed weights in −127..=127, in i32 lanes, in the [`Form`] `FORM`. The relaxed
/// forms take |w| (0..=127, so its top bit is 0: exact on every engine) as the 7-bit operand and
/// x with w's sign (`(x ⊕ s) − s`, s = −1 where w < 0: −x there, and x ≠ −128, see
/// `quantize_block`, so −x is a byte): |w|·(±x) = w·x. In pairs, a lane is at most 2·127·127 =
/// 32,258, within i16.
#[inline(always)]
fn dot_signed16<const FORM: u8>(w: v128, x: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    if FORM == PAIRS || FORM == QUADS {
        let sign = i8x16_lt(w, i8x16_splat(0));
        let (abs, signed_x) = (i8x16_abs(w), i8x16_sub(v128_xor(x, sign), sign));
        return if FORM == PAIRS {
            i32x4_extadd_pairwise_i16x8(i16x8_relaxed_dot_i8x16_i7x16(signed_x, abs))
        } else {
            i32x4_relaxed_dot_i8x16_i7x16_add(signed_x, abs, i32x4_splat(0))
        };
    }
    dot16(w, x)
}

/// [`dot_signed16`] of a whole block: `w0`, `w1` its values 0..16 and 16..32, `x0`, `x1` the
/// activations'. (Unlike `dot_small`'s, the pairs of the two halves cannot be added in i16.)
#[inline(always)]
fn dot_signed<const FORM: u8>(w0: v128, w1: v128, x0: v128, x1: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    if FORM == QUADS {
        let sign = (i8x16_lt(w0, i8x16_splat(0)), i8x16_lt(w1, i8x16_splat(0)));
        let x0 = i8x16_sub(v128_xor(x0, sign.0), sign.0);
        let x1 = i8x16_sub(v128_xor(x1, sign.1), sign.1);
        let acc = i32x4_relaxed_dot_i8x16_i7x16_add(x0, i8x16_abs(w0), i32x4_splat(0));
        return i32x4_relaxed_dot_i8x16_i7x16_add(x1, i8x16_abs(w1), acc);
    }
    i32x4_add(dot_signed16::<FORM>(w0, x0), dot_signed16::<FORM>(w1, x1))
}

/// [`dot_small`] of one block of small weights, given as its two halves (`unpack_q4`'s
/// nibbles, or a Q8Min block's bytes as loaded), against one activation block.
#[inline(always)]
fn small<const FORM: u8>((lo, hi): (v128, v128), x: &[i8; 32]) -> i32 {
    let (x0, x1) = load32(x);
    hsum(dot_small::<FORM>(lo, hi, x0, x1))
}

/// The same against four activation blocks.
#[inline(always)]
fn small_x4<const FORM: u8>((lo, hi): (v128, v128), x: [&[i8; 32]; 4]) -> [i32; 4] {
    hsum4(x.map(|x| {
        let (x0, x1) = load32(x);
        dot_small::<FORM>(lo, hi, x0, x1)
    }))
}

/// Four weight blocks (of four rows; `halves` unpacks one) against one activation block.
#[inline(always)]
fn small_w4<const FORM: u8, W>(
    w: [W; 4],
    halves: impl Fn(W) -> (v128, v128),
    x: &[i8; 32],
) -> [i32; 4] {
    let (x0, x1) = load32(x);
    hsum4(w.map(|w| {
        let (lo, hi) = halves(w);
        dot_small::<FORM>(lo, hi, x0, x1)
    }))
}

/// Four weight blocks against four activation blocks: the activations stay in registers (eight
/// vectors) while each weight block is unpacked once against all four.
#[inline(always)]
fn small_w4x4<const FORM: u8, W>(
    w: [W; 4],
    halves: impl Fn(W) -> (v128, v128),
    x: [&[i8; 32]; 4],
) -> [[i32; 4]; 4] {
    let x = x.map(load32);
    w.map(|w| {
        let (lo, hi) = halves(w);
        hsum4(x.map(|(x0, x1)| dot_small::<FORM>(lo, hi, x0, x1)))
    })
}
