//! tokenmeter's own tokenizer pipeline: text → token IDs with each token's place in the text, for
//! a BPE vocabulary described by a `tokenizer.json` (all the shipped ones).
//!
//! ```text
//! text ─▶ added tokens (raw) ─▶ normalizer ─▶ added tokens (normalized) ─▶ pre-tokenizer
//!      ─▶ BPE on each piece ─▶ offsets (trimmed where the post-processor says so)
//! ```
//!
//! Each stage follows the Hugging Face `tokenizers` crate's rules for the steps it reads, IDs and
//! offsets alike: a test compares the two on a corpus and random texts for every shipped
//! vocabulary. A file naming a step this pipeline does not have is [`Unsupported`]: a build with
//! the crate reads it with the crate (`super::engine`); the light tokens worker, which leaves the
//! crate out, says so.
//!
//! - [`text`]: text whose bytes remember where in the input they came from;
//! - [`added`]: added tokens; [`normalizer`]; [`split`]: the pre-tokenizer; [`read`]: helpers.

pub mod added;
pub mod normalizer;
mod read;
pub mod split;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
pub mod text;

use serde_json::Value;

use added::{Added, AddedToken};
use normalizer::Normalizer;
use split::Step;
use text::{Span, Text};

use super::bpe::Bpe;
use super::byte_level::byte_to_char;
use crate::{msg, Error, Result};

/// What this pipeline does not read, and why (a file's step, a token's option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl Unsupported {
    pub fn new(what: &str) -> Unsupported {
        Unsupported(what.to_owned())
    }
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `tokenizer.json`'s parts besides its model, as written in the file (`null` where absent).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Parts {
    pub added_tokens: Vec<Value>,
    pub normalizer: Value,
    pub pre_tokenizer: Value,
    pub post_processor: Value,
    pub decoder: Value,
}

/// One token of an encoded text: its ID and the input bytes `start..end` it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tok {
    pub id: u32,
    pub start: usize,
    pub end: usize,
}

pub struct Pipeline {
    pub bpe: Bpe,
    pub added: Added,
    normalizer: Vec<Normalizer>,
    pre_tokenizer: Vec<Step>,
    /// The post-processor's offset trims (`ByteLevel`/`RobertaProcessing` with `trim_offsets`),
    /// each with its `add_prefix_space`.
    trims: Vec<bool>,
    /// The file's own descriptions, written back unchanged.
    pub parts: Parts,
}

impl Pipeline {
    pub fn new(bpe: Bpe, parts: Parts) -> std::result::Result<Pipeline, Unsupported> {
        let mut normalizer = Vec::new();
        if !parts.normalizer.is_null() {
            normalizer::read(&parts.normalizer, &mut normalizer)?;
        }
        let mut pre_tokenizer = Vec::new();
        if !parts.pre_tokenizer.is_null() {
            split::read(&parts.pre_tokenizer, &mut pre_tokenizer)?;
        }
        let mut trims = Vec::new();
        if !parts.post_processor.is_null() {
            read_trims(&parts.post_processor, &mut trims)?;
        }
        let tokens = parts
            .added_tokens
            .iter()
            .map(AddedToken::read)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let added = Added::new(&tokens, &bpe, &normalizer)?;
        Ok(Pipeline {
            bpe,
            added,
            normalizer,
            pre_tokenizer,
            trims,
            parts,
        })
    }

    /// The tokenizer as a `tokenizer.json` (the file's own parts written back as they came);
    /// without the model's vocabulary and merges if not `lists` (a packed vocabulary's header).
    pub fn to_file(&self, lists: bool) -> Result<Vec<u8>> {
        let o = self.bpe.options();
        if lists {
            return self.write(&self.bpe);
        }
        self.write(serde_json::json!({
            "type": "BPE",
            "dropout": o.dropout,
            "unk_token": o.unk_token,
            "continuing_subword_prefix": o.continuing_subword_prefix,
            "end_of_word_suffix": o.end_of_word_suffix,
            "fuse_unk": o.fuse_unk,
            "byte_fallback": o.byte_fallback,
            "ignore_merges": o.ignore_merges,
        }))
    }

    fn write<M: serde::Serialize>(&self, model: M) -> Result<Vec<u8>> {
        #[derive(serde::Serialize)]
        struct File<'a, M> {
            version: &'static str,
            truncation: Option<()>,
            padding: Option<()>,
            added_tokens: Vec<Value>,
            normalizer: &'a Value,
            pre_tokenizer: &'a Value,
            post_processor: &'a Value,
            decoder: &'a Value,
            model: M,
        }
        let parts = &self.parts;
        serde_json::to_vec(&File {
            version: "1.0",
            truncation: None,
            padding: None,
            added_tokens: self.added.to_json(),
            normalizer: &parts.normalizer,
            pre_tokenizer: &parts.pre_tokenizer,
            post_processor: &parts.post_processor,
            decoder: &parts.decoder,
            model,
        })
        .map_err(|e| Error::Tokenizer(msg!("{}", e.to_string())))
    }

    pub fn to_json(&self) -> Result<String> {
        let bytes = self.to_file(true)?;
        String::from_utf8(bytes).map_err(|e| Error::Tokenizer(msg!("{}", e.to_string())))
    }

    /// The tokens of `input`, in order. Added tokens written in the text are recognised; nothing
    /// (no BOS) is added.
    pub fn encode(&self, input: &str) -> Result<Vec<Tok>> {
        let root = Text::new(input)
            .ok_or_else(|| Error::Tokenizer(msg!("the text is too long (4 GiB at most)")))?;
        // Pieces in order: an added token's ID with its text, or text still to be split.
        let mut pieces: Vec<(Option<u32>, Text)> = Vec::new();
        for (id, piece) in self.added.split(root, false) {
            if id.is_some() {
                pieces.push((id, piece));
                continue;
            }
            let mut piece = piece;
            for step in &self.normalizer {
                step.apply(&mut piece)?;
            }
            pieces.extend(self.added.split(piece, true));
        }
        for step in &self.pre_tokenizer {
            let mut next = Vec::with_capacity(pieces.len());
            let mut out = Vec::new();
            for (id, piece) in pieces {
                if id.is_some() {
                    next.push((id, piece));
                    continue;
                }
                step.apply(piece, &mut out)?;
                next.extend(out.drain(..).map(|p| (None, p)));
            }
            pieces = next;
        }
        // Each token's text, for the post-processor's trims: what an added token matched, a
        // model token's vocabulary piece.
        let keep = !self.trims.is_empty();
        let mut values: Vec<&str> = Vec::new();
        let mut tokens = Vec::new();
        for (id, piece) in &pieces {
            if let Some(id) = *id {
                tokens.push(token(id, piece.span(0, piece.text.len())));
                if keep {
                    values.push(&piece.text);
                }
                continue;
            }
            let mut at = 0;
            for (id, len) in self.bpe.encode_word(&piece.text)? {
                tokens.push(token(id, piece.span(at, at + len)));
                if keep {
                    values.push(self.bpe.piece(id).unwrap_or_default());
                }
                at += len;
            }
        }
        for &add_prefix_space in &self.trims {
            trim(&mut tokens, &values, add_prefix_space);
        }
        Ok(tokens)
    }
}

/// The crate's `process_offsets`: a token's leading and trailing spaces (`Ġ` or white space,
/// counted in characters of its text) are taken off its offsets, except one leading space that
/// `add_prefix_space` put before the first word.
fn trim(tokens: &mut [Tok], values: &[&str], add_prefix_space: bool) {
    let space = |c: char| c == byte_to_char(b' ') || c.is_whitespace();
    for (i, (tok, value)) in tokens.iter_mut().zip(values).enumerate() {
        let mut leading = value.chars().take_while(|&c| space(c)).count();
        let trailing = value.chars().rev().take_while(|&c| space(c)).count();
        if leading > 0 {
            let first = i == 0 || tok.start == 0;
            if first && add_prefix_space && leading == 1 {
                leading = 0;
            }
            tok.start = (tok.start + leading).min(tok.end);
        }
        if trailing > 0 && tok.end >= trailing {
            tok.end = (tok.end - trailing).max(tok.start);
        }
    }
}

fn token(id: u32, (start, end): Span) -> Tok {
    Tok {
        id,
        start: start as usize,
        end: end as usize,
    }
}

/// The offset trims of a `post_processor` description, read as the crate reads it: its wrapper
/// is untagged (serde does not check a struct's `type`), so an object with `sep`, `cls`,
/// `trim_offsets` and `add_prefix_space` is RobertaProcessing whatever its type says, and the
/// other forms are tried in the crate's order. Processors that only add tokens around the text
/// (`TemplateProcessing`, `BertProcessing`) change nothing here: tokenmeter encodes without them.
fn read_trims(v: &Value, trims: &mut Vec<bool>) -> std::result::Result<(), Unsupported> {
    use read::{flag, kind};
    let pair = |name: &str| {
        v.get(name)
            .and_then(Value::as_array)
            .is_some_and(|p| p.len() == 2 && p[0].is_string() && p[1].is_u64())
    };
    let has = |name: &str| v.get(name).is_some_and(Value::is_boolean);
    if pair("sep") && pair("cls") {
        if has("trim_offsets") && has("add_prefix_space") {
            // RobertaProcessing.
            if flag(v, "trim_offsets", None)? {
                trims.push(flag(v, "add_prefix_space", None)?);
            }
        }
        // Else BertProcessing.
        return Ok(());
    }
    match kind(v)? {
        "ByteLevel" => {
            let add_prefix_space = flag(v, "add_prefix_space", None)?;
            if flag(v, "trim_offsets", None)? {
                trims.push(add_prefix_space);
            }
        }
        "TemplateProcessing" if v.get("single").is_some() && v.get("pair").is_some() => {}
        "Sequence" => {
            for part in read::list(v, "processors")? {
                read_trims(part, trims)?;
            }
        }
        other => return Err(Unsupported(format!("the post-processor {other}"))),
    }
    Ok(())
}
