//! Byte-pair encoding, tokenmeter's own model: a word's characters joined by ranked merges.
//!
//! BPE (Sennrich et al. 2016) keeps an ordered list of merges — "join `a` and `b` into `ab`",
//! the most frequent pair of the training text first. Encoding one word (one piece of the
//! pre-tokenizer's split) starts from its characters and repeats one rule until no merge applies:
//!
//! ```text
//! join the adjacent pair whose merge comes earliest in the list (its rank); leftmost on ties
//! ```
//!
//! This is the rule and the options of the Hugging Face `tokenizers` BPE model (a test holds
//! both to the same IDs and offsets on every shipped vocabulary), built straight from the
//! vocabulary's lists: the crate's builder formats a string and does three lookups per merge,
//! about a third of a vocabulary's reading time. Our own pipeline ([`super::pipeline`]) runs
//! everything around the model (added tokens, normalizer, pre-tokenizer, offsets) and asks this
//! one for each word.
//!
//! A character the vocabulary lacks becomes its UTF-8 bytes (`<0xE4>` pieces, `byte_fallback`),
//! else the unknown token (`unk_token`; runs of them fused into one with `fuse_unk`), else it is
//! dropped, as by the crate. `dropout` (random skipped merges, for training) is read and written
//! back but never applied: tokenmeter shows the encoding a model sees at inference.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use ahash::AHashMap;
use std::sync::Mutex;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use super::piece_index::PieceIndex;
use crate::{msg, Error, Result};

/// A BPE model's settings, as `tokenizer.json` names them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub unk_token: Option<String>,
    /// Put before every character but a word's first when looking it up (WordPiece style `##`).
    pub continuing_subword_prefix: Option<String>,
    /// Put after a word's last character when looking it up.
    pub end_of_word_suffix: Option<String>,
    pub fuse_unk: bool,
    pub byte_fallback: bool,
    /// A word that is itself a vocabulary entry is taken whole (Llama 3, Mistral NeMo).
    pub ignore_merges: bool,
    pub dropout: Option<f32>,
}

/// Words shorter than this many bytes are remembered, up to [`CACHE_WORDS`] of them (as the
/// crate does: most text repeats its words).
const CACHE_MAX_BYTES: usize = 256;
const CACHE_WORDS: usize = 10_000;

/// How far past twice its number of entries a vocabulary's largest ID may be (real vocabularies
/// leave small gaps, e.g. reserved special-token slots). Per-ID tables are sized by the largest
/// ID: a file naming ID 4,294,967,295 must not ask for gigabytes.
pub const MAX_ID_GAP: u64 = 1 << 16;

pub struct Bpe {
    /// piece → ID, checked against `text`.
    vocab: PieceIndex,
    /// Every piece's text, one after another (one allocation instead of one per piece).
    text: String,
    /// ID → its piece's byte range in `text` (`None`: a gap in the IDs).
    pieces: Vec<Option<(u32, u32)>>,
    /// `(left, right)` → `(rank, result)`: the merge list as a lookup table.
    merges: AHashMap<(u32, u32), (u32, u32)>,
    options: Options,
    /// Word → its symbols as (ID, byte length).
    cache: Mutex<HashMap<String, Vec<(u32, usize)>>>,
}

/// The text of ID `id`: its byte range in `text`.
fn piece_of<'t>(text: &'t str, pieces: &[Option<(u32, u32)>], id: u32) -> Option<&'t str> {
    let (start, end) = (*pieces.get(id as usize)?)?;
    text.get(start as usize..end as usize)
}

/// One symbol of a word being merged: a vocabulary ID covering `len` bytes of the word, in a
/// doubly linked row (`NONE` at the ends); `len == 0` once merged into its left neighbour.
#[derive(Clone, Copy)]
struct Symbol {
    id: u32,
    len: usize,
    prev: usize,
    next: usize,
}
const NONE: usize = usize::MAX;

impl Bpe {
    /// A model from its vocabulary and its merges in rank order (pairs of pieces). A merge naming
    /// a piece the vocabulary lacks, or making one, is an error; a pair listed twice keeps its
    /// later rank, as in the crate.
    pub fn new<S: AsRef<str>>(
        vocab: AHashMap<String, u32>,
        merges: &[(S, S)],
        options: Options,
    ) -> Result<Self> {
        let largest = vocab.values().map(|&id| u64::from(id)).max();
        let size = match largest {
            None => 0,
            Some(largest) if largest < 2 * vocab.len() as u64 + MAX_ID_GAP => largest as usize + 1,
            Some(largest) => {
                return Err(Error::Tokenizer(msg!(
                    "token ID {} is far beyond the vocabulary's {} entries",
                    largest,
                    vocab.len()
                )))
            }
        };
        let mut pieces = vec![None; size];
        let mut text = String::with_capacity(vocab.keys().map(String::len).sum());
        for (piece, &id) in &vocab {
            let start = text.len();
            text.push_str(piece);
            let span = u32::try_from(start)
                .ok()
                .zip(u32::try_from(text.len()).ok());
            pieces[id as usize] =
                Some(span.ok_or_else(|| {
                    Error::Tokenizer(msg!("the vocabulary's pieces are too long"))
                })?);
        }
        // The right piece's continuing prefix is not repeated in what the merge makes.
        let prefix_len = options
            .continuing_subword_prefix
            .as_ref()
            .map_or(0, String::len);
        let missing = |piece: &str| {
            Error::Tokenizer(msg!(
                "a merge names “{}”, which is not in the vocabulary",
                piece
            ))
        };
        let mut table = AHashMap::with_capacity(merges.len());
        let mut joined = String::new();
        for (rank, (a, b)) in merges.iter().enumerate() {
            let (a, b) = (a.as_ref(), b.as_ref());
            let left = *vocab.get(a).ok_or_else(|| missing(a))?;
            let right = *vocab.get(b).ok_or_else(|| missing(b))?;
            joined.clear();
            joined.push_str(a);
            joined.push_str(b.get(prefix_len..).ok_or_else(|| missing(b))?);
            let result = *vocab.get(&joined).ok_or_else(|| missing(&joined))?;
            let rank =
                u32::try_from(rank).map_err(|_| Error::Tokenizer(msg!("more merges than IDs")))?;
            table.insert((left, right), (rank, result));
        }
        Self::assemble(text, pieces, table, options)
    }

    /// The model from its checked tables, once its options are checked too: what both readers
    /// ([`Bpe::new`], [`Bpe::from_lists`]) end with, so that they accept the same options.
    fn assemble(
        text: String,
        pieces: Vec<Option<(u32, u32)>>,
        merges: AHashMap<(u32, u32), (u32, u32)>,
        options: Options,
    ) -> Result<Self> {
        if let Some(p) = options.dropout {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::Tokenizer(msg!("dropout must be between 0 and 1")));
            }
        }
        let vocab = {
            let text_of = |id: u32| piece_of(&text, &pieces, id);
            let mut index = PieceIndex::with_capacity(pieces.len());
            for id in 0..pieces.len() as u32 {
                if let Some(piece) = text_of(id) {
                    index.insert(id, piece, text_of);
                }
            }
            index
        };
        Ok(Self {
            vocab,
            text,
            pieces,
            merges,
            options,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A model from lists that are already numbers (a packed vocabulary, [`super::packed`]): the
    /// pieces in one text with each ID's byte range, and each merge as (rank, left, right,
    /// result).
    pub fn from_lists(
        text: String,
        pieces: Vec<Option<(u32, u32)>>,
        merges: &[[u32; 4]],
        options: Options,
    ) -> Result<Self> {
        let mut entries = 0u64;
        for (id, span) in pieces.iter().enumerate() {
            if let Some((start, end)) = *span {
                text.get(start as usize..end as usize).ok_or_else(|| {
                    Error::Tokenizer(msg!("piece {} is outside the vocabulary's text", id))
                })?;
                entries += 1;
            }
        }
        if pieces.len() as u64 > 2 * entries + MAX_ID_GAP {
            return Err(Error::Tokenizer(msg!(
                "token ID {} is far beyond the vocabulary's {} entries",
                pieces.len() - 1,
                entries
            )));
        }
        let piece = |id: u32| match pieces.get(id as usize) {
            // Every span was checked above to lie in `text`.
            Some(Some((start, end))) => text.get(*start as usize..*end as usize),
            _ => None,
        };
        // As [`Bpe::new`] makes it: the right piece's continuing prefix is not repeated.
        let prefix_len = options
            .continuing_subword_prefix
            .as_ref()
            .map_or(0, String::len);
        let mut table = AHashMap::with_capacity(merges.len());
        for &[rank, left, right, result] in merges {
            let (Some(a), Some(b), Some(made)) = (piece(left), piece(right), piece(result)) else {
                return Err(Error::Tokenizer(msg!(
                    "merge {} names an ID the vocabulary does not have",
                    rank
                )));
            };
            // What a merge makes is its two pieces joined, or it would show a token whose
            // text is not the text it covers.
            let joins = b.get(prefix_len..).is_some_and(|tail| {
                made.len() == a.len() + tail.len() && made.starts_with(a) && made.ends_with(tail)
            });
            if !joins {
                return Err(Error::Tokenizer(msg!(
                    "merge {} does not make its two pieces joined",
                    rank
                )));
            }
            table.insert((left, right), (rank, result));
        }
        Self::assemble(text, pieces, table, options)
    }

    /// Every merge as (rank, left, right, result), in rank order.
    pub fn ranked_merges(&self) -> Vec<(u32, u32, u32, u32)> {
        let mut ranked: Vec<(u32, u32, u32, u32)> = self
            .merges
            .iter()
            .map(|(&(l, r), &(rank, out))| (rank, l, r, out))
            .collect();
        ranked.sort_unstable();
        ranked
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The ID of a piece as the vocabulary writes it (`ĠParis`, `▁Paris`).
    pub fn id(&self, piece: &str) -> Option<u32> {
        self.vocab.get(piece, |id| self.piece(id))
    }

    /// The piece of an ID.
    pub fn piece(&self, id: u32) -> Option<&str> {
        piece_of(&self.text, &self.pieces, id)
    }

    /// One more than the largest ID.
    pub fn id_limit(&self) -> usize {
        self.pieces.len()
    }

    /// How many entries the vocabulary has.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// Every `(piece, ID)` (a piece listed under two IDs: the later one).
    pub fn entries(&self) -> impl Iterator<Item = (&str, u32)> {
        self.vocab
            .ids()
            .filter_map(|id| Some((self.piece(id)?, id)))
    }

    /// The merge of a pair, if the list has one: `(rank, result)`.
    pub fn merge(&self, left: u32, right: u32) -> Option<(u32, u32)> {
        self.merges.get(&(left, right)).copied()
    }

    /// The `<0xE4>` piece's ID for one byte (byte fallback).
    pub fn byte_piece(&self, byte: u8) -> Option<u32> {
        self.id(&format!("<0x{byte:02X}>"))
    }

    /// Encodes one word (a piece of the pre-tokenizer's split): its tokens as (ID, byte length),
    /// in order.
    pub fn encode_word(&self, word: &str) -> Result<Vec<(u32, usize)>> {
        if word.is_empty() {
            return Ok(Vec::new());
        }
        if self.options.ignore_merges {
            if let Some(id) = self.id(word) {
                return Ok(vec![(id, word.len())]);
            }
        }
        if let Some(hit) = self
            .cache
            .try_lock()
            .ok()
            .and_then(|c| c.get(word).cloned())
        {
            return Ok(hit);
        }
        let mut symbols = self.symbols(word)?;
        self.merge_all(&mut symbols);
        let out: Vec<(u32, usize)> = symbols
            .iter()
            .filter(|s| s.len > 0)
            .map(|s| (s.id, s.len))
            .collect();
        if word.len() < CACHE_MAX_BYTES {
            if let Ok(mut cache) = self.cache.try_lock() {
                if cache.len() < CACHE_WORDS {
                    cache.insert(word.to_owned(), out.clone());
                }
            }
        }
        Ok(out)
    }

    /// The word's starting symbols: one per character (with the prefix and suffix), its bytes
    /// where the vocabulary lacks it, or the unknown token.
    fn symbols(&self, word: &str) -> Result<Vec<Symbol>> {
        let mut out: Vec<Symbol> = Vec::with_capacity(word.len());
        let mut push = |id: u32, len: usize| {
            let at = out.len();
            if let Some(last) = out.last_mut() {
                last.next = at;
            }
            out.push(Symbol {
                id,
                len,
                prev: if at == 0 { NONE } else { at - 1 },
                next: NONE,
            });
        };
        // A run of unknown characters waiting to be pushed: (unk ID, bytes covered).
        let mut unk: Option<(u32, usize)> = None;
        let mut key = String::new();
        let mut chars = word.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            let is_last = chars.peek().is_none();
            key.clear();
            if at > 0 {
                if let Some(prefix) = &self.options.continuing_subword_prefix {
                    key.push_str(prefix);
                }
            }
            key.push(c);
            if is_last {
                if let Some(suffix) = &self.options.end_of_word_suffix {
                    key.push_str(suffix);
                }
            }
            let len = c.len_utf8();
            if let Some(id) = self.id(&key) {
                if let Some((unk_id, unk_len)) = unk.take() {
                    push(unk_id, unk_len);
                }
                push(id, len);
                continue;
            }
            if self.options.byte_fallback {
                let bytes: Option<Vec<u32>> = key.bytes().map(|b| self.byte_piece(b)).collect();
                if let Some(bytes) = bytes {
                    // As the crate: a waiting unknown run stays waiting.
                    for id in bytes {
                        push(id, 1);
                    }
                    continue;
                }
            }
            let Some(unk_piece) = &self.options.unk_token else {
                continue; // no unknown token: the character is dropped
            };
            let unk_id = self.id(unk_piece).ok_or_else(|| {
                Error::Tokenizer(msg!(
                    "the unknown token “{}” is not in the vocabulary",
                    unk_piece
                ))
            })?;
            unk = match unk {
                Some((id, run)) if self.options.fuse_unk => Some((id, run + len)),
                Some((id, run)) => {
                    push(id, run);
                    Some((unk_id, len))
                }
                None => Some((unk_id, len)),
            };
        }
        if let Some((unk_id, unk_len)) = unk {
            push(unk_id, unk_len);
        }
        Ok(out)
    }

    /// The rule, until no pair has a merge: the lowest rank, leftmost on ties. A queue holds every
    /// candidate pair as (rank, position of its left symbol, result); a candidate whose symbols
    /// changed since it was queued is skipped when it comes up.
    fn merge_all(&self, symbols: &mut [Symbol]) {
        let mut queue: BinaryHeap<Reverse<(u32, usize, u32)>> = symbols
            .windows(2)
            .enumerate()
            .filter_map(|(at, pair)| {
                let (rank, result) = self.merge(pair[0].id, pair[1].id)?;
                Some(Reverse((rank, at, result)))
            })
            .collect();
        while let Some(Reverse((_, at, result))) = queue.pop() {
            let left = symbols[at];
            if left.len == 0 || left.next == NONE {
                continue;
            }
            let right = symbols[left.next];
            if self.merge(left.id, right.id).map(|m| m.1) != Some(result) {
                continue; // stale: one of the two was merged with something else since
            }
            // left + right → result, in left's place; right is gone.
            symbols[at].id = result;
            symbols[at].len += right.len;
            symbols[at].next = right.next;
            symbols[left.next].len = 0;
            if right.next != NONE {
                symbols[right.next].prev = at;
            }
            // The new symbol's pairs with its neighbours become candidates.
            let merged = symbols[at];
            if merged.prev != NONE {
                if let Some((rank, out)) = self.merge(symbols[merged.prev].id, merged.id) {
                    queue.push(Reverse((rank, merged.prev, out)));
                }
            }
            if merged.next != NONE {
                if let Some((rank, out)) = self.merge(merged.id, symbols[merged.next].id) {
                    queue.push(Reverse((rank, at, out)));
                }
            }
        }
    }

    /// The merges in rank order, as pairs of pieces.
    fn merges_in_order(&self) -> Vec<(&str, &str)> {
        self.ranked_merges()
            .into_iter()
            .filter_map(|(_, l, r, _)| Some((self.piece(l)?, self.piece(r)?)))
            .collect()
    }
}

/// Written as the crate writes a BPE model in `tokenizer.json` (vocabulary in ID order, merges
/// in rank order), so the Python and JavaScript `tokenizers` read it back.
impl Serialize for Bpe {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        struct InIdOrder<'a>(&'a Bpe);
        impl Serialize for InIdOrder<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(None)?;
                for id in 0..self.0.id_limit() as u32 {
                    if let Some(piece) = self.0.piece(id) {
                        map.serialize_entry(piece, &id)?;
                    }
                }
                map.end()
            }
        }
        let o = &self.options;
        let mut model = s.serialize_struct("BPE", 10)?;
        model.serialize_field("type", "BPE")?;
        model.serialize_field("dropout", &o.dropout)?;
        model.serialize_field("unk_token", &o.unk_token)?;
        model.serialize_field("continuing_subword_prefix", &o.continuing_subword_prefix)?;
        model.serialize_field("end_of_word_suffix", &o.end_of_word_suffix)?;
        model.serialize_field("fuse_unk", &o.fuse_unk)?;
        model.serialize_field("byte_fallback", &o.byte_fallback)?;
        model.serialize_field("ignore_merges", &o.ignore_merges)?;
        model.serialize_field("vocab", &InIdOrder(self))?;
        model.serialize_field("merges", &self.merges_in_order())?;
        model.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(pieces: &[&str], merges: &[(&str, &str)], options: Options) -> Bpe {
        let vocab: AHashMap<String, u32> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_string(), i as u32))
            .collect();
        let merges: Vec<(String, String)> = merges
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Bpe::new(vocab, &merges, options).expect("model")
    }

    #[test]
    fn the_lowest_rank_merges_first_and_the_leftmost_on_ties() {
        // 0 a, 1 b, 2 ab, 3 aa, 4 aab
        let m = model(
            &["a", "b", "ab", "aa", "aab"],
            &[("a", "a"), ("a", "b"), ("aa", "b")],
            Options::default(),
        );
        // "aab": (a,a) rank 0 before (a,b) rank 1 → aa b → aab.
        assert_eq!(m.encode_word("aab").unwrap(), vec![(4, 3)]);
        // "aaa": two (a,a) at 0 and 1; the leftmost goes first → aa a.
        assert_eq!(m.encode_word("aaa").unwrap(), vec![(3, 2), (0, 1)]);
        // "aaab" → aa a b → aa ab (aab needs aa+b adjacent; it is not).
        assert_eq!(m.encode_word("aaab").unwrap(), vec![(3, 2), (2, 2)]);
    }

    #[test]
    fn missing_characters_fall_back_to_bytes_or_the_unknown_token() {
        let pieces = ["<unk>", "a", "<0xC3>", "<0xA9>"];
        let fallback = Options {
            byte_fallback: true,
            unk_token: Some("<unk>".into()),
            ..Options::default()
        };
        let m = model(&pieces, &[], fallback);
        assert_eq!(m.encode_word("aé").unwrap(), vec![(1, 1), (2, 1), (3, 1)]);
        let fused = Options {
            unk_token: Some("<unk>".into()),
            fuse_unk: true,
            ..Options::default()
        };
        let m = model(&pieces, &[], fused);
        assert_eq!(m.encode_word("éé a").unwrap(), vec![(0, 5), (1, 1)]);
        let unfused = Options {
            unk_token: Some("<unk>".into()),
            ..Options::default()
        };
        let m = model(&pieces, &[], unfused);
        assert_eq!(m.encode_word("éé").unwrap(), vec![(0, 2), (0, 2)]);
        // Without an unknown token the character is dropped.
        let m = model(&pieces, &[], Options::default());
        assert_eq!(m.encode_word("éa").unwrap(), vec![(1, 1)]);
    }

    #[test]
    fn bad_lists_are_refused() {
        let vocab: AHashMap<String, u32> = [("a".to_string(), 0)].into_iter().collect();
        let merges = [("a".to_string(), "z".to_string())];
        assert!(Bpe::new(vocab.clone(), &merges, Options::default()).is_err());
        let far: AHashMap<String, u32> = [("a".to_string(), u32::MAX)].into_iter().collect();
        assert!(Bpe::new::<&str>(far, &[], Options::default()).is_err());
        let dropout = Options {
            dropout: Some(1.5),
            ..Options::default()
        };
        assert!(Bpe::new::<&str>(vocab, &[], dropout.clone()).is_err());
        // The packed reader accepts exactly the same options.
        let lists = |options| Bpe::from_lists("a".to_string(), vec![Some((0, 1))], &[], options);
        assert!(lists(Options::default()).is_ok());
        assert!(lists(dropout).is_err());
    }
}
