//! Inside the model on the GPU: one position run with its rows copied out after each block,
//! then the logit lens as one step through the head (see `tokenmeter_core::model::inspect`).

use tokenmeter_core::model::Inspection;

use super::{read_back, record, storage, GpuModel, MAX_STEP};
use crate::kernels::{le_bytes, Dims};
use crate::GpuError;

impl GpuModel {
    /// Inside the model at `position` (see `tokenmeter_core::model::inspect`): runs `token` there
    /// as a one-token step — the cache must hold the positions before it — copying, after each
    /// block, the residual row and the attention scores out; then puts the `n_layer` residuals
    /// through the final norm and the output projection as one step of `n_layer` rows (the logit
    /// lens), and reads both back. Attention rows are normalised here from the kernel's
    /// `exp(s − max)` scores.
    pub async fn inspect(&mut self, token: u32, position: usize) -> Result<Inspection, GpuError> {
        self.take_failure()?;
        self.config.check_step(&[token], position)?;
        self.reserve(position + 1);
        let c = self.config.clone();
        if c.n_layer > MAX_STEP {
            return Err(GpuError::Gpu(format!(
                "the lens runs the {} blocks' rows as one step of at most {MAX_STEP}",
                c.n_layer
            )));
        }
        let f = 4u64;
        let (dim, cap, visible) = (c.dim as u64, self.cap as u64, position + 1);
        let att_row = c.n_head as u64 * cap; // one token's (n_head, cap) scores
        let residuals = storage(&self.device, "probe_x", c.n_layer * c.dim * 4);
        let scores = storage(&self.device, "probe_att", c.n_layer * att_row as usize * 4);
        let scores_read = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("probe_att_read"),
            size: c.n_layer as u64 * att_row * f,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let step = self.dims(1, position, 0..0);
        self.queue.write_buffer(&self.act.dims, 0, &step.bytes());
        self.queue
            .write_buffer(&self.act.tokens, 0, &le_bytes(&[token]));
        let mut encoder = self.device.create_command_encoder(&Default::default());
        for l in 0..c.n_layer {
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                // Block 0's pass also runs the embedding before it.
                let plan = self.plan(1);
                let first = if l == 0 { 0 } else { plan.layer_ends[l - 1] };
                record(
                    &mut pass,
                    plan.dispatches[first..plan.layer_ends[l]].iter(),
                    &step,
                    None,
                );
            }
            // After block l: the residual row, and the scores of every head.
            encoder.copy_buffer_to_buffer(&self.act.x, 0, &residuals, l as u64 * dim * f, dim * f);
            encoder.copy_buffer_to_buffer(
                &self.act.att,
                0,
                &scores,
                l as u64 * att_row * f,
                att_row * f,
            );
        }
        encoder.copy_buffer_to_buffer(&scores, 0, &scores_read, 0, c.n_layer as u64 * att_row * f);
        self.queue.submit([encoder.finish()]);

        // The lens: the n_layer residual rows as one step through the final norm and the head.
        let rows = c.n_layer as u32;
        let lens_step = Dims {
            seq: rows,
            out_rows: rows,
            ..step
        };
        self.queue
            .write_buffer(&self.act.dims, 0, &lens_step.bytes());
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&residuals, 0, &self.act.x, 0, c.n_layer as u64 * dim * f);
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            record(&mut pass, self.head_plan.iter(), &lens_step, None);
        }
        let bytes = (c.n_layer * c.vocab_size) as u64 * f;
        encoder.copy_buffer_to_buffer(&self.act.logits, 0, &self.act.staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let lens = read_back(&self.device, &self.act.staging, bytes).await?;
        let raw = read_back(&self.device, &scores_read, c.n_layer as u64 * att_row * f).await?;
        self.check().await?;

        // Softmax rows from exp(s − max): divide by their sum over the visible positions.
        let mut attention = Vec::with_capacity(c.n_layer * c.n_head * visible);
        for row in raw.chunks_exact(self.cap) {
            let e = &row[..visible];
            let sum: f32 = e.iter().sum();
            attention.extend(e.iter().map(|&v| v / sum));
        }
        Inspection::new(&c, position, lens, attention).map_err(GpuError::Model)
    }
}
