//! How surprised the model is by each token of a text: probability, rank, bits.
//!
//! Answers *surprisal* ([`surprisal`]; `tokenmeter surprisal`). The page gets the same
//! [`SurprisalReport`] inside its next-token answer when the heatmap is on ([`report`]), computed
//! during the same pass over the prompt.

use serde::{Deserialize, Serialize};

use super::limits::{cut_text, MAX_TEXT_BYTES};
use super::model::{LoadedModel, PromptSpec};
use super::next::{feed, Progress};
use crate::model::{Backend, Forward, TokenScore};
use crate::msg::Msg;

/// One token of the text and how the model scored it given the tokens before it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScoredToken {
    pub id: u32,
    pub token: String,
    pub pieces: Vec<crate::tokenizer::Piece>,
    /// Absent for the first token: nothing predicts it.
    pub prob: Option<f64>,
    pub rank: Option<usize>,
    pub surprisal_bits: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SurprisalReport {
    pub tokens: Vec<ScoredToken>,
    /// Σ −log₂ p over the scored tokens, their mean, and 2^mean (perplexity).
    pub total_bits: f64,
    pub bits_per_token: f64,
    pub perplexity: f64,
    pub backend: Backend,
}

/// The report for `ids`, where `scores[i]` is how the model scored `ids[i + 1]`.
pub fn report(
    m: &LoadedModel,
    ids: &[u32],
    scores: &[TokenScore],
    backend: &Backend,
) -> SurprisalReport {
    let tokens = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let score = i.checked_sub(1).and_then(|j| scores.get(j));
            ScoredToken {
                id,
                token: m.show(id),
                pieces: m.tokenizer.token_pieces(id),
                prob: score.map(|s| s.prob),
                rank: score.map(|s| s.rank),
                surprisal_bits: score.map(TokenScore::surprisal_bits),
            }
        })
        .collect();
    let scored = &scores[..scores.len().min(ids.len().saturating_sub(1))];
    let total: f64 = scored.iter().map(TokenScore::surprisal_bits).sum();
    let n = scored.len().max(1) as f64;
    SurprisalReport {
        tokens,
        total_bits: total,
        bits_per_token: total / n,
        perplexity: libm::exp2(total / n),
        backend: backend.clone(),
    }
}

/// Scores every token of `text` (as the model reads it, no template, no BOS).
pub async fn surprisal<F: Forward>(
    m: &LoadedModel,
    engine: &mut F,
    text: &str,
    between: &mut impl AsyncFnMut(Progress) -> bool,
) -> Result<Option<SurprisalReport>, Msg> {
    let (text, _) = cut_text(text, MAX_TEXT_BYTES);
    let ids = m.prompt_ids(&PromptSpec {
        text,
        chat: false,
        bos: false,
        continuation: &[],
    })?;
    engine.session_mut().set_track_scores(true);
    if feed(engine, &ids, between).await?.is_none() {
        return Ok(None);
    }
    let backend = engine.backend();
    Ok(Some(report(
        m,
        &ids,
        engine.session().token_scores(),
        &backend,
    )))
}
