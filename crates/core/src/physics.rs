//! Behind the price: the GPU time, energy and memory that serving a request takes.
//!
//! A transformer with N parameters does about one multiply and one add per parameter per token:
//!
//! ```text
//! FLOPs per token ≈ 2·N                                  (Kaplan et al. 2020; attention adds a
//!                                                          term that grows with context, left out)
//! prefill:  2·N·n_in FLOPs, run in parallel → t_prefill = 2·N·n_in / (F · MFU)
//! decode:   one step per output token; every step reads all weight bytes W once. Serving B
//!           sequences at once (batching) shares that read:
//!             t_step = max( W / BW ,  B · 2·N / (F · MFU) )      memory-bound vs compute-bound
//!             t_decode (one sequence) = n_out · t_step / B
//! GPU cost = (t_prefill + t_decode) / 3600 × rent per GPU-hour
//! energy   = board power × time × PUE                    (PUE: the data centre's overhead)
//! memory   = W + KV cache,  KV cache = 2 · layers · kv_heads · head_dim · bytes · tokens
//! ```
//!
//! F is the GPU's dense BF16 peak, BW its memory bandwidth, MFU the fraction of peak a real
//! server reaches. At batch 1 a decode step waits on memory, not arithmetic: that is why providers
//! batch, and why an API token costs a fraction of what one user's GPU-second would.

use serde::{Deserialize, Serialize};

/// A GPU's datasheet numbers.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Gpu {
    pub id: &'static str,
    pub name: &'static str,
    /// Dense BF16 tensor throughput, TFLOP/s (without structured sparsity).
    pub bf16_tflops: f64,
    pub memory_gb: f64,
    /// Memory bandwidth, TB/s.
    pub bandwidth_tbs: f64,
    /// Maximum board power, W.
    pub power_w: f64,
    pub source: &'static str,
    /// A typical on-demand rent, US dollars per GPU-hour, and the range seen, with its date.
    pub typical_usd_per_hour: f64,
    pub rent_range: &'static str,
}

/// The GPUs the physics panel offers.
pub const GPUS: &[Gpu] = &[
    Gpu {
        id: "h100",
        name: "NVIDIA H100 SXM 80GB",
        bf16_tflops: 989.4,
        memory_gb: 80.0,
        bandwidth_tbs: 3.35,
        power_w: 700.0,
        source: "NVIDIA H100 product page and Hopper whitepaper v1.04 (BF16 989.4 dense, 1,979 with sparsity; 80 GB HBM3, 3.35 TB/s, up to 700 W)",
        typical_usd_per_hour: 3.0,
        rent_range: "$2.40–4.30 on GPU clouds (RunPod, Lambda, Nebius, Vast.ai median), $6.90–12.30 on AWS/GCP/Azure; provider pages, Sept–Nov 2026",
    },
    Gpu {
        id: "h200",
        name: "NVIDIA H200 SXM 141GB",
        bf16_tflops: 989.4,
        memory_gb: 141.0,
        bandwidth_tbs: 4.8,
        power_w: 700.0,
        source: "NVIDIA H200 specifications as published (BF16 1,979 TFLOPS with sparsity; 141 GB HBM3e, 4.8 TB/s, up to 700 W for SXM)",
        typical_usd_per_hour: 4.5,
        rent_range: "$3.60–4.60 (RunPod, Nebius, Akash), Sept 2026",
    },
    Gpu {
        id: "a100",
        name: "NVIDIA A100 SXM 80GB",
        bf16_tflops: 312.0,
        memory_gb: 80.0,
        bandwidth_tbs: 2.039,
        power_w: 400.0,
        source: "NVIDIA A100 datasheet (BF16 312 TFLOPS, 624 with sparsity; 80 GB HBM2e, 2,039 GB/s, 400 W)",
        typical_usd_per_hour: 1.8,
        rent_range: "$0.84–2.80 on GPU clouds, up to $5.07 on GCP; Sept–Nov 2026",
    },
    Gpu {
        id: "l4",
        name: "NVIDIA L4 24GB",
        bf16_tflops: 121.0,
        memory_gb: 24.0,
        bandwidth_tbs: 0.3,
        power_w: 72.0,
        source: "NVIDIA L4 product page (BF16 242 TFLOPS with sparsity, \"one-half lower without\"; 24 GB GDDR6, 300 GB/s, 72 W)",
        typical_usd_per_hour: 0.6,
        rent_range: "$0.44–0.80 (RunPod, AWS g6, Modal), Sept 2026",
    },
    Gpu {
        id: "rtx4090",
        name: "NVIDIA GeForce RTX 4090",
        bf16_tflops: 165.2,
        memory_gb: 24.0,
        bandwidth_tbs: 1.008,
        power_w: 450.0,
        source: "NVIDIA Ada Lovelace architecture whitepaper, appendix A (BF16 with FP32 accumulate 165.2 dense, 330.4 with sparsity; 24 GB GDDR6X, 1,008 GB/s, 450 W)",
        typical_usd_per_hour: 0.4,
        rent_range: "$0.14–0.74 (Vast.ai, RunPod), Sept 2026",
    },
];

pub fn gpu(id: &str) -> Option<&'static Gpu> {
    GPUS.iter().find(|g| g.id == id)
}

/// What a model's size means for serving it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelShape {
    pub name: String,
    /// All parameters (what must sit in memory).
    pub params: f64,
    /// Parameters used per token (mixture-of-experts models use a fraction).
    pub active_params: f64,
    pub layers: u32,
    /// Key/value values cached per token per layer (2 · kv_heads · head_dim for standard
    /// attention; DeepSeek's MLA caches one compressed latent instead).
    pub kv_values_per_layer: u32,
    /// The shipped tokenizer that counts this model's tokens.
    pub tokenizer: String,
    pub source: String,
}

impl ModelShape {
    /// A standard (grouped-query) attention model.
    pub fn gqa(
        name: &str,
        params: f64,
        layers: u32,
        kv_heads: u32,
        head_dim: u32,
        source: &str,
    ) -> Self {
        Self {
            name: name.into(),
            params,
            active_params: params,
            layers,
            kv_values_per_layer: 2 * kv_heads * head_dim,
            tokenizer: String::new(),
            source: source.into(),
        }
    }

    fn counted_with(mut self, tokenizer: &str) -> Self {
        self.tokenizer = tokenizer.into();
        self
    }
}

/// SmolLM2-135M-Instruct, the model in the page (its GGUF's metadata and tensor sizes; a test
/// checks these against the file).
pub fn smollm2() -> ModelShape {
    ModelShape::gqa(
        "SmolLM2-135M-Instruct",
        134_515_008.0,
        30,
        3,
        64,
        "the GGUF's metadata",
    )
    .counted_with("smollm2")
}

/// Well-known open models, from their published `config.json` (layers, key/value heads, head
/// size) and model cards (parameters); SmolLM2 first.
pub fn known_models() -> Vec<ModelShape> {
    let hf = |repo: &str| format!("huggingface.co/{repo} config.json and model card");
    let mut deepseek = ModelShape::gqa(
        "DeepSeek-V3 (671B, 37B active)",
        671e9,
        61,
        0,
        0,
        &hf("deepseek-ai/DeepSeek-V3"),
    )
    .counted_with("deepseek-v3");
    deepseek.active_params = 37e9;
    // Multi-head latent attention caches kv_lora_rank (512) + qk_rope_head_dim (64) per layer.
    deepseek.kv_values_per_layer = 512 + 64;
    vec![
        smollm2(),
        ModelShape::gqa(
            "Llama 3.1 8B",
            8.03e9,
            32,
            8,
            128,
            &hf("meta-llama/Llama-3.1-8B"),
        )
        .counted_with("llama3"),
        ModelShape::gqa(
            "Llama 3.1 70B",
            70.6e9,
            80,
            8,
            128,
            &hf("meta-llama/Llama-3.1-70B"),
        )
        .counted_with("llama3"),
        ModelShape::gqa(
            "Mistral Nemo 12B",
            12.2e9,
            40,
            8,
            128,
            &hf("mistralai/Mistral-Nemo-Base-2407"),
        )
        .counted_with("mistral-nemo"),
        ModelShape::gqa("Qwen3 32B", 32.8e9, 64, 8, 128, &hf("Qwen/Qwen3-32B"))
            .counted_with("qwen3"),
        ModelShape::gqa(
            "Gemma 3 27B",
            27.4e9,
            62,
            16,
            128,
            &hf("google/gemma-3-27b-pt"),
        )
        .counted_with("gemma3"),
        deepseek,
    ]
}

/// A known model by name (or `smollm2`).
pub fn known_model(name: &str) -> Option<ModelShape> {
    known_models().into_iter().find(|m| {
        m.name.eq_ignore_ascii_case(name) || (name == "smollm2" && m.tokenizer == "smollm2")
    })
}

/// The knobs of the estimate, each shown and editable in the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Assumptions {
    pub gpu: String,
    /// Rent of one GPU, US dollars per hour.
    pub usd_per_gpu_hour: f64,
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

impl Default for Assumptions {
    fn default() -> Self {
        Self {
            gpu: "h100".into(),
            usd_per_gpu_hour: 3.0,
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
    pub prefill_seconds: f64,
    pub decode_seconds: f64,
    /// GPU-seconds this request occupies (its share when batched).
    pub seconds: f64,
    /// Whether a decode step waits on memory (true) or arithmetic.
    pub decode_memory_bound: bool,
    /// Output tokens per second one sequence sees.
    pub tokens_per_second: f64,
    pub usd: f64,
    pub energy_wh: f64,
    pub energy_usd: f64,
    pub weights_bytes: f64,
    pub kv_cache_bytes: f64,
    /// Weights + this request's KV cache (× batch) against the GPU's memory.
    pub memory_needed_bytes: f64,
    pub fits_in_memory: bool,
}

/// Estimates serving `n_in` prompt tokens and `n_out` output tokens (see the module docs).
pub fn estimate(m: &ModelShape, n_in: u64, n_out: u64, a: &Assumptions) -> Option<Physics> {
    let g = gpu(&a.gpu)?;
    let peak = g.bf16_tflops * 1e12 * a.mfu.clamp(1e-3, 1.0); // FLOP/s reached
    let bandwidth = g.bandwidth_tbs * 1e12; // bytes/s
    let batch = f64::from(a.batch.max(1));
    let per_token = 2.0 * m.active_params;

    let prefill_flops = per_token * n_in as f64;
    let decode_flops = per_token * n_out as f64;
    let prefill_seconds = prefill_flops / peak;
    let weights_bytes = m.params * a.bytes_per_param;
    // One decode step for the whole batch: read every weight once, or compute B tokens.
    let memory_time = weights_bytes / bandwidth;
    let compute_time = batch * per_token / peak;
    let step = memory_time.max(compute_time);
    let decode_seconds = n_out as f64 * step / batch;
    let seconds = prefill_seconds + decode_seconds;

    let kv_cache_bytes =
        f64::from(m.layers) * f64::from(m.kv_values_per_layer) * a.kv_bytes * (n_in + n_out) as f64;
    let memory_needed_bytes = weights_bytes + batch * kv_cache_bytes;
    let energy_wh = g.power_w * seconds / 3600.0 * a.pue;
    Some(Physics {
        prefill_flops,
        decode_flops,
        flops: prefill_flops + decode_flops,
        prefill_seconds,
        decode_seconds,
        seconds,
        decode_memory_bound: memory_time >= compute_time,
        tokens_per_second: 1.0 / step,
        usd: seconds / 3600.0 * a.usd_per_gpu_hour,
        energy_wh,
        energy_usd: energy_wh / 1000.0 * a.usd_per_kwh,
        weights_bytes,
        kv_cache_bytes,
        memory_needed_bytes,
        fits_in_memory: memory_needed_bytes <= g.memory_gb * 1e9,
    })
}

/// What the user's own device achieved running the page's model: FLOP/s from its measured decode
/// speed (2·N FLOPs per token).
pub fn achieved_flops(params: f64, tokens_per_second: f64) -> f64 {
    2.0 * params * tokens_per_second
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smol() -> ModelShape {
        ModelShape::gqa("SmolLM2-135M", 135e6, 30, 3, 64, "GGUF")
    }

    #[test]
    fn flops_at_known_points() {
        // 135M params × 1,000 tokens × 2 = 2.7e11 FLOPs.
        let p = estimate(&smol(), 1_000, 0, &Assumptions::default()).unwrap();
        assert_eq!(p.prefill_flops, 2.7e11);
        assert_eq!(p.flops, 2.7e11);
        // On an H100 at 40% of 989.4 TFLOP/s: 2.7e11 / 3.9576e14 s.
        assert!((p.prefill_seconds - 2.7e11 / (989.4e12 * 0.4)).abs() < 1e-15);
    }

    #[test]
    fn batch_one_decode_is_memory_bound_and_batching_amortises_it() {
        let llama = ModelShape::gqa("Llama 3.1 70B", 70.6e9, 80, 8, 128, "");
        let mut a = Assumptions {
            batch: 1,
            ..Assumptions::default()
        };
        let one = estimate(&llama, 0, 100, &a).unwrap();
        assert!(one.decode_memory_bound);
        // 141.2 GB of BF16 weights over 3.35 TB/s = 42.1 ms per token.
        assert!((1.0 / one.tokens_per_second - 141.2e9 / 3.35e12).abs() < 1e-9);
        a.batch = 64;
        let many = estimate(&llama, 0, 100, &a).unwrap();
        // Same step time while memory-bound, shared by 64 sequences: 1/64 of the GPU time.
        assert!((many.decode_seconds - one.decode_seconds / 64.0).abs() < 1e-12);
        a.batch = 4096;
        assert!(!estimate(&llama, 0, 100, &a).unwrap().decode_memory_bound);
    }

    #[test]
    fn money_energy_and_memory_by_hand() {
        let a = Assumptions::default();
        let p = estimate(&smol(), 3_600, 0, &a).unwrap();
        // usd = seconds / 3600 × $3; energy = 700 W × s / 3600 × 1.54; × $0.134/kWh
        assert!((p.usd - p.seconds / 3600.0 * 3.0).abs() < 1e-18);
        assert!((p.energy_wh - 700.0 * p.seconds / 3600.0 * 1.54).abs() < 1e-15);
        assert!((p.energy_usd - p.energy_wh / 1000.0 * 0.134).abs() < 1e-18);
        // KV cache: 2 · 30 layers · 3 heads · 64 · 2 bytes · 3,600 tokens = 82,944,000 bytes.
        assert_eq!(p.kv_cache_bytes, 82_944_000.0);
        assert_eq!(p.weights_bytes, 270e6);
        assert!(p.fits_in_memory);
        let big = ModelShape::gqa("x", 100e9, 1, 1, 1, "");
        assert!(
            !estimate(&big, 1, 1, &a).unwrap().fits_in_memory,
            "200 GB > 80 GB"
        );
        assert!(estimate(
            &big,
            1,
            1,
            &Assumptions {
                gpu: "nope".into(),
                ..a
            }
        )
        .is_none());
    }

    #[test]
    fn a_devices_achieved_throughput() {
        // 135M parameters at 72 tokens/s = 2 × 1.35e8 × 72 = 1.944e10 FLOP/s.
        assert_eq!(achieved_flops(135e6, 72.0), 1.944e10);
    }
}
