//! Added tokens: strings matched whole in the text before anything else (`<|im_start|>`,
//! Gemma's runs of spaces), each one token.
//!
//! As in the Hugging Face crate (`AddedVocabulary`), a token marked `normalized: false` is found
//! in the raw text first; each remaining piece is then normalized on its own and searched for the
//! tokens marked `normalized: true` (written as the normalizer writes them). Both searches take,
//! at the leftmost place anything matches, the longest token that matches there. IDs are given as
//! the crate gives them: a token's own entry if the vocabulary has it, else the next free ID.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::normalizer::Normalizer;
use super::text::Text;
use super::Unsupported;
use crate::tokenizer::bpe::Bpe;

/// Longer tokens are left to the crate: a search costs up to this many steps per byte.
const MAX_TOKEN_BYTES: usize = 256;

/// One entry of a file's `added_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddedToken {
    pub content: String,
    pub special: bool,
    pub normalized: bool,
    pub single_word: bool,
    pub lstrip: bool,
    pub rstrip: bool,
}

impl AddedToken {
    /// A token as llama.cpp's special tokens are added: a control token is not normalized.
    pub fn new(content: &str, special: bool) -> AddedToken {
        AddedToken {
            content: content.to_owned(),
            special,
            normalized: !special,
            single_word: false,
            lstrip: false,
            rstrip: false,
        }
    }

    /// Reads `{"id": …, "content": …, "special": …, …}`: every field is required, as by the
    /// crate (which then numbers the tokens itself, [`Added::new`]).
    pub fn read(v: &Value) -> Result<AddedToken, Unsupported> {
        use super::read::{field, flag, string};
        field(v, "id")?
            .as_u64()
            .filter(|&id| u32::try_from(id).is_ok())
            .ok_or_else(|| Unsupported::new("an added token's id that is not a 32-bit number"))?;
        Ok(AddedToken {
            content: string(v, "content")?.to_owned(),
            special: flag(v, "special", None)?,
            normalized: flag(v, "normalized", None)?,
            single_word: flag(v, "single_word", None)?,
            lstrip: flag(v, "lstrip", None)?,
            rstrip: flag(v, "rstrip", None)?,
        })
    }

    /// As a file writes it (with its ID).
    pub fn to_json(&self, id: u32) -> Value {
        serde_json::json!({
            "id": id,
            "content": self.content,
            "single_word": self.single_word,
            "lstrip": self.lstrip,
            "rstrip": self.rstrip,
            "normalized": self.normalized,
            "special": self.special,
        })
    }
}

/// The added tokens, numbered, with the two searches.
#[derive(Clone)]
pub struct Added {
    /// ID → the token (the last one given for that ID, as in the crate).
    pub by_id: HashMap<u32, AddedToken>,
    /// The file's list as given (written back by `to_json`).
    pub listed: Vec<AddedToken>,
    /// Text → ID.
    ids: HashMap<String, u32>,
    raw: Trie,
    normalized: Trie,
}

impl Added {
    pub fn new(
        tokens: &[AddedToken],
        bpe: &Bpe,
        normalizer: &[Normalizer],
    ) -> Result<Added, Unsupported> {
        if let Some(t) = tokens
            .iter()
            .find(|t| t.lstrip || t.rstrip || t.single_word)
        {
            return Err(Unsupported(format!(
                "the added token {:?} (lstrip, rstrip or single_word)",
                t.content
            )));
        }
        // Numbered as `AddedVocabulary::add_tokens` numbers a file's list.
        let mut specials: Vec<&AddedToken> = Vec::new();
        let mut special_texts: HashSet<&str> = HashSet::new();
        for t in tokens {
            if t.special && !t.content.is_empty() && special_texts.insert(&t.content) {
                specials.push(t);
            }
        }
        let mut next = bpe.len() as u32;
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut by_id: HashMap<u32, AddedToken> = HashMap::new();
        let mut others: Vec<&AddedToken> = Vec::new();
        let mut seen: HashSet<&AddedToken> = HashSet::new();
        for t in tokens {
            if t.content.is_empty() || !seen.insert(t) {
                continue;
            }
            let id = match ids
                .get(t.content.as_str())
                .copied()
                .or_else(|| bpe.id(&t.content))
            {
                Some(id) => id,
                None => {
                    next += 1;
                    next - 1
                }
            };
            ids.insert(&t.content, id);
            by_id.insert(id, t.clone());
            if !special_texts.contains(t.content.as_str()) {
                others.push(t);
            }
        }
        let mut raw = Trie::default();
        let mut normalized = Trie::default();
        for t in specials.into_iter().chain(others) {
            let id = ids[t.content.as_str()];
            if t.normalized {
                let mut text = Text::new(&t.content)
                    .ok_or_else(|| Unsupported::new("an added token too long"))?;
                for step in normalizer {
                    step.apply(&mut text)
                        .map_err(|e| Unsupported(e.to_string()))?;
                }
                normalized.insert(&text.text, id)?;
            } else {
                raw.insert(&t.content, id)?;
            }
        }
        let ids = ids.into_iter().map(|(t, id)| (t.to_owned(), id)).collect();
        Ok(Added {
            by_id,
            ids,
            listed: tokens.to_vec(),
            raw,
            normalized,
        })
    }

    /// The list as a file writes it, each token with its ID (in the file's order; a token the
    /// crate would skip, an empty one, is left out).
    pub fn to_json(&self) -> Vec<Value> {
        self.listed
            .iter()
            .filter_map(|t| self.ids.get(&t.content).map(|&id| t.to_json(id)))
            .collect()
    }

    /// `text` cut at the tokens found in it (`normalized`: those written as the normalizer
    /// writes them; else those matched on the raw text): each piece with its token's ID, or
    /// `None` for text between them. Empty pieces are left out.
    pub fn split(&self, text: Text, normalized: bool) -> Vec<(Option<u32>, Text)> {
        let trie = if normalized {
            &self.normalized
        } else {
            &self.raw
        };
        if trie.is_empty() {
            // The whole text as one piece, which (as any slice) now starts where its first byte
            // came from: after a normalizer that moved it, no longer at the input's start.
            let Some(&(start, _)) = text.from.first() else {
                return Vec::new();
            };
            return vec![(
                None,
                Text {
                    shift: start,
                    ..text
                },
            )];
        }
        let bytes = text.text.as_bytes();
        let mut pieces = Vec::new();
        let (mut done, mut at) = (0, 0);
        while at < bytes.len() {
            match trie.longest(&bytes[at..]) {
                Some((len, id)) => {
                    if done < at {
                        pieces.push((None, text.slice(done, at)));
                    }
                    pieces.push((Some(id), text.slice(at, at + len)));
                    at += len;
                    done = at;
                }
                None => at += 1,
            }
        }
        if done < bytes.len() {
            pieces.push((None, text.slice(done, bytes.len())));
        }
        pieces
    }
}

/// Strings as a tree of their bytes.
#[derive(Clone)]
struct Trie {
    /// Node 0 is the root. Each node: its children by byte (sorted), and the ID of the token
    /// that ends there.
    nodes: Vec<Node>,
}

#[derive(Clone, Default)]
struct Node {
    children: Vec<(u8, u32)>,
    id: Option<u32>,
}

impl Default for Trie {
    fn default() -> Self {
        Trie {
            nodes: vec![Node::default()],
        }
    }
}

impl Trie {
    fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// Adds a token; the first ID given for a text stays (the crate's search reports the first
    /// of equal patterns).
    fn insert(&mut self, text: &str, id: u32) -> Result<(), Unsupported> {
        if text.is_empty() || text.len() > MAX_TOKEN_BYTES {
            return Err(Unsupported(format!(
                "an added token of {} bytes (written as the normalizer writes it)",
                text.len()
            )));
        }
        let mut node = 0usize;
        for &b in text.as_bytes() {
            node = match self.nodes[node].children.binary_search_by_key(&b, |c| c.0) {
                Ok(i) => self.nodes[node].children[i].1 as usize,
                Err(i) => {
                    let next = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[node].children.insert(i, (b, next as u32));
                    next
                }
            };
        }
        self.nodes[node].id.get_or_insert(id);
        Ok(())
    }

    /// The longest token that `bytes` starts with: its length and ID.
    fn longest(&self, bytes: &[u8]) -> Option<(usize, u32)> {
        let mut node = 0usize;
        let mut found = None;
        for (i, &b) in bytes.iter().enumerate() {
            let children = &self.nodes[node].children;
            match children.binary_search_by_key(&b, |c| c.0) {
                Ok(k) => node = children[k].1 as usize,
                Err(_) => break,
            }
            if let Some(id) = self.nodes[node].id {
                found = Some((i + 1, id));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_token_at_the_leftmost_place_wins() {
        let mut trie = Trie::default();
        trie.insert("  ", 1).unwrap();
        trie.insert("    ", 2).unwrap();
        trie.insert("<a>", 3).unwrap();
        assert_eq!(trie.longest(b"     x"), Some((4, 2)));
        assert_eq!(trie.longest(b"   x"), Some((2, 1)));
        assert_eq!(trie.longest(b"<a"), None);
        assert!(trie.insert("", 4).is_err());
    }
}
