//! The normalizer: rewrites applied to the text before it is split (Unicode normal forms, a
//! space written `▁`, lower case …), each keeping every byte's alignment ([`Text`]).
//!
//! Read from a `tokenizer.json`'s `normalizer`: the steps below, alone or in a `Sequence`.
//! Anything else (BERT's normalizer, SentencePiece's precompiled charsmap, …) is left to the
//! Hugging Face crate where a build has it ([`super::Unsupported`]).

use serde_json::Value;
use unicode_normalization_alignments::UnicodeNormalization;

use super::read::{field, kind, list, string};
use super::text::Text;
use super::Unsupported;
use crate::tokenizer::pattern::Pattern;
use crate::{msg, Error, Result};

#[derive(Clone)]
pub enum Normalizer {
    /// Unicode's canonical composition (`é` one character) …
    Nfc,
    /// … and decomposition (`e` + combining accent).
    Nfd,
    /// Compatibility composition: also `ﬁ` → `fi`, full-width `Ａ` → `A`.
    Nfkc,
    Nfkd,
    Lowercase,
    /// This text in front of a text that is not empty.
    Prepend(String),
    /// Every match of `find` becomes `content`.
    Replace {
        find: Find,
        content: String,
    },
}

#[derive(Clone)]
pub enum Find {
    Literal(String),
    Pattern(Pattern),
}

/// The steps of a `normalizer` description, in order (a `Sequence` is its parts).
pub fn read(v: &Value, steps: &mut Vec<Normalizer>) -> std::result::Result<(), Unsupported> {
    let step = match kind(v)? {
        "Sequence" => {
            for part in list(v, "normalizers")? {
                read(part, steps)?;
            }
            return Ok(());
        }
        "NFC" => Normalizer::Nfc,
        "NFD" => Normalizer::Nfd,
        "NFKC" => Normalizer::Nfkc,
        "NFKD" => Normalizer::Nfkd,
        "Lowercase" => Normalizer::Lowercase,
        // Prepending nothing is left to the crate, whose alignments then come out odd.
        "Prepend" => match string(v, "prepend")? {
            "" => return Err(Unsupported::new("a Prepend of nothing")),
            s => Normalizer::Prepend(s.to_owned()),
        },
        "Replace" => Normalizer::Replace {
            find: find(field(v, "pattern")?)?,
            content: string(v, "content")?.to_owned(),
        },
        other => return Err(Unsupported(format!("the normalizer {other}"))),
    };
    steps.push(step);
    Ok(())
}

/// A pattern as a file writes it: `{"String": "…"}` (literal) or `{"Regex": "…"}`.
pub fn find(v: &Value) -> std::result::Result<Find, Unsupported> {
    if let Some(s) = v.get("String").and_then(Value::as_str) {
        // The crate finds nothing in an empty text and mishandles an empty match at the start.
        if s.is_empty() {
            return Err(Unsupported::new("an empty pattern"));
        }
        return Ok(Find::Literal(s.to_owned()));
    }
    if let Some(re) = v.get("Regex").and_then(Value::as_str) {
        return Pattern::new(re)
            .map(Find::Pattern)
            .map_err(|e| Unsupported(format!("the pattern {re:?}: {}", e.0)));
    }
    Err(Unsupported::new(
        "a pattern that is neither String nor Regex",
    ))
}

impl Find {
    /// Where this matches in `text`: byte ranges, in order, not overlapping.
    pub fn matches(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        match self {
            Find::Literal(s) => Ok(text
                .match_indices(s.as_str())
                .map(|(at, m)| (at, at + m.len()))
                .collect()),
            Find::Pattern(p) => pattern_matches(p, text),
        }
    }
}

/// Where `pattern` matches in `text`; an error where the matcher gives up (a pattern that would
/// need too many steps on this text: its work is bounded).
pub fn pattern_matches(pattern: &Pattern, text: &str) -> Result<Vec<(usize, usize)>> {
    pattern.find_iter(text).map_err(|_| {
        Error::Tokenizer(msg!(
            "a pattern of this tokenizer needs too many steps on this text"
        ))
    })
}

impl Normalizer {
    pub fn apply(&self, t: &mut Text) -> Result<()> {
        match self {
            Normalizer::Nfc => t.transform(t.text.clone().nfc(), 0),
            Normalizer::Nfd => t.transform(t.text.clone().nfd(), 0),
            Normalizer::Nfkc => t.transform(t.text.clone().nfkc(), 0),
            Normalizer::Nfkd => t.transform(t.text.clone().nfkd(), 0),
            Normalizer::Lowercase => {
                let lower: Vec<(char, isize)> = t
                    .text
                    .chars()
                    .flat_map(|c| {
                        c.to_lowercase()
                            .enumerate()
                            .map(|(i, l)| (l, isize::from(i > 0)))
                    })
                    .collect();
                t.transform(lower, 0)
            }
            Normalizer::Prepend(s) => t.prepend(s),
            Normalizer::Replace { find, content } => {
                let matches = find.matches(&t.text)?;
                t.replace(&matches, content)
            }
        }
        Ok(())
    }
}
