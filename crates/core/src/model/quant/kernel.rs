//! The matrix-product loop every instruction set shares, written once over a [`Kernel`] (the
//! exact integer block dots of one instruction set) and a [`Layout`] (how one unpacked block's
//! integer dot becomes a float term). Whichever kernel computed the integers, the float sums over
//! blocks run in the same order here: the same bits everywhere.

use std::ops::Range;

use super::{Blocks, Q8Row, QMatrix, QK};

/// Exact integer block dot products for one instruction set: one activation row, or four at a
/// time (sharing the unpacking of the weight block and the final additions).
pub(super) trait Kernel {
    /// Whether single activation rows (decode) go against four 4-bit weight rows at once
    /// (`q4w4`); chosen per instruction set by measurement (`./dev bench`).
    const WEIGHT_ROWS_4: bool;
    /// The same for the layouts of a byte per weight (Q8_0, Q5_0, Q5_1, Q5_K, Q6_K). Measured
    /// apart: in wasm, four rows at once make the 4-bit products faster and the
    /// vocabulary-wide Q8_0 output projection slower (BENCHMARKS.md, 2026-12-04).
    const WEIGHT_ROWS_4_BYTES: bool = Self::WEIGHT_ROWS_4;
    /// Whether several activation rows (prefill) go in tiles of four weight rows × four
    /// activation rows (`q4w4x4`, `q8w4x4`, …): each activation block is loaded once for four weight
    /// rows instead of once per row. Chosen per instruction set by measurement (BENCHMARKS.md).
    const TILE_4X4: bool = false;
    fn q4(w: &[u8; 16], x: &[i8; 32]) -> i32;
    fn q8(w: &[i8; 32], x: &[i8; 32]) -> i32;
    /// The two halves (values 0..16 and 16..32) of a signed-byte dot, for Q6_K's scale per 16:
    /// weights in −127..=127 (Q6_K's are −32..=31), as for [`Kernel::q8s`].
    fn q8_halves(w: &[i8; 32], x: &[i8; 32]) -> [i32; 2];
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
    /// Four weight blocks (of four rows) against four activation blocks: `[weight][activation]`.
    fn q4w4x4(w: [&[u8; 16]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        w.map(|w| Self::q4x4(w, x))
    }
    fn q8w4x4(w: [&[i8; 32]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        w.map(|w| Self::q8x4(w, x))
    }
    /// The same dots for weights known to lie in −127..=127 (a `symmetric` Q8 layout), which a
    /// kernel may take as |w|, an unsigned 7-bit operand, times x carrying w's sign (activations
    /// are never −128, so negating one stays in a byte); by default the signed ones.
    fn q8s(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        Self::q8(w, x)
    }
    fn q8sx4(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
        Self::q8x4(w, x)
    }
    fn q8sw4(w: [&[i8; 32]; 4], x: &[i8; 32]) -> [i32; 4] {
        Self::q8w4(w, x)
    }
    fn q8sw4x4(w: [&[i8; 32]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        Self::q8w4x4(w, x)
    }
    /// The same four dots for weights known to lie in 0..=31 (the Q8Min layout: Q5_1, Q5_K),
    /// which a kernel may take as the unsigned operand of a byte dot; by default the signed ones.
    fn q8u(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        Self::q8(w, x)
    }
    fn q8ux4(w: &[i8; 32], x: [&[i8; 32]; 4]) -> [i32; 4] {
        Self::q8x4(w, x)
    }
    fn q8uw4(w: [&[i8; 32]; 4], x: &[i8; 32]) -> [i32; 4] {
        Self::q8w4(w, x)
    }
    fn q8uw4x4(w: [&[i8; 32]; 4], x: [&[i8; 32]; 4]) -> [[i32; 4]; 4] {
        Self::q8w4x4(w, x)
    }
    /// The float half of four block terms, added lane by lane to four sums:
    /// `sum + (d·dₓ·dot + m·sₓ)`, each lane exactly [`with_min`]'s expression (so a SIMD kernel
    /// may compute the four lanes as one vector: IEEE arithmetic lane by lane, the same bits).
    #[inline(always)]
    fn add_with_min(
        sum: [f32; 4],
        d: [f32; 4],
        xd: [f32; 4],
        dot: [i32; 4],
        m: [f32; 4],
        xs: [f32; 4],
    ) -> [f32; 4] {
        std::array::from_fn(|k| sum[k] + (d[k] * xd[k] * dot[k] as f32 + m[k] * xs[k]))
    }
    /// `sum + d·dₓ·dot`, lane by lane: [`scaled`]'s expression.
    #[inline(always)]
    fn add_scaled(sum: [f32; 4], d: [f32; 4], xd: [f32; 4], dot: [i32; 4]) -> [f32; 4] {
        std::array::from_fn(|k| sum[k] + d[k] * xd[k] * dot[k] as f32)
    }
}

/// One unpacked layout: weight block `i` times activation block `b` of `x` as a float term,
/// computed by one expression per layout whichever way the loop groups the blocks. The grouped
/// forms add their terms to running sums (`sum += term`, lane by lane), which lets a kernel do
/// the float half of four blocks as one vector.
trait Layout<K: Kernel> {
    /// Whether decode takes four weight rows at once for this layout (see [`Kernel`]).
    const WEIGHT_ROWS_4: bool = K::WEIGHT_ROWS_4_BYTES;
    fn one(&self, i: usize, x: &Q8Row, b: usize) -> f32;
    /// One weight block against four activation rows: `sum[k] += W_i·x[k]_b`.
    fn add_x4(&self, sum: &mut [f32; 4], i: usize, x: [&Q8Row; 4], b: usize) {
        for k in 0..4 {
            sum[k] += self.one(i, x[k], b);
        }
    }
    /// Four weight blocks (of four rows) against one activation row: `sum[j] += W_i[j]·x_b`.
    fn add_w4(&self, sum: &mut [f32; 4], i: [usize; 4], x: &Q8Row, b: usize) {
        for j in 0..4 {
            sum[j] += self.one(i[j], x, b);
        }
    }
    /// Four weight blocks (of four rows) against four activation rows: `sum[j][k] += W_i[j]·x[k]_b`.
    fn add_w4x4(&self, sum: &mut [[f32; 4]; 4], i: [usize; 4], x: [&Q8Row; 4], b: usize) {
        for j in 0..4 {
            self.add_x4(&mut sum[j], i[j], x, b);
        }
    }
}

/// `d·dₓ·Σq·qₓ + m·sₓ`.
#[inline(always)]
fn with_min(d: f32, m: f32, x: &Q8Row, b: usize, dot: i32) -> f32 {
    d * x.d[b] * dot as f32 + m * x.s[b]
}

/// `d·dₓ·Σq·qₓ`.
#[inline(always)]
fn scaled(d: f32, x: &Q8Row, b: usize, dot: i32) -> f32 {
    d * x.d[b] * dot as f32
}

struct Q4<'a> {
    d: &'a [f32],
    m: &'a [f32],
    qs: &'a [[u8; 16]],
}
impl<K: Kernel> Layout<K> for Q4<'_> {
    const WEIGHT_ROWS_4: bool = K::WEIGHT_ROWS_4;
    #[inline(always)]
    fn one(&self, i: usize, x: &Q8Row, b: usize) -> f32 {
        with_min(self.d[i], self.m[i], x, b, K::q4(&self.qs[i], &x.qs[b]))
    }
    #[inline(always)]
    fn add_x4(&self, sum: &mut [f32; 4], i: usize, x: [&Q8Row; 4], b: usize) {
        let dots = K::q4x4(&self.qs[i], x.map(|x| &x.qs[b]));
        let (xd, xs) = (x.map(|x| x.d[b]), x.map(|x| x.s[b]));
        *sum = K::add_with_min(*sum, [self.d[i]; 4], xd, dots, [self.m[i]; 4], xs);
    }
    #[inline(always)]
    fn add_w4(&self, sum: &mut [f32; 4], i: [usize; 4], x: &Q8Row, b: usize) {
        let dots = K::q4w4(i.map(|i| &self.qs[i]), &x.qs[b]);
        let (d, m) = (i.map(|i| self.d[i]), i.map(|i| self.m[i]));
        *sum = K::add_with_min(*sum, d, [x.d[b]; 4], dots, m, [x.s[b]; 4]);
    }
    #[inline(always)]
    fn add_w4x4(&self, sum: &mut [[f32; 4]; 4], i: [usize; 4], x: [&Q8Row; 4], b: usize) {
        let dots = K::q4w4x4(i.map(|i| &self.qs[i]), x.map(|x| &x.qs[b]));
        let (xd, xs) = (x.map(|x| x.d[b]), x.map(|x| x.s[b]));
        for j in 0..4 {
            let (d, m) = ([self.d[i[j]]; 4], [self.m[i[j]]; 4]);
            sum[j] = K::add_with_min(sum[j], d, xd, dots[j], m, xs);
        }
    }
}

/// Signed byte weights; `SYMMETRIC`: all in −127..=127 (the kernels' `q8s` dots).
struct Q8<'a, const SYMMETRIC: bool> {
    d: &'a [f32],
    qs: &'a [[i8; 32]],
}
impl<K: Kernel, const SYMMETRIC: bool> Layout<K> for Q8<'_, SYMMETRIC> {
    #[inline(always)]
    fn one(&self, i: usize, x: &Q8Row, b: usize) -> f32 {
        let (w, x_b) = (&self.qs[i], &x.qs[b]);
        let dot = if SYMMETRIC {
            K::q8s(w, x_b)
        } else {
            K::q8(w, x_b)
        };
        scaled(self.d[i], x, b, dot)
    }
    #[inline(always)]
    fn add_x4(&self, sum: &mut [f32; 4], i: usize, x: [&Q8Row; 4], b: usize) {
        let (w, x_b) = (&self.qs[i], x.map(|x| &x.qs[b]));
        let dots = if SYMMETRIC {
            K::q8sx4(w, x_b)
        } else {
            K::q8x4(w, x_b)
        };
        *sum = K::add_scaled(*sum, [self.d[i]; 4], x.map(|x| x.d[b]), dots);
    }
    #[inline(always)]
    fn add_w4(&self, sum: &mut [f32; 4], i: [usize; 4], x: &Q8Row, b: usize) {
        let (w, x_b) = (i.map(|i| &self.qs[i]), &x.qs[b]);
        let dots = if SYMMETRIC {
            K::q8sw4(w, x_b)
        } else {
            K::q8w4(w, x_b)
        };
        *sum = K::add_scaled(*sum, i.map(|i| self.d[i]), [x.d[b]; 4], dots);
    }
    #[inline(always)]
    fn add_w4x4(&self, sum: &mut [[f32; 4]; 4], i: [usize; 4], x: [&Q8Row; 4], b: usize) {
        let (w, x_b) = (i.map(|i| &self.qs[i]), x.map(|x| &x.qs[b]));
        let dots = if SYMMETRIC {
            K::q8sw4x4(w, x_b)
        } else {
            K::q8w4x4(w, x_b)
        };
        let xd = x.map(|x| x.d[b]);
        for j in 0..4 {
            sum[j] = K::add_scaled(sum[j], [self.d[i[j]]; 4], xd, dots[j]);
        }
    }
}

struct Q8Min<'a> {
    d: &'a [f32],
    m: &'a [f32],
    qs: &'a [[i8; 32]],
}
impl<K: Kernel> Layout<K> for Q8Min<'_> {
    #[inline(always)]
    fn one(&self, i: usize, x: &Q8Row, b: usize) -> f32 {
        with_min(self.d[i], self.m[i], x, b, K::q8u(&self.qs[i], &x.qs[b]))
    }
    #[inline(always)]
    fn add_x4(&self, sum: &mut [f32; 4], i: usize, x: [&Q8Row; 4], b: usize) {
        let dots = K::q8ux4(&self.qs[i], x.map(|x| &x.qs[b]));
        let (xd, xs) = (x.map(|x| x.d[b]), x.map(|x| x.s[b]));
        *sum = K::add_with_min(*sum, [self.d[i]; 4], xd, dots, [self.m[i]; 4], xs);
    }
    #[inline(always)]
    fn add_w4(&self, sum: &mut [f32; 4], i: [usize; 4], x: &Q8Row, b: usize) {
        let dots = K::q8uw4(i.map(|i| &self.qs[i]), &x.qs[b]);
        let (d, m) = (i.map(|i| self.d[i]), i.map(|i| self.m[i]));
        *sum = K::add_with_min(*sum, d, [x.d[b]; 4], dots, m, [x.s[b]; 4]);
    }
    #[inline(always)]
    fn add_w4x4(&self, sum: &mut [[f32; 4]; 4], i: [usize; 4], x: [&Q8Row; 4], b: usize) {
        let dots = K::q8uw4x4(i.map(|i| &self.qs[i]), x.map(|x| &x.qs[b]));
        let (xd, xs) = (x.map(|x| x.d[b]), x.map(|x| x.s[b]));
        for j in 0..4 {
            let (d, m) = ([self.d[i[j]]; 4], [self.m[i[j]]; 4]);
            sum[j] = K::add_with_min(sum[j], d, xd, dots[j], m, xs);
        }
    }
}

struct Q8Halves<'a> {
    d: &'a [[f32; 2]],
    qs: &'a [[i8; 32]],
}
impl<K: Kernel> Layout<K> for Q8Halves<'_> {
    /// `d₀·dₓ·Σ₀..₁₆ q·qₓ + d₁·dₓ·Σ₁₆..₃₂ q·qₓ`.
    #[inline(always)]
    fn one(&self, i: usize, x: &Q8Row, b: usize) -> f32 {
        let [lo, hi] = K::q8_halves(&self.qs[i], &x.qs[b]);
        scaled(self.d[i][0], x, b, lo) + scaled(self.d[i][1], x, b, hi)
    }
}

/// The loop shared by every instruction set, over the weight rows `part` (`part.start` a multiple
/// of 4): `out[t·n + (r − part.start)] = W[r]·x[t]`, `n = part.len()` — the whole product when
/// `part` is every row, one thread's share otherwise. Each output is the sum of its blocks' terms
/// in block order, whichever kernel computed the integers and whichever thread ran it: the same
/// bits everywhere.
#[inline(always)]
pub(super) fn matmul_with<K: Kernel>(
    w: &QMatrix,
    xs: &[Q8Row],
    out: &mut [f32],
    part: Range<usize>,
) {
    let nb = w.cols / QK;
    match &w.blocks {
        Blocks::Q4 { d, m, qs } => rows::<K, _>(&Q4 { d, m, qs }, nb, xs, out, part),
        Blocks::Q8 {
            d,
            qs,
            symmetric: true,
        } => rows::<K, _>(&Q8::<true> { d, qs }, nb, xs, out, part),
        Blocks::Q8 { d, qs, .. } => rows::<K, _>(&Q8::<false> { d, qs }, nb, xs, out, part),
        Blocks::Q8Min { d, m, qs } => rows::<K, _>(&Q8Min { d, m, qs }, nb, xs, out, part),
        Blocks::Q8Halves { d, qs } => rows::<K, _>(&Q8Halves { d, qs }, nb, xs, out, part),
        Blocks::F32(_) | Blocks::F16(_) | Blocks::Bf16(_) => {
            unreachable!("float weights multiply f32 activations (quant::float)")
        }
    }
}

// In wasm, one function per kernel form and layout, rather than one holding them all: an engine
// optimizes only those a model runs, each apart (measured no slower: a 1,536 × 576 Q4_1 product
// of one token 0.058–0.059 ms in pairs, against 0.061–0.062 inlined). Natively it stays inline:
// AVX2's `target_feature` reaches only code inlined into its caller.
#[cfg_attr(target_arch = "wasm32", inline(never))]
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn rows<K: Kernel, L: Layout<K>>(
    w: &L,
    nb: usize,
    xs: &[Q8Row],
    out: &mut [f32],
    part: Range<usize>,
) {
    debug_assert!(part.start.is_multiple_of(4));
    // `rows` is the stride of `out`, `end` where this part's rows stop.
    let (rows, end, r0) = (part.len(), part.end, part.start);
    // Activation rows in whole groups of four; the rest go one at a time.
    let grouped = xs.len() / 4 * 4;
    for r in part {
        // This row's column in `out`.
        let o = r - r0;
        let blocks = r * nb..(r + 1) * nb;
        if K::TILE_4X4 && r / 4 * 4 + 4 <= end {
            // In a whole group of four weight rows: its first row computes the group's tiles.
            if r % 4 == 0 {
                tiles(w, nb, &xs[..grouped], out, rows, r, o);
            }
        } else {
            // Four activation rows at a time share each weight block while it is in registers.
            for t in (0..grouped).step_by(4) {
                let x = [&xs[t], &xs[t + 1], &xs[t + 2], &xs[t + 3]];
                let mut sum = [0.0f32; 4];
                for (b, i) in blocks.clone().enumerate() {
                    w.add_x4(&mut sum, i, x, b);
                }
                for (k, s) in sum.into_iter().enumerate() {
                    out[(t + k) * rows + o] = s;
                }
            }
        }
        if L::WEIGHT_ROWS_4 && r % 4 == 0 && r + 4 <= end {
            // The last activation rows, one at a time, against four weight rows at once.
            for (t, x) in xs.iter().enumerate().skip(grouped) {
                let mut sum = [0.0f32; 4];
                let i0 = [r * nb, (r + 1) * nb, (r + 2) * nb, (r + 3) * nb];
                for b in 0..nb {
                    w.add_w4(&mut sum, i0.map(|i| i + b), x, b);
                }
                out[t * rows + o..t * rows + o + 4].copy_from_slice(&sum);
            }
        } else if !L::WEIGHT_ROWS_4 || r / 4 * 4 + 4 > end {
            // One weight row at a time: every row where this layout does not take four at once,
            // else the rows past the last group of four.
            for (t, x) in xs.iter().enumerate().skip(grouped) {
                let mut sum = 0.0f32;
                for (b, i) in blocks.clone().enumerate() {
                    sum += w.one(i, x, b);
                }
                out[t * rows + o] = sum;
            }
        }
    }
}

/// Weight rows `r..r + 4` (their columns `o..o + 4` in `out`, of stride `rows`) against the
/// activation rows `xs` (a multiple of four), in tiles of four × four: each activation block is
/// loaded once per four weight rows (prefill's activations are read a quarter as often). Every
/// output is still the sum of its blocks' terms in block order, each term the same expression:
/// the same bits as one row at a time.
#[inline(always)]
fn tiles<K: Kernel, L: Layout<K>>(
    w: &L,
    nb: usize,
    xs: &[Q8Row],
    out: &mut [f32],
    rows: usize,
    r: usize,
    o: usize,
) {
    let i0 = [r * nb, (r + 1) * nb, (r + 2) * nb, (r + 3) * nb];
    for t in (0..xs.len()).step_by(4) {
        let x = [&xs[t], &xs[t + 1], &xs[t + 2], &xs[t + 3]];
        // sum[j][k] = W[r + j]·x[t + k]
        let mut sum = [[0.0f32; 4]; 4];
        for b in 0..nb {
            w.add_w4x4(&mut sum, i0.map(|i| i + b), x, b);
        }
        for (j, row) in sum.into_iter().enumerate() {
            for (k, s) in row.into_iter().enumerate() {
                out[(t + k) * rows + o + j] = s;
            }
        }
    }
}
