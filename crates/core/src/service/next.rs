//! The model's next-token scores after a text, and generation token by token.
//!
//! Answers *next* ([`next`]; `tokenmeter next`, the page's next-token panel) and *generate*
//! ([`generate`]; `tokenmeter generate`, the page's Step and Run). Both feed the prompt to a
//! [`Forward`] a chunk at a time and call the front end back between chunks, so that the page's
//! worker can report progress and give up on a request the user has already replaced.

use serde::{Deserialize, Serialize};

use super::limits::{
    cut_text, MAX_QUERY_BYTES, MAX_TEXT_BYTES, MAX_TOKENS, SEED, TEMPERATURE, TOP, TOP_P,
};
use super::model::{LoadedModel, PromptSpec};
use super::surprisal::{self, SurprisalReport};
use crate::model::{Backend, Forward};
use crate::msg::Msg;
use crate::sampling::Sampler;
use crate::scoring::{self, RowView, SearchHit};
use crate::tokenizer::Piece;
use crate::{msg, tokenizer};

/// What the next-token panel (or `tokenmeter next`) asks for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NextRequest {
    /// The user's text.
    pub text: String,
    /// Wrap the text as a user message in the model's chat template.
    #[serde(default)]
    pub chat: bool,
    /// Put the BOS token before the text.
    #[serde(default)]
    pub bos: bool,
    /// Tokens generated (or chosen by the user) after the text, in order.
    #[serde(default)]
    pub continuation: Vec<u32>,
    /// How many candidates to list (1 to [`super::limits::MAX_TOP`]).
    pub top: usize,
    /// Settings for the next draw; its step number is `continuation.len()`.
    pub sampler: Sampler,
    /// A token to locate in the distribution (empty: none).
    #[serde(default)]
    pub search: String,
    /// Also report how the model scored each token of the text (not in chat mode).
    #[serde(default)]
    pub surprisal: bool,
}

impl NextRequest {
    /// The checks every front end gets: each field in its range.
    pub fn check(&self) -> Result<(), Msg> {
        TOP.check(self.top as f64)?;
        check_sampler(&self.sampler)
    }
}

/// A sampler's fields in their ranges (`top_k` needs none: above the vocabulary it keeps all).
pub fn check_sampler(s: &Sampler) -> Result<(), Msg> {
    TEMPERATURE.check(f64::from(s.temperature))?;
    TOP_P.check(f64::from(s.top_p))?;
    SEED.check(s.seed as f64)?;
    Ok(())
}

/// One token after the text, as the page draws it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContinuationToken {
    pub id: u32,
    /// As text (hex for the bytes of a split character).
    pub token: String,
    pub pieces: Vec<Piece>,
}

/// The tokens after the text: each on its own, and their bytes decoded together (a character
/// split across tokens reads whole here: `<C2>` `<A1>` `H` → "¡H").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Continuation {
    pub tokens: Vec<ContinuationToken>,
    pub text: String,
}

/// The next-token distribution after a text: what `tokenmeter next` prints and what the page's
/// worker posts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NextResponse {
    pub backend: Backend,
    /// The tokens the model read (template, text and continuation).
    pub prompt_ids: Vec<u32>,
    pub prompt_tokens: usize,
    /// Tokens the model computed for this answer (the rest came from its cache).
    pub computed_tokens: usize,
    #[serde(flatten)]
    pub row: RowView,
    pub search: Option<SearchHit>,
    /// Per-token scores of the text (and continuation), when asked for.
    pub surprisal: Option<SurprisalReport>,
    pub continuation: Continuation,
    /// In chat mode: the exact text the model reads, the chat template applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Set when the GPU failed during this request and the CPU took over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Msg>,
}

/// How far the reading of a long prompt has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Tokens in the model's cache so far.
    pub done: usize,
    pub total: usize,
}

/// Feeds `ids` to `engine` a chunk at a time, calling `between` after each chunk that did not
/// finish; `false` from it stops the feeding (`Ok(None)`). Returns the tokens computed.
pub(crate) async fn feed<F: Forward>(
    engine: &mut F,
    ids: &[u32],
    between: &mut impl AsyncFnMut(Progress) -> bool,
) -> Result<Option<usize>, Msg> {
    let mut computed = 0;
    loop {
        let chunk = engine.chunk();
        let step = engine.advance(ids, chunk).await?;
        computed += step.computed;
        if step.done {
            return Ok(Some(computed));
        }
        let progress = Progress {
            done: engine.session().tokens().len(),
            total: ids.len(),
        };
        if !between(progress).await {
            return Ok(None);
        }
    }
}

/// Scores the whole vocabulary as the next token after `req`'s text and continuation.
/// `Ok(None)`: `between` gave up (a newer request arrived).
pub async fn next<F: Forward>(
    m: &LoadedModel,
    engine: &mut F,
    req: &NextRequest,
    between: &mut impl AsyncFnMut(Progress) -> bool,
) -> Result<Option<NextResponse>, Msg> {
    req.check()?;
    let (text, _) = cut_text(&req.text, MAX_TEXT_BYTES);
    let ids = m.prompt_ids(&PromptSpec {
        text,
        chat: req.chat,
        bos: req.bos,
        continuation: &req.continuation,
    })?;
    let track = req.surprisal && !req.chat;
    engine.session_mut().set_track_scores(track);
    let Some(computed) = feed(engine, &ids, between).await? else {
        return Ok(None);
    };
    let fallback = engine.take_fallback();
    let backend = engine.backend();
    let session = engine.session();
    let logits = session
        .logits()
        .ok_or_else(|| msg!("the model gave no scores"))?;
    let mut row = scoring::describe(
        logits,
        &m.tokenizer,
        req.top,
        &req.sampler,
        req.continuation.len() as u64,
    );
    row.sampling.ends = m.stop.contains(&row.sampling.chosen.id);
    let (query, _) = cut_text(&req.search, MAX_QUERY_BYTES);
    Ok(Some(NextResponse {
        search: scoring::search(logits, &m.tokenizer, query),
        surprisal: track.then(|| surprisal::report(m, &ids, session.token_scores(), &backend)),
        continuation: continuation(m, &req.continuation),
        template: if req.chat {
            Some(m.chat_prompt(text)?)
        } else {
            None
        },
        prompt_tokens: ids.len(),
        prompt_ids: ids,
        computed_tokens: computed,
        row,
        backend,
        fallback,
    }))
}

/// The continuation's tokens shown one by one and decoded together.
pub fn continuation(m: &LoadedModel, ids: &[u32]) -> Continuation {
    let mut bytes = Vec::new();
    let tokens = ids
        .iter()
        .map(|&id| {
            let b = m.tokenizer.token_bytes(id).unwrap_or(&[]);
            bytes.extend_from_slice(b);
            ContinuationToken {
                id,
                token: tokenizer::display_bytes(b),
                pieces: tokenizer::pieces(b),
            }
        })
        .collect();
    Continuation {
        tokens,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Generate `max_tokens` tokens after a text, one draw at a time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenerateRequest {
    #[serde(flatten)]
    pub next: NextRequest,
    pub max_tokens: usize,
    /// Also score the context after the last token (the page shows it; the CLI does not need it).
    #[serde(default)]
    pub then_score: bool,
}

/// One generated token: `tokenmeter generate` prints one per line; the page appends it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GeneratedToken {
    /// The draw's number (tokens after the text before this one).
    pub step: u64,
    pub id: u32,
    pub token: String,
    pub pieces: Vec<Piece>,
    /// Its probability after the filters, and under the model's own distribution.
    pub prob: f64,
    pub model_prob: f64,
    /// It ends the reply (`<|im_end|>`, `<|endoftext|>`): generation stops after it.
    pub ends: bool,
}

/// What a generation produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenerateSummary {
    pub backend: Backend,
    /// Tokens of the prompt (template, text and the continuation it started from).
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub ids: Vec<u32>,
    /// The generated tokens' bytes decoded together.
    pub text: String,
    pub settings: Sampler,
}

/// What a generation reports as it goes; the callback's `false` stops it.
pub enum GenerateEvent<'a> {
    /// Reading a long prompt.
    Progress(Progress),
    /// The scores of the context before each draw (and after the last, with `then_score`).
    Scores(&'a NextResponse),
    /// A token drawn and appended.
    Token(&'a GeneratedToken),
}

/// Draws and appends up to `req.max_tokens` tokens, stopping after a token that ends a reply.
/// `Ok(None)`: stopped while reading the prompt; a stop later returns what was generated.
pub async fn generate<F: Forward>(
    m: &LoadedModel,
    engine: &mut F,
    req: &GenerateRequest,
    on: &mut impl AsyncFnMut(GenerateEvent<'_>) -> bool,
) -> Result<Option<GenerateSummary>, Msg> {
    MAX_TOKENS.check(req.max_tokens as f64)?;
    let mut next_req = req.next.clone();
    let start = next_req.continuation.len();
    let mut between = async |p: Progress| on(GenerateEvent::Progress(p)).await;
    let Some(mut scores) = next(m, engine, &next_req, &mut between).await? else {
        return Ok(None);
    };
    let prompt_tokens = scores.prompt_tokens;
    for k in 0..req.max_tokens {
        if !on(GenerateEvent::Scores(&scores)).await {
            break;
        }
        let chosen = &scores.row.sampling.chosen;
        let token = GeneratedToken {
            step: scores.row.sampling.step,
            id: chosen.id,
            token: chosen.token.clone(),
            pieces: chosen.pieces.clone(),
            prob: chosen.prob,
            model_prob: chosen.model_prob,
            ends: scores.row.sampling.ends,
        };
        next_req.continuation.push(token.id);
        let go_on = on(GenerateEvent::Token(&token)).await;
        let last = token.ends || k + 1 == req.max_tokens || !go_on;
        if last && !(req.then_score && go_on) {
            break;
        }
        let mut between = async |p: Progress| on(GenerateEvent::Progress(p)).await;
        match next(m, engine, &next_req, &mut between).await? {
            Some(s) => scores = s,
            None => break,
        }
        if last {
            on(GenerateEvent::Scores(&scores)).await;
            break;
        }
    }
    let ids = next_req.continuation[start..].to_vec();
    Ok(Some(GenerateSummary {
        backend: engine.backend(),
        prompt_tokens,
        generated_tokens: ids.len(),
        text: continuation(m, &ids).text,
        ids,
        settings: next_req.sampler,
    }))
}
