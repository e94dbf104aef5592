//! The GPUs the physics panel offers, with their datasheet numbers, sources and typical rent.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A GPU's datasheet numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Gpu {
    pub id: Cow<'static, str>,
    pub name: Cow<'static, str>,
    /// Dense BF16 tensor throughput, TFLOP/s (without structured sparsity).
    pub bf16_tflops: f64,
    pub memory_gb: f64,
    /// Memory bandwidth, TB/s.
    pub bandwidth_tbs: f64,
    /// Maximum board power, W.
    pub power_w: f64,
    pub source: Cow<'static, str>,
    /// A typical on-demand rent, US dollars per GPU-hour, and the range seen, with its date.
    pub typical_usd_per_hour: f64,
    pub rent_range: Cow<'static, str>,
}

/// The GPUs the physics panel offers.
pub const GPUS: &[Gpu] = &[
    Gpu {
        id: Cow::Borrowed("h100"),
        name: Cow::Borrowed("NVIDIA H100 SXM 80GB"),
        bf16_tflops: 989.4,
        memory_gb: 80.0,
        bandwidth_tbs: 3.35,
        power_w: 700.0,
        source: Cow::Borrowed("NVIDIA H100 product page and Hopper whitepaper v1.04 (BF16 989.4 dense, 1,979 with sparsity; 80 GB HBM3, 3.35 TB/s, up to 700 W)"),
        typical_usd_per_hour: 3.0,
        rent_range: Cow::Borrowed("$2.40–4.30 on GPU clouds (RunPod, Lambda, Nebius, Vast.ai median), $6.90–12.30 on AWS/GCP/Azure; provider pages, Sept–Nov 2026"),
    },
    Gpu {
        id: Cow::Borrowed("h200"),
        name: Cow::Borrowed("NVIDIA H200 SXM 141GB"),
        bf16_tflops: 989.4,
        memory_gb: 141.0,
        bandwidth_tbs: 4.8,
        power_w: 700.0,
        source: Cow::Borrowed("NVIDIA H200 specifications as published (BF16 1,979 TFLOPS with sparsity; 141 GB HBM3e, 4.8 TB/s, up to 700 W for SXM)"),
        typical_usd_per_hour: 4.5,
        rent_range: Cow::Borrowed("$3.60–4.60 (RunPod, Nebius, Akash), Sept 2026"),
    },
    Gpu {
        id: Cow::Borrowed("a100"),
        name: Cow::Borrowed("NVIDIA A100 SXM 80GB"),
        bf16_tflops: 312.0,
        memory_gb: 80.0,
        bandwidth_tbs: 2.039,
        power_w: 400.0,
        source: Cow::Borrowed("NVIDIA A100 datasheet (BF16 312 TFLOPS, 624 with sparsity; 80 GB HBM2e, 2,039 GB/s, 400 W)"),
        typical_usd_per_hour: 1.8,
        rent_range: Cow::Borrowed("$0.84–2.80 on GPU clouds, up to $5.07 on GCP; Sept–Nov 2026"),
    },
    Gpu {
        id: Cow::Borrowed("l4"),
        name: Cow::Borrowed("NVIDIA L4 24GB"),
        bf16_tflops: 121.0,
        memory_gb: 24.0,
        bandwidth_tbs: 0.3,
        power_w: 72.0,
        source: Cow::Borrowed("NVIDIA L4 product page (BF16 242 TFLOPS with sparsity, \"one-half lower without\"; 24 GB GDDR6, 300 GB/s, 72 W)"),
        typical_usd_per_hour: 0.6,
        rent_range: Cow::Borrowed("$0.44–0.80 (RunPod, AWS g6, Modal), Sept 2026"),
    },
    Gpu {
        id: Cow::Borrowed("rtx4090"),
        name: Cow::Borrowed("NVIDIA GeForce RTX 4090"),
        bf16_tflops: 165.2,
        memory_gb: 24.0,
        bandwidth_tbs: 1.008,
        power_w: 450.0,
        source: Cow::Borrowed("NVIDIA Ada Lovelace architecture whitepaper, appendix A (BF16 with FP32 accumulate 165.2 dense, 330.4 with sparsity; 24 GB GDDR6X, 1,008 GB/s, 450 W)"),
        typical_usd_per_hour: 0.4,
        rent_range: Cow::Borrowed("$0.14–0.74 (Vast.ai, RunPod), Sept 2026"),
    },
];

pub fn gpu(id: &str) -> Option<&'static Gpu> {
    GPUS.iter().find(|g| g.id == id)
}

/// The GPUs' ids, for messages that list them.
pub fn gpu_ids() -> String {
    GPUS.iter()
        .map(|g| g.id.as_ref())
        .collect::<Vec<_>>()
        .join(", ")
}
