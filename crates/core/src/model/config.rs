//! The model's hyper-parameters, read from the GGUF's `llama.*` metadata and checked before any
//! buffer is sized by them.

use crate::gguf::Gguf;
use crate::{msg, Error, Result};

/// Longest context tokenmeter runs, whatever a model was trained for (a browser tab's memory
/// bounds the KV cache; SmolLM2's 8,192 fits well within).
pub const MAX_CONTEXT: usize = 1 << 15;

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
    /// Longest sequence tokenmeter runs: the model's `llama.context_length`, at most
    /// [`MAX_CONTEXT`] (RoPE's tables and the KV cache are sized by it).
    pub context_length: usize,
    /// RoPE base frequency θ (`llama.rope.freq_base`).
    pub rope_theta: f32,
    /// RMSNorm ε (`llama.attention.layer_norm_rms_epsilon`).
    pub rms_eps: f32,
}

impl Config {
    pub(super) fn from_gguf(gguf: &Gguf) -> Result<Self> {
        let md = gguf.metadata();
        let arch = md.string("general.architecture")?;
        if arch != "llama" {
            return Err(Error::Unsupported(msg!(
                "model architecture \"{}\"; tokenmeter runs Llama-architecture models",
                arch
            )));
        }
        let n = |k: &str| md.u32(&format!("llama.{k}")).map(|v| v as usize);
        let dim = n("embedding_length")?;
        let n_head = n("attention.head_count")?;
        let n_kv_head = n("attention.head_count_kv").unwrap_or(n_head);
        if n_head == 0 || n_kv_head == 0 || dim % n_head != 0 || n_head % n_kv_head != 0 {
            return Err(Error::InvalidGguf(msg!(
                "inconsistent attention shape: dim {}, {} heads, {} kv heads",
                dim,
                n_head,
                n_kv_head
            )));
        }
        let head_dim = dim / n_head;
        let rope_dim = n("rope.dimension_count").unwrap_or(head_dim);
        if rope_dim != head_dim || head_dim % 2 != 0 {
            return Err(Error::Unsupported(msg!(
                "rotary embedding over {} of {} dims",
                rope_dim,
                head_dim
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
                    "llama.{} = {} is not a size tokenmeter can run (1 to {})",
                    what,
                    v,
                    max
                )));
            }
        }
        let context_length = n("context_length")?;
        if context_length == 0 {
            return Err(Error::InvalidGguf(msg!("llama.context_length is 0")));
        }
        Ok(Self {
            dim,
            n_layer,
            n_head,
            n_kv_head,
            head_dim,
            ffn_dim,
            vocab_size,
            context_length: context_length.min(MAX_CONTEXT),
            rope_theta: md.f32("llama.rope.freq_base").unwrap_or(10_000.0),
            rms_eps: md.f32("llama.attention.layer_norm_rms_epsilon")?,
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
}
