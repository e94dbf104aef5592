//! A piece of text on its way through the pipeline, and where each of its bytes came from.
//!
//! Normalizers and pre-tokenizers change the text (NFKC turns `ﬁ` into `fi`; GPT-2's alphabet
//! writes a space as `Ġ`), yet every token must still point at the bytes of the user's text it
//! stands for. So each byte of the changed text carries the range of the input it came from, its
//! *alignment*, kept by the same rules as the Hugging Face crate's `NormalizedString` (which a
//! test holds this pipeline to, IDs and offsets, on every shipped vocabulary):
//!
//! - a character replacing one keeps that one's alignment (`transform`, change `0`);
//! - a character *inserted* (change `+1`) takes the alignment of the byte before it, or an
//!   empty range at the piece's start if there is none;
//! - a character standing for several removed ones (change `-n`) keeps the first one's;
//! - a token's offsets are its first byte's start and its last byte's end.
//!
//! Alignments here are absolute (byte offsets in the whole input); the crate keeps them relative
//! to each piece and adds the piece's shift back at the end, which comes to the same numbers.

/// A range `start..end` of the input, in bytes.
pub type Span = (u32, u32);

/// How a split treats the parts its pattern matched (the crate's `SplitDelimiterBehavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Matches are dropped.
    Removed,
    /// Each match is a piece of its own.
    Isolated,
    /// A match joins the piece before it.
    MergedWithPrevious,
    /// A match joins the piece after it.
    MergedWithNext,
    /// Neighbouring parts of the same kind (matched or not) join.
    Contiguous,
}

impl Behavior {
    /// The name a `tokenizer.json` uses.
    pub fn from_name(name: &str) -> Option<Behavior> {
        Some(match name {
            "Removed" => Behavior::Removed,
            "Isolated" => Behavior::Isolated,
            "MergedWithPrevious" => Behavior::MergedWithPrevious,
            "MergedWithNext" => Behavior::MergedWithNext,
            "Contiguous" => Behavior::Contiguous,
            _ => return None,
        })
    }
}

/// Text with each byte's alignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub text: String,
    /// One per byte of `text`: the range of the input that byte came from.
    pub from: Vec<Span>,
    /// Where in the input this piece starts (the crate's `original_shift`): the empty range a
    /// character inserted before everything else is aligned to.
    pub shift: u32,
}

impl Text {
    /// The input itself: every byte aligned to its whole character. `None` past 4 GiB (offsets
    /// are 32-bit; the page bounds a text far below that).
    pub fn new(input: &str) -> Option<Text> {
        u32::try_from(input.len()).ok()?;
        let mut from = Vec::with_capacity(input.len());
        for (at, c) in input.char_indices() {
            let span = (at as u32, (at + c.len_utf8()) as u32);
            from.extend(std::iter::repeat_n(span, c.len_utf8()));
        }
        Some(Text {
            text: input.to_owned(),
            from,
            shift: 0,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The input range bytes `start..end` of this text stand for: the first byte's start and the
    /// last byte's end (the crate's `convert_offsets`). An empty range is returned as it is,
    /// shifted, as the crate does.
    pub fn span(&self, start: usize, end: usize) -> Span {
        if start >= end {
            return (self.shift + start as u32, self.shift + end as u32);
        }
        (self.from[start].0, self.from[end - 1].1)
    }

    /// Bytes `start..end` as a piece of their own (on character boundaries).
    pub fn slice(&self, start: usize, end: usize) -> Text {
        Text {
            text: self.text[start..end].to_owned(),
            from: self.from[start..end].to_vec(),
            shift: if start < end {
                self.from[start].0
            } else {
                self.shift + start as u32
            },
        }
    }

    /// Rewrites the whole text from `(character, change)` pairs in order (the crate's
    /// `transform`): change `0` replaces the next old character, `+1` inserts, `-n` replaces the
    /// next one and removes the `n` after it. `skip` old characters are removed first.
    pub fn transform(&mut self, dest: impl IntoIterator<Item = (char, isize)>, skip: usize) {
        let old = std::mem::take(&mut self.text);
        let old_from = std::mem::take(&mut self.from);
        let mut chars = old.chars();
        let mut offset: usize = chars.by_ref().take(skip).map(char::len_utf8).sum();
        let shift = self.shift;
        let at = |i: usize| old_from.get(i).copied().unwrap_or((shift, shift));
        for (c, change) in dest {
            let span = if change > 0 {
                match offset {
                    0 => (shift, shift),
                    _ => at(offset - 1),
                }
            } else {
                at(offset)
            };
            if change <= 0 {
                offset += chars.next().map_or(0, char::len_utf8);
            }
            if change < 0 {
                offset += chars
                    .by_ref()
                    .take(change.unsigned_abs())
                    .map(char::len_utf8)
                    .sum::<usize>();
            }
            self.push(c, span);
        }
    }

    fn push(&mut self, c: char, span: Span) {
        self.text.push(c);
        self.from.extend(std::iter::repeat_n(span, c.len_utf8()));
    }

    /// Puts `s` in front (the crate's `prepend`): every character of `s` takes the first
    /// character's alignment. Nothing happens to an empty text.
    pub fn prepend(&mut self, s: &str) {
        let Some(&first) = self.from.first() else {
            return;
        };
        let mut text = String::with_capacity(s.len() + self.text.len());
        text.push_str(s);
        text.push_str(&self.text);
        let mut from = Vec::with_capacity(text.len());
        from.extend(std::iter::repeat_n(first, s.len()));
        from.extend_from_slice(&self.from);
        self.text = text;
        self.from = from;
    }

    /// Replaces each of `matches` (byte ranges, in order, not overlapping) with `content` (the
    /// crate's `replace`): the new characters take the alignment of the byte before the match's
    /// end — the match's last byte, or for an empty match the byte before it.
    pub fn replace(&mut self, matches: &[(usize, usize)], content: &str) {
        if matches.is_empty() {
            return;
        }
        let mut text = String::with_capacity(self.text.len());
        let mut from = Vec::with_capacity(self.from.len());
        let mut last = 0;
        for &(start, end) in matches {
            text.push_str(&self.text[last..start]);
            from.extend_from_slice(&self.from[last..start]);
            let span = match end {
                0 => (self.shift, self.shift),
                _ => self.from[end - 1],
            };
            text.push_str(content);
            from.extend(std::iter::repeat_n(span, content.len()));
            last = end;
        }
        text.push_str(&self.text[last..]);
        from.extend_from_slice(&self.from[last..]);
        self.text = text;
        self.from = from;
    }

    /// Splits at `parts` — the whole text in order, each part marked matched or not — as
    /// `behavior` says; empty pieces are dropped (as the crate's pre-tokenized string does).
    pub fn split(&self, parts: &[((usize, usize), bool)], behavior: Behavior) -> Vec<Text> {
        let mut joined: Vec<((usize, usize), bool)> = Vec::with_capacity(parts.len());
        match behavior {
            Behavior::Isolated => joined.extend(parts.iter().map(|&(span, _)| (span, false))),
            Behavior::Removed => joined.extend_from_slice(parts),
            Behavior::Contiguous => {
                let mut previous = false;
                for &(span, matched) in parts {
                    match joined.last_mut() {
                        Some(((_, end), _)) if matched == previous => *end = span.1,
                        _ => joined.push((span, false)),
                    }
                    previous = matched;
                }
            }
            Behavior::MergedWithPrevious => {
                let mut previous = false;
                for &(span, matched) in parts {
                    match joined.last_mut() {
                        Some(((_, end), _)) if matched && !previous => *end = span.1,
                        _ => joined.push((span, false)),
                    }
                    previous = matched;
                }
            }
            Behavior::MergedWithNext => {
                let mut previous = false;
                for &(span, matched) in parts.iter().rev() {
                    match joined.last_mut() {
                        Some(((start, _), _)) if matched && !previous => *start = span.0,
                        _ => joined.push((span, false)),
                    }
                    previous = matched;
                }
                joined.reverse();
            }
        }
        joined
            .into_iter()
            .filter(|&((start, end), removed)| !removed && start < end)
            .map(|((start, end), _)| self.slice(start, end))
            .collect()
    }
}

/// The parts of `text` a list of matches makes: the whole text in order, each part marked as a
/// match or not (the other way round with `invert`). An empty text is one unmatched empty part.
pub fn parts(text: &str, matches: &[(usize, usize)], invert: bool) -> Vec<((usize, usize), bool)> {
    if text.is_empty() {
        return vec![((0, 0), invert)];
    }
    let mut parts = Vec::with_capacity(2 * matches.len() + 1);
    let mut prev = 0;
    for &(start, end) in matches {
        if prev != start {
            parts.push(((prev, start), invert));
        }
        parts.push(((start, end), !invert));
        prev = end;
    }
    if prev != text.len() {
        parts.push(((prev, text.len()), invert));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_text_aligns_each_byte_to_its_character() {
        let t = Text::new("aé").unwrap();
        assert_eq!(t.from, vec![(0, 1), (1, 3), (1, 3)]);
        assert_eq!(t.span(1, 2), (1, 3), "half a character covers all of it");
    }

    #[test]
    fn inserted_characters_take_the_previous_alignment() {
        // "ﬁ" (3 bytes) → "fi": f replaces it, i is inserted after it.
        let mut t = Text::new("xﬁ").unwrap();
        t.transform([('x', 0), ('f', 0), ('i', 1)], 0);
        assert_eq!(t.text, "xfi");
        assert_eq!(t.from, vec![(0, 1), (1, 4), (1, 4)]);
        // "e" + combining acute (1 + 2 bytes) → "é": keeps the first character's range only.
        let mut t = Text::new("e\u{301}!").unwrap();
        t.transform([('é', -1), ('!', 0)], 0);
        assert_eq!(t.text, "é!");
        assert_eq!(t.from, vec![(0, 1), (0, 1), (3, 4)]);
    }

    #[test]
    fn splits_follow_each_behaviour() {
        let t = Text::new("a--b").unwrap();
        let p = parts(&t.text, &[(1, 2), (2, 3)], false);
        let texts = |b| -> Vec<String> { t.split(&p, b).into_iter().map(|t| t.text).collect() };
        assert_eq!(texts(Behavior::Isolated), ["a", "-", "-", "b"]);
        assert_eq!(texts(Behavior::Removed), ["a", "b"]);
        assert_eq!(texts(Behavior::MergedWithPrevious), ["a-", "-", "b"]);
        assert_eq!(texts(Behavior::MergedWithNext), ["a", "-", "-b"]);
        assert_eq!(texts(Behavior::Contiguous), ["a", "--", "b"]);
        let sliced = t.split(&p, Behavior::Isolated);
        assert_eq!(sliced[3].shift, 3);
        assert_eq!(sliced[3].from, vec![(3, 4)]);
    }

    #[test]
    fn replacement_aligns_to_the_match_end() {
        let mut t = Text::new("a b").unwrap();
        t.replace(&[(1, 2)], "▁");
        assert_eq!(t.text, "a▁b");
        assert_eq!(t.from, vec![(0, 1), (1, 2), (1, 2), (1, 2), (2, 3)]);
        let mut t = Text::new("ab").unwrap();
        t.prepend("▁");
        assert_eq!(t.from[..3], [(0, 1); 3]);
    }
}
