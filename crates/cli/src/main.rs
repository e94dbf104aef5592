//! `tokenmeter`: the core on the command line, JSON out.
//!
//! ```text
//! tokenmeter tokenize --tokenizer smollm2 --text "Hola, mundo"
//! echo "The capital of France is" | tokenmeter next --top 10
//! ```

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;
use tokenmeter_core::chat;
use tokenmeter_core::cost::{self, PriceTable, Usage, DEFAULT_MODELS, PRICES};
use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::model::{bench, Model};
use tokenmeter_core::physics::{self, Assumptions, ModelShape};
use tokenmeter_core::sampling::{self, Sampler};
use tokenmeter_core::scoring::{self, Distribution};
use tokenmeter_core::tokenizer::registry::{self, SHIPPED};
use tokenmeter_core::tokenizer::{self, TextTokenizer};
use tokenmeter_gpu::{block_on, Engine, Preference};

/// Where `./dev setup` puts the model (relative to the repository root).
const DEFAULT_MODEL: &str = "data/models/SmolLM2-135M-Instruct.Q4_1.gguf";

#[derive(Parser)]
#[command(
    name = "tokenmeter",
    version,
    about = "Tokens, next-token scores and their cost, as JSON"
)]
struct Cli {
    /// The SmolLM2 GGUF file (default: $TOKENMETER_MODEL, else the one `./dev setup` fetched);
    /// also accepted after the model-using subcommands.
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `--model PATH` of the subcommands that read the GGUF.
#[derive(clap::Args, Default)]
struct GgufArg {
    /// The SmolLM2 GGUF file (default: $TOKENMETER_MODEL, else the one `./dev setup` fetched).
    #[arg(long = "model", value_name = "PATH")]
    gguf: Option<PathBuf>,
}

/// `--backend` of the subcommands that run the model.
#[derive(clap::Args)]
struct BackendArg {
    /// Where the forward pass runs: `cpu`; `webgpu` (our WGSL kernels, natively through Vulkan,
    /// even on a software adapter); `auto` (a real GPU if there is one, else the CPU).
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: Preference,
}

fn parse_backend(s: &str) -> Result<Preference, String> {
    s.parse()
}

#[derive(Subcommand)]
enum Command {
    /// Split text into tokens: IDs, token texts, raw bytes and byte spans.
    Tokenize {
        #[command(flatten)]
        gguf: GgufArg,
        /// Tokenizer id (see `tokenmeter tokenizers`).
        #[arg(long, default_value = "smollm2")]
        tokenizer: String,
        /// The text; read from standard input when absent.
        #[arg(long)]
        text: Option<String>,
    },
    /// Score every vocabulary entry as the next token after a prompt.
    Next {
        #[command(flatten)]
        gguf: GgufArg,
        #[command(flatten)]
        backend: BackendArg,
        #[command(flatten)]
        prompt: PromptArgs,
        /// How many top candidates to print.
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[command(flatten)]
        sampling: SamplingArgs,
    },
    /// Generate tokens one by one: a JSON line per token, then a summary line.
    Generate {
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
    },
    /// How surprised the model is by each token of a text: probability, rank, bits.
    Surprisal {
        #[command(flatten)]
        gguf: GgufArg,
        #[command(flatten)]
        backend: BackendArg,
        /// The text; read from standard input when absent.
        #[arg(long)]
        text: Option<String>,
    },
    /// What a text costs as API input (and output) across models, from LiteLLM's prices and each
    /// model's own token count.
    Cost {
        /// The text; read from standard input when absent.
        #[arg(long)]
        text: Option<String>,
        /// Price table keys (repeatable; default: the popular models of the page).
        #[arg(long = "model")]
        models: Vec<String>,
        /// Output tokens per request (default: as many as each model's input tokens).
        #[arg(long)]
        output_tokens: Option<u64>,
        /// Share of the input read from the prompt cache, 0 to 1.
        #[arg(long, default_value_t = 0.0)]
        cached_share: f64,
        /// Use batch prices where the model has them.
        #[arg(long)]
        batch: bool,
        /// Requests per day, for the monthly figure (30 days).
        #[arg(long, default_value_t = 1000)]
        requests_per_day: u64,
    },
    /// The GPU time, energy and memory behind serving a request (formulas: `tokenmeter_core::physics`).
    GpuCost {
        /// A known model (`smollm2`, or a name from the page's table such as "Llama 3.1 70B").
        #[arg(long)]
        model: Option<String>,
        /// Parameters, when no --model is given (e.g. 7e9).
        #[arg(long)]
        params: Option<f64>,
        #[arg(long)]
        layers: Option<u32>,
        #[arg(long)]
        kv_heads: Option<u32>,
        #[arg(long)]
        head_dim: Option<u32>,
        /// Prompt tokens.
        #[arg(long, default_value_t = 1000)]
        tokens: u64,
        #[arg(long, default_value_t = 0)]
        output_tokens: u64,
        /// h100, h200, a100, l4 or rtx4090.
        #[arg(long, default_value = "h100")]
        gpu: String,
        /// Rent per GPU-hour (default: the GPU's typical on-demand price).
        #[arg(long)]
        usd_per_gpu_hour: Option<f64>,
        #[arg(long)]
        mfu: Option<f64>,
        #[arg(long)]
        batch: Option<u32>,
        #[arg(long)]
        pue: Option<f64>,
        #[arg(long)]
        usd_per_kwh: Option<f64>,
        /// Bytes per weight: 2 (BF16), 1 (8-bit), 0.5 (4-bit).
        #[arg(long)]
        bytes_per_param: Option<f64>,
    },
    /// List the shipped tokenizers, with source and licence.
    Tokenizers,
    /// Turn token IDs back into text: `--ids "9906, 1917"` or a JSON array.
    Decode {
        #[command(flatten)]
        gguf: GgufArg,
        #[arg(long, default_value = "smollm2")]
        tokenizer: String,
        /// The IDs; read from standard input when absent.
        #[arg(long)]
        ids: Option<String>,
    },
    /// Time loading every shipped tokenizer and encoding a text file with it (`./dev bench`).
    BenchTokenizers {
        #[command(flatten)]
        gguf: GgufArg,
        /// The text to encode.
        #[arg(long)]
        text_file: PathBuf,
    },
    /// Time prefill and greedy decode on this machine (see BENCHMARKS.md; `./dev bench`).
    Bench {
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
    },
}

/// The prompt of `next` and `generate`.
#[derive(clap::Args)]
struct PromptArgs {
    /// The prompt; read from standard input when absent. Special tokens such as <|im_start|>
    /// are recognised; no BOS is added unless --bos is given.
    #[arg(long)]
    prompt: Option<String>,
    /// Put the BOS token before the prompt.
    #[arg(long)]
    bos: bool,
    /// Wrap the prompt as a user message in SmolLM2's chat template.
    #[arg(long)]
    chat: bool,
}

impl PromptArgs {
    /// The prompt's token IDs, as the model reads them.
    fn ids(self, loaded: &Loaded) -> Result<Vec<u32>, String> {
        let text = text_or_stdin(self.prompt)?;
        let text = if self.chat {
            chat::smollm2_prompt(&text)
        } else {
            text
        };
        loaded.encode(&text, self.bos)
    }
}

/// Sampling settings (see `tokenmeter_core::sampling`).
#[derive(clap::Args)]
struct SamplingArgs {
    /// Temperature; 0 is greedy.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Keep only the k most likely tokens (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Keep the most likely tokens up to this total probability (1: all).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Seed of the draws: the same seed gives the same tokens.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl SamplingArgs {
    fn sampler(&self) -> Result<Sampler, String> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err("--temperature must be a number ≥ 0".into());
        }
        if !(0.0..=1.0).contains(&self.top_p) {
            return Err("--top-p must be between 0 and 1".into());
        }
        Ok(Sampler {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            seed: self.seed,
        })
    }
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
    let top = cli.model;
    // The GGUF path: after the subcommand, else before it, else the default.
    let path = |g: GgufArg| {
        g.gguf
            .or_else(|| top.clone())
            .unwrap_or_else(default_model_path)
    };
    let model_path = top.clone().unwrap_or_else(default_model_path);
    match cli.command {
        Command::Bench {
            gguf,
            backend,
            prompt_tokens,
            decode_tokens,
            runs,
        } => {
            let model_path = path(gguf);
            let Loaded {
                tokenizer: tok,
                mut engine,
                ..
            } = Loaded::open(&model_path, backend.backend)?;
            let prompt = bench::bench_prompt(&tok, prompt_tokens).map_err(err)?;
            let start = std::time::Instant::now();
            let now = || start.elapsed().as_secs_f64() * 1e3;
            let r = block_on(bench::run_median(
                &mut engine,
                &tok,
                &prompt,
                decode_tokens,
                runs,
                now,
            ))
            .map_err(err)?;
            let on_gpu = engine.on_gpu();
            Ok(json!({
                "backend": if on_gpu {
                    "tokenmeter WGSL kernels (wgpu)"
                } else {
                    "tokenmeter native (own Q4_1/Q8_0 kernels)"
                },
                "engine": engine.backend(),
                // The CPU forward pass runs on the calling thread only.
                "threads": 1,
                "prompt_ids": prompt,
                "prefill_tokens_per_s": r.prefill_tokens_per_s(),
                "decode_tokens_per_s": r.decode_tokens_per_s(),
                "result": r,
            }))
        }
        Command::BenchTokenizers { gguf, text_file } => {
            let model_path = path(gguf);
            let text = std::fs::read_to_string(&text_file)
                .map_err(|e| format!("{}: {e}", text_file.display()))?;
            let mut results = Vec::new();
            for s in SHIPPED {
                let t0 = std::time::Instant::now();
                let tok = open_tokenizer(s.id, &model_path)?;
                let load_ms = t0.elapsed().as_secs_f64() * 1e3;
                let t1 = std::time::Instant::now();
                let ids = tok.encode(&text).map_err(err)?;
                let encode_ms = t1.elapsed().as_secs_f64() * 1e3;
                results.push(json!({
                    "tokenizer": s.id,
                    "load_ms": load_ms,
                    "encode_ms": encode_ms,
                    "tokens": ids.len(),
                }));
            }
            Ok(json!({ "bytes": text.len(), "results": results }))
        }
        Command::Cost {
            text,
            models,
            output_tokens,
            cached_share,
            batch,
            requests_per_day,
        } => {
            if !(0.0..=1.0).contains(&cached_share) {
                return Err("--cached-share must be between 0 and 1".into());
            }
            let text = text_or_stdin(text)?;
            let path = data_dir().join("prices/prices.json");
            let table =
                PriceTable::from_json(&std::fs::read(&path).map_err(|e| {
                    format!("cannot read {}: {e} (run ./dev setup)", path.display())
                })?)
                .map_err(err)?;
            let models: Vec<String> = if models.is_empty() {
                DEFAULT_MODELS.iter().map(|m| m.to_string()).collect()
            } else {
                models
            };
            let mut counts: std::collections::HashMap<String, u64> = Default::default();
            let mut rows = Vec::new();
            for m in &models {
                let price = table.get(m).ok_or_else(|| {
                    let near: Vec<&str> = table
                        .search(m, 5)
                        .iter()
                        .map(|p| p.model.as_str())
                        .collect();
                    format!(
                        "no price for '{m}' in LiteLLM {} (similar: {near:?})",
                        table.version
                    )
                })?;
                let counting = cost::counting_for(m);
                let tokens = match counts.get(&counting.tokenizer) {
                    Some(&n) => n,
                    None => {
                        let tok = open_tokenizer(&counting.tokenizer, &model_path)?;
                        let n = tok.encode(&text).map_err(err)?.len() as u64;
                        counts.insert(counting.tokenizer.clone(), n);
                        n
                    }
                };
                let usage = Usage {
                    input_tokens: tokens,
                    output_tokens: output_tokens.unwrap_or(tokens),
                    cached_share,
                    batch,
                };
                let c = cost::cost(price, &usage);
                rows.push(json!({
                    "model": m,
                    "provider": price.provider,
                    "tokens": tokens,
                    "output_tokens": usage.output_tokens,
                    "exact": counting.exact,
                    "tokenizer": counting.tokenizer,
                    "estimate_note": counting.note,
                    "input_cost_usd": c.input_usd,
                    "output_cost_usd": c.output_usd,
                    "total_usd": c.total_usd,
                    "per_1000_requests_usd": c.total_usd * 1000.0,
                    "per_month_usd": c.total_usd * requests_per_day as f64 * 30.0,
                    "context_used": c.context_used,
                    "long_context_tier": c.tier_applied,
                    "batch_prices": c.batch_applied,
                }));
            }
            Ok(json!({
                "models": rows,
                "prices": {
                    "source": PRICES.name,
                    "package": PRICES.package,
                    "version": table.version,
                    "date": table.date,
                },
            }))
        }
        Command::GpuCost {
            model,
            params,
            layers,
            kv_heads,
            head_dim,
            tokens,
            output_tokens,
            gpu,
            usd_per_gpu_hour,
            mfu,
            batch,
            pue,
            usd_per_kwh,
            bytes_per_param,
        } => {
            let shape = match (model, params) {
                (Some(name), _) => physics::known_model(&name).ok_or_else(|| {
                    let names: Vec<String> = physics::known_models()
                        .into_iter()
                        .map(|m| m.name)
                        .collect();
                    format!(
                        "unknown model '{name}' (known: smollm2, {})",
                        names.join(", ")
                    )
                })?,
                (None, Some(p)) if p > 0.0 => ModelShape::gqa(
                    "custom",
                    p,
                    layers.unwrap_or(0),
                    kv_heads.unwrap_or(0),
                    head_dim.unwrap_or(0),
                    "your numbers",
                ),
                _ => return Err("give --model NAME, or --params N (> 0)".into()),
            };
            let d = Assumptions::default();
            let typical = physics::gpu(&gpu).map_or(d.usd_per_gpu_hour, |g| g.typical_usd_per_hour);
            let a = Assumptions {
                gpu: gpu.clone(),
                usd_per_gpu_hour: usd_per_gpu_hour.unwrap_or(typical),
                mfu: mfu.unwrap_or(d.mfu),
                batch: batch.unwrap_or(d.batch),
                pue: pue.unwrap_or(d.pue),
                usd_per_kwh: usd_per_kwh.unwrap_or(d.usd_per_kwh),
                bytes_per_param: bytes_per_param.unwrap_or(d.bytes_per_param),
                kv_bytes: d.kv_bytes,
            };
            let p = physics::estimate(&shape, tokens, output_tokens, &a).ok_or_else(|| {
                let ids: Vec<&str> = physics::GPUS.iter().map(|g| g.id).collect();
                format!("unknown GPU '{gpu}' (known: {})", ids.join(", "))
            })?;
            let kv_known = shape.kv_values_per_layer > 0 && shape.layers > 0;
            let mut out = serde_json::to_value(&p).map_err(|e| e.to_string())?;
            if !kv_known {
                out["kv_cache_bytes"] = serde_json::Value::Null;
            }
            out["model"] = json!(shape);
            out["gpu"] = json!(physics::gpu(&gpu));
            out["assumptions"] = json!(a);
            Ok(out)
        }
        Command::Tokenizers => Ok(json!({
            "tokenizers": SHIPPED.iter().map(|s| json!({
                "id": s.id,
                "name": s.name,
                "models": s.models,
                "source": s.source,
                "license": s.license,
                "note": s.note,
                "available": s.id == "smollm2" || vocab_path(s.id).exists(),
            })).collect::<Vec<_>>(),
        })),
        Command::Decode {
            gguf,
            tokenizer,
            ids,
        } => {
            let model_path = path(gguf);
            let ids = tokenizer::parse_ids(&text_or_stdin(ids)?).map_err(err)?;
            let tok = open_tokenizer(&tokenizer, &model_path)?;
            let decoded = tok.decode_ids(&ids);
            let tokens: Vec<_> = decoded
                .tokens
                .iter()
                .map(|d| match &d.token {
                    Some(t) => json!({ "id": d.id, "token": t.display(), "valid": true }),
                    None => json!({ "id": d.id, "valid": false }),
                })
                .collect();
            let invalid: Vec<u32> = decoded
                .tokens
                .iter()
                .filter(|d| d.token.is_none())
                .map(|d| d.id)
                .collect();
            Ok(json!({
                "tokenizer": tokenizer,
                "text": decoded.text,
                "tokens": tokens,
                "invalid": invalid,
                "vocab_size": tok.vocab_size(),
            }))
        }
        Command::Tokenize {
            gguf,
            tokenizer,
            text,
        } => {
            let model_path = path(gguf);
            let text = text_or_stdin(text)?;
            let tok = open_tokenizer(&tokenizer, &model_path)?;
            let tokens = tok.tokenize(&text).map_err(err)?;
            Ok(json!({
                "tokenizer": tok.info().id,
                "count": tokens.len(),
                "ids": tokens.iter().map(|t| t.id).collect::<Vec<_>>(),
                "tokens": tokens.iter().map(|t| t.display()).collect::<Vec<_>>(),
                "spans": tokens,
            }))
        }
        Command::Next {
            gguf,
            backend,
            prompt,
            top,
            sampling,
        } => {
            let model_path = path(gguf);
            let sampler = sampling.sampler()?;
            let mut loaded = Loaded::open(&model_path, backend.backend)?;
            let ids = prompt.ids(&loaded)?;
            let logits = block_on(loaded.engine.next_logits(&ids)).map_err(err)?;
            let next = scoring::next_token(logits, &loaded.tokenizer, top);
            let d = sampling::decide(logits, &sampler, 0, top);
            let survivors: Vec<_> = d
                .head
                .iter()
                .map(
                    |&(id, p)| json!({ "id": id, "token": show(&loaded.tokenizer, id), "prob": p }),
                )
                .collect();
            Ok(json!({
                "backend": loaded.engine.backend(),
                "prompt_ids": ids,
                "candidates": next.candidates,
                "entropy": next.entropy_nats,
                "entropy_bits": next.entropy_nats / std::f64::consts::LN_2,
                "vocab_size": next.vocab_size,
                "sampling": {
                    "settings": sampler,
                    "survivors": d.survivors,
                    "top": survivors,
                    "chosen": { "id": d.token, "token": show(&loaded.tokenizer, d.token), "prob": d.token_prob },
                },
            }))
        }
        Command::Generate {
            gguf,
            backend,
            prompt,
            max_tokens,
            sampling,
        } => {
            let model_path = path(gguf);
            let sampler = sampling.sampler()?;
            let mut loaded = Loaded::open(&model_path, backend.backend)?;
            let mut ids = prompt.ids(&loaded)?;
            let prompt_len = ids.len();
            let stop = loaded.stop.clone();
            let mut out = std::io::stdout().lock();
            let mut text = Vec::new();
            for step in 0..max_tokens {
                let logits = block_on(loaded.engine.next_logits(&ids)).map_err(err)?;
                let dist = Distribution::of(logits);
                let d = sampling::decide(logits, &sampler, step as u64, 0);
                let id = d.token;
                let line = json!({
                    "step": step,
                    "id": id,
                    "token": show(&loaded.tokenizer, id),
                    "prob": d.token_prob,
                    "model_prob": dist.prob(logits[id as usize]),
                });
                writeln!(out, "{line}").map_err(|e| e.to_string())?;
                ids.push(id);
                text.extend_from_slice(loaded.tokenizer.token_bytes(id).map_err(err)?);
                if stop.contains(&id) {
                    break;
                }
            }
            Ok(json!({
                "backend": loaded.engine.backend(),
                "prompt_tokens": prompt_len,
                "generated_tokens": ids.len() - prompt_len,
                "ids": &ids[prompt_len..],
                "text": String::from_utf8_lossy(&text),
                "settings": sampler,
            }))
        }
        Command::Surprisal {
            gguf,
            backend,
            text,
        } => {
            let model_path = path(gguf);
            let text = text_or_stdin(text)?;
            let mut loaded = Loaded::open(&model_path, backend.backend)?;
            let ids = loaded.encode(&text, false)?;
            loaded.engine.session.set_track_scores(true);
            block_on(loaded.engine.next_logits(&ids)).map_err(err)?;
            let scores = loaded.engine.session.token_scores().to_vec();
            let tokens: Vec<_> = ids
                .iter()
                .enumerate()
                .map(|(i, &id)| {
                    let score = i.checked_sub(1).map(|j| scores[j]);
                    json!({
                        "id": id,
                        "token": show(&loaded.tokenizer, id),
                        "prob": score.map(|s| s.prob),
                        "rank": score.map(|s| s.rank),
                        "surprisal_bits": score.map(|s| s.surprisal_bits()),
                    })
                })
                .collect();
            let total: f64 = scores.iter().map(|s| s.surprisal_bits()).sum();
            let n = scores.len().max(1) as f64;
            Ok(json!({
                "tokens": tokens,
                "total_bits": total,
                "bits_per_token": total / n,
                "perplexity": (total / n).exp2(),
                "backend": loaded.engine.backend(),
            }))
        }
    }
}

/// The model file opened: its tokenizer and a session on its weights.
struct Loaded {
    tokenizer: TextTokenizer,
    engine: Engine,
    bos: Option<u32>,
    stop: Vec<u32>,
}

impl Loaded {
    fn open(path: &PathBuf, backend: Preference) -> Result<Self, String> {
        let (gguf, mut file) = open_gguf(path)?;
        let tokenizer = TextTokenizer::from_gguf(&gguf, tokenizer::smollm2_info()).map_err(err)?;
        let model = Model::from_gguf(&gguf, &mut file).map_err(err)?;
        let md = gguf.metadata();
        Ok(Self {
            stop: chat::stop_tokens(&gguf, &tokenizer),
            tokenizer,
            engine: block_on(Engine::start(std::sync::Arc::new(model), backend)),
            bos: md.u32("tokenizer.ggml.bos_token_id").ok(),
        })
    }

    fn encode(&self, text: &str, bos: bool) -> Result<Vec<u32>, String> {
        let mut ids = self.tokenizer.encode(text).map_err(err)?;
        if bos {
            ids.insert(0, self.bos.ok_or("this model names no BOS token")?);
        }
        Ok(ids)
    }
}

/// A token as text (hex for bytes of a split character).
fn show(tokenizer: &TextTokenizer, id: u32) -> String {
    tokenizer.token_display(id).unwrap_or_default()
}

fn err(e: tokenmeter_core::Error) -> String {
    e.to_string()
}

/// Where `cargo xtask data` writes vocabularies and prices (override: $TOKENMETER_DATA).
fn data_dir() -> PathBuf {
    std::env::var_os("TOKENMETER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data"))
}

fn vocab_path(id: &str) -> PathBuf {
    data_dir().join("tokenizers").join(format!("{id}.json"))
}

/// A shipped tokenizer: SmolLM2's from the model file, the others from their converted files.
fn open_tokenizer(id: &str, model_path: &PathBuf) -> Result<TextTokenizer, String> {
    let spec = registry::find(id).ok_or_else(|| {
        let ids: Vec<&str> = SHIPPED.iter().map(|s| s.id).collect();
        format!("unknown tokenizer '{id}' (available: {})", ids.join(", "))
    })?;
    if id == "smollm2" {
        let (gguf, _) = open_gguf(model_path)?;
        return TextTokenizer::from_gguf(&gguf, spec.info()).map_err(err);
    }
    let path = vocab_path(id);
    let json = std::fs::read(&path)
        .map_err(|e| format!("cannot read {}: {e} (run ./dev setup)", path.display()))?;
    TextTokenizer::from_json(&json, spec.info()).map_err(err)
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
