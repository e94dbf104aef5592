//! How a token was built, and what other vocabularies make of the same text.
//!
//! Answers *explain token* ([`explain`]; `tokenmeter explain-token`): a token's ID and bytes, the
//! BPE merge path that builds it from characters (each step with its rank; see
//! [`crate::tokenizer::merges`]), and the same string in the other vocabularies — one token there?
//! which ID? how many pieces?

use serde::{Deserialize, Serialize};

use super::limits::{cut_text, MAX_QUERY_BYTES};
use crate::msg;
use crate::msg::Msg;
use crate::tokenizer::merges::MergePath;
use crate::tokenizer::{hex_bytes, Piece, TextTokenizer};

/// A token to explain: by ID (a click on a token), else the tokens of a short text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExplainRequest {
    /// The text (at most [`MAX_QUERY_BYTES`] bytes are read); ignored when `id` is given.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub id: Option<u32>,
}

/// A vocabulary entry as shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Symbol {
    pub id: u32,
    /// As text (hex for the bytes of a split character).
    pub token: String,
    pub pieces: Vec<Piece>,
}

/// One merge: `left` + `right` → `result`, the `rank`-th merge the vocabulary learned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergeView {
    pub rank: u32,
    /// Where the pair stood in the row of symbols before the merge (0-based).
    pub at: usize,
    pub left: Symbol,
    pub right: Symbol,
    pub result: Symbol,
}

/// How the vocabulary spells the characters a path starts from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Alphabet {
    /// GPT-2's byte-level alphabet: one character per byte (`Ġ` = space).
    ByteLevel,
    /// SentencePiece style: `▁` = space, `<0xE4>` for a byte the vocabulary lacks.
    SentencePiece,
}

/// A token's merge path.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PathView {
    pub start: Vec<Symbol>,
    pub steps: Vec<MergeView>,
    pub end: Vec<Symbol>,
    /// The merges alone end at this very token.
    pub builds_token: bool,
}

/// One token explained.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExplainedToken {
    pub id: u32,
    pub token: String,
    pub pieces: Vec<Piece>,
    /// Its raw bytes in hex.
    pub bytes: String,
    pub special: bool,
    pub path: Option<PathView>,
    /// Why there is no path, or why it ends elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Msg>,
}

/// The same text in another vocabulary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Elsewhere {
    pub tokenizer: String,
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// The text is one token there.
    pub single: bool,
}

/// What `tokenmeter explain-token` prints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Explained {
    pub tokenizer: String,
    /// The text explained (for an ID: the token's own bytes).
    pub text: String,
    pub alphabet: Alphabet,
    /// The vocabulary takes a word it holds whole without merging (`ignore_merges`).
    pub ignore_merges: bool,
    pub tokens: Vec<ExplainedToken>,
    pub elsewhere: Vec<Elsewhere>,
}

fn symbol(tok: &TextTokenizer, id: u32) -> Symbol {
    Symbol {
        id,
        token: tok.token_display(id).unwrap_or_default(),
        pieces: tok.token_pieces(id),
    }
}

fn view(tok: &TextTokenizer, id: u32, p: &MergePath) -> PathView {
    let symbols = |ids: &[u32]| ids.iter().map(|&i| symbol(tok, i)).collect();
    PathView {
        start: symbols(&p.start),
        steps: p
            .steps
            .iter()
            .map(|s| MergeView {
                rank: s.rank,
                at: s.at,
                left: symbol(tok, s.left),
                right: symbol(tok, s.right),
                result: symbol(tok, s.result),
            })
            .collect(),
        builds_token: p.end == [id],
        end: symbols(&p.end),
    }
}

fn explain_one(tok: &TextTokenizer, id: u32) -> Result<ExplainedToken, Msg> {
    let bytes = tok.token_bytes(id)?;
    let special = tok.is_special(id);
    let path = tok.merge_path(id)?;
    let view = path.as_ref().map(|p| view(tok, id, p));
    let note = match &view {
        None if special => Some(msg!(
            "a special token: written whole, never built by merges"
        )),
        None if tok.is_added(id) => Some(msg!(
            "an added token, matched whole in the text: not built by merges"
        )),
        None => Some(msg!(
            "a character of this token is outside the vocabulary's alphabet"
        )),
        Some(v) if v.builds_token => None,
        Some(_) if tok.ignores_merges() => Some(msg!(
            "the merges alone stop before this token; this vocabulary takes a word it holds whole directly (ignore_merges)"
        )),
        Some(_) => Some(msg!(
            "the merges alone stop before this token: the tokenizer reaches it only inside a longer text"
        )),
    };
    Ok(ExplainedToken {
        id,
        token: tok.token_display(id)?,
        pieces: tok.token_pieces(id),
        bytes: hex_bytes(bytes),
        special,
        path: view,
        note,
    })
}

/// Explains `req`'s token (or the tokens of its text) in `tok`, and shows the same text in
/// `others` (each other vocabulary on screen; `tok` itself is skipped).
pub fn explain(
    tok: &TextTokenizer,
    req: &ExplainRequest,
    others: &[&TextTokenizer],
) -> Result<Explained, Msg> {
    let (text, ids) = match req.id {
        Some(id) => {
            let bytes = tok.token_bytes(id)?;
            (String::from_utf8_lossy(bytes).into_owned(), vec![id])
        }
        None => {
            let (text, _) = cut_text(&req.text, MAX_QUERY_BYTES);
            if text.is_empty() {
                return Err(msg!("give a token's text or its ID"));
            }
            (text.to_string(), tok.encode(text)?)
        }
    };
    let tokens = ids
        .iter()
        .map(|&id| explain_one(tok, id))
        .collect::<Result<Vec<_>, Msg>>()?;
    let elsewhere = others
        .iter()
        .filter(|o| o.info().id != tok.info().id)
        .map(|o| {
            let ids = o.encode(&text)?;
            Ok(Elsewhere {
                tokenizer: o.info().id.clone(),
                tokens: ids
                    .iter()
                    .map(|&i| o.token_display(i).unwrap_or_default())
                    .collect(),
                single: ids.len() == 1,
                ids,
            })
        })
        .collect::<Result<Vec<_>, Msg>>()?;
    Ok(Explained {
        tokenizer: tok.info().id.clone(),
        alphabet: if tok.is_sentencepiece() {
            Alphabet::SentencePiece
        } else {
            Alphabet::ByteLevel
        },
        ignore_merges: tok.ignores_merges(),
        text,
        tokens,
        elsewhere,
    })
}
