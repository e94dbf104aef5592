//! `next`, `generate`, `surprisal`, `bench`, `model`: arguments → the core's request, run on the
//! engine chosen with `--backend` → JSON.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokenmeter_core::msg;
use tokenmeter_core::sampling::Sampler;
use tokenmeter_core::service::bench::{self, BenchRequest};
use tokenmeter_core::service::model::LoadedModel;
use tokenmeter_core::service::next::{self, GenerateEvent, GenerateRequest, NextRequest, Progress};
use tokenmeter_core::service::surprisal;
use tokenmeter_core::Msg;
use tokenmeter_gpu::{block_on, Engine, Preference};

use crate::data;
use crate::{text_or_stdin, to_json, GgufArg};

/// `--backend` of the subcommands that run the model.
#[derive(clap::Args)]
pub struct BackendArg {
    /// Where the forward pass runs: `cpu`; `webgpu` (our WGSL kernels, natively through Vulkan,
    /// even on a software adapter); `auto` (a real GPU if there is one, else the CPU).
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: Preference,
}

fn parse_backend(s: &str) -> Result<Preference, String> {
    s.parse()
}

/// The model file, opened, with an engine on the chosen backend.
pub fn open(
    gguf: GgufArg,
    top: Option<PathBuf>,
    backend: &BackendArg,
) -> Result<(LoadedModel, Engine), Msg> {
    let m = data::open_model(&data::model_path(gguf.or(top)))?;
    let engine = block_on(Engine::start(Arc::clone(&m.model), backend.backend));
    Ok((m, engine))
}

/// The CLI reads every prompt in one go: nothing to look at between chunks.
async fn go_on(_: Progress) -> bool {
    true
}

/// The prompt of `next` and `generate`.
#[derive(clap::Args)]
pub struct PromptArgs {
    /// The prompt; read from standard input when absent. Special tokens such as <|im_start|>
    /// are recognised; no BOS is added unless --bos is given.
    #[arg(long)]
    prompt: Option<String>,
    /// Put the BOS token before the prompt.
    #[arg(long)]
    bos: bool,
    /// Wrap the prompt as a user message in the model's chat template (ChatML, Llama 3, Zephyr).
    #[arg(long)]
    chat: bool,
}

/// Sampling settings (see `tokenmeter_core::sampling`).
#[derive(clap::Args)]
pub struct SamplingArgs {
    /// Temperature; 0 is greedy.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Keep only the k most likely tokens (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Keep the most likely tokens up to this total probability (1: all; 0: the most likely).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Seed of the draws: the same seed gives the same tokens.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl SamplingArgs {
    fn sampler(&self) -> Sampler {
        Sampler {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            seed: self.seed,
        }
    }
}

fn next_request(
    p: PromptArgs,
    s: &SamplingArgs,
    top: usize,
    search: String,
) -> Result<NextRequest, Msg> {
    Ok(NextRequest {
        text: text_or_stdin(p.prompt)?,
        chat: p.chat,
        bos: p.bos,
        continuation: Vec::new(),
        top,
        sampler: s.sampler(),
        search,
        surprisal: false,
    })
}

#[derive(clap::Args)]
pub struct NextArgs {
    #[command(flatten)]
    gguf: GgufArg,
    #[command(flatten)]
    backend: BackendArg,
    #[command(flatten)]
    prompt: PromptArgs,
    /// How many top candidates to print.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Also give the rank and probability of this token (or of its first token).
    #[arg(long, default_value = "")]
    search: String,
    #[command(flatten)]
    sampling: SamplingArgs,
}

pub fn next(a: NextArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let req = next_request(a.prompt, &a.sampling, a.top, a.search)?;
    req.check()?;
    let (m, mut engine) = open(a.gguf, model, &a.backend)?;
    let r =
        block_on(next::next(&m, &mut engine, &req, &mut go_on))?.ok_or_else(|| msg!("stopped"))?;
    to_json(&r)
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    gguf: GgufArg,
    #[command(flatten)]
    backend: BackendArg,
    #[command(flatten)]
    prompt: PromptArgs,
    /// How many tokens to generate (stops early at <|im_end|> or <|endoftext|>).
    #[arg(long, default_value_t = 32)]
    max_tokens: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
}

/// Prints one JSON line per generated token as it comes; returns the summary line.
pub fn generate(a: GenerateArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let req = GenerateRequest {
        // One candidate: a generated token's line does not list any.
        next: next_request(a.prompt, &a.sampling, 1, String::new())?,
        max_tokens: a.max_tokens,
        then_score: false,
    };
    req.next.check()?;
    let (m, mut engine) = open(a.gguf, model, &a.backend)?;
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    let mut on = async |e: GenerateEvent<'_>| match e {
        GenerateEvent::Token(t) => match to_json(t).map(|line| writeln!(out, "{line}")) {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                failed = Some(msg!("cannot write to standard output: {}", e.to_string()));
                false
            }
            Err(m) => {
                failed = Some(m);
                false
            }
        },
        _ => true,
    };
    let summary = block_on(next::generate(&m, &mut engine, &req, &mut on))?;
    if let Some(m) = failed {
        return Err(m);
    }
    to_json(&summary.ok_or_else(|| msg!("stopped"))?)
}

#[derive(clap::Args)]
pub struct SurprisalArgs {
    #[command(flatten)]
    gguf: GgufArg,
    #[command(flatten)]
    backend: BackendArg,
    /// The text; read from standard input when absent.
    #[arg(long)]
    text: Option<String>,
}

pub fn surprisal(a: SurprisalArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let text = text_or_stdin(a.text)?;
    let (m, mut engine) = open(a.gguf, model, &a.backend)?;
    let r = block_on(surprisal::surprisal(&m, &mut engine, &text, &mut go_on))?
        .ok_or_else(|| msg!("stopped"))?;
    to_json(&r)
}

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    gguf: GgufArg,
    #[command(flatten)]
    backend: BackendArg,
    /// Prompt length in tokens (a fixed English paragraph, cut or repeated).
    #[arg(long, default_value_t = 64)]
    prompt_tokens: usize,
    /// Tokens to decode one by one after the prompt.
    #[arg(long, default_value_t = 32)]
    decode_tokens: usize,
    /// Runs; each time reported is the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Without the model file: SmolLM2-135M's exact shapes and formats with seeded random weights
    /// (same work per token; meaningless scores), and SmolLM2's tokenizer from
    /// `$TOKENMETER_DATA/tokenizers/smollm2.json`. For a GPU machine the 98 MB file cannot reach.
    #[arg(long)]
    synthetic: bool,
    /// The weights' seed with --synthetic.
    #[arg(long, default_value_t = 1, requires = "synthetic")]
    seed: u64,
    /// With --synthetic, only the first N of SmolLM2's 30 blocks: a quick check of a backend
    /// (the tests run the GPU path on a CPU-emulated adapter this way). The speeds are then not
    /// SmolLM2's, and the model's name says so.
    #[arg(long, default_value_t = 30, requires = "synthetic",
          value_parser = clap::value_parser!(u16).range(1..=30))]
    blocks: u16,
    /// On the GPU, also time every dispatch of a prefill step (the prompt's first
    /// `MAX_STEP` tokens) and of a decode step after it, with timestamps between dispatches,
    /// summed per kernel: the output gains `gpu_profile`. For tuning the kernels.
    #[arg(long)]
    profile: bool,
}

pub fn bench(a: BenchArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let req = BenchRequest {
        prompt_tokens: a.prompt_tokens,
        decode_tokens: a.decode_tokens,
        runs: a.runs,
    };
    let (m, mut engine) = if a.synthetic {
        let tok = data::open_tokenizer_json("smollm2")?;
        let m = LoadedModel::synthetic(tok, a.seed, usize::from(a.blocks))?;
        let engine = block_on(Engine::start(Arc::clone(&m.model), a.backend.backend));
        (m, engine)
    } else {
        open(a.gguf, model, &a.backend)?
    };
    let start = Instant::now();
    let now = || start.elapsed().as_secs_f64() * 1e3;
    let result = block_on(bench::bench(&m, &mut engine, &req, now))?;
    if !a.profile {
        return to_json(&result);
    }
    let steps = a.prompt_tokens.clamp(1, tokenmeter_gpu::MAX_STEP);
    let prompt = &result.prompt_ids[..steps.min(result.prompt_ids.len())];
    let profile = block_on(engine.profile(prompt, a.runs))
        .ok_or_else(|| msg!("--profile times the GPU's dispatches: the bench ran on the CPU"))?
        .map_err(|e| msg!("cannot profile the GPU: {}", e.to_string()))?;
    to_json(&Profiled {
        bench: result,
        gpu_profile: profile,
    })
}

/// `bench --profile`'s answer: the benchmark's fields, then the profile.
#[derive(serde::Serialize)]
struct Profiled {
    #[serde(flatten)]
    bench: bench::BenchResponse,
    gpu_profile: tokenmeter_gpu::Profile,
}

#[derive(clap::Args)]
pub struct ModelArgs {
    #[command(flatten)]
    gguf: GgufArg,
    #[command(flatten)]
    backend: BackendArg,
}

/// What the page's status line shows once the model is loaded.
pub fn info(a: ModelArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let (m, engine) = open(a.gguf, model, &a.backend)?;
    to_json(&m.summary(engine.backend()))
}
