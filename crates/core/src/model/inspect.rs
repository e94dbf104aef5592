//! Looking inside the forward pass at one position: the logit lens and the attention weights.
//!
//! **Logit lens** (nostalgebraist, 2020): what would the model say if it stopped after block `l`?
//! Take the residual stream at that position after the block, apply the final RMSNorm and the
//! output projection, and score the whole vocabulary, exactly as the real prediction is made:
//!
//! ```text
//! x_l    = residual stream after block l                    (dim,)     l = 1..=n_layer
//! lens_l = RMSNorm(x_l; output_norm) · W_outᵀ               (vocab,)
//! ```
//!
//! After the last block this *is* the prediction: `lens_{n_layer}` equals the logits of
//! [`Model::forward`] for that position bit for bit (the same rows through the same kernels; a
//! test holds it).
//!
//! **Attention weights**: for each layer `l` and query head `h`, the softmax row the head computed
//! at that position, `a = softmax(q_h · k_sᵀ / √head_dim)` over the positions `s = 0..=position`:
//! where the head looked. Query heads `h` and `h'` read the same keys when
//! `h / group == h' / group` (grouped-query attention, `group = n_head / n_kv_head`).

use super::llama::{rms_norm, Input, State};
use super::{Config, Logits, Model, Session};
use crate::{Error, Result};

/// What the forward pass records of one position while it runs (see [`Model::inspect`]).
pub(super) struct Probe {
    /// The position's row within the batch being run.
    pub(super) row: usize,
    /// The residual stream after each block, `(n_layer, dim)`, appended block by block.
    pub(super) residual: Vec<f32>,
    /// Each layer's and head's attention weights, `(n_layer, n_head, row + pos + 1)`.
    pub(super) attention: Vec<f32>,
}

/// Tokens run at once before the inspected position (bounds the buffers for long texts).
const CHUNK: usize = 64;

/// One position of a text, seen from inside.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The inspected position (0-based); its lens rows predict the token after it.
    pub position: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub vocab_size: usize,
    /// `(n_layer, vocab)`: row `l` scores the vocabulary from the residual after block `l + 1`.
    pub lens: Vec<f32>,
    /// `(n_layer, n_head, position + 1)`: each head's weights over positions `0..=position`.
    pub attention: Vec<f32>,
}

impl Inspection {
    /// What a backend saw at `position` of a model shaped by `c`: its lens rows `(n_layer,
    /// vocab)` and attention rows `(n_layer, n_head, position + 1)`. Lens scores that are not
    /// numbers (damaged weights) are refused, as the session refuses such logits.
    pub fn new(c: &Config, position: usize, lens: Vec<f32>, attention: Vec<f32>) -> Result<Self> {
        let bad = lens.iter().filter(|z| !z.is_finite()).count();
        if bad > 0 {
            return Err(Error::NonFinite { count: bad });
        }
        Ok(Self {
            position,
            n_layer: c.n_layer,
            n_head: c.n_head,
            n_kv_head: c.n_kv_head,
            vocab_size: c.vocab_size,
            lens,
            attention,
        })
    }

    /// The lens logits after block `layer` (0-based: `layer = n_layer − 1` is the prediction).
    pub fn lens_row(&self, layer: usize) -> &[f32] {
        &self.lens[layer * self.vocab_size..][..self.vocab_size]
    }

    /// Where query head `head` of block `layer` looked: one weight per position `0..=position`.
    pub fn attention_row(&self, layer: usize, head: usize) -> &[f32] {
        let n = self.position + 1;
        &self.attention[(layer * self.n_head + head) * n..][..n]
    }
}

impl Model {
    /// The logit lens and the attention weights at `position` of `tokens` (only `tokens[..=position]`
    /// is read: the model is causal). Runs the positions before it in chunks on a fresh cache,
    /// then the position itself with a [`Probe`].
    pub fn inspect(&self, tokens: &[u32], position: usize) -> Result<Inspection> {
        self.inspect_with(tokens, position, false, None)
    }

    /// [`Model::inspect`] with exact f32 activations, as [`Model::forward_f32`]: the reference
    /// the 8-bit path's lens and attention are measured against.
    pub fn inspect_f32(&self, tokens: &[u32], position: usize) -> Result<Inspection> {
        self.inspect_with(tokens, position, true, None)
    }

    /// `cache`, when given, holds exactly the keys and values of `tokens[..position]` (see
    /// [`Session::inspect`]): only the position itself is then computed.
    fn inspect_with(
        &self,
        tokens: &[u32],
        position: usize,
        exact: bool,
        cache: Option<State>,
    ) -> Result<Inspection> {
        if position >= tokens.len() {
            return Err(Error::Compute(format!(
                "position {position} is outside the text's {} tokens",
                tokens.len()
            )));
        }
        let c = &self.config;
        let (mut state, mut pos) = match cache {
            Some(state) => (state, position),
            None => (State::new(c), 0),
        };
        while pos < position {
            let end = position.min(pos + CHUNK);
            let chunk = &tokens[pos..end];
            if exact {
                self.forward_f32(chunk, pos, &mut state, Logits::None)?;
            } else {
                self.forward(chunk, pos, &mut state, Logits::None)?;
            }
            pos = end;
        }
        let mut probe = Probe {
            row: 0,
            residual: Vec::with_capacity(c.n_layer * c.dim),
            attention: Vec::with_capacity(c.n_layer * c.n_head * (position + 1)),
        };
        let token = &tokens[position..=position];
        self.forward_probed(token, position, &mut state, &mut probe, exact)?;

        // The lens: every block's residual through the final norm and the output projection, as
        // one (n_layer, dim) × (dim, vocab) product, row by row the same arithmetic as the
        // prediction's.
        let mut h = vec![0.0; probe.residual.len()];
        rms_norm(&probe.residual, &self.output_norm, c.rms_eps, &mut h);
        let mut lens = vec![0.0; c.n_layer * c.vocab_size];
        let mut xq = Vec::new();
        Input::new(&h, c.dim, &mut xq, exact).times(self.lm_head(), &mut lens); // (n_layer, vocab)
        Inspection::new(c, position, lens, probe.attention)
    }
}

impl Session {
    /// [`Model::inspect`], reusing this session's CPU cache when it holds the prefix before
    /// `position` (after the text was scored, only the position itself is computed). The
    /// session itself is left as it was.
    pub fn inspect(&self, tokens: &[u32], position: usize) -> Result<Inspection> {
        let model = self.model();
        let shared = self
            .tokens()
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count();
        let cache = (position > 0 && shared >= position)
            .then(|| self.state.prefix(position, model.config()))
            .flatten();
        model.inspect_with(tokens, position, false, cache)
    }
}
