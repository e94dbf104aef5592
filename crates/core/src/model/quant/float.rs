//! The product of float weights (F32, F16, BF16) with f32 activations.
//!
//! No integers to make it exact, so the order of the float sums *is* the definition: eight
//! running sums, lane k taking the products `w[i]·x[i]` with `i mod 8 = k` in order, then added
//! pairwise `((s0+s4) + (s1+s5)) + ((s2+s6) + (s3+s7))`. Rust never fuses a multiply and an add
//! unless asked, so every target — scalar, or LLVM's vectors of 4 or 8 lanes for the same loop
//! — computes these exact bits.

use std::ops::Range;

use super::{Blocks, QMatrix};

/// `Σ w[i]·x[i]` in the fixed order above.
pub(super) fn dot(w: &[f32], x: &[f32]) -> f32 {
    let mut s = [0.0f32; 8];
    let (w8, x8) = (w.chunks_exact(8), x.chunks_exact(8));
    let (w_rest, x_rest) = (w8.remainder(), x8.remainder());
    for (w, x) in w8.zip(x8) {
        for k in 0..8 {
            s[k] += w[k] * x[k];
        }
    }
    for (k, (w, x)) in w_rest.iter().zip(x_rest).enumerate() {
        s[k] += w * x;
    }
    ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

/// The rows `part` of `x · Wᵀ` into `out` `(tokens, part.len())`: each weight row widened to f32
/// once, then dotted with every activation row.
pub(super) fn matmul_float(w: &QMatrix, x: &[f32], out: &mut [f32], part: Range<usize>) {
    let (cols, n) = (w.cols, part.len());
    let mut widened = Vec::new();
    for (o, r) in part.enumerate() {
        let row: &[f32] = match &w.blocks {
            Blocks::F32(v) => &v[r * cols..(r + 1) * cols],
            _ => {
                widened.resize(cols, 0.0);
                w.row_f32(r, &mut widened);
                &widened
            }
        };
        for (t, x) in x.chunks_exact(cols).enumerate() {
            out[t * n + o] = dot(row, x);
        }
    }
}
