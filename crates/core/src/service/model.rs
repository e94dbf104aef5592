//! Loading the model: a GGUF file becomes its weights, its own tokenizer, the tokens that end a
//! reply and its BOS token — and from a request's text, the exact token IDs the model reads.
//!
//! Answers *load model* ([`LoadedModel::read`] + [`LoadedModel::summary`]; `tokenmeter model`,
//! the worker's `LoadModel`).

use std::io::{Read, Seek};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::chat::{self, ChatTemplate};
use crate::gguf::Gguf;
use crate::model::quant::Format;
use crate::model::{Backend, Model};
use crate::msg;
use crate::msg::Msg;
use crate::physics::ModelShape;
use crate::tokenizer::{smollm2_info, TextTokenizer, TokenizerInfo};
use crate::Error;

/// The model file, opened.
pub struct LoadedModel {
    pub model: Arc<Model>,
    /// The tokenizer stored in the same file.
    pub tokenizer: Arc<TextTokenizer>,
    /// Tokens that end a reply.
    pub stop: Vec<u32>,
    /// The beginning-of-sequence token, if the file names one.
    pub bos: Option<u32>,
    /// A name for people, from the file's metadata.
    pub name: String,
    /// The file's chat template, if tokenmeter knows its family.
    pub chat: Option<ChatTemplate>,
}

/// What the page's status line and `tokenmeter model` tell about the model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelSummary {
    pub name: String,
    /// `general.architecture`: llama, qwen2, qwen3.
    pub architecture: String,
    /// The weights' formats, most common first ("Q4_K + Q6_K").
    pub formats: String,
    pub n_params: usize,
    pub weight_bytes: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    pub layers: usize,
    /// Key/value heads and their width: with `layers`, what the KV cache holds per token.
    pub kv_heads: usize,
    pub head_dim: usize,
    /// How it runs, e.g. "wasm SIMD128, 1 thread" or "WebGPU · <adapter>".
    pub backend: String,
    /// Which engine, the adapter found and why it was chosen.
    pub engine: Backend,
}

impl ModelSummary {
    /// This model as the cost panel's physics sees it (the physics model
    /// [`OWN_MODEL`](super::cost::OWN_MODEL)), its tokens counted by the tokenizer `tokenizer`.
    pub fn shape(&self, tokenizer: &str) -> ModelShape {
        physics_shape(
            &self.name,
            self.n_params,
            [self.layers, self.kv_heads, self.head_dim],
            tokenizer,
        )
    }
}

/// A dense model's shape for the physics, from its name, parameters and
/// `[layers, kv_heads, head_dim]`.
fn physics_shape(name: &str, params: usize, dims: [usize; 3], tokenizer: &str) -> ModelShape {
    let [layers, kv_heads, head_dim] = dims.map(|d| d as u32);
    let mut shape = ModelShape::gqa(
        name,
        params as f64,
        layers,
        kv_heads,
        head_dim,
        "the model file's metadata",
    );
    shape.tokenizer = tokenizer.to_string();
    shape
}

/// The text of a request as the model will read it.
#[derive(Debug, Clone, Copy)]
pub struct PromptSpec<'a> {
    pub text: &'a str,
    /// Wrap the text as a user message in the model's chat template.
    pub chat: bool,
    /// Put the BOS token first.
    pub bos: bool,
    /// Tokens generated (or chosen) after the text.
    pub continuation: &'a [u32],
}

/// Memory a model takes once loaded, from its file's header alone: each tensor as unpacked for
/// the kernels ([`Format::unpacked_bytes`]; matrices in a format tokenmeter does not read count
/// as their file size, and are refused later), RoPE's tables, and the tokenizer (about 100 bytes
/// an entry). The KV cache comes on top and grows with the text.
pub fn memory_needed(gguf: &Gguf) -> u64 {
    let weights: u64 = gguf
        .tensors()
        .map(|(_, dtype, n)| match Format::from_ggml(dtype) {
            Some(f) => f.unpacked_bytes(n),
            None => n.saturating_mul(dtype.type_size() as u64) / dtype.block_size() as u64,
        })
        .fold(0, u64::saturating_add);
    let md = gguf.metadata();
    let arch = md.string("general.architecture").unwrap_or("llama");
    let key = |k: &str| md.u32(&format!("{arch}.{k}")).map(u64::from).unwrap_or(0);
    let context = key("context_length").min(crate::model::MAX_CONTEXT as u64);
    let head_dim = match key("attention.key_length") {
        0 => key("embedding_length") / key("attention.head_count").max(1),
        k => k,
    };
    let rope = context * head_dim * 4;
    let vocab = md
        .string_array("tokenizer.ggml.tokens")
        .map_or(0, |t| t.len() as u64);
    weights.saturating_add(rope).saturating_add(vocab * 100)
}

impl LoadedModel {
    /// Reads a GGUF model file: header, tokenizer, weights.
    pub fn read<R: Read + Seek>(reader: &mut R) -> Result<Self, Msg> {
        Self::read_within(reader, u64::MAX)
    }

    /// [`LoadedModel::read`], refusing — before reading any weights — a model that would need
    /// more than `max_memory` bytes once loaded ([`memory_needed`]): a browser tab's WebAssembly
    /// memory ends at 4 GB.
    pub fn read_within<R: Read + Seek>(reader: &mut R, max_memory: u64) -> Result<Self, Msg> {
        let gguf = Gguf::read(reader)?;
        let need = memory_needed(&gguf);
        if need > max_memory {
            let gb = |b: u64| format!("{:.1}", b as f64 / 1e9);
            return Err(msg!(
                "this model needs about {} GB of memory once loaded, more than the {} GB a page can give it (WebAssembly addresses 4 GB); try a smaller model or a smaller format",
                gb(need),
                gb(max_memory)
            ));
        }
        let md = gguf.metadata();
        let name = md.string("general.name").unwrap_or("model").to_string();
        // The shipped model's tokenizer is the registry's `smollm2`; any other file's is its own.
        let info = if md.string("general.basename") == Ok("smollm2") {
            smollm2_info()
        } else {
            TokenizerInfo {
                id: "model".into(),
                name: format!("{name} (from the model file)"),
                source: "the model file".into(),
                license: md.string("general.license").unwrap_or("the model's").into(),
            }
        };
        let tokenizer = TextTokenizer::from_gguf(&gguf, info)?;
        let model = Model::from_gguf(&gguf, reader)?;
        Ok(Self {
            stop: chat::stop_tokens(&gguf, &tokenizer),
            bos: md.u32("tokenizer.ggml.bos_token_id").ok(),
            chat: ChatTemplate::from_gguf(&md),
            name: format!("{name} ({})", model.formats()),
            model: Arc::new(model),
            tokenizer: Arc::new(tokenizer),
        })
    }

    /// SmolLM2-135M's shapes and formats with weights drawn from `seed`
    /// ([`crate::model::synthetic`]), beside SmolLM2's real `tokenizer`: for benchmarks where the
    /// model file cannot go. Its scores mean nothing. `blocks` below SmolLM2's 30 keeps only the
    /// first ones (a quick check of a backend; the name says so, as its speed is not SmolLM2's).
    pub fn synthetic(tokenizer: TextTokenizer, seed: u64, blocks: usize) -> Result<Self, Msg> {
        let mut config = crate::model::synthetic::smollm2_135m();
        let all = config.n_layer;
        if blocks == 0 || blocks > all {
            return Err(msg!("SmolLM2 has blocks 1 to {}, not {}", all, blocks));
        }
        config.n_layer = blocks;
        let depth = if blocks == all {
            String::new()
        } else {
            format!("{blocks} of {all} blocks, ")
        };
        let model = Model::synthetic(config, seed)?;
        if tokenizer.vocab_size() != model.config().vocab_size {
            return Err(msg!(
                "the tokenizer has {} entries; SmolLM2's shapes need {}",
                tokenizer.vocab_size(),
                model.config().vocab_size
            ));
        }
        Ok(Self {
            name: format!(
                "synthetic SmolLM2-135M shapes, {depth}seed {seed} ({})",
                model.formats()
            ),
            model: Arc::new(model),
            tokenizer: Arc::new(tokenizer),
            stop: Vec::new(),
            bos: None,
            chat: None,
        })
    }

    pub fn summary(&self, engine: &Backend) -> ModelSummary {
        let c = self.model.config();
        ModelSummary {
            name: self.name.clone(),
            architecture: c.arch.name().to_string(),
            formats: self.model.formats(),
            n_params: self.model.n_params(),
            weight_bytes: self.model.weight_bytes(),
            vocab_size: c.vocab_size,
            context_length: c.context_length,
            layers: c.n_layer,
            kv_heads: c.n_kv_head,
            head_dim: c.head_dim,
            backend: engine.label(),
            engine: engine.clone(),
        }
    }

    /// The token IDs the model reads for `p`: the text (in the chat template if asked, special
    /// tokens such as `<|im_start|>` recognised), BOS first if asked, then the continuation.
    /// Errors: an empty prompt, an ID outside the vocabulary, more tokens than the context holds.
    pub fn prompt_ids(&self, p: &PromptSpec<'_>) -> Result<Vec<u32>, Msg> {
        let text = if p.chat {
            self.chat_prompt(p.text)?
        } else {
            p.text.to_string()
        };
        let mut ids = Vec::new();
        if p.bos {
            ids.push(
                self.bos
                    .ok_or_else(|| msg!("this model names no BOS token"))?,
            );
        }
        ids.extend(self.tokenizer.encode(&text)?);
        let vocab = self.model.config().vocab_size;
        if let Some(&bad) = p.continuation.iter().find(|&&id| id as usize >= vocab) {
            return Err(Error::TokenIdOutOfRange {
                id: bad,
                vocab_size: vocab,
            }
            .into());
        }
        ids.extend_from_slice(p.continuation);
        if ids.is_empty() {
            return Err(Error::EmptyPrompt.into());
        }
        let limit = self.model.config().context_length;
        if ids.len() > limit {
            return Err(Error::PromptTooLong {
                tokens: ids.len(),
                limit,
            }
            .into());
        }
        Ok(ids)
    }

    /// This model as the cost panel's physics sees it ([`ModelSummary::shape`]).
    pub fn shape(&self, tokenizer: &str) -> ModelShape {
        let c = self.model.config();
        physics_shape(
            &self.name,
            self.model.n_params(),
            [c.n_layer, c.n_kv_head, c.head_dim],
            tokenizer,
        )
    }

    /// `user` wrapped in the model's chat template, or why it cannot be.
    pub fn chat_prompt(&self, user: &str) -> Result<String, Msg> {
        self.chat.as_ref().map(|t| t.prompt(user)).ok_or_else(|| {
            msg!("this model's file has no chat template tokenmeter knows (ChatML, Llama 3, Zephyr): turn chat off")
        })
    }

    /// A token as text (hex for the bytes of a split character); empty for an unknown ID.
    pub fn show(&self, id: u32) -> String {
        self.tokenizer.token_display(id).unwrap_or_default()
    }
}
