//! tokenmeter's GPU path: SmolLM2's forward pass as our own WGSL compute kernels on `wgpu`.
//!
//! candle has no WebGPU backend, so this crate writes the GPU side itself, small enough to read:
//!
//! - [`kernels`] compiles the WGSL files in `src/kernels/` (embedding lookup, RMSNorm, quantized
//!   matrix products, RoPE + KV-cache store, attention, SwiGLU) into compute pipelines.
//! - [`GpuModel`] uploads the GGUF's quantized blocks once, keeps the KV cache on the GPU, and runs
//!   one token step as one command encoder, reading back only the logits asked for.
//! - [`Engine`] is what the page's worker and the CLI drive: a core `Session` whose forward passes
//!   run on the GPU, or on the CPU, falling back to the CPU if the GPU fails mid-run.
//! - [`choose`] decides CPU or GPU: automatically a real adapter, never a software (fallback)
//!   one unless forced, since SwiftShader/llvmpipe are far slower than our SIMD CPU path.
//!
//! In the browser `wgpu` talks to WebGPU; natively the same WGSL runs through Vulkan (on this
//! project's CI, Mesa's llvmpipe software driver), so the CLI and the tests use the very kernels
//! the page runs. The weights stay quantized on the GPU and are dequantized inside the kernels;
//! activations are f32, so results match the CPU path (which quantizes activations to 8 bits)
//! within quantization noise, not bit for bit.

mod engine;
pub mod kernels;
mod model;

pub use engine::Engine;
pub use model::{GpuModel, KernelTime, Profile, StepProfile, MAX_STEP};
pub use tokenmeter_core::model::{AdapterSummary, Backend};

use serde::{Deserialize, Serialize};
use tokenmeter_core::msg;
use tokenmeter_core::Msg;

/// Why the GPU path could not run.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter is available ({0})")]
    NoAdapter(String),
    #[error("the GPU refused to open a device: {0}")]
    Device(String),
    #[error("the GPU device was lost: {0}")]
    Lost(String),
    #[error("GPU error: {0}")]
    Gpu(String),
    #[error(transparent)]
    Model(#[from] tokenmeter_core::Error),
}

/// Which engine the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    /// A real GPU if there is one, otherwise the CPU (wasm SIMD in the page).
    #[default]
    Auto,
    Cpu,
    /// The GPU kernels on whatever adapter exists, even a software one.
    Webgpu,
}

impl std::str::FromStr for Preference {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "webgpu" | "gpu" => Ok(Self::Webgpu),
            other => Err(format!(
                "unknown backend \"{other}\" (expected auto, cpu or webgpu)"
            )),
        }
    }
}

/// The decision [`choose`] made, with its reason for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub gpu: bool,
    pub reason: Msg,
}

/// CPU or GPU, given the user's preference and the adapter found (if any).
pub fn choose(pref: Preference, adapter: Option<&AdapterSummary>) -> Choice {
    let (gpu, reason) = match (pref, adapter) {
        (Preference::Cpu, _) => (false, msg!("CPU chosen by the user")),
        (Preference::Webgpu, None) => (
            false,
            msg!("WebGPU was asked for, but this browser offers no WebGPU adapter: running on the CPU"),
        ),
        (_, None) => (false, msg!("no WebGPU adapter")),
        (Preference::Webgpu, Some(a)) => (true, msg!("GPU forced by the user: {}", a.to_string())),
        (Preference::Auto, Some(a)) if a.fallback => (
            false,
            msg!(
                "the only adapter is a software fallback ({}): the CPU path is faster",
                &a.name
            ),
        ),
        (Preference::Auto, Some(a)) => (true, msg!("GPU found: {}", a.to_string())),
    };
    Choice { gpu, reason }
}

/// Asks wgpu for an adapter (high-performance preference); an error when there is none.
pub async fn request_adapter() -> Result<(wgpu::Adapter, AdapterSummary), GpuError> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = if cfg!(target_arch = "wasm32") {
        wgpu::Backends::BROWSER_WEBGPU
    } else {
        wgpu::Backends::VULKAN
    };
    let instance = wgpu::Instance::new(desc);
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
    let info = adapter.get_info();
    // The webgpu backend reports `isFallbackAdapter` as DeviceType::Cpu.
    let fallback = info.device_type == wgpu::DeviceType::Cpu;
    let summary = AdapterSummary {
        // Browsers may keep the adapter's description empty (fingerprinting).
        name: match (info.name.is_empty(), fallback) {
            (false, _) => info.name.clone(),
            (true, true) => "a software adapter".into(),
            (true, false) => "a GPU the browser does not name".into(),
        },
        api: match info.backend {
            wgpu::Backend::BrowserWebGpu => "WebGPU".into(),
            other => format!("{other:?}"),
        },
        fallback,
    };
    Ok((adapter, summary))
}

/// Runs a future to completion on this thread (native only: the CLI and tests).
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(fallback: bool) -> AdapterSummary {
        AdapterSummary {
            name: if fallback {
                "SwiftShader"
            } else {
                "NVIDIA H100"
            }
            .into(),
            api: "WebGPU".into(),
            fallback,
        }
    }

    #[test]
    fn automatic_choice_wants_a_real_adapter() {
        assert!(choose(Preference::Auto, Some(&adapter(false))).gpu);
        let c = choose(Preference::Auto, Some(&adapter(true)));
        assert!(!c.gpu);
        assert!(
            c.reason.to_string().contains("software fallback"),
            "{}",
            c.reason
        );
        assert!(!choose(Preference::Auto, None).gpu);
    }

    #[test]
    fn the_user_can_force_either_side() {
        assert!(choose(Preference::Webgpu, Some(&adapter(true))).gpu);
        assert!(
            !choose(Preference::Webgpu, None).gpu,
            "nothing to force onto"
        );
        assert!(!choose(Preference::Cpu, Some(&adapter(false))).gpu);
    }

    #[test]
    fn preferences_parse_from_flags_and_urls() {
        assert_eq!("webgpu".parse(), Ok(Preference::Webgpu));
        assert_eq!("gpu".parse(), Ok(Preference::Webgpu));
        assert_eq!("cpu".parse(), Ok(Preference::Cpu));
        assert_eq!("auto".parse(), Ok(Preference::Auto));
        assert!("cuda".parse::<Preference>().is_err());
    }
}
