//! Where the forward passes of a [`Session`] run, behind one trait.
//!
//! The core runs the model on the CPU ([`Session`] itself). The GPU crate's `Engine` runs the same
//! [`Session::plan`] on its own WGSL kernels and falls back to the CPU if the GPU fails. Every
//! request the service layer answers ([`crate::service`]) drives a [`Forward`], so the page's
//! worker and the CLI get the same answers whichever backend they chose.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::{Inspection, Session, Step};
use crate::msg::Msg;
use crate::{msg, Error, Result};

/// What a GPU adapter says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterSummary {
    /// The adapter's name (e.g. "NVIDIA H100", "llvmpipe (LLVM 15.0.7, 256 bits)").
    pub name: String,
    /// The API under it: "Vulkan", "WebGPU", …
    pub api: String,
    /// A software rasteriser or an adapter the browser marks `isFallbackAdapter`.
    pub fallback: bool,
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} via {}", self.name, self.api)?;
        if self.fallback {
            write!(f, " (software fallback)")?;
        }
        Ok(())
    }
}

/// Where the forward pass runs, for status lines and JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    /// "webgpu" or "cpu".
    pub kind: String,
    /// The adapter, when one was found (also when the CPU was chosen over it).
    pub adapter: Option<AdapterSummary>,
    /// Why this backend: the automatic choice, the user's, or a fallback after a GPU failure
    /// (in English; `why` is the same, translatable).
    pub reason: String,
    pub why: Msg,
    /// The CPU kernels of the build that runs it ([`cpu_label`]): the page's status line names
    /// the worker's build, which the page itself cannot know.
    #[serde(default)]
    pub cpu: String,
    /// Threads the CPU path uses (the threaded wasm build's pool, or `--threads` natively).
    #[serde(default = "one")]
    pub threads: usize,
}

fn one() -> usize {
    1
}

impl Backend {
    /// The core's own CPU path.
    pub fn cpu(why: Msg) -> Self {
        Self {
            kind: "cpu".into(),
            adapter: None,
            reason: why.to_string(),
            why,
            cpu: cpu_label(),
            threads: super::threads::threads(),
        }
    }

    /// Sets why this backend runs.
    pub fn because(&mut self, why: Msg) {
        self.reason = why.to_string();
        self.why = why;
    }

    pub fn on_gpu(&self) -> bool {
        self.kind == "webgpu"
    }

    /// Words for a status line: "WebGPU · <adapter>", or the CPU kernels this build runs.
    pub fn label(&self) -> String {
        match (self.on_gpu(), &self.adapter) {
            (true, Some(a)) => format!("WebGPU · {}", a.name),
            (true, None) => "WebGPU".into(),
            (false, _) => self.cpu.clone(),
        }
    }
}

/// The CPU kernels of this build, as the status line and the benchmark name them.
pub fn cpu_label() -> String {
    // (The relaxed build says "relaxed dot" while its products use one of the relaxed forms:
    // all of them unless the engine computed those wrongly, see `quant::choose_dot_form`.)
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    let relaxed = super::quant::dot_form() != super::quant::Form::Widen;
    #[cfg(not(all(target_arch = "wasm32", target_feature = "relaxed-simd")))]
    let relaxed = false;
    let kernels = if relaxed {
        "wasm SIMD128 + relaxed dot"
    } else if cfg!(target_arch = "wasm32") {
        "wasm SIMD128"
    } else {
        "native CPU"
    };
    match super::threads::threads() {
        1 => format!("{kernels}, 1 thread"),
        n => format!("{kernels}, {n} threads"),
    }
}

/// A [`Session`] plus the place its forward passes run.
pub trait Forward {
    /// [`Session::advance`] on this backend: moves the cache towards `prompt`, computing at most
    /// `budget` new tokens.
    fn advance(&mut self, prompt: &[u32], budget: usize) -> impl Future<Output = Result<Step>>;
    fn session(&self) -> &Session;
    fn session_mut(&mut self) -> &mut Session;
    fn backend(&self) -> Backend;
    /// Tokens worth running between two looks at a front end's mailbox: a GPU runs a whole step
    /// at once, the CPU a few tokens so a newer request can take over quickly.
    fn chunk(&self) -> usize;
    /// The message of a GPU failure recovered from by moving to the CPU, once.
    fn take_fallback(&mut self) -> Option<Msg> {
        None
    }
    /// [`Session::inspect`] on this backend: the logit lens and the attention weights at
    /// `position` of `tokens`. The CPU path reuses the session's cache; the GPU engine reads them
    /// back from its own kernels.
    fn inspect(
        &mut self,
        tokens: &[u32],
        position: usize,
    ) -> impl Future<Output = Result<Inspection>> {
        std::future::ready(self.session().inspect(tokens, position))
    }
}

/// Tokens the CPU path runs between two looks at the mailbox.
pub const CPU_CHUNK: usize = 8;

impl Forward for Session {
    fn advance(&mut self, prompt: &[u32], budget: usize) -> impl Future<Output = Result<Step>> {
        std::future::ready(Session::advance(self, prompt, budget))
    }
    fn session(&self) -> &Session {
        self
    }
    fn session_mut(&mut self) -> &mut Session {
        self
    }
    fn backend(&self) -> Backend {
        Backend::cpu(msg!("the CPU path"))
    }
    fn chunk(&self) -> usize {
        CPU_CHUNK
    }
}

/// Feeds the whole of `prompt` and returns the logits for the token after it.
pub async fn next_logits<F: Forward + ?Sized>(f: &mut F, prompt: &[u32]) -> Result<Vec<f32>> {
    while !f.advance(prompt, usize::MAX).await?.done {}
    f.session()
        .logits()
        .map(<[f32]>::to_vec)
        .ok_or(Error::EmptyPrompt)
}
