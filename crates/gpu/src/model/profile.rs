//! Where a step's GPU time goes, for tuning the kernels on a real GPU (`tokenmeter bench
//! --profile`). A timestamp is written before the first dispatch and after each one (wgpu's
//! `TIMESTAMP_QUERY_INSIDE_PASSES`, native only), so dispatch i is charged `t[i+1] − t[i]`: its
//! own work plus the wait before the next one may start, which is what a step pays for it. The
//! times are summed per kernel and shown beside the step's time on the host's clock (encoding to
//! logits in hand): the difference is submission and read-back, which no kernel change removes.
//!
//! The page never asks for timestamps; natively they are requested only where the adapter has
//! them, and nothing is written unless a profile is asked for.

use serde::Serialize;

#[cfg(not(target_arch = "wasm32"))]
use super::GpuModel;

const TIMESTAMPS: wgpu::Features =
    wgpu::Features::TIMESTAMP_QUERY.union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);

/// What the device is asked for beyond the defaults: timestamps between dispatches, natively,
/// where the adapter has them.
pub(super) fn features(adapter: &wgpu::Adapter) -> wgpu::Features {
    let want = TIMESTAMPS;
    if cfg!(not(target_arch = "wasm32")) && adapter.features().contains(want) {
        want
    } else {
        wgpu::Features::empty()
    }
}

/// One kernel's share of a step: every dispatch of it (30 blocks' worth for a per-block kernel).
#[derive(Debug, Clone, Serialize)]
pub struct KernelTime {
    pub name: &'static str,
    pub dispatches: usize,
    /// Microseconds, its dispatches together.
    pub us: f64,
}

/// One step, timed.
#[derive(Debug, Clone, Serialize)]
pub struct StepProfile {
    pub tokens: usize,
    /// Position of the step's first token.
    pub position: usize,
    pub dispatches: usize,
    /// First timestamp to last.
    pub gpu_ms: f64,
    /// Encoding to the logits in hand, on the host's clock (of the run kept: the one with the
    /// least gpu_ms).
    pub wall_ms: f64,
    /// Slowest first.
    pub kernels: Vec<KernelTime>,
}

/// A prefill step and a decode step after it.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub prefill: StepProfile,
    pub decode: StepProfile,
}

#[cfg(not(target_arch = "wasm32"))]
impl GpuModel {
    /// Times a prefill step of `tokens` (at most [`super::MAX_STEP`], at position 0) and a
    /// one-token decode step after them, each `runs` times after a warm-up, keeping the fastest
    /// run of each. Overwrites the KV cache: the caller's session must forget it.
    pub async fn profile(
        &mut self,
        tokens: &[u32],
        runs: usize,
    ) -> Result<Profile, crate::GpuError> {
        if !self.device.features().contains(TIMESTAMPS) {
            return Err(crate::GpuError::Gpu(
                "this adapter cannot time dispatches (no timestamp queries inside passes)".into(),
            ));
        }
        self.take_failure()?;
        if tokens.is_empty() || tokens.len() > super::MAX_STEP {
            return Err(crate::GpuError::Gpu(format!(
                "a profiled prefill step has 1 to {} tokens",
                super::MAX_STEP
            )));
        }
        let n = tokens.len();
        self.config.check_step(tokens, 0)?;
        // The decode step after them, at position n, must fit the context too.
        self.config.check_step(&tokens[..1], n)?;
        self.reserve(n + 1);
        let best = |p: Option<StepProfile>, q: StepProfile| match p {
            Some(p) if p.gpu_ms <= q.gpu_ms => Some(p),
            _ => Some(q),
        };
        let (mut prefill, mut decode) = (None, None);
        for run in 0..=runs.max(1) {
            let p = self.timed_step(tokens, 0, n - 1..n).await?;
            let d = self.timed_step(&tokens[..1], n, 0..1).await?;
            if run > 0 {
                prefill = best(prefill, p);
                decode = best(decode, d);
            }
        }
        self.check().await?;
        match (prefill, decode) {
            (Some(prefill), Some(decode)) => Ok(Profile { prefill, decode }),
            _ => unreachable!("at least one timed run"),
        }
    }

    /// One step with a timestamp after each dispatch, read back with its logits.
    async fn timed_step(
        &mut self,
        tokens: &[u32],
        pos: usize,
        rows: std::ops::Range<usize>,
    ) -> Result<StepProfile, crate::GpuError> {
        let head = if rows.is_empty() {
            0
        } else {
            self.head_plan.len()
        };
        let names: Vec<&'static str> = self
            .plan(tokens.len())
            .dispatches
            .iter()
            .chain(&self.head_plan[..head])
            .map(|d| d.name)
            .collect();
        let count = names.len() as u32 + 1;
        let set = self.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let size = u64::from(count) * 8;
        let resolved = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile_resolved"),
            size,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let read = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile_read"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let start = std::time::Instant::now();
        let (mut encoder, bytes) = self.encode(tokens, pos, rows, Some(&set));
        encoder.resolve_query_set(&set, 0..count, &resolved, 0);
        encoder.copy_buffer_to_buffer(&resolved, 0, &read, 0, size);
        self.queue.submit([encoder.finish()]);
        super::read_bytes(&self.device, &self.act.staging, bytes).await?;
        let wall_ms = start.elapsed().as_secs_f64() * 1e3;
        let stamps: Vec<u64> = super::read_bytes(&self.device, &read, size)
            .await?
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect();
        self.take_failure()?;
        let ns = f64::from(self.queue.get_timestamp_period());
        let mut kernels: Vec<KernelTime> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let us = stamps[i + 1].saturating_sub(stamps[i]) as f64 * ns / 1e3;
            match kernels.iter_mut().find(|k| k.name == *name) {
                Some(k) => {
                    k.dispatches += 1;
                    k.us += us;
                }
                None => kernels.push(KernelTime {
                    name,
                    dispatches: 1,
                    us,
                }),
            }
        }
        kernels.sort_by(|a, b| b.us.total_cmp(&a.us));
        let last = stamps[names.len()];
        Ok(StepProfile {
            tokens: tokens.len(),
            position: pos,
            dispatches: names.len(),
            gpu_ms: last.saturating_sub(stamps[0]) as f64 * ns / 1e6,
            wall_ms,
            kernels,
        })
    }
}
