//! How a token was built: the byte-pair-encoding merges that join its characters into it.
//!
//! BPE (Sennrich et al. 2016; byte-level as in GPT-2) learns an ordered list of merges: "join
//! `a` and `b` into `ab`", the most frequent pair first. Encoding a word starts from its
//! characters (GPT-2's byte alphabet: one character per byte, `Ġ` for a space; SentencePiece
//! style: `▁` for a space, `<0xE4>` for a byte the vocabulary lacks) and repeats one rule until
//! no merge applies:
//!
//! ```text
//! join the adjacent pair whose merge comes earliest in the list (its rank); leftmost on ties
//! ```
//!
//! Replaying that rule on a token's own characters shows its path, e.g. SmolLM2's " Paris":
//! `Ġ P a r i s` → `Ġ P ar i s` → … → `ĠParis`, each step with its rank. Vocabularies marked
//! `ignore_merges` (Llama 3, Mistral NeMo, o200k_harmony) take a word found whole in the vocabulary
//! directly; its path is then how the merges *would* build it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{msg, Error, Result};

/// One merge applied: `left` + `right` → `result` (vocabulary IDs), the `rank`-th in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeStep {
    pub left: u32,
    pub right: u32,
    pub rank: u32,
    pub result: u32,
    /// Where in the row of symbols the pair stood (0-based), before the merge.
    pub at: usize,
}

/// A token's path: its starting symbols, the merges in the order BPE applies them, and what is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergePath {
    /// The characters (or fallback bytes) the token starts from, as vocabulary IDs.
    pub start: Vec<u32>,
    pub steps: Vec<MergeStep>,
    /// The symbols when no merge applies any more: the token itself when `builds_token`.
    pub end: Vec<u32>,
}

/// The ordered merges of a BPE vocabulary: `(left, right) → (rank, result)`.
pub struct MergeTable {
    merges: HashMap<(u32, u32), (u32, u32)>,
    pub byte_fallback: bool,
    pub ignore_merges: bool,
}

/// The parts of a serialized BPE model this needs (the vocabulary itself is skipped).
#[derive(Deserialize)]
struct BpeMerges {
    merges: Vec<MergeEntry>,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(default)]
    ignore_merges: bool,
}

/// A merge as `tokenizer.json` writes it: `"a b"` (older files) or `["a", "b"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum MergeEntry {
    Joined(String),
    Pair(String, String),
}

impl MergeTable {
    /// The merges of a BPE tokenizer, in rank order. Another model type has none: an error.
    pub fn of(tok: &tokenizers::Tokenizer) -> Result<Self> {
        let tokenizers::models::ModelWrapper::BPE(bpe) = tok.get_model() else {
            return Err(Error::Unsupported(msg!(
                "this vocabulary is not built by merges (not BPE)"
            )));
        };
        // The model's merges are private to `tokenizers`; its serialized form lists them in rank
        // order.
        let json =
            serde_json::to_vec(bpe).map_err(|e| Error::Tokenizer(msg!("{}", e.to_string())))?;
        let parsed: BpeMerges = serde_json::from_slice(&json)
            .map_err(|e| Error::Tokenizer(msg!("{}", e.to_string())))?;
        let mut merges = HashMap::with_capacity(parsed.merges.len());
        for (rank, entry) in parsed.merges.into_iter().enumerate() {
            let (a, b) = match entry {
                MergeEntry::Pair(a, b) => (a, b),
                MergeEntry::Joined(s) => match s.split_once(' ') {
                    Some((a, b)) => (a.to_string(), b.to_string()),
                    None => continue,
                },
            };
            let id = |s: &str| tok.token_to_id(s);
            if let (Some(l), Some(r), Some(out)) = (id(&a), id(&b), id(&(a.clone() + &b))) {
                // The first (lowest-rank) merge of a pair wins, as in `tokenizers`.
                merges.entry((l, r)).or_insert((rank as u32, out));
            }
        }
        Ok(Self {
            merges,
            byte_fallback: parsed.byte_fallback,
            ignore_merges: parsed.ignore_merges,
        })
    }

    /// How many merges the vocabulary lists (usable ones: both parts and the result known).
    pub fn len(&self) -> usize {
        self.merges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.merges.is_empty()
    }

    /// Replays BPE on the characters of vocabulary entry `piece` (as the vocabulary writes it:
    /// `ĠParis`, `▁Paris`). `None` when a character is neither in the vocabulary nor covered by
    /// byte fallback.
    pub fn path(&self, tok: &tokenizers::Tokenizer, piece: &str) -> Option<MergePath> {
        let mut symbols = Vec::new();
        for c in piece.chars() {
            let mut buf = [0u8; 4];
            match tok.token_to_id(c.encode_utf8(&mut buf)) {
                Some(id) => symbols.push(id),
                None if self.byte_fallback => {
                    for b in c.encode_utf8(&mut buf).bytes() {
                        symbols.push(tok.token_to_id(&format!("<0x{b:02X}>"))?);
                    }
                }
                None => return None,
            }
        }
        let start = symbols.clone();
        let mut steps = Vec::new();
        // The rule, until no pair has a merge: the lowest rank, leftmost on ties.
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| {
                    self.merges
                        .get(&(w[0], w[1]))
                        .map(|&(rank, out)| (rank, i, out))
                })
                .min();
            let Some((rank, at, result)) = best else {
                break;
            };
            steps.push(MergeStep {
                left: symbols[at],
                right: symbols[at + 1],
                rank,
                result,
                at,
            });
            symbols.splice(at..at + 2, [result]);
        }
        Some(MergePath {
            start,
            steps,
            end: symbols,
        })
    }
}
