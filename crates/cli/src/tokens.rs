//! `tokenize`, `decode`, `tokenizers`, `explain-token`, `bench-tokenizers`: arguments → the core's request → JSON.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use tokenmeter_core::msg;
use tokenmeter_core::service::{explain, tokens};
use tokenmeter_core::tokenizer::registry::SHIPPED;
use tokenmeter_core::tokenizer::TextTokenizer;
use tokenmeter_core::Msg;

use crate::data::{self, Vocabularies};
use crate::{text_or_stdin, to_json, GgufArg};

#[derive(clap::Args)]
pub struct TokenizeArgs {
    #[command(flatten)]
    gguf: GgufArg,
    /// Tokenizer id (see `tokenmeter tokenizers`).
    #[arg(long, default_value = "smollm2")]
    tokenizer: String,
    /// Your own tokenizer instead: a `tokenizer.json` or a GGUF file.
    #[arg(long, value_name = "PATH", conflicts_with = "tokenizer")]
    tokenizer_file: Option<PathBuf>,
    /// The text; read from standard input when absent.
    #[arg(long)]
    text: Option<String>,
}

pub fn tokenize(a: TokenizeArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let text = text_or_stdin(a.text)?;
    let tok = match &a.tokenizer_file {
        Some(path) => data::open_tokenizer_file(path)?,
        None => data::open_tokenizer(&a.tokenizer, &data::model_path(a.gguf.or(model)))?,
    };
    to_json(&tokens::tokenize(&tok, &text, usize::MAX)?)
}

#[derive(clap::Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    gguf: GgufArg,
    #[arg(long, default_value = "smollm2")]
    tokenizer: String,
    /// The IDs; read from standard input when absent.
    #[arg(long)]
    ids: Option<String>,
}

pub fn decode(a: DecodeArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let (ids, cut) = tokens::parse_typed_ids(&text_or_stdin(a.ids)?)?;
    let tok = data::open_tokenizer(&a.tokenizer, &data::model_path(a.gguf.or(model)))?;
    let mut d = tokens::decode(&tok, &ids, usize::MAX);
    d.cut_from = cut;
    to_json(&d)
}

pub fn tokenizers() -> Result<String, Msg> {
    to_json(&tokens::tokenizers(&|id| {
        id == "smollm2" || data::vocab_path(id).exists()
    }))
}

#[derive(clap::Args)]
pub struct BenchTokenizersArgs {
    #[command(flatten)]
    gguf: GgufArg,
    /// The text to encode.
    #[arg(long)]
    text_file: PathBuf,
}

/// Times loading every shipped tokenizer and encoding a text file with it (`./dev bench`).
pub fn bench_tokenizers(a: BenchTokenizersArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let text = std::fs::read_to_string(&a.text_file)
        .map_err(|e| msg!("{}: {}", a.text_file.display().to_string(), e.to_string()))?;
    let mut vocabs = Vocabularies::new(data::model_path(a.gguf.or(model)));
    let mut results = Vec::new();
    for s in SHIPPED {
        let t0 = Instant::now();
        let tok = vocabs.get(s.id)?;
        let load_ms = t0.elapsed().as_secs_f64() * 1e3;
        let t1 = Instant::now();
        let ids = tok.encode(&text)?;
        let encode_ms = t1.elapsed().as_secs_f64() * 1e3;
        results.push(json!({
            "tokenizer": s.id,
            "load_ms": load_ms,
            "encode_ms": encode_ms,
            "tokens": ids.len(),
        }));
    }
    to_json(&json!({ "bytes": text.len(), "results": results }))
}

#[derive(clap::Args)]
pub struct ExplainTokenArgs {
    #[command(flatten)]
    gguf: GgufArg,
    /// Tokenizer id (see `tokenmeter tokenizers`).
    #[arg(long, default_value = "smollm2")]
    tokenizer: String,
    /// Your own tokenizer instead: a `tokenizer.json` or a GGUF file.
    #[arg(long, value_name = "PATH", conflicts_with = "tokenizer")]
    tokenizer_file: Option<PathBuf>,
    /// The text whose tokens to explain (e.g. " Paris"); read from standard input when neither
    /// this nor --id is given.
    #[arg(long, conflicts_with = "id")]
    text: Option<String>,
    /// A token ID to explain instead of a text.
    #[arg(long)]
    id: Option<u32>,
    /// The vocabularies to compare with, comma-separated (default: every shipped one).
    #[arg(long, value_delimiter = ',')]
    compare: Vec<String>,
}

/// How a token was built (its BPE merge path) and the same text in the other vocabularies.
pub fn explain_token(a: ExplainTokenArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let model = data::model_path(a.gguf.or(model));
    let tok = match &a.tokenizer_file {
        Some(path) => data::open_tokenizer_file(path)?,
        None => data::open_tokenizer(&a.tokenizer, &model)?,
    };
    let req = explain::ExplainRequest {
        text: match (a.id, a.text) {
            (Some(_), _) => String::new(),
            (None, text) => text_or_stdin(text)?,
        },
        id: a.id,
    };
    let ids: Vec<String> = if a.compare.is_empty() {
        SHIPPED.iter().map(|s| s.id.to_string()).collect()
    } else {
        a.compare
    };
    let mut vocabs = Vocabularies::new(model);
    let others = ids
        .iter()
        .filter(|id| a.tokenizer_file.is_some() || **id != a.tokenizer)
        .map(|id| vocabs.get(id))
        .collect::<Result<Vec<_>, Msg>>()?;
    let others: Vec<&TextTokenizer> = others.iter().map(|t| t.as_ref()).collect();
    to_json(&explain::explain(&tok, &req, &others)?)
}
