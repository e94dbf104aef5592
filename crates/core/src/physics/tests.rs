//! The physics at points worked out by hand.

use super::*;

fn smol() -> ModelShape {
    ModelShape::gqa("SmolLM2-135M", 135e6, 30, 3, 64, "GGUF")
}

#[test]
fn flops_at_known_points() {
    // 135M params × 1,000 tokens × 2 = 2.7e11 FLOPs.
    let p = estimate(&smol(), 1_000, 0, &Assumptions::default()).unwrap();
    assert_eq!(p.prefill_flops, 2.7e11);
    assert_eq!(p.flops, 2.7e11);
    // On an H100 at 40% of 989.4 TFLOP/s: 2.7e11 / 3.9576e14 s.
    assert!((p.prefill_seconds - 2.7e11 / (989.4e12 * 0.4)).abs() < 1e-15);
}

#[test]
fn batch_one_decode_is_memory_bound_and_batching_amortises_it() {
    let llama = ModelShape::gqa("Llama 3.1 70B", 70.6e9, 80, 8, 128, "");
    // 8-bit weights, so that one 80 GB H100 holds them.
    let mut a = Assumptions {
        batch: 1,
        bytes_per_param: 1.0,
        ..Assumptions::default()
    };
    let one = estimate(&llama, 0, 100, &a).unwrap();
    assert_eq!(one.gpus, 1);
    assert!(one.decode_memory_bound);
    // 70.6 GB of 8-bit weights over 3.35 TB/s = 21.1 ms per token.
    assert!((1.0 / one.tokens_per_second - 70.6e9 / 3.35e12).abs() < 1e-9);
    a.batch = 32;
    let many = estimate(&llama, 0, 100, &a).unwrap();
    // Same step time while memory-bound, shared by 32 sequences: 1/32 of the GPU time.
    assert!(many.decode_memory_bound);
    assert!((many.decode_seconds - one.decode_seconds / 32.0).abs() < 1e-12);
    a.batch = 4096;
    assert!(!estimate(&llama, 0, 100, &a).unwrap().decode_memory_bound);
}

#[test]
fn money_energy_and_memory_by_hand() {
    let a = Assumptions::default();
    let p = estimate(&smol(), 3_600, 0, &a).unwrap();
    // usd = seconds / 3600 × $3; energy = 700 W × s / 3600 × 1.54; × $0.134/kWh
    assert!((p.usd - p.seconds / 3600.0 * 3.0).abs() < 1e-18);
    assert!((p.energy_wh - 700.0 * p.seconds / 3600.0 * 1.54).abs() < 1e-15);
    assert!((p.energy_usd - p.energy_wh / 1000.0 * 0.134).abs() < 1e-18);
    // KV cache: 2 · 30 layers · 3 heads · 64 · 2 bytes · 3,600 tokens = 82,944,000 bytes.
    assert_eq!(p.kv_cache_bytes, Some(82_944_000.0));
    assert_eq!(p.weights_bytes, 270e6);
    assert!(p.fits_in_memory);
    let big = ModelShape::gqa("x", 100e9, 1, 1, 1, "");
    assert!(
        !estimate(&big, 1, 1, &a).unwrap().fits_in_memory,
        "200 GB > 80 GB"
    );
    assert!(estimate(
        &big,
        1,
        1,
        &Assumptions {
            gpu: "nope".into(),
            ..a
        }
    )
    .is_none());
}

#[test]
fn a_devices_achieved_throughput() {
    // 135M parameters at 72 tokens/s = 2 × 1.35e8 × 72 = 1.944e10 FLOP/s.
    assert_eq!(achieved_flops(135e6, 72.0), 1.944e10);
}

#[test]
fn memory_adds_up_per_sequence_and_per_batch() {
    let a = Assumptions::default(); // batch 32
    let p = estimate(&smollm2(), 1000, 0, &a).unwrap();
    let kv = p.kv_cache_bytes.unwrap();
    assert_eq!(p.kv_cache_bytes_batch, Some(32.0 * kv));
    assert_eq!(p.memory_needed_bytes, p.weights_bytes + 32.0 * kv);
}

#[test]
fn a_model_too_big_for_one_gpu_is_timed_and_priced_on_as_many_as_it_needs() {
    let llama = known_model("Llama 3.1 70B").unwrap();
    let a = Assumptions {
        batch: 1,
        ..Assumptions::default()
    };
    // 141.2 GB of BF16 weights + a little KV cache on 80 GB H100s: two GPUs.
    let p = estimate(&llama, 0, 100, &a).unwrap();
    assert_eq!(p.gpus, 2);
    assert!(!p.fits_in_memory);
    // Two GPUs read the weights together: twice the bandwidth.
    assert!((1.0 / p.tokens_per_second - 141.2e9 / (2.0 * 3.35e12)).abs() < 1e-9);
    // Both are rented, and both draw power.
    assert!((p.gpu_seconds - 2.0 * p.seconds).abs() < 1e-15);
    assert!((p.usd - p.gpu_seconds / 3600.0 * 3.0).abs() < 1e-15);
    assert!((p.energy_wh - 700.0 * p.gpu_seconds / 3600.0 * 1.54).abs() < 1e-12);
    // At 4 bits it fits on one.
    let q4 = Assumptions {
        bytes_per_param: 0.5,
        ..a
    };
    assert_eq!(estimate(&llama, 0, 100, &q4).unwrap().gpus, 1);
}

#[test]
fn a_mixture_of_experts_reads_only_the_experts_it_uses() {
    let ds = known_model("DeepSeek-V3 (671B, 37B active)").unwrap();
    let moe = ds.moe.unwrap();
    let a = Assumptions {
        gpu: "h200".into(),
        batch: 1,
        ..Assumptions::default()
    };
    let p = estimate(&ds, 0, 100, &a).unwrap();
    // All 1,342 GB must be in memory: ten 141 GB H200s.
    assert_eq!(p.gpus, 10);
    // But a batch-1 step reads the dense part and 8 experts per MoE layer, about 37.5B weights.
    let want = ds.dense_params() + 58.0 * 8.0 * moe.expert_params;
    assert_eq!(p.params_read_per_step, want);
    assert_eq!(p.experts_touched, Some(8.0));
    assert!((1.0 / p.tokens_per_second - 2.0 * want / (10.0 * 4.8e12)).abs() < 1e-12);
    // The curve: more distinct experts read as the batch grows, never more than all of them.
    let c = &p.batch_curve;
    assert_eq!(c[0].batch, 1);
    assert!(c
        .windows(2)
        .all(|w| w[1].experts_touched > w[0].experts_touched));
    assert!(c.last().unwrap().bytes_read_per_step <= ds.params * 2.0);
    assert!(c.iter().all(|b| b.experts_touched.unwrap() <= 256.0));
    // A dense model reads everything at every batch size.
    let dense = estimate(&smollm2(), 0, 10, &Assumptions::default()).unwrap();
    assert!(dense
        .batch_curve
        .iter()
        .all(|b| b.bytes_read_per_step == dense.weights_bytes));
    assert_eq!(dense.experts_touched, None);
}
