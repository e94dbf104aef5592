//! `tokenmeter`: the core on the command line, JSON out.
//!
//! ```text
//! tokenmeter tokenize --tokenizer smollm2 --text "Hola, mundo"
//! echo "The capital of France is" | tokenmeter next --top 10
//! ```
//!
//! An adapter only: each subcommand turns its arguments into the core's request, calls the one
//! function of `tokenmeter_core::service` that answers it, and prints the response as JSON (errors
//! on standard error, with a non-zero exit). Commands are grouped by subject: [`tokens`],
//! [`model`], [`inside`], [`cost`]; [`data`] finds the files.

mod cost;
mod data;
mod inside;
mod model;
mod tokens;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;
use tokenmeter_core::msg;
use tokenmeter_core::Msg;

#[derive(Parser)]
#[command(
    name = "tokenmeter",
    version,
    about = "Tokens, next-token scores and their cost, as JSON"
)]
struct Cli {
    /// A GGUF model file: llama, qwen2 or qwen3, in F32/F16/BF16, Q4_0–Q8_0 or Q4_K–Q6_K (default: $TOKENMETER_MODEL, else the SmolLM2 `./dev setup` fetched);
    /// also accepted after the model-using subcommands.
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Threads for the model's forward pass on the CPU (default: every core). Each thread
    /// computes whole rows of each matrix product, so the results are the same bits whatever
    /// the count.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

/// `--model PATH` of the subcommands that read the GGUF.
#[derive(clap::Args, Default)]
pub struct GgufArg {
    /// A GGUF model file: llama, qwen2 or qwen3, in F32/F16/BF16, Q4_0–Q8_0 or Q4_K–Q6_K (default: $TOKENMETER_MODEL, else the SmolLM2 `./dev setup` fetched).
    #[arg(long = "model", value_name = "PATH")]
    gguf: Option<PathBuf>,
}

impl GgufArg {
    /// The path given after the subcommand, else the one given before it.
    pub fn or(self, top: Option<PathBuf>) -> Option<PathBuf> {
        self.gguf.or(top)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Split text into tokens: IDs, token texts, raw bytes and byte spans.
    Tokenize(tokens::TokenizeArgs),
    /// Turn token IDs back into text: `--ids "9906, 1917"` or a JSON array.
    Decode(tokens::DecodeArgs),
    /// List the shipped tokenizers, with source and licence.
    Tokenizers,
    /// How a token was built: its ID, bytes, BPE merge path (each step with its rank), and the
    /// same text in the other vocabularies.
    ExplainToken(tokens::ExplainTokenArgs),
    /// Time loading every shipped tokenizer and encoding a text file with it (`./dev bench`).
    BenchTokenizers(tokens::BenchTokenizersArgs),
    /// Score every vocabulary entry as the next token after a prompt.
    Next(model::NextArgs),
    /// Generate tokens one by one: a JSON line per token, then a summary line.
    Generate(model::GenerateArgs),
    /// How surprised the model is by each token of a text: probability, rank, bits.
    Surprisal(model::SurprisalArgs),
    /// The logit lens: what the model would predict after each block, at one position.
    Lens(inside::LensArgs),
    /// Where each attention head of each block looks from one position.
    Attention(inside::AttentionArgs),
    /// Time prefill and greedy decode on this machine (see BENCHMARKS.md; `./dev bench`).
    Bench(model::BenchArgs),
    /// The model file: name, size, shape, and where it would run.
    Model(model::ModelArgs),
    /// What a text costs as API input (and output) across models, from LiteLLM's prices and each
    /// model's own token count.
    Cost(cost::CostArgs),
    /// The GPU time, energy and memory behind serving a request (formulas: `tokenmeter_core::physics`).
    GpuCost(cost::GpuCostArgs),
}

fn main() -> ExitCode {
    quiet_gpu_probe();
    let cli = Cli::parse();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokenmeter_core::model::threads::set_threads(cli.threads.map_or(cores, usize::from));
    let top = cli.model;
    let result = match cli.command {
        Command::Tokenize(a) => tokens::tokenize(a, top),
        Command::Decode(a) => tokens::decode(a, top),
        Command::Tokenizers => tokens::tokenizers(),
        Command::ExplainToken(a) => tokens::explain_token(a, top),
        Command::BenchTokenizers(a) => tokens::bench_tokenizers(a, top),
        Command::Next(a) => model::next(a, top),
        Command::Generate(a) => model::generate(a, top),
        Command::Surprisal(a) => model::surprisal(a, top),
        Command::Lens(a) => inside::lens(a, top),
        Command::Attention(a) => inside::attention(a, top),
        Command::Bench(a) => model::bench(a, top),
        Command::Model(a) => model::info(a, top),
        Command::Cost(a) => cost::cost(a, top),
        Command::GpuCost(a) => cost::gpu_cost(a),
    };
    match result {
        // A closed pipe (`tokenmeter … | head`) is not worth a panic: just stop.
        Ok(json) => match writeln!(std::io::stdout().lock(), "{json}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
        Err(msg) => {
            eprintln!("tokenmeter: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Vulkan's window-system layer complains ("error: XDG_RUNTIME_DIR is invalid or not set") when
/// the automatic backend probes for a GPU in a shell without a runtime directory, though the
/// compute path needs none. Give it the temporary directory so normal use prints no error.
fn quiet_gpu_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // Safe: called first thing in `main`, before any other thread exists.
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
}

/// A response as the JSON the CLI prints (written straight from the response struct, so an f32
/// prints as the f32 it is).
pub fn to_json(v: &impl Serialize) -> Result<String, Msg> {
    serde_json::to_string(v).map_err(|e| msg!("cannot write JSON: {}", e.to_string()))
}

/// The text given, else standard input.
pub fn text_or_stdin(text: Option<String>) -> Result<String, Msg> {
    match text {
        Some(t) => Ok(t),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| msg!("cannot read standard input: {}", e.to_string()))?;
            Ok(s)
        }
    }
}
