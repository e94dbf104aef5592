//! Grouped-query causal self-attention of one block, from the cached keys and values ("Attention
//! Is All You Need", Vaswani et al. 2017; grouped query heads: Ainslie et al. 2023):
//!
//! ```text
//! for each row t of the sequence (position pos + t) and query head h:
//!     kv = h / (n_head / n_kv_head)                           the key/value head h shares
//!     a  = softmax(q[t, h] · K[0..=pos+t, kv]ᵀ / √head_dim)    (pos + t + 1,)  causal
//!     out[t, h] = a · V[0..=pos+t, kv]                        (head_dim,)
//! ```
//!
//! Every (row, head) pair is independent, so the pairs are cut into spans and shared among the
//! threads ([`threads::spans`]); each pair is computed whole by one thread, in one fixed order,
//! so the bits do not depend on the thread count.

use super::config::Config;
use super::inspect::Probe;
use super::threads;

/// One layer's cached keys and values, `(positions, kv_dim)` each, the sequence's included.
#[derive(Clone, Copy)]
pub(super) struct Cache<'a> {
    pub keys: &'a [f32],
    pub values: &'a [f32],
    pub kv_dim: usize,
}

/// Attention of every query row `q` `(seq, n_head·head_dim)` at positions `pos..pos+seq` into
/// `attn` `(seq, n_head·head_dim)`, the (row, head) pairs shared among the threads in spans.
pub(super) fn attention(c: &Config, q: &[f32], pos: usize, cache: Cache<'_>, attn: &mut [f32]) {
    let seq = q.len() / c.q_dim();
    // A pair reads about (pos + seq/2) keys and as many values, head_dim each.
    let pair_work = (pos + seq / 2 + 1) * 2 * c.head_dim;
    let spans = threads::spans(seq * c.n_head, pair_work);
    let mut parts = threads::split_units(attn, c.head_dim, spans);
    threads::each_mut(&mut parts, |_, (pairs, out)| {
        let mut scores = Vec::new();
        for (pair, out) in pairs.clone().zip(out.chunks_exact_mut(c.head_dim)) {
            attend(c, q, pos, pair, cache, &mut scores, out);
        }
    });
}

/// [`attention`] on this thread, also keeping the probed row's attention weights (each head's
/// `(visible,)` in turn, for this layer).
pub(super) fn attention_probed(
    c: &Config,
    q: &[f32],
    pos: usize,
    cache: Cache<'_>,
    attn: &mut [f32],
    probe: &mut Probe,
) {
    let mut scores = Vec::new();
    for (pair, out) in attn.chunks_exact_mut(c.head_dim).enumerate() {
        attend(c, q, pos, pair, cache, &mut scores, out);
        if pair / c.n_head == probe.row {
            probe.attention.extend_from_slice(&scores); // (visible,) for this head
        }
    }
}

/// One pair, `pair` = t·n_head + h: query head h of the sequence's row t (at position pos + t)
/// — scaled dot-product scores against the keys of positions `0..=pos + t`, softmax, and the
/// values summed with those weights into `out` `(head_dim,)`. `scores` is left holding the
/// weights.
fn attend(
    c: &Config,
    q: &[f32],
    pos: usize,
    pair: usize,
    cache: Cache<'_>,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let (t, h) = (pair / c.n_head, pair % c.n_head);
    let (kv_dim, hd) = (cache.kv_dim, c.head_dim);
    let q = &q[pair * hd..][..hd]; // (seq, n_head, head_dim): row t, head h
    let kv_off = (h / (c.n_head / c.n_kv_head)) * hd; // query head h reads kv head h / group
    let scale = 1.0 / (hd as f32).sqrt();
    scores.clear();
    scores.resize(pos + t + 1, 0.0);
    for (s, score) in scores.iter_mut().enumerate() {
        let k = &cache.keys[s * kv_dim + kv_off..][..hd];
        *score = dot(q, k) * scale;
    }
    softmax(scores);
    out.fill(0.0);
    for (s, &w) in scores.iter().enumerate() {
        let v = &cache.values[s * kv_dim + kv_off..][..hd];
        for (o, &vi) in out.iter_mut().zip(v) {
            *o += w * vi;
        }
    }
}

/// Softmax in place: `wᵢ = exp(sᵢ − max) / Σⱼ exp(sⱼ − max)`.
fn softmax(s: &mut [f32]) {
    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for v in s.iter_mut() {
        *v = libm::expf(*v - max);
        sum += *v;
    }
    for v in s.iter_mut() {
        *v /= sum;
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
