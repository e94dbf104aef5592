//! The engine a front end drives: a [`Session`] (prefix reuse, chunking, token scores) whose
//! forward passes run on the GPU when one was chosen, on the CPU otherwise — and on the CPU from
//! then on if the GPU fails mid-run (device lost, out of memory): the prompt is still in hand, so
//! the cache is rebuilt there and nothing the user typed or generated is lost.

use std::sync::Arc;

use tokenmeter_core::model::{
    cpu_label, Backend, Forward, Inspection, Model, Session, Step, CPU_CHUNK,
};
use tokenmeter_core::{msg, Msg};

use crate::{choose, request_adapter, GpuError, GpuModel, Preference, MAX_STEP};

pub struct Engine {
    pub session: Session,
    gpu: Option<GpuModel>,
    backend: Backend,
    /// Set when the GPU failed and the CPU took over; taken by [`Engine::take_fallback`].
    fallback: Option<Msg>,
}

impl Engine {
    /// Picks the backend for `pref` (asking for an adapter unless the CPU is wanted) and uploads
    /// the weights if it is the GPU. A GPU that cannot take the model leaves the engine on the CPU,
    /// with the reason in [`Engine::backend`].
    pub async fn start(model: Arc<Model>, pref: Preference) -> Self {
        let session = Session::new(model.clone());
        let found = match pref {
            Preference::Cpu => None,
            _ => request_adapter().await.ok(),
        };
        let choice = choose(pref, found.as_ref().map(|(_, s)| s));
        let adapter = found.as_ref().map(|(_, s)| s.clone());
        let mut engine = Self {
            session,
            gpu: None,
            backend: Backend {
                kind: "cpu".into(),
                adapter: adapter.clone(),
                reason: choice.reason.to_string(),
                why: choice.reason.clone(),
                cpu: cpu_label(),
                threads: tokenmeter_core::model::threads::threads(),
            },
            fallback: None,
        };
        if let (true, Some((a, summary))) = (choice.gpu, found) {
            match GpuModel::new(&a, summary, &model).await {
                Ok(gpu) => {
                    engine.gpu = Some(gpu);
                    engine.backend.kind = "webgpu".into();
                }
                Err(e) => engine.backend.because(msg!(
                    "the GPU could not take the model ({}); running on the CPU",
                    e.to_string()
                )),
            }
        }
        engine
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn on_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// Loses the GPU device on purpose (see [`GpuModel::destroy`]): the next step must fall back
    /// to the CPU. For tests of that path.
    pub fn simulate_gpu_loss(&self) {
        if let Some(gpu) = &self.gpu {
            gpu.destroy();
        }
    }

    /// [`Session::advance`] on the chosen backend (also [`Forward::advance`]).
    pub async fn advance(
        &mut self,
        prompt: &[u32],
        budget: usize,
    ) -> tokenmeter_core::Result<Step> {
        let Some(gpu) = self.gpu.as_mut() else {
            return self.session.advance(prompt, budget);
        };
        let Some(work) = self.session.plan(prompt, budget)? else {
            return Ok(Step {
                computed: 0,
                done: true,
            });
        };
        match gpu
            .forward(&prompt[work.pos..work.end], work.pos, work.logits)
            .await
        {
            Ok(logits) => self.session.finish(prompt, &work, logits),
            Err(GpuError::Model(e)) => {
                self.session.truncate(0);
                Err(e)
            }
            Err(e) => {
                self.fall_back_to_cpu(e);
                self.session.advance(prompt, budget)
            }
        }
    }

    /// The GPU is gone or broken: drop it and continue on the CPU from an empty cache, with a
    /// notice for the user.
    fn fall_back_to_cpu(&mut self, e: GpuError) {
        let message = msg!("the GPU failed ({}); continuing on the CPU", e.to_string());
        self.gpu = None;
        self.session.truncate(0);
        self.backend.kind = "cpu".into();
        self.backend.because(message.clone());
        self.fallback = Some(message);
    }

    /// The logits after `prompt` (all of it fed, reusing the cache).
    pub async fn next_logits(&mut self, prompt: &[u32]) -> tokenmeter_core::Result<&[f32]> {
        while !self.advance(prompt, usize::MAX).await?.done {}
        self.session
            .logits()
            .ok_or(tokenmeter_core::Error::EmptyPrompt)
    }

    /// Where the GPU's time goes in a prefill step of `tokens` and a decode step after it (see
    /// [`GpuModel::profile`]); `None` on the CPU. The session forgets its cache, which the
    /// profile overwrote.
    #[cfg(not(target_arch = "wasm32"))]
    pub async fn profile(
        &mut self,
        tokens: &[u32],
        runs: usize,
    ) -> Option<Result<crate::Profile, GpuError>> {
        let gpu = self.gpu.as_mut()?;
        let profile = gpu.profile(tokens, runs).await;
        self.session.truncate(0);
        Some(profile)
    }

    /// The message of a GPU failure the engine recovered from, once.
    pub fn take_fallback(&mut self) -> Option<Msg> {
        self.fallback.take()
    }

    /// Inside the model at `position` (also [`Forward::inspect`]): on the GPU, the text up to the
    /// position is fed first (reusing the cache), then the position is run again with its rows
    /// read back; on the CPU, [`Session::inspect`].
    pub async fn inspect(
        &mut self,
        tokens: &[u32],
        position: usize,
    ) -> tokenmeter_core::Result<Inspection> {
        if self.gpu.is_none() || position >= tokens.len() {
            return self.session.inspect(tokens, position);
        }
        self.next_logits(&tokens[..=position]).await?;
        let Some(gpu) = self.gpu.as_mut() else {
            // The GPU failed while feeding the text: the CPU holds it now.
            return self.session.inspect(tokens, position);
        };
        match gpu.inspect(tokens[position], position).await {
            Ok(seen) => Ok(seen),
            Err(GpuError::Model(e)) => Err(e),
            Err(e) => {
                self.fall_back_to_cpu(e);
                self.session.inspect(tokens, position)
            }
        }
    }
}

impl Forward for Engine {
    async fn advance(&mut self, prompt: &[u32], budget: usize) -> tokenmeter_core::Result<Step> {
        Engine::advance(self, prompt, budget).await
    }
    fn session(&self) -> &Session {
        &self.session
    }
    fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }
    fn backend(&self) -> Backend {
        self.backend.clone()
    }
    fn chunk(&self) -> usize {
        if self.on_gpu() {
            MAX_STEP
        } else {
            CPU_CHUNK
        }
    }
    fn take_fallback(&mut self) -> Option<Msg> {
        Engine::take_fallback(self)
    }
    async fn inspect(
        &mut self,
        tokens: &[u32],
        position: usize,
    ) -> tokenmeter_core::Result<Inspection> {
        Engine::inspect(self, tokens, position).await
    }
}
