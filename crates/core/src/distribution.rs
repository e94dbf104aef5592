//! One row of logits as a probability distribution: the leaf every other scorer builds on.
//!
//! The model's last layer gives one number (a *logit*) for each of the vocabulary's entries. The
//! softmax turns them into a probability distribution:
//!
//! ```text
//! p_i = exp(z_i) / Σ_j exp(z_j) = exp(z_i − LSE),   LSE = log Σ_j exp(z_j)   (log-sum-exp)
//! ```
//!
//! computed stably by subtracting the largest logit first. Entropy `H = −Σ p_i ln p_i` (nats)
//! measures how unsure the model is; `e^H` is the number of equally likely choices that would be
//! just as unsure. All sums run over the *whole* vocabulary, never a renormalised top-k.
//!
//! Every exponential and logarithm is `libm`'s, the same code natively and in wasm, so the
//! probabilities are the same bits on every target (like the forward pass).
//!
//! Nothing here knows about tokenizers or sampling: [`crate::sampling`] and [`crate::scoring`]
//! both use it, and it uses neither.

use serde::{Deserialize, Serialize};

/// Summary of a softmax over the whole vocabulary.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Distribution {
    /// Number of scored entries (the vocabulary size).
    pub vocab_size: usize,
    /// log Σ exp(z_j): subtract it from a logit to get that token's log-probability.
    pub log_sum_exp: f64,
    /// Entropy in nats.
    pub entropy_nats: f64,
}

impl Distribution {
    /// Computes the log-sum-exp and entropy of `logits` in f64.
    pub fn of(logits: &[f32]) -> Self {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        // Σ exp(z − max) and Σ exp(z − max)·(z − max), in one pass.
        let (mut sum, mut weighted) = (0.0f64, 0.0f64);
        for &z in logits {
            let d = z as f64 - max;
            let e = libm::exp(d);
            sum += e;
            weighted += e * d;
        }
        let log_sum_exp = max + libm::log(sum);
        // H = −Σ p (z − LSE) = LSE − Σ p z = (max + ln S) − (max + W/S) = ln S − W/S
        let entropy_nats = libm::log(sum) - weighted / sum;
        Self {
            vocab_size: logits.len(),
            log_sum_exp,
            entropy_nats,
        }
    }

    /// Probability of a token with logit `z`.
    pub fn prob(&self, z: f32) -> f64 {
        libm::exp(z as f64 - self.log_sum_exp)
    }

    /// Entropy in bits.
    pub fn entropy_bits(&self) -> f64 {
        self.entropy_nats / std::f64::consts::LN_2
    }
}

/// The whole distribution sorted from most to least likely, summarised in at most `points`
/// points `(rank, probability)`: for thresholds spaced evenly in log-probability from the top
/// down to 10⁻¹², how many tokens are at least that likely. One pass, no sorting; enough to draw
/// the long tail on log axes.
pub fn sorted_curve(logits: &[f32], dist: &Distribution, points: usize) -> Vec<(usize, f64)> {
    const FLOOR: f64 = -12.0 * std::f64::consts::LN_10; // ln 10⁻¹²
    let points = points.max(2);
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64 - dist.log_sum_exp;
    if !top.is_finite() {
        return Vec::new();
    }
    let span = (top - FLOOR).max(1e-9);
    // counts[b]: tokens whose log-probability falls in bin b (bin 0 holds the top).
    let mut counts = vec![0usize; points];
    for &z in logits {
        let lp = z as f64 - dist.log_sum_exp;
        let b = (((top - lp) / span) * (points - 1) as f64).floor();
        if b >= 0.0 && (b as usize) < points {
            counts[b as usize] += 1;
        }
    }
    let mut rank = 0;
    let mut out = Vec::with_capacity(points);
    for (b, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        rank += n;
        let lp = top - span * b as f64 / (points - 1) as f64;
        out.push((rank, libm::exp(lp)));
    }
    out
}

/// The `k` highest logits as `(token id, logit)`, highest first; ties go to the lower ID.
pub fn top_k(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    let better = |a: &u32, b: &u32| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    let k = k.min(ids.len());
    if k == 0 {
        return Vec::new();
    }
    if k < ids.len() {
        ids.select_nth_unstable_by(k - 1, better);
        ids.truncate(k);
    }
    ids.sort_unstable_by(better);
    ids.into_iter().map(|i| (i, logits[i as usize])).collect()
}

/// Rank (0 = most likely) of `id` among all logits: how many tokens score strictly higher, or
/// equal with a lower ID.
pub fn rank_of(logits: &[f32], id: u32) -> usize {
    let z = logits[id as usize];
    logits
        .iter()
        .enumerate()
        .filter(|&(j, &w)| w > z || (w == z && (j as u32) < id))
        .count()
}

/// Unnormalised softmax weights of z / T, in f64: `exp((zᵢ − max z) / T)`.
pub fn tempered_weights(logits: &[f32], temperature: f32) -> Vec<f64> {
    let t = f64::from(temperature);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    logits
        .iter()
        .map(|&z| libm::exp((z as f64 - max) / t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_distribution_has_entropy_ln_n() {
        let d = Distribution::of(&[0.5; 8]);
        assert!((d.entropy_nats - 8f64.ln()).abs() < 1e-12);
        assert!((d.entropy_bits() - 3.0).abs() < 1e-12);
        assert!((d.prob(0.5) - 0.125).abs() < 1e-12);
    }

    #[test]
    fn hand_computed_two_token_distribution() {
        // logits [0, ln 3] → p = [1/4, 3/4]; H = −(¼ ln ¼ + ¾ ln ¾) = 0.5623351446188083
        let d = Distribution::of(&[0.0, 3f32.ln()]);
        assert!((d.prob(0.0) - 0.25).abs() < 1e-7);
        assert!((d.entropy_nats - 0.562_335_144_618_808_3).abs() < 1e-7);
        assert!((d.log_sum_exp - 4f64.ln()).abs() < 1e-7);
    }

    #[test]
    fn huge_logits_do_not_overflow() {
        let d = Distribution::of(&[1000.0, 1000.0, -1000.0]);
        assert!((d.prob(1000.0) - 0.5).abs() < 1e-12);
        assert!(d.entropy_nats.is_finite());
    }

    #[test]
    fn sorted_curve_counts_ranks_down_the_tail() {
        // p = [1/2, 1/4, 1/8, 1/8]
        let logits: Vec<f32> = [0.5f32, 0.25, 0.125, 0.125]
            .iter()
            .map(|p| p.ln())
            .collect();
        let d = Distribution::of(&logits);
        let c = sorted_curve(&logits, &d, 200);
        assert_eq!(c.first().map(|p| p.0), Some(1));
        assert!((c[0].1 - 0.5).abs() < 1e-6);
        assert_eq!(
            c.last().map(|p| p.0),
            Some(4),
            "every token is counted once"
        );
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 > w[1].1));
    }

    #[test]
    fn top_k_orders_by_logit_then_id() {
        let logits = [1.0, 5.0, 3.0, 5.0, -2.0];
        assert_eq!(top_k(&logits, 3), vec![(1, 5.0), (3, 5.0), (2, 3.0)]);
        assert_eq!(top_k(&logits, 10).len(), 5);
        assert!(top_k(&logits, 0).is_empty());
        assert_eq!(rank_of(&logits, 3), 1);
        assert_eq!(rank_of(&logits, 4), 4);
    }
}
