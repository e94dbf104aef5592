//! The pre-tokenizer of the crate's pipeline (`engine.rs`, for a file our own pipeline does not
//! read): the steps a file names, in its order, with every split by a pattern —
//! a `Split` step's regex or string, and GPT-2's regex inside a `ByteLevel` step — matched by
//! our own [`Pattern`] instead of the `tokenizers` crate's regex engine. Other steps (`Digits`,
//! `Metaspace`, …) and any pattern our matcher leaves aside stay the crate's, and so does a text
//! on which our matcher runs out of steps (the crate's engine answers it as it always did: its
//! automaton, or its own backtracking limit). The file's own description is kept and written
//! back unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::tokenizer::pattern::Invert;
use tokenizers::utils::SysRegex;
use tokenizers::{Offsets, PreTokenizedString, SplitDelimiterBehavior};

use super::pattern::Pattern;

/// GPT-2's split, which the `ByteLevel` step applies when its `use_regex` is on (the default).
pub const GPT2_SPLIT: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// A pre-tokenizer as a file describes it, run as [`Step`]s.
#[derive(Clone)]
pub struct PreTokenizer {
    file: PreTokenizerWrapper,
    steps: Vec<Step>,
}

#[derive(Clone)]
enum Step {
    /// A `Split` step: pieces at the pattern's matches (`file` holds the crate's own, for a
    /// text ours gives up on).
    Split {
        pattern: Pattern,
        behavior: SplitDelimiterBehavior,
        invert: bool,
        file: Box<Split>,
    },
    /// A `ByteLevel` step: a space in front of the text if asked, GPT-2's split, then each byte
    /// as one character of GPT-2's alphabet (that last part is the crate's, with no regex).
    ByteLevel {
        add_prefix_space: bool,
        split: Pattern,
        bytes: ByteLevel,
    },
    /// A step without a pattern, or one ours does not read.
    Crate(PreTokenizerWrapper),
}

impl From<PreTokenizerWrapper> for PreTokenizer {
    fn from(file: PreTokenizerWrapper) -> Self {
        let mut steps = Vec::new();
        flatten(&file, &mut steps);
        PreTokenizer { file, steps }
    }
}

/// The steps of `wrapper` in order (a `Sequence` is its parts, each in turn).
fn flatten(wrapper: &PreTokenizerWrapper, steps: &mut Vec<Step>) {
    let ours = match wrapper {
        PreTokenizerWrapper::Sequence(seq) => {
            for part in seq.as_ref() {
                flatten(part, steps);
            }
            return;
        }
        PreTokenizerWrapper::Split(split) => {
            let pattern = match &split.pattern {
                SplitPattern::Regex(re) => Pattern::new(re),
                SplitPattern::String(s) => Pattern::new(&escape(s)),
            };
            pattern.ok().map(|pattern| Step::Split {
                pattern,
                behavior: split.behavior,
                invert: split.invert,
                file: Box::new(split.clone()),
            })
        }
        PreTokenizerWrapper::ByteLevel(b) if b.use_regex => {
            Pattern::new(GPT2_SPLIT).ok().map(|split| Step::ByteLevel {
                add_prefix_space: b.add_prefix_space,
                split,
                bytes: ByteLevel::new(false, b.trim_offsets, false),
            })
        }
        _ => None,
    };
    steps.push(ours.unwrap_or_else(|| Step::Crate(wrapper.clone())));
}

/// A literal string as a pattern: the crate's string split escapes it with `regex::escape`,
/// which escapes exactly these.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// GPT-2's split in the crate's engine, for a text our matcher gives up on (`None` only if the
/// crate could not read the very pattern its own `ByteLevel` uses).
fn gpt2_crate() -> Option<&'static SysRegex> {
    static RE: std::sync::OnceLock<Option<SysRegex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| SysRegex::new(GPT2_SPLIT).ok()).as_ref()
}

impl tokenizers::PreTokenizer for PreTokenizer {
    fn pre_tokenize(&self, pretokenized: &mut PreTokenizedString) -> tokenizers::Result<()> {
        for step in &self.steps {
            match step {
                Step::Split {
                    pattern,
                    behavior,
                    invert,
                    file,
                } => pretokenized.split(|_, normalized| {
                    normalized.split(Matches(pattern, Some(&file.regex), *invert), *behavior)
                })?,
                Step::ByteLevel {
                    add_prefix_space,
                    split,
                    bytes,
                } => {
                    pretokenized.split(|_, mut normalized| {
                        if *add_prefix_space && !normalized.get().starts_with(' ') {
                            normalized.prepend(" ");
                        }
                        normalized.split(
                            Matches(split, gpt2_crate(), false),
                            SplitDelimiterBehavior::Isolated,
                        )
                    })?;
                    bytes.pre_tokenize(pretokenized)?;
                }
                Step::Crate(wrapper) => wrapper.pre_tokenize(pretokenized)?,
            }
        }
        Ok(())
    }
}

/// Our matches in the form the crate's splitting wants ([`super::pipeline::text::parts`], as our
/// own pipeline splits). A text ours
/// gives up on is answered by the crate's engine with the same pattern.
struct Matches<'p>(&'p Pattern, Option<&'p SysRegex>, bool);

impl tokenizers::tokenizer::pattern::Pattern for Matches<'_> {
    fn find_matches(&self, inside: &str) -> tokenizers::Result<Vec<(Offsets, bool)>> {
        let Matches(pattern, crate_regex, invert) = *self;
        let Ok(found) = pattern.find_iter(inside) else {
            let crate_regex =
                crate_regex.ok_or("the split pattern needs too many steps on this text")?;
            return if invert {
                Invert(crate_regex).find_matches(inside)
            } else {
                crate_regex.find_matches(inside)
            };
        };
        Ok(super::pipeline::text::parts(inside, &found, invert))
    }
}

impl Serialize for PreTokenizer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.file.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PreTokenizer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PreTokenizerWrapper::deserialize(d).map(PreTokenizer::from)
    }
}
