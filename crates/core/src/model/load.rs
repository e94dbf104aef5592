//! Reading a [`Model`] from a GGUF file: every tensor checked against the shape the config
//! implies, kept in its block format, and RoPE's tables computed once.

use std::io::{Read, Seek};

use candle_core::quantized::GgmlDType;

use super::config::Config;
use super::llama::{Block, Model};
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
            let format = match t.dtype() {
                GgmlDType::Q4_1 => Format::Q4_1,
                GgmlDType::Q8_0 => Format::Q8_0,
                other => {
                    return Err(Error::Unsupported(msg!(
                        "tensor '{}' is {}; this build runs Q4_1 and Q8_0 weights",
                        name,
                        format!("{other:?}")
                    )))
                }
            };
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
                wq: matrix(&name("attn_q"), c.n_head * c.head_dim, c.dim)?,
                wk: matrix(&name("attn_k"), c.kv_dim(), c.dim)?,
                wv: matrix(&name("attn_v"), c.kv_dim(), c.dim)?,
                wo: matrix(&name("attn_output"), c.dim, c.n_head * c.head_dim)?,
                ffn_norm: Vec::new(),
                w_gate: matrix(&name("ffn_gate"), c.ffn_dim, c.dim)?,
                w_up: matrix(&name("ffn_up"), c.ffn_dim, c.dim)?,
                w_down: matrix(&name("ffn_down"), c.dim, c.ffn_dim)?,
            });
        }
        let output = if gguf.has_tensor("output.weight") {
            Some(matrix("output.weight", c.vocab_size, c.dim)?)
        } else {
            None
        };
        // The norm weights are small f32 vectors.
        let mut vector = |name: &str| -> Result<Vec<f32>> {
            let t = read(name, 1, c.dim)?;
            Ok(t.dequantize(&candle_core::Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?)
        };
        for (i, b) in blocks.iter_mut().enumerate() {
            b.attn_norm = vector(&format!("blk.{i}.attn_norm.weight"))?;
            b.ffn_norm = vector(&format!("blk.{i}.ffn_norm.weight"))?;
        }
        let output_norm = vector("output_norm.weight")?;
        let (rope_cos, rope_sin) = rope_table(c);
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

/// cos/sin of `p · θ^(−2i/head_dim)` for every position p and pair i, computed in f64.
pub(super) fn rope_table(c: &Config) -> (Vec<f32>, Vec<f32>) {
    let half = c.head_dim / 2;
    let mut cos = Vec::with_capacity(c.context_length * half);
    let mut sin = Vec::with_capacity(c.context_length * half);
    for p in 0..c.context_length {
        for i in 0..half {
            let freq = libm::pow(f64::from(c.rope_theta), -2.0 * i as f64 / c.head_dim as f64);
            let angle = p as f64 * freq;
            cos.push(libm::cos(angle) as f32);
            sin.push(libm::sin(angle) as f32);
        }
    }
    (cos, sin)
}
