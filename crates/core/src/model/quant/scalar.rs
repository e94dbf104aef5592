//! The exact integer block dots in plain Rust: the definition the SIMD kernels must equal.

use super::kernel::Kernel;

/// Σ q·qₓ for a Q4_1 block: element j is the low nibble of byte j, element j+16 the high nibble.
#[inline(always)]
pub(super) fn isum_q4_scalar(w: &[u8; 16], x: &[i8; 32]) -> i32 {
    let mut sum = 0i32;
    for j in 0..16 {
        sum += i32::from(w[j] & 0x0F) * i32::from(x[j]);
        sum += i32::from(w[j] >> 4) * i32::from(x[j + 16]);
    }
    sum
}

#[inline(always)]
pub(super) fn isum_q8_scalar(w: &[i8; 32], x: &[i8; 32]) -> i32 {
    w.iter()
        .zip(x)
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

#[inline(always)]
pub(super) fn isum_q8_halves_scalar(w: &[i8; 32], x: &[i8; 32]) -> [i32; 2] {
    let (w0, w1) = w.split_at(16);
    let (x0, x1) = x.split_at(16);
    let dot = |w: &[i8], x: &[i8]| -> i32 {
        w.iter()
            .zip(x)
            .map(|(&a, &b)| i32::from(a) * i32::from(b))
            .sum()
    };
    [dot(w0, x0), dot(w1, x1)]
}

/// One block of 32 activations quantized to bytes: `d = max|x| / 127`, `q = round(x / d)`
/// (halves away from zero), as ggml's reference `quantize_row_q8_1`, kept within −127..=127;
/// returns `(d, Σq)`.
///
/// `|x / d| ≤ 127` whenever `1/d` is finite. Where it is not (`max|x|` below about 4·10⁻³⁷),
/// `x·(1/d)` is ±∞ and C's conversion is undefined; here it is ±127, never −128, so that a
/// kernel may negate an activation in a byte (AVX2's `sign`, simd128's signed-weight dots).
pub(super) fn quantize_block(x: &[f32; 32], q: &mut [i8; 32]) -> (f32, i32) {
    let amax = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut sum = 0i32;
    for (q, &v) in q.iter_mut().zip(x) {
        *q = ((v * id).round() as i8).max(-127);
        sum += i32::from(*q);
    }
    (d, sum)
}

/// Plain Rust: the definition the SIMD kernels must equal.
pub(super) struct Scalar;
impl Kernel for Scalar {
    const WEIGHT_ROWS_4: bool = true;
    fn q4(w: &[u8; 16], x: &[i8; 32]) -> i32 {
        isum_q4_scalar(w, x)
    }
    fn q8(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        isum_q8_scalar(w, x)
    }
    fn q8_halves(w: &[i8; 32], x: &[i8; 32]) -> [i32; 2] {
        isum_q8_halves_scalar(w, x)
    }
}
