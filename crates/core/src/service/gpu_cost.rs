//! The GPU time, energy and memory behind serving a request (the formulas are in
//! [`crate::physics`]).
//!
//! Answers *gpu-cost* ([`gpu_cost`]; `tokenmeter gpu-cost`, the cost panel's "Behind the price").

use serde::{Deserialize, Serialize};

use super::limits::{
    BATCH, BYTES_PER_PARAM, HEAD_DIM, KV_BYTES, KV_HEADS, LAYERS, MFU, PARAMS, PUE, TOKENS,
    USD_PER_GPU_HOUR, USD_PER_KWH,
};
use crate::msg;
use crate::msg::Msg;
use crate::physics::{self, Assumptions, Gpu, ModelShape, Physics};

/// A model given by its numbers instead of its name.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct CustomShape {
    pub params: f64,
    /// Layers, key/value heads and head size (0: unknown; then the KV cache is not estimated).
    #[serde(default)]
    pub layers: u32,
    #[serde(default)]
    pub kv_heads: u32,
    #[serde(default)]
    pub head_dim: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GpuCostRequest {
    /// A known model (`smollm2`, or a name such as "Llama 3.1 70B"); else `custom`.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub custom: Option<CustomShape>,
    /// Prompt and output tokens of the request.
    pub tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub assumptions: Assumptions,
}

/// The estimate with everything it rests on: `tokenmeter gpu-cost` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GpuCostResponse {
    #[serde(flatten)]
    pub estimate: Physics,
    pub model: ModelShape,
    pub gpu: Gpu,
    /// The assumptions used, the rent filled in when the GPU's typical one was meant.
    pub assumptions: Assumptions,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Checks every assumption against its range and names the GPU if it is unknown.
pub fn check_assumptions(a: &Assumptions) -> Result<&'static Gpu, Msg> {
    let gpu = physics::gpu(&a.gpu)
        .ok_or_else(|| msg!("unknown GPU '{}' (known: {})", &a.gpu, physics::gpu_ids()))?;
    if let Some(r) = a.usd_per_gpu_hour {
        USD_PER_GPU_HOUR.check(r)?;
    }
    MFU.check(a.mfu)?;
    BATCH.check(f64::from(a.batch))?;
    PUE.check(a.pue)?;
    USD_PER_KWH.check(a.usd_per_kwh)?;
    BYTES_PER_PARAM.check(a.bytes_per_param)?;
    KV_BYTES.check(a.kv_bytes)?;
    Ok(gpu)
}

/// The known model called `name`, or an error listing the known ones.
pub fn known_model(name: &str) -> Result<ModelShape, Msg> {
    physics::known_model(name).ok_or_else(|| {
        let names: Vec<String> = physics::known_models()
            .into_iter()
            .map(|m| m.name)
            .collect();
        msg!(
            "unknown model '{}' (known: smollm2, {})",
            name,
            names.join(", ")
        )
    })
}

/// Estimates serving the request on the chosen GPU.
pub fn gpu_cost(req: &GpuCostRequest) -> Result<GpuCostResponse, Msg> {
    let shape = match (&req.model, &req.custom) {
        (Some(name), _) => known_model(name)?,
        (None, Some(c)) => {
            PARAMS.check(c.params)?;
            LAYERS.check(f64::from(c.layers))?;
            KV_HEADS.check(f64::from(c.kv_heads))?;
            HEAD_DIM.check(f64::from(c.head_dim))?;
            ModelShape::gqa(
                "custom",
                c.params,
                c.layers,
                c.kv_heads,
                c.head_dim,
                "your numbers",
            )
        }
        (None, None) => return Err(msg!("give a model's name, or its number of parameters")),
    };
    estimate(&shape, req.tokens, req.output_tokens, &req.assumptions)
}

/// [`physics::estimate`] with every input checked.
pub fn estimate(
    shape: &ModelShape,
    tokens: u64,
    output_tokens: u64,
    a: &Assumptions,
) -> Result<GpuCostResponse, Msg> {
    let gpu = check_assumptions(a)?;
    TOKENS.check(tokens as f64)?;
    TOKENS.check(output_tokens as f64)?;
    let estimate = physics::estimate(shape, tokens, output_tokens, a)
        .ok_or_else(|| msg!("cannot estimate on GPU '{}'", &a.gpu))?;
    let mut assumptions = a.clone();
    assumptions.usd_per_gpu_hour = a.rent();
    Ok(GpuCostResponse {
        estimate,
        model: shape.clone(),
        gpu: gpu.clone(),
        assumptions,
        input_tokens: tokens,
        output_tokens,
    })
}
