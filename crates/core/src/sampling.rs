//! Choosing the next token from the model's scores: temperature, top-k, top-p and a seeded draw.
//!
//! The order is the one Hugging Face `generate` uses:
//!
//! ```text
//! 1. temperature T:  zᵢ → zᵢ / T            (T < 1 sharpens, T > 1 flattens; T = 0 is greedy)
//! 2. softmax over the whole vocabulary:      pᵢ = exp(zᵢ/T) / Σⱼ exp(zⱼ/T)
//! 3. top-k:  keep the k most likely tokens (k = 0: keep all)
//! 4. top-p:  keep the smallest most-likely set whose probabilities add up to at least p
//! 5. renormalise what is left and draw one token with a uniform number u ∈ [0, 1)
//! ```
//!
//! The draw for step n uses `u = uniform(seed, n)`: a pure function, so a run is replayed exactly
//! from the seed and the step numbers (natively and in wasm alike), whatever happened before.

use serde::{Deserialize, Serialize};

use crate::distribution::{tempered_weights, top_k};
use crate::splitmix;

/// The sampling settings.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Sampler {
    /// 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Keep only the k most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens with total probability ≥ top_p; 1 keeps all.
    pub top_p: f32,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

impl Sampler {
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            ..Self::default()
        }
    }
}

/// The tokens that survive the filters, most likely first, with renormalised probabilities.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Filtered {
    /// `(token id, probability after filtering)`; the probabilities add up to 1.
    pub tokens: Vec<(u32, f64)>,
}

impl Filtered {
    /// The token that the uniform number `u ∈ [0, 1)` picks: walk the cumulative probabilities.
    pub fn pick(&self, u: f64) -> u32 {
        let mut acc = 0.0;
        for &(id, p) in &self.tokens {
            acc += p;
            if u < acc {
                return id;
            }
        }
        // Rounding can leave the sum a hair below 1: the last survivor takes the rest.
        self.tokens.last().map_or(0, |t| t.0)
    }

    /// This token's probability after filtering (0 if it was filtered out).
    pub fn prob(&self, id: u32) -> f64 {
        self.tokens.iter().find(|t| t.0 == id).map_or(0.0, |t| t.1)
    }
}

/// How many tokens top-k keeps out of `n` (all when it is off).
fn top_k_size(s: &Sampler, n: usize) -> usize {
    if s.top_k == 0 {
        n
    } else {
        s.top_k.min(n)
    }
}

/// Applies temperature, top-k and top-p to one row of logits: the plain definition, which
/// [`decide`] must equal (tests compare them).
pub fn filter(logits: &[f32], s: &Sampler) -> Filtered {
    if logits.is_empty() {
        return Filtered { tokens: Vec::new() };
    }
    // Greedy: the single most likely token (the lowest ID among equals).
    if s.temperature <= 0.0 || !s.temperature.is_finite() {
        let best = top_k(logits, 1)[0].0;
        return Filtered {
            tokens: vec![(best, 1.0)],
        };
    }
    let weights = tempered_weights(logits, s.temperature);
    // Candidates in order of probability; only as many as the filters can keep are sorted.
    let k = top_k_size(s, logits.len());
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    let order = |a: &u32, b: &u32| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    if k < ids.len() {
        ids.select_nth_unstable_by(k - 1, order);
        ids.truncate(k);
    }
    ids.sort_unstable_by(order);

    // Top-p applies to the distribution left after top-k, renormalised.
    let total_k: f64 = ids.iter().map(|&id| weights[id as usize]).sum();
    let top_p = f64::from(s.top_p.clamp(0.0, 1.0));
    let mut kept = Vec::new();
    let mut mass = 0.0;
    for id in ids {
        if !kept.is_empty() && mass >= top_p * total_k {
            break;
        }
        let w = weights[id as usize];
        mass += w;
        kept.push((id, w));
    }
    let kept_total: f64 = kept.iter().map(|t| t.1).sum();
    Filtered {
        tokens: kept
            .into_iter()
            .map(|(id, w)| (id, w / kept_total))
            .collect(),
    }
}

/// What the sampler makes of one row of logits at one step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decision {
    /// The drawn token.
    pub token: u32,
    /// Its probability after filtering.
    pub token_prob: f64,
    /// How many tokens survive the filters.
    pub survivors: usize,
    /// The most likely survivors (up to the number asked for), with renormalised probabilities.
    pub head: Vec<(u32, f64)>,
}

impl Decision {
    /// A token's probability after filtering, if it is in `head`.
    pub fn prob(&self, id: u32) -> Option<f64> {
        self.head.iter().find(|t| t.0 == id).map(|t| t.1)
    }
}

/// Applies the filters and draws the token for `step`, sorting only as much of the vocabulary
/// as needed (usually a few dozen entries): same result as [`filter`] + [`Filtered::pick`], but
/// fast enough to run on every keystroke.
pub fn decide(logits: &[f32], s: &Sampler, step: u64, show: usize) -> Decision {
    if logits.is_empty() {
        return Decision {
            token: 0,
            token_prob: 0.0,
            survivors: 0,
            head: Vec::new(),
        };
    }
    if s.temperature <= 0.0 || !s.temperature.is_finite() {
        let best = top_k(logits, 1)[0].0;
        return Decision {
            token: best,
            token_prob: 1.0,
            survivors: 1,
            head: vec![(best, 1.0)],
        };
    }
    let weights = tempered_weights(logits, s.temperature);
    let k = top_k_size(s, logits.len());
    // Total weight of the top-k set (the whole vocabulary when k is off).
    let total_k: f64 = if k == logits.len() {
        weights.iter().sum()
    } else {
        top_k(logits, k)
            .iter()
            .map(|&(id, _)| weights[id as usize])
            .sum()
    };
    let top_p = f64::from(s.top_p.clamp(0.0, 1.0));
    let u = uniform(s.seed, step);

    // Sort a prefix of the most likely tokens, doubling it until it answers every question.
    let mut len = 64.max(show).min(k);
    loop {
        let prefix = top_k(logits, len);
        // Survivors: the top-k set cut where the cumulative weight reaches top_p.
        let mut mass = 0.0;
        let mut survivors = None;
        if top_p >= 1.0 {
            survivors = Some(k);
        } else {
            for (i, &(id, _)) in prefix.iter().enumerate() {
                if i > 0 && mass >= top_p * total_k {
                    survivors = Some(i);
                    break;
                }
                mass += weights[id as usize];
            }
            if survivors.is_none() && len == k {
                survivors = Some(k);
            }
        }
        let Some(survivors) = survivors else {
            len = (len * 2).min(k);
            continue;
        };
        let kept_total = if survivors == k {
            total_k
        } else {
            prefix[..survivors]
                .iter()
                .map(|&(id, _)| weights[id as usize])
                .sum()
        };
        // The draw: walk the cumulative probabilities until they pass u.
        let threshold = u * kept_total;
        let mut acc = 0.0;
        let mut token = None;
        for &(id, _) in prefix.iter().take(survivors) {
            acc += weights[id as usize];
            if threshold < acc {
                token = Some(id);
                break;
            }
        }
        let token = match token {
            Some(t) => t,
            // Not reached inside the sorted prefix: extend it, unless it already holds all
            // survivors (rounding left the sum a hair short: the last survivor takes the rest).
            None if prefix.len() < survivors => {
                len = (len * 2).min(k);
                continue;
            }
            None => prefix[survivors - 1].0,
        };
        let head = prefix
            .iter()
            .take(show.min(survivors))
            .map(|&(id, _)| (id, weights[id as usize] / kept_total))
            .collect();
        return Decision {
            token,
            token_prob: weights[token as usize] / kept_total,
            survivors,
            head,
        };
    }
}

/// The uniform number in [0, 1) for draw `step` of a run seeded with `seed` (SplitMix64).
pub fn uniform(seed: u64, step: u64) -> f64 {
    let z = splitmix::mix(seed ^ step.wrapping_add(1).wrapping_mul(splitmix::GAMMA));
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Picks the next token at step `step`.
pub fn sample(logits: &[f32], s: &Sampler, step: u64) -> u32 {
    filter(logits, s).pick(uniform(s.seed, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ln of the probabilities [0.5, 0.25, 0.125, 0.125]: easy to check by hand.
    fn logits() -> Vec<f32> {
        [0.5f32, 0.25, 0.125, 0.125]
            .iter()
            .map(|p| p.ln())
            .collect()
    }

    fn close(a: &Filtered, want: &[(u32, f64)]) {
        assert_eq!(a.tokens.len(), want.len(), "{a:?}");
        for (&(id, p), &(wid, wp)) in a.tokens.iter().zip(want) {
            assert_eq!(id, wid);
            assert!((p - wp).abs() < 1e-9, "{a:?} vs {want:?}");
        }
    }

    #[test]
    fn temperature_one_keeps_the_model_distribution() {
        let s = Sampler::default();
        close(
            &filter(&logits(), &s),
            &[(0, 0.5), (1, 0.25), (2, 0.125), (3, 0.125)],
        );
    }

    #[test]
    fn temperature_two_takes_square_roots() {
        // p^(1/2) ∝ [√.5, √.25, √.125, √.125] = [.7071, .5, .3536, .3536], sum 1.9142
        let s = Sampler {
            temperature: 2.0,
            ..Sampler::default()
        };
        let sum = 0.5f64.sqrt() + 0.5 + 2.0 * 0.125f64.sqrt();
        close(
            &filter(&logits(), &s),
            &[
                (0, 0.5f64.sqrt() / sum),
                (1, 0.5 / sum),
                (2, 0.125f64.sqrt() / sum),
                (3, 0.125f64.sqrt() / sum),
            ],
        );
    }

    #[test]
    fn top_k_and_top_p_keep_the_head_and_renormalise() {
        let k2 = Sampler {
            top_k: 2,
            ..Sampler::default()
        };
        close(&filter(&logits(), &k2), &[(0, 2.0 / 3.0), (1, 1.0 / 3.0)]);
        // 0.5 < 0.6, 0.75 ≥ 0.6: the first two.
        let p = Sampler {
            top_p: 0.6,
            ..Sampler::default()
        };
        close(&filter(&logits(), &p), &[(0, 2.0 / 3.0), (1, 1.0 / 3.0)]);
        // top-p after top-k: of [2/3, 1/3], 0.6 is reached by the first alone.
        let kp = Sampler {
            top_k: 2,
            top_p: 0.6,
            ..Sampler::default()
        };
        close(&filter(&logits(), &kp), &[(0, 1.0)]);
        // top-p = 0.5 is reached by the first token alone.
        let p = Sampler {
            top_p: 0.5,
            ..Sampler::default()
        };
        close(&filter(&logits(), &p), &[(0, 1.0)]);
        // p = 0 still keeps the most likely token.
        let p = Sampler {
            top_p: 0.0,
            ..Sampler::default()
        };
        close(&filter(&logits(), &p), &[(0, 1.0)]);
    }

    #[test]
    fn greedy_and_draws() {
        close(&filter(&logits(), &Sampler::greedy()), &[(0, 1.0)]);
        let f = filter(&logits(), &Sampler::default());
        assert_eq!(f.pick(0.0), 0);
        assert_eq!(f.pick(0.49), 0);
        assert_eq!(f.pick(0.51), 1);
        assert_eq!(f.pick(0.8), 2);
        assert_eq!(f.pick(0.999_999), 3);
        assert!((f.prob(2) - 0.125).abs() < 1e-9);
    }

    /// `decide` sorts lazily; it must agree with the plain definition everywhere.
    #[test]
    fn decide_agrees_with_filter_and_pick() {
        // 300 logits with ties and a long tail, so prefixes of 64, 128, 256 all get used.
        let logits: Vec<f32> = (0..300)
            .map(|i| ((i * 37) % 101) as f32 / 10.0 - (i / 30) as f32)
            .collect();
        for (temperature, top_k, top_p) in [
            (1.0, 0, 1.0),
            (0.7, 0, 0.9),
            (1.5, 40, 0.95),
            (2.0, 0, 0.999),
            (1.0, 200, 1.0),
            (0.0, 0, 1.0),
            (1.0, 0, 0.0),
        ] {
            for seed in 0..20 {
                let s = Sampler {
                    temperature,
                    top_k,
                    top_p,
                    seed,
                };
                let f = filter(&logits, &s);
                let d = decide(&logits, &s, 3, 10);
                assert_eq!(d.token, f.pick(uniform(seed, 3)), "{s:?}");
                assert!((d.token_prob - f.prob(d.token)).abs() < 1e-12);
                assert_eq!(d.survivors, f.tokens.len(), "{s:?}");
                for (a, b) in d.head.iter().zip(&f.tokens) {
                    assert_eq!(a.0, b.0);
                    assert!((a.1 - b.1).abs() < 1e-12, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn draws_are_reproducible_and_uniform_enough() {
        assert_eq!(uniform(42, 7), uniform(42, 7));
        assert_ne!(uniform(42, 7), uniform(42, 8));
        assert_ne!(uniform(42, 7), uniform(43, 7));
        let n = 100_000;
        let mean = (0..n).map(|i| uniform(1, i)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!((0..n).all(|i| (0.0..1.0).contains(&uniform(9, i))));
        // Sampling with the default settings follows the distribution.
        let counts = (0..n).fold([0usize; 4], |mut c, i| {
            c[sample(&logits(), &Sampler::default(), i) as usize] += 1;
            c
        });
        assert!(
            (counts[0] as f64 / n as f64 - 0.5).abs() < 0.01,
            "{counts:?}"
        );
        assert!(
            (counts[3] as f64 / n as f64 - 0.125).abs() < 0.01,
            "{counts:?}"
        );
    }
}
