//! Weight matrices in ggml's formats, and the integer dot products that multiply them by
//! quantized activations.
//!
//! A GGUF stores each weight row as blocks; [`formats`] lists them and unpacks each into one of a
//! few layouts of 32 values with f32 scales, e.g.
//!
//! ```text
//! Q4   w = d·q + m     q ∈ 0..=15 (4 bits)     Q4_0, Q4_1, Q4_K
//! Q8   w = d·q         q ∈ −128..=127          Q8_0, Q5_0
//! ```
//!
//! Before a product, the activation row x is quantized the same way (llama.cpp's Q8_1):
//! `x ≈ dₓ·qₓ` with qₓ ∈ −127..=127 per block of 32, and `sₓ = dₓ·Σqₓ`. A block's contribution
//! to `w·x` is then one exact integer dot product and two multiplications:
//!
//! ```text
//! Σ (d·q + m)(dₓ·qₓ) = d·dₓ·Σ q·qₓ  +  m·sₓ          (Q4, Q8Min)
//! Σ (d·q)(dₓ·qₓ)     = d·dₓ·Σ q·qₓ                    (Q8; Q8Halves: one d per 16)
//! ```
//!
//! The integer sums `Σ q·qₓ` run on SIMD (wasm `simd128`, x86 AVX2) or scalar code and are exact,
//! so every path yields the same integer; the float sums over blocks are then done in one fixed
//! order. That makes the result bit-identical natively and in wasm. Float weights (F32, F16,
//! BF16) multiply f32 activations instead, in a fixed order too ([`float`]).
//!
//! Files: this one holds [`QMatrix`] and [`Q8Row`]; [`formats`] the file formats; [`kernel`] the
//! loop every instruction set shares; [`scalar`], `simd128` (wasm) and `avx2` (x86_64, chosen at
//! run time) the exact integer block dots, `choose` which of simd128's forms runs (wasm);
//! [`float`] the float formats' product.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod choose;
mod float;
pub mod formats;
mod kernel;
mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(test)]
mod tests;

use kernel::matmul_with;
use scalar::Scalar;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use choose::choose as choose_dot_form;
/// The best kernel known at compile time: simd128 in wasm (in the form chosen at run time, see
/// [`dot_form`]), else scalar (x86 picks AVX2 at run time in [`QMatrix::matmul`]).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd128::quantize_block;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use simd128::{form as dot_form, set_form as set_dot_form, Form};
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use {scalar::quantize_block, Scalar as Portable};
// The unit tests' kernel in wasm: simd128's widening form, the one every build has.
#[cfg(all(test, target_arch = "wasm32", target_feature = "simd128"))]
type Portable = simd128::Simd128<{ Form::Widen as u8 }>;

use std::ops::Range;

use half::f16;

use formats::Blocks;
pub use formats::Format;

use super::threads;
use crate::Result;

/// Values per quantization block of the kernels (and of ggml's legacy formats).
pub const QK: usize = 32;

/// Read access to a [`QMatrix`]'s unpacked blocks (for uploading them elsewhere, e.g. to a GPU).
pub enum BlockView<'a> {
    /// `w = d·q + m`, q 4-bit: Q4_0, Q4_1, Q4_K.
    Q4 {
        d: &'a [f32],
        m: &'a [f32],
        qs: &'a [[u8; 16]],
    },
    /// `w = d·q`, q signed bytes: Q8_0, Q5_0.
    Q8 { d: &'a [f32], qs: &'a [[i8; 32]] },
    /// `w = d·q + m`, q in 0..=31: Q5_1, Q5_K.
    Q8Min {
        d: &'a [f32],
        m: &'a [f32],
        qs: &'a [[i8; 32]],
    },
    /// `w = d[h]·q`, one scale per 16 values: Q6_K.
    Q8Halves {
        d: &'a [[f32; 2]],
        qs: &'a [[i8; 32]],
    },
    /// F32, F16, BF16: read the values with [`QMatrix::row_f32`].
    Float,
}

/// A weight matrix `(rows, cols)`, row-major, in one of ggml's formats.
pub struct QMatrix {
    rows: usize,
    cols: usize,
    /// The format in the file (several unpack into the same [`Blocks`] layout).
    format: Format,
    blocks: Blocks,
}

impl QMatrix {
    /// Reads a matrix from its raw GGUF bytes.
    pub fn from_bytes(format: Format, rows: usize, cols: usize, bytes: &[u8]) -> Result<Self> {
        formats::check_size(format, rows, cols, bytes.len())?;
        Ok(Self {
            rows,
            cols,
            format,
            blocks: formats::unpack(format, bytes, rows * cols),
        })
    }

    /// The format the weights are stored in, in the file.
    pub fn format(&self) -> Format {
        self.format
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The unpacked blocks, row-major (scales widened to f32).
    pub fn blocks(&self) -> BlockView<'_> {
        match &self.blocks {
            Blocks::Q4 { d, m, qs } => BlockView::Q4 { d, m, qs },
            Blocks::Q8 { d, qs, .. } => BlockView::Q8 { d, qs },
            Blocks::Q8Min { d, m, qs } => BlockView::Q8Min { d, m, qs },
            Blocks::Q8Halves { d, qs } => BlockView::Q8Halves { d, qs },
            Blocks::F32(_) | Blocks::F16(_) | Blocks::Bf16(_) => BlockView::Float,
        }
    }

    /// Writes row `r`, dequantized, into `out` (`cols` values): an embedding lookup.
    pub fn row_f32(&self, r: usize, out: &mut [f32]) {
        let out = &mut out[..self.cols];
        let row = r * self.cols..(r + 1) * self.cols;
        match &self.blocks {
            Blocks::F32(w) => out.copy_from_slice(&w[row]),
            Blocks::F16(w) => {
                for (o, &h) in out.iter_mut().zip(&w[row]) {
                    *o = f16::from_bits(h).to_f32();
                }
            }
            Blocks::Bf16(w) => {
                for (o, &h) in out.iter_mut().zip(&w[row]) {
                    *o = bf16_to_f32(h);
                }
            }
            blocks => {
                let nb = self.cols / QK;
                for (b, out) in out.chunks_exact_mut(QK).enumerate() {
                    let i = r * nb + b;
                    match blocks {
                        Blocks::Q4 { d, m, qs } => {
                            for (j, q) in qs[i].iter().enumerate() {
                                out[j] = d[i] * f32::from(q & 0x0F) + m[i];
                                out[j + 16] = d[i] * f32::from(q >> 4) + m[i];
                            }
                        }
                        Blocks::Q8 { d, qs, .. } => {
                            for (o, &q) in out.iter_mut().zip(&qs[i]) {
                                *o = d[i] * f32::from(q);
                            }
                        }
                        Blocks::Q8Min { d, m, qs } => {
                            for (o, &q) in out.iter_mut().zip(&qs[i]) {
                                *o = d[i] * f32::from(q) + m[i];
                            }
                        }
                        Blocks::Q8Halves { d, qs } => {
                            for (j, (o, &q)) in out.iter_mut().zip(&qs[i]).enumerate() {
                                *o = d[i][j / 16] * f32::from(q);
                            }
                        }
                        Blocks::F32(_) | Blocks::F16(_) | Blocks::Bf16(_) => unreachable!(),
                    }
                }
            }
        }
    }

    /// `out[t·rows + r] = W[r] · x[t]` for every activation row `x[t]`: `xs · Wᵀ`. `x` is the
    /// input `(tokens, cols)` and `xq` the same rows quantized to 8 bits: the block formats
    /// multiply `xq` with exact integer dots, the float formats `x` in f32.
    ///
    /// Each weight row is read once and multiplied with every activation row while it is hot.
    /// With several threads ([`threads`](crate::model::threads)), each computes bands of rows:
    /// which thread computed a row changes nothing in its bits.
    pub fn matmul(&self, x: &[f32], xq: &[Q8Row], out: &mut [f32]) {
        Self::matmul_each(x, xq, &mut [(self, out)]);
    }

    /// [`QMatrix::matmul`] of several matrices by the same input, `outs[i] = xs · Wᵢᵀ`, as one
    /// job for the threads: a block's Q, K and V, or its gate and up projections, are shared
    /// out together, so the threads meet once instead of once per matrix.
    pub fn matmul_each(x: &[f32], xq: &[Q8Row], products: &mut [(&QMatrix, &mut [f32])]) {
        let tokens = xq.len();
        for (w, out) in products.iter() {
            assert!(x.len() == tokens * w.cols && out.len() == tokens * w.rows);
            assert!(w.format.is_float() || xq.iter().all(|x| x.qs.len() * QK == w.cols));
        }
        let plans: Vec<Vec<Range<usize>>> = products
            .iter()
            .map(|(w, _)| threads::bands(w.rows, w.cols * tokens))
            .collect();
        // A band's output `(tokens, band)` is a piece of `out` `(tokens, rows)` when there is
        // one token or one band; otherwise it is computed apart and copied in after.
        let in_place = |bands: &[Range<usize>]| tokens == 1 || bands.len() == 1;
        let mut apart: Vec<Vec<f32>> = plans
            .iter()
            .filter(|bands| !in_place(bands))
            .flatten()
            .map(|band| vec![0.0; tokens * band.len()])
            .collect();
        {
            let mut apart = apart.iter_mut();
            let mut tasks: Vec<(&QMatrix, Range<usize>, &mut [f32])> = Vec::new();
            for ((w, out), bands) in products.iter_mut().zip(&plans) {
                let w: &QMatrix = w;
                if in_place(bands) {
                    // `(tokens, band)` is `tokens` values per row of the band.
                    for (band, here) in threads::split_units(out, tokens, bands.clone()) {
                        tasks.push((w, band, here));
                    }
                } else {
                    for (band, part) in bands.iter().zip(apart.by_ref()) {
                        tasks.push((w, band.clone(), part));
                    }
                }
            }
            threads::each_mut(&mut tasks, |_, (w, band, out)| {
                w.matmul_band(x, xq, out, band.clone())
            });
        }
        let mut apart = apart.into_iter();
        for ((w, out), bands) in products.iter_mut().zip(&plans) {
            if in_place(bands) {
                continue;
            }
            for (band, part) in bands.iter().zip(apart.by_ref()) {
                for (t, row) in part.chunks_exact(band.len()).enumerate() {
                    out[t * w.rows + band.start..t * w.rows + band.end].copy_from_slice(row);
                }
            }
        }
    }

    /// The rows `band` of [`QMatrix::matmul`] into `out` `(tokens, band.len())`, on the best
    /// kernel of this CPU.
    fn matmul_band(&self, x: &[f32], xq: &[Q8Row], out: &mut [f32], band: Range<usize>) {
        if self.format.is_float() {
            return float::matmul_float(self, x, out, band);
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present (checked just above).
            unsafe { avx2::matmul_avx2(self, xq, out, band) };
            return;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        simd128::matmul(self, xq, out, band);
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        matmul_with::<Portable>(self, xq, out, band);
    }

    /// `out[t·rows + r] = W[r] · x[t]` with f32 activations `x` `(tokens, cols)`: each weight
    /// row is dequantized and dotted in f64. Exact up to f32 rounding; slow; for references.
    pub fn matmul_f32(&self, x: &[f32], out: &mut [f32]) {
        let n = x.len() / self.cols;
        assert_eq!(out.len(), n * self.rows);
        let mut row = vec![0.0f32; self.cols];
        for r in 0..self.rows {
            self.row_f32(r, &mut row);
            for (t, x) in x.chunks_exact(self.cols).enumerate() {
                let dot: f64 = row
                    .iter()
                    .zip(x)
                    .map(|(&w, &v)| f64::from(w) * f64::from(v))
                    .sum();
                out[t * self.rows + r] = dot as f32;
            }
        }
    }

    /// [`QMatrix::matmul`] in plain scalar code: the definition every SIMD path must equal bit
    /// for bit (tests compare them, natively and in wasm).
    pub fn matmul_scalar(&self, x: &[f32], xq: &[Q8Row], out: &mut [f32]) {
        assert_eq!(out.len(), xq.len() * self.rows);
        if self.format.is_float() {
            return float::matmul_float(self, x, out, 0..self.rows);
        }
        matmul_with::<Scalar>(self, xq, out, 0..self.rows);
    }
}

/// bfloat16 is the top half of an f32.
fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// An activation row quantized to 8 bits per value, per block of 32: `x ≈ d·q`, and `s = d·Σq`.
#[derive(Clone, Default)]
pub struct Q8Row {
    d: Vec<f32>,
    s: Vec<f32>,
    qs: Vec<[i8; 32]>,
}

impl Q8Row {
    /// Quantizes `x` (a multiple of 32 long) into `self`, reusing its buffers.
    ///
    /// Per block: `d = max|x| / 127`, `q = round(x / d)` (halves away from zero), as ggml's
    /// reference `quantize_row_q8_1`, kept within −127..=127 (where `1/d` overflows too).
    pub fn quantize(&mut self, x: &[f32]) {
        self.quantize_with(x, quantize_block);
    }

    /// [`Q8Row::quantize`] in plain scalar code: the definition the SIMD path must equal bit for
    /// bit (a wasm test compares them).
    pub fn quantize_scalar(&mut self, x: &[f32]) {
        self.quantize_with(x, scalar::quantize_block);
    }

    fn quantize_with(&mut self, x: &[f32], block_fn: fn(&[f32; QK], &mut [i8; QK]) -> (f32, i32)) {
        let (blocks, _) = x.as_chunks::<QK>();
        let nb = blocks.len();
        self.d.resize(nb, 0.0);
        self.s.resize(nb, 0.0);
        self.qs.resize(nb, [0; 32]);
        for (b, block) in blocks.iter().enumerate() {
            let (d, sum) = block_fn(block, &mut self.qs[b]);
            self.d[b] = d;
            self.s[b] = d * sum as f32;
        }
    }

    /// Each block's `(d, s, q)`, as bits (for tests that compare two quantizations exactly).
    pub fn block_bits(&self) -> Vec<(u32, u32, [i8; QK])> {
        (self.d.iter().zip(&self.s).zip(&self.qs))
            .map(|((d, s), q)| (d.to_bits(), s.to_bits(), *q))
            .collect()
    }

    /// Quantizes each `cols`-long row of `x` into `rows` (resized to fit).
    pub fn quantize_rows(x: &[f32], cols: usize, rows: &mut Vec<Q8Row>) {
        let n = x.len() / cols;
        rows.resize_with(n, Q8Row::default);
        for (row, chunk) in rows.iter_mut().zip(x.chunks_exact(cols)) {
            row.quantize(chunk);
        }
    }
}
