//! Rebuilding a GGUF file's SentencePiece tokenizer (`tokenizer.ggml.model = "llama"`: Llama 2,
//! TinyLlama, Mistral 7B v0.1) as a Hugging Face tokenizer that produces llama.cpp's IDs.
//!
//! The file stores each piece (`▁` for a space) with a score. llama.cpp's tokenizer
//! (`llm_tokenizer_spm`) starts from the text's characters and keeps merging the adjacent pair
//! whose union is the highest-scoring piece; characters no piece covers become their UTF-8 bytes
//! (`<0xE4>` pieces). That is byte-pair encoding with merges ranked by the score of what they make
//! — the form Hugging Face's own converter gives Llama 2 — so the vocabulary becomes a `BPE`
//! model with `byte_fallback`, and the text is prepared as llama.cpp prepares it: a space put in
//! front (of the text and of each run after a special token), then every space written `▁`.

use ahash::AHashMap;
use serde_json::json;

use super::bpe::{Bpe, Options};
use super::gguf_bpe::special_tokens;
use super::pipeline::Parts;
use crate::gguf::Metadata;
use crate::{msg, Error, Result};

pub(super) fn tokenizer_from_gguf(md: &Metadata<'_>) -> Result<(Bpe, Parts)> {
    let tokens = md.string_array("tokenizer.ggml.tokens")?;
    let scores = md.f32_array("tokenizer.ggml.scores")?;
    if scores.len() != tokens.len() {
        return Err(Error::InvalidGguf(msg!(
            "{} scores for {} tokens",
            scores.len(),
            tokens.len()
        )));
    }
    let mut vocab = AHashMap::new();
    for (id, piece) in tokens.iter().enumerate() {
        let id = u32::try_from(id).map_err(|_| Error::InvalidGguf(msg!("vocabulary too large")))?;
        vocab.entry((*piece).to_string()).or_insert(id);
    }

    // Every way to make a piece from two pieces, the highest-scoring result first (ties in
    // piece order), each piece's splits by the IDs of their halves: Hugging Face's ranking.
    let mut made: Vec<(f32, u32, u32, u32, &str, &str)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        for (at, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(at);
            if let (Some(&a), Some(&b)) = (vocab.get(l), vocab.get(r)) {
                made.push((scores[id], id as u32, a, b, l, r));
            }
        }
    }
    made.sort_by(|x, y| {
        y.0.total_cmp(&x.0)
            .then(x.1.cmp(&y.1))
            .then(x.2.cmp(&y.2))
            .then(x.3.cmp(&y.3))
    });
    let merges: Vec<(String, String)> = made
        .into_iter()
        .map(|(.., l, r)| (l.to_string(), r.to_string()))
        .collect();

    let unk = md
        .u32("tokenizer.ggml.unknown_token_id")
        .ok()
        .and_then(|id| tokens.get(id as usize))
        .map(|t| t.to_string());
    let options = Options {
        unk_token: unk,
        byte_fallback: true,
        fuse_unk: true,
        ..Options::default()
    };
    let bpe = Bpe::new(vocab, &merges, options)?;

    // llama.cpp puts a space in front of each run of text (`add_space_prefix`, on unless the
    // file says otherwise), then writes spaces as ▁.
    let space_prefix = md.bool_or("tokenizer.ggml.add_space_prefix", true)?;
    let replace = json!({"type": "Replace", "pattern": {"String": " "}, "content": "▁"});
    let mut steps = Vec::new();
    if space_prefix {
        steps.push(json!({"type": "Prepend", "prepend": "▁"}));
    }
    steps.push(replace);
    let mut decoders = vec![
        json!({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}),
        json!({"type": "ByteFallback"}),
        json!({"type": "Fuse"}),
    ];
    if space_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    let parts = Parts {
        added_tokens: special_tokens(md, &tokens)?
            .iter()
            .map(|(id, t)| t.to_json(*id))
            .collect(),
        normalizer: json!({"type": "Sequence", "normalizers": steps}),
        decoder: json!({"type": "Sequence", "decoders": decoders}),
        ..Parts::default()
    };
    Ok((bpe, parts))
}
