//! SmolLM2 on the GPU: weights uploaded once, the KV cache kept on the GPU, one command encoder
//! per step. The order of kernels is the forward pass of `tokenmeter_core::model::llama`:
//!
//! ```text
//! x = embed(tokens)                                   (seq, dim)
//! for each block:
//!     h = rms_norm(x) ; q,k,v = Wq·h, Wk·h, Wv·h      (seq, q_dim), (seq, kv_dim) ×2
//!     rope_q(q) ; store_kv(rope(k), v → cache)
//!     attn = attention(q, cache)                      (seq, q_dim)
//!     x += Wo·attn
//!     h = rms_norm(x) ; gate,up = Wg·h, Wu·h          (seq, ffn_dim) ×2
//!     gate = silu(gate) ⊙ up ; x += Wd·gate
//! logits = lm_head · final_norm(x[wanted rows])       (rows, vocab)   read back
//! ```
//!
//! Over the project's 600-line guide (about 660 lines) on purpose: the buffers, the plan of
//! dispatches and the step that runs it are one forward pass, written out kernel by kernel in the
//! order of the diagram above, to be read top to bottom beside the CPU's `llama.rs`. The parts
//! that stand alone already live beside it: the kernels (`kernels.rs`), reading the model's
//! insides back (`model/inspect.rs`), choosing and falling back (`engine.rs`).

use std::sync::{Arc, Mutex};

use tokenmeter_core::model::quant::QMatrix;
use tokenmeter_core::model::{Config, Logits, Model, RopeStyle};
use wgpu::util::DeviceExt;

use crate::kernels::{le_bytes, mat_bytes, pack_blocks, Dims, GpuLayout, Kernels, TILE, WG};
use crate::{AdapterSummary, GpuError};

mod inspect;

/// Tokens run per GPU step; longer inputs are split into steps of this size.
pub const MAX_STEP: usize = 32;
/// Positions the KV cache has room for at first; it doubles as texts grow.
const FIRST_CAP: usize = 256;

/// A weight matrix on the GPU with the uniform describing its use.
struct GpuMatrix {
    blocks: wgpu::Buffer,
    params: wgpu::Buffer,
    layout: GpuLayout,
    rows: u32,
}

struct Layer {
    attn_norm: wgpu::Buffer,
    wq: GpuMatrix,
    wk: GpuMatrix,
    wv: GpuMatrix,
    wo: GpuMatrix,
    ffn_norm: wgpu::Buffer,
    w_gate: GpuMatrix,
    w_up: GpuMatrix,
    w_down: GpuMatrix,
    /// Qwen2: the query, key and value biases.
    bias: Option<[wgpu::Buffer; 3]>,
    /// Qwen3: the per-head query and key norms.
    qk_norm: Option<[wgpu::Buffer; 2]>,
    k_cache: wgpu::Buffer,
    v_cache: wgpu::Buffer,
}

/// Activations of one step, sized for [`MAX_STEP`] tokens.
struct Activations {
    dims: wgpu::Buffer,
    tokens: wgpu::Buffer,
    x: wgpu::Buffer,
    h: wgpu::Buffer,
    q: wgpu::Buffer,
    k: wgpu::Buffer,
    v: wgpu::Buffer,
    attn: wgpu::Buffer,
    gate: wgpu::Buffer,
    up: wgpu::Buffer,
    /// Attention scores, `(MAX_STEP, n_head, cap)`.
    att: wgpu::Buffer,
    logits: wgpu::Buffer,
    staging: wgpu::Buffer,
}

/// One dispatch: a pipeline, its bindings, its grid.
struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    bind: wgpu::BindGroup,
    grid: Grid,
}

/// How many workgroups a dispatch needs, known once the step's size is.
#[derive(Clone, Copy)]
enum Grid {
    /// ceil(seq · n / WG) workgroups of one thread per value.
    PerValue(u32),
    /// One workgroup per token row.
    Rows,
    /// One per wanted output row.
    OutRows,
    /// Matrix product with `rows` output rows over the step's tokens (or the wanted rows).
    Matmul { rows: u32, head: bool },
    /// (n_head, seq).
    Heads(u32),
}

/// A model's weights on a GPU (llama, qwen2, qwen3; every weight format), with the KV cache of
/// one text.
pub struct GpuModel {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: AdapterSummary,
    config: Config,
    kernels: Kernels,
    embed: GpuMatrix,
    head: GpuMatrix,
    layers: Vec<Layer>,
    output_norm: wgpu::Buffer,
    rope: wgpu::Buffer,
    act: Activations,
    /// Positions the cache buffers have room for.
    cap: usize,
    /// The step's dispatches, in order; rebuilt when the cache grows.
    plan: Vec<Dispatch>,
    head_plan: Vec<Dispatch>,
    /// An error reported by the device outside any call (validation, out of memory, lost).
    failure: Arc<Mutex<Option<GpuError>>>,
}

fn storage(device: &wgpu::Device, label: &str, bytes: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16) as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

fn init(
    device: &wgpu::Device,
    label: &str,
    bytes: &[u8],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage,
    })
}

impl GpuModel {
    /// Opens a device on `adapter` and uploads `model`'s weights (still quantized).
    pub async fn new(
        adapter: &wgpu::Adapter,
        summary: AdapterSummary,
        model: &Model,
    ) -> Result<Self, GpuError> {
        Self::with_capacity(adapter, summary, model, FIRST_CAP).await
    }

    /// [`GpuModel::new`] with room for `positions` in the KV cache at first (it grows as needed).
    pub async fn with_capacity(
        adapter: &wgpu::Adapter,
        summary: AdapterSummary,
        model: &Model,
        positions: usize,
    ) -> Result<Self, GpuError> {
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("tokenmeter"),
                required_features: wgpu::Features::empty(),
                required_limits: wgpu::Limits::default().using_resolution(adapter.limits()),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let failure: Arc<Mutex<Option<GpuError>>> = Arc::new(Mutex::new(None));
        {
            let f = failure.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let err = match e {
                    wgpu::Error::OutOfMemory { .. } => GpuError::Gpu("out of GPU memory".into()),
                    other => GpuError::Gpu(other.to_string()),
                };
                if let Ok(mut slot) = f.lock() {
                    slot.get_or_insert(err);
                }
            }));
            let f = failure.clone();
            device.set_device_lost_callback(move |reason, message| {
                if let Ok(mut slot) = f.lock() {
                    *slot = Some(GpuError::Lost(format!("{reason:?}: {message}")));
                }
            });
        }
        let c = model.config().clone();
        let limits = device.limits();
        let max_binding = limits.max_storage_buffer_binding_size as usize;
        let max_groups = limits.max_compute_workgroups_per_dimension as usize;
        if c.vocab_size > max_groups || c.ffn_dim > max_groups {
            return Err(GpuError::Gpu(format!(
                "a {}-row matrix needs more workgroups than this GPU dispatches ({max_groups})",
                c.vocab_size
            )));
        }
        let usage = wgpu::BufferUsages::STORAGE;
        let uniform = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let matrix = |name: &str, m: &QMatrix, accumulate: bool, head: bool| {
            let (words, layout) = pack_blocks(m)?;
            if words.len() * 4 > max_binding {
                return Err(GpuError::Gpu(format!(
                    "{name} takes {} MB, more than one GPU binding holds ({} MB)",
                    (words.len() * 4) >> 20,
                    max_binding >> 20
                )));
            }
            Ok(GpuMatrix {
                blocks: init(&device, name, &le_bytes(&words), usage),
                params: init(
                    &device,
                    name,
                    &mat_bytes(m.rows(), m.cols(), accumulate, head),
                    uniform,
                ),
                layout,
                rows: m.rows() as u32,
            })
        };
        let vector = |name: &str, v: &[f32]| init(&device, name, &le_bytes(v), usage);

        let embed = matrix("token_embd", model.embedding(), false, false)?;
        let head = matrix("lm_head", model.lm_head(), false, true)?;
        let cap = positions.clamp(1, c.context_length);
        let kv_bytes = cap * c.kv_dim() * 4;
        let mut layers = Vec::with_capacity(c.n_layer);
        for (i, b) in model.blocks().iter().enumerate() {
            layers.push(Layer {
                attn_norm: vector("attn_norm", &b.attn_norm),
                wq: matrix(&format!("blk.{i}.attn_q"), &b.wq, false, false)?,
                wk: matrix(&format!("blk.{i}.attn_k"), &b.wk, false, false)?,
                wv: matrix(&format!("blk.{i}.attn_v"), &b.wv, false, false)?,
                wo: matrix(&format!("blk.{i}.attn_output"), &b.wo, true, false)?,
                ffn_norm: vector("ffn_norm", &b.ffn_norm),
                w_gate: matrix(&format!("blk.{i}.ffn_gate"), &b.w_gate, false, false)?,
                w_up: matrix(&format!("blk.{i}.ffn_up"), &b.w_up, false, false)?,
                w_down: matrix(&format!("blk.{i}.ffn_down"), &b.w_down, true, false)?,
                bias: b
                    .bias
                    .as_ref()
                    .map(|b| [vector("bq", &b.q), vector("bk", &b.k), vector("bv", &b.v)]),
                qk_norm: b
                    .qk_norm
                    .as_ref()
                    .map(|(q, k)| [vector("q_norm", q), vector("k_norm", k)]),
                k_cache: storage(&device, "k_cache", kv_bytes),
                v_cache: storage(&device, "v_cache", kv_bytes),
            });
        }
        // RoPE's table as (cos, sin) pairs, the same f64-computed values as the CPU path.
        let (cos, sin) = model.rope_tables();
        let rope: Vec<f32> = cos.iter().zip(sin).flat_map(|(&c, &s)| [c, s]).collect();
        let rope = vector("rope", &rope);
        let output_norm = vector("output_norm", model.output_norm());

        let s = MAX_STEP;
        let f = 4; // bytes per f32
        let act = Activations {
            dims: init(&device, "dims", &Dims::default().bytes(), uniform),
            tokens: storage(&device, "tokens", s * f),
            x: storage(&device, "x", s * c.dim * f),
            h: storage(&device, "h", s * c.dim * f),
            q: storage(&device, "q", s * c.n_head * c.head_dim * f),
            k: storage(&device, "k", s * c.kv_dim() * f),
            v: storage(&device, "v", s * c.kv_dim() * f),
            attn: storage(&device, "attn", s * c.n_head * c.head_dim * f),
            gate: storage(&device, "gate", s * c.ffn_dim * f),
            up: storage(&device, "up", s * c.ffn_dim * f),
            att: storage(&device, "att", s * c.n_head * cap * f),
            logits: storage(&device, "logits", s * c.vocab_size * f),
            staging: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("staging"),
                size: (s * c.vocab_size * f) as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        let kernels = Kernels::new(&device);
        let mut gpu = Self {
            device,
            queue,
            adapter: summary,
            config: c,
            kernels,
            embed,
            head,
            layers,
            output_norm,
            rope,
            act,
            cap,
            plan: Vec::new(),
            head_plan: Vec::new(),
            failure,
        };
        gpu.build_plan();
        gpu.check().await?;
        Ok(gpu)
    }

    /// Destroys the device, as a driver reset or a lost GPU would: every later call fails with
    /// [`GpuError::Lost`]. For testing the fallback to the CPU.
    pub fn destroy(&self) {
        self.device.destroy();
    }

    pub fn adapter(&self) -> &AdapterSummary {
        &self.adapter
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Waits for the device to finish what was submitted, then reports any error it raised.
    async fn check(&self) -> Result<(), GpuError> {
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Lost(e.to_string()))?;
        self.take_failure()
    }

    fn take_failure(&self) -> Result<(), GpuError> {
        match self.failure.lock().ok().and_then(|mut f| f.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

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

    /// A matrix product `y (+)= W·x` as a dispatch.
    fn matmul(&self, m: &GpuMatrix, x: &wgpu::Buffer, y: &wgpu::Buffer, head: bool) -> Dispatch {
        let k = &self.kernels;
        let pipeline = match m.layout {
            GpuLayout::Q4 => &k.matmul_q4_1,
            GpuLayout::Q8 => &k.matmul_q8_0,
            GpuLayout::Q8x2 => &k.matmul_q8x2,
            GpuLayout::F32 => &k.matmul_f32,
        };
        let a = &self.act;
        Dispatch {
            bind: self.bind(
                pipeline,
                &[(0, &a.dims), (1, &m.params), (2, &m.blocks), (3, x), (4, y)],
            ),
            pipeline: pipeline.clone(),
            grid: Grid::Matmul { rows: m.rows, head },
        }
    }

    /// Builds every dispatch of a step (the bindings only change when the cache grows).
    fn build_plan(&mut self) {
        let k = &self.kernels;
        let a = &self.act;
        let c = &self.config;
        let d =
            |pipeline: &wgpu::ComputePipeline, buffers: &[(u32, &wgpu::Buffer)], grid| Dispatch {
                bind: self.bind(pipeline, buffers),
                pipeline: pipeline.clone(),
                grid,
            };
        let embed = match self.embed.layout {
            GpuLayout::Q4 => &k.embed_q4_1,
            GpuLayout::Q8 => &k.embed_q8_0,
            GpuLayout::Q8x2 => &k.embed_q8x2,
            GpuLayout::F32 => &k.embed_f32,
        };
        let (rope_q, store_kv) = match c.arch.rope_style() {
            RopeStyle::Adjacent => (&k.rope_q, &k.store_kv),
            RopeStyle::Halves => (&k.rope_q_halves, &k.store_kv_halves),
        };
        let mut plan = vec![d(
            embed,
            &[
                (0, &a.dims),
                (1, &a.tokens),
                (2, &self.embed.blocks),
                (3, &a.x),
            ],
            Grid::PerValue(c.dim as u32),
        )];
        for l in &self.layers {
            plan.push(d(
                &k.rms_norm,
                &[(0, &a.dims), (1, &a.x), (2, &l.attn_norm), (3, &a.h)],
                Grid::Rows,
            ));
            plan.push(self.matmul(&l.wq, &a.h, &a.q, false));
            plan.push(self.matmul(&l.wk, &a.h, &a.k, false));
            plan.push(self.matmul(&l.wv, &a.h, &a.v, false));
            if let Some([bq, bk, bv]) = &l.bias {
                // Qwen2: q = W_q·h + b_q, and so on.
                for (y, b, n) in [
                    (&a.q, bq, c.q_dim()),
                    (&a.k, bk, c.kv_dim()),
                    (&a.v, bv, c.kv_dim()),
                ] {
                    plan.push(d(
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
                        &k.head_norm,
                        &[(0, &a.dims), (1, y), (2, w)],
                        Grid::Heads(heads as u32),
                    ));
                }
            }
            let q_pairs = (c.n_head * c.head_dim / 2) as u32;
            plan.push(d(
                rope_q,
                &[(0, &a.dims), (1, &self.rope), (2, &a.q)],
                Grid::PerValue(q_pairs),
            ));
            plan.push(d(
                store_kv,
                &[
                    (0, &a.dims),
                    (1, &self.rope),
                    (3, &a.k),
                    (4, &a.v),
                    (5, &l.k_cache),
                    (6, &l.v_cache),
                ],
                Grid::PerValue((c.kv_dim() / 2) as u32),
            ));
            plan.push(d(
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
            plan.push(self.matmul(&l.wo, &a.attn, &a.x, false));
            plan.push(d(
                &k.rms_norm,
                &[(0, &a.dims), (1, &a.x), (2, &l.ffn_norm), (3, &a.h)],
                Grid::Rows,
            ));
            plan.push(self.matmul(&l.w_gate, &a.h, &a.gate, false));
            plan.push(self.matmul(&l.w_up, &a.h, &a.up, false));
            plan.push(d(
                &k.swiglu,
                &[(0, &a.dims), (1, &a.gate), (2, &a.up)],
                Grid::PerValue(c.ffn_dim as u32),
            ));
            plan.push(self.matmul(&l.w_down, &a.gate, &a.x, false));
        }
        let head_plan = vec![
            d(
                &k.final_norm,
                &[(0, &a.dims), (1, &a.x), (2, &self.output_norm), (3, &a.h)],
                Grid::OutRows,
            ),
            self.matmul(&self.head, &a.h, &a.logits, true),
        ];
        self.plan = plan;
        self.head_plan = head_plan;
    }

    /// Makes room in the KV cache for `positions`, copying what it holds.
    fn reserve(&mut self, positions: usize) {
        if positions <= self.cap {
            return;
        }
        let c = &self.config;
        let cap = positions.next_power_of_two().min(c.context_length);
        let old_bytes = (self.cap * c.kv_dim() * 4) as u64;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        for l in &mut self.layers {
            let k = storage(&self.device, "k_cache", cap * c.kv_dim() * 4);
            let v = storage(&self.device, "v_cache", cap * c.kv_dim() * 4);
            encoder.copy_buffer_to_buffer(&l.k_cache, 0, &k, 0, old_bytes);
            encoder.copy_buffer_to_buffer(&l.v_cache, 0, &v, 0, old_bytes);
            l.k_cache = k;
            l.v_cache = v;
        }
        self.queue.submit([encoder.finish()]);
        self.act.att = storage(&self.device, "att", MAX_STEP * c.n_head * cap * 4);
        self.cap = cap;
        self.build_plan();
    }

    /// Runs `tokens` at positions `pos..pos + tokens.len()` (the cache must hold at least `pos`
    /// positions; later ones are overwritten) and returns the logits `want` names, like
    /// `Model::forward` on the CPU.
    pub async fn forward(
        &mut self,
        tokens: &[u32],
        pos: usize,
        want: Logits,
    ) -> Result<Vec<f32>, GpuError> {
        self.take_failure()?;
        self.config.check_step(tokens, pos)?;
        self.reserve(pos + tokens.len());
        let mut out = Vec::new();
        let n = tokens.len();
        for start in (0..n).step_by(MAX_STEP) {
            let end = (start + MAX_STEP).min(n);
            let rows = match want {
                Logits::None => 0..0,
                Logits::Last if end == n => end - start - 1..end - start,
                Logits::Last => 0..0,
                Logits::All => 0..end - start,
            };
            let logits = self.step(&tokens[start..end], pos + start, rows).await?;
            out.extend(logits);
        }
        self.check().await?;
        Ok(out)
    }

    /// The uniform of a step of `seq` tokens at positions `pos..`, wanting the logits of step
    /// rows `rows`.
    fn dims(&self, seq: usize, pos: usize, rows: std::ops::Range<usize>) -> Dims {
        let c = &self.config;
        Dims {
            seq: seq as u32,
            pos: pos as u32,
            dim: c.dim as u32,
            q_dim: (c.n_head * c.head_dim) as u32,
            kv_dim: c.kv_dim() as u32,
            ffn_dim: c.ffn_dim as u32,
            n_head: c.n_head as u32,
            n_kv_head: c.n_kv_head as u32,
            head_dim: c.head_dim as u32,
            vocab: c.vocab_size as u32,
            out_row0: rows.start as u32,
            out_rows: rows.len() as u32,
            cap: self.cap as u32,
            rms_eps: c.rms_eps,
            ..Dims::default()
        }
    }

    /// One command encoder: `tokens` (at most [`MAX_STEP`]) through every layer, then the
    /// logits of step rows `rows`, read back.
    async fn step(
        &mut self,
        tokens: &[u32],
        pos: usize,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<f32>, GpuError> {
        let c = &self.config;
        let dims = self.dims(tokens.len(), pos, rows.clone());
        self.queue.write_buffer(&self.act.dims, 0, &dims.bytes());
        self.queue
            .write_buffer(&self.act.tokens, 0, &le_bytes(tokens));
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            let wanted = !rows.is_empty();
            let head: &[Dispatch] = if wanted { &self.head_plan } else { &[] };
            record(&mut pass, self.plan.iter().chain(head), &dims);
        }
        let bytes = (rows.len() * c.vocab_size * 4) as u64;
        if bytes == 0 {
            self.queue.submit([encoder.finish()]);
            return Ok(Vec::new());
        }
        encoder.copy_buffer_to_buffer(&self.act.logits, 0, &self.act.staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        read_back(&self.device, &self.act.staging, bytes).await
    }
}

/// Records `dispatches` into `pass`, each with its grid for the step `dims` describes.
fn record<'a>(
    pass: &mut wgpu::ComputePass<'_>,
    dispatches: impl Iterator<Item = &'a Dispatch>,
    dims: &Dims,
) {
    for d in dispatches {
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
    }
}

/// Maps the first `bytes` of a MAP_READ buffer and copies them out as f32s.
async fn read_back(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
) -> Result<Vec<f32>, GpuError> {
    let slice = buffer.slice(..bytes);
    let (tx, rx) = futures_channel::oneshot::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    #[cfg(not(target_arch = "wasm32"))]
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Lost(e.to_string()))?;
    #[cfg(target_arch = "wasm32")]
    let _ = device;
    rx.await
        .map_err(|_| GpuError::Lost("the read-back was cancelled".into()))?
        .map_err(|e| GpuError::Lost(e.to_string()))?;
    let out = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| GpuError::Gpu(e.to_string()))?;
        view.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    buffer.unmap();
    Ok(out)
}
