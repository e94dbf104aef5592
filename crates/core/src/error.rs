//! One error type for the core. Every message is meant to be shown to a user as is.

/// Everything that can go wrong in the core, phrased for the person who caused it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a GGUF file, or the file is cut short or corrupt.
    #[error("not a valid GGUF model file: {0}")]
    InvalidGguf(String),

    /// A GGUF file that is valid but lacks something tokenmeter needs.
    #[error("the GGUF file has no '{0}' entry, which this model needs")]
    MissingKey(String),

    /// A valid file describing something tokenmeter cannot run.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// Building or running a tokenizer failed.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),

    /// A token ID that does not exist in the vocabulary.
    #[error("token id {id} is outside the vocabulary (size {vocab_size})")]
    TokenIdOutOfRange { id: u32, vocab_size: usize },

    /// Nothing to predict from.
    #[error("the prompt is empty: type some text first")]
    EmptyPrompt,

    /// More tokens than the model's context window holds.
    #[error("the prompt has {tokens} tokens but the model reads at most {limit}")]
    PromptTooLong { tokens: usize, limit: usize },

    /// A data file (price table, …) that cannot be read.
    #[error("{0}")]
    InvalidData(String),

    /// A failure inside the tensor library while running the model.
    #[error("model computation failed: {0}")]
    Compute(String),
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Compute(candle_message(&e))
    }
}

/// candle's message without the backtrace it appends when `RUST_BACKTRACE` is set.
pub(crate) fn candle_message(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => candle_message(inner),
        other => other.to_string(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
