//! Reading a `tokenizer.json`.
//!
//! A BPE vocabulary is read here directly: the model into tokenmeter's own [`Bpe`] (its lists
//! read in one pass, without the generic trees the tokenizers crate builds first), the other
//! parts kept as the file writes them for our own [`Pipeline`]. A file this reader does not take
//! (another model type, a step the pipeline does not have) is [`Refusal::Unsupported`]: a build
//! with the tokenizers crate then reads it with the crate (`engine.rs`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::bpe::{Bpe, Options};
use super::pipeline::{Parts, Pipeline, Unsupported};
use crate::{msg, Error, Result};

/// Why a file is not read here.
#[derive(Debug)]
pub enum Refusal {
    /// A file this reader does not take: the crate may read it.
    Unsupported(Unsupported),
    /// A BPE file whose lists are wrong (a merge naming a piece the vocabulary lacks): the crate
    /// refuses it too.
    Broken(Error),
}

/// Reads a `tokenizer.json` into our own pipeline.
pub(super) fn read(bytes: &[u8]) -> std::result::Result<Pipeline, Refusal> {
    let (bpe, parts) = match read_bpe(bytes) {
        None => {
            return Err(Refusal::Unsupported(Unsupported::new(
                "a tokenizer.json that is not a BPE vocabulary",
            )))
        }
        Some(Err(e)) => return Err(Refusal::Broken(e)),
        Some(Ok(read)) => read,
    };
    Pipeline::new(bpe, parts).map_err(Refusal::Unsupported)
}

/// The file: [`Parts`]' fields spelled out beside the model rather than `#[serde(flatten)]`, which
/// would buffer the whole file (the model's lists) into a generic tree first and lose the
/// borrowed strings.
#[derive(Deserialize)]
struct File<'a> {
    version: Option<String>,
    #[serde(default)]
    added_tokens: Vec<Value>,
    #[serde(default)]
    normalizer: Value,
    #[serde(default)]
    pre_tokenizer: Value,
    #[serde(default)]
    post_processor: Value,
    #[serde(default)]
    decoder: Value,
    #[serde(borrow)]
    model: BpeParts<'a>,
}

/// A BPE model's fields, as the crate's BPE reader takes them.
#[derive(Deserialize)]
struct BpeParts<'a> {
    #[serde(rename = "type")]
    kind: Option<String>,
    dropout: Option<f32>,
    unk_token: Option<String>,
    continuing_subword_prefix: Option<String>,
    end_of_word_suffix: Option<String>,
    fuse_unk: Option<bool>,
    byte_fallback: Option<bool>,
    ignore_merges: Option<bool>,
    vocab: ahash::AHashMap<String, u32>,
    #[serde(borrow)]
    merges: Vec<Merge<'a>>,
}

/// One merge: `["a", "b"]`, or the older `"a b"`. A file uses one form throughout. The pieces
/// point into the file where they can (a string without escapes): no allocation per merge.
enum Merge<'a> {
    Pair(Cow<'a, str>, Cow<'a, str>),
    Legacy(Cow<'a, str>),
}

/// A string of the file, borrowed where it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Str<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Str<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(Str(std::marker::PhantomData))
    }
}

/// Read as it comes (an array of two strings, or one string). A derived `#[serde(untagged)]`
/// enum would buffer each of the ~50,000 merges into a generic tree first and try each form on
/// it: a third of a vocabulary's reading time. Anything else is an error, as for the crate.
impl<'de: 'a, 'a> Deserialize<'de> for Merge<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Form<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Form<'a> {
            type Value = Merge<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a merge: ["a", "b"] or "a b""#)
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                line: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Merge::Legacy(Cow::Borrowed(line)))
            }
            fn visit_str<E: serde::de::Error>(self, line: &str) -> Result<Self::Value, E> {
                Ok(Merge::Legacy(Cow::Owned(line.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, line: String) -> Result<Self::Value, E> {
                Ok(Merge::Legacy(Cow::Owned(line)))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<Self::Value, S::Error> {
                use serde::de::Error;
                let Text(a) = seq
                    .next_element()?
                    .ok_or_else(|| S::Error::invalid_length(0, &self))?;
                let Text(b) = seq
                    .next_element()?
                    .ok_or_else(|| S::Error::invalid_length(1, &self))?;
                match seq.next_element::<serde::de::IgnoredAny>()? {
                    None => Ok(Merge::Pair(a, b)),
                    Some(_) => Err(S::Error::invalid_length(3, &self)),
                }
            }
        }
        d.deserialize_any(Form(std::marker::PhantomData))
    }
}

/// The model and the other parts, when `bytes` is a BPE `tokenizer.json` this reader takes as
/// the crate would (its model's lists may still be refused: a merge naming a piece the
/// vocabulary lacks); `None` for anything else.
fn read_bpe(bytes: &[u8]) -> Option<Result<(Bpe, Parts)>> {
    let file: File = serde_json::from_slice(bytes).ok()?;
    if file.version.as_deref().is_some_and(|v| v != "1.0")
        || file.model.kind.as_deref() != Some("BPE")
    {
        return None;
    }
    let parts = Parts {
        added_tokens: file.added_tokens,
        normalizer: file.normalizer,
        pre_tokenizer: file.pre_tokenizer,
        post_processor: file.post_processor,
        decoder: file.decoder,
    };
    Some(file.model.build()?.map(|bpe| (bpe, parts)))
}

impl BpeParts<'_> {
    /// The model; `None` where the crate would read the merges otherwise (see [`merge_pairs`]).
    fn build(self) -> Option<Result<Bpe>> {
        let merges = merge_pairs(self.merges)?;
        let options = Options {
            unk_token: self.unk_token,
            continuing_subword_prefix: self.continuing_subword_prefix,
            end_of_word_suffix: self.end_of_word_suffix,
            fuse_unk: self.fuse_unk.unwrap_or(false),
            byte_fallback: self.byte_fallback.unwrap_or(false),
            ignore_merges: self.ignore_merges.unwrap_or(false),
            dropout: self.dropout,
        };
        Some(Bpe::new(self.vocab, &merges, options))
    }
}

/// A BPE model from its `tokenizer.json` form alone (`engine.rs`: a model the crate read).
pub(super) fn bpe_from_model_json(json: &[u8]) -> Result<Bpe> {
    let parts: BpeParts =
        serde_json::from_slice(json).map_err(|e| Error::Tokenizer(msg!("{}", e.to_string())))?;
    parts
        .build()
        .unwrap_or_else(|| Err(Error::Tokenizer(msg!("cannot read the BPE model's merges"))))
}

/// The merges as pairs, in rank order; `None` where the crate would refuse them or read them
/// otherwise (both forms in one file; an old-style line that is not two pieces).
fn merge_pairs(merges: Vec<Merge<'_>>) -> Option<Vec<(Cow<'_, str>, Cow<'_, str>)>> {
    let legacy = matches!(merges.first(), Some(Merge::Legacy(_)));
    let mut pairs = Vec::with_capacity(merges.len());
    for merge in merges {
        match merge {
            Merge::Pair(a, b) if !legacy => pairs.push((a, b)),
            // The crate skips `#version` lines of a merges.txt.
            Merge::Legacy(line) if legacy && line.starts_with("#version") => {}
            Merge::Legacy(line) if legacy => {
                let (a, b) = match line {
                    Cow::Borrowed(line) => {
                        let (a, b) = split_pair(line)?;
                        (Cow::Borrowed(a), Cow::Borrowed(b))
                    }
                    Cow::Owned(line) => {
                        let (a, b) = split_pair(&line)?;
                        (Cow::Owned(a.to_string()), Cow::Owned(b.to_string()))
                    }
                };
                pairs.push((a, b));
            }
            _ => return None,
        }
    }
    Some(pairs)
}

/// `"a b"` → `("a", "b")`; `None` unless exactly two pieces.
fn split_pair(line: &str) -> Option<(&str, &str)> {
    let mut pieces = line.split(' ');
    match (pieces.next(), pieces.next(), pieces.next()) {
        (Some(a), Some(b), None) => Some((a, b)),
        _ => None,
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::super::{smollm2_info, TextTokenizer};
    use super::*;

    fn crate_reader(json: &str) -> tokenizers::Result<tokenizers::Tokenizer> {
        tokenizers::Tokenizer::from_bytes(json.as_bytes())
    }

    /// Read by our own reader, it gives the crate's IDs and offsets, and is written back as a
    /// file the crate reads as the same tokenizer.
    fn same(json: &str) {
        let ours =
            TextTokenizer::from_json(json.as_bytes(), smollm2_info()).expect("ours reads it");
        let theirs = crate_reader(json).expect("the crate reads it");
        for text in ["hello world", "lower newer <|end|> hello", "ab ab\n<x>"] {
            let enc = theirs.encode(text, false).expect("encode");
            let tokens = ours.tokenize(text).expect("encode");
            assert_eq!(
                tokens.iter().map(|t| t.id).collect::<Vec<_>>(),
                enc.get_ids(),
                "{json}: {text:?}"
            );
            let offsets: Vec<(usize, usize)> = tokens.iter().map(|t| (t.start, t.end)).collect();
            assert_eq!(offsets, enc.get_offsets(), "{json}: {text:?}");
        }
        let written = ours.to_json().expect("written");
        let back = crate_reader(&written).expect("the crate reads ours");
        assert!(
            back.to_string(false).ok() == theirs.to_string(false).ok(),
            "{json}: not the same tokenizer"
        );
    }

    const TEMPLATE: &str = r#"{
      "version": "1.0",
      "added_tokens": [
        {"id": 9, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 10, "content": "<x>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}
      ],
      "normalizer": {"type": "NFC"},
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
      "post_processor": null,
      "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
      "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
        "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": IGNORE,
        "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "he": 4, "ll": 5, "hell": 6, "Ġ": 7, "w": 8},
        "merges": MERGES}
    }"#;

    fn file(merges: &str, ignore: &str) -> String {
        TEMPLATE.replace("MERGES", merges).replace("IGNORE", ignore)
    }

    #[test]
    fn a_bpe_file_reads_as_the_crate_reads_it() {
        same(&file(r#"[["h", "e"], ["l", "l"], ["he", "ll"]]"#, "false"));
        same(&file(r#"["h e", "l l", "he ll"]"#, "true"));
        same(&file(
            r##"["#version: 0.2", "h e", "l l", "he ll"]"##,
            "false",
        ));
    }

    /// A split pattern our matcher would backtrack on without end (or only quadratically
    /// fail on, as `[^\r\n]*\r?\n` on a long line): it gives up after its step budget (counted in
    /// `pattern/tests.rs`), and that text is refused with a reason; a short text still encodes.
    #[test]
    fn a_pattern_ours_gives_up_on_is_refused_on_that_text() {
        for (pattern, text) in [
            (r"\\p{L}*\\p{L}*\\p{L}*\\p{L}*x", "hello".repeat(4000)),
            (
                r"[^\\r\\n]*\\r?\\n",
                format!("{}\\nhe", "hello ".repeat(4000)),
            ),
        ] {
            let json = file(r#"[["h", "e"]]"#, "false").replace(
                r#""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#,
                &format!(r#""pre_tokenizer": {{"type": "Split", "pattern": {{"Regex": "{pattern}"}}, "behavior": "Isolated", "invert": false}}"#),
            );
            assert!(
                json.contains(r#""type": "Split""#),
                "the template's pre-tokenizer replaced"
            );
            let ours = TextTokenizer::from_json(json.as_bytes(), smollm2_info()).expect("reads");
            let err = ours.tokenize(&text).map(|_| ()).unwrap_err();
            assert!(
                err.msg().to_string().contains("too many steps"),
                "{pattern}: {err:?}"
            );
            assert!(ours.tokenize("hello x").is_ok());
        }
    }

    #[test]
    fn what_this_reader_does_not_take_goes_to_the_crate() {
        // Both merge forms in one file, merges of three pieces or one, a merge that is neither
        // form, another version, another model.
        for json in [
            file(r#"[["h", "e"], "l l"]"#, "false"),
            file(r#"["h e l"]"#, "false"),
            file(r#"[["h", "e", "l"]]"#, "false"),
            file(r#"[["h"]]"#, "false"),
            file(r#"[{"h": "e"}]"#, "false"),
            file(r#"[["h", "e"]]"#, "false").replace(r#""version": "1.0""#, r#""version": "2.0""#),
            file(r#"[["h", "e"]]"#, "false").replace(r#""type": "BPE""#, r#""type": "WordLevel""#),
        ] {
            assert!(read_bpe(json.as_bytes()).is_none(), "{json}");
            assert!(
                matches!(read(json.as_bytes()), Err(Refusal::Unsupported(_))),
                "{json}"
            );
            // `from_json_any` then answers as the crate does, reading it or not.
            assert_eq!(
                TextTokenizer::from_json_any(json.as_bytes(), smollm2_info()).is_ok(),
                crate_reader(&json).is_ok(),
                "{json}"
            );
        }
        // A merge naming a piece missing from the vocabulary: refused, as by the crate.
        let json = file(r#"[["h", "z"]]"#, "false");
        let err = TextTokenizer::from_json_any(json.as_bytes(), smollm2_info())
            .map(|_| ())
            .unwrap_err();
        assert!(err.msg().to_string().contains("“z”"), "{err:?}");
        assert!(crate_reader(&json).is_err());
    }
}
