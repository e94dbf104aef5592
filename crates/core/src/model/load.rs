//! Reading a [`Model`] from a GGUF file: every tensor checked against the shape the config
//! implies, kept in its block format, and RoPE's tables computed once.

use std::io::{Read, Seek};

use super::config::{Arch, Config};
use super::llama::{Block, Model, QkvBias};
use super::quant::{Format, QMatrix};
use crate::gguf::Gguf;
use crate::{msg, Error, Result};

impl Model {
    /// Reads the configuration and every weight tensor. `reader` is the same file `gguf` was
    /// parsed from.
    pub fn from_gguf<R: Read + Seek>(gguf: &Gguf, reader: &mut R) -> Result<Self> {
        let config = Config::from_gguf(gguf)?;
        let (mut n_params, mut weight_bytes) = (0usize, 0usize);
        let mut read = |name: &str, rows: usize, cols: usize| {
            let t = gguf.tensor(reader, name)?;
            let dims = t.shape().dims().to_vec();
            if dims != [rows, cols] && !(rows == 1 && dims == [cols]) {
                return Err(Error::InvalidGguf(msg!(
                    "tensor '{}' has shape {}, expected [{}, {}]",
                    name,
                    format!("{dims:?}"),
                    rows,
                    cols
                )));
            }
            n_params += rows * cols;
            weight_bytes += t.storage_size_in_bytes();
            Ok(t)
        };
        let mut matrix = |name: &str, rows: usize, cols: usize| -> Result<QMatrix> {
            let t = read(name, rows, cols)?;
            let format = Format::from_ggml(t.dtype()).ok_or_else(|| {
                Error::Unsupported(msg!(
                    "tensor '{}' is {}; tokenmeter reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K",
                    name,
                    Format::ggml_name(t.dtype())
                ))
            })?;
            let bytes = t.data().map_err(Error::from)?;
            QMatrix::from_bytes(format, rows, cols, &bytes)
        };
        let c = &config;
        let embedding = matrix("token_embd.weight", c.vocab_size, c.dim)?;
        let mut blocks = Vec::with_capacity(c.n_layer);
        for i in 0..c.n_layer {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            blocks.push(Block {
                attn_norm: Vec::new(),
                wq: matrix(&name("attn_q"), c.q_dim(), c.dim)?,
                wk: matrix(&name("attn_k"), c.kv_dim(), c.dim)?,
                wv: matrix(&name("attn_v"), c.kv_dim(), c.dim)?,
                wo: matrix(&name("attn_output"), c.dim, c.q_dim())?,
                ffn_norm: Vec::new(),
                w_gate: matrix(&name("ffn_gate"), c.ffn_dim, c.dim)?,
                w_up: matrix(&name("ffn_up"), c.ffn_dim, c.dim)?,
                w_down: matrix(&name("ffn_down"), c.dim, c.ffn_dim)?,
                bias: None,
                qk_norm: None,
            });
        }
        let output = if gguf.has_tensor("output.weight") {
            Some(matrix("output.weight", c.vocab_size, c.dim)?)
        } else {
            None
        };
        // Norm weights and biases are small vectors (f32 in every file seen; any format read).
        let mut vector = |name: &str, len: usize| -> Result<Vec<f32>> {
            let t = read(name, 1, len)?;
            Ok(t.dequantize(&candle_core::Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?)
        };
        for (i, b) in blocks.iter_mut().enumerate() {
            let name = |part: &str| format!("blk.{i}.{part}");
            b.attn_norm = vector(&name("attn_norm.weight"), c.dim)?;
            b.ffn_norm = vector(&name("ffn_norm.weight"), c.dim)?;
            if c.arch == Arch::Qwen2 {
                b.bias = Some(QkvBias {
                    q: vector(&name("attn_q.bias"), c.q_dim())?,
                    k: vector(&name("attn_k.bias"), c.kv_dim())?,
                    v: vector(&name("attn_v.bias"), c.kv_dim())?,
                });
            }
            if c.arch == Arch::Qwen3 {
                b.qk_norm = Some((
                    vector(&name("attn_q_norm.weight"), c.head_dim)?,
                    vector(&name("attn_k_norm.weight"), c.head_dim)?,
                ));
            }
        }
        let output_norm = vector("output_norm.weight", c.dim)?;
        // Llama 3's long-context RoPE: a divisor per frequency (`rope_freqs.weight`).
        let freq_factors = if gguf.has_tensor("rope_freqs.weight") {
            let f = vector("rope_freqs.weight", c.head_dim / 2)?;
            if f.iter().any(|&v| !(v.is_finite() && v > 0.0)) {
                return Err(Error::InvalidGguf(msg!(
                    "rope_freqs.weight holds a factor that is not a positive number"
                )));
            }
            Some(f)
        } else {
            None
        };
        let (rope_cos, rope_sin) = rope_table(c, freq_factors.as_deref());
        Ok(Self {
            config,
            embedding,
            output,
            blocks,
            output_norm,
            rope_cos,
            rope_sin,
            n_params,
            weight_bytes,
        })
    }
}

/// cos/sin of `s·p · θ^(−2i/head_dim) / fᵢ` for every position p and pair i, computed in f64:
/// s the linear scaling of positions (1 without), fᵢ the file's frequency factors (1 without).
pub(super) fn rope_table(c: &Config, factors: Option<&[f32]>) -> (Vec<f32>, Vec<f32>) {
    let half = c.head_dim / 2;
    let mut cos = Vec::with_capacity(c.context_length * half);
    let mut sin = Vec::with_capacity(c.context_length * half);
    let scale = f64::from(c.rope_position_scale);
    for p in 0..c.context_length {
        for i in 0..half {
            let mut freq = libm::pow(f64::from(c.rope_theta), -2.0 * i as f64 / c.head_dim as f64);
            if let Some(f) = factors {
                freq /= f64::from(f[i]);
            }
            let angle = scale * p as f64 * freq;
            cos.push(libm::cos(angle) as f32);
            sin.push(libm::sin(angle) as f32);
        }
    }
    (cos, sin)
}
