//! Inside the model (`service::inside`) on the real SmolLM2 GGUF fetched by `./dev setup`: the
//! logit lens's last block is the prediction itself, bit for bit; attention rows are
//! distributions over the positions a token can see.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tokenmeter_core::model::Session;
use tokenmeter_core::service::inside::{self, InsideRequest};
use tokenmeter_core::service::model::LoadedModel;

fn loaded() -> &'static LoadedModel {
    static M: OnceLock<LoadedModel> = OnceLock::new();
    M.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/models/SmolLM2-135M-Instruct.Q4_1.gguf");
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run ./dev setup first", path.display()));
        LoadedModel::read(&mut std::io::BufReader::new(file)).expect("model")
    })
}

fn request(text: &str, position: Option<usize>) -> InsideRequest {
    InsideRequest {
        text: text.into(),
        chat: false,
        bos: false,
        continuation: Vec::new(),
        position,
        top: 5,
    }
}

const PARIS: &str = "The capital of France is";

#[test]
fn the_last_blocks_lens_is_the_prediction_bit_for_bit() {
    let m = loaded();
    let ids = m.tokenizer.encode(PARIS).expect("encode");
    let mut session = Session::new(Arc::clone(&m.model));
    // At the last position, and in the middle of the text (the lens sees only the prefix).
    for position in [ids.len() - 1, 2] {
        let seen = m.model.inspect(&ids, position).expect("inspect");
        let want = session
            .next_logits(&ids[..=position])
            .expect("logits")
            .to_vec();
        let got = seen.lens_row(seen.n_layer - 1);
        assert_eq!(got.len(), want.len());
        let same = got
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "lens after the last block differs at position {position}"
        );
        // An earlier block says something else: the lens is not the same row thirty times.
        assert_ne!(seen.lens_row(0), got);
    }
}

#[test]
fn the_lens_finds_where_paris_becomes_the_answer() {
    let r = inside::lens(loaded(), &request(PARIS, None)).expect("lens");
    assert_eq!(r.answer.token, " Paris");
    assert_eq!(r.layers.len(), 30);
    assert_eq!(r.at.position, r.prompt_ids.len() - 1);
    let last = r.layers.last().expect("layers");
    assert_eq!(last.answer_rank, 0);
    assert_eq!(last.top[0].id, r.answer.id);
    assert!((last.answer_prob - r.answer.prob).abs() < 1e-12);
    assert!(r.first_top_layer <= r.settled_layer && r.settled_layer <= 30);
    // " Paris" is not the first block's guess: the answer forms on the way up.
    assert!(r.layers[0].answer_rank > 0, "{:?}", r.layers[0]);
    let first = &r.layers[r.first_top_layer - 1];
    assert_eq!(first.answer_rank, 0);
    assert!(r.layers[..r.first_top_layer - 1]
        .iter()
        .all(|l| l.answer_rank > 0));
    assert!(r.layers[r.settled_layer - 1..]
        .iter()
        .all(|l| l.answer_rank == 0));
    for l in &r.layers {
        assert_eq!(l.top.len(), 5);
        assert!(l.top.windows(2).all(|w| w[0].prob >= w[1].prob));
        assert!(l.entropy_bits >= 0.0 && l.entropy_bits <= (49_152f64).log2() + 1e-9);
    }
}

#[test]
fn attention_rows_are_distributions_over_the_visible_tokens() {
    let m = loaded();
    let text = "Alice gave Bob a book because Bob";
    let r = inside::attention(m, &request(text, None)).expect("attention");
    let n = r.prompt_ids.len();
    assert_eq!(r.at.position, n - 1);
    assert_eq!(r.tokens.len(), n);
    assert_eq!((r.n_head, r.n_kv_head, r.layers.len()), (9, 3, 30));
    for layer in &r.layers {
        assert_eq!(layer.heads.len(), 9);
        for h in &layer.heads {
            assert_eq!(h.kv_head, h.head / 3);
            assert_eq!(h.weights.len(), n);
            let sum: f64 = h.weights.iter().map(|&w| f64::from(w)).sum();
            assert!(
                (sum - 1.0).abs() < 1e-5,
                "L{} H{}: {sum}",
                layer.layer,
                h.head
            );
            assert!(h.weights.iter().all(|&w| (0.0..=1.0).contains(&w)));
            let max = h.weights.iter().copied().fold(0.0f32, f32::max);
            assert_eq!(h.weights[h.looks_at], max);
        }
    }
    // At an earlier position a head sees only the tokens up to it.
    let r = inside::attention(m, &request(text, Some(3))).expect("attention");
    assert!(r
        .layers
        .iter()
        .all(|l| l.heads.iter().all(|h| h.weights.len() == 4)));
    // The first token can only look at itself.
    let r = inside::attention(m, &request(text, Some(0))).expect("attention");
    assert!(r
        .layers
        .iter()
        .all(|l| l.heads.iter().all(|h| h.weights == [1.0])));
}

#[test]
fn a_position_outside_the_text_and_a_bad_top_are_refused() {
    let m = loaded();
    let e = inside::lens(m, &request(PARIS, Some(999))).expect_err("outside");
    assert!(
        e.to_string().contains("position 999 is outside the text"),
        "{e}"
    );
    let mut req = request(PARIS, None);
    req.top = 0;
    assert!(inside::lens(m, &req).is_err());
    req.top = 101;
    assert!(inside::lens(m, &req).is_err());
    assert!(inside::attention(m, &request("", None)).is_err());
}

/// Against an independent NumPy forward pass in float64 (`scripts/inside_reference.py`, weights
/// dequantized by PyPI's `gguf`; fixture `tests/fixtures/smollm2_inside.json`).
///
/// With exact f32 activations ([`Model::inspect_f32`]) the lens and the attention must equal the
/// reference up to f32 rounding: [`EXACT_TOL`] (measured: 1e-5). The shipped 8-bit path quantizes every matrix
/// input to 8 bits, which `reference.rs` measured at 0.17–0.26 RMS (max 0.69) on the final
/// logits; an earlier block's lens passes through fewer of those roundings, so the final logits'
/// bounds hold per block: each logit within [`LENS_TOL`], RMS within [`LENS_RMS_TOL`] (measured:
/// max 0.59, worst block RMS 0.32). An attention weight w moves by at most w(1 − w)·Δ ≤ Δ/4 when
/// its score moves by Δ; scores carry errors of the logits' size (≤ 0.4 here), so weights stay
/// within [`ATTENTION_TOL`] = 0.1 (measured: 0.061).
const EXACT_TOL: f64 = 1e-4;
const LENS_TOL: f64 = 1.0;
const LENS_RMS_TOL: f64 = 0.4;
const ATTENTION_TOL: f64 = 0.1;

#[test]
fn lens_and_attention_agree_with_an_independent_numpy_forward_pass() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/smollm2_inside.json");
    let fx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    let m = loaded();
    let cases = fx["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 3);
    let ids_of = |v: &serde_json::Value| -> Vec<u32> {
        let a = v.as_array().expect("array");
        a.iter().map(|x| x.as_u64().expect("id") as u32).collect()
    };
    let f = |v: &serde_json::Value| v.as_f64().expect("number");
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let ids = ids_of(&case["ids"]);
        let prompt = case["prompt"].as_str().expect("prompt");
        assert_eq!(m.tokenizer.encode(prompt).expect("encode"), ids);
        let final_top = ids_of(&case["final_top"]);
        let last = ids.len() - 1;
        let exact = m.model.inspect_f32(&ids, last).expect("inspect_f32");
        let shipped = m.model.inspect(&ids, last).expect("inspect");
        for (path, seen, tol, rms_tol, att_tol) in [
            ("f32", &exact, EXACT_TOL, EXACT_TOL, EXACT_TOL),
            ("8-bit", &shipped, LENS_TOL, LENS_RMS_TOL, ATTENTION_TOL),
        ] {
            let (mut worst, mut worst_rms, mut worst_att) = (0.0f64, 0.0f64, 0.0f64);
            let layers = case["layers"].as_array().expect("layers");
            assert_eq!(layers.len(), seen.n_layer);
            for (l, layer) in layers.iter().enumerate() {
                let row = seen.lens_row(l);
                // The reference's own top 10 at this block, and the final answer's top 10.
                let top = layer["top"].as_array().expect("top");
                let at_final = layer["final_top_logits"].as_array().expect("logits");
                let pairs: Vec<(u32, f64)> = top
                    .iter()
                    .map(|t| (t["id"].as_u64().expect("id") as u32, f(&t["logit"])))
                    .chain(final_top.iter().zip(at_final).map(|(&id, z)| (id, f(z))))
                    .collect();
                let mut sum_sq = 0.0;
                for &(id, want) in &pairs {
                    let got = f64::from(row[id as usize]);
                    let d = (got - want).abs();
                    assert!(
                        d <= tol,
                        "{name} {path}: block {} token {id}: {got} vs {want}",
                        l + 1
                    );
                    worst = worst.max(d);
                    sum_sq += d * d;
                }
                let rms = (sum_sq / pairs.len() as f64).sqrt();
                assert!(rms <= rms_tol, "{name} {path}: block {}: RMS {rms}", l + 1);
                worst_rms = worst_rms.max(rms);
                let heads = case["attention"][l].as_array().expect("heads");
                assert_eq!(heads.len(), seen.n_head);
                for (h, want) in heads.iter().enumerate() {
                    let got = seen.attention_row(l, h);
                    let want = want.as_array().expect("row");
                    assert_eq!(got.len(), want.len());
                    for (g, w) in got.iter().zip(want) {
                        let d = (f64::from(*g) - f(w)).abs();
                        assert!(
                            d <= att_tol,
                            "{name} {path}: block {} head {h}: {g} vs {w}",
                            l + 1
                        );
                        worst_att = worst_att.max(d);
                    }
                }
            }
            let ours = tokenmeter_core::distribution::top_k(seen.lens_row(seen.n_layer - 1), 1);
            assert_eq!(ours[0].0, final_top[0], "{name} {path}: final top-1");
            eprintln!(
                "{name} {path}: lens max |Δ| {worst:.5}, worst block RMS {worst_rms:.5}; \
                 attention max |Δ| {worst_att:.5}"
            );
        }
    }
}

#[test]
fn looking_inside_after_scoring_reuses_the_cache_with_the_same_bits() {
    let m = loaded();
    let text = "Alice gave Bob a book because Bob";
    let ids = m.tokenizer.encode(text).expect("encode");
    let mut session = Session::new(Arc::clone(&m.model));
    session.next_logits(&ids).expect("scores");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for position in [0, 3, ids.len() - 1] {
        let fresh = m.model.inspect(&ids, position).expect("fresh");
        let reused = session.inspect(&ids, position).expect("reused");
        assert_eq!(bits(&fresh.lens), bits(&reused.lens), "lens at {position}");
        assert_eq!(
            bits(&fresh.attention),
            bits(&reused.attention),
            "attention at {position}"
        );
    }
    // The session still answers as before.
    assert_eq!(session.tokens(), &ids[..]);
    // The page's one request gives what the CLI's two give.
    let req = request(text, Some(4));
    let both = now(inside::inside(m, &mut session, &req)).expect("inside");
    assert_eq!(both.lens, inside::lens(m, &req).expect("lens"));
    assert_eq!(
        both.attention,
        inside::attention(m, &req).expect("attention")
    );
}

/// Runs a future that is ready at once (the CPU path's `Forward` answers synchronously).
fn now<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the CPU path answers at once"),
    }
}
