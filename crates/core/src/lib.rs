//! # tokenmeter-core
//!
//! The UI-free heart of tokenmeter, shared by the web worker, the page and the CLI:
//!
//! - [`gguf`]: reading a GGUF file (metadata and quantized tensors) with clear errors.
//! - [`tokenizer`]: real tokenizers (the `tokenizers` crate's pipeline around our own BPE model),
//!   including SmolLM2's, rebuilt from the GGUF metadata exactly as llama.cpp reads it; every token
//!   with its ID, raw bytes and byte span.
//! - [`model`]: SmolLM2 (a Llama-architecture transformer) — a forward pass written to be read, and a
//!   [`model::Session`] that keeps the KV cache between calls.
//! - [`distribution`]: one row of logits (one score per vocabulary entry) as probabilities:
//!   log-sum-exp, entropy, top-k, rank, the sorted long-tail curve. A leaf: it uses nothing else.
//! - [`scoring`]: the candidates with their text and the sampler's view, for display.
//! - [`sampling`]: temperature, top-k, top-p and a seeded, replayable draw.
//! - [`chat`]: SmolLM2-Instruct's chat template.
//! - [`cost`]: API prices (LiteLLM's table) × each model's own token count.
//! - [`physics`]: the GPU time, energy and memory behind a request, formulas in the open.
//!
//! Architecture invariant: nothing here knows about the web, the DOM or a terminal.

pub mod chat;
pub mod cost;
pub mod distribution;
pub mod error;
pub mod exercises;
pub mod gguf;
pub mod model;
pub mod msg;
pub mod physics;
pub mod sampling;
pub mod scoring;
pub mod service;
pub mod splitmix;
pub mod tokenizer;

pub use error::{Error, Result};
pub use msg::Msg;
