//! Rebuilding a GGUF file's byte-level BPE tokenizer (`tokenizer.ggml.model = "gpt2"`) as a
//! Hugging Face tokenizer that produces the same IDs as llama.cpp.
//!
//! The GGUF stores the vocabulary (`tokenizer.ggml.tokens`, ID = position), the BPE merges in rank
//! order (`tokenizer.ggml.merges`, "a b" strings), each token's type (`tokenizer.ggml.token_type`;
//! 3 = control) and the name of the pre-tokenizer (`tokenizer.ggml.pre`), which llama.cpp maps to
//! a list of split regexes. We express the same splits as a `tokenizer.json` would, for our own
//! pipeline ([`super::pipeline`]).

use ahash::AHashMap;
use serde_json::{json, Value};

use super::bpe::{Bpe, Options};
use super::pipeline::added::AddedToken;
use super::pipeline::Parts;

use crate::gguf::Metadata;
use crate::{msg, Error, Result};

/// llama.cpp's token types (`llama_token_type`).
const TOKEN_TYPE_UNKNOWN: i64 = 2;
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// The file's tokenizer: byte-level BPE (`gpt2`) here, SentencePiece (`llama`) in
/// [`super::gguf_spm`].
pub(super) fn tokenizer_from_gguf(md: &Metadata<'_>) -> Result<(Bpe, Parts)> {
    let model = md.string("tokenizer.ggml.model")?;
    match model {
        "gpt2" => {}
        "llama" => return super::gguf_spm::tokenizer_from_gguf(md),
        other => {
            return Err(Error::Unsupported(msg!(
                "tokenizer.ggml.model = \"{}\"; tokenmeter reads byte-level BPE (\"gpt2\") and SentencePiece (\"llama\") GGUF tokenizers",
                other
            )))
        }
    }
    let pre = md.string("tokenizer.ggml.pre").unwrap_or("default");
    let (pre_tokenizer, ignore_merges) = pre_tokenizer_for(pre)?;

    let tokens = md.string_array("tokenizer.ggml.tokens")?;
    let merges_raw = md.string_array("tokenizer.ggml.merges")?;
    let mut vocab = AHashMap::new();
    for (id, piece) in tokens.iter().enumerate() {
        let id = u32::try_from(id).map_err(|_| Error::InvalidGguf(msg!("vocabulary too large")))?;
        // A repeated string keeps its first ID, as llama.cpp's text→id map does.
        vocab.entry((*piece).to_string()).or_insert(id);
    }
    let merges = merges_raw
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| {
                    Error::InvalidGguf(msg!(
                        "merge {} is not of the form \"a b\"",
                        format!("{m:?}")
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;

    let options = Options {
        ignore_merges,
        ..Options::default()
    };
    let bpe = Bpe::new(vocab, &merges, options)?;
    let parts = Parts {
        added_tokens: special_tokens(md, &tokens)?
            .iter()
            .map(|(id, t)| t.to_json(*id))
            .collect(),
        pre_tokenizer,
        // GPT-2's alphabet back to bytes.
        decoder: json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}),
        ..Parts::default()
    };
    Ok((bpe, parts))
}

/// Texts llama.cpp makes control tokens whatever the file says (`llama_vocab::impl::load`, as
/// pinned by `./dev`'s llama-cpp-python): ends of turn and of text, fill-in-the-middle markers,
/// padding. Each is then matched whole in a text, like any control token.
const CONTROL_BY_TEXT: &[&str] = &[
    // end of turn / generation
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
    // fill in the middle: prefix, suffix, middle, padding, repository, file separator
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
    "<|fim_pad|>",
    "<fim-pad>",
    "<fim_pad>",
    "<PAD>",
    "[PAD]",
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
    "<|file_sep|>",
];

/// Control, user-defined and unknown tokens (with their IDs), matched whole in the text before any splitting, the
/// way llama.cpp does with `parse_special = true` (control and unknown ones marked special);
/// with them the texts of [`CONTROL_BY_TEXT`] (except `</s>` where llama.cpp keeps it a normal
/// token: in vocabularies with `<|tool_response>` or `<|plamo:eos|>`).
pub(super) fn special_tokens(md: &Metadata<'_>, tokens: &[&str]) -> Result<Vec<(u32, AddedToken)>> {
    let types = if md.contains("tokenizer.ggml.token_type") {
        md.int_array("tokenizer.ggml.token_type")?
    } else {
        vec![1; tokens.len()]
    };
    if types.len() != tokens.len() {
        return Err(Error::InvalidGguf(msg!(
            "{} token types for {} tokens",
            types.len(),
            tokens.len()
        )));
    }
    let normal_s = tokens
        .iter()
        .any(|t| *t == "<|tool_response>" || *t == "<|plamo:eos|>");
    let by_text = |piece: &str| CONTROL_BY_TEXT.contains(&piece) && !(normal_s && piece == "</s>");
    Ok(tokens
        .iter()
        .zip(&types)
        .enumerate()
        .filter_map(|(id, (piece, &t))| {
            let control = t == TOKEN_TYPE_CONTROL || t == TOKEN_TYPE_UNKNOWN || by_text(piece);
            let id = u32::try_from(id).ok()?;
            (control || t == TOKEN_TYPE_USER_DEFINED).then(|| (id, AddedToken::new(piece, control)))
        })
        .collect())
}

/// Llama 3's split (llama.cpp `LLAMA_VOCAB_PRE_TYPE_LLAMA3`, the `(?i:…)` of the model's own
/// regex spelled out): contractions, letters with one leading non-letter, numbers of 1–3
/// digits, punctuation runs, newlines, spaces.
const LLAMA3_SPLIT: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen2's split (`LLAMA_VOCAB_PRE_TYPE_QWEN2`): Llama 3's with every digit on its own.
const QWEN2_SPLIT: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pre-tokenizer (text → pieces that BPE then merges within) for a llama.cpp `pre` name, and
/// whether a piece that is itself a vocabulary entry skips the merges (llama.cpp's
/// `ignore_merges`, set for Llama 3).
fn pre_tokenizer_for(pre: &str) -> Result<(Value, bool)> {
    // GPT-2's split regex, applied by `ByteLevel` with `use_regex = true`:
    //   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    // and then every byte mapped to its printable stand-in (space → Ġ). No prefix space is added.
    let gpt2 = || json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    // A regex split, then the bytes mapped without GPT-2's regex.
    let split = |pattern: &str| {
        json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
        ]})
    };
    match pre {
        // llama.cpp: { "\p{N}", <GPT-2 regex> } — every digit is its own piece first.
        "smollm" | "starcoder" | "refact" | "codeshell" => Ok((
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true},
                gpt2(),
            ]}),
            false,
        )),
        "default" | "gpt2" | "gpt-2" => Ok((gpt2(), false)),
        "llama3" | "llama-v3" | "llama-bpe" => Ok((split(LLAMA3_SPLIT), true)),
        "qwen2" | "deepseek-r1-qwen" | "stablelm2" => Ok((split(QWEN2_SPLIT), false)),
        other => Err(Error::Unsupported(msg!(
            "GGUF pre-tokenizer \"{}\" is not supported yet (supported: smollm, gpt2, llama-bpe, qwen2)",
            other
        ))),
    }
}
