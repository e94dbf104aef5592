//! Reading a `tokenizer.json`.
//!
//! The tokenizers crate reads its file through two generic trees: its `model` is buffered whole
//! (an untagged enum), then turned into a `serde_json::Value` (a sorted map of every vocabulary
//! entry), and only then into the BPE model, whose builder formats a string per merge. For a BPE
//! vocabulary that is several times the work of the direct read below (BENCHMARKS.md).
//!
//! So a BPE `tokenizer.json` is read here directly: the model into tokenmeter's own [`Bpe`], the
//! normalizer, pre-tokenizer, post-processor and decoder through the crate's own types, the added
//! tokens added last as the crate does. Anything else (another model type, a file this reader does
//! not take as the crate would) goes to the crate's own reader of the whole file, so its results
//! and messages stay the crate's; a BPE model it reads becomes ours too ([`bpe_from_crate`]).

use std::borrow::Cow;

use serde::Deserialize;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::Vocab;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::AddedToken;

use super::bpe::{Bpe, Options};
use super::engine::{assemble, Engine};
use crate::{msg, Error, Result};

/// Reads a `tokenizer.json`: a BPE vocabulary directly, anything else by the crate. The error
/// says why, in the crate's words for what the crate read.
pub(super) fn read(bytes: &[u8]) -> std::result::Result<Engine, String> {
    super::guard::check(bytes)?;
    match read_bpe(bytes) {
        Some(tokenizer) => tokenizer.map_err(|e| e.to_string()),
        None => serde_json::from_slice::<Engine>(bytes).map_err(|e| e.to_string()),
    }
}

#[derive(Deserialize)]
struct Parts<'a> {
    version: Option<String>,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
    normalizer: Option<NormalizerWrapper>,
    pre_tokenizer: Option<PreTokenizerWrapper>,
    post_processor: Option<PostProcessorWrapper>,
    decoder: Option<DecoderWrapper>,
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
    vocab: Vocab,
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

/// The tokenizer, when `bytes` is a BPE `tokenizer.json` this reader takes as the crate would
/// (its model's lists may still be refused: a merge naming a piece the vocabulary lacks); `None`
/// for anything else.
fn read_bpe(bytes: &[u8]) -> Option<Result<Engine>> {
    let parts: Parts = serde_json::from_slice(bytes).ok()?;
    if parts.version.as_deref().is_some_and(|v| v != "1.0")
        || parts.model.kind.as_deref() != Some("BPE")
    {
        return None;
    }
    let bpe = match parts.model.build()? {
        Ok(bpe) => bpe,
        Err(e) => return Some(Err(e)),
    };
    Some(Ok(assemble(
        bpe,
        parts.normalizer,
        parts.pre_tokenizer,
        parts.post_processor,
        parts.decoder,
        &parts.added_tokens,
    )))
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

/// Ours from the crate's BPE model (read by the crate's reader of a file this one does not take),
/// through its `tokenizer.json` form.
pub(super) fn bpe_from_crate(bpe: &tokenizers::models::bpe::BPE) -> Result<Bpe> {
    let json = serde_json::to_vec(bpe).map_err(|e| Error::Tokenizer(msg!("{}", e.to_string())))?;
    let parts: BpeParts =
        serde_json::from_slice(&json).map_err(|e| Error::Tokenizer(msg!("{}", e.to_string())))?;
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
    use super::super::engine::Model;
    use super::*;

    fn crate_reader(json: &str) -> tokenizers::Result<tokenizers::Tokenizer> {
        tokenizers::Tokenizer::from_bytes(json.as_bytes())
    }

    /// Ours and the crate's give the same `tokenizer.json` back, and the same IDs and offsets.
    fn same_tokenizer(ours: &Engine, theirs: &tokenizers::Tokenizer, texts: &[&str], what: &str) {
        assert!(
            ours.to_string(false).ok() == theirs.to_string(false).ok(),
            "{what}: not the same tokenizer"
        );
        for text in texts {
            let (a, b) = (
                ours.encode(*text, false).expect("encode"),
                theirs.encode(*text, false).expect("encode"),
            );
            assert_eq!(a.get_ids(), b.get_ids(), "{what}: {text:?}");
            assert_eq!(a.get_offsets(), b.get_offsets(), "{what}: {text:?}");
        }
    }

    fn same(json: &str) {
        let ours = read_bpe(json.as_bytes())
            .expect("read directly")
            .expect("read");
        let theirs = crate_reader(json).expect("the crate reads it");
        let texts = ["hello world", "lower newer <|end|> hello", "ab ab\n<x>"];
        same_tokenizer(&ours, &theirs, &texts, json);
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
    /// added tokens, normalizer, pre-tokenizer, decoder), with the same IDs and offsets on texts
    /// with special tokens, odd characters and the 10,000 strings of the parity corpus.
    #[test]
    fn every_shipped_vocabulary_reads_as_the_crate_reads_it() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
        let corpus = std::fs::read(data.join("parity/corpus.json")).expect("corpus (./dev setup)");
        let corpus: Vec<String> = serde_json::from_slice(&corpus).expect("corpus JSON");
        let dir = data.join("tokenizers");
        for spec in super::super::registry::SHIPPED {
            let path = dir.join(format!("{}.json", spec.id));
            let json = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run ./dev setup)", path.display()));
            let ours = read_bpe(json.as_bytes())
                .unwrap_or_else(|| panic!("{}: not read directly", spec.id))
                .expect("read");
            // Every split pattern of the shipped files is matched by our own code (none left to
            // the crate's regex engine), so the comparison below is ours against the crate's.
            assert!(
                ours.get_pre_tokenizer()
                    .is_none_or(|p| p.all_patterns_ours()),
                "{}: a pattern left to the crate",
                spec.id
            );
            let theirs = crate_reader(&json).expect("the crate reads it");
            let mut texts = vec![
                "Hello, world! <|endoftext|> Un número: 12345 令牌 <|im_start|>\n  x",
                "ﬁne Ｆｕｌｌ ｗｉｄｔｈ e\u{301} 👋🏽 \u{FFFD}\t\r\n  \u{2581}x <0xE4> 'S 'll ’s",
                "\u{10FFFF}\u{0}\u{7F} ٣٤٥ ⅷ DŽemal ǅ κόσμε Привет 𝕏  ",
            ];
            texts.extend(corpus.iter().map(String::as_str));
            same_tokenizer(&ours, &theirs, &texts, spec.id);
        }
    }

    /// A split pattern our matcher would backtrack on without end (or only quadratically
    /// fail on, as `[^\r\n]*\r?\n` on a long line): it gives up after its step budget (counted in
    /// `pattern/tests.rs`) and the crate's engine answers that text with the crate's tokens.
    #[test]
    fn a_pattern_ours_gives_up_on_is_answered_by_the_crate() {
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
            // Our matcher alone does give up on this text.
            let unescaped = pattern.replace(r"\\", r"\");
            let alone = super::super::pattern::Pattern::new(&unescaped).expect("ours reads it");
            assert!(alone.find_iter(&text).is_err(), "{pattern}: ours gives up");
            let ours = read_bpe(json.as_bytes())
                .expect("read directly")
                .expect("read");
            assert!(
                ours.get_pre_tokenizer()
                    .is_some_and(|p| p.all_patterns_ours()),
                "{pattern}: read by our matcher"
            );
            let theirs = crate_reader(&json).expect("the crate reads it");
            same_tokenizer(&ours, &theirs, &[text.as_str(), "hello x"], pattern);
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
            assert_eq!(
                read(json.as_bytes()).is_ok(),
                crate_reader(&json).is_ok(),
                "{json}"
            );
        }
        // A merge naming a piece missing from the vocabulary: refused, as by the crate.
        let json = file(r#"[["h", "z"]]"#, "false");
        let err = read(json.as_bytes()).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("“z”"), "{err}");
        assert!(crate_reader(&json).is_err());
    }

    #[test]
    fn a_bpe_model_the_crate_reads_becomes_ours() {
        use tokenizers::Model as _;
        let json = file(r#"[["h", "e"], ["l", "l"], ["he", "ll"]]"#, "false");
        let theirs = crate_reader(&json).expect("the crate reads it");
        let tokenizers::models::ModelWrapper::BPE(bpe) = theirs.get_model() else {
            panic!("not BPE")
        };
        let ours = Model::Bpe(bpe_from_crate(bpe).expect("ours"));
        for word in ["hello", "hell", "Ġwhe", "lleh"] {
            let ids = |tokens: Vec<tokenizers::Token>| {
                tokens
                    .into_iter()
                    .map(|t| (t.id, t.offsets))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                ids(ours.tokenize(word).expect("ours")),
                ids(bpe.tokenize(word).expect("theirs")),
                "{word}"
            );
        }
        assert_eq!(
            serde_json::to_string(&ours).ok(),
            serde_json::to_string(bpe).ok()
        );
    }
}
