//! The messages between the page and its workers — the only way they talk.
//!
//! Data flows one way: the page sends a [`ToWorker`] request, the worker runs the core and posts
//! back [`FromWorker`] results. Messages travel as JSON strings through `postMessage`.
//! Requests that the user can supersede by typing carry a `seq` number; the page drops any answer
//! whose `seq` is not the latest it asked for.

use serde::{Deserialize, Serialize};
use tokenmeter_core::cost::{Cost, Counting};
pub use tokenmeter_core::exercises::ExerciseSet;
use tokenmeter_core::model::bench::BenchResult;
use tokenmeter_core::model::TokenScore;
use tokenmeter_core::physics::{Assumptions, ModelShape, Physics};
use tokenmeter_core::sampling::{Decision, Sampler};
use tokenmeter_core::scoring::NextToken;
use tokenmeter_core::tokenizer::{Piece, Token};
pub use tokenmeter_gpu::{Backend, Preference};

/// The page → a worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ToWorker {
    /// Split `text` with each of `tokenizers` (shipped ids). The worker loads each vocabulary on
    /// first use and answers again as more of them become ready.
    Tokenize {
        seq: u64,
        text: String,
        tokenizers: Vec<String>,
    },
    /// Turn a list of token IDs (as typed: `1, 2 3` or `[1,2,3]`) back into tokens and text with
    /// each of `tokenizers`: the same numbers mean different text in each vocabulary.
    Decode {
        seq: u64,
        ids: String,
        tokenizers: Vec<String>,
    },
    /// Add the user's own tokenizer (a `tokenizer.json` or a GGUF file, posted alongside this
    /// message) under `id`; it can then be named in `Tokenize` and `Decode`.
    AddTokenizer { id: String, name: String },
    /// Price the text across models and estimate the physics behind it (tokenizer worker).
    Cost(CostRequest),
    /// The workshop exercise sets (`exercises/index.toml` and the sets it lists).
    Exercises,
    /// Token IDs of many texts with one tokenizer (the browser parity test, benchmarks).
    TokenizeBatch {
        tokenizer: String,
        texts: Vec<String>,
    },
    /// Download the GGUF model at `url` (relative to the page) and load it, running it where
    /// `backend` says (automatic: WebGPU on a real GPU adapter, else wasm SIMD).
    LoadModel {
        url: String,
        #[serde(default)]
        backend: Preference,
    },
    /// Move the loaded model to another backend (the user's choice in the status line).
    SetBackend(Preference),
    /// Score the whole vocabulary as the next token after a text (and what was generated).
    Next(NextRequest),
    /// Forget the model kept in the browser's Cache Storage.
    ClearModelCache,
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
    /// Tokens of the text sent with the same `seq`, one column per tokenizer asked for.
    Tokenized(Tokenized),
    /// The user's tokenizer is ready (`entries` IDs in its vocabulary).
    TokenizerAdded {
        id: String,
        name: String,
        entries: usize,
    },
    /// The user's file is not a tokenizer tokenmeter can read; the message says why.
    TokenizerRejected {
        id: String,
        name: String,
        message: String,
    },
    /// The answer to a `Cost` request (sent again as more vocabularies arrive).
    Costs(CostReport),
    /// The IDs for a `TokenizeBatch`, in order, and the milliseconds spent encoding them.
    BatchIds {
        tokenizer: String,
        ids: Vec<Vec<u32>>,
        load_ms: f64,
        encode_ms: f64,
    },
    BatchFailed {
        message: String,
    },
    /// Tokenizing failed (for example the vocabulary could not be downloaded).
    TokenizeFailed {
        seq: u64,
        message: String,
    },
    /// Model download progress: bytes so far, the total if the server said, and milliseconds
    /// since the download started.
    ModelProgress {
        loaded: u64,
        total: Option<u64>,
        elapsed_ms: f64,
    },
    /// The exercise sets, parsed and checked, or why they could not be read.
    Exercises(Result<Vec<ExerciseSet>, String>),
    /// The model is loaded and ready to score.
    ModelReady(ModelSummary),
    /// The model now runs elsewhere: the user chose another backend, or the GPU failed and the
    /// CPU took over (`notice` says why; nothing typed or generated is lost).
    BackendChanged {
        backend: String,
        engine: Backend,
        notice: Option<String>,
    },
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
    /// The downloaded model is now kept in Cache Storage for the next visit.
    ModelCached,
    /// The cached model was removed (or there was none).
    ModelCacheCleared,
    /// The worker could not start (sent by `public/worker-loader.js`); it must be restarted.
    Crashed {
        message: String,
    },
}

/// A text's tokens under several tokenizers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tokenized {
    pub seq: u64,
    /// Characters and bytes in the text (for chars/token and bytes/token).
    pub chars: usize,
    pub bytes: usize,
    /// One per tokenizer asked for, in the same order.
    pub columns: Vec<Column>,
}

/// One tokenizer's view of the text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Column {
    pub tokenizer: String,
    pub state: ColumnState,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ColumnState {
    /// The vocabulary is being downloaded and loaded.
    Loading,
    Ready(TokenList),
    Failed(String),
}

/// The tokens of one text under one tokenizer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenList {
    /// Number of tokens in the whole text.
    pub count: usize,
    /// The first tokens (at most [`MAX_TOKENS_SHOWN`]); `count` says how many there are in all.
    pub tokens: Vec<TokenView>,
    /// Milliseconds spent tokenizing.
    pub ms: f64,
    /// In decode mode: the text the IDs spell.
    #[serde(default)]
    pub decoded: Option<String>,
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
    /// Byte range of the text it covers (to highlight the same characters in other columns).
    pub start: usize,
    pub end: usize,
    /// In decode mode: an ID the vocabulary does not have.
    #[serde(default)]
    pub invalid: bool,
}

/// What the model worker tells about the model once loaded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelSummary {
    pub name: String,
    pub n_params: usize,
    pub weight_bytes: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    /// How it runs, e.g. "wasm SIMD128, 1 thread" or "WebGPU · <adapter>".
    pub backend: String,
    /// Which engine, the adapter found and why it was chosen.
    pub engine: Backend,
    /// Milliseconds from the last downloaded byte to ready.
    pub load_ms: f64,
    /// Whether the file came from the browser's Cache Storage rather than the network.
    pub from_cache: bool,
    /// Whether a copy is now in Cache Storage (set by the page on `ModelCached`).
    #[serde(default)]
    pub saved: bool,
}

/// What the next-token panel asks for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NextRequest {
    pub seq: u64,
    /// The user's text.
    pub text: String,
    /// Wrap the text as a user message in SmolLM2's chat template.
    pub chat: bool,
    /// Tokens generated (or chosen by the user) after the text, in order.
    pub continuation: Vec<u32>,
    /// How many candidates to list (at most [`MAX_TOP`]).
    pub top: usize,
    /// Settings for the next draw; its step number is `continuation.len()`.
    pub sampler: Sampler,
    /// A token to locate in the distribution (empty: none).
    pub search: String,
    /// Also report how the model scored each token of the text (not in chat mode).
    pub surprisal: bool,
}

/// The most candidates a request may list.
pub const MAX_TOP: usize = 100;

/// The next-token distribution after a text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scores {
    pub seq: u64,
    /// Tokens the model read (text, template and continuation).
    pub prompt_tokens: usize,
    /// Tokens the model had to compute for this answer (the rest came from its cache).
    pub computed_tokens: usize,
    /// Milliseconds spent computing them.
    pub ms: f64,
    /// Candidates, entropy and mass over the whole vocabulary.
    pub next: NextToken,
    /// The sampler's view: survivors of the filters, and the token drawn for this step.
    pub sampling: Decision,
    /// The drawn token's text, and whether it ends the reply.
    pub sampled_text: String,
    pub sampled_ends: bool,
    /// The sorted distribution as `(rank, probability)` points, for the long-tail chart.
    pub curve: Vec<(usize, f64)>,
    pub search: Option<SearchHit>,
    /// Per-token scores of the text, when asked for.
    pub surprisal: Option<Surprisal>,
    /// Bytes of memory the worker's wasm instance holds.
    pub memory_bytes: usize,
}

/// Where a searched token stands among all vocabulary entries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchHit {
    pub id: u32,
    pub token: String,
    /// False when the query is not one vocabulary entry and this is its first token.
    pub exact: bool,
    /// 0 = the most likely.
    pub rank: usize,
    pub prob: f64,
}

/// How the model scored each token of the text, given the tokens before it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Surprisal {
    /// The token IDs the model read.
    pub ids: Vec<u32>,
    /// `scores[i]` is for `ids[i + 1]` (nothing predicts the first token).
    pub scores: Vec<TokenScore>,
}

/// The cost panel's settings: what the user chose (kept in shared links too).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CostSettings {
    /// Words to find in the price table's model keys (empty: the default models).
    pub search: String,
    /// Output tokens per request; `None`: as many as the input.
    pub output_tokens: Option<u64>,
    pub cached_share: f64,
    pub batch: bool,
    pub requests_per_day: u64,
    /// The open model whose serving is estimated (a `physics::known_models` name).
    pub physics_model: String,
    pub assumptions: Assumptions,
}

impl Default for CostSettings {
    fn default() -> Self {
        Self {
            search: String::new(),
            output_tokens: None,
            cached_share: 0.0,
            batch: false,
            requests_per_day: 1000,
            physics_model: "Llama 3.1 70B".into(),
            assumptions: Assumptions::default(),
        }
    }
}

/// What the cost panel asks for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostRequest {
    pub seq: u64,
    pub text: String,
    pub settings: CostSettings,
    /// The page's own model measured on this device: (parameters, decode tokens per second).
    pub device: Option<(f64, f64)>,
    /// Tokenizers for the language comparison.
    pub languages_for: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostReport {
    pub seq: u64,
    /// Price table version and date.
    pub version: String,
    pub date: String,
    pub rows: Vec<CostRow>,
    /// How many models match the search (the rows show the first ones).
    pub matches: usize,
    pub physics: Option<PhysicsView>,
    /// FLOP/s the user's device reached running the page's model.
    pub device_flops: Option<f64>,
    pub languages: Vec<LanguageRow>,
    /// Why nothing could be priced (e.g. the price table did not load).
    pub error: Option<String>,
}

/// One model's price for the text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostRow {
    pub model: String,
    pub provider: String,
    pub counting: Counting,
    /// Input tokens, once the model's tokenizer has loaded.
    pub tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost: Option<Cost>,
    pub per_month_usd: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhysicsView {
    pub model: ModelShape,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub estimate: Physics,
}

/// Tokens of the same sentences in each language, for one tokenizer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LanguageRow {
    pub tokenizer: String,
    /// (language name, tokens); `None` while the vocabulary loads.
    pub counts: Vec<(String, Option<u64>)>,
}

impl From<&Token> for TokenView {
    fn from(t: &Token) -> Self {
        Self {
            id: t.id,
            pieces: t.pieces(),
            special: t.special,
            start: t.start,
            end: t.end,
            invalid: false,
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
        let m = ToWorker::Next(NextRequest {
            seq: 7,
            text: "<b>hi</b>".into(),
            chat: true,
            continuation: vec![1, 2],
            top: 10,
            sampler: Sampler::default(),
            search: " Paris".into(),
            surprisal: false,
        });
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
