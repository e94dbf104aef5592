//! The matrix-product loop every instruction set shares, written once over a [`Kernel`] (the
//! exact integer block dots of one instruction set). Whichever kernel computed the integers,
//! the float sums over blocks run in the same order here: the same bits everywhere.

use std::ops::Range;

use super::{Blocks, Q8Row, QMatrix, QK};

/// Exact integer block dot products for one instruction set: one activation row, or four at a
/// time (sharing the unpacking of the weight block and the final additions).
pub(super) trait Kernel {
    /// Whether single activation rows go against four weight rows at once (`q4w4`, `q8w4`);
    /// chosen per instruction set by measurement (`./dev bench`).
    const WEIGHT_ROWS_4: bool;
    fn q4(w: &[u8; 16], x: &[i8; 32]) -> i32;
    fn q8(w: &[i8; 32], x: &[i8; 32]) -> i32;
    fn q4x4(w: &[u8; 16], x: [&[i8; 32]; 4]) -> [i32; 4] {
        x.map(|x| Self::q4(w, x))
    }
    fn q8x4(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
        x.map(|x| Self::q8(w, x))
    }
    /// Four weight blocks (of four rows) against one activation block.
    fn q4w4(w: [&[u8; 16]; 4], x: &[i8; 32]) -> [i32; 4] {
        w.map(|w| Self::q4(w, x))
    }
    fn q8w4(w: [&[i8; 32]; 4], x: &[i8; 32]) -> [i32; 4] {
        w.map(|w| Self::q8(w, x))
    }
}

/// The loop shared by every instruction set, over the weight rows `part` (`part.start` a multiple
/// of 4): `out[t·n + (r − part.start)] = W[r]·x[t]`, `n = part.len()` — the whole product when
/// `part` is every row, one thread's share otherwise. Each output is `Σ_blocks d·dₓ·isum (+ m·sₓ)`
/// summed in block order, whichever kernel computed the integers and whichever thread ran it:
/// the same bits everywhere.
#[inline(always)]
pub(super) fn matmul_with<K: Kernel>(
    w: &QMatrix,
    xs: &[Q8Row],
    out: &mut [f32],
    part: Range<usize>,
) {
    debug_assert!(part.start.is_multiple_of(4) && part.end <= w.rows);
    let nb = w.cols / QK;
    // `rows` is the stride of `out`, `end` where this part's rows stop.
    let (rows, end, r0) = (part.len(), part.end, part.start);
    for r in part {
        // This row's column in `out`.
        let o = r - r0;
        let blocks = r * nb..(r + 1) * nb;
        // Four activation rows at a time share each weight block while it is in registers.
        let mut t = 0;
        while t + 4 <= xs.len() {
            let x = [&xs[t], &xs[t + 1], &xs[t + 2], &xs[t + 3]];
            let mut sum = [0.0f32; 4];
            match &w.blocks {
                Blocks::Q4_1 { d, m, qs } => {
                    for (b, i) in blocks.clone().enumerate() {
                        let dots = K::q4x4(&qs[i], x.map(|x| &x.qs[b]));
                        for k in 0..4 {
                            sum[k] += d[i] * x[k].d[b] * dots[k] as f32 + m[i] * x[k].s[b];
                        }
                    }
                }
                Blocks::Q8_0 { d, qs } => {
                    for (b, i) in blocks.clone().enumerate() {
                        let dots = K::q8x4(&qs[i], x.map(|x| &x.qs[b]));
                        for k in 0..4 {
                            sum[k] += d[i] * x[k].d[b] * dots[k] as f32;
                        }
                    }
                }
            }
            for (k, s) in sum.into_iter().enumerate() {
                out[(t + k) * rows + o] = s;
            }
            t += 4;
        }
        if K::WEIGHT_ROWS_4 && r % 4 == 0 && r + 4 <= end {
            // The last activation rows, one at a time, against four weight rows at once.
            for (t, x) in xs.iter().enumerate().skip(t) {
                let mut sum = [0.0f32; 4];
                let i0 = [r * nb, (r + 1) * nb, (r + 2) * nb, (r + 3) * nb];
                match &w.blocks {
                    Blocks::Q4_1 { d, m, qs } => {
                        for b in 0..nb {
                            let i = i0.map(|i| i + b);
                            let dots = K::q4w4(i.map(|i| &qs[i]), &x.qs[b]);
                            for k in 0..4 {
                                sum[k] += d[i[k]] * x.d[b] * dots[k] as f32 + m[i[k]] * x.s[b];
                            }
                        }
                    }
                    Blocks::Q8_0 { d, qs } => {
                        for b in 0..nb {
                            let i = i0.map(|i| i + b);
                            let dots = K::q8w4(i.map(|i| &qs[i]), &x.qs[b]);
                            for k in 0..4 {
                                sum[k] += d[i[k]] * x.d[b] * dots[k] as f32;
                            }
                        }
                    }
                }
                out[t * rows + o..t * rows + o + 4].copy_from_slice(&sum);
            }
        } else if !K::WEIGHT_ROWS_4 || r / 4 * 4 + 4 > end {
            // Weight rows past the last group of four: one by one.
            for (t, x) in xs.iter().enumerate().skip(t) {
                let mut sum = 0.0f32;
                match &w.blocks {
                    Blocks::Q4_1 { d, m, qs } => {
                        for (b, i) in blocks.clone().enumerate() {
                            let dot = K::q4(&qs[i], &x.qs[b]) as f32;
                            sum += d[i] * x.d[b] * dot + m[i] * x.s[b];
                        }
                    }
                    Blocks::Q8_0 { d, qs } => {
                        for (b, i) in blocks.clone().enumerate() {
                            let dot = K::q8(&qs[i], &x.qs[b]) as f32;
                            sum += d[i] * x.d[b] * dot;
                        }
                    }
                }
                out[t * rows + o] = sum;
            }
        }
    }
}
