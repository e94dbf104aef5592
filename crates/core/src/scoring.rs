//! One row of logits described for people: the best candidates with their text, the entropy, the
//! sampler's filters and draw, the long-tail curve and any token's rank — everything the
//! next-token panel (and `tokenmeter next`) shows about the scores of the whole vocabulary. The
//! maths of the distribution itself is in [`crate::distribution`].

use serde::{Deserialize, Serialize};

use crate::distribution::{rank_of, sorted_curve, top_k, Distribution};
use crate::sampling::{self, Sampler};
use crate::tokenizer::{Piece, TextTokenizer};

/// One candidate next token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Candidate {
    pub id: u32,
    /// The token's text (hex such as `<E4 BD>` when its bytes are not valid UTF-8 alone).
    pub token: String,
    /// The same split into text and stray bytes, for a viewer to draw each its own way.
    pub pieces: Vec<Piece>,
    pub logit: f32,
    /// Probability under the softmax over the whole vocabulary.
    pub prob: f64,
}

/// A token as the sampler sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pick {
    pub id: u32,
    pub token: String,
    pub pieces: Vec<Piece>,
    /// Probability after the filters (renormalised over the survivors).
    pub prob: f64,
    /// Probability under the model's own distribution (no temperature, no filters).
    pub model_prob: f64,
}

/// What the sampler makes of the row at this step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SamplingView {
    pub settings: Sampler,
    /// The draw's number: tokens already generated after the text.
    pub step: u64,
    /// Tokens that survive the filters.
    pub survivors: usize,
    /// The most likely survivors (as many as candidates are listed).
    pub top: Vec<Pick>,
    /// The token this step's draw picks.
    pub chosen: Pick,
    /// Whether the chosen token ends a reply (set by the service, which knows the model's stop
    /// tokens).
    #[serde(default)]
    pub ends: bool,
}

impl SamplingView {
    /// A token's probability after filtering, if it is among `top`.
    pub fn prob(&self, id: u32) -> Option<f64> {
        self.top.iter().find(|p| p.id == id).map(|p| p.prob)
    }
}

/// Where a searched token stands among all vocabulary entries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchHit {
    pub id: u32,
    pub token: String,
    pub pieces: Vec<Piece>,
    /// False when the query is not one vocabulary entry and this is its first token.
    pub exact: bool,
    /// 0 = the most likely.
    pub rank: usize,
    pub prob: f64,
}

/// One row of logits, described.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RowView {
    /// The most likely tokens, most likely first, with probabilities over the whole vocabulary.
    pub candidates: Vec<Candidate>,
    /// Entropy of the whole distribution, in nats and in bits.
    pub entropy: f64,
    pub entropy_bits: f64,
    /// e^H: as unsure as a fair choice among this many tokens.
    pub effective_choices: f64,
    /// Entries scored (the whole vocabulary).
    pub vocab_size: usize,
    /// Probability held by the listed candidates (the rest is spread over the other entries).
    pub top_mass: f64,
    pub sampling: SamplingView,
    /// The sorted distribution as `(rank, probability)` points, see [`sorted_curve`].
    pub curve: Vec<(usize, f64)>,
}

/// Describes one row: softmax over all of it, the `top` best with their text, the sampler's
/// filters and draw for `step`, and the long-tail curve (timed by the benchmark: it runs on
/// every step).
pub fn describe(
    logits: &[f32],
    tokenizer: &TextTokenizer,
    top: usize,
    sampler: &Sampler,
    step: u64,
) -> RowView {
    let dist = Distribution::of(logits);
    let show = |id: u32| tokenizer.token_display(id).unwrap_or_default();
    let pieces = |id: u32| tokenizer.token_pieces(id);
    let candidates: Vec<Candidate> = top_k(logits, top)
        .into_iter()
        .map(|(id, logit)| Candidate {
            id,
            token: show(id),
            pieces: pieces(id),
            logit,
            prob: dist.prob(logit),
        })
        .collect();
    let d = sampling::decide(logits, sampler, step, top);
    let pick = |id: u32, prob: f64| Pick {
        id,
        token: show(id),
        pieces: pieces(id),
        prob,
        model_prob: logits.get(id as usize).map_or(0.0, |&z| dist.prob(z)),
    };
    RowView {
        top_mass: candidates.iter().map(|c| c.prob).sum(),
        candidates,
        entropy: dist.entropy_nats,
        entropy_bits: dist.entropy_bits(),
        effective_choices: libm::exp(dist.entropy_nats),
        vocab_size: dist.vocab_size,
        sampling: SamplingView {
            settings: *sampler,
            step,
            survivors: d.survivors,
            top: d.head.iter().map(|&(id, p)| pick(id, p)).collect(),
            chosen: pick(d.token, d.token_prob),
            ends: false,
        },
        curve: sorted_curve(logits, &dist, 160),
    }
}

/// Where `query` stands: the vocabulary entry that is exactly `query`, else the first token of
/// its encoding. `None` for an empty query.
pub fn search(logits: &[f32], tokenizer: &TextTokenizer, query: &str) -> Option<SearchHit> {
    let query = query.trim_end_matches(['\n', '\r']);
    if query.is_empty() {
        return None;
    }
    let (id, exact) = match tokenizer.find(query) {
        Some(id) => (id, true),
        None => (tokenizer.encode(query).ok()?.first().copied()?, false),
    };
    let z = *logits.get(id as usize)?;
    Some(SearchHit {
        id,
        token: tokenizer.token_display(id).unwrap_or_default(),
        pieces: tokenizer.token_pieces(id),
        exact,
        rank: rank_of(logits, id),
        prob: Distribution::of(logits).prob(z),
    })
}
