//! A benchmark that runs identically natively and in wasm: prefill a prompt, then decode greedily.
//!
//! The clock is passed in (`std::time::Instant` does not exist in the browser), so the CLI and the
//! worker measure the same code path with their own timers. The model behind is anything that
//! predicts ([`Predictor`]): the CPU [`Session`], or the GPU engine, whose read-backs are async.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::Session;

/// Something that gives next-token logits for a prompt, reusing its cache between calls.
pub trait Predictor {
    /// The logits after `prompt`.
    fn predict(&mut self, prompt: &[u32]) -> impl Future<Output = Result<Vec<f32>>>;
    /// Forgets the cache.
    fn reset(&mut self);
}

impl Predictor for Session {
    fn predict(&mut self, prompt: &[u32]) -> impl Future<Output = Result<Vec<f32>>> {
        let logits = self.next_logits(prompt).map(<[f32]>::to_vec);
        std::future::ready(logits)
    }
    fn reset(&mut self) {
        self.truncate(0);
    }
}
use crate::sampling::Sampler;
use crate::scoring;
use crate::tokenizer::TextTokenizer;
use crate::Result;

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
    model: &mut impl Predictor,
    tokenizer: &TextTokenizer,
    prompt: &[u32],
    decode_tokens: usize,
    now_ms: impl Fn() -> f64,
) -> Result<BenchResult> {
    model.reset();
    let t0 = now_ms();
    let mut next = argmax(&model.predict(prompt).await?);
    let prefill_ms = now_ms() - t0;

    let mut ids = prompt.to_vec();
    let mut generated = Vec::with_capacity(decode_tokens);
    let t1 = now_ms();
    for _ in 0..decode_tokens {
        ids.push(next);
        generated.push(next);
        next = argmax(&model.predict(&ids).await?);
    }
    let decode_ms = now_ms() - t1;

    let logits = model.predict(&ids).await?;
    let sampler = Sampler {
        temperature: 0.8,
        top_k: 0,
        top_p: 0.95,
        seed: 1,
    };
    const ROWS: usize = 20;
    let t2 = now_ms();
    for step in 0..ROWS {
        let a = scoring::analyse(&logits, tokenizer, 10, &sampler, step as u64);
        std::hint::black_box(a);
    }
    let scoring_ms = (now_ms() - t2) / ROWS as f64;
    Ok(BenchResult {
        prompt_tokens: prompt.len(),
        decode_tokens,
        prefill_ms,
        decode_ms,
        generated,
        scoring_ms,
    })
}

/// `runs` runs (at least one); each time is the median over the runs.
pub async fn run_median(
    model: &mut impl Predictor,
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
    Ok(out)
}

/// The first `n` tokens of [`BENCH_TEXT`] (repeated if it is too short).
pub fn bench_prompt(tokenizer: &TextTokenizer, n: usize) -> Result<Vec<u32>> {
    let one = tokenizer.encode(BENCH_TEXT)?;
    Ok(one.iter().copied().cycle().take(n).collect())
}

fn argmax(logits: &[f32]) -> u32 {
    scoring::top_k(logits, 1).first().map_or(0, |c| c.0)
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
