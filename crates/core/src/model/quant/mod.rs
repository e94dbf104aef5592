//! Quantized weight matrices in ggml's block formats, and the integer dot products that multiply
//! them by quantized activations.
//!
//! A GGUF stores each weight row as blocks of 32 values:
//!
//! ```text
//! Q4_1  w = d·q + m     q ∈ 0..=15 (4 bits)    per block: f16 d, f16 m, 16 bytes of nibbles
//! Q8_0  w = d·q         q ∈ −127..=127         per block: f16 d, 32 bytes
//! ```
//!
//! Before a product, the activation row x is quantized the same way (llama.cpp's Q8_1):
//! `x ≈ dₓ·qₓ` with qₓ ∈ −127..=127 per block of 32, and `sₓ = dₓ·Σqₓ`. A block's contribution
//! to `w·x` is then one exact integer dot product and two multiplications:
//!
//! ```text
//! Σ (d·q + m)(dₓ·qₓ) = d·dₓ·Σ q·qₓ  +  m·sₓ          (Q4_1)
//! Σ (d·q)(dₓ·qₓ)     = d·dₓ·Σ q·qₓ                    (Q8_0)
//! ```
//!
//! The integer sums `Σ q·qₓ` run on SIMD (wasm `simd128`, x86 AVX2) or scalar code and are exact,
//! so every path yields the same integer; the float sums over blocks are then done in one fixed
//! order. That makes the result bit-identical natively and in wasm.
//!
//! Files: this one holds the formats, [`QMatrix`] and [`Q8Row`]; [`kernel`] the loop every
//! instruction set shares; [`scalar`], `simd128` (wasm) and `avx2` (x86_64, chosen at run time)
//! the exact integer block dots.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod kernel;
mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(test)]
mod tests;

use kernel::matmul_with;
use scalar::Scalar;

/// The best kernel known at compile time: simd128 in wasm, else scalar (x86 picks AVX2 at run
/// time in [`QMatrix::matmul`]).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd128::Simd128 as Portable;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use Scalar as Portable;

use half::f16;

use super::threads;
use crate::{msg, Error, Result};

/// Values per quantization block in every format used here.
pub const QK: usize = 32;

/// ggml type ids (`ggml_type`) of the formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Q4_1,
    Q8_0,
}

impl Format {
    /// Bytes of one block of 32 values in the file.
    pub fn block_bytes(self) -> usize {
        match self {
            Format::Q4_1 => 20,
            Format::Q8_0 => 34,
        }
    }
}

/// Per-block storage, unpacked from the file into arrays (scales as f32).
pub(crate) enum Blocks {
    Q4_1 {
        d: Vec<f32>,
        m: Vec<f32>,
        qs: Vec<[u8; 16]>,
    },
    Q8_0 {
        d: Vec<f32>,
        qs: Vec<[i8; 32]>,
    },
}

/// Read access to a [`QMatrix`]'s blocks (for uploading them elsewhere, e.g. to a GPU).
pub enum BlockView<'a> {
    Q4_1 {
        d: &'a [f32],
        m: &'a [f32],
        qs: &'a [[u8; 16]],
    },
    Q8_0 {
        d: &'a [f32],
        qs: &'a [[i8; 32]],
    },
}

/// A weight matrix `(rows, cols)`, row-major, each row `cols / 32` blocks.
pub struct QMatrix {
    rows: usize,
    cols: usize,
    blocks: Blocks,
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

impl QMatrix {
    /// Reads a matrix from its raw GGUF bytes.
    pub fn from_bytes(format: Format, rows: usize, cols: usize, bytes: &[u8]) -> Result<Self> {
        if !cols.is_multiple_of(QK) {
            return Err(Error::InvalidGguf(msg!(
                "a row of {} values is not a whole number of blocks",
                cols
            )));
        }
        let n_blocks = rows * cols / QK;
        let size = format.block_bytes();
        if bytes.len() != n_blocks * size {
            return Err(Error::InvalidGguf(msg!(
                "{} matrix {}×{} needs {} bytes, got {}",
                format!("{format:?}"),
                rows,
                cols,
                n_blocks * size,
                bytes.len()
            )));
        }
        let chunks = bytes.chunks_exact(size);
        let blocks = match format {
            Format::Q4_1 => {
                let (mut d, mut m, mut qs) = (
                    Vec::with_capacity(n_blocks),
                    Vec::with_capacity(n_blocks),
                    Vec::with_capacity(n_blocks),
                );
                for b in chunks {
                    d.push(f16_at(b, 0));
                    m.push(f16_at(b, 2));
                    let mut q = [0u8; 16];
                    q.copy_from_slice(&b[4..20]);
                    qs.push(q);
                }
                Blocks::Q4_1 { d, m, qs }
            }
            Format::Q8_0 => {
                let (mut d, mut qs) = (Vec::with_capacity(n_blocks), Vec::with_capacity(n_blocks));
                for b in chunks {
                    d.push(f16_at(b, 0));
                    let mut q = [0i8; 32];
                    for (dst, &src) in q.iter_mut().zip(&b[2..34]) {
                        *dst = src as i8;
                    }
                    qs.push(q);
                }
                Blocks::Q8_0 { d, qs }
            }
        };
        Ok(Self { rows, cols, blocks })
    }

    /// The block format the weights are stored in.
    pub fn format(&self) -> Format {
        match self.blocks {
            Blocks::Q4_1 { .. } => Format::Q4_1,
            Blocks::Q8_0 { .. } => Format::Q8_0,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The blocks, row-major, as read from the file (scales widened to f32).
    pub fn blocks(&self) -> BlockView<'_> {
        match &self.blocks {
            Blocks::Q4_1 { d, m, qs } => BlockView::Q4_1 { d, m, qs },
            Blocks::Q8_0 { d, qs } => BlockView::Q8_0 { d, qs },
        }
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Writes row `r`, dequantized, into `out` (`cols` values): an embedding lookup.
    pub fn row_f32(&self, r: usize, out: &mut [f32]) {
        let nb = self.cols / QK;
        for (b, out) in out.chunks_exact_mut(QK).enumerate() {
            let i = r * nb + b;
            match &self.blocks {
                Blocks::Q4_1 { d, m, qs } => {
                    for (j, q) in qs[i].iter().enumerate() {
                        out[j] = d[i] * f32::from(q & 0x0F) + m[i];
                        out[j + 16] = d[i] * f32::from(q >> 4) + m[i];
                    }
                }
                Blocks::Q8_0 { d, qs } => {
                    for (o, &q) in out.iter_mut().zip(&qs[i]) {
                        *o = d[i] * f32::from(q);
                    }
                }
            }
        }
    }

    /// `out[t·rows + r] = W[r] · x[t]` for every activation row `x[t]`: `xs · Wᵀ`.
    ///
    /// Each weight row is read once and multiplied with every activation row while it is hot.
    /// With several threads ([`threads`](crate::model::threads)), each computes a band of rows
    /// into its own buffer and the bands are copied into `out`: which thread computed a row
    /// changes nothing in its bits.
    pub fn matmul(&self, xs: &[Q8Row], out: &mut [f32]) {
        assert!(xs.iter().all(|x| x.qs.len() * QK == self.cols));
        assert_eq!(out.len(), xs.len() * self.rows);
        let bands = threads::bands(self.rows, self.cols * xs.len());
        if bands.len() == 1 {
            self.matmul_band(xs, out, 0..self.rows);
            return;
        }
        // (tokens, band) each, then into (tokens, rows).
        let computed = threads::map(bands, |band| {
            let mut part = vec![0.0f32; xs.len() * band.len()];
            self.matmul_band(xs, &mut part, band.clone());
            (band, part)
        });
        for (band, part) in computed {
            for (t, row) in part.chunks_exact(band.len()).enumerate() {
                out[t * self.rows + band.start..t * self.rows + band.end].copy_from_slice(row);
            }
        }
    }

    /// The rows `band` of [`QMatrix::matmul`] into `out` `(tokens, band.len())`, on the best
    /// kernel of this CPU.
    fn matmul_band(&self, xs: &[Q8Row], out: &mut [f32], band: std::ops::Range<usize>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present (checked just above).
            unsafe { avx2::matmul_avx2(self, xs, out, band) };
            return;
        }
        matmul_with::<Portable>(self, xs, out, band);
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
    pub fn matmul_scalar(&self, xs: &[Q8Row], out: &mut [f32]) {
        assert_eq!(out.len(), xs.len() * self.rows);
        matmul_with::<Scalar>(self, xs, out, 0..self.rows);
    }
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
    /// reference `quantize_row_q8_1`.
    pub fn quantize(&mut self, x: &[f32]) {
        let nb = x.len() / QK;
        self.d.resize(nb, 0.0);
        self.s.resize(nb, 0.0);
        self.qs.resize(nb, [0; 32]);
        for (b, block) in x.chunks_exact(QK).enumerate() {
            let amax = block.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            let mut sum = 0i32;
            for (q, &v) in self.qs[b].iter_mut().zip(block) {
                *q = (v * id).round() as i8;
                sum += i32::from(*q);
            }
            self.d[b] = d;
            self.s[b] = d * sum as f32;
        }
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
