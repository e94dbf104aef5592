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
