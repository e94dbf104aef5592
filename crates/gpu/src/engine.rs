//! The engine a front end drives: a [`Session`] (prefix reuse, chunking, token scores) whose
//! forward passes run on the GPU when one was chosen, on the CPU otherwise — and on the CPU from
//! then on if the GPU fails mid-run (device lost, out of memory): the prompt is still in hand, so
//! the cache is rebuilt there and nothing the user typed or generated is lost.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokenmeter_core::model::bench::Predictor;
use tokenmeter_core::model::{Model, Session, Step};

use crate::{choose, request_adapter, AdapterSummary, GpuError, GpuModel, Preference};

/// Where the forward pass runs, for status lines and JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    /// "webgpu" or "cpu".
    pub kind: String,
    /// The adapter, when one was found (also when the CPU was chosen over it).
    pub adapter: Option<AdapterSummary>,
    /// Why this backend: the automatic choice, the user's, or a fallback after a GPU failure.
    pub reason: String,
}

pub struct Engine {
    pub session: Session,
    gpu: Option<GpuModel>,
    backend: Backend,
    /// Set when the GPU failed and the CPU took over; taken by [`Engine::take_fallback`].
    fallback: Option<String>,
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
                reason: choice.reason.clone(),
            },
            fallback: None,
        };
        if let (true, Some((a, summary))) = (choice.gpu, found) {
            match GpuModel::new(&a, summary, &model).await {
                Ok(gpu) => {
                    engine.gpu = Some(gpu);
                    engine.backend.kind = "webgpu".into();
                }
                Err(e) => {
                    engine.backend.reason =
                        format!("the GPU could not take the model ({e}); running on the CPU")
                }
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

    /// The message of a GPU failure the engine recovered from, once.
    pub fn take_fallback(&mut self) -> Option<String> {
        self.fallback.take()
    }

    /// [`Session::advance`] on the chosen backend.
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
            Ok(logits) => Ok(self.session.finish(prompt, &work, logits)),
            Err(GpuError::Model(e)) => {
                self.session.truncate(0);
                Err(e)
            }
            Err(e) => {
                // The GPU is gone or broken: continue on the CPU from an empty cache.
                let message = format!("the GPU failed ({e}); continuing on the CPU");
                self.gpu = None;
                self.session.truncate(0);
                self.backend.kind = "cpu".into();
                self.backend.reason = message.clone();
                self.fallback = Some(message);
                self.session.advance(prompt, budget)
            }
        }
    }

    /// The logits after `prompt` (all of it fed, reusing the cache).
    pub async fn next_logits(&mut self, prompt: &[u32]) -> tokenmeter_core::Result<&[f32]> {
        while !self.advance(prompt, usize::MAX).await?.done {}
        self.session
            .logits()
            .ok_or(tokenmeter_core::Error::EmptyPrompt)
    }
}

impl Predictor for Engine {
    async fn predict(&mut self, prompt: &[u32]) -> tokenmeter_core::Result<Vec<f32>> {
        self.next_logits(prompt).await.map(<[f32]>::to_vec)
    }
    fn reset(&mut self) {
        self.session.truncate(0);
    }
}
