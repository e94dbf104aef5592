//! Scores of any bits (NaN, ±∞, subnormals) and any sampler: an answer in bounded time, a
//! token of the vocabulary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenmeter_core::distribution::{top_k, Distribution};
use tokenmeter_core::sampling::{decide, filter, Sampler};

fuzz_target!(|data: &[u8]| {
    if data.len() < 20 {
        return;
    }
    let (head, body) = data.split_at(16);
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let s = Sampler {
        temperature: f32::from_bits(word(0)),
        top_k: word(4) as usize % 1000,
        top_p: (word(8) as f32 / u32::MAX as f32).clamp(0.0, 1.0),
        seed: u64::from(word(12)),
    };
    let logits: Vec<f32> = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if logits.is_empty() {
        return;
    }
    let d = decide(&logits, &s, 3, 10);
    assert!((d.token as usize) < logits.len());
    assert!(filter(&logits, &s)
        .tokens
        .iter()
        .all(|&(id, _)| (id as usize) < logits.len()));
    assert!(top_k(&logits, 5)
        .iter()
        .all(|&(id, _)| (id as usize) < logits.len()));
    let _ = Distribution::of(&logits);
});
