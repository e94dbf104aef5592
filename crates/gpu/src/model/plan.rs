//! The plan of a step: every dispatch of the forward pass in order, built once (and again when
//! the KV cache grows), then recorded into each step's compute pass with the step's grid sizes.
//! The order is the diagram's in `model.rs`, one dispatch per line.

use tokenmeter_core::model::RopeStyle;

use super::{GpuMatrix, GpuModel};
use crate::kernels::{Dims, GpuLayout, TILE, WG};

/// One dispatch: a pipeline, its bindings, its grid, and what it computes (for `bench --profile`).
pub(super) struct Dispatch {
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))] // the profile is native only
    pub(super) name: &'static str,
    pipeline: wgpu::ComputePipeline,
    bind: wgpu::BindGroup,
    grid: Grid,
}

/// The dispatches of the blocks, in order.
#[derive(Default)]
pub(super) struct Plan {
    pub(super) dispatches: Vec<Dispatch>,
    /// Where each block's dispatches end (the embedding comes first).
    pub(super) layer_ends: Vec<usize>,
}

/// How many workgroups a dispatch needs, known once the step's size is.
#[derive(Clone, Copy)]
pub(super) enum Grid {
    /// ceil(seq · n / WG) workgroups of one thread per value.
    PerValue(u32),
    /// One workgroup per token row.
    Rows,
    /// One workgroup per wanted output row.
    OutRows,
    /// Matrix product with `rows` output rows over the step's tokens (or the wanted rows).
    Matmul { rows: u32, head: bool },
    /// (heads, seq): one workgroup per head (query or key/value heads) and token.
    Heads(u32),
}

impl GpuModel {
    fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .map(|&(binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// The products `y (+)= W·x` of `ms` (one matrix, a stack, or a stack's matrices one by one)
    /// as dispatches: each reads `x` and writes its parts' outputs, the next of `outs` in turn;
    /// with `norm`, that RMSNorm folded in (x is then the residual stream).
    fn matmuls(
        &self,
        ms: &[GpuMatrix],
        x: &wgpu::Buffer,
        outs: &[&wgpu::Buffer],
        norm: Option<&wgpu::Buffer>,
        head: bool,
    ) -> Vec<Dispatch> {
        let k = &self.kernels;
        let a = &self.act;
        let mut outs = outs.iter();
        ms.iter()
            .map(|m| {
                let pipeline = k.matmul(m.layout, norm.is_some());
                // Outputs a product does not write, and the norm's weight unread without a
                // norm, still need a buffer bound.
                let mine: Vec<&wgpu::Buffer> = outs.by_ref().take(m.parts).copied().collect();
                let y = |i: usize| mine.get(i).copied().unwrap_or(&a.unused[i - 1]);
                Dispatch {
                    name: m.name,
                    bind: self.bind(
                        pipeline,
                        &[
                            (0, &a.dims),
                            (1, &m.params),
                            (2, &m.blocks),
                            (3, x),
                            (4, mine[0]),
                            (5, y(1)),
                            (6, y(2)),
                            (7, norm.unwrap_or(&self.output_norm)),
                        ],
                    ),
                    pipeline: pipeline.clone(),
                    grid: Grid::Matmul { rows: m.rows, head },
                }
            })
            .collect()
    }

    /// Builds every dispatch of a step (the bindings only change when the cache grows): the
    /// plans of one token and of several, and the head's.
    ///
    /// The two plans differ in the blocks' RMSNorms only. For one token (decode) each is folded
    /// into the product after it (matmul.wgsl): a dispatch less, and a big GPU spends a decode
    /// step mostly between dispatches. For several, each of the product's rows would redo the
    /// norm's sum of squares over the whole tile (measured slower on an H200: BENCHMARKS.md), so
    /// the norm runs once, as its own dispatch.
    pub(super) fn build_plan(&mut self) {
        self.decode = self.block_plan(true);
        self.prefill = self.block_plan(false);
        let a = &self.act;
        let mut head_plan = vec![self.dispatch(
            "output_norm",
            &self.kernels.final_norm,
            &[(0, &a.dims), (1, &a.x), (2, &self.output_norm), (3, &a.h)],
            Grid::OutRows,
        )];
        let head = std::slice::from_ref(&self.head);
        head_plan.extend(self.matmuls(head, &a.h, &[&a.logits], None, true));
        self.head_plan = head_plan;
    }

    /// One dispatch of `pipeline` on `buffers` (binding, buffer).
    fn dispatch(
        &self,
        name: &'static str,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
        grid: Grid,
    ) -> Dispatch {
        Dispatch {
            name,
            bind: self.bind(pipeline, buffers),
            pipeline: pipeline.clone(),
            grid,
        }
    }

    /// The embedding and the blocks, with the norms folded into the products (`fold`) or not.
    fn block_plan(&self, fold: bool) -> Plan {
        let k = &self.kernels;
        let a = &self.act;
        let c = &self.config;
        let d = |name, pipeline, buffers: &[(u32, &wgpu::Buffer)], grid| {
            self.dispatch(name, pipeline, buffers, grid)
        };
        let embed = match self.embed.layout {
            GpuLayout::Q4 => &k.embed_q4_1,
            GpuLayout::Q8 => &k.embed_q8_0,
            GpuLayout::Q8x2 => &k.embed_q8x2,
            GpuLayout::F32 => &k.embed_f32,
        };
        let rope_qk = match c.arch.rope_style() {
            RopeStyle::Adjacent => &k.rope_qk,
            RopeStyle::Halves => &k.rope_qk_halves,
        };
        let mut plan = vec![d(
            "embed",
            embed,
            &[
                (0, &a.dims),
                (1, &a.tokens),
                (2, &self.embed.blocks),
                (3, &a.x),
            ],
            Grid::PerValue(c.dim as u32),
        )];
        let mut layer_ends = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            // RMSNorm(x) for the products after it: folded into them (they read x and the
            // norm's weight), or run first into h.
            let normed = |plan: &mut Vec<Dispatch>, name, weight| {
                if fold {
                    return (&a.x, Some(weight));
                }
                let buffers = [(0, &a.dims), (1, &a.x), (2, weight), (3, &a.h)];
                plan.push(d(name, &k.rms_norm, &buffers, Grid::Rows));
                (&a.h, None)
            };
            let (x, norm) = normed(&mut plan, "attn_norm", &l.attn_norm);
            plan.extend(self.matmuls(&l.qkv, x, &[&a.q, &a.k, &a.v], norm, false));
            if let Some([bq, bk, bv]) = &l.bias {
                // Qwen2: q = W_q·h + b_q, and so on.
                for (y, b, n) in [
                    (&a.q, bq, c.q_dim()),
                    (&a.k, bk, c.kv_dim()),
                    (&a.v, bv, c.kv_dim()),
                ] {
                    plan.push(d(
                        "add_bias",
                        &k.add_bias,
                        &[(0, &a.dims), (1, y), (2, b)],
                        Grid::PerValue(n as u32),
                    ));
                }
            }
            if let Some([qn, kn]) = &l.qk_norm {
                // Qwen3: each query and key head RMS-normalised on its own.
                for (y, w, heads) in [(&a.q, qn, c.n_head), (&a.k, kn, c.n_kv_head)] {
                    plan.push(d(
                        "head_norm",
                        &k.head_norm,
                        &[(0, &a.dims), (1, y), (2, w)],
                        Grid::Heads(heads as u32),
                    ));
                }
            }
            plan.push(d(
                "rope_qk_store_kv",
                rope_qk,
                &[
                    (0, &a.dims),
                    (1, &self.rope),
                    (2, &a.q),
                    (3, &a.k),
                    (4, &a.v),
                    (5, &l.k_cache),
                    (6, &l.v_cache),
                ],
                Grid::PerValue(((c.q_dim() + c.kv_dim()) / 2) as u32),
            ));
            plan.push(d(
                "attention",
                &k.attention,
                &[
                    (0, &a.dims),
                    (1, &a.q),
                    (2, &l.k_cache),
                    (3, &l.v_cache),
                    (4, &a.att),
                    (5, &a.attn),
                ],
                Grid::Heads(c.n_head as u32),
            ));
            let wo = std::slice::from_ref(&l.wo);
            plan.extend(self.matmuls(wo, &a.attn, &[&a.x], None, false));
            let (x, norm) = normed(&mut plan, "ffn_norm", &l.ffn_norm);
            plan.extend(self.matmuls(&l.gate_up, x, &[&a.gate, &a.up], norm, false));
            plan.push(d(
                "swiglu",
                &k.swiglu,
                &[(0, &a.dims), (1, &a.gate), (2, &a.up)],
                Grid::PerValue(c.ffn_dim as u32),
            ));
            let down = std::slice::from_ref(&l.w_down);
            plan.extend(self.matmuls(down, &a.gate, &[&a.x], None, false));
            layer_ends.push(plan.len());
        }
        Plan {
            dispatches: plan,
            layer_ends,
        }
    }

    /// The plan of a step of `seq` tokens.
    pub(super) fn plan(&self, seq: usize) -> &Plan {
        if seq == 1 {
            &self.decode
        } else {
            &self.prefill
        }
    }
}

/// Records `dispatches` into `pass`, each with its grid for the step `dims` describes; with
/// `stamps`, a timestamp before the first (query 0) and after each (query i + 1).
pub(super) fn record<'a>(
    pass: &mut wgpu::ComputePass<'_>,
    dispatches: impl Iterator<Item = &'a Dispatch>,
    dims: &Dims,
    stamps: Option<&wgpu::QuerySet>,
) {
    if let Some(q) = stamps {
        pass.write_timestamp(q, 0);
    }
    for (i, d) in dispatches.enumerate() {
        let (x, y) = match d.grid {
            Grid::PerValue(n) => ((dims.seq * n).div_ceil(WG), 1),
            Grid::Rows => (dims.seq, 1),
            Grid::OutRows => (dims.out_rows, 1),
            Grid::Matmul { rows, head } => (
                rows,
                if head { dims.out_rows } else { dims.seq }.div_ceil(TILE),
            ),
            Grid::Heads(n) => (n, dims.seq),
        };
        pass.set_pipeline(&d.pipeline);
        pass.set_bind_group(0, &d.bind, &[]);
        pass.dispatch_workgroups(x, y, 1);
        if let Some(q) = stamps {
            pass.write_timestamp(q, i as u32 + 1);
        }
    }
}
