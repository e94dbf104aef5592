//! Tokenizing, decoding IDs, listing the shipped tokenizers, reading a user's tokenizer file.
//!
//! Answers *tokenize* ([`tokenize`]; `tokenmeter tokenize`, one column of the page), *decode*
//! ([`decode`]; `tokenmeter decode`, decode mode), the page's side-by-side columns ([`columns`]),
//! *list tokenizers* ([`tokenizers`]) and *load tokenizer* ([`read_tokenizer_file`]).

use std::io::Cursor;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::limits::{cut_text, MAX_IDS, MAX_TEXT_BYTES, MAX_USER_TOKENIZERS};
use crate::gguf::Gguf;
use crate::msg;
use crate::msg::Msg;
use crate::tokenizer::registry::{self, SHIPPED};
use crate::tokenizer::{parse_ids, Piece, TextTokenizer, Token, TokenizerInfo};

/// One token as a viewer draws it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenView {
    pub id: u32,
    /// The token's raw bytes.
    pub bytes: Vec<u8>,
    /// Text, and the raw bytes of characters this token holds only in part.
    pub pieces: Vec<Piece>,
    /// Byte range of the text it covers (to highlight the same characters in other columns).
    pub start: usize,
    pub end: usize,
    /// A control token such as `<|im_start|>`.
    pub special: bool,
    /// In decode mode: an ID the vocabulary does not have.
    #[serde(default)]
    pub invalid: bool,
}

impl From<&Token> for TokenView {
    fn from(t: &Token) -> Self {
        Self {
            id: t.id,
            bytes: t.bytes.clone(),
            pieces: t.pieces(),
            start: t.start,
            end: t.end,
            special: t.special,
            invalid: false,
        }
    }
}

/// A text's tokens under one tokenizer: what `tokenmeter tokenize` prints, and one column of the
/// page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tokens {
    pub tokenizer: String,
    /// Tokens in the whole text.
    pub count: usize,
    /// The IDs, texts and spans of the first tokens (all of them unless the request asked for
    /// fewer, as the page does for very long texts).
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    pub spans: Vec<TokenView>,
    /// Characters and bytes of the text tokenized (for characters and bytes per token).
    pub chars: usize,
    pub bytes: usize,
    /// When the text was longer than tokenmeter reads: its length in bytes (the rest was cut).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_from: Option<usize>,
}

/// `text` split by `tok`, listing at most `show` tokens in detail.
pub fn tokenize(tok: &TextTokenizer, text: &str, show: usize) -> Result<Tokens, Msg> {
    let (text, cut_from) = cut_text(text, MAX_TEXT_BYTES);
    let all = tok.tokenize(text)?;
    let listed = &all[..all.len().min(show)];
    Ok(Tokens {
        tokenizer: tok.info().id.clone(),
        count: all.len(),
        ids: listed.iter().map(|t| t.id).collect(),
        tokens: listed.iter().map(Token::display).collect(),
        spans: listed.iter().map(TokenView::from).collect(),
        chars: text.chars().count(),
        bytes: text.len(),
        cut_from,
    })
}

/// One ID of a decoded list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecodedId {
    pub id: u32,
    /// The token as text; absent when the vocabulary has no such ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub valid: bool,
}

/// Token IDs turned back into text by one vocabulary: what `tokenmeter decode` prints, and one
/// column of the page in decode mode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decoded {
    pub tokenizer: String,
    /// The valid tokens' bytes joined (invalid UTF-8 shown as U+FFFD).
    pub text: String,
    pub count: usize,
    /// The first IDs (all unless the request asked for fewer), each with its token.
    pub tokens: Vec<DecodedId>,
    /// Every ID the vocabulary does not have.
    pub invalid: Vec<u32>,
    pub vocab_size: usize,
    /// The listed IDs as a viewer draws them; byte spans refer to the decoded text.
    pub spans: Vec<TokenView>,
    /// When more IDs were given than tokenmeter decodes: how many (the rest were dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_from: Option<usize>,
}

/// The IDs written in `typed` (`1, 2 3` or a JSON array), at most [`MAX_IDS`] of them.
pub fn parse_typed_ids(typed: &str) -> Result<(Vec<u32>, Option<usize>), Msg> {
    // A list of MAX_IDS IDs of at most 10 digits and a separator each.
    let (typed, _) = cut_text(typed, MAX_IDS * 12);
    let mut ids = parse_ids(typed)?;
    let cut = (ids.len() > MAX_IDS).then_some(ids.len());
    ids.truncate(MAX_IDS);
    Ok((ids, cut))
}

/// `ids` decoded by `tok`, listing at most `show` of them in detail.
pub fn decode(tok: &TextTokenizer, ids: &[u32], show: usize) -> Decoded {
    let d = tok.decode_ids(ids);
    let listed = &d.tokens[..d.tokens.len().min(show)];
    Decoded {
        tokenizer: tok.info().id.clone(),
        text: d.text,
        count: ids.len(),
        tokens: listed
            .iter()
            .map(|t| DecodedId {
                id: t.id,
                token: t.token.as_ref().map(Token::display),
                valid: t.token.is_some(),
            })
            .collect(),
        invalid: d
            .tokens
            .iter()
            .filter(|t| t.token.is_none())
            .map(|t| t.id)
            .collect(),
        vocab_size: tok.vocab_size(),
        spans: listed
            .iter()
            .map(|t| match &t.token {
                Some(tok) => TokenView::from(tok),
                None => TokenView {
                    id: t.id,
                    bytes: Vec::new(),
                    pieces: Vec::new(),
                    start: 0,
                    end: 0,
                    special: false,
                    invalid: true,
                },
            })
            .collect(),
        cut_from: None,
    }
}

/// Where a vocabulary stands for a front end that loads them lazily (the page's worker) or
/// from disk (the CLI).
#[derive(Clone)]
pub enum VocabState {
    Loading,
    Ready(Arc<TextTokenizer>),
    Failed(Msg),
}

/// What the page's token columns show: the text's tokens, or typed IDs decoded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ColumnsRequest {
    Tokenize {
        text: String,
        tokenizers: Vec<String>,
    },
    Decode {
        ids: String,
        tokenizers: Vec<String>,
    },
}

/// One tokenizer's answer in the page's side-by-side view.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ColumnState {
    /// The vocabulary is being downloaded and loaded.
    Loading,
    Tokens(Tokens),
    Decoded(Decoded),
    Failed(Msg),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Column {
    pub tokenizer: String,
    pub state: ColumnState,
}

/// The columns, in the order asked for (each tokenizer once).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Columns {
    pub columns: Vec<Column>,
}

/// Answers the page's columns: each tokenizer (duplicates dropped) as `vocab` has it now; IDs
/// are parsed once for all columns. At most `show` tokens per column are listed in detail.
pub fn columns(
    req: &ColumnsRequest,
    vocab: &dyn Fn(&str) -> VocabState,
    show: usize,
) -> Result<Columns, Msg> {
    let (tokenizers, ids) = match req {
        ColumnsRequest::Tokenize { tokenizers, .. } => (tokenizers, None),
        ColumnsRequest::Decode { ids, tokenizers } => (tokenizers, Some(parse_typed_ids(ids)?)),
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut columns = Vec::new();
    for id in tokenizers {
        if seen.contains(&id.as_str()) {
            continue;
        }
        // Each shipped tokenizer and each file the user may add, once: never more columns.
        if seen.len() == SHIPPED.len() + MAX_USER_TOKENIZERS {
            break;
        }
        seen.push(id);
        let state = match vocab(id) {
            VocabState::Loading => ColumnState::Loading,
            VocabState::Failed(m) => ColumnState::Failed(m),
            VocabState::Ready(tok) => match (req, &ids) {
                (ColumnsRequest::Tokenize { text, .. }, _) => match tokenize(&tok, text, show) {
                    Ok(t) => ColumnState::Tokens(t),
                    Err(m) => ColumnState::Failed(m),
                },
                (ColumnsRequest::Decode { .. }, Some((ids, cut))) => {
                    let mut d = decode(&tok, ids, show);
                    d.cut_from = *cut;
                    ColumnState::Decoded(d)
                }
                (ColumnsRequest::Decode { .. }, None) => ColumnState::Loading,
            },
        };
        columns.push(Column {
            tokenizer: id.clone(),
            state,
        });
    }
    Ok(Columns { columns })
}

/// The message for a tokenizer id that is neither shipped nor a file the user added.
pub fn unknown_tokenizer(id: &str) -> Msg {
    let ids: Vec<&str> = SHIPPED.iter().map(|s| s.id).collect();
    msg!("unknown tokenizer '{}' (available: {})", id, ids.join(", "))
}

/// One shipped tokenizer, as `tokenmeter tokenizers` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenizerEntry {
    pub id: String,
    pub name: String,
    pub models: String,
    pub source: String,
    pub license: String,
    pub note: String,
    /// Whether its vocabulary is at hand (fetched by `./dev setup`).
    pub available: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenizerList {
    pub tokenizers: Vec<TokenizerEntry>,
}

/// The shipped tokenizers, SmolLM2 first, with source and licence.
pub fn tokenizers(available: &dyn Fn(&str) -> bool) -> TokenizerList {
    TokenizerList {
        tokenizers: SHIPPED
            .iter()
            .map(|s| TokenizerEntry {
                id: s.id.into(),
                name: s.name.into(),
                models: s.models.into(),
                source: s.source.into(),
                license: s.license.into(),
                note: s.note.into(),
                available: available(s.id),
            })
            .collect(),
    }
}

/// A tokenizer file the user brought, ready to join the columns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenizerAdded {
    pub id: String,
    pub name: String,
    /// "gguf" or "tokenizer.json".
    pub kind: String,
    /// IDs in its vocabulary.
    pub entries: usize,
}

/// How a front end reads a `tokenizer.json`: [`TextTokenizer::from_json_any`] where it carries
/// the Hugging Face crate (the CLI, the model worker), [`TextTokenizer::from_json`] where it
/// leaves the crate out (the light tokens worker).
pub type JsonReader = fn(&[u8], TokenizerInfo) -> crate::Result<TextTokenizer>;

/// A file refused: the message, and whether a build with the full tokenizers library would read
/// it (the page then hands it to the model worker).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub message: Msg,
    pub needs_full: bool,
}

/// Reads a user's tokenizer file (already decompressed): a GGUF model file (by its signature;
/// only the header is needed) or a Hugging Face `tokenizer.json`, any the core reads (with the
/// Hugging Face crate where our own pipeline does not). `id` names it in later requests. A file
/// that is neither is refused with a message that says what it is.
pub fn read_tokenizer_file(
    bytes: &[u8],
    name: &str,
    id: &str,
) -> Result<(TextTokenizer, TokenizerAdded), Msg> {
    read_tokenizer_file_with(bytes, name, id, TextTokenizer::from_json_any).map_err(|r| r.message)
}

/// [`read_tokenizer_file`] with a `tokenizer.json` read by `json`.
pub fn read_tokenizer_file_with(
    bytes: &[u8],
    name: &str,
    id: &str,
    json: JsonReader,
) -> Result<(TextTokenizer, TokenizerAdded), Refused> {
    let refused = |message| Refused {
        message,
        needs_full: false,
    };
    let info = TokenizerInfo {
        id: id.into(),
        name: name.into(),
        source: "your file".into(),
        license: "as stated by its publisher".into(),
    };
    let named = |e: crate::Error| Refused {
        needs_full: matches!(e, crate::Error::NeedsFullTokenizer(_)),
        message: msg!("{}: {}", name, e.msg()),
    };
    let (tok, kind) = if bytes.starts_with(b"GGUF") {
        let gguf = Gguf::read_head(&mut Cursor::new(bytes)).map_err(named)?;
        (
            TextTokenizer::from_gguf(&gguf, info).map_err(named)?,
            "gguf",
        )
    } else if name.to_ascii_lowercase().ends_with(".gguf") {
        return Err(refused(msg!(
            "{} is not a GGUF file: it does not start with the GGUF signature",
            name
        )));
    } else {
        check_tokenizer_json(bytes, name).map_err(refused)?;
        (json(bytes, info).map_err(named)?, "tokenizer.json")
    };
    let added = TokenizerAdded {
        id: id.into(),
        name: name.into(),
        kind: kind.into(),
        entries: tok.entries(),
    };
    Ok((tok, added))
}

/// Says what a file is when it is not a `tokenizer.json`: not text, not JSON, or JSON of
/// another kind (no `model` section with a `vocab`).
fn check_tokenizer_json(bytes: &[u8], name: &str) -> Result<(), Msg> {
    let json: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) if e.is_syntax() || e.is_eof() => {
            let text = std::str::from_utf8(bytes).is_ok();
            return Err(if !text {
                msg!(
                    "{} is neither a tokenizer.json nor a GGUF file: it is not text",
                    name
                )
            } else {
                msg!(
                    "{} is not a tokenizer.json: it is not valid JSON (line {}, column {})",
                    name,
                    e.line(),
                    e.column()
                )
            });
        }
        Err(e) => return Err(msg!("{} is not a tokenizer.json: {}", name, e.to_string())),
    };
    let model = json.get("model");
    if model.is_none() {
        return Err(msg!(
            "{} is JSON, but not a tokenizer.json: it has no \"model\" section",
            name
        ));
    }
    if model.and_then(|m| m.get("vocab")).is_none() {
        return Err(msg!(
            "{} is not a tokenizer.json tokenmeter can read: its \"model\" has no \"vocab\"",
            name
        ));
    }
    Ok(())
}

/// A shipped tokenizer's description (`registry::find`), for front ends that load vocabularies.
pub fn shipped(id: &str) -> Result<&'static registry::Shipped, Msg> {
    registry::find(id).ok_or_else(|| unknown_tokenizer(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny byte-level BPE tokenizer.json with the given vocabulary and extra sections.
    fn tokenizer_json(vocab: &str, extra: &str) -> Vec<u8> {
        format!(
            r#"{{"version":"1.0",{extra}"added_tokens":[],"normalizer":null,
            "pre_tokenizer":{{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}},
            "post_processor":null,
            "decoder":{{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}},
            "model":{{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,
            "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,
            "vocab":{vocab},"merges":["a b"]}}}}"#
        )
        .into_bytes()
    }

    fn refusal(bytes: &[u8], name: &str) -> String {
        match read_tokenizer_file(bytes, name, "file:1") {
            Ok(_) => panic!("{name} was accepted"),
            Err(m) => m.to_string(),
        }
    }

    #[test]
    fn a_file_that_is_no_tokenizer_is_named_for_what_it_is() {
        assert_eq!(
            refusal(br#"{"hello":"world"}"#, "hello.json"),
            "hello.json is JSON, but not a tokenizer.json: it has no \"model\" section"
        );
        assert_eq!(
            refusal(br#"{"hello": "#, "notes.json"),
            "notes.json is not a tokenizer.json: it is not valid JSON (line 1, column 10)"
        );
        assert_eq!(
            refusal(&[0x00, 0xff, 0x13, 0x37, 0xfe], "noise.bin"),
            "noise.bin is neither a tokenizer.json nor a GGUF file: it is not text"
        );
        assert_eq!(
            refusal(b"random bytes, not a model", "model.gguf"),
            "model.gguf is not a GGUF file: it does not start with the GGUF signature"
        );
        assert!(refusal(b"GGUF\x03\x00\x00\x00garbage", "weird.gguf")
            .starts_with("weird.gguf: not a valid GGUF model file"));
    }

    #[test]
    fn absurd_ids_are_refused_before_any_table_is_sized_by_them() {
        let json = tokenizer_json(r#"{"a":0,"b":4294967295,"ab":2}"#, "");
        let e = refusal(&json, "huge.json");
        assert!(e.contains("token ID 4294967295 is far beyond"), "{e}");
    }

    #[test]
    fn truncation_and_padding_in_a_file_are_dropped() {
        let json = tokenizer_json(
            r#"{"a":0,"b":1,"ab":2}"#,
            r#""truncation":{"direction":"Right","max_length":1,"strategy":"LongestFirst","stride":0},
            "padding":{"strategy":{"Fixed":1000000000},"direction":"Right","pad_to_multiple_of":null,
            "pad_id":0,"pad_type_id":0,"pad_token":"a"},"#,
        );
        let (tok, added) = read_tokenizer_file(&json, "t.json", "file:1").expect("loads");
        assert_eq!(added.entries, 3);
        let t = tokenize(&tok, "abab", usize::MAX).expect("encodes");
        assert_eq!(t.ids, vec![2, 2], "neither cut to 1 token nor padded");
    }
}
