//! The messages between the page and its workers — the only way they talk.
//!
//! Data flows one way: the page sends a [`ToWorker`] request, the worker asks the core's service
//! layer (`tokenmeter_core::service`) and posts back a [`FromWorker`] answer. The requests and
//! answers inside are the service's own types — the very structs `tokenmeter` prints as JSON —
//! wrapped with what only transport needs: a `seq` number (the page drops any answer whose `seq`
//! is not the latest it asked for), timings and memory. Messages travel as JSON strings through
//! `postMessage`; a file the user drops travels beside its message.

use serde::{Deserialize, Serialize};
pub use tokenmeter_core::exercises::ExerciseSet;
pub use tokenmeter_core::model::Backend;
use tokenmeter_core::service::bench::{BenchRequest, BenchResponse};
use tokenmeter_core::service::cost::{CostRequest, CostResponse};
use tokenmeter_core::service::explain::{ExplainRequest, Explained};
use tokenmeter_core::service::inside::{InsideRequest, InsideResponse};
use tokenmeter_core::service::model::ModelSummary;
use tokenmeter_core::service::next::{GenerateRequest, GeneratedToken, NextRequest, NextResponse};
use tokenmeter_core::service::tokens::{Columns, ColumnsRequest, TokenizerAdded};
use tokenmeter_core::Msg;
pub use tokenmeter_gpu::Preference;

/// The page → a worker. `Preload` to `Explain` go to the tokenizer worker, the rest to the model
/// worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ToWorker {
    /// Start downloading the vocabularies of the columns a page opened at this address fragment
    /// shows (`tokenmeter_core::service::link::columns_at`), before the page has read it. Sent by
    /// `public/early-tokens.js` while the page's own wasm still downloads, as
    /// `{"Preload":{"fragment":"#s=…"}}`: in a message, never in the worker's URL, since the
    /// fragment holds the user's text and a URL's query goes to the server.
    Preload { fragment: String },
    /// The token columns: a text split by each tokenizer, or typed IDs decoded. The worker loads
    /// each vocabulary on first use and answers again as more of them become ready.
    Columns { seq: u64, req: ColumnsRequest },
    /// Add the user's own tokenizer (a `tokenizer.json` or a GGUF file, posted alongside this
    /// message) under `id`; it can then be named in `Columns`.
    AddTokenizer { id: String, name: String },
    /// Price the text across models and estimate the physics behind it.
    Cost { seq: u64, req: CostRequest },
    /// The workshop exercise sets (`exercises/index.json` and the sets it lists: `cargo xtask
    /// data` writes them from `exercises/*.toml`).
    Exercises,
    /// Token IDs of many texts with one tokenizer (the browser parity test, benchmarks).
    TokenizeBatch {
        tokenizer: String,
        texts: Vec<String>,
    },
    /// How a token of one column was built (its merge path), and the same text in the columns
    /// named in `compare`.
    Explain {
        seq: u64,
        tokenizer: String,
        req: ExplainRequest,
        compare: Vec<String>,
    },
    /// Download the GGUF model at `url` (relative to the page) and load it, running it where
    /// `backend` says (automatic: WebGPU on a real GPU adapter, else wasm SIMD).
    LoadModel {
        url: String,
        /// The file's sha256 (hex): checked before the model is used or kept in the cache.
        #[serde(default)]
        sha256: Option<String>,
        #[serde(default)]
        backend: Preference,
    },
    /// Load the user's own GGUF model (posted alongside this message) instead of the shipped one:
    /// read in place, tensor by tensor, after a check that it fits in the page's memory.
    LoadFile {
        #[serde(default)]
        backend: Preference,
    },
    /// Move the loaded model to another backend (the user's choice in the status line).
    SetBackend(Preference),
    /// Score the whole vocabulary as the next token after a text (and what was generated).
    Next { seq: u64, req: NextRequest },
    /// Draw and append tokens (Step, Run), posting each one and the scores after it.
    Generate { seq: u64, req: GenerateRequest },
    /// Look inside the model at one position (the logit lens and the attention weights); answered
    /// after any scoring request, reusing its cache.
    Inside { seq: u64, req: InsideRequest },
    /// Stop a generation (and any scoring not yet started).
    Stop,
    /// Forget the model kept in the browser's Cache Storage.
    ClearModelCache,
    /// Time prefill and greedy decode with the loaded model (used by `./dev bench`).
    Bench(BenchRequest),
}

/// A worker → the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum FromWorker {
    /// The worker is running and listening (messages sent before this are queued by the page).
    Ready,
    /// The columns for the request with the same `seq` (sent again as vocabularies arrive).
    Columns {
        seq: u64,
        columns: Columns,
    },
    /// That request could not be answered at all (e.g. the typed IDs are not numbers).
    ColumnsFailed {
        seq: u64,
        message: Msg,
    },
    /// The user's tokenizer is ready.
    TokenizerAdded(TokenizerAdded),
    /// The user's file is not a tokenizer tokenmeter can read; the message says why.
    TokenizerRejected {
        id: String,
        name: String,
        message: Msg,
    },
    /// The user's `tokenizer.json` needs the full tokenizers library (a WordPiece or Unigram
    /// model, a step tokenmeter's own pipeline lacks), which the light tokens worker leaves out:
    /// the page moves the tokenizer role to the full worker and hands it every file again.
    TokenizerNeedsFull {
        id: String,
        name: String,
    },
    /// The answer to a `Cost` request (sent again as more vocabularies arrive).
    Costs {
        seq: u64,
        report: Box<CostResponse>,
    },
    CostFailed {
        seq: u64,
        message: Msg,
    },
    /// The IDs for a `TokenizeBatch`, in order, and the milliseconds spent.
    BatchIds {
        tokenizer: String,
        ids: Vec<Vec<u32>>,
        load_ms: f64,
        encode_ms: f64,
    },
    BatchFailed {
        message: Msg,
    },
    /// The exercise sets, parsed and checked, or why they could not be read.
    Exercises(Result<Vec<ExerciseSet>, Msg>),
    /// Model download progress: bytes so far, the total if the server said, and milliseconds
    /// since the download started.
    ModelProgress {
        loaded: u64,
        total: Option<u64>,
        elapsed_ms: f64,
    },
    /// The model is loaded and ready to score.
    ModelReady {
        summary: ModelSummary,
        /// Milliseconds from the last downloaded byte to ready.
        load_ms: f64,
        /// Whether the file came from the browser's Cache Storage rather than the network.
        from_cache: bool,
    },
    /// The model now runs elsewhere: the user chose another backend, or the GPU failed and the
    /// CPU took over (`notice` says why; nothing typed or generated is lost).
    BackendChanged {
        engine: Backend,
        notice: Option<Msg>,
    },
    /// Downloading or loading the model failed; the page may ask again.
    ModelFailed {
        message: Msg,
    },
    /// The downloaded model is now kept in Cache Storage for the next visit.
    ModelCached,
    /// The cached model was removed (or there was none).
    ModelCacheCleared,
    /// Reading a long prompt: `done` of `total` tokens are in the model's cache so far.
    NextProgress {
        seq: u64,
        done: usize,
        total: usize,
    },
    /// Next-token scores for the request with the same `seq` (for a generation: the context
    /// before each draw, and after the last token).
    Scores {
        seq: u64,
        scores: Box<NextResponse>,
        /// Milliseconds spent computing them.
        ms: f64,
        /// Bytes of memory the worker's wasm instance holds.
        memory_bytes: usize,
    },
    /// A generation drew a token and appended it.
    Appended {
        seq: u64,
        token: GeneratedToken,
    },
    /// A generation is over (done, stopped by the user, or ended by an end-of-reply token).
    GenerateDone {
        seq: u64,
    },
    /// Scoring that text failed (empty, too long, …).
    NextFailed {
        seq: u64,
        message: Msg,
    },
    /// The lens and attention for the `Inside` request with the same `seq`.
    Inside {
        seq: u64,
        inside: Box<InsideResponse>,
        ms: f64,
    },
    InsideFailed {
        seq: u64,
        message: Msg,
    },
    /// A token explained, for the `Explain` request with the same `seq`.
    Explained {
        seq: u64,
        explained: Box<Explained>,
    },
    ExplainFailed {
        seq: u64,
        message: Msg,
    },
    /// The benchmark's result (times are medians over the runs).
    BenchDone(Box<BenchResponse>),
    BenchFailed {
        message: Msg,
    },
    /// The worker could not start (sent by `public/worker-loader.js`); it must be restarted.
    Crashed {
        message: String,
    },
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
    use tokenmeter_core::msg;
    use tokenmeter_core::sampling::Sampler;

    #[test]
    fn messages_round_trip_through_json() {
        let m = ToWorker::Next {
            seq: 7,
            req: NextRequest {
                text: "<b>hi</b>".into(),
                chat: true,
                bos: false,
                continuation: vec![1, 2],
                top: 10,
                sampler: Sampler::default(),
                search: " Paris".into(),
                surprisal: false,
            },
        };
        let back: ToWorker = serde_json::from_str(&m.to_json()).expect("json");
        assert_eq!(back, m);
        let r = FromWorker::NextFailed {
            seq: 7,
            message: msg!("the prompt has {} tokens", 9000),
        };
        let back: FromWorker = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(back, r);
    }
}
