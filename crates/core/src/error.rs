//! One error type for the core. Every message is meant to be shown to a user as is, and each is
//! a translatable [`Msg`] (see [`Error::msg`]).

use crate::msg;
use crate::msg::Msg;

/// Everything that can go wrong in the core, phrased for the person who caused it.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The bytes are not a GGUF file, or the file is cut short or corrupt.
    InvalidGguf(Msg),

    /// A GGUF file that is valid but lacks something tokenmeter needs.
    MissingKey(String),

    /// A valid file describing something tokenmeter cannot run.
    Unsupported(Msg),

    /// Building or running a tokenizer failed.
    Tokenizer(Msg),

    /// A `tokenizer.json` that tokenmeter's own pipeline does not read (the reason): a build
    /// with the Hugging Face crate reads it ([`crate::tokenizer::TextTokenizer::from_json_any`]).
    NeedsFullTokenizer(Msg),

    /// A token ID that does not exist in the vocabulary.
    TokenIdOutOfRange { id: u32, vocab_size: usize },

    /// Nothing to predict from.
    EmptyPrompt,

    /// More tokens than the model's context window holds.
    PromptTooLong { tokens: usize, limit: usize },

    /// A data file (price table, …) that cannot be read, or a request that asks for something
    /// that does not exist or is out of range.
    Invalid(Msg),

    /// A failure inside the tensor library while running the model.
    Compute(String),

    /// The forward pass produced scores that are not numbers (damaged or overflowing weights).
    NonFinite { count: usize },
}

impl Error {
    /// The message, ready to show or translate.
    pub fn msg(&self) -> Msg {
        match self {
            Error::InvalidGguf(m) => msg!("not a valid GGUF model file: {}", m.clone()),
            Error::MissingKey(k) => {
                msg!("the GGUF file has no '{}' entry, which this model needs", k)
            }
            Error::Unsupported(m) => msg!("unsupported: {}", m.clone()),
            Error::Tokenizer(m) => m.clone(),
            Error::NeedsFullTokenizer(m) => {
                msg!("this tokenizer needs the full tokenizers library: {}", m.clone())
            }
            Error::TokenIdOutOfRange { id, vocab_size } => {
                msg!(
                    "token id {} is outside the vocabulary (size {})",
                    *id,
                    *vocab_size
                )
            }
            Error::EmptyPrompt => msg!("the prompt is empty: type some text first"),
            Error::PromptTooLong { tokens, limit } => msg!(
                "the prompt has {} tokens but the model reads at most {}",
                *tokens,
                *limit
            ),
            Error::Invalid(m) => m.clone(),
            Error::Compute(e) => msg!("model computation failed: {}", e),
            Error::NonFinite { count } => msg!(
                "the model produced {} scores that are not numbers (NaN or infinity): its weights are damaged",
                *count
            ),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.msg().fmt(f)
    }
}

impl std::error::Error for Error {}

impl From<Error> for Msg {
    fn from(e: Error) -> Self {
        e.msg()
    }
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
