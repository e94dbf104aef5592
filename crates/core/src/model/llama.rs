//! SmolLM2's forward pass: token IDs in, next-token logits out.
//!
//! SmolLM2-135M is a Llama-architecture decoder-only transformer ("LLaMA", Touvron et al. 2023):
//!
//! ```text
//! x = E[tokens]                                              (seq, dim)   embedding lookup
//! for each of the n_layer blocks:
//!     x = x + Attention(RMSNorm(x))                          grouped-query attention with RoPE
//!     x = x + FeedForward(RMSNorm(x))                        SwiGLU: W_down(silu(W_gate·h) ⊙ W_up·h)
//! logits = RMSNorm(x_last) · Eᵀ                              (vocab,)  one score per vocabulary entry
//! ```
//!
//! Sizes for SmolLM2-135M (read from the GGUF, not hard-coded): dim = 576, n_layer = 30,
//! n_head = 9 query heads of head_dim = 64, n_kv_head = 3 key/value heads (each shared by 3 query
//! heads), ffn_dim = 1536, vocab = 49,152, RoPE base θ = 100,000. The output projection is the
//! token-embedding matrix E itself (tied weights): scoring a token is a dot product with its
//! embedding, repeated for all 49,152 entries. That last step alone is 49,152 × 576 ≈ 28 M
//! multiply-adds per token, a fifth of the whole forward pass.
//!
//! Weights stay in their GGUF block formats (Q4_1 for the blocks, Q8_0 for E) and every matrix
//! product quantizes its input to 8 bits first ([`quant`](super::quant)). The code is plain Rust on
//! slices, in the order the maths happens, like llama2.c: no tensor library in the hot path, no
//! allocation per token once the buffers have grown, and the same bits natively and in wasm
//! (transcendentals come from `libm`, sums run in a fixed order).

use super::attention::{self, Cache};
pub use super::config::{Arch, Config, RopeStyle};
use super::inspect::Probe;
use super::quant::{Q8Row, QMatrix};
use super::threads;
use crate::{Error, Result};

/// One transformer block's weights. Matrices are `(out, in)`: `y = W·x`.
pub struct Block {
    pub attn_norm: Vec<f32>, // (dim,)
    pub wq: QMatrix,         // (n_head·head_dim, dim)
    pub wk: QMatrix,         // (n_kv_head·head_dim, dim)
    pub wv: QMatrix,         // (n_kv_head·head_dim, dim)
    pub wo: QMatrix,         // (dim, n_head·head_dim)
    pub ffn_norm: Vec<f32>,  // (dim,)
    pub w_gate: QMatrix,     // (ffn_dim, dim)
    pub w_up: QMatrix,       // (ffn_dim, dim)
    pub w_down: QMatrix,     // (dim, ffn_dim)
    /// Qwen2: biases added to the query, key and value projections.
    pub bias: Option<QkvBias>,
    /// Qwen3: RMSNorm weights for each query head and each key head, `(head_dim,)` each.
    pub qk_norm: Option<(Vec<f32>, Vec<f32>)>,
}

/// Biases of the query `(n_head·head_dim,)`, key and value `(n_kv_head·head_dim,)` projections.
pub struct QkvBias {
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

/// SmolLM2's weights and configuration. Immutable; the per-text state lives in a [`State`].
pub struct Model {
    pub(super) config: Config,
    /// Token embeddings E, `(vocab, dim)`, kept quantized; rows are dequantized on lookup.
    pub(super) embedding: QMatrix,
    /// A separate `output.weight`, `(vocab, dim)`, if the file has one; otherwise E (tied).
    pub(super) output: Option<QMatrix>,
    pub(super) blocks: Vec<Block>,
    pub(super) output_norm: Vec<f32>, // (dim,)
    /// RoPE rotation for every position p and pair i: cos and sin of `p · θ^(−2i/head_dim)`,
    /// `(context_length, head_dim / 2)` each.
    pub(super) rope_cos: Vec<f32>,
    pub(super) rope_sin: Vec<f32>,
    pub(super) n_params: usize,
    pub(super) weight_bytes: usize,
}

/// Which positions' logits a forward pass returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// None: only fill the KV cache.
    None,
    /// The last position's: the next-token prediction.
    Last,
    /// Every position's, `(seq, vocab)`: how the model scored each token of the text.
    All,
}

/// Everything a text needs besides the weights: the KV cache and reusable buffers.
#[derive(Default)]
pub struct State {
    /// Per layer, keys and values of every position so far: `(positions, n_kv_head·head_dim)`.
    k_cache: Vec<Vec<f32>>,
    v_cache: Vec<Vec<f32>>,
    buf: Buffers,
}

impl State {
    pub fn new(config: &Config) -> Self {
        Self {
            k_cache: vec![Vec::new(); config.n_layer],
            v_cache: vec![Vec::new(); config.n_layer],
            buf: Buffers::default(),
        }
    }

    /// A copy holding the first `len` positions, if this cache holds that many (the GPU engine
    /// keeps its own cache: this one is then empty).
    pub(super) fn prefix(&self, len: usize, config: &Config) -> Option<State> {
        let n = len * config.kv_dim();
        let copy = |c: &Vec<Vec<f32>>| -> Option<Vec<Vec<f32>>> {
            c.iter().map(|l| l.get(..n).map(<[f32]>::to_vec)).collect()
        };
        Some(State {
            k_cache: copy(&self.k_cache)?,
            v_cache: copy(&self.v_cache)?,
            buf: Buffers::default(),
        })
    }

    /// Forgets every position from `len` on.
    pub fn truncate(&mut self, len: usize, config: &Config) {
        for c in self.k_cache.iter_mut().chain(&mut self.v_cache) {
            c.truncate(len * config.kv_dim());
        }
    }
}

/// Scratch space, grown to the largest batch seen and reused.
#[derive(Default)]
struct Buffers {
    x: Vec<f32>,    // (seq, dim) the residual stream
    h: Vec<f32>,    // (seq, dim) normalised input of a sub-layer
    q: Vec<f32>,    // (seq, n_head·head_dim)
    k: Vec<f32>,    // (seq, kv_dim)
    v: Vec<f32>,    // (seq, kv_dim)
    attn: Vec<f32>, // (seq, n_head·head_dim) attention output before W_o
    gate: Vec<f32>, // (seq, ffn_dim)
    up: Vec<f32>,   // (seq, ffn_dim)
    out: Vec<f32>,  // (seq, dim) a sub-layer's output
    xq: Vec<Q8Row>, // quantized rows of the current matrix input
}

fn resize(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

impl Model {
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of weights (parameters) in the file.
    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// Bytes the weights occupy as stored (quantized): what a decode step must read.
    pub fn weight_bytes(&self) -> usize {
        self.weight_bytes
    }

    /// The block formats of the weight matrices, most common first: "Q4_1", "Q4_1 + Q8_0".
    pub fn formats(&self) -> String {
        let mut count: Vec<(super::quant::Format, usize)> = Vec::new();
        let matrices = self
            .blocks
            .iter()
            .flat_map(|b| [&b.wq, &b.wk, &b.wv, &b.wo, &b.w_gate, &b.w_up, &b.w_down]);
        for m in matrices
            .chain(std::iter::once(&self.embedding))
            .chain(self.output.as_ref())
        {
            match count.iter_mut().find(|(f, _)| *f == m.format()) {
                Some((_, n)) => *n += 1,
                None => count.push((m.format(), 1)),
            }
        }
        count.sort_by_key(|c| std::cmp::Reverse(c.1));
        let names: Vec<&str> = count.iter().map(|(f, _)| f.name()).collect();
        names.join(" + ")
    }

    /// The token embeddings E, `(vocab, dim)`.
    pub fn embedding(&self) -> &QMatrix {
        &self.embedding
    }

    /// The output projection, `(vocab, dim)`: `output.weight`, or E when the weights are tied.
    pub fn lm_head(&self) -> &QMatrix {
        self.output.as_ref().unwrap_or(&self.embedding)
    }

    /// The transformer blocks, in order.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The final RMSNorm's weights, `(dim,)`.
    pub fn output_norm(&self) -> &[f32] {
        &self.output_norm
    }

    /// RoPE's cos and sin tables, `(context_length, head_dim / 2)` each.
    pub fn rope_tables(&self) -> (&[f32], &[f32]) {
        (&self.rope_cos, &self.rope_sin)
    }

    /// Runs `tokens` (at positions `pos..pos + seq`) through the model, appending their keys and
    /// values to `state`'s cache, which must hold exactly `pos` positions.
    ///
    /// Like llama.cpp, every matrix input is first quantized to 8 bits (see [`quant`](super::quant)).
    pub fn forward(
        &self,
        tokens: &[u32],
        pos: usize,
        state: &mut State,
        logits: Logits,
    ) -> Result<Vec<f32>> {
        self.forward_with(tokens, pos, state, logits, false, None)
    }

    /// [`Model::forward`] with exact f32 activations: each weight row is dequantized and
    /// multiplied in f32, as the GPU kernels do. Several times slower; the reference the GPU
    /// path is tested against, and a way to see what 8-bit activations cost in accuracy.
    pub fn forward_f32(
        &self,
        tokens: &[u32],
        pos: usize,
        state: &mut State,
        logits: Logits,
    ) -> Result<Vec<f32>> {
        self.forward_with(tokens, pos, state, logits, true, None)
    }

    /// [`Model::forward`] that also records, for `probe.row`, the residual stream after each
    /// block and each head's attention weights (see [`inspect`](super::inspect)).
    pub(super) fn forward_probed(
        &self,
        tokens: &[u32],
        pos: usize,
        state: &mut State,
        probe: &mut Probe,
        exact: bool,
    ) -> Result<()> {
        self.forward_with(tokens, pos, state, Logits::None, exact, Some(probe))?;
        Ok(())
    }

    fn forward_with(
        &self,
        tokens: &[u32],
        pos: usize,
        state: &mut State,
        logits: Logits,
        exact: bool,
        mut probe: Option<&mut Probe>,
    ) -> Result<Vec<f32>> {
        let c = &self.config;
        c.check_step(tokens, pos)?;
        let seq = tokens.len();
        let (dim, kv_dim, q_dim) = (c.dim, c.kv_dim(), c.q_dim());
        let State {
            k_cache,
            v_cache,
            buf,
        } = state;
        let b = buf;
        resize(&mut b.x, seq * dim);
        resize(&mut b.h, seq * dim);
        resize(&mut b.q, seq * q_dim);
        resize(&mut b.k, seq * kv_dim);
        resize(&mut b.v, seq * kv_dim);
        resize(&mut b.attn, seq * q_dim);
        resize(&mut b.gate, seq * c.ffn_dim);
        resize(&mut b.up, seq * c.ffn_dim);
        resize(&mut b.out, seq * dim);

        // Look up each token's row of E.
        for (t, &id) in tokens.iter().enumerate() {
            self.embedding
                .row_f32(id as usize, &mut b.x[t * dim..(t + 1) * dim]);
        }

        for (l, block) in self.blocks.iter().enumerate() {
            if k_cache[l].len() != pos * kv_dim {
                return Err(Error::Compute(format!(
                    "the cache holds {} positions, not {pos}",
                    k_cache[l].len() / kv_dim
                )));
            }
            // ---- attention sub-layer ------------------------------------------------------
            rms_norm(&b.x, &block.attn_norm, c.rms_eps, &mut b.h);
            let x = Input::new(&b.h, dim, &mut b.xq, exact);
            x.times_each(&mut [
                (&block.wq, &mut b.q), // (seq, n_head·head_dim)
                (&block.wk, &mut b.k), // (seq, kv_dim)
                (&block.wv, &mut b.v), // (seq, kv_dim)
            ]);
            if let Some(bias) = &block.bias {
                // Qwen2: q = W_q·h + b_q, and so on.
                add_rows(&mut b.q, &bias.q);
                add_rows(&mut b.k, &bias.k);
                add_rows(&mut b.v, &bias.v);
            }
            if let Some((q_norm, k_norm)) = &block.qk_norm {
                // Qwen3: each query and key head RMS-normalised on its own.
                rms_norm_in_place(&mut b.q, q_norm, c.rms_eps);
                rms_norm_in_place(&mut b.k, k_norm, c.rms_eps);
            }

            // RoPE turns pairs of a head's dims by an angle proportional to the position, so
            // that q·k depends on how far apart two tokens are.
            let rope = match c.arch.rope_style() {
                RopeStyle::Adjacent => rope_adjacent,
                RopeStyle::Halves => rope_halves,
            };
            for t in 0..seq {
                let (cos, sin) = self.rope_at(pos + t);
                for head in b.q[t * q_dim..(t + 1) * q_dim].chunks_exact_mut(c.head_dim) {
                    rope(head, cos, sin);
                }
                for head in b.k[t * kv_dim..(t + 1) * kv_dim].chunks_exact_mut(c.head_dim) {
                    rope(head, cos, sin);
                }
            }
            // The cache now holds keys and values of positions 0..pos+seq.
            k_cache[l].extend_from_slice(&b.k);
            v_cache[l].extend_from_slice(&b.v);

            // Grouped-query attention: query head h reads key/value head h / group. Every
            // (position, head) pair is independent, so the threads share them out.
            let cache = Cache {
                keys: &k_cache[l],
                values: &v_cache[l],
                kv_dim,
            };
            match probe.as_deref_mut() {
                None => attention::attention(c, &b.q, pos, cache, &mut b.attn),
                Some(p) => attention::attention_probed(c, &b.q, pos, cache, &mut b.attn, p),
            }
            Input::new(&b.attn, q_dim, &mut b.xq, exact).times(&block.wo, &mut b.out);
            add(&mut b.x, &b.out); // residual

            // ---- feed-forward sub-layer (SwiGLU) ------------------------------------------
            rms_norm(&b.x, &block.ffn_norm, c.rms_eps, &mut b.h);
            let x = Input::new(&b.h, dim, &mut b.xq, exact);
            x.times_each(&mut [
                (&block.w_gate, &mut b.gate), // (seq, ffn_dim)
                (&block.w_up, &mut b.up),     // (seq, ffn_dim)
            ]);
            swiglu(&mut b.gate, &b.up); // gate ← silu(gate) ⊙ up
            Input::new(&b.gate, c.ffn_dim, &mut b.xq, exact).times(&block.w_down, &mut b.out); // (seq, dim)
            add(&mut b.x, &b.out); // residual
            if let Some(p) = probe.as_deref_mut() {
                p.residual
                    .extend_from_slice(&b.x[p.row * dim..(p.row + 1) * dim]); // after block l
            }
        }

        // Final norm, then one dot product per vocabulary entry for each wanted position.
        let rows = match logits {
            Logits::None => return Ok(Vec::new()),
            Logits::Last => seq - 1..seq,
            Logits::All => 0..seq,
        };
        let x = &b.x[rows.start * dim..rows.end * dim];
        let h = &mut b.h[..x.len()];
        rms_norm(x, &self.output_norm, c.rms_eps, h);
        let mut out = vec![0.0; rows.len() * c.vocab_size];
        Input::new(h, dim, &mut b.xq, exact).times(self.lm_head(), &mut out); // (rows, vocab)
        Ok(out)
    }

    fn rope_at(&self, pos: usize) -> (&[f32], &[f32]) {
        let half = self.config.head_dim / 2;
        (
            &self.rope_cos[pos * half..(pos + 1) * half],
            &self.rope_sin[pos * half..(pos + 1) * half],
        )
    }
}

/// A matrix product's input rows `(seq, cols)`, also quantized to 8 bits for the block formats
/// (the default), or only f32 when `exact`.
pub(super) struct Input<'a> {
    x: &'a [f32],
    cols: usize,
    xq: &'a [Q8Row],
    exact: bool,
}

impl<'a> Input<'a> {
    pub(super) fn new(x: &'a [f32], cols: usize, xq: &'a mut Vec<Q8Row>, exact: bool) -> Self {
        if !exact {
            Q8Row::quantize_rows(x, cols, xq);
        }
        Self { x, cols, xq, exact }
    }

    /// `outs[i][t·rowsᵢ + r] = Wᵢ[r] · x[t]` for each `(Wᵢ, outs[i])`, as one job for the
    /// threads.
    pub(super) fn times_each(&self, products: &mut [(&QMatrix, &mut [f32])]) {
        if self.exact {
            for (w, out) in products.iter_mut() {
                self.times(w, out);
            }
        } else {
            let tokens = self.xq.len();
            QMatrix::matmul_each(&self.x[..tokens * self.cols], self.xq, products)
        }
    }

    /// `out[t·rows + r] = W[r] · x[t]`.
    pub(super) fn times(&self, w: &QMatrix, out: &mut [f32]) {
        let x = &self.x[..out.len() / w.rows() * self.cols];
        if self.exact {
            w.matmul_f32(x, out)
        } else {
            w.matmul(x, self.xq, out)
        }
    }
}

/// SwiGLU's gating (Shazeer 2020), `gate ← silu(gate) ⊙ up`, value by value, shared among the
/// threads in spans (an exponential per value: worth sharing).
fn swiglu(gate: &mut [f32], up: &[f32]) {
    const WORK: usize = 64; // one exponential and a division, in multiply-adds, roughly
    let spans = threads::spans(gate.len(), WORK);
    let mut parts = threads::split_units(gate, 1, spans);
    threads::each_mut(&mut parts, |_, (span, gate)| {
        for (g, &u) in gate.iter_mut().zip(&up[span.clone()]) {
            *g = silu(*g) * u;
        }
    });
}

/// RMSNorm (Zhang & Sennrich 2019), row by row: `y = x / sqrt(mean(x²) + ε) ⊙ w`.
pub(super) fn rms_norm(x: &[f32], w: &[f32], eps: f32, y: &mut [f32]) {
    for (x, y) in x.chunks_exact(w.len()).zip(y.chunks_exact_mut(w.len())) {
        let scale = rms_scale(x, eps);
        for ((y, &x), &w) in y.iter_mut().zip(x).zip(w) {
            *y = x * scale * w;
        }
    }
}

/// `1 / sqrt(mean(x²) + ε)`, the mean taken in f64.
fn rms_scale(x: &[f32], eps: f32) -> f32 {
    let mean_sq = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64;
    1.0 / (mean_sq as f32 + eps).sqrt()
}

/// [`rms_norm`] of each `w.len()`-wide piece of `x` in place (Qwen3's norm of each head).
fn rms_norm_in_place(x: &mut [f32], w: &[f32], eps: f32) {
    for head in x.chunks_exact_mut(w.len()) {
        let scale = rms_scale(head, eps);
        for (v, &w) in head.iter_mut().zip(w) {
            *v = *v * scale * w;
        }
    }
}

/// Adds `bias` to each `bias.len()`-wide row of `x`.
fn add_rows(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        add(row, bias);
    }
}

/// Rotary position embedding (Su et al. 2021) of one head, pairs (2i, 2i+1):
/// `(a, b) → (a·cos − b·sin, a·sin + b·cos)`. GGUF stores Llama's Q/K weights permuted so that
/// this interleaved pairing is the right one (llama.cpp's "normal" RoPE).
fn rope_adjacent(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    for ((pair, &c), &s) in head.chunks_exact_mut(2).zip(cos).zip(sin) {
        let (a, b) = (pair[0], pair[1]);
        pair[0] = a * c - b * s;
        pair[1] = a * s + b * c;
    }
}

/// The same rotation on pairs (i, i + head_dim/2) (GPT-NeoX's layout, used by Qwen).
fn rope_halves(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    let (first, second) = head.split_at_mut(head.len() / 2);
    for (((a, b), &c), &s) in first.iter_mut().zip(second).zip(cos).zip(sin) {
        let (x, y) = (*a, *b);
        *a = x * c - y * s;
        *b = x * s + y * c;
    }
}

/// SiLU (Elfwing et al. 2017), the gate of SwiGLU: `x · σ(x)`.
fn silu(x: f32) -> f32 {
    x / (1.0 + libm::expf(-x))
}

fn add(x: &mut [f32], y: &[f32]) {
    for (x, &y) in x.iter_mut().zip(y) {
        *x += y;
    }
}
