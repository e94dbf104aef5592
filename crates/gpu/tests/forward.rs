//! The GPU forward pass against the CPU path, on the real SmolLM2 weights.
//!
//! Natively the kernels run through Vulkan; on CI that is Mesa's llvmpipe (a software adapter,
//! installed by `./dev setup`), so these tests check correctness, not speed. The GPU computes
//! with f32 activations while the CPU path quantizes them to 8 bits, so logits agree within
//! quantization noise, not bit for bit.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tokenmeter_core::distribution;
use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::model::{Logits, Model, Session, State};
use tokenmeter_core::tokenizer::{smollm2_info, TextTokenizer};
use tokenmeter_gpu::{block_on, request_adapter, GpuModel};

fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn load() -> &'static (Arc<Model>, TextTokenizer) {
    static M: OnceLock<(Arc<Model>, TextTokenizer)> = OnceLock::new();
    M.get_or_init(|| {
        let path = model_path();
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run ./dev setup first", path.display()));
        let mut reader = std::io::BufReader::new(file);
        let gguf = Gguf::read(&mut reader).expect("valid GGUF");
        let tok = TextTokenizer::from_gguf(&gguf, smollm2_info()).expect("tokenizer");
        let model = Model::from_gguf(&gguf, &mut reader).expect("model");
        (Arc::new(model), tok)
    })
}

/// SmolLM2-135M's shapes and block formats with seeded random weights, but only `n_layer`
/// blocks. The tests of mechanics (steps, a growing cache, rewinding, plans, errors, a lost
/// device, the lens and attention read back) use it: every kernel and every buffer of the real
/// model's widths runs, in a fraction of the time — llvmpipe runs each shader on the CPU, and
/// 30 blocks cost minutes there. The real weights are checked through all 30 blocks by
/// `next_token_logits_match_the_cpu_path` and `own_models_run_on_the_gpu_as_on_the_cpu`.
fn shallow(n_layer: usize) -> Arc<Model> {
    let mut config = tokenmeter_core::model::synthetic::smollm2_135m();
    config.n_layer = n_layer;
    Arc::new(Model::synthetic(config, 2024).expect("synthetic model"))
}

/// A GPU model on whatever adapter exists. No adapter is a failure: `./dev setup` installs
/// Mesa's Vulkan drivers so that one always does.
fn gpu(model: &Model) -> GpuModel {
    gpu_with_capacity(model, 256)
}

fn gpu_with_capacity(model: &Model, positions: usize) -> GpuModel {
    block_on(async {
        let (adapter, summary) = request_adapter()
            .await
            .expect("a Vulkan adapter (install mesa-vulkan-drivers: ./dev setup)");
        eprintln!("GPU tests on {summary}");
        GpuModel::with_capacity(&adapter, summary, model, positions)
            .await
            .expect("GPU model")
    })
}

fn top(logits: &[f32], k: usize) -> Vec<u32> {
    distribution::top_k(logits, k)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// Largest |a − b| over a row, relative to the row's spread of logits.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The GPU against the CPU path with exact f32 activations (`Model::forward_f32`): the same
/// arithmetic in another order, so every logit agrees to float rounding through 30 layers.
fn assert_close(cpu: &[f32], gpu: &[f32], what: &str) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: row length");
    let d = max_diff(cpu, gpu);
    eprintln!("{what}: max |Δlogit| {d:e}");
    assert!(d < LOGIT_TOL, "{what}: logits differ by up to {d}");
    let (tc, tg) = (top(cpu, 10), top(gpu, 10));
    assert_eq!(
        tc[0], tg[0],
        "{what}: top-1 differs (cpu {tc:?}, gpu {tg:?})"
    );
    let shared = tc.iter().filter(|id| tg.contains(id)).count();
    assert!(
        shared >= 9,
        "{what}: top-10 share only {shared} (cpu {tc:?}, gpu {tg:?})"
    );
}

// Measured: 1.3e-5 to 1.9e-5 on llvmpipe.
const LOGIT_TOL: f32 = 1e-3;

/// `tokens` at positions `pos..` through both paths, each on its own cache, and the last row's
/// logits held to [`assert_close`]; returns the CPU's.
fn step_both(
    model: &Model,
    gpu: &mut GpuModel,
    state: &mut State,
    tokens: &[u32],
    pos: usize,
    what: &str,
) -> Vec<f32> {
    let cpu = model
        .forward_f32(tokens, pos, state, Logits::Last)
        .expect("cpu");
    let g = block_on(gpu.forward(tokens, pos, Logits::Last)).expect("gpu");
    assert_close(&cpu, &g, what);
    cpu
}

/// `ids` as a prefill from an empty cache, then one decode step after them, on both paths.
fn prefill_then_decode(model: &Model, gpu: &mut GpuModel, ids: &[u32], what: &str) {
    let mut state = State::new(model.config());
    step_both(model, gpu, &mut state, ids, 0, &format!("{what}, prefill"));
    step_both(
        model,
        gpu,
        &mut state,
        &[13],
        ids.len(),
        &format!("{what}, decode"),
    );
}

/// The real weights through all 30 blocks.
#[test]
fn next_token_logits_match_the_cpu_path() {
    let (model, tok) = load();
    let mut gpu = gpu(model);
    for text in ["The capital of France is", "1, 2, 3, 4,"] {
        let ids = tok.encode(text).expect("encode");
        let mut state = State::new(model.config());
        step_both(model, &mut gpu, &mut state, &ids, 0, text);
    }
}

#[test]
fn long_prefill_every_row_and_decode_steps_match() {
    let (_, tok) = load();
    let model = shallow(2);
    // A cache with room for 16 positions at first: it must grow (and keep its contents) three
    // times; the text is longer than two GPU steps of 32 tokens.
    let mut gpu = gpu_with_capacity(&model, 16);
    let text = "Tokens are numbers. To produce the next one, a model scores every entry of its \
                vocabulary; that scoring is work for a GPU, and the price of a token is the rent \
                of that GPU, with energy and memory behind it. Memory is always scarce: the \
                weights and the cache of keys and values must fit beside each other.";
    let ids = tok.encode(text).expect("encode");
    assert!(
        ids.len() > 2 * tokenmeter_gpu::MAX_STEP,
        "{} tokens",
        ids.len()
    );
    let mut state = State::new(model.config());
    let cpu = model
        .forward_f32(&ids, 0, &mut state, Logits::All)
        .expect("cpu");
    let g = block_on(gpu.forward(&ids, 0, Logits::All)).expect("gpu");
    let vocab = model.config().vocab_size;
    assert_eq!(g.len(), ids.len() * vocab);
    for (r, (c, g)) in cpu
        .chunks_exact(vocab)
        .zip(g.chunks_exact(vocab))
        .enumerate()
    {
        assert_close(c, g, &format!("row {r}"));
    }
    // Decode: one token at a time on both caches.
    for (pos, &next) in (ids.len()..).zip(&[13u32, 198, 504]) {
        step_both(
            &model,
            &mut gpu,
            &mut state,
            &[next],
            pos,
            &format!("decode at {pos}"),
        );
    }
    // Rewinding: overwrite from position 5 (the cache keeps 0..5).
    let mut state = State::new(model.config());
    model
        .forward_f32(&ids[..5], 0, &mut state, Logits::None)
        .expect("cpu");
    step_both(&model, &mut gpu, &mut state, &[504], 5, "after rewinding");
}

/// More visible positions than the attention kernel has threads (256): each thread scores
/// several positions, and the weighted sum runs over many rounds of its groups.
#[test]
fn attention_over_more_positions_than_a_workgroup_has_threads() {
    let (_, tok) = load();
    let model = shallow(2);
    let mut gpu = gpu(&model);
    let sentence = tok
        .encode("Memory is always scarce: the weights and the cache must fit beside each other. ")
        .expect("encode");
    let ids: Vec<u32> = sentence.iter().copied().cycle().take(600).collect();
    prefill_then_decode(&model, &mut gpu, &ids, "600 positions");
}

/// Heads of other widths than SmolLM2's 64 (the attention kernel reads a head in vec4s and
/// splits its 256 threads into groups of head_dim / 4): 96 leaves threads without a group,
/// 128 is Qwen's and Llama's, 256 the widest it takes. One block, a prefill and a decode step.
#[test]
fn attention_takes_heads_of_every_width_it_accepts() {
    let (_, tok) = load();
    let ids = tok
        .encode("Each head reads its query, every key before it, and their values.")
        .expect("encode");
    for (n_head, n_kv_head, head_dim) in [(6, 3, 96), (9, 3, 128), (4, 2, 256)] {
        let mut config = tokenmeter_core::model::synthetic::smollm2_135m();
        config.n_layer = 1;
        (config.n_head, config.n_kv_head, config.head_dim) = (n_head, n_kv_head, head_dim);
        let model = Model::synthetic(config, 7).expect("synthetic model");
        let mut gpu = gpu(&model);
        prefill_then_decode(&model, &mut gpu, &ids, &format!("head_dim {head_dim}"));
    }
}

#[test]
fn a_session_plan_runs_on_the_gpu() {
    let (_, tok) = load();
    let model = shallow(2);
    let mut gpu = gpu(&model);
    let ids = tok
        .encode("The quick brown fox jumps over the")
        .expect("encode");
    let mut session = Session::new(model.clone());
    session.set_track_scores(true);
    while let Some(work) = session.plan(&ids, 4).expect("plan") {
        let logits =
            block_on(gpu.forward(&ids[work.pos..work.end], work.pos, work.logits)).expect("gpu");
        session.finish(&ids, &work, logits).expect("finite scores");
    }
    let gpu_scores = session.token_scores().to_vec();
    let gpu_next = top(session.logits().expect("logits"), 10);
    // The reference: every row's logits from the exact-f32 CPU pass, scored the same way.
    let mut state = State::new(model.config());
    let all = model
        .forward_f32(&ids, 0, &mut state, Logits::All)
        .expect("cpu");
    let vocab = model.config().vocab_size;
    assert_eq!(gpu_scores.len(), ids.len() - 1);
    for (r, g) in gpu_scores.iter().enumerate() {
        let row = &all[r * vocab..(r + 1) * vocab];
        let next = ids[r + 1];
        let prob = distribution::Distribution::of(row).prob(row[next as usize]);
        assert_eq!(
            g.rank,
            distribution::rank_of(row, next),
            "rank of token {r}"
        );
        assert!(
            (g.prob - prob).abs() < 1e-4,
            "token {r}: {} vs {prob}",
            g.prob
        );
    }
    assert_eq!(gpu_next, top(&all[(ids.len() - 1) * vocab..], 10));
}

#[test]
fn bad_input_is_an_error_not_a_crash() {
    let mut gpu = gpu(&shallow(1));
    assert!(block_on(gpu.forward(&[], 0, Logits::Last)).is_err());
    assert!(block_on(gpu.forward(&[49_152], 0, Logits::Last)).is_err());
    assert!(block_on(gpu.forward(&[1], 8192, Logits::Last)).is_err());
    // Still usable afterwards.
    assert_eq!(
        block_on(gpu.forward(&[1, 2], 0, Logits::Last))
            .expect("gpu")
            .len(),
        49_152
    );
}

#[test]
fn a_lost_device_falls_back_to_the_cpu_without_losing_the_text() {
    let (_, tok) = load();
    let model = shallow(2);
    let mut engine = block_on(tokenmeter_gpu::Engine::start(
        model.clone(),
        tokenmeter_gpu::Preference::Webgpu,
    ));
    assert!(engine.on_gpu(), "{:?}", engine.backend());
    let mut ids = tok.encode("The capital of France is").expect("encode");
    let first = top(block_on(engine.next_logits(&ids)).expect("gpu step"), 1)[0];
    ids.push(first);
    engine.simulate_gpu_loss();
    // The next step finds the device gone, rebuilds the cache on the CPU and answers.
    let logits = block_on(engine.next_logits(&ids))
        .expect("falls back")
        .to_vec();
    assert!(!engine.on_gpu());
    assert_eq!(engine.backend().kind, "cpu");
    let notice = engine.take_fallback().expect("a notice for the user");
    assert!(
        notice.to_string().contains("continuing on the CPU"),
        "{notice}"
    );
    // Same answer as a CPU session given the same tokens (the generated one included).
    let mut cpu = Session::new(model.clone());
    assert_eq!(logits, cpu.next_logits(&ids).expect("cpu"));
    assert_eq!(engine.session.tokens(), &ids[..]);
}

#[test]
fn automatic_choice_skips_a_software_adapter() {
    let (model, _) = load();
    let engine = block_on(tokenmeter_gpu::Engine::start(
        model.clone(),
        tokenmeter_gpu::Preference::Auto,
    ));
    let b = engine.backend();
    let adapter = b.adapter.as_ref().expect("an adapter was found");
    if adapter.fallback {
        assert_eq!(b.kind, "cpu", "{b:?}");
        assert!(b.reason.contains("software fallback"), "{}", b.reason);
    } else {
        assert_eq!(b.kind, "webgpu", "{b:?}");
    }
}

/// Inside the model on the GPU (the lens rows read back and put through the head as one step,
/// the attention scores copied out after each block) against the CPU path with exact f32
/// activations, as every other GPU result: each lens logit within `LOGIT_TOL`, each attention
/// weight within 1e-4 — after the text was scored (the panel's case) and at an earlier position.
#[test]
fn the_lens_and_attention_on_the_gpu_match_the_exact_cpu_path() {
    let (_, tok) = load();
    let model = shallow(3);
    let mut engine = block_on(tokenmeter_gpu::Engine::start(
        model.clone(),
        tokenmeter_gpu::Preference::Webgpu,
    ));
    assert!(engine.on_gpu(), "{:?}", engine.backend());
    let ids = tok
        .encode("Alice gave Bob a book because Bob")
        .expect("encode");
    block_on(engine.next_logits(&ids)).expect("gpu step");
    for position in [ids.len() - 1, 2, 0] {
        let gpu = block_on(engine.inspect(&ids, position)).expect("gpu inspect");
        let cpu = model.inspect_f32(&ids, position).expect("cpu inspect");
        assert_eq!((gpu.n_layer, gpu.n_head, gpu.position), (3, 9, position));
        let mut worst = 0.0f32;
        for l in 0..cpu.n_layer {
            let d = max_diff(cpu.lens_row(l), gpu.lens_row(l));
            assert!(d < LOGIT_TOL, "position {position}, block {}: {d}", l + 1);
            worst = worst.max(d);
        }
        let last = cpu.n_layer - 1;
        assert_eq!(top(cpu.lens_row(last), 1), top(gpu.lens_row(last), 1));
        assert_eq!(cpu.attention.len(), gpu.attention.len());
        let d = max_diff(&cpu.attention, &gpu.attention);
        eprintln!("position {position}: lens max |Δ| {worst:e}, attention max |Δ| {d:e}");
        assert!(d < 1e-4, "position {position}: attention differs by {d}");
    }
    assert!(engine.on_gpu(), "no fallback: {:?}", engine.backend());
    // The engine still scores the whole text afterwards.
    let after = top(block_on(engine.next_logits(&ids)).expect("gpu step"), 1);
    let mut state = State::new(model.config());
    let want = model
        .forward_f32(&ids, 0, &mut state, Logits::Last)
        .expect("cpu");
    assert_eq!(after, top(&want, 1));
}

/// Users' own models on the GPU: each architecture (llama with an untied head, RoPE factors and
/// linear scaling; qwen2's biases; qwen3's per-head norms and wide heads; Halves RoPE) and each
/// weight layout, against the CPU path with exact f32 activations, over a prefill of several
/// tokens and decode steps, then inside the model (the lens and attention) at the last position.
/// The files are `./dev test`'s (`scripts/test_models.py`).
#[test]
fn own_models_run_on_the_gpu_as_on_the_cpu() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/test/models");
    for file in [
        "qwen2-Q5_K_M.gguf",
        "qwen3-Q4_K_M.gguf",
        "llama-Q6_K.gguf",
        "llama-BF16.gguf",
        "qwen2-F16.gguf",
        "smollm2-Q5_1.gguf",
    ] {
        let path = dir.join(file);
        let f = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; ./dev test makes it", path.display()));
        let mut reader = std::io::BufReader::new(f);
        let gguf = Gguf::read(&mut reader).expect("valid GGUF");
        let tok = TextTokenizer::from_gguf(&gguf, smollm2_info()).expect("tokenizer");
        let model = Model::from_gguf(&gguf, &mut reader).expect("model");
        let mut gpu = block_on(async {
            let (adapter, summary) = request_adapter().await.expect("a Vulkan adapter");
            GpuModel::new(&adapter, summary, &model)
                .await
                .expect("GPU model")
        });
        let mut ids = tok.encode("The capital of France is").expect("encode");
        let mut state = State::new(model.config());
        let mut pos = 0;
        for step in 0..3 {
            let what = format!("{file} step {step}");
            let cpu = step_both(&model, &mut gpu, &mut state, &ids[pos..], pos, &what);
            pos = ids.len();
            ids.push(top(&cpu, 1)[0]);
        }
        // Inside the model at the newest position, block by block: Q4_K_M keeps attn_v in Q6_K
        // in some blocks only, so their products are stacked in some blocks and not in others.
        let seen = block_on(gpu.inspect(ids[pos], pos)).expect("gpu inspect");
        let want = model.inspect_f32(&ids, pos).expect("cpu inspect");
        for l in 0..want.n_layer {
            let d = max_diff(want.lens_row(l), seen.lens_row(l));
            assert!(d < LOGIT_TOL, "{file}, lens after block {}: {d}", l + 1);
        }
        let d = max_diff(&want.attention, &seen.attention);
        assert!(d < 1e-4, "{file}: attention differs by {d}");
    }
}
