//! The messages between the page and its workers — the only way they talk.
//!
//! Data flows one way: the page sends a [`ToWorker`] request, the worker runs the core and posts
//! back [`FromWorker`] results. Messages travel as JSON strings through `postMessage`.
//! Requests that the user can supersede by typing carry a `seq` number; the page drops any answer
//! whose `seq` is not the latest it asked for.

use serde::{Deserialize, Serialize};
use tokenmeter_core::model::bench::BenchResult;
use tokenmeter_core::scoring::NextToken;
use tokenmeter_core::tokenizer::{Piece, Token};

/// The page → a worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ToWorker {
    /// Split `text` into SmolLM2 tokens. The worker loads the vocabulary on first use.
    Tokenize { seq: u64, text: String },
    /// Download the GGUF model at `url` (relative to the page) and load it.
    LoadModel { url: String },
    /// Score the whole vocabulary as the next token after `text`; report the `top` best.
    Next { seq: u64, text: String, top: usize },
    /// Time prefill and greedy decode with the loaded model (used by `./dev bench`).
    Bench {
        prompt_tokens: usize,
        decode_tokens: usize,
        runs: usize,
    },
}

/// A worker → the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum FromWorker {
    /// The worker is running and listening (messages sent before this are queued by the page).
    Ready,
    /// Tokens of the text sent with the same `seq`.
    Tokenized(Tokenized),
    /// Tokenizing failed (for example the vocabulary could not be downloaded).
    TokenizeFailed {
        seq: u64,
        message: String,
    },
    /// Model download progress: bytes so far, and the total if the server said.
    ModelProgress {
        loaded: u64,
        total: Option<u64>,
    },
    /// The model is loaded and ready to score.
    ModelReady(ModelSummary),
    /// Downloading or loading the model failed; the page may ask again.
    ModelFailed {
        message: String,
    },
    /// Reading a long prompt: `done` of `total` tokens are in the model's cache so far.
    NextProgress {
        seq: u64,
        done: usize,
        total: usize,
    },
    /// Next-token scores for the text sent with the same `seq`.
    Scores(Scores),
    /// Scoring that text failed (empty, too long, …).
    NextFailed {
        seq: u64,
        message: String,
    },
    /// The benchmark's result (times are medians over the runs).
    BenchDone(BenchResult),
    BenchFailed {
        message: String,
    },
    /// The worker could not start (sent by `public/worker-loader.js`); it must be restarted.
    Crashed {
        message: String,
    },
}

/// A text's tokens, as the page shows them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tokenized {
    pub seq: u64,
    /// Number of tokens in the whole text.
    pub count: usize,
    /// Characters and bytes in the text (for chars/token and bytes/token).
    pub chars: usize,
    pub bytes: usize,
    /// The first tokens (at most [`MAX_TOKENS_SHOWN`]); `count` says how many there are in all.
    pub tokens: Vec<TokenView>,
    /// Milliseconds the worker spent tokenizing.
    pub ms: f64,
}

/// How many tokens the page draws at most; beyond that it shows the count only.
pub const MAX_TOKENS_SHOWN: usize = 5_000;

/// One token, ready to draw.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenView {
    pub id: u32,
    /// Text, and the raw bytes of characters this token holds only part of.
    pub pieces: Vec<Piece>,
    /// A control token such as `<|im_start|>`.
    pub special: bool,
}

/// What the model worker tells about the model once loaded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelSummary {
    pub name: String,
    pub n_params: usize,
    pub weight_bytes: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    /// How it runs, e.g. "wasm SIMD128, 1 thread".
    pub backend: String,
    /// Milliseconds from the last downloaded byte to ready.
    pub load_ms: f64,
}

/// The next-token distribution after a text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scores {
    pub seq: u64,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens the model had to compute for this answer (the rest came from its cache).
    pub computed_tokens: usize,
    /// Milliseconds spent computing them.
    pub ms: f64,
    /// Candidates and entropy over the whole vocabulary.
    pub next: NextToken,
}

impl From<&Token> for TokenView {
    fn from(t: &Token) -> Self {
        Self {
            id: t.id,
            pieces: t.pieces(),
            special: t.special,
        }
    }
}

impl ToWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl FromWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_json() {
        let m = ToWorker::Next {
            seq: 7,
            text: "<b>hi</b>".into(),
            top: 10,
        };
        let back: ToWorker = serde_json::from_str(&m.to_json()).expect("json");
        assert_eq!(back, m);
        let r = FromWorker::NextFailed {
            seq: 7,
            message: "x".into(),
        };
        let back: FromWorker = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(back, r);
    }
}
