//! The language model: SmolLM2-135M, a Llama-architecture transformer read from a GGUF file.
//!
//! - [`llama`] holds the forward pass, token IDs in, logits out, written to be read.
//! - [`quant`] holds the quantized matrices and their integer dot products (SIMD where available).
//! - [`Session`] keeps the KV cache between calls, so that typing one more word only computes the
//!   new tokens, and can stop after a budget of tokens so a caller can stay responsive.
//! - [`inspect`]: one position seen from inside — the logit lens and the attention weights.
//! - [`synthetic`]: SmolLM2-135M's shapes and formats with seeded random weights, for benchmarks
//!   where the real file cannot go.
//! - [`threads`]: how many threads a pass uses, and how a product's rows are shared among them.
//! - [`forward`]: the [`Forward`] trait, a session plus where its passes run (CPU here, the GPU
//!   crate's engine there).

mod attention;
mod config;
pub mod forward;
pub mod inspect;
pub mod llama;
mod load;
pub mod pool;
pub mod quant;
pub mod synthetic;
pub mod threads;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use config::MAX_CONTEXT;
pub use forward::{cpu_label, next_logits, AdapterSummary, Backend, Forward, CPU_CHUNK};
pub use inspect::Inspection;
pub use llama::{Arch, Block, Config, Logits, Model, RopeStyle, State};

use crate::distribution::{rank_of, Distribution};
use crate::{Error, Result};

/// How the model scored one token of a text, given the tokens before it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TokenScore {
    /// The probability the model gave this token (softmax over the whole vocabulary).
    pub prob: f64,
    /// Its rank among all vocabulary entries (0 = the model's first choice).
    pub rank: usize,
}

impl TokenScore {
    /// Surprisal in bits: −log₂ p.
    pub fn surprisal_bits(&self) -> f64 {
        -libm::log2(self.prob)
    }
}

/// Positions run at once while token scores are tracked (each needs a whole row of logits).
const SCORED_CHUNK: usize = 64;

/// One forward pass a [`Session`] needs: run `prompt[pos..end]` at positions `pos..end` on a
/// cache holding exactly `pos` positions, returning the `logits` rows asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    pub pos: usize,
    pub end: usize,
    pub logits: Logits,
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
    /// The CPU path's KV cache (empty when another engine runs the passes).
    pub(super) state: State,
    /// Tokens whose keys/values are in the cache, in order.
    tokens: Vec<u32>,
    /// Logits predicting the token after `tokens`, once the whole prompt has been fed.
    logits: Option<Vec<f32>>,
    /// With tracking on, `scores[i]` is how the model scored `tokens[i + 1]`.
    track_scores: bool,
    scores: Vec<TokenScore>,
}

impl Session {
    pub fn new(model: Arc<Model>) -> Self {
        let state = State::new(model.config());
        Self {
            model,
            state,
            tokens: Vec::new(),
            logits: None,
            track_scores: false,
            scores: Vec::new(),
        }
    }

    /// Also score every token of the prompt as it is fed (see [`Session::token_scores`]). This
    /// costs one more vocabulary-wide product per token.
    pub fn set_track_scores(&mut self, on: bool) {
        if on && !self.track_scores {
            // Scores of what is cached were not kept: start again.
            self.truncate(0);
        }
        self.track_scores = on;
        if !on {
            self.scores.clear();
        }
    }

    /// With tracking on: how the model scored each token after the first, in order.
    pub fn token_scores(&self) -> &[TokenScore] {
        &self.scores
    }

    /// How the model scored each token of `prompt` after the first (one prefill, reusing the
    /// cache); afterwards [`Session::logits`] holds the prediction after the whole prompt.
    pub fn score_prompt(&mut self, prompt: &[u32]) -> Result<&[TokenScore]> {
        self.set_track_scores(true);
        while !self.advance(prompt, usize::MAX)?.done {}
        Ok(&self.scores)
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
    ///
    /// This is [`Session::plan`], the CPU forward pass, then [`Session::finish`]; another engine
    /// (the GPU path) runs the same plan with its own forward pass and its own KV cache.
    pub fn advance(&mut self, prompt: &[u32], budget: usize) -> Result<Step> {
        let Some(work) = self.plan(prompt, budget)? else {
            return Ok(Step {
                computed: 0,
                done: true,
            });
        };
        let chunk = &prompt[work.pos..work.end];
        let logits = match self
            .model
            .forward(chunk, work.pos, &mut self.state, work.logits)
        {
            Ok(logits) => logits,
            Err(e) => {
                // A failed step may have filled part of the cache: drop back to what is known.
                self.truncate(0);
                return Err(e);
            }
        };
        self.finish(prompt, &work, logits)
    }

    /// Decides what the next forward pass must compute to move towards `prompt` (at most
    /// `budget` tokens), and forgets the cached positions it will overwrite. `None`: the whole
    /// prompt is cached and its logits are known.
    pub fn plan(&mut self, prompt: &[u32], budget: usize) -> Result<Option<Work>> {
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
        let common = self
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        if common == prompt.len() && common == self.tokens.len() && self.logits.is_some() {
            return Ok(None);
        }
        // Keep the shared prefix, but always recompute at least the prompt's last token: its
        // logits are the answer. Scoring the first new token needs the logits of the position
        // before it, so with tracking on that position is recomputed too.
        let mut keep = common.min(prompt.len() - 1);
        if self.track_scores {
            keep = keep.saturating_sub(1);
            // Token `keep` stays scored (its score came from position keep − 1, kept): the
            // recomputed position `keep` then scores token keep + 1, and so on.
            self.truncate_cache(keep);
            self.scores.truncate(keep);
        } else {
            self.truncate(keep);
        }

        let budget = if self.track_scores {
            budget.clamp(1, SCORED_CHUNK)
        } else {
            budget.max(1)
        };
        let end = prompt.len().min(keep.saturating_add(budget));
        let done = end == prompt.len();
        let logits = match (self.track_scores, done) {
            (true, _) => Logits::All,
            (false, true) => Logits::Last,
            (false, false) => Logits::None,
        };
        Ok(Some(Work {
            pos: keep,
            end,
            logits,
        }))
    }

    /// Records the result of the forward pass `work` asked for: `prompt[work.pos..work.end]` is
    /// now cached, and `logits` holds the rows `work.logits` named.
    ///
    /// Scores that are not numbers (NaN, ±∞: damaged or overflowing weights) are refused rather
    /// than turned into probabilities that would teach nothing; the cache is then dropped.
    pub fn finish(&mut self, prompt: &[u32], work: &Work, logits: Vec<f32>) -> Result<Step> {
        let bad = logits.iter().filter(|z| !z.is_finite()).count();
        if bad > 0 {
            self.truncate(0);
            return Err(Error::NonFinite { count: bad });
        }
        let chunk = &prompt[work.pos..work.end];
        let done = work.end == prompt.len();
        self.tokens.extend_from_slice(chunk);
        let vocab = self.model.config().vocab_size;
        self.logits = None;
        if self.track_scores {
            // Row r is the prediction after position pos + r.
            for (r, row) in logits.chunks_exact(vocab).enumerate() {
                match prompt.get(work.pos + r + 1) {
                    Some(&next) => self.scores.push(score_of(row, next)),
                    None => self.logits = Some(row.to_vec()),
                }
            }
        } else if done {
            self.logits = Some(logits);
        }
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
    pub fn truncate(&mut self, len: usize) {
        self.truncate_cache(len);
        self.scores.truncate(len.saturating_sub(1));
    }

    fn truncate_cache(&mut self, len: usize) {
        if len >= self.tokens.len() && len > 0 {
            return;
        }
        self.state.truncate(len, self.model.config());
        self.tokens.truncate(len);
        self.logits = None;
    }
}

/// How one row of logits scores token `id`.
fn score_of(logits: &[f32], id: u32) -> TokenScore {
    let dist = Distribution::of(logits);
    TokenScore {
        prob: dist.prob(logits[id as usize]),
        rank: rank_of(logits, id),
    }
}
