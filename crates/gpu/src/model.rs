//! SmolLM2 on the GPU: weights uploaded once, the KV cache kept on the GPU, one command encoder
//! per step. The order of kernels is the forward pass of `tokenmeter_core::model::llama`, one
//! dispatch per line (a big GPU spends a decode step mostly between dispatches, so products of
//! one input are stacked, and in one-token steps the norms are folded into the products after
//! them; see matmul.wgsl and model/plan.rs):
//!
//! ```text
//! x = embed(tokens)                                   (seq, dim)
//! for each block:
//!     q,k,v = [Wq;Wk;Wv] · rms_norm(x)                (seq, q_dim), (seq, kv_dim) ×2
//!     rope(q) ; rope(k), v → cache
//!     attn = attention(q, cache)                      (seq, q_dim)
//!     x += Wo·attn
//!     gate,up = [Wg;Wu] · rms_norm(x)                 (seq, ffn_dim) ×2
//!     gate = silu(gate) ⊙ up
//!     x += Wd·gate
//! logits = lm_head · final_norm(x[wanted rows])       (rows, vocab)   read back
//! ```
//!
//! Here: the weights and buffers, and the step that runs the plan. Beside it: the plan of
//! dispatches (`model/plan.rs`, the diagram kernel by kernel, to be read beside the CPU's
//! `llama.rs`), reading the model's insides back (`model/inspect.rs`), timing every dispatch
//! (`model/profile.rs`); the kernels are in `kernels.rs`, choosing and falling back in
//! `engine.rs`.

use std::sync::{Arc, Mutex};

use tokenmeter_core::model::quant::QMatrix;
use tokenmeter_core::model::{Config, Logits, Model};
use wgpu::util::DeviceExt;

use crate::kernels::{le_bytes, mat_bytes, pack_blocks, Dims, GpuLayout, Kernels};
use crate::{AdapterSummary, GpuError};

mod inspect;
mod plan;
mod profile;

use plan::{record, Dispatch, Plan};

pub use profile::{KernelTime, Profile, StepProfile};

/// Tokens run per GPU step; longer inputs are split into steps of this size.
pub const MAX_STEP: usize = 32;
/// Positions the KV cache has room for at first; it doubles as texts grow.
const FIRST_CAP: usize = 256;

/// A weight matrix on the GPU with the uniform describing its use: one matrix, or several that
/// read the same input stacked row-wise (see [`Stack`]).
struct GpuMatrix {
    blocks: wgpu::Buffer,
    params: wgpu::Buffer,
    layout: GpuLayout,
    rows: u32,
    /// How many matrices are stacked in it, i.e. how many outputs its product writes.
    parts: usize,
    /// What the profile calls its product.
    name: &'static str,
}

/// Matrices that read the same input (Wq, Wk, Wv; W_gate, W_up): one stacked product when their
/// blocks share a layout (SmolLM2), else one product each (a Q4_K_M file keeps some in Q6_K).
type Stack = Vec<GpuMatrix>;

struct Layer {
    attn_norm: wgpu::Buffer,
    /// Wq, Wk, Wv: read rms_norm(x) with attn_norm (folded into them in one-token steps).
    qkv: Stack,
    wo: GpuMatrix,
    ffn_norm: wgpu::Buffer,
    /// W_gate, W_up: read rms_norm(x) with ffn_norm (likewise).
    gate_up: Stack,
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
    /// Bound as a stacked product's second and third outputs where a product has fewer.
    unused: [wgpu::Buffer; 2],
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
    /// A step's dispatches, in order, for one token and for several (see
    /// [`GpuModel::build_plan`]); rebuilt when the cache grows.
    decode: Plan,
    prefill: Plan,
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
                required_features: profile::features(adapter),
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
        if !c.head_dim.is_multiple_of(4) || c.head_dim > 256 {
            return Err(GpuError::Gpu(format!(
                "the attention kernel reads heads in fours up to 256 values; this model's have {}",
                c.head_dim
            )));
        }
        // A product runs one workgroup per row; stacks only where they fit (below).
        let widest = c.vocab_size.max(c.ffn_dim).max(c.q_dim());
        if widest > max_groups {
            return Err(GpuError::Gpu(format!(
                "a {widest}-row matrix needs more workgroups than this GPU dispatches ({max_groups})"
            )));
        }
        let usage = wgpu::BufferUsages::STORAGE;
        let uniform = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let upload = |name: &'static str,
                      words: &[u32],
                      layout: GpuLayout,
                      parts: &[usize],
                      cols: usize,
                      (accumulate, head): (bool, bool)| {
            if words.len() * 4 > max_binding {
                return Err(GpuError::Gpu(format!(
                    "{name} takes {} MB, more than one GPU binding holds ({} MB)",
                    (words.len() * 4) >> 20,
                    max_binding >> 20
                )));
            }
            Ok(GpuMatrix {
                blocks: init(&device, name, &le_bytes(words), usage),
                params: init(
                    &device,
                    name,
                    &mat_bytes(parts, cols, accumulate, head),
                    uniform,
                ),
                layout,
                rows: parts.iter().sum::<usize>() as u32,
                parts: parts.len(),
                name,
            })
        };
        let matrix = |name: &'static str, m: &QMatrix, accumulate: bool, head: bool| {
            let (words, layout) = pack_blocks(m)?;
            upload(
                name,
                &words,
                layout,
                &[m.rows()],
                m.cols(),
                (accumulate, head),
            )
        };
        // Matrices reading the same normed input: stacked if their layouts agree and the stack
        // fits one binding, else one by one (each with the norm folded in all the same).
        let stack = |stacked: &'static str, names: &[&'static str], ms: &[&QMatrix]| {
            let packed = ms
                .iter()
                .map(|m| pack_blocks(m))
                .collect::<Result<Vec<_>, _>>()?;
            let cols = ms[0].cols();
            let parts: Vec<usize> = ms.iter().map(|m| m.rows()).collect();
            let same = packed.iter().all(|(_, l)| *l == packed[0].1);
            let words: usize = packed.iter().map(|(w, _)| w.len()).sum();
            if same && words * 4 <= max_binding && parts.iter().sum::<usize>() <= max_groups {
                let all: Vec<u32> = packed.iter().flat_map(|(w, _)| w.iter().copied()).collect();
                let layout = packed[0].1;
                return Ok(vec![upload(
                    stacked,
                    &all,
                    layout,
                    &parts,
                    cols,
                    (false, false),
                )?]);
            }
            packed
                .iter()
                .zip(ms)
                .zip(names)
                .map(|(((w, l), m), &name)| upload(name, w, *l, &[m.rows()], cols, (false, false)))
                .collect::<Result<Stack, GpuError>>()
        };
        let vector = |name: &str, v: &[f32]| init(&device, name, &le_bytes(v), usage);

        let embed = matrix("token_embd", model.embedding(), false, false)?;
        let head = matrix("output", model.lm_head(), false, true)?;
        let cap = positions.clamp(1, c.context_length);
        let kv_bytes = cap * c.kv_dim() * 4;
        let mut layers = Vec::with_capacity(c.n_layer);
        for b in model.blocks() {
            layers.push(Layer {
                attn_norm: vector("attn_norm", &b.attn_norm),
                qkv: stack(
                    "attn_qkv",
                    &["attn_q", "attn_k", "attn_v"],
                    &[&b.wq, &b.wk, &b.wv],
                )?,
                wo: matrix("attn_output", &b.wo, true, false)?,
                ffn_norm: vector("ffn_norm", &b.ffn_norm),
                gate_up: stack(
                    "ffn_gate_up",
                    &["ffn_gate", "ffn_up"],
                    &[&b.w_gate, &b.w_up],
                )?,
                w_down: matrix("ffn_down", &b.w_down, true, false)?,
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
            unused: [storage(&device, "unused", 4), storage(&device, "unused", 4)],
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
            decode: Plan::default(),
            prefill: Plan::default(),
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
        let (encoder, bytes) = self.encode(tokens, pos, rows, None);
        self.queue.submit([encoder.finish()]);
        if bytes == 0 {
            return Ok(Vec::new());
        }
        read_back(&self.device, &self.act.staging, bytes).await
    }

    /// Writes the step's uniform and tokens and records its dispatches, then the copy of the
    /// wanted logits to the staging buffer; returns the encoder and the bytes to read back.
    /// `stamps` (profiling) gets a timestamp before the first dispatch and after each one.
    fn encode(
        &self,
        tokens: &[u32],
        pos: usize,
        rows: std::ops::Range<usize>,
        stamps: Option<&wgpu::QuerySet>,
    ) -> (wgpu::CommandEncoder, u64) {
        let dims = self.dims(tokens.len(), pos, rows.clone());
        self.queue.write_buffer(&self.act.dims, 0, &dims.bytes());
        self.queue
            .write_buffer(&self.act.tokens, 0, &le_bytes(tokens));
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            let head: &[Dispatch] = if rows.is_empty() {
                &[]
            } else {
                &self.head_plan
            };
            let blocks = &self.plan(tokens.len()).dispatches;
            record(&mut pass, blocks.iter().chain(head), &dims, stamps);
        }
        let bytes = (rows.len() * self.config.vocab_size * 4) as u64;
        if bytes > 0 {
            encoder.copy_buffer_to_buffer(&self.act.logits, 0, &self.act.staging, 0, bytes);
        }
        (encoder, bytes)
    }
}

/// Maps the first `bytes` of a MAP_READ buffer and copies them out as f32s.
async fn read_back(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
) -> Result<Vec<f32>, GpuError> {
    Ok(read_bytes(device, buffer, bytes)
        .await?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Maps the first `bytes` of a MAP_READ buffer and copies them out (none: waits for the queue).
async fn read_bytes(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
) -> Result<Vec<u8>, GpuError> {
    if bytes == 0 {
        #[cfg(not(target_arch = "wasm32"))]
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Lost(e.to_string()))?;
        return Ok(Vec::new());
    }
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
    let out = slice
        .get_mapped_range()
        .map_err(|e| GpuError::Gpu(e.to_string()))?
        .to_vec();
    buffer.unmap();
    Ok(out)
}
