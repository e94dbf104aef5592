//! The tokenizer pipeline: the Hugging Face crate's (added tokens, normalizer, offsets) around
//! a model that is tokenmeter's own [`Bpe`] for every BPE vocabulary — all the shipped ones — and
//! the crate's for anything else a user's file may hold (WordPiece, Unigram), with a
//! [`PreTokenizer`] that matches the file's split patterns with our own code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, TokenizerImpl};

use super::bpe::Bpe;
use super::pre_tokenizer::PreTokenizer;

/// A tokenizer: the crate's pipeline around [`Model`] and [`PreTokenizer`].
pub type Engine =
    TokenizerImpl<Model, NormalizerWrapper, PreTokenizer, PostProcessorWrapper, DecoderWrapper>;

pub enum Model {
    Bpe(Bpe),
    /// Any other model type the crate reads (never its BPE: that becomes [`Model::Bpe`]).
    Other(ModelWrapper),
}

impl tokenizers::Model for Model {
    type Trainer = TrainerWrapper;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<tokenizers::Token>> {
        match self {
            Model::Bpe(bpe) => {
                let mut start = 0;
                bpe.encode_word(sequence)?
                    .into_iter()
                    .map(|(id, len)| {
                        let offsets = (start, start + len);
                        start += len;
                        let value = bpe.piece(id).unwrap_or_default().to_string();
                        Ok(tokenizers::Token::new(id, value, offsets))
                    })
                    .collect()
            }
            Model::Other(m) => m.tokenize(sequence),
        }
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        match self {
            Model::Bpe(bpe) => bpe.id(token),
            Model::Other(m) => m.token_to_id(token),
        }
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        match self {
            Model::Bpe(bpe) => bpe.piece(id).map(str::to_string),
            Model::Other(m) => m.id_to_token(id),
        }
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        match self {
            Model::Bpe(bpe) => bpe.entries().map(|(p, id)| (p.to_string(), id)).collect(),
            Model::Other(m) => m.get_vocab(),
        }
    }

    fn get_vocab_size(&self) -> usize {
        match self {
            Model::Bpe(bpe) => bpe.len(),
            Model::Other(m) => m.get_vocab_size(),
        }
    }

    fn save(&self, folder: &Path, prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        match self {
            Model::Bpe(_) => Err("tokenmeter writes a BPE model only inside tokenizer.json".into()),
            Model::Other(m) => m.save(folder, prefix),
        }
    }

    fn get_trainer(&self) -> TrainerWrapper {
        match self {
            Model::Bpe(_) => tokenizers::models::bpe::BpeTrainer::default().into(),
            Model::Other(m) => m.get_trainer(),
        }
    }
}

impl Serialize for Model {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Model::Bpe(bpe) => bpe.serialize(s),
            Model::Other(m) => m.serialize(s),
        }
    }
}

/// Read by the crate (its reader of a whole `tokenizer.json` asks for this); a BPE model is then
/// rebuilt as ours from its lists.
impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match ModelWrapper::deserialize(d)? {
            ModelWrapper::BPE(bpe) => super::json::bpe_from_crate(&bpe)
                .map(Model::Bpe)
                .map_err(serde::de::Error::custom),
            other => Ok(Model::Other(other)),
        }
    }
}

/// A pipeline around our BPE model, put together as the crate reads a `tokenizer.json`: the
/// added tokens last, once the model, normalizer and the rest are in place. Used by both readers
/// of a vocabulary's lists (`json.rs`, `packed.rs`).
pub fn assemble(
    bpe: Bpe,
    normalizer: Option<NormalizerWrapper>,
    pre_tokenizer: Option<PreTokenizerWrapper>,
    post_processor: Option<PostProcessorWrapper>,
    decoder: Option<DecoderWrapper>,
    added_tokens: &[AddedToken],
) -> Engine {
    let mut engine = Engine::new(Model::Bpe(bpe));
    engine
        .with_normalizer(normalizer)
        .with_pre_tokenizer(pre_tokenizer.map(PreTokenizer::from))
        .with_post_processor(post_processor)
        .with_decoder(decoder);
    engine.add_tokens(added_tokens);
    engine
}
