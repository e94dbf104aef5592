//! A benchmark that runs identically natively and in wasm: prefill a prompt, then decode greedily.
//!
//! Answers *bench* ([`bench`]; `tokenmeter bench`, the worker's `Bench` used by `./dev bench`).
//!
//! The clock is passed in (`std::time::Instant` does not exist in the browser), so the CLI and the
//! worker measure the same code path with their own timers. The model behind is anything that
//! runs forward passes ([`Forward`]): the CPU `Session`, or the GPU engine, whose read-backs are
//! async.

use serde::{Deserialize, Serialize};

use super::limits::{BENCH_DECODE_TOKENS, BENCH_PROMPT_TOKENS, BENCH_RUNS};
use super::model::LoadedModel;
use crate::distribution::top_k;
use crate::model::{cpu_label, next_logits, Backend, Forward};
use crate::msg::Msg;
use crate::sampling::Sampler;
use crate::scoring;
use crate::tokenizer::TextTokenizer;
use crate::Result;

/// What `tokenmeter bench` and `./dev bench` ask for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct BenchRequest {
    /// Prompt length in tokens (a fixed English paragraph, cut or repeated).
    pub prompt_tokens: usize,
    /// Tokens decoded one by one after the prompt.
    pub decode_tokens: usize,
    /// Runs; each time reported is the median.
    pub runs: usize,
}

/// The benchmark's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchResponse {
    /// What ran: "tokenmeter WGSL kernels (wgpu)", or this build's CPU kernels.
    pub backend: String,
    /// The model's name: the file's, or "synthetic SmolLM2-135M shapes, seed …".
    #[serde(default)]
    pub model: String,
    pub engine: Backend,
    /// Threads the forward pass uses.
    pub threads: usize,
    pub prompt_ids: Vec<u32>,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub result: BenchResult,
}

/// Times prefill and greedy decode on `engine` with the clock `now_ms`, leaving its cache empty.
pub async fn bench<F: Forward>(
    m: &LoadedModel,
    engine: &mut F,
    req: &BenchRequest,
    now_ms: impl Fn() -> f64,
) -> Result<BenchResponse, Msg> {
    BENCH_PROMPT_TOKENS.check(req.prompt_tokens as f64)?;
    BENCH_DECODE_TOKENS.check(req.decode_tokens as f64)?;
    BENCH_RUNS.check(req.runs as f64)?;
    let limit = m.model.config().context_length;
    if req.prompt_tokens + req.decode_tokens > limit {
        return Err(crate::Error::PromptTooLong {
            tokens: req.prompt_tokens + req.decode_tokens,
            limit,
        }
        .into());
    }
    let prompt = bench_prompt(&m.tokenizer, req.prompt_tokens)?;
    let result = run_median(
        engine,
        &m.tokenizer,
        &prompt,
        req.decode_tokens,
        req.runs,
        now_ms,
    )
    .await;
    // Leave no benchmark state behind for the next real request.
    engine.session_mut().truncate(0);
    let r = result?;
    let engine_info = engine.backend();
    let threads = if engine_info.on_gpu() {
        1
    } else {
        crate::model::threads::threads()
    };
    Ok(BenchResponse {
        backend: if engine_info.on_gpu() {
            "tokenmeter WGSL kernels (wgpu)".into()
        } else {
            format!("tokenmeter {} (own Q4_1/Q8_0 kernels)", cpu_label())
        },
        engine: engine_info,
        model: m.name.clone(),
        threads,
        prompt_ids: prompt,
        prefill_tokens_per_s: r.prefill_tokens_per_s(),
        decode_tokens_per_s: r.decode_tokens_per_s(),
        result: r,
    })
}

/// What one run measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchResult {
    pub prompt_tokens: usize,
    pub decode_tokens: usize,
    /// Time to run the whole prompt through the model (one batch).
    pub prefill_ms: f64,
    /// Time for `decode_tokens` single-token steps, each fed the previous step's argmax.
    pub decode_ms: f64,
    /// The greedily decoded IDs (a cross-check between runs).
    pub generated: Vec<u32>,
    /// Time to analyse one row of logits for display (softmax, entropy, top-10, the sampler's
    /// filters and draw, the long-tail curve over the whole vocabulary), averaged over 20 rows.
    pub scoring_ms: f64,
    /// What the panel inside the model adds to a step: the logit lens and attention at the last
    /// token (`Forward::inspect`), averaged over 3 looks, on the benchmark's backend: one token
    /// through the blocks with its rows read out, and 30 vocabulary-wide products.
    #[serde(default)]
    pub inside_ms: f64,
}

impl BenchResult {
    pub fn prefill_tokens_per_s(&self) -> f64 {
        self.prompt_tokens as f64 / (self.prefill_ms / 1e3)
    }
    pub fn decode_tokens_per_s(&self) -> f64 {
        self.decode_tokens as f64 / (self.decode_ms / 1e3)
    }
}

/// Prefills `prompt` from an empty cache, then decodes `decode_tokens` greedily.
pub async fn run(
    model: &mut impl Forward,
    tokenizer: &TextTokenizer,
    prompt: &[u32],
    decode_tokens: usize,
    now_ms: impl Fn() -> f64,
) -> Result<BenchResult> {
    model.session_mut().truncate(0);
    let t0 = now_ms();
    let mut next = argmax(&next_logits(model, prompt).await?);
    let prefill_ms = now_ms() - t0;

    let mut ids = prompt.to_vec();
    let mut generated = Vec::with_capacity(decode_tokens);
    let t1 = now_ms();
    for _ in 0..decode_tokens {
        ids.push(next);
        generated.push(next);
        next = argmax(&next_logits(model, &ids).await?);
    }
    let decode_ms = now_ms() - t1;

    let logits = next_logits(model, &ids).await?;
    let sampler = Sampler {
        temperature: 0.8,
        top_k: 0,
        top_p: 0.95,
        seed: 1,
    };
    const ROWS: usize = 20;
    let t2 = now_ms();
    for step in 0..ROWS {
        let a = scoring::describe(&logits, tokenizer, 10, &sampler, step as u64);
        std::hint::black_box(a);
    }
    let scoring_ms = (now_ms() - t2) / ROWS as f64;
    const LOOKS: usize = 3;
    let t3 = now_ms();
    for _ in 0..LOOKS {
        let seen = model.inspect(&ids, ids.len() - 1).await?;
        std::hint::black_box(seen);
    }
    let inside_ms = (now_ms() - t3) / LOOKS as f64;
    Ok(BenchResult {
        prompt_tokens: prompt.len(),
        decode_tokens,
        prefill_ms,
        decode_ms,
        generated,
        scoring_ms,
        inside_ms,
    })
}

/// `runs` runs (at least one); each time is the median over the runs.
pub async fn run_median(
    model: &mut impl Forward,
    tokenizer: &TextTokenizer,
    prompt: &[u32],
    decode_tokens: usize,
    runs: usize,
    now_ms: impl Fn() -> f64,
) -> Result<BenchResult> {
    let mut results = Vec::new();
    for _ in 0..runs.max(1) {
        results.push(run(model, tokenizer, prompt, decode_tokens, &now_ms).await?);
    }
    let median = |f: fn(&BenchResult) -> f64| {
        let mut v: Vec<f64> = results.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut out = results[0].clone();
    out.prefill_ms = median(|r| r.prefill_ms);
    out.decode_ms = median(|r| r.decode_ms);
    out.scoring_ms = median(|r| r.scoring_ms);
    out.inside_ms = median(|r| r.inside_ms);
    Ok(out)
}

/// The first `n` tokens of [`BENCH_TEXT`] (repeated if it is too short).
pub fn bench_prompt(tokenizer: &TextTokenizer, n: usize) -> Result<Vec<u32>> {
    let one = tokenizer.encode(BENCH_TEXT)?;
    Ok(one.iter().copied().cycle().take(n).collect())
}

fn argmax(logits: &[f32]) -> u32 {
    top_k(logits, 1).first().map_or(0, |c| c.0)
}

/// A fixed English paragraph for benchmarks (tokenized, then cut to the wanted length).
pub const BENCH_TEXT: &str =
    "A token is the smallest unit of text that a language model reads and \
writes. Before the model sees your words, a tokenizer turns them into numbers: each number is the \
position of a piece of text in the model's vocabulary. To write the next token, the model scores \
every entry of that vocabulary, tens of thousands of them, and picks one. Graphics processors do \
this scoring for many entries at once, which is why they are rented by the hour to serve models, \
and why the price of a token is, in the end, the rent of a processor, the energy it burns and the \
memory that holds the weights.";
