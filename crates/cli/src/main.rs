//! `tokenmeter`: the core on the command line, JSON out.
//!
//! ```text
//! tokenmeter tokenize --tokenizer smollm2 --text "Hola, mundo"
//! echo "The capital of France is" | tokenmeter next --top 10
//! ```

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;
use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::model::{bench, Model, Session};
use tokenmeter_core::scoring;
use tokenmeter_core::tokenizer::{self, TextTokenizer};

/// Where `./dev setup` puts the model (relative to the repository root).
const DEFAULT_MODEL: &str = "data/models/SmolLM2-135M-Instruct.Q4_1.gguf";

#[derive(Parser)]
#[command(
    name = "tokenmeter",
    version,
    about = "Tokens, next-token scores and their cost, as JSON"
)]
struct Cli {
    /// The SmolLM2 GGUF file (default: $TOKENMETER_MODEL, else the one `./dev setup` fetched).
    #[arg(long, global = true)]
    model: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Split text into tokens: IDs, token texts, raw bytes and byte spans.
    Tokenize {
        /// Tokenizer id (see `tokenmeter tokenizers`).
        #[arg(long, default_value = "smollm2")]
        tokenizer: String,
        /// The text; read from standard input when absent.
        #[arg(long)]
        text: Option<String>,
    },
    /// Score every vocabulary entry as the next token after a prompt.
    Next {
        /// The prompt; read from standard input when absent. Special tokens such as
        /// <|im_start|> are recognised; no BOS is added unless --bos is given.
        #[arg(long)]
        prompt: Option<String>,
        /// How many top candidates to print.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Put the BOS token before the prompt.
        #[arg(long)]
        bos: bool,
    },
    /// List the shipped tokenizers.
    Tokenizers,
    /// Time prefill and greedy decode on this machine (see BENCHMARKS.md; `./dev bench`).
    Bench {
        /// Prompt length in tokens (a fixed English paragraph, cut or repeated).
        #[arg(long, default_value_t = 64)]
        prompt_tokens: usize,
        /// Tokens to decode one by one after the prompt.
        #[arg(long, default_value_t = 32)]
        decode_tokens: usize,
        /// Runs; each time reported is the median.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("tokenmeter: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<serde_json::Value, String> {
    let model_path = cli.model.unwrap_or_else(default_model_path);
    match cli.command {
        Command::Bench {
            prompt_tokens,
            decode_tokens,
            runs,
        } => {
            let (gguf, mut file) = open_gguf(&model_path)?;
            let tok = TextTokenizer::from_gguf(&gguf, tokenizer::smollm2_info()).map_err(err)?;
            let model = Model::from_gguf(&gguf, &mut file).map_err(err)?;
            let mut session = Session::new(std::sync::Arc::new(model));
            let prompt = bench::bench_prompt(&tok, prompt_tokens).map_err(err)?;
            let start = std::time::Instant::now();
            let now = || start.elapsed().as_secs_f64() * 1e3;
            let r =
                bench::run_median(&mut session, &prompt, decode_tokens, runs, now).map_err(err)?;
            Ok(json!({
                "backend": "native candle (CPU)",
                "threads": threads(),
                "prompt_ids": prompt,
                "prefill_tokens_per_s": r.prefill_tokens_per_s(),
                "decode_tokens_per_s": r.decode_tokens_per_s(),
                "result": r,
            }))
        }
        Command::Tokenizers => Ok(json!({ "tokenizers": [tokenizer::smollm2_info()] })),
        Command::Tokenize { tokenizer, text } => {
            if tokenizer != "smollm2" {
                return Err(format!(
                    "unknown tokenizer '{tokenizer}' (available: smollm2)"
                ));
            }
            let text = text_or_stdin(text)?;
            let (gguf, _) = open_gguf(&model_path)?;
            let tok = TextTokenizer::from_gguf(&gguf, tokenizer::smollm2_info()).map_err(err)?;
            let tokens = tok.tokenize(&text).map_err(err)?;
            Ok(json!({
                "tokenizer": tok.info().id,
                "count": tokens.len(),
                "ids": tokens.iter().map(|t| t.id).collect::<Vec<_>>(),
                "tokens": tokens.iter().map(|t| t.display()).collect::<Vec<_>>(),
                "spans": tokens,
            }))
        }
        Command::Next { prompt, top, bos } => {
            let prompt = text_or_stdin(prompt)?;
            let (gguf, mut file) = open_gguf(&model_path)?;
            let tok = TextTokenizer::from_gguf(&gguf, tokenizer::smollm2_info()).map_err(err)?;
            let mut ids = tok.encode(&prompt).map_err(err)?;
            if bos {
                let bos_id = gguf
                    .metadata()
                    .u32("tokenizer.ggml.bos_token_id")
                    .map_err(err)?;
                ids.insert(0, bos_id);
            }
            let model = Model::from_gguf(&gguf, &mut file).map_err(err)?;
            let mut session = Session::new(std::sync::Arc::new(model));
            let logits = session.next_logits(&ids).map_err(err)?;
            let next = scoring::next_token(logits, &tok, top);
            Ok(json!({
                "prompt_ids": ids,
                "candidates": next.candidates,
                "entropy": next.entropy_nats,
                "entropy_bits": next.entropy_nats / std::f64::consts::LN_2,
                "vocab_size": next.vocab_size,
            }))
        }
    }
}

/// Threads candle's CPU kernels may use (rayon's pool; set RAYON_NUM_THREADS to change it).
fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn err(e: tokenmeter_core::Error) -> String {
    e.to_string()
}

fn default_model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TOKENMETER_MODEL") {
        return PathBuf::from(p);
    }
    // The repository root, two levels above this crate.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join(DEFAULT_MODEL)
}

fn open_gguf(path: &PathBuf) -> Result<(Gguf, std::io::BufReader<std::fs::File>), String> {
    let file = std::fs::File::open(path).map_err(|e| {
        format!(
            "cannot open the model file {}: {e} (run `./dev setup` or pass --model PATH)",
            path.display()
        )
    })?;
    let mut reader = std::io::BufReader::new(file);
    let gguf = Gguf::read(&mut reader).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((gguf, reader))
}

fn text_or_stdin(text: Option<String>) -> Result<String, String> {
    match text {
        Some(t) => Ok(t),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(s)
        }
    }
}
