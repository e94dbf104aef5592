//! Behind the price: the GPU time, energy and memory that serving a request takes.
//!
//! A transformer with N parameters does about one multiply and one add per parameter per token:
//!
//! ```text
//! FLOPs per token ≈ 2·N_active                           (Kaplan et al. 2020; attention adds a
//!                                                          term that grows with context, left out)
//! memory   = W + B · KV,   W = N · bytes per weight,   KV = 2·layers·kv_heads·head_dim·bytes·tokens
//! GPUs     n = ⌈memory / one GPU's memory⌉            (they share the work: n× bandwidth, n× FLOP/s)
//! prefill: 2·N_active·n_in FLOPs, run in parallel → t_prefill = 2·N_active·n_in / (n·F·MFU)
//! decode:  one step per output token for the whole batch of B sequences; a step reads the
//!          weights once, shared by the batch:
//!            t_step = max( R(B) / (n·BW) ,  B · 2·N_active / (n·F·MFU) )   memory- vs compute-bound
//!            t_decode (one sequence) = n_out · t_step / B
//! R(B)     = bytes read per step: all of W for a dense model; for a mixture of experts the
//!            dense part (attention, embeddings, shared experts) plus each routed expert some
//!            token of the batch uses: E·(1 − (1 − k/E)^B) of E experts per layer, k at B = 1
//! GPU cost = n · (t_prefill + t_decode) / 3600 × rent per GPU-hour
//! energy   = n · board power × time × PUE                (PUE: the data centre's overhead)
//! ```
//!
//! F is the GPU's dense BF16 peak, BW its memory bandwidth, MFU the fraction of peak a real
//! server reaches. At batch 1 a decode step waits on memory, not arithmetic: that is why providers
//! batch, and why an API token costs a fraction of what one user's GPU-second would. A mixture of
//! experts is cheap at batch 1 (it reads k experts, not all) and its advantage shrinks as the
//! batch grows and more distinct experts are read each step ([`BatchPoint`] traces that curve).
//!
//! Files: [`gpus`] (the GPU table), [`models`] (the open models' shapes).

mod gpus;
mod models;

use serde::{Deserialize, Serialize};

pub use gpus::{gpu, gpu_ids, Gpu, GPUS};
pub use models::{known_model, known_models, smollm2, ModelShape, Moe};

/// The knobs of the estimate, each shown and editable in the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Assumptions {
    pub gpu: String,
    /// Rent of one GPU, US dollars per hour; `None`: the GPU's typical rent ([`Gpu`]), so that
    /// choosing another GPU brings its own price.
    pub usd_per_gpu_hour: Option<f64>,
    /// Model FLOPs utilisation: the share of peak throughput actually reached.
    pub mfu: f64,
    /// Sequences decoded together (they share each read of the weights).
    pub batch: u32,
    /// Power usage effectiveness of the data centre.
    pub pue: f64,
    pub usd_per_kwh: f64,
    /// Bytes per weight (2 = BF16, 1 = 8-bit, 0.5 = 4-bit).
    pub bytes_per_param: f64,
    /// Bytes per cached key/value number.
    pub kv_bytes: f64,
}

/// Sources of the default assumptions (shown beside them).
pub const DEFAULT_SOURCES: &str = "rent: each GPU's typical on-demand price (range and date beside it); \
PUE 1.54: Uptime Institute Global Data Center Survey 2025, weighted industry average (1.58 in 2023); \
$0.134/kWh: US average commercial electricity price for 2025, EIA Electric Power Monthly table 5.3; \
MFU 40% and batch 32: round serving values to play with, not measurements";

impl Assumptions {
    /// The rent per GPU-hour used: the one set, else the GPU's typical rent (`None` for an
    /// unknown GPU).
    pub fn rent(&self) -> Option<f64> {
        self.usd_per_gpu_hour
            .or_else(|| gpu(&self.gpu).map(|g| g.typical_usd_per_hour))
    }
}

impl Default for Assumptions {
    fn default() -> Self {
        Self {
            gpu: "h100".into(),
            usd_per_gpu_hour: None,
            mfu: 0.4,
            batch: 32,
            pue: 1.54,
            usd_per_kwh: 0.134,
            bytes_per_param: 2.0,
            kv_bytes: 2.0,
        }
    }
}

/// The estimate for one request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Physics {
    pub prefill_flops: f64,
    pub decode_flops: f64,
    pub flops: f64,
    /// GPUs the model needs at this precision and batch (weights + the batch's KV cache).
    pub gpus: u32,
    /// Wall-clock time of this request's share of the work, on those GPUs.
    pub prefill_seconds: f64,
    pub decode_seconds: f64,
    pub seconds: f64,
    /// GPU-seconds it occupies: `gpus × seconds` (what is rented).
    pub gpu_seconds: f64,
    /// Whether a decode step waits on memory (true) or arithmetic.
    pub decode_memory_bound: bool,
    /// Parameters and bytes one decode step reads (for the whole batch), and for a mixture of
    /// experts the distinct routed experts it reads per layer.
    pub params_read_per_step: f64,
    pub bytes_read_per_step: f64,
    pub experts_touched: Option<f64>,
    /// Output tokens per second one sequence sees.
    pub tokens_per_second: f64,
    pub usd: f64,
    pub energy_wh: f64,
    pub energy_usd: f64,
    pub weights_bytes: f64,
    /// One sequence's key/value cache, and the whole batch's; `None` when the model's shape does
    /// not say (a custom model given by its parameter count alone).
    pub kv_cache_bytes: Option<f64>,
    pub kv_cache_bytes_batch: Option<f64>,
    /// Weights + the batch's KV cache, against one GPU's memory.
    pub memory_needed_bytes: f64,
    /// Whether one GPU holds it (`gpus == 1`).
    pub fits_in_memory: bool,
    /// How a decode step changes with the batch size (1, 2, 4, … 1,024 and the chosen batch).
    pub batch_curve: Vec<BatchPoint>,
}

/// One batch size on the curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchPoint {
    pub batch: u32,
    pub gpus: u32,
    /// Distinct routed experts read per MoE layer (mixtures of experts only).
    pub experts_touched: Option<f64>,
    pub bytes_read_per_step: f64,
    pub step_seconds: f64,
    pub memory_bound: bool,
    /// Output tokens per second one sequence sees, and all sequences together.
    pub tokens_per_second: f64,
    pub batch_tokens_per_second: f64,
}

/// One decode step of `batch` sequences, each `tokens` long.
struct Step {
    gpus: u32,
    kv_per_sequence: Option<f64>,
    memory_needed: f64,
    params_read: f64,
    bytes_read: f64,
    memory_time: f64,
    compute_time: f64,
}

impl Step {
    fn of(m: &ModelShape, g: &Gpu, a: &Assumptions, batch: u32, tokens: u64) -> Self {
        let b = f64::from(batch.max(1));
        let weights = m.params * a.bytes_per_param;
        let kv_known = m.layers > 0 && m.kv_values_per_layer > 0;
        let kv_per_sequence = kv_known.then(|| {
            f64::from(m.layers) * f64::from(m.kv_values_per_layer) * a.kv_bytes * tokens as f64
        });
        let memory_needed = weights + b * kv_per_sequence.unwrap_or(0.0);
        let per_gpu = g.memory_gb * 1e9;
        let gpus = (memory_needed / per_gpu).ceil().clamp(1.0, 1e6) as u32;
        let n = f64::from(gpus);
        let peak = n * g.bf16_tflops * 1e12 * a.mfu.clamp(1e-3, 1.0);
        let bandwidth = n * g.bandwidth_tbs * 1e12;
        let params_read = m.params_read(batch);
        let bytes_read = params_read * a.bytes_per_param;
        Self {
            gpus,
            kv_per_sequence,
            memory_needed,
            params_read,
            bytes_read,
            memory_time: bytes_read / bandwidth,
            compute_time: b * 2.0 * m.active_params / peak,
        }
    }

    fn seconds(&self) -> f64 {
        self.memory_time.max(self.compute_time)
    }
}

/// Estimates serving `n_in` prompt tokens and `n_out` output tokens (see the module docs).
pub fn estimate(m: &ModelShape, n_in: u64, n_out: u64, a: &Assumptions) -> Option<Physics> {
    let g = gpu(&a.gpu)?;
    let tokens = n_in.saturating_add(n_out);
    let step = Step::of(m, g, a, a.batch, tokens);
    let n = f64::from(step.gpus);
    let batch = f64::from(a.batch.max(1));
    let per_token = 2.0 * m.active_params;
    let peak = n * g.bf16_tflops * 1e12 * a.mfu.clamp(1e-3, 1.0);

    let prefill_flops = per_token * n_in as f64;
    let decode_flops = per_token * n_out as f64;
    let prefill_seconds = prefill_flops / peak;
    let t_step = step.seconds();
    let decode_seconds = n_out as f64 * t_step / batch;
    let seconds = prefill_seconds + decode_seconds;
    let gpu_seconds = seconds * n;
    let energy_wh = g.power_w * gpu_seconds / 3600.0 * a.pue;

    let mut sizes: Vec<u32> = (0..=10).map(|p| 1u32 << p).collect();
    if !sizes.contains(&a.batch.max(1)) {
        sizes.push(a.batch.max(1));
        sizes.sort_unstable();
    }
    let batch_curve = sizes
        .into_iter()
        .map(|b| {
            let s = Step::of(m, g, a, b, tokens);
            let t = s.seconds();
            BatchPoint {
                batch: b,
                gpus: s.gpus,
                experts_touched: m.moe.map(|moe| moe.experts_touched(b)),
                bytes_read_per_step: s.bytes_read,
                step_seconds: t,
                memory_bound: s.memory_time >= s.compute_time,
                tokens_per_second: 1.0 / t,
                batch_tokens_per_second: f64::from(b) / t,
            }
        })
        .collect();
    Some(Physics {
        prefill_flops,
        decode_flops,
        flops: prefill_flops + decode_flops,
        gpus: step.gpus,
        prefill_seconds,
        decode_seconds,
        seconds,
        gpu_seconds,
        decode_memory_bound: step.memory_time >= step.compute_time,
        params_read_per_step: step.params_read,
        bytes_read_per_step: step.bytes_read,
        experts_touched: m.moe.map(|moe| moe.experts_touched(a.batch)),
        tokens_per_second: 1.0 / t_step,
        usd: gpu_seconds / 3600.0 * a.rent()?,
        energy_wh,
        energy_usd: energy_wh / 1000.0 * a.usd_per_kwh,
        weights_bytes: m.params * a.bytes_per_param,
        kv_cache_bytes: step.kv_per_sequence,
        kv_cache_bytes_batch: step.kv_per_sequence.map(|kv| kv * batch),
        memory_needed_bytes: step.memory_needed,
        fits_in_memory: step.gpus == 1,
        batch_curve,
    })
}

/// What the user's own device achieved running the page's model: FLOP/s from its measured decode
/// speed (2·N FLOPs per token).
pub fn achieved_flops(params: f64, tokens_per_second: f64) -> f64 {
    2.0 * params * tokens_per_second
}

#[cfg(test)]
mod tests;
