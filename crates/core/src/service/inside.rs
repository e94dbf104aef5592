//! Inside the model at one position of a text: the logit lens and the attention weights.
//!
//! Answers *lens* ([`lens`]; `tokenmeter lens`), *attention* ([`attention`];
//! `tokenmeter attention`) and both at once for the page's panel ([`inside`], on the backend the
//! scores use: the CPU path, or the GPU kernels read back). The CLI's two read
//! [`Model::inspect`](crate::model::Model::inspect) on the CPU path; there the last block's lens
//! row is the prediction bit for bit.

use serde::{Deserialize, Serialize};

use super::limits::{cut_text, MAX_TEXT_BYTES, TOP};
use super::model::{LoadedModel, PromptSpec};
use crate::distribution::{rank_of, top_k, Distribution};
use crate::model::{Forward, Inspection};
use crate::msg;
use crate::msg::Msg;
use crate::tokenizer::Piece;

/// Which position of which text to look inside (`tokenmeter lens`, `tokenmeter attention`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InsideRequest {
    /// The user's text.
    pub text: String,
    /// Wrap the text as a user message in the model's chat template.
    #[serde(default)]
    pub chat: bool,
    /// Put the BOS token before the text.
    #[serde(default)]
    pub bos: bool,
    /// Tokens generated (or chosen) after the text.
    #[serde(default)]
    pub continuation: Vec<u32>,
    /// The token position to look at, 0-based over the tokens the model reads; `None`: the last
    /// (whose lens predicts the next token).
    #[serde(default)]
    pub position: Option<usize>,
    /// Candidates listed per block (1 to [`super::limits::MAX_TOP`]); the lens only.
    pub top: usize,
}

/// A token of the text, as the model read it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenAt {
    pub position: usize,
    pub id: u32,
    /// As text (hex for the bytes of a split character).
    pub token: String,
    pub pieces: Vec<Piece>,
}

/// One vocabulary entry as a block's lens scores it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LensCandidate {
    pub id: u32,
    pub token: String,
    pub pieces: Vec<Piece>,
    /// Softmax of this block's lens logits over the whole vocabulary.
    pub prob: f64,
}

/// What the model would predict if it stopped after one block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LensLayer {
    /// The block, 1-based (1 = after the first block; `layers` = the model's prediction).
    pub layer: usize,
    /// The best `top` entries, most likely first.
    pub top: Vec<LensCandidate>,
    /// The final answer's rank here (0 = top choice) and its probability.
    pub answer_rank: usize,
    pub answer_prob: f64,
    /// Entropy of this block's distribution, in bits.
    pub entropy_bits: f64,
}

/// The logit lens at one position: `tokenmeter lens` prints it as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LensResponse {
    /// The tokens the model reads (template, text and continuation).
    pub prompt_ids: Vec<u32>,
    /// The token looked at; the lens rows predict the token after it.
    pub at: TokenAt,
    /// The model's final top choice after this position (top-1 after the last block).
    pub answer: LensCandidate,
    /// The first block (1-based) after which the final answer is already the top choice.
    pub first_top_layer: usize,
    /// The block from which it stays the top choice to the end.
    pub settled_layer: usize,
    /// One row per block, in order.
    pub layers: Vec<LensLayer>,
    /// Where the lens was computed (the CPU path).
    pub computed_on: String,
}

/// One query head's weights over the positions it could see.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttentionHead {
    /// The query head, 0-based.
    pub head: usize,
    /// The key/value head it reads (shared with the other heads of its group).
    pub kv_head: usize,
    /// One weight per position `0..=position`; they sum to 1.
    pub weights: Vec<f32>,
    /// The position it weighs most (ties: the earliest).
    pub looks_at: usize,
}

/// One block's heads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttentionLayer {
    /// 1-based, as in the lens.
    pub layer: usize,
    pub heads: Vec<AttentionHead>,
}

/// Where every head of every block looked from one position: `tokenmeter attention`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttentionResponse {
    pub prompt_ids: Vec<u32>,
    /// The token looking (the query position).
    pub at: TokenAt,
    /// The tokens it could see, positions `0..=position`, in order.
    pub tokens: Vec<TokenAt>,
    pub n_head: usize,
    /// Key/value heads; `n_head / n_kv_head` query heads share each (grouped-query attention).
    pub n_kv_head: usize,
    pub layers: Vec<AttentionLayer>,
    pub computed_on: String,
}

impl InsideRequest {
    /// The checks every front end gets.
    pub fn check(&self) -> Result<(), Msg> {
        TOP.check(self.top as f64).map(|_| ())
    }
}

/// The token IDs the model reads for `req`, and the position to look at.
fn prompt(m: &LoadedModel, req: &InsideRequest) -> Result<(Vec<u32>, usize), Msg> {
    req.check()?;
    let (text, _) = cut_text(&req.text, MAX_TEXT_BYTES);
    let ids = m.prompt_ids(&PromptSpec {
        text,
        chat: req.chat,
        bos: req.bos,
        continuation: &req.continuation,
    })?;
    let position = req.position.unwrap_or(ids.len() - 1);
    if position >= ids.len() {
        return Err(msg!(
            "position {} is outside the text, which the model reads as {} tokens",
            position,
            ids.len()
        ));
    }
    Ok((ids, position))
}

/// Both views at once, from one look inside (the page's panel): what the model worker posts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InsideResponse {
    pub lens: LensResponse,
    pub attention: AttentionResponse,
}

/// The lens and the attention for `req` on `engine`'s backend, reusing its cache for the text
/// before the position (the page's model worker, after scoring the same text).
pub async fn inside<F: Forward>(
    m: &LoadedModel,
    engine: &mut F,
    req: &InsideRequest,
) -> Result<InsideResponse, Msg> {
    let (ids, position) = prompt(m, req)?;
    let seen = engine.inspect(&ids, position).await?;
    let on = engine.backend().label();
    let mut lens = lens_view(m, &ids, &seen, req.top)?;
    let mut attention = attention_view(m, &ids, &seen);
    lens.computed_on.clone_from(&on);
    attention.computed_on = on;
    Ok(InsideResponse { lens, attention })
}

fn token_at(m: &LoadedModel, position: usize, id: u32) -> TokenAt {
    TokenAt {
        position,
        id,
        token: m.show(id),
        pieces: m.tokenizer.token_pieces(id),
    }
}

/// The logit lens: after each block, the whole vocabulary scored from the residual stream.
pub fn lens(m: &LoadedModel, req: &InsideRequest) -> Result<LensResponse, Msg> {
    let (ids, position) = prompt(m, req)?;
    let seen = m.model.inspect(&ids, position)?;
    lens_view(m, &ids, &seen, req.top)
}

/// Attention: for each block and query head, its weights over the positions up to the one asked.
pub fn attention(m: &LoadedModel, req: &InsideRequest) -> Result<AttentionResponse, Msg> {
    let (ids, position) = prompt(m, req)?;
    let seen = m.model.inspect(&ids, position)?;
    Ok(attention_view(m, &ids, &seen))
}

fn lens_view(
    m: &LoadedModel,
    ids: &[u32],
    seen: &Inspection,
    top: usize,
) -> Result<LensResponse, Msg> {
    let candidate = |id: u32, prob: f64| LensCandidate {
        id,
        token: m.show(id),
        pieces: m.tokenizer.token_pieces(id),
        prob,
    };
    let last = seen.lens_row(seen.n_layer - 1);
    let (answer_id, answer_logit) = top_k(last, 1)
        .first()
        .copied()
        .ok_or_else(|| msg!("the model gave no scores"))?;
    let answer = candidate(answer_id, Distribution::of(last).prob(answer_logit));
    let layers: Vec<LensLayer> = (0..seen.n_layer)
        .map(|l| {
            let row = seen.lens_row(l);
            let dist = Distribution::of(row);
            LensLayer {
                layer: l + 1,
                top: top_k(row, top)
                    .into_iter()
                    .map(|(id, z)| candidate(id, dist.prob(z)))
                    .collect(),
                answer_rank: rank_of(row, answer_id),
                answer_prob: dist.prob(row[answer_id as usize]),
                entropy_bits: dist.entropy_bits(),
            }
        })
        .collect();
    let first_top_layer = layers
        .iter()
        .find(|l| l.answer_rank == 0)
        .map_or(seen.n_layer, |l| l.layer);
    let settled_layer = layers
        .iter()
        .rev()
        .take_while(|l| l.answer_rank == 0)
        .last()
        .map_or(seen.n_layer, |l| l.layer);
    Ok(LensResponse {
        at: token_at(m, seen.position, ids[seen.position]),
        prompt_ids: ids.to_vec(),
        answer,
        first_top_layer,
        settled_layer,
        layers,
        computed_on: crate::model::cpu_label(),
    })
}

fn attention_view(m: &LoadedModel, ids: &[u32], seen: &Inspection) -> AttentionResponse {
    let group = seen.n_head / seen.n_kv_head;
    let layers = (0..seen.n_layer)
        .map(|l| AttentionLayer {
            layer: l + 1,
            heads: (0..seen.n_head)
                .map(|h| {
                    let weights = seen.attention_row(l, h).to_vec();
                    let looks_at = weights.iter().enumerate().fold(0, |best, (s, &w)| {
                        if w > weights[best] {
                            s
                        } else {
                            best
                        }
                    });
                    AttentionHead {
                        head: h,
                        kv_head: h / group,
                        weights,
                        looks_at,
                    }
                })
                .collect(),
        })
        .collect();
    AttentionResponse {
        at: token_at(m, seen.position, ids[seen.position]),
        tokens: ids[..=seen.position]
            .iter()
            .enumerate()
            .map(|(p, &id)| token_at(m, p, id))
            .collect(),
        prompt_ids: ids.to_vec(),
        n_head: seen.n_head,
        n_kv_head: seen.n_kv_head,
        layers,
        computed_on: crate::model::cpu_label(),
    }
}
