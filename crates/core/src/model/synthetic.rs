//! A model with SmolLM2-135M's exact shapes and block formats but seeded random weights.
//!
//! For benchmarks where the real 98 MB file cannot go (a GPU machine with no network and a small
//! upload limit): every matrix has the real model's rows, columns and block format (Q4_1 for the
//! blocks, Q8_0 for the tied embedding), so a forward pass does exactly the real model's work and
//! moves exactly its bytes. The scores mean nothing; the speed is the real model's.

use super::config::{Arch, Config};
use super::llama::{Block, Model};
use super::quant::{Format, QMatrix, QK};
use crate::splitmix::SplitMix;
use crate::Result;

/// SmolLM2-135M's hyper-parameters, as its GGUF states them.
pub fn smollm2_135m() -> Config {
    Config {
        arch: Arch::Llama,
        dim: 576,
        n_layer: 30,
        n_head: 9,
        n_kv_head: 3,
        head_dim: 64,
        ffn_dim: 1536,
        vocab_size: 49_152,
        context_length: 8192,
        rope_theta: 100_000.0,
        rope_position_scale: 1.0,
        rms_eps: 1e-5,
    }
}

/// f16 bit patterns of the block scales used below (exact powers of two).
const F16_2_POW_M7: [u8; 2] = 0x2000u16.to_le_bytes(); // 2⁻⁷
const F16_MINUS_2_POW_M4: [u8; 2] = 0xAC00u16.to_le_bytes(); // −2⁻⁴ = −8 · 2⁻⁷
const F16_2_POW_M9: [u8; 2] = 0x1800u16.to_le_bytes(); // 2⁻⁹

/// A `(rows, cols)` matrix of random blocks: Q4_1 weights `2⁻⁷·q − 2⁻⁴` (q in 0..16, so in
/// [−0.0625, 0.055]), Q8_0 weights `2⁻⁹·q` (q in −127..=127 as llama.cpp writes them, so in
/// [−0.25, 0.25]; the wasm kernels multiply a −128 another way).
fn random_matrix(rng: &mut SplitMix, format: Format, rows: usize, cols: usize) -> Result<QMatrix> {
    let blocks = rows * cols / QK;
    let size = format.block_bytes();
    let mut bytes = vec![0u8; blocks * size];
    for block in bytes.chunks_exact_mut(size) {
        rng.fill_bytes(block);
        if format == Format::Q4_1 {
            block[0..2].copy_from_slice(&F16_2_POW_M7);
            block[2..4].copy_from_slice(&F16_MINUS_2_POW_M4);
        } else {
            block[0..2].copy_from_slice(&F16_2_POW_M9); // Q8_0
            for q in &mut block[2..] {
                *q = if *q == 0x80 { 0x81 } else { *q };
            }
        }
    }
    QMatrix::from_bytes(format, rows, cols, &bytes)
}

impl Model {
    /// A model of `config`'s shape in SmolLM2's formats, its weights drawn from `seed` (norms
    /// all 1): the same seed gives the same model on every machine.
    pub fn synthetic(config: Config, seed: u64) -> Result<Self> {
        let c = &config;
        let mut rng = SplitMix(seed);
        let (q4, q8) = (Format::Q4_1, Format::Q8_0);
        let q_dim = c.n_head * c.head_dim;
        let embedding = random_matrix(&mut rng, q8, c.vocab_size, c.dim)?;
        let mut blocks = Vec::with_capacity(c.n_layer);
        for _ in 0..c.n_layer {
            blocks.push(Block {
                attn_norm: vec![1.0; c.dim],
                wq: random_matrix(&mut rng, q4, q_dim, c.dim)?,
                wk: random_matrix(&mut rng, q4, c.kv_dim(), c.dim)?,
                wv: random_matrix(&mut rng, q4, c.kv_dim(), c.dim)?,
                wo: random_matrix(&mut rng, q4, c.dim, q_dim)?,
                ffn_norm: vec![1.0; c.dim],
                w_gate: random_matrix(&mut rng, q4, c.ffn_dim, c.dim)?,
                w_up: random_matrix(&mut rng, q4, c.ffn_dim, c.dim)?,
                w_down: random_matrix(&mut rng, q4, c.dim, c.ffn_dim)?,
                bias: None,
                qk_norm: None,
            });
        }
        let per_block =
            2 * c.dim + 2 * q_dim * c.dim + 2 * c.kv_dim() * c.dim + 3 * c.ffn_dim * c.dim;
        let n_params = c.vocab_size * c.dim + c.n_layer * per_block + c.dim;
        let q4_bytes = |n: usize| n / QK * q4.block_bytes();
        let weight_bytes = c.vocab_size * c.dim / QK * q8.block_bytes()
            + c.n_layer * (q4_bytes(per_block - 2 * c.dim) + 2 * c.dim * 4)
            + c.dim * 4;
        let (rope_cos, rope_sin) = super::load::rope_table(c, None);
        Ok(Self {
            output_norm: vec![1.0; c.dim],
            config,
            embedding,
            output: None,
            blocks,
            rope_cos,
            rope_sin,
            n_params,
            weight_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Logits, State};

    /// The real file's counts (`tokenmeter model`): the same matrices, so the same work per token.
    #[test]
    fn the_synthetic_model_has_the_real_models_size() {
        let m = Model::synthetic(smollm2_135m(), 1).expect("model");
        assert_eq!(m.n_params(), 134_515_008);
        assert_eq!(m.weight_bytes(), 96_576_768);
        assert_eq!(m.formats(), "Q4_1 + Q8_0");
    }

    #[test]
    fn it_runs_to_finite_scores_and_the_seed_decides_them() {
        let mut small = smollm2_135m();
        small.n_layer = 2;
        small.context_length = 64;
        let run = |seed| {
            let m = Model::synthetic(small.clone(), seed).expect("model");
            let mut state = State::new(m.config());
            m.forward(&[1, 2, 3, 49_151], 0, &mut state, Logits::Last)
                .expect("forward")
        };
        let a = run(7);
        assert_eq!(a.len(), 49_152);
        assert!(a.iter().all(|z| z.is_finite()));
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
    }
}
