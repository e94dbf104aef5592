//! SmolLM2's forward pass: token IDs in, next-token logits out.
//!
//! SmolLM2-135M is a Llama-architecture decoder-only transformer ("LLaMA", Touvron et al. 2023):
//!
//! ```text
//! x = embed(tokens)                                          (seq, dim)
//! for each of the n_layer blocks:
//!     x = x + Attention(RMSNorm(x))                          grouped-query attention with RoPE
//!     x = x + FeedForward(RMSNorm(x))                        SwiGLU: W_down(silu(W_gate·h) ⊙ W_up·h)
//! logits = RMSNorm(x_last) · E^T                             (vocab,) one score per vocabulary entry
//! ```
//!
//! Sizes for SmolLM2-135M (read from the GGUF, not hard-coded): dim = 576, n_layer = 30,
//! n_head = 9 query heads of head_dim = 64, n_kv_head = 3 key/value heads (each shared by 3 query
//! heads), ffn hidden = 1536, vocab = 49,152, RoPE base 100,000. The output projection is the
//! token-embedding matrix E itself (tied weights): scoring a token is a dot product with its
//! embedding, repeated for all 49,152 entries. That last step alone is 49,152 × 576 ≈ 28 M
//! multiply-adds per token, about a quarter of the whole forward pass.
//!
//! Weights stay in their GGUF block formats (Q4_1 for the layers, Q8_0 for E): a matrix-vector
//! product reads 4- or 8-bit integers plus a scale per block of 32, and candle's `QMatMul` does
//! the dot products after quantising the activations to 8 bits, as llama.cpp does.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};

use super::LayerCache;
use crate::gguf::Gguf;
use crate::{Error, Result};

/// Hyper-parameters, read from the GGUF's `llama.*` metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Width of the residual stream (`llama.embedding_length`).
    pub dim: usize,
    /// Number of transformer blocks (`llama.block_count`).
    pub n_layer: usize,
    /// Query heads (`llama.attention.head_count`).
    pub n_head: usize,
    /// Key/value heads (`llama.attention.head_count_kv`); n_head / n_kv_head query heads share one.
    pub n_kv_head: usize,
    /// dim / n_head.
    pub head_dim: usize,
    /// Hidden width of the feed-forward block (`llama.feed_forward_length`).
    pub ffn_dim: usize,
    /// Vocabulary entries scored per token.
    pub vocab_size: usize,
    /// Longest sequence the model was trained for (`llama.context_length`).
    pub context_length: usize,
    /// RoPE base frequency θ (`llama.rope.freq_base`).
    pub rope_theta: f32,
    /// RMSNorm ε (`llama.attention.layer_norm_rms_epsilon`).
    pub rms_eps: f32,
}

impl Config {
    fn from_gguf(gguf: &Gguf) -> Result<Self> {
        let md = gguf.metadata();
        let arch = md.string("general.architecture")?;
        if arch != "llama" {
            return Err(Error::Unsupported(format!(
                "model architecture \"{arch}\"; tokenmeter runs Llama-architecture models"
            )));
        }
        let n = |k: &str| md.u32(&format!("llama.{k}")).map(|v| v as usize);
        let dim = n("embedding_length")?;
        let n_head = n("attention.head_count")?;
        let n_kv_head = n("attention.head_count_kv").unwrap_or(n_head);
        if n_head == 0 || n_kv_head == 0 || dim % n_head != 0 || n_head % n_kv_head != 0 {
            return Err(Error::InvalidGguf(format!(
                "inconsistent attention shape: dim {dim}, {n_head} heads, {n_kv_head} kv heads"
            )));
        }
        let head_dim = dim / n_head;
        let rope_dim = n("rope.dimension_count").unwrap_or(head_dim);
        if rope_dim != head_dim {
            return Err(Error::Unsupported(format!(
                "partial rotary embedding ({rope_dim} of {head_dim} dims)"
            )));
        }
        let vocab_size = match n("vocab_size") {
            Ok(v) => v,
            Err(_) => md.string_array("tokenizer.ggml.tokens")?.len(),
        };
        Ok(Self {
            dim,
            n_layer: n("block_count")?,
            n_head,
            n_kv_head,
            head_dim,
            ffn_dim: n("feed_forward_length")?,
            vocab_size,
            context_length: n("context_length")?,
            rope_theta: md.f32("llama.rope.freq_base").unwrap_or(10_000.0),
            rms_eps: md.f32("llama.attention.layer_norm_rms_epsilon")?,
        })
    }
}

/// One transformer block's weights. Matrices are `(out, in)`; `QMatMul` computes `x · Wᵀ`.
struct Block {
    attn_norm: Tensor, // (dim,)
    wq: QMatMul,       // (n_head·head_dim, dim)
    wk: QMatMul,       // (n_kv_head·head_dim, dim)
    wv: QMatMul,       // (n_kv_head·head_dim, dim)
    wo: QMatMul,       // (dim, n_head·head_dim)
    ffn_norm: Tensor,  // (dim,)
    w_gate: QMatMul,   // (ffn_dim, dim)
    w_up: QMatMul,     // (ffn_dim, dim)
    w_down: QMatMul,   // (dim, ffn_dim)
}

/// SmolLM2's weights and configuration. Immutable; the per-text state lives in a `Session`.
pub struct Model {
    config: Config,
    /// Token embeddings E, `(vocab, dim)`, kept quantized; rows are dequantized on lookup.
    embedding: Arc<QTensor>,
    blocks: Vec<Block>,
    output_norm: Tensor, // (dim,)
    /// `(vocab, dim)`: a separate `output.weight` if the file has one, else E (tied).
    lm_head: QMatMul,
    /// RoPE rotation for every position: cos and sin of `pos · θ^(−2i/head_dim)`,
    /// `(context_length, head_dim / 2)` each.
    rope_cos: Tensor,
    rope_sin: Tensor,
    /// Number of weights, and bytes they occupy in the file.
    n_params: usize,
    weight_bytes: usize,
}

impl Model {
    /// Reads the configuration and every weight tensor. `reader` is the same file `gguf` was
    /// parsed from.
    pub fn from_gguf<R: Read + Seek>(gguf: &Gguf, reader: &mut R) -> Result<Self> {
        let config = Config::from_gguf(gguf)?;
        let (mut n_params, mut weight_bytes) = (0usize, 0usize);
        let mut read = |name: &str, shape: &[usize]| -> Result<QTensor> {
            let t = gguf.tensor(reader, name)?;
            if t.shape().dims() != shape {
                return Err(Error::InvalidGguf(format!(
                    "tensor '{name}' has shape {:?}, expected {shape:?}",
                    t.shape().dims()
                )));
            }
            n_params += t.shape().elem_count();
            weight_bytes += t.storage_size_in_bytes();
            Ok(t)
        };
        let vector = |t: QTensor| t.dequantize(&Device::Cpu);
        let matrix = |t: QTensor| QMatMul::from_qtensor(t);

        let Config {
            dim,
            n_head,
            n_kv_head,
            head_dim,
            ffn_dim,
            vocab_size,
            ..
        } = config.clone();
        let embedding = Arc::new(read("token_embd.weight", &[vocab_size, dim])?);
        let mut blocks = Vec::with_capacity(config.n_layer);
        for i in 0..config.n_layer {
            let mut r =
                |part: &str, shape: &[usize]| read(&format!("blk.{i}.{part}.weight"), shape);
            blocks.push(Block {
                attn_norm: vector(r("attn_norm", &[dim])?)?,
                wq: matrix(r("attn_q", &[n_head * head_dim, dim])?)?,
                wk: matrix(r("attn_k", &[n_kv_head * head_dim, dim])?)?,
                wv: matrix(r("attn_v", &[n_kv_head * head_dim, dim])?)?,
                wo: matrix(r("attn_output", &[dim, n_head * head_dim])?)?,
                ffn_norm: vector(r("ffn_norm", &[dim])?)?,
                w_gate: matrix(r("ffn_gate", &[ffn_dim, dim])?)?,
                w_up: matrix(r("ffn_up", &[ffn_dim, dim])?)?,
                w_down: matrix(r("ffn_down", &[dim, ffn_dim])?)?,
            });
        }
        let output_norm = vector(read("output_norm.weight", &[dim])?)?;
        let lm_head = if gguf.has_tensor("output.weight") {
            matrix(read("output.weight", &[vocab_size, dim])?)?
        } else {
            QMatMul::from_arc(embedding.clone())?
        };
        let (rope_cos, rope_sin) = rope_table(&config)?;
        Ok(Self {
            config,
            embedding,
            blocks,
            output_norm,
            lm_head,
            rope_cos,
            rope_sin,
            n_params,
            weight_bytes,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of weights (parameters) in the file.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// Bytes the weights occupy as stored (quantized): what a decode step must read.
    pub fn weight_bytes(&self) -> usize {
        self.weight_bytes
    }

    /// Runs `tokens` (at positions `pos..pos + seq`) through the model, appending their keys and
    /// values to `cache`. With `want_logits`, returns the logits after the last token.
    pub(crate) fn forward(
        &self,
        tokens: &[u32],
        pos: usize,
        cache: &mut [LayerCache],
        want_logits: bool,
    ) -> Result<Option<Vec<f32>>> {
        let seq = tokens.len();
        let c = &self.config;
        if seq == 0 {
            return Err(Error::EmptyPrompt);
        }
        if pos + seq > c.context_length {
            return Err(Error::PromptTooLong {
                tokens: pos + seq,
                limit: c.context_length,
            });
        }
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        // Look up each token's row of E.
        let mut x = self.embedding.embedding(&ids)?; // (seq, dim)

        // Causal mask: position i may attend to keys 0..=pos+i only.
        let mask = (seq > 1).then(|| causal_mask(seq, pos)).transpose()?;
        let cos = self.rope_cos.narrow(0, pos, seq)?; // (seq, head_dim/2)
        let sin = self.rope_sin.narrow(0, pos, seq)?;

        for (block, layer_cache) in self.blocks.iter().zip(cache.iter_mut()) {
            // ---- attention sub-layer ------------------------------------------------------
            let h = rms_norm(&x, &block.attn_norm, c.rms_eps)?; // (seq, dim)
            let q = block.wq.forward(&h)?; // (seq, n_head·head_dim)
            let k = block.wk.forward(&h)?; // (seq, n_kv_head·head_dim)
            let v = block.wv.forward(&h)?; // (seq, n_kv_head·head_dim)

            // Split into heads and put the head axis first: (heads, seq, head_dim).
            let heads = |t: Tensor, n: usize| -> candle_core::Result<Tensor> {
                t.reshape((seq, n, c.head_dim))?
                    .transpose(0, 1)?
                    .contiguous()
            };
            // RoPE rotates each (even, odd) pair of a head's dims by an angle proportional to
            // the position, so that q·k depends on the positions' difference.
            let q = rope(&heads(q, c.n_head)?, &cos, &sin)?; // (n_head, seq, head_dim)
            let k = rope(&heads(k, c.n_kv_head)?, &cos, &sin)?; // (n_kv_head, seq, head_dim)
            let v = heads(v, c.n_kv_head)?; // (n_kv_head, seq, head_dim)

            // Append to the cache: keys/values of every position so far, T = pos + seq.
            let (k, v) = match (&layer_cache.k, &layer_cache.v) {
                (Some(pk), Some(pv)) => (Tensor::cat(&[pk, &k], 1)?, Tensor::cat(&[pv, &v], 1)?),
                _ => (k, v),
            }; // (n_kv_head, T, head_dim)
            layer_cache.k = Some(k.clone());
            layer_cache.v = Some(v.clone());
            let t = pos + seq;

            // Grouped-query attention: query heads g·group .. (g+1)·group share kv head g, so
            // stack each group's queries: (n_kv_head, group·seq, head_dim).
            let group = c.n_head / c.n_kv_head;
            let q = q.reshape((c.n_kv_head, group * seq, c.head_dim))?;
            // Scaled dot-product scores, softmax over the keys, weighted sum of the values.
            let scale = 1.0 / (c.head_dim as f64).sqrt();
            let scores = (q.matmul(&k.t()?)? * scale)?; // (n_kv_head, group·seq, T)
            let scores = match &mask {
                Some(m) => scores
                    .reshape((c.n_kv_head, group, seq, t))?
                    .broadcast_add(m)?
                    .reshape((c.n_kv_head, group * seq, t))?,
                None => scores,
            };
            let weights = candle_nn::ops::softmax_last_dim(&scores)?;
            let attn = weights.matmul(&v)?; // (n_kv_head, group·seq, head_dim)
            let attn = attn
                .reshape((c.n_head, seq, c.head_dim))?
                .transpose(0, 1)? // (seq, n_head, head_dim)
                .reshape((seq, c.n_head * c.head_dim))?;
            x = (x + block.wo.forward(&attn)?)?; // residual, (seq, dim)

            // ---- feed-forward sub-layer (SwiGLU) ------------------------------------------
            let h = rms_norm(&x, &block.ffn_norm, c.rms_eps)?;
            let gate = candle_nn::ops::silu(&block.w_gate.forward(&h)?)?; // (seq, ffn_dim)
            let up = block.w_up.forward(&h)?; // (seq, ffn_dim)
            x = (x + block.w_down.forward(&(gate * up)?)?)?; // (seq, dim)
        }
        if !want_logits {
            return Ok(None);
        }
        // Only the last position predicts the next token.
        let last = x.narrow(0, seq - 1, 1)?; // (1, dim)
        let last = rms_norm(&last, &self.output_norm, c.rms_eps)?;
        let logits = self.lm_head.forward(&last)?; // (1, vocab): one dot product per entry
        Ok(Some(logits.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()?))
    }
}

/// RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + ε) ⊙ w, over the last axis.
fn rms_norm(x: &Tensor, w: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    candle_nn::ops::rms_norm(&x.contiguous()?, w, eps)
}

/// Rotary position embedding (Su et al. 2021) on `(heads, seq, head_dim)`, pairs (2i, 2i+1):
/// `(a, b) → (a·cos − b·sin, a·sin + b·cos)`. GGUF stores Llama's Q/K weights permuted so that
/// this interleaved pairing is the right one (llama.cpp's "normal" RoPE).
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    candle_nn::rotary_emb::rope_i(&x.unsqueeze(0)?, cos, sin)?.squeeze(0)
}

/// cos/sin of `pos · θ^(−2i/head_dim)` for every position and pair i, `(context, head_dim/2)`.
fn rope_table(c: &Config) -> Result<(Tensor, Tensor)> {
    let half = c.head_dim / 2;
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / c.rope_theta.powf(2.0 * i as f32 / c.head_dim as f32))
        .collect();
    let inv_freq = Tensor::from_vec(inv_freq, (1, half), &Device::Cpu)?;
    let positions = Tensor::arange(0u32, c.context_length as u32, &Device::Cpu)?
        .to_dtype(DType::F32)?
        .reshape((c.context_length, 1))?;
    let angles = positions.broadcast_mul(&inv_freq)?; // (context, half)
    Ok((angles.cos()?, angles.sin()?))
}

/// `(seq, pos + seq)` with 0 where query i may see key j (j ≤ pos + i) and −∞ elsewhere.
fn causal_mask(seq: usize, pos: usize) -> candle_core::Result<Tensor> {
    let t = pos + seq;
    let mask: Vec<f32> = (0..seq)
        .flat_map(|i| (0..t).map(move |j| if j <= pos + i { 0.0 } else { f32::NEG_INFINITY }))
        .collect();
    Tensor::from_vec(mask, (seq, t), &Device::Cpu)
}
