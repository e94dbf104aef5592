//! Piece → ID for a BPE vocabulary, without a `String` per piece.
//!
//! The model keeps every piece's text once, in one `String`, with each ID's byte range
//! ([`super::bpe`]). This index is a hash table of IDs only (open addressing: a piece's hash
//! picks a slot, and the next slots are tried in turn until its ID or an empty slot turns up;
//! at most half the slots are used), and every candidate is checked against the piece's text.
//! Filling it costs one hash per piece and no allocation; a `HashMap<String, u32>` cost a string
//! each — in the browser's first run of the code, the largest part of reading a small
//! vocabulary.

use ahash::RandomState;

/// A slot with no ID in it.
const EMPTY: u32 = u32::MAX;

pub struct PieceIndex {
    /// IDs, or [`EMPTY`]; a power of two in length.
    slots: Vec<u32>,
    /// How many slots hold an ID.
    len: usize,
    /// Seeded at random, as `HashMap`'s: a crafted file cannot choose pieces that all collide.
    hasher: RandomState,
}

impl PieceIndex {
    /// An empty index with room for `count` pieces.
    pub fn with_capacity(count: usize) -> Self {
        let size = (2 * count).max(16).next_power_of_two();
        Self {
            slots: vec![EMPTY; size],
            len: 0,
            hasher: RandomState::new(),
        }
    }

    /// The slot holding `key` (`Ok`) or the empty slot where it would go (`Err`). `text_of`
    /// gives an ID's piece.
    fn find<'t>(
        &self,
        key: &str,
        text_of: impl Fn(u32) -> Option<&'t str>,
    ) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut at = self.hasher.hash_one(key.as_bytes()) as usize & mask;
        loop {
            match self.slots[at] {
                EMPTY => return Err(at),
                id if text_of(id) == Some(key) => return Ok(at),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Adds piece `key` under `id`; a piece already there takes the new ID (as a map's insert).
    /// Beyond the capacity asked for, the table doubles.
    pub fn insert<'t>(&mut self, id: u32, key: &str, text_of: impl Fn(u32) -> Option<&'t str>) {
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow(&text_of);
        }
        match self.find(key, &text_of) {
            Ok(at) => self.slots[at] = id,
            Err(at) => {
                self.slots[at] = id;
                self.len += 1;
            }
        }
    }

    fn grow<'t>(&mut self, text_of: &impl Fn(u32) -> Option<&'t str>) {
        let size = 2 * self.slots.len();
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for id in old.into_iter().filter(|&id| id != EMPTY) {
            if let Some(key) = text_of(id) {
                if let Err(at) = self.find(key, text_of) {
                    self.slots[at] = id;
                }
            }
        }
    }

    /// The ID of piece `key`.
    pub fn get<'t>(&self, key: &str, text_of: impl Fn(u32) -> Option<&'t str>) -> Option<u32> {
        self.find(key, text_of).ok().map(|at| self.slots[at])
    }

    /// How many pieces.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every ID held, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().copied().filter(|&id| id != EMPTY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_put_in_and_nothing_else_across_growth() {
        let pieces: Vec<String> = (0..1000).map(|i| format!("p{i}")).collect();
        let text_of = |id: u32| pieces.get(id as usize).map(String::as_str);
        let mut index = PieceIndex::with_capacity(10); // grows several times
        for (id, p) in pieces.iter().enumerate() {
            index.insert(id as u32, p, text_of);
        }
        assert_eq!(index.len(), 1000);
        for (id, p) in pieces.iter().enumerate() {
            assert_eq!(index.get(p, text_of), Some(id as u32));
        }
        assert_eq!(index.get("p1000", text_of), None);
        assert_eq!(index.get("", text_of), None);
        let mut ids: Vec<u32> = index.ids().collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn a_piece_listed_twice_keeps_its_later_id() {
        let pieces = ["a", "b", "a"];
        let text_of = |id: u32| pieces.get(id as usize).copied();
        let mut index = PieceIndex::with_capacity(3);
        for (id, p) in pieces.iter().enumerate() {
            index.insert(id as u32, p, text_of);
        }
        assert_eq!(index.len(), 2);
        assert_eq!(index.get("a", text_of), Some(2));
        assert_eq!(index.get("b", text_of), Some(1));
    }
}
