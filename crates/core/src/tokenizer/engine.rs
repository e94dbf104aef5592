//! The Hugging Face `tokenizers` crate, for a user's `tokenizer.json` that our own pipeline does
//! not read (a WordPiece or Unigram model, a normalizer or pre-tokenizer step it lacks): the
//! crate's pipeline around a model that is tokenmeter's own [`Bpe`] for a BPE vocabulary and the
//! crate's otherwise, with a [`PreTokenizer`] that matches split patterns with our own code.
//!
//! Only front ends that read such files through [`TextTokenizer::from_json_any`] carry this code
//! (the CLI, the model worker); the light tokens worker calls [`TextTokenizer::from_json`] and
//! leaves the crate out of its build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::TokenizerImpl;

use super::bpe::Bpe;
use super::pipeline::Tok;
use super::pre_tokenizer::PreTokenizer;
use super::{cannot_read, json, CrateTokenizer, Inner, TextTokenizer, TokenizerInfo};
use crate::{msg, Error, Result};

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
            ModelWrapper::BPE(bpe) => bpe_from_crate(&bpe)
                .map(Model::Bpe)
                .map_err(serde::de::Error::custom),
            other => Ok(Model::Other(other)),
        }
    }
}

/// Ours from the crate's BPE model, through its `tokenizer.json` form.
fn bpe_from_crate(bpe: &tokenizers::models::bpe::BPE) -> Result<Bpe> {
    let json = serde_json::to_vec(bpe).map_err(|e| Error::Tokenizer(msg!("{}", e.to_string())))?;
    json::bpe_from_model_json(&json)
}

fn crate_error(e: tokenizers::Error) -> Error {
    Error::Tokenizer(msg!("{}", e.to_string()))
}

impl TextTokenizer {
    /// Loads any `tokenizer.json`: one our own pipeline reads as [`TextTokenizer::from_json`]
    /// does, any other with the Hugging Face crate (its results and its messages).
    pub fn from_json_any(bytes: &[u8], info: TokenizerInfo) -> Result<Self> {
        match json::read(bytes) {
            Ok(pipeline) => Self::new(Inner::Own(Box::new(pipeline)), info),
            Err(json::Refusal::Broken(e)) => Err(cannot_read(e)),
            Err(json::Refusal::Unsupported(_)) => {
                super::guard::check(bytes)
                    .map_err(|e| Error::Tokenizer(msg!("cannot read tokenizer.json: {}", e)))?;
                let mut engine: Engine = serde_json::from_slice(bytes).map_err(|e| {
                    Error::Tokenizer(msg!("cannot read tokenizer.json: {}", e.to_string()))
                })?;
                refuse_empty_added_tokens(&engine)?;
                // tokenmeter shows a text's tokens, never a model's input batch: a file's
                // truncation (which can make every encode fail) and padding are dropped.
                let _ = engine.with_truncation(None);
                engine.with_padding(None);
                Self::new(Inner::Crate(Box::new(engine)), info)
            }
        }
    }
}

/// An added token its normalizer writes as nothing would be an empty pattern in the crate's
/// search, which then matches everywhere and panics while splitting ("AddedVocabulary bad
/// split"): refused here with a reason.
fn refuse_empty_added_tokens(engine: &Engine) -> Result<()> {
    use tokenizers::Normalizer as _;
    let Some(normalizer) = engine.get_normalizer() else {
        return Ok(());
    };
    for token in engine
        .get_added_vocabulary()
        .get_added_tokens_decoder()
        .values()
    {
        if !token.normalized {
            continue;
        }
        let mut text = tokenizers::NormalizedString::from(token.content.as_str());
        if normalizer.normalize(&mut text).is_err() || text.get().is_empty() {
            return Err(Error::Tokenizer(msg!(
                "cannot read tokenizer.json: the added token {} is empty once normalized",
                format!("{:?}", token.content)
            )));
        }
    }
    Ok(())
}

impl CrateTokenizer for Engine {
    fn encode(&self, text: &str) -> Result<Vec<Tok>> {
        let enc = TokenizerImpl::encode(self, text, false).map_err(crate_error)?;
        Ok(enc
            .get_ids()
            .iter()
            .zip(enc.get_offsets())
            .map(|(&id, &(start, end))| Tok { id, start, end })
            .collect())
    }

    fn encode_ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.encode_fast(text, false).map_err(crate_error)?;
        Ok(enc.get_ids().to_vec())
    }

    fn bpe(&self) -> Option<&Bpe> {
        match self.get_model() {
            Model::Bpe(bpe) => Some(bpe),
            Model::Other(_) => None,
        }
    }

    fn pieces(&self) -> HashMap<u32, String> {
        match self.get_model() {
            Model::Bpe(_) => HashMap::new(),
            Model::Other(m) => tokenizers::Model::get_vocab(m)
                .into_iter()
                .map(|(p, id)| (id, p))
                .collect(),
        }
    }

    fn added(&self) -> Vec<(u32, String, bool)> {
        self.get_added_vocabulary()
            .get_added_tokens_decoder()
            .iter()
            .map(|(&id, t)| (id, t.content.clone(), t.special))
            .collect()
    }

    fn decoder(&self) -> String {
        self.get_decoder()
            .and_then(|d| serde_json::to_string(d).ok())
            .unwrap_or_default()
    }

    fn to_json(&self) -> Result<String> {
        self.to_string(false).map_err(crate_error)
    }
}
