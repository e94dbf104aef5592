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

use serde::{Deserialize, Serialize};

use super::bpe::Bpe;

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

/// Replays BPE on the characters of vocabulary entry `piece` (as the vocabulary writes it:
/// `ĠParis`, `▁Paris`) with the model's own merge table ([`Bpe::merge`], the one its encoder
/// uses). `None` when a character is neither in the vocabulary nor covered by byte fallback.
pub fn path(bpe: &Bpe, piece: &str) -> Option<MergePath> {
    let mut symbols = Vec::new();
    for c in piece.chars() {
        let mut buf = [0u8; 4];
        match bpe.id(c.encode_utf8(&mut buf)) {
            Some(id) => symbols.push(id),
            None if bpe.options().byte_fallback => {
                for b in c.encode_utf8(&mut buf).bytes() {
                    symbols.push(bpe.byte_piece(b)?);
                }
            }
            None => return None,
        }
    }
    let start = symbols.clone();
    let mut steps = Vec::new();
    // The rule, until no pair has a merge: the lowest rank, leftmost on ties. (The encoder keeps
    // the candidates in a queue; here, for a token's few characters, each step looks at all.)
    loop {
        let best = symbols
            .windows(2)
            .enumerate()
            .filter_map(|(i, w)| bpe.merge(w[0], w[1]).map(|(rank, out)| (rank, i, out)))
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
