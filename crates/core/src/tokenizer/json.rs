//! Reading a `tokenizer.json`.
//!
//! The tokenizers crate reads its file through two generic trees: its `model` is buffered whole
//! (an untagged enum), then turned into a `serde_json::Value` (a sorted map of every vocabulary
//! entry), and only then into the BPE model. For a BPE vocabulary that doubles the time a
//! vocabulary takes to load, against the direct read below (natively: SmolLM2 72 → 35 ms, o200k
//! 353 → 198 ms, Gemma 3 955 → 553 ms; BENCHMARKS.md).
//!
//! So a BPE `tokenizer.json` is read here directly into the same parts — the BPE model through
//! the crate's own `BpeBuilder`, the normalizer, pre-tokenizer, post-processor and decoder
//! through the crate's own types, the added tokens added last as the crate does — which builds
//! the same tokenizer (a test compares both readers' serialisations of every shipped vocabulary).
//! Anything else (another model type, a file this reader does not take as the crate would), or
//! any error, goes to the crate's own reader, so its results and messages stay the crate's.

use serde::Deserialize;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::models::ModelWrapper;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::AddedToken;

/// Reads a `tokenizer.json`: a BPE vocabulary directly, anything else by the crate.
pub(super) fn read(bytes: &[u8]) -> tokenizers::Result<tokenizers::Tokenizer> {
    match read_bpe(bytes) {
        Some(tokenizer) => Ok(tokenizer),
        None => tokenizers::Tokenizer::from_bytes(bytes),
    }
}

/// The top-level parts the crate reads (`truncation` and `padding` are dropped by the caller;
/// other keys are ignored, as by the crate).
#[derive(Deserialize)]
struct Parts {
    version: Option<String>,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
    normalizer: Option<NormalizerWrapper>,
    pre_tokenizer: Option<PreTokenizerWrapper>,
    post_processor: Option<PostProcessorWrapper>,
    decoder: Option<DecoderWrapper>,
    model: BpeParts,
}

/// A BPE model's fields, as the crate's BPE reader takes them.
#[derive(Deserialize)]
struct BpeParts {
    #[serde(rename = "type")]
    kind: Option<String>,
    dropout: Option<f32>,
    unk_token: Option<String>,
    continuing_subword_prefix: Option<String>,
    end_of_word_suffix: Option<String>,
    fuse_unk: Option<bool>,
    byte_fallback: Option<bool>,
    ignore_merges: Option<bool>,
    vocab: Vocab,
    merges: Vec<Merge>,
}

/// One merge: `["a", "b"]`, or the older `"a b"`. A file uses one form throughout.
enum Merge {
    Pair(String, String),
    Legacy(String),
}

/// Read as it comes (an array of two strings, or one string). A derived `#[serde(untagged)]`
/// enum would buffer each of the ~50,000 merges into a generic tree first and try each form on
/// it: a third of a vocabulary's reading time. Anything else is an error, as for the crate.
impl<'de> Deserialize<'de> for Merge {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Form;
        impl<'de> serde::de::Visitor<'de> for Form {
            type Value = Merge;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a merge: ["a", "b"] or "a b""#)
            }
            fn visit_str<E: serde::de::Error>(self, line: &str) -> Result<Merge, E> {
                Ok(Merge::Legacy(line.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, line: String) -> Result<Merge, E> {
                Ok(Merge::Legacy(line))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<Merge, S::Error> {
                use serde::de::Error;
                let a = seq
                    .next_element()?
                    .ok_or_else(|| S::Error::invalid_length(0, &self))?;
                let b = seq
                    .next_element()?
                    .ok_or_else(|| S::Error::invalid_length(1, &self))?;
                match seq.next_element::<serde::de::IgnoredAny>()? {
                    None => Ok(Merge::Pair(a, b)),
                    Some(_) => Err(S::Error::invalid_length(3, &self)),
                }
            }
        }
        d.deserialize_any(Form)
    }
}

/// The tokenizer, when `bytes` is a BPE `tokenizer.json` this reader takes exactly as the crate
/// would; `None` for anything else.
fn read_bpe(bytes: &[u8]) -> Option<tokenizers::Tokenizer> {
    let parts: Parts = serde_json::from_slice(bytes).ok()?;
    if parts.version.as_deref().is_some_and(|v| v != "1.0")
        || parts.model.kind.as_deref() != Some("BPE")
    {
        return None;
    }
    let m = parts.model;
    let merges = merge_pairs(m.merges)?;
    let mut builder = BPE::builder().vocab_and_merges(m.vocab, merges);
    if let Some(p) = m.dropout {
        builder = builder.dropout(p);
    }
    if let Some(unk) = m.unk_token {
        builder = builder.unk_token(unk);
    }
    if let Some(prefix) = m.continuing_subword_prefix {
        builder = builder.continuing_subword_prefix(prefix);
    }
    if let Some(suffix) = m.end_of_word_suffix {
        builder = builder.end_of_word_suffix(suffix);
    }
    if let Some(fuse) = m.fuse_unk {
        builder = builder.fuse_unk(fuse);
    }
    if let Some(fallback) = m.byte_fallback {
        builder = builder.byte_fallback(fallback);
    }
    if let Some(ignore) = m.ignore_merges {
        builder = builder.ignore_merges(ignore);
    }
    let mut tokenizer = tokenizers::Tokenizer::new(ModelWrapper::BPE(builder.build().ok()?));
    tokenizer
        .with_normalizer(parts.normalizer)
        .with_pre_tokenizer(parts.pre_tokenizer)
        .with_post_processor(parts.post_processor)
        .with_decoder(parts.decoder);
    // As the crate: added after the model, normalizer and the rest are in place.
    tokenizer.add_tokens(&parts.added_tokens);
    Some(tokenizer)
}

/// The merges as pairs, in rank order; `None` where the crate would refuse them or read them
/// otherwise (both forms in one file; an old-style line that is not two pieces).
fn merge_pairs(merges: Vec<Merge>) -> Option<Vec<(String, String)>> {
    let legacy = matches!(merges.first(), Some(Merge::Legacy(_)));
    let mut pairs = Vec::with_capacity(merges.len());
    for merge in merges {
        match merge {
            Merge::Pair(a, b) if !legacy => pairs.push((a, b)),
            // The crate skips `#version` lines of a merges.txt.
            Merge::Legacy(line) if legacy && line.starts_with("#version") => {}
            Merge::Legacy(line) if legacy => {
                let mut pieces = line.split(' ');
                match (pieces.next(), pieces.next(), pieces.next()) {
                    (Some(a), Some(b), None) => pairs.push((a.to_string(), b.to_string())),
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    Some(pairs)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn crate_reader(json: &str) -> tokenizers::Result<tokenizers::Tokenizer> {
        tokenizers::Tokenizer::from_bytes(json.as_bytes())
    }

    fn same(json: &str) {
        let ours = read_bpe(json.as_bytes()).expect("read directly");
        let theirs = crate_reader(json).expect("the crate reads it");
        assert_eq!(
            ours.to_string(false).expect("serialise"),
            theirs.to_string(false).expect("serialise")
        );
        for text in ["hello world", "lower newer <|end|> hello", "ab ab\n<x>"] {
            let (a, b) = (
                ours.encode(text, false).expect("encode"),
                theirs.encode(text, false).expect("encode"),
            );
            assert_eq!(a.get_ids(), b.get_ids(), "{text:?}");
        }
    }

    const TEMPLATE: &str = r#"{
      "version": "1.0",
      "added_tokens": [
        {"id": 9, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 10, "content": "<x>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": true, "special": false}
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

    /// Every shipped vocabulary (`data/tokenizers/`, written by `cargo xtask vocab`): the same
    /// tokenizer as the crate's reader builds, serialised (vocabulary, merges in rank order,
    /// added tokens, normalizer, pre-tokenizer, decoder) and on a text with special tokens.
    #[test]
    fn every_shipped_vocabulary_reads_as_the_crate_reads_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/tokenizers");
        for spec in super::super::registry::SHIPPED {
            let path = dir.join(format!("{}.json", spec.id));
            let json = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run ./dev setup)", path.display()));
            let ours = read_bpe(json.as_bytes())
                .unwrap_or_else(|| panic!("{}: not read directly", spec.id));
            let theirs = crate_reader(&json).expect("the crate reads it");
            assert!(
                ours.to_string(false).ok() == theirs.to_string(false).ok(),
                "{}: not the same tokenizer",
                spec.id
            );
            let text = "Hello, world! <|endoftext|> Un número: 12345 令牌 <|im_start|>\n  x";
            assert_eq!(
                ours.encode(text, false).expect("encode").get_ids(),
                theirs.encode(text, false).expect("encode").get_ids(),
                "{}",
                spec.id
            );
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
            // `read` then answers as the crate does, reading it or not.
            assert_eq!(read(json.as_bytes()).is_ok(), crate_reader(&json).is_ok());
        }
        // A merge naming a piece missing from the vocabulary: the crate's own error.
        let json = file(r#"[["h", "z"]]"#, "false");
        assert!(read_bpe(json.as_bytes()).is_none());
        assert_eq!(
            read(json.as_bytes()).map(|_| ()).map_err(|e| e.to_string()),
            crate_reader(&json).map(|_| ()).map_err(|e| e.to_string())
        );
    }
}
