//! The pre-tokenizer: the steps that cut the normalized text into the pieces BPE then merges
//! within (BPE never merges across two pieces), as a `tokenizer.json` names them.
//!
//! - `Split`: cut at a pattern's matches (our own [`Pattern`] matcher, or a literal string).
//! - `ByteLevel`: GPT-2's split (if `use_regex`), then every byte written as one character of
//!   GPT-2's alphabet (a space becomes `Ġ`), which is what the vocabulary's pieces are spelled in.
//! - `Digits`: every digit (or every run of digits) a piece of its own.
//! - `Metaspace`: spaces written `▁`, one put in front, cut before each `▁`.
//!
//! Other steps are left to the Hugging Face crate where a build has it ([`super::Unsupported`]).

use std::sync::OnceLock;

use serde_json::Value;

use super::normalizer::{find, pattern_matches, Find};
use super::read::{field, flag, kind, list, string};
use super::text::{parts, Behavior, Text};
use super::Unsupported;
use crate::tokenizer::byte_level::byte_to_char;
use crate::tokenizer::pattern::Pattern;
use crate::{msg, Error, Result};

/// GPT-2's split, which the `ByteLevel` step applies when its `use_regex` is on (the default).
pub const GPT2_SPLIT: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

#[derive(Clone)]
pub enum Step {
    Split {
        find: Find,
        behavior: Behavior,
        invert: bool,
    },
    ByteLevel {
        add_prefix_space: bool,
        use_regex: bool,
    },
    Digits {
        individual: bool,
    },
    Metaspace {
        replacement: char,
        prepend: Prepend,
        split: bool,
    },
}

/// When `Metaspace` puts a `▁` in front of a piece.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Prepend {
    Always,
    /// Only in front of the piece that starts the text.
    First,
    Never,
}

/// The steps of a `pre_tokenizer` description, in order (a `Sequence` is its parts).
pub fn read(v: &Value, steps: &mut Vec<Step>) -> std::result::Result<(), Unsupported> {
    let step = match kind(v)? {
        "Sequence" => {
            for part in list(v, "pretokenizers")? {
                read(part, steps)?;
            }
            return Ok(());
        }
        "Split" => Step::Split {
            find: find(field(v, "pattern")?)?,
            behavior: Behavior::from_name(string(v, "behavior")?)
                .ok_or_else(|| Unsupported::new("a split behavior"))?,
            invert: flag(v, "invert", None)?,
        },
        "ByteLevel" => {
            // Required by the crate (it refuses a file without them), but for `use_regex`.
            flag(v, "trim_offsets", None)?;
            let step = Step::ByteLevel {
                add_prefix_space: flag(v, "add_prefix_space", None)?,
                use_regex: flag(v, "use_regex", Some(true))?,
            };
            if let Step::ByteLevel {
                use_regex: true, ..
            } = step
            {
                gpt2()?;
            }
            step
        }
        "Digits" => Step::Digits {
            individual: flag(v, "individual_digits", None)?,
        },
        "Metaspace" => {
            let mut chars = string(v, "replacement")?.chars();
            let (Some(replacement), None) = (chars.next(), chars.next()) else {
                return Err(Unsupported::new(
                    "a Metaspace replacement of other than one character",
                ));
            };
            // As the crate reads it: `prepend_scheme` "always" unless given; an older file's
            // `add_prefix_space: false` must come with "never"; `split` on unless given.
            let prepend = match v.get("prepend_scheme").map(Value::as_str) {
                None => Prepend::Always,
                Some(Some("always")) => Prepend::Always,
                Some(Some("first")) => Prepend::First,
                Some(Some("never")) => Prepend::Never,
                _ => return Err(Unsupported::new("a Metaspace prepend_scheme")),
            };
            if !flag(v, "add_prefix_space", Some(true))? && prepend != Prepend::Never {
                return Err(Unsupported::new(
                    "a Metaspace whose add_prefix_space contradicts its prepend_scheme",
                ));
            }
            Step::Metaspace {
                replacement,
                prepend,
                split: flag(v, "split", Some(true))?,
            }
        }
        other => return Err(Unsupported(format!("the pre-tokenizer {other}"))),
    };
    steps.push(step);
    Ok(())
}

fn gpt2() -> std::result::Result<&'static Pattern, Unsupported> {
    static GPT2: OnceLock<Option<Pattern>> = OnceLock::new();
    GPT2.get_or_init(|| Pattern::new(GPT2_SPLIT).ok())
        .as_ref()
        .ok_or_else(|| Unsupported::new("GPT-2's split"))
}

impl Step {
    /// Applies the step to one piece: the pieces it becomes (none empty).
    pub fn apply(&self, mut t: Text, out: &mut Vec<Text>) -> Result<()> {
        match self {
            Step::Split {
                find,
                behavior,
                invert,
            } => {
                let matches = find.matches(&t.text)?;
                out.extend(t.split(&parts(&t.text, &matches, *invert), *behavior));
            }
            Step::ByteLevel {
                add_prefix_space,
                use_regex,
            } => {
                if *add_prefix_space && !t.text.starts_with(' ') {
                    t.prepend(" ");
                }
                let pieces = if *use_regex {
                    let gpt2 = gpt2().map_err(|e| Error::Tokenizer(msg!("{}", e.0)))?;
                    let matches = pattern_matches(gpt2, &t.text)?;
                    t.split(&parts(&t.text, &matches, false), Behavior::Isolated)
                } else if t.is_empty() {
                    Vec::new()
                } else {
                    vec![t]
                };
                out.extend(pieces.into_iter().map(|p| byte_level(&p)));
            }
            Step::Digits { individual } => {
                let behavior = if *individual {
                    Behavior::Isolated
                } else {
                    Behavior::Contiguous
                };
                let matches = char_matches(&t.text, char::is_numeric);
                out.extend(t.split(&parts(&t.text, &matches, false), behavior));
            }
            Step::Metaspace {
                replacement,
                prepend,
                split,
            } => {
                let rep = replacement.to_string();
                t.replace(&char_matches(&t.text, |c| c == ' '), &rep);
                let front = match prepend {
                    Prepend::Always => true,
                    Prepend::First => t.shift == 0,
                    Prepend::Never => false,
                };
                if front && !t.text.starts_with(*replacement) {
                    t.prepend(&rep);
                }
                if *split {
                    let matches = char_matches(&t.text, |c| c == *replacement);
                    out.extend(t.split(&parts(&t.text, &matches, false), Behavior::MergedWithNext));
                } else if !t.is_empty() {
                    out.push(t);
                }
            }
        }
        Ok(())
    }
}

/// Each character for which `is` holds, as a match of its own.
fn char_matches(text: &str, is: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    text.char_indices()
        .filter(|&(_, c)| is(c))
        .map(|(at, c)| (at, at + c.len_utf8()))
        .collect()
}

/// Every byte as its character of GPT-2's alphabet, aligned as the crate aligns it: a
/// character's first byte keeps the character's first alignment, the others take its last.
fn byte_level(t: &Text) -> Text {
    let mut out = Text {
        text: String::with_capacity(2 * t.text.len()),
        from: Vec::with_capacity(2 * t.text.len()),
        shift: t.shift,
    };
    for (at, c) in t.text.char_indices() {
        let end = at + c.len_utf8();
        for (i, &b) in t.text.as_bytes()[at..end].iter().enumerate() {
            let span = if i == 0 { t.from[at] } else { t.from[end - 1] };
            let ch = byte_to_char(b);
            out.text.push(ch);
            out.from.extend(std::iter::repeat_n(span, ch.len_utf8()));
        }
    }
    out
}
