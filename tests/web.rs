//! The core compiled to wasm32 and run in headless Chromium (`wasm-bindgen-test`): the same
//! tokenizer and scoring code the worker runs, checked against llama.cpp's reference IDs.
//!
//! Run by `./dev test` as `cargo test --target wasm32-unknown-unknown -p tokenmeter-web --test web`
//! (the runner and browser are set in `.cargo/config.toml` and `webdriver.json`).
#![cfg(target_arch = "wasm32")]

use serde_json::Value;
use tokenmeter_core::distribution::{self, Distribution};
use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::service::tokens::ColumnsRequest;
use tokenmeter_core::tokenizer::{smollm2_info, TextTokenizer};
use tokenmeter_web::protocol::{FromWorker, ToWorker};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Written by `cargo xtask vocab` (run by `./dev setup`).
const VOCAB_JSON: &[u8] = include_bytes!("../data/tokenizers/smollm2.json");
const VOCAB_GGUF: &[u8] = include_bytes!("../data/test/smollm2.vocab.gguf");
const TOKEN_FIXTURES: &str = include_str!("fixtures/smollm2_tokens.json");

fn check_against_llama_cpp(tok: &TextTokenizer) {
    let fx: Value = serde_json::from_str(TOKEN_FIXTURES).expect("fixture");
    let cases = fx["cases"].as_array().expect("cases");
    assert!(cases.len() >= 40);
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let want: Vec<u32> = case["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|v| v.as_u64().expect("id") as u32)
            .collect();
        assert_eq!(tok.encode(text).expect("encode"), want, "{text:?}");
        let bytes: Vec<u8> = tok
            .tokenize(text)
            .expect("tokenize")
            .into_iter()
            .flat_map(|t| t.bytes)
            .collect();
        assert_eq!(bytes, text.as_bytes());
    }
}

#[wasm_bindgen_test]
fn smollm2_from_gguf_metadata_matches_llama_cpp_in_wasm() {
    let gguf = Gguf::read(&mut std::io::Cursor::new(VOCAB_GGUF)).expect("gguf");
    let tok = TextTokenizer::from_gguf(&gguf, smollm2_info()).expect("tokenizer");
    assert_eq!(tok.vocab_size(), 49_152);
    check_against_llama_cpp(&tok);
}

#[wasm_bindgen_test]
fn converted_vocabulary_matches_llama_cpp_in_wasm() {
    let tok = TextTokenizer::from_json(VOCAB_JSON, smollm2_info()).expect("tokenizer");
    check_against_llama_cpp(&tok);
}

#[wasm_bindgen_test]
fn broken_files_give_errors_not_panics() {
    let err = Gguf::read(&mut std::io::Cursor::new(&b"GGUF but not really"[..]))
        .err()
        .expect("error");
    assert!(err.to_string().contains("not a valid GGUF"), "{err}");
    let truncated = &VOCAB_GGUF[..VOCAB_GGUF.len() / 2];
    assert!(Gguf::read(&mut std::io::Cursor::new(truncated)).is_err());
    assert!(TextTokenizer::from_json(b"{not json", smollm2_info()).is_err());
}

#[wasm_bindgen_test]
fn scoring_in_wasm_matches_hand_computation() {
    // logits [0, ln 3] → p = [1/4, 3/4]
    let logits = [0.0f32, 3f32.ln(), f32::NEG_INFINITY];
    let d = Distribution::of(&logits);
    assert!((d.prob(0.0) - 0.25).abs() < 1e-6);
    assert_eq!(
        distribution::top_k(&logits, 2),
        vec![(1, 3f32.ln()), (0, 0.0)]
    );
}

/// The simd128 kernels give the scalar definition's exact bits (so wasm and native agree).
#[wasm_bindgen_test]
fn simd128_matmul_equals_the_scalar_definition() {
    use tokenmeter_core::model::quant::{Format, Q8Row, QMatrix};
    let mut state = 12345u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let (rows, cols) = (9, 512);
    // f16 bits of 2⁻⁷ (a scale) and of −2⁻⁷ (a minimum), and where each format keeps them.
    let (scale, min) = ([0x00, 0x20], [0x00, 0xA0]);
    for format in Format::ALL {
        let n_bytes = rows * cols / format.block_values() * format.block_bytes();
        let mut bytes: Vec<u8> = (0..n_bytes).map(|_| next() as u8).collect();
        for block in bytes.chunks_exact_mut(format.block_bytes()) {
            match format {
                // Floats: small finite values (a top byte of 0x3C or 0xBC keeps them in ±2).
                Format::F32 => block[3] = 0x3C | (block[3] & 0x80),
                Format::F16 => block[1] = 0x30 | (block[1] & 0x80),
                Format::BF16 => block[1] = 0x3C | (block[1] & 0x80),
                Format::Q6_K => block[208..210].copy_from_slice(&scale),
                Format::Q4_1 | Format::Q5_1 | Format::Q4_K | Format::Q5_K => {
                    block[0..2].copy_from_slice(&scale);
                    block[2..4].copy_from_slice(&min);
                }
                _ => block[0..2].copy_from_slice(&scale),
            }
        }
        let w = QMatrix::from_bytes(format, rows, cols, &bytes).expect("matrix");
        for seq in [1, 4, 7, 9] {
            let x: Vec<f32> = (0..seq * cols)
                .map(|_| next() as f32 / u32::MAX as f32 - 0.5)
                .collect();
            let mut xq = Vec::new();
            Q8Row::quantize_rows(&x, cols, &mut xq);
            let (mut a, mut b) = (vec![0.0f32; seq * rows], vec![0.0f32; seq * rows]);
            w.matmul(&x, &xq, &mut a);
            w.matmul_scalar(&x, &xq, &mut b);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert!(a.iter().all(|v| v.is_finite()), "{format:?}");
            assert_eq!(bits(&a), bits(&b), "{format:?}, seq {seq}");
        }
    }
}

/// The simd128 quantization of activations gives the scalar definition's exact bits: random
/// rows, exact ties (k + ½ after scaling, rounded away from zero), the float just below ½, zeros
/// and −0.0, blocks so small that 1/d overflows, infinities and NaN.
#[wasm_bindgen_test]
fn simd128_quantize_equals_the_scalar_definition() {
    use tokenmeter_core::model::quant::Q8Row;
    use tokenmeter_core::splitmix::SplitMix;
    let mut rng = SplitMix(2024);
    let mut rows: Vec<Vec<f32>> = (0..50)
        .map(|r| {
            let scale = [1e-3f32, 1.0, 300.0][r % 3];
            (0..256)
                .map(|_| ((rng.next_u64() >> 40) as f32 / (1 << 24) as f32 - 0.5) * scale)
                .collect()
        })
        .collect();
    // max|x| = 127 makes 1/d exactly 1: every other value is a tie.
    let ties: Vec<f32> = (0..32)
        .map(|i| if i == 0 { 127.0 } else { i as f32 - 16.5 })
        .collect();
    let below_half: Vec<f32> = (0..32)
        .map(|i| match i {
            0 => 127.0,
            1 => 0.499_999_97,
            2 => -0.499_999_97,
            3 => 1.499_999_9,
            _ => -2.5,
        })
        .collect();
    let zeros: Vec<f32> = (0..32)
        .map(|i| if i % 2 == 0 { 0.0 } else { -0.0 })
        .collect();
    let tiny: Vec<f32> = (0..32).map(|i| (i as f32 - 16.0) * 1e-44).collect();
    let infinite: Vec<f32> = (0..32)
        .map(|i| match i {
            0 => f32::INFINITY,
            1 => f32::NEG_INFINITY,
            _ => i as f32,
        })
        .collect();
    let nan: Vec<f32> = (0..32)
        .map(|i| {
            if i % 3 == 0 {
                f32::NAN
            } else {
                i as f32 - 10.0
            }
        })
        .collect();
    rows.extend([ties, below_half, zeros, tiny, infinite, nan]);
    for row in &rows {
        let (mut simd, mut scalar) = (Q8Row::default(), Q8Row::default());
        simd.quantize(row);
        scalar.quantize_scalar(row);
        assert_eq!(simd.block_bits(), scalar.block_bits(), "{:?}", &row[..4]);
    }
}

#[wasm_bindgen_test]
fn protocol_messages_survive_json() {
    let m = ToWorker::Columns {
        seq: 1,
        req: ColumnsRequest::Tokenize {
            text: "<script>alert(1)</script> 你好".into(),
            tokenizers: vec!["smollm2".into(), "gemma3".into()],
        },
    };
    let back: ToWorker = serde_json::from_str(&m.to_json()).expect("json");
    assert_eq!(back, m);
    let crash: FromWorker =
        serde_json::from_str(r#"{"Crashed":{"message":"x"}}"#).expect("loader's message");
    assert_eq!(
        crash,
        FromWorker::Crashed {
            message: "x".into()
        }
    );
}
