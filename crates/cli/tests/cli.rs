//! The `tokenmeter` binary as a user runs it: JSON on stdout, a message and a non-zero exit on
//! bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn tokenmeter(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tokenmeter");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn tokenize_prints_ids_tokens_and_spans() {
    let v = json(&tokenmeter(
        &[
            "tokenize",
            "--tokenizer",
            "smollm2",
            "--text",
            "Hola, mundo 你",
        ],
        None,
    ));
    assert_eq!(v["tokenizer"], "smollm2");
    let ids: Vec<u64> = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(v["count"].as_u64().unwrap() as usize, ids.len());
    assert_eq!(&ids[..5], &[56, 7866, 28, 23902, 95]);
    assert_eq!(v["tokens"][1], "ola");
    assert_eq!(v["spans"][3]["start"], 5);
}

#[test]
fn tokenize_reads_stdin_and_recognises_special_tokens() {
    let v = json(&tokenmeter(&["tokenize"], Some("<|im_start|>user\n")));
    assert_eq!(v["ids"][0], 1);
    assert_eq!(v["spans"][0]["special"], true);
}

#[test]
fn next_scores_the_whole_vocabulary() {
    let v = json(&tokenmeter(
        &["next", "--prompt", "The capital of France is", "--top", "5"],
        None,
    ));
    let c = v["candidates"].as_array().unwrap();
    assert_eq!(c.len(), 5);
    assert_eq!(c[0]["id"], 7042);
    assert_eq!(c[0]["token"], " Paris");
    let p0 = c[0]["prob"].as_f64().unwrap();
    assert!(p0 > 0.5 && p0 < 1.0);
    let entropy = v["entropy"].as_f64().unwrap();
    assert!(entropy > 0.5 && entropy < 3.0, "entropy {entropy}");
    assert_eq!(v["vocab_size"], 49_152);
    // No BOS unless asked.
    assert_eq!(v["prompt_ids"][0], 504);
    let with_bos = json(&tokenmeter(
        &["next", "--prompt", "Hi", "--top", "1", "--bos"],
        None,
    ));
    assert_eq!(with_bos["prompt_ids"][0], 1);
}

#[test]
fn a_model_command_without_a_runtime_directory_prints_no_error() {
    // `--backend auto` probes for a GPU; Vulkan's window-system layer used to print
    // "error: XDG_RUNTIME_DIR is invalid or not set" twice when the variable was unset.
    let out = Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(["next", "--prompt", "Hi", "--top", "1", "--backend", "auto"])
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run tokenmeter");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.to_lowercase().contains("error"), "stderr: {err}");
}

#[test]
fn bad_input_exits_non_zero_with_a_message() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["next", "--prompt", ""], "empty"),
        (
            vec!["tokenize", "--tokenizer", "nope", "--text", "x"],
            "unknown tokenizer",
        ),
        (
            vec!["--model", "/nonexistent.gguf", "tokenize", "--text", "x"],
            "cannot open",
        ),
        (
            vec!["--model", "Cargo.toml", "next", "--prompt", "x"],
            "not a valid GGUF",
        ),
    ];
    for (args, want) in cases {
        let out = tokenmeter(&args, None);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_truncated_model_file_is_reported() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let bytes = std::fs::read(model).expect("model (./dev setup)");
    let dir = std::env::temp_dir().join(format!("tokenmeter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = tokenmeter(
        &["--model", cut.to_str().unwrap(), "next", "--prompt", "Hi"],
        None,
    );
    std::fs::remove_dir_all(&dir).ok();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a valid GGUF model file"), "{err}");
}

fn json_lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn greedy_generation_answers_the_chat_question_and_stops() {
    let prompt =
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    let lines = json_lines(&tokenmeter(
        &[
            "generate",
            "--prompt",
            prompt,
            "--max-tokens",
            "30",
            "--temperature",
            "0",
        ],
        None,
    ));
    let summary = lines.last().unwrap();
    assert!(
        summary["text"].as_str().unwrap().contains("Paris"),
        "{summary}"
    );
    assert!(summary["text"].as_str().unwrap().ends_with("<|im_end|>"));
    let steps = &lines[..lines.len() - 1];
    assert_eq!(
        steps.len(),
        summary["generated_tokens"].as_u64().unwrap() as usize
    );
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["step"], i);
        assert_eq!(s["prob"], 1.0, "greedy keeps one token");
        assert!(s["model_prob"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn seeded_sampling_is_reproducible_and_the_seed_matters() {
    let run = |seed: &str| {
        json_lines(&tokenmeter(
            &[
                "generate",
                "--prompt",
                "Once upon a time",
                "--max-tokens",
                "12",
                "--seed",
                seed,
                "--temperature",
                "1.2",
                "--top-k",
                "50",
                "--top-p",
                "0.95",
            ],
            None,
        ))
        .last()
        .unwrap()["ids"]
            .clone()
    };
    assert_eq!(run("7"), run("7"));
    assert_ne!(run("7"), run("8"));
}

#[test]
fn next_reports_the_filtered_distribution() {
    let v = json(&tokenmeter(
        &[
            "next",
            "--prompt",
            "The capital of France is",
            "--top-k",
            "3",
            "--seed",
            "1",
        ],
        None,
    ));
    let s = &v["sampling"];
    assert_eq!(s["survivors"], 3);
    let probs: Vec<f64> = s["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["prob"].as_f64().unwrap())
        .collect();
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // Renormalised: bigger than the model's own probabilities.
    assert!(probs[0] > v["candidates"][0]["prob"].as_f64().unwrap());
    let bad = tokenmeter(&["next", "--prompt", "x", "--top-p", "1.5"], None);
    assert!(!bad.status.success());
}

#[test]
fn surprisal_scores_every_token_after_the_first() {
    let v = json(&tokenmeter(
        &["surprisal", "--text", "The capital of France is Paris."],
        None,
    ));
    let tokens = v["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 7);
    assert!(
        tokens[0]["prob"].is_null(),
        "nothing predicts the first token"
    );
    assert_eq!(tokens[5]["token"], " Paris");
    assert_eq!(tokens[5]["rank"], 0);
    let bits = tokens[5]["surprisal_bits"].as_f64().unwrap();
    assert!(bits > 0.0 && bits < 1.0, "{bits}");
    assert!(v["perplexity"].as_f64().unwrap() > 1.0);
}

#[test]
fn every_shipped_tokenizer_is_listed_and_tokenizes() {
    let list = json(&tokenmeter(&["tokenizers"], None));
    let list = list["tokenizers"].as_array().unwrap();
    assert_eq!(list.len(), 11);
    for t in list {
        assert_eq!(t["available"], true, "{t}");
        assert!(!t["license"].as_str().unwrap().is_empty());
        let id = t["id"].as_str().unwrap();
        let v = json(&tokenmeter(
            &["tokenize", "--tokenizer", id, "--text", "Hola, mundo 你好"],
            None,
        ));
        assert!(v["count"].as_u64().unwrap() >= 4, "{id}: {v}");
        let joined: Vec<u8> = v["spans"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                s["bytes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_u64().unwrap() as u8)
            })
            .collect();
        assert_eq!(
            String::from_utf8(joined).unwrap(),
            "Hola, mundo 你好",
            "{id}"
        );
    }
}

#[test]
fn whitespace_runs_are_spaces_in_every_alphabet() {
    // Gemma's vocabulary has tokens for runs of "▁" (SentencePiece's space): their bytes are
    // spaces, so the tokens' bytes give back the text.
    let v = json(&tokenmeter(
        &[
            "tokenize",
            "--tokenizer",
            "gemma3",
            "--text",
            "a   b\u{a0}c",
        ],
        None,
    ));
    let joined: Vec<u8> = v["spans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["bytes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
        })
        .collect();
    assert_eq!(String::from_utf8(joined).unwrap(), "a   b\u{a0}c");
    assert_eq!(v["tokens"][1], "   ");
}

#[test]
fn decode_turns_ids_back_into_text_and_marks_bad_ones() {
    let v = json(&tokenmeter(
        &[
            "decode",
            "--tokenizer",
            "o200k_base",
            "--ids",
            "[49864, 11, 10225, 200010, 999999]",
        ],
        None,
    ));
    assert_eq!(v["text"], "Hola, mundo");
    assert_eq!(
        v["invalid"],
        serde_json::json!([200010, 999999]),
        "a gap in the vocabulary is no token"
    );
    assert_eq!(v["tokens"][2]["token"], " mundo");
    let v = json(&tokenmeter(&["decode"], Some("56 7866 28")));
    assert_eq!(v["text"], "Hola,");
    let bad = tokenmeter(&["decode", "--ids", "1, x"], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("“x” is not a token ID"));
}

#[test]
fn cost_prices_the_text_with_each_models_own_token_count() {
    let v = json(&tokenmeter(
        &[
            "cost",
            "--text",
            "The capital of France is",
            "--model",
            "gpt-4o",
            "--model",
            "claude-sonnet-4-5",
            "--model",
            "gemini/gemini-2.5-pro",
            "--output-tokens",
            "100",
        ],
        None,
    ));
    assert_eq!(v["prices"]["version"], "1.110.2");
    let rows = v["models"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    // gpt-4o: o200k_base counts 5 tokens; $2.50/M in, $10/M out (LiteLLM 1.110.2).
    let gpt = &rows[0];
    assert_eq!(gpt["tokens"], 5);
    assert_eq!(gpt["exact"], true);
    let want = 5.0 * 2.5e-6 + 100.0 * 1e-5;
    assert!(
        (gpt["total_usd"].as_f64().unwrap() - want).abs() < 1e-12,
        "{gpt}"
    );
    assert!((gpt["per_1000_requests_usd"].as_f64().unwrap() - want * 1000.0).abs() < 1e-9);
    // Claude and Gemini tokenizers are not public: estimates, and said so.
    for row in &rows[1..] {
        assert_eq!(row["exact"], false);
        assert!(!row["estimate_note"].as_str().unwrap().is_empty());
    }
    let bad = tokenmeter(&["cost", "--text", "x", "--model", "gpt-4oo"], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no price for 'gpt-4oo'"));
}

#[test]
fn gpu_cost_shows_the_physics_at_known_points() {
    // 135M parameters × 1,000 tokens × 2 = 2.7e11 FLOPs.
    let v = json(&tokenmeter(
        &["gpu-cost", "--params", "135e6", "--tokens", "1000"],
        None,
    ));
    assert_eq!(v["flops"], 2.7e11);
    assert!(
        v["kv_cache_bytes"].is_null(),
        "no shape given: the KV cache is unknown"
    );
    let s = json(&tokenmeter(
        &[
            "gpu-cost", "--model", "smollm2", "--tokens", "1000", "--gpu", "l4",
        ],
        None,
    ));
    assert_eq!(s["model"]["layers"], 30);
    // 2 · 30 · (3 · 64) · 2 bytes · 1,000 tokens = 23,040,000 bytes.
    assert_eq!(s["kv_cache_bytes"], 23_040_000.0);
    for key in ["seconds", "usd", "energy_wh", "weights_bytes"] {
        assert!(s[key].as_f64().unwrap() > 0.0, "{key}");
    }
    let big = json(&tokenmeter(
        &["gpu-cost", "--model", "Llama 3.1 70B", "--tokens", "10"],
        None,
    ));
    assert_eq!(
        big["fits_in_memory"], false,
        "141 GB of BF16 weights on an 80 GB H100"
    );
    assert!(
        !tokenmeter(&["gpu-cost", "--params", "1e9", "--gpu", "tpu"], None)
            .status
            .success()
    );
}

/// `--backend`: the CPU path, the WGSL kernels through Vulkan (Mesa's llvmpipe here, installed
/// by `./dev setup`), and the automatic choice, which declines a software adapter.
#[test]
fn backends_can_be_chosen_and_agree() {
    let prompt = "The capital of France is";
    let run = |backend: &str| {
        let out = tokenmeter(
            &[
                "next",
                "--backend",
                backend,
                "--prompt",
                prompt,
                "--top",
                "5",
            ],
            None,
        );
        json(&out)
    };
    let cpu = run("cpu");
    assert_eq!(cpu["backend"]["kind"], "cpu");
    let gpu = run("webgpu");
    assert_eq!(gpu["backend"]["kind"], "webgpu", "{}", gpu["backend"]);
    assert!(gpu["backend"]["adapter"]["name"].is_string());
    let ids = |v: &Value| -> Vec<u64> {
        v["candidates"]
            .as_array()
            .expect("candidates")
            .iter()
            .map(|c| c["id"].as_u64().expect("id"))
            .collect()
    };
    assert_eq!(ids(&cpu)[0], 7042);
    assert_eq!(ids(&gpu)[0], 7042, "' Paris' on the GPU too");
    let auto = run("auto");
    let fallback = auto["backend"]["adapter"]["fallback"].as_bool();
    let want = if fallback == Some(false) {
        "webgpu"
    } else {
        "cpu"
    };
    assert_eq!(auto["backend"]["kind"], want, "{}", auto["backend"]);

    let bad = tokenmeter(&["next", "--backend", "cuda", "--prompt", prompt], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("auto, cpu or webgpu"));
}

#[test]
fn lens_and_attention_look_inside_the_model() {
    let v = json(&tokenmeter(
        &["lens", "--prompt", "The capital of France is", "--top", "3"],
        None,
    ));
    assert_eq!(v["answer"]["token"], " Paris");
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 30);
    assert_eq!(layers[29]["answer_rank"], 0);
    assert_eq!(layers[0]["top"].as_array().unwrap().len(), 3);
    assert_eq!(v["at"]["position"], 4);
    assert_eq!(v["at"]["token"], " is");

    // From the prompt's stdin, at position 1 (" capital"), which sees two tokens.
    let v = json(&tokenmeter(
        &["attention", "--position", "1"],
        Some("The capital of France is"),
    ));
    assert_eq!(v["at"]["token"], " capital");
    assert_eq!(v["tokens"].as_array().unwrap().len(), 2);
    for layer in v["layers"].as_array().unwrap() {
        for head in layer["heads"].as_array().unwrap() {
            let w: Vec<f64> = head["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(w.len(), 2);
            assert!((w[0] + w[1] - 1.0).abs() < 1e-5, "{w:?}");
        }
    }

    let out = tokenmeter(&["lens", "--prompt", "Hi", "--position", "7"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("position 7 is outside the text"), "{err}");
}

#[test]
fn explain_token_prints_the_merge_path_and_other_vocabularies() {
    let v = json(&tokenmeter(
        &[
            "explain-token",
            "--tokenizer",
            "smollm2",
            "--text",
            " Paris",
            "--compare",
            "o200k_base,smollm2",
        ],
        None,
    ));
    let t = &v["tokens"][0];
    assert_eq!(t["id"], 7042);
    let steps = t["path"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    assert_eq!(steps.last().unwrap()["result"]["token"], " Paris");
    assert_eq!(t["path"]["builds_token"], true);
    // The explained vocabulary is not compared with itself.
    let elsewhere = v["elsewhere"].as_array().unwrap();
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(elsewhere[0]["tokenizer"], "o200k_base");
    assert_eq!(elsewhere[0]["single"], true);

    // By ID, from the model file's own vocabulary.
    let v = json(&tokenmeter(
        &["explain-token", "--id", "7042", "--compare", "gemma3"],
        None,
    ));
    assert_eq!(v["text"], " Paris");
    assert_eq!(v["elsewhere"][0]["tokenizer"], "gemma3");

    let out = tokenmeter(&["explain-token", "--id", "99999999"], None);
    assert!(!out.status.success());
}

/// `tokenmeter bench --synthetic` on `backend`, CI-sized (on llvmpipe, a CPU emulating the GPU,
/// each token through 30 blocks costs seconds): 2 blocks, an 8-token prompt, one run; then
/// `more` arguments. No model file is there to find.
fn synthetic_bench(backend: &str, more: &[&str]) -> Output {
    let sizes = ["--blocks", "2", "--prompt-tokens", "8", "--runs", "1"];
    Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(["bench", "--synthetic", "--backend", backend])
        .args(sizes)
        .args(more)
        .env("TOKENMETER_MODEL", "/nonexistent/model.gguf")
        .output()
        .expect("run tokenmeter")
}

/// `bench --synthetic`: SmolLM2's shapes without the model file, on the CPU path and on our GPU
/// kernels (llvmpipe here: CI-sized, correctness only).
#[test]
fn a_synthetic_benchmark_needs_no_model_file_on_either_backend() {
    for backend in ["cpu", "webgpu"] {
        let v = json(&synthetic_bench(backend, &["--decode-tokens", "2"]));
        assert!(v["model"]
            .as_str()
            .unwrap()
            .starts_with("synthetic SmolLM2-135M shapes, 2 of 30 blocks"));
        assert_eq!(v["engine"]["kind"], backend, "{}", v["engine"]);
        assert_eq!(v["result"]["generated"].as_array().unwrap().len(), 2);
        assert!(v["decode_tokens_per_s"].as_f64().unwrap() > 0.0);
    }
    // SmolLM2 has 30 blocks; --blocks needs --synthetic.
    for args in [
        &["bench", "--synthetic", "--blocks", "31"][..],
        &["bench", "--synthetic", "--blocks", "0"],
        &["bench", "--blocks", "2"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
            .args(args)
            .env("TOKENMETER_MODEL", "/nonexistent/model.gguf")
            .output()
            .expect("run tokenmeter");
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--blocks"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `bench --profile`: every dispatch of a prefill step and of a decode step timed on the GPU
/// (llvmpipe here), summed per kernel. The one-token plan folds the blocks' norms into the
/// products after them; the plan of several tokens runs them as dispatches of their own. On the
/// CPU there are no dispatches to time, and the error says so.
#[test]
fn the_gpu_profile_accounts_for_every_dispatch_of_both_plans() {
    let run = |backend| synthetic_bench(backend, &["--decode-tokens", "1", "--profile"]);
    let v = json(&run("webgpu"));
    assert_eq!(v["engine"]["kind"], "webgpu", "{}", v["engine"]);
    let p = &v["gpu_profile"];
    // The embedding; per block the stacked q/k/v product, RoPE, attention, the output
    // projection, the stacked gate/up product, SwiGLU, the down projection (and, with several
    // tokens, the two norms); then the final norm and the output projection.
    for (step, tokens, position, per_block) in [("prefill", 8, 0, 9), ("decode", 1, 8, 7)] {
        let s = &p[step];
        assert_eq!(s["tokens"], tokens, "{step}");
        assert_eq!(s["position"], position, "{step}");
        assert_eq!(s["dispatches"], 1 + 2 * per_block + 2, "{step}");
        let kernels = s["kernels"].as_array().expect("kernels");
        let count = |name: &str| {
            kernels
                .iter()
                .find(|k| k["name"] == name)
                .map_or(0, |k| k["dispatches"].as_u64().unwrap())
        };
        let total: u64 = kernels
            .iter()
            .map(|k| k["dispatches"].as_u64().unwrap())
            .sum();
        assert_eq!(total, s["dispatches"].as_u64().unwrap(), "{step}");
        assert_eq!((count("attn_qkv"), count("ffn_gate_up")), (2, 2), "{step}");
        let norms = if step == "decode" { 0 } else { 2 };
        assert_eq!(
            (count("attn_norm"), count("ffn_norm")),
            (norms, norms),
            "{step}"
        );
        // The kernels' times add up to the step's, first timestamp to last.
        let us: f64 = kernels.iter().map(|k| k["us"].as_f64().unwrap()).sum();
        let gpu_us = s["gpu_ms"].as_f64().unwrap() * 1e3;
        assert!(
            us > 0.0 && (us - gpu_us).abs() <= 1e-6 * gpu_us + 1e-3,
            "{step}: {us} vs {gpu_us}"
        );
    }
    let out = run("cpu");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--profile"), "{err}");
}

/// `--threads`: each thread computes whole rows of a product, so the scores of a long prompt
/// (whose products are split) are the same bits with one thread or three, and the benchmark
/// says how many ran. Zero threads is refused.
#[test]
fn threads_change_the_speed_not_the_bits() {
    let prompt = "Each thread computes whole rows of each matrix product. ".repeat(8);
    let run = |threads: &str| {
        let args = [
            "next",
            "--backend",
            "cpu",
            "--threads",
            threads,
            "--top",
            "50",
            "--prompt",
            &prompt,
        ];
        json(&tokenmeter(&args, None))
    };
    let (mut one, mut three) = (run("1"), run("3"));
    assert_eq!(one["candidates"].as_array().map(Vec::len), Some(50));
    // Only the line naming the kernels differs ("native CPU, 3 threads").
    assert_eq!(three["backend"]["cpu"], "native CPU, 3 threads");
    one["backend"].take();
    three["backend"].take();
    assert_eq!(one, three);
    let args = [
        "bench",
        "--backend",
        "cpu",
        "--threads",
        "2",
        "--prompt-tokens",
        "64",
        "--decode-tokens",
        "2",
        "--runs",
        "1",
    ];
    let v = json(&tokenmeter(&args, None));
    assert_eq!(v["threads"], 2);
    assert_eq!(v["engine"]["cpu"], "native CPU, 2 threads");
    assert!(
        !tokenmeter(&["next", "--threads", "0", "--prompt", "x"], None)
            .status
            .success()
    );
}

/// `--physics-model "your model"`: the estimate serves the model file itself, with its shape from
/// its metadata and its tokens counted by its own tokenizer.
#[test]
fn cost_physics_can_serve_the_model_file_itself() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/test/models/qwen3-Q4_K_M.gguf"
    );
    let text = "The capital of France is";
    let v = json(&tokenmeter(
        &[
            "--model",
            file,
            "cost",
            "--text",
            text,
            "--physics-model",
            "your model",
        ],
        None,
    ));
    let p = &v["physics"];
    assert_eq!(
        p["model"]["name"], "tokenmeter test qwen3 (Q4_K + Q6_K)",
        "{p}"
    );
    assert_eq!(p["model"]["layers"], 2);
    // 2 key/value heads of 64 dims, keys and values.
    assert_eq!(p["model"]["kv_values_per_layer"], 256);
    let params = p["model"]["params"].as_f64().unwrap();
    assert_eq!(p["params_read_per_step"].as_f64().unwrap(), params);
    // Counted by the file's own tokenizer: its token count is the prompt's.
    let tokens = json(&tokenmeter(
        &["--model", file, "tokenize", "--text", text],
        None,
    ));
    assert_eq!(p["input_tokens"], tokens["count"], "{p}");
    // Without a model of one's own in the page the same name is refused, not guessed.
    let none = tokenmeter(
        &["cost", "--text", "x", "--physics-model", "nonsense"],
        None,
    );
    assert!(!none.status.success());
}
