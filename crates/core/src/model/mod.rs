//! The language model: SmolLM2-135M, a Llama-architecture transformer read from a GGUF file.
//!
//! - [`llama`] holds the forward pass, token IDs in, one row of logits out, written to be read.
//! - [`Session`] keeps the KV cache between calls, so that typing one more word only computes the
//!   new tokens, and can stop after a budget of tokens so a caller can stay responsive.

pub mod bench;
pub mod llama;

use std::sync::Arc;

pub use llama::{Config, Model};

use crate::{Error, Result};

/// What a [`Session`] holds for one transformer layer: the keys and values of every position it
/// has seen, `(n_kv_head, positions, head_dim)` each.
#[derive(Clone, Default)]
pub(crate) struct LayerCache {
    pub k: Option<candle_core::Tensor>,
    pub v: Option<candle_core::Tensor>,
}

/// What one [`Session::advance`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Tokens run through the model by this call.
    pub computed: usize,
    /// Whether the whole prompt is now in the cache, with its next-token logits.
    pub done: bool,
}

/// A model plus the state of one running text: the tokens fed so far and their KV cache.
pub struct Session {
    model: Arc<Model>,
    cache: Vec<LayerCache>,
    /// Tokens whose keys/values are in `cache`, in order.
    tokens: Vec<u32>,
    /// Logits predicting the token after `tokens`, once the whole prompt has been fed.
    logits: Option<Vec<f32>>,
}

impl Session {
    pub fn new(model: Arc<Model>) -> Self {
        let cache = vec![LayerCache::default(); model.config().n_layer];
        Self {
            model,
            cache,
            tokens: Vec::new(),
            logits: None,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Tokens currently held in the KV cache.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Scores for the token after `prompt`: one logit per vocabulary entry.
    ///
    /// Reuses the cache for the longest prefix `prompt` shares with what was fed before.
    pub fn next_logits(&mut self, prompt: &[u32]) -> Result<&[f32]> {
        while !self.advance(prompt, usize::MAX)?.done {}
        self.logits.as_deref().ok_or(Error::EmptyPrompt)
    }

    /// Moves the cache towards `prompt`, computing at most `budget` new tokens (at least one).
    /// Once [`Step::done`], [`Session::logits`] holds the scores for the token after `prompt`.
    pub fn advance(&mut self, prompt: &[u32], budget: usize) -> Result<Step> {
        if prompt.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let limit = self.model.config().context_length;
        if prompt.len() > limit {
            return Err(Error::PromptTooLong {
                tokens: prompt.len(),
                limit,
            });
        }
        let vocab = self.model.config().vocab_size;
        if let Some(&id) = prompt.iter().find(|&&id| id as usize >= vocab) {
            return Err(Error::TokenIdOutOfRange {
                id,
                vocab_size: vocab,
            });
        }
        let common = self
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        if common == prompt.len() && common == self.tokens.len() && self.logits.is_some() {
            return Ok(Step {
                computed: 0,
                done: true,
            });
        }
        // Keep the shared prefix, but always recompute at least the prompt's last token: its
        // logits are the answer.
        let keep = common.min(prompt.len() - 1);
        self.truncate(keep)?;

        let end = prompt.len().min(keep.saturating_add(budget.max(1)));
        let chunk = &prompt[keep..end];
        let done = end == prompt.len();
        let logits = self.model.forward(chunk, keep, &mut self.cache, done)?;
        self.tokens.extend_from_slice(chunk);
        self.logits = logits;
        Ok(Step {
            computed: chunk.len(),
            done,
        })
    }

    /// The logits for the token after [`Session::tokens`], if computed.
    pub fn logits(&self) -> Option<&[f32]> {
        self.logits.as_deref()
    }

    /// Forgets everything after the first `len` tokens.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.tokens.len() {
            return Ok(());
        }
        for layer in &mut self.cache {
            for t in [&mut layer.k, &mut layer.v] {
                *t = match t.take() {
                    Some(x) if len > 0 => Some(x.narrow(1, 0, len)?),
                    _ => None,
                };
            }
        }
        self.tokens.truncate(len);
        self.logits = None;
        Ok(())
    }
}
