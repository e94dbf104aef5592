//! The compute pipelines, one per WGSL entry point. Each `.wgsl` file is compiled together with
//! `common.wgsl` (the `Dims` uniform every kernel reads).

/// Threads per workgroup in every kernel (`WG` in the WGSL).
pub const WG: u32 = 64;
/// Tokens a matrix-product workgroup handles at once (`TILE` in matmul.wgsl).
pub const TILE: u32 = 8;

/// The `Dims` uniform of common.wgsl, in the same field order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Dims {
    pub seq: u32,
    pub pos: u32,
    pub dim: u32,
    pub q_dim: u32,
    pub kv_dim: u32,
    pub ffn_dim: u32,
    pub n_head: u32,
    pub n_kv_head: u32,
    pub head_dim: u32,
    pub vocab: u32,
    pub out_row0: u32,
    pub out_rows: u32,
    pub cap: u32,
    pub rms_eps: f32,
}

impl Dims {
    /// The 64 bytes the shader reads.
    pub fn bytes(&self) -> Vec<u8> {
        let words = [
            self.seq,
            self.pos,
            self.dim,
            self.q_dim,
            self.kv_dim,
            self.ffn_dim,
            self.n_head,
            self.n_kv_head,
            self.head_dim,
            self.vocab,
            self.out_row0,
            self.out_rows,
            self.cap,
            self.rms_eps.to_bits(),
            0,
            0,
        ];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// The `Mat` uniform of matmul.wgsl: a matrix's shape and how its product is used.
pub fn mat_bytes(rows: usize, cols: usize, accumulate: bool, head: bool) -> Vec<u8> {
    [rows as u32, cols as u32, accumulate as u32, head as u32]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

pub struct Kernels {
    pub embed_q8_0: wgpu::ComputePipeline,
    pub embed_q4_1: wgpu::ComputePipeline,
    pub rms_norm: wgpu::ComputePipeline,
    pub final_norm: wgpu::ComputePipeline,
    pub matmul_q4_1: wgpu::ComputePipeline,
    pub matmul_q8_0: wgpu::ComputePipeline,
    pub rope_q: wgpu::ComputePipeline,
    pub store_kv: wgpu::ComputePipeline,
    pub attention: wgpu::ComputePipeline,
    pub swiglu: wgpu::ComputePipeline,
}

const COMMON: &str = include_str!("kernels/common.wgsl");

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = |name: &str, body: &str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(format!("{COMMON}\n{body}").into()),
            })
        };
        let pipeline = |module: &wgpu::ShaderModule, entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None, // derived from the bindings the entry point uses
                module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let embed = module("embed.wgsl", include_str!("kernels/embed.wgsl"));
        let norm = module("rms_norm.wgsl", include_str!("kernels/rms_norm.wgsl"));
        let matmul = module("matmul.wgsl", include_str!("kernels/matmul.wgsl"));
        let rope = module("rope.wgsl", include_str!("kernels/rope.wgsl"));
        let attention = module("attention.wgsl", include_str!("kernels/attention.wgsl"));
        let swiglu = module("swiglu.wgsl", include_str!("kernels/swiglu.wgsl"));
        Self {
            embed_q8_0: pipeline(&embed, "embed_q8_0"),
            embed_q4_1: pipeline(&embed, "embed_q4_1"),
            rms_norm: pipeline(&norm, "rms_norm"),
            final_norm: pipeline(&norm, "final_norm"),
            matmul_q4_1: pipeline(&matmul, "matmul_q4_1"),
            matmul_q8_0: pipeline(&matmul, "matmul_q8_0"),
            rope_q: pipeline(&rope, "rope_q"),
            store_kv: pipeline(&rope, "store_kv"),
            attention: pipeline(&attention, "attention"),
            swiglu: pipeline(&swiglu, "swiglu"),
        }
    }
}

/// A weight matrix's blocks in the GPU layout matmul.wgsl reads (u32 words, scales as f32 bits):
/// Q4_1 → 6 words per block `[d, m, q0..q3]`, Q8_0 → 9 words `[d, q0..q7]`.
pub fn pack_blocks(m: &tokenmeter_core::model::quant::QMatrix) -> (Vec<u32>, bool) {
    use tokenmeter_core::model::quant::BlockView;
    match m.blocks() {
        BlockView::Q4_1 { d, m, qs } => {
            let mut words = Vec::with_capacity(d.len() * 6);
            for ((d, m), q) in d.iter().zip(m).zip(qs) {
                words.push(d.to_bits());
                words.push(m.to_bits());
                words.extend(
                    q.chunks_exact(4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            (words, true)
        }
        BlockView::Q8_0 { d, qs } => {
            let mut words = Vec::with_capacity(d.len() * 9);
            for (d, q) in d.iter().zip(qs) {
                words.push(d.to_bits());
                words.extend(
                    q.chunks_exact(4).map(|b| {
                        u32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
                    }),
                );
            }
            (words, false)
        }
    }
}

/// Little-endian bytes of a slice of words or floats, for buffer uploads.
pub fn le_bytes<T: Copy + Into<Word>>(v: &[T]) -> Vec<u8> {
    v.iter().flat_map(|&w| w.into().0.to_le_bytes()).collect()
}

/// A 32-bit value as uploaded.
pub struct Word(pub u32);
impl From<u32> for Word {
    fn from(w: u32) -> Self {
        Word(w)
    }
}
impl From<f32> for Word {
    fn from(f: f32) -> Self {
        Word(f.to_bits())
    }
}
