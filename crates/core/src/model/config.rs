//! The model's hyper-parameters, read from the GGUF's `<architecture>.*` metadata and checked
//! before any buffer is sized by them.
//!
//! Three architectures share one forward pass; they differ in small, named ways:
//!
//! ```text
//!            RoPE pairs          Q/K/V bias   Q/K RMSNorm per head   head_dim
//! llama      (2i, 2i+1)          no           no                     dim / n_head
//! qwen2      (i, i + d/2)        yes          no                     dim / n_head
//! qwen3      (i, i + d/2)        no           yes                    attention.key_length
//! ```

use crate::gguf::Gguf;
use crate::{msg, Error, Result};

/// Longest context tokenmeter runs, whatever a model was trained for (a browser tab's memory
/// bounds the KV cache; SmolLM2's 8,192 fits well within).
pub const MAX_CONTEXT: usize = 1 << 15;

/// The model families tokenmeter runs (`general.architecture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Arch {
    /// Llama 1–3, SmolLM, TinyLlama, Mistral-style dense models.
    Llama,
    /// Qwen2 and Qwen2.5: biases on the query, key and value projections.
    Qwen2,
    /// Qwen3: RMSNorm of each query and key head before RoPE.
    Qwen3,
}

impl Arch {
    /// The architecture's name in GGUF metadata (and the prefix of its keys).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
        }
    }

    /// How RoPE pairs a head's dimensions. GGUF stores Llama's Q/K weights permuted for
    /// adjacent pairs (llama.cpp's "normal" RoPE); Qwen's are unpermuted, rotated in halves
    /// (GPT-NeoX style).
    pub fn rope_style(self) -> RopeStyle {
        match self {
            Arch::Llama => RopeStyle::Adjacent,
            Arch::Qwen2 | Arch::Qwen3 => RopeStyle::Halves,
        }
    }
}

/// Which dimensions of a head RoPE turns together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RopeStyle {
    /// Pairs (2i, 2i + 1).
    Adjacent,
    /// Pairs (i, i + head_dim/2).
    Halves,
}

/// Hyper-parameters, read from the GGUF's `<arch>.*` metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// The model family.
    pub arch: Arch,
    /// Width of the residual stream (`llama.embedding_length`).
    pub dim: usize,
    /// Number of transformer blocks (`llama.block_count`).
    pub n_layer: usize,
    /// Query heads (`llama.attention.head_count`).
    pub n_head: usize,
    /// Key/value heads (`llama.attention.head_count_kv`); n_head / n_kv_head query heads share one.
    pub n_kv_head: usize,
    /// Width of one attention head: dim / n_head, or `attention.key_length` where the file
    /// says (Qwen3: wider heads than dim / n_head).
    pub head_dim: usize,
    /// Hidden width of the feed-forward block (`llama.feed_forward_length`).
    pub ffn_dim: usize,
    /// Vocabulary entries scored per token.
    pub vocab_size: usize,
    /// Longest sequence tokenmeter runs: the model's `llama.context_length`, at most
    /// [`MAX_CONTEXT`] (RoPE's tables and the KV cache are sized by it).
    pub context_length: usize,
    /// RoPE base frequency θ (`llama.rope.freq_base`).
    pub rope_theta: f32,
    /// Linear RoPE scaling: positions are multiplied by this (`rope.scaling.factor` f gives
    /// 1/f; 1 without scaling).
    pub rope_position_scale: f32,
    /// RMSNorm ε (`llama.attention.layer_norm_rms_epsilon`).
    pub rms_eps: f32,
}

impl Config {
    pub(super) fn from_gguf(gguf: &Gguf) -> Result<Self> {
        let md = gguf.metadata();
        let name = md.string("general.architecture")?;
        let arch = match name {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            other => {
                return Err(Error::Unsupported(msg!(
                    "model architecture \"{}\"; tokenmeter runs llama, qwen2 and qwen3 models",
                    other
                )))
            }
        };
        let key = |k: &str| format!("{name}.{k}");
        let n = |k: &str| md.u32(&key(k)).map(|v| v as usize);
        let dim = n("embedding_length")?;
        let n_head = n("attention.head_count")?;
        let n_kv_head = n("attention.head_count_kv").unwrap_or(n_head);
        if n_head == 0 || n_kv_head == 0 || n_head % n_kv_head != 0 {
            return Err(Error::InvalidGguf(msg!(
                "inconsistent attention shape: dim {}, {} heads, {} kv heads",
                dim,
                n_head,
                n_kv_head
            )));
        }
        let head_dim = match n("attention.key_length") {
            Ok(k) => k,
            Err(_) if dim % n_head == 0 => dim / n_head,
            Err(_) => {
                return Err(Error::InvalidGguf(msg!(
                    "{} heads do not divide a width of {}",
                    n_head,
                    dim
                )))
            }
        };
        let value_dim = n("attention.value_length").unwrap_or(head_dim);
        let rope_dim = n("rope.dimension_count").unwrap_or(head_dim);
        if value_dim != head_dim || rope_dim != head_dim || head_dim % 2 != 0 || head_dim > 1024 {
            return Err(Error::Unsupported(msg!(
                "attention heads of {} (keys), {} (values), rotated over {} dims",
                head_dim,
                value_dim,
                rope_dim
            )));
        }
        let vocab_size = match n("vocab_size") {
            Ok(v) => v,
            Err(_) => md.string_array("tokenizer.ggml.tokens")?.len(),
        };
        // Sizes from the file decide buffers: each must be plausible before anything is
        // allocated by it (the tensors themselves are checked against the file's size).
        let n_layer = n("block_count")?;
        let ffn_dim = n("feed_forward_length")?;
        for (what, v, max) in [
            ("embedding_length", dim, 1 << 16),
            ("block_count", n_layer, 1 << 10),
            ("attention.head_count", n_head, 1 << 10),
            ("feed_forward_length", ffn_dim, 1 << 18),
            ("vocab_size", vocab_size, 1 << 21),
        ] {
            if v == 0 || v > max {
                return Err(Error::InvalidGguf(msg!(
                    "{} = {} is not a size tokenmeter can run (1 to {})",
                    key(what),
                    v,
                    max
                )));
            }
        }
        let context_length = n("context_length")?;
        if context_length == 0 {
            return Err(Error::InvalidGguf(msg!("{} is 0", key("context_length"))));
        }
        let rope_position_scale = match md.string(&key("rope.scaling.type")) {
            Err(_) | Ok("none") => 1.0,
            Ok("linear") => {
                let factor = md.f32(&key("rope.scaling.factor")).unwrap_or(1.0);
                if !(factor.is_finite() && factor >= 1.0) {
                    return Err(Error::InvalidGguf(msg!(
                        "RoPE scaling factor {}",
                        factor.to_string()
                    )));
                }
                1.0 / factor
            }
            Ok(other) => {
                return Err(Error::Unsupported(msg!(
                    "RoPE scaling \"{}\" (tokenmeter runs none and linear)",
                    other
                )))
            }
        };
        let rope_theta = md.f32(&key("rope.freq_base")).unwrap_or(10_000.0);
        let rms_eps = md.f32(&key("attention.layer_norm_rms_epsilon"))?;
        if !(rope_theta.is_finite() && rope_theta > 1.0 && rms_eps.is_finite() && rms_eps >= 0.0) {
            return Err(Error::InvalidGguf(msg!(
                "RoPE base {} and RMSNorm epsilon {}",
                rope_theta.to_string(),
                rms_eps.to_string()
            )));
        }
        Ok(Self {
            arch,
            dim,
            n_layer,
            n_head,
            n_kv_head,
            head_dim,
            ffn_dim,
            vocab_size,
            context_length: context_length.min(MAX_CONTEXT),
            rope_theta,
            rope_position_scale,
            rms_eps,
        })
    }

    /// Whether `tokens` can run at positions `pos..`: some tokens, within the context, every ID
    /// in the vocabulary. Every forward pass (CPU or GPU) checks this first.
    pub fn check_step(&self, tokens: &[u32], pos: usize) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        if pos + tokens.len() > self.context_length {
            return Err(Error::PromptTooLong {
                tokens: pos + tokens.len(),
                limit: self.context_length,
            });
        }
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= self.vocab_size) {
            return Err(Error::TokenIdOutOfRange {
                id,
                vocab_size: self.vocab_size,
            });
        }
        Ok(())
    }

    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_head * self.head_dim
    }

    /// Width of all query heads together (the attention output's too).
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }
}
