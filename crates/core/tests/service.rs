//! The service layer on the real model and vocabulary: one function per request, and the
//! promises the front ends rely on — generation is the next-token answer applied step by step,
//! a request given up part way leaves nothing wrong behind, the heatmap's scores are the
//! `surprisal` answer, every field is checked in one place.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use tokenmeter_core::model::Session;
use tokenmeter_core::msg::Msg;
use tokenmeter_core::sampling::Sampler;
use tokenmeter_core::service::model::LoadedModel;
use tokenmeter_core::service::next::{
    self, GenerateEvent, GenerateRequest, NextRequest, NextResponse, Progress,
};
use tokenmeter_core::service::surprisal;
use tokenmeter_core::service::tokens::{self, ColumnState, ColumnsRequest, VocabState};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn loaded() -> &'static LoadedModel {
    static M: OnceLock<LoadedModel> = OnceLock::new();
    M.get_or_init(|| {
        let path = root().join("data/models/SmolLM2-135M-Instruct.Q4_1.gguf");
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run ./dev setup first", path.display()));
        LoadedModel::read(&mut std::io::BufReader::new(file)).expect("model")
    })
}

fn session() -> Session {
    Session::new(Arc::clone(&loaded().model))
}

/// Runs a future that never waits on anything outside itself (the CPU path).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

async fn go_on(_: Progress) -> bool {
    true
}

fn request(text: &str) -> NextRequest {
    NextRequest {
        text: text.into(),
        chat: false,
        bos: false,
        continuation: Vec::new(),
        top: 10,
        sampler: Sampler {
            temperature: 0.9,
            top_k: 40,
            top_p: 0.95,
            seed: 5,
        },
        search: " Paris".into(),
        surprisal: false,
    }
}

fn next_on(s: &mut Session, req: &NextRequest) -> NextResponse {
    block_on(next::next(loaded(), s, req, &mut go_on))
        .expect("answer")
        .expect("not interrupted")
}

fn same(mut a: NextResponse, mut b: NextResponse) {
    a.computed_tokens = 0;
    b.computed_tokens = 0;
    assert_eq!(a, b);
}

#[test]
fn next_describes_the_whole_vocabulary_and_finds_tokens() {
    let r = next_on(&mut session(), &request("The capital of France is"));
    assert_eq!(r.row.candidates[0].token, " Paris");
    assert_eq!(r.row.vocab_size, 49_152);
    assert_eq!(r.prompt_ids.len(), r.prompt_tokens);
    assert_eq!(
        r.computed_tokens, r.prompt_tokens,
        "a fresh session computes all"
    );
    let hit = r.search.expect("' Paris' is one token");
    assert!(hit.exact && hit.rank == 0 && hit.id == 7042);
    assert!(r.row.sampling.survivors <= 40);
    let p: f64 = r.row.sampling.top.iter().map(|p| p.prob).sum();
    assert!(p <= 1.0 + 1e-12);
}

#[test]
fn generation_is_the_next_answer_applied_step_by_step() {
    let mut req = request("Once upon a time");
    req.sampler = Sampler {
        temperature: 1.1,
        top_k: 50,
        top_p: 0.95,
        seed: 9,
    };
    let gen = GenerateRequest {
        next: req.clone(),
        max_tokens: 4,
        then_score: true,
    };
    let mut seen: Vec<NextResponse> = Vec::new();
    let mut tokens = Vec::new();
    let mut on = async |e: GenerateEvent<'_>| {
        match e {
            GenerateEvent::Scores(s) => seen.push(s.clone()),
            GenerateEvent::Token(t) => tokens.push(t.clone()),
            GenerateEvent::Progress(_) => {}
        }
        true
    };
    let summary = block_on(next::generate(loaded(), &mut session(), &gen, &mut on))
        .expect("generated")
        .expect("not stopped");
    assert_eq!(tokens.len(), 4);
    assert_eq!(seen.len(), 5, "before each draw, and after the last token");
    assert_eq!(summary.ids, tokens.iter().map(|t| t.id).collect::<Vec<_>>());
    // Each step's scores are what `next` answers for that context on a fresh session, and each
    // token is the one those scores draw.
    let mut fresh = session();
    for (k, scores) in seen.iter().enumerate() {
        let mut r = req.clone();
        r.continuation = summary.ids[..k].to_vec();
        let want = next_on(&mut fresh, &r);
        same(scores.clone(), want.clone());
        if let Some(t) = tokens.get(k) {
            assert_eq!(t.id, want.row.sampling.chosen.id);
            assert_eq!(t.step, k as u64);
            assert_eq!(t.prob, want.row.sampling.chosen.prob);
        }
    }
    assert_eq!(
        summary.text,
        next::continuation(loaded(), &summary.ids).text
    );
}

#[test]
fn a_request_given_up_part_way_leaves_a_consistent_cache() {
    let long = "A token is the smallest unit of text a model reads. ".repeat(8);
    let mut s = session();
    let mut looks = 0;
    let mut give_up = async |_: Progress| {
        looks += 1;
        looks < 3
    };
    let r = block_on(next::next(loaded(), &mut s, &request(&long), &mut give_up));
    assert_eq!(r, Ok(None), "stopped at the third look");
    assert!(!s.tokens().is_empty(), "part of the prompt is cached");
    // What follows on the same session equals a fresh session's answer.
    let other = request("The capital of France is");
    same(next_on(&mut s, &other), next_on(&mut session(), &other));
    same(
        next_on(&mut s, &request(&long)),
        next_on(&mut session(), &request(&long)),
    );
}

#[test]
fn the_heatmap_gets_what_surprisal_answers() {
    let text = "The capital of France is Paris.";
    let mut req = request(text);
    req.surprisal = true;
    let r = next_on(&mut session(), &req);
    let report = block_on(surprisal::surprisal(
        loaded(),
        &mut session(),
        text,
        &mut go_on,
    ))
    .expect("scored")
    .expect("not interrupted");
    assert_eq!(r.surprisal, Some(report.clone()));
    assert_eq!(report.tokens[5].token, " Paris");
    assert_eq!(report.tokens[5].rank, Some(0));
    assert!(report.tokens[0].prob.is_none());
    // Chat mode has no heatmap (the template is not the user's text).
    req.chat = true;
    assert_eq!(next_on(&mut session(), &req).surprisal, None);
}

#[test]
fn every_field_is_checked_with_one_message() {
    let check = |f: &dyn Fn(&mut NextRequest)| -> String {
        let mut r = request("x");
        f(&mut r);
        block_on(next::next(loaded(), &mut session(), &r, &mut go_on))
            .expect_err("refused")
            .to_string()
    };
    assert_eq!(
        check(&|r| r.sampler.top_p = 1.5),
        "top-p must be a number from 0 to 1 (got 1.5)"
    );
    assert!(check(&|r| r.top = 0).starts_with("top must be"));
    assert!(check(&|r| r.sampler.temperature = f32::NAN).starts_with("temperature must be"));
    assert!(check(&|r| r.continuation = vec![49_152]).contains("outside the vocabulary"));
    assert!(check(&|r| r.text.clear()).contains("empty"));
    assert!(check(&|r| r.text = "word ".repeat(9000)).contains("reads at most 8192"));
    // Top-p 0 is allowed everywhere: it keeps the most likely token.
    let mut r = request("The capital of France is");
    r.sampler.top_p = 0.0;
    assert_eq!(next_on(&mut session(), &r).row.sampling.survivors, 1);
}

#[test]
fn columns_answer_each_tokenizer_once_and_name_what_is_wrong() {
    let tok = Arc::clone(&loaded().tokenizer);
    let vocab = move |id: &str| match id {
        "smollm2" => VocabState::Ready(Arc::clone(&tok)),
        "gemma3" => VocabState::Loading,
        other => VocabState::Failed(tokens::unknown_tokenizer(other)),
    };
    let req = ColumnsRequest::Tokenize {
        text: "Hola, mundo".into(),
        tokenizers: ["smollm2", "gemma3", "smollm2", "nope"]
            .map(String::from)
            .to_vec(),
    };
    let c = tokens::columns(&req, &vocab, 2).expect("columns").columns;
    assert_eq!(c.len(), 3, "each tokenizer once");
    let ColumnState::Tokens(t) = &c[0].state else {
        panic!("{:?}", c[0]);
    };
    assert_eq!(
        (t.count, t.spans.len(), t.ids.len()),
        (5, 2, 2),
        "counts all, lists 2"
    );
    assert_eq!(c[1].state, ColumnState::Loading);
    let ColumnState::Failed(m) = &c[2].state else {
        panic!("{:?}", c[2]);
    };
    assert!(m.to_string().starts_with("unknown tokenizer 'nope'"));
    let typo = ColumnsRequest::Decode {
        ids: "1, x".into(),
        tokenizers: vec!["smollm2".into()],
    };
    let e: Msg = tokens::columns(&typo, &vocab, 10).unwrap_err();
    assert_eq!(e.to_string(), "“x” is not a token ID (a whole number ≥ 0)");

    // A request naming a hundred thousand different tokenizers is answered with a bounded
    // number of columns (shipped ones plus the files a user may add), not a hundred thousand.
    let many = ColumnsRequest::Tokenize {
        text: "x".into(),
        tokenizers: (0..100_000).map(|i| format!("file:{i}")).collect(),
    };
    let c = tokens::columns(&many, &vocab, 1).expect("columns").columns;
    let most = tokenmeter_core::tokenizer::registry::SHIPPED.len()
        + tokenmeter_core::service::limits::MAX_USER_TOKENIZERS;
    assert_eq!(c.len(), most);
}

/// The synthetic model for benchmarks without the file: all of SmolLM2's 30 blocks by default,
/// or the first few for a quick check of a backend, named so; no blocks or more than 30 is
/// refused with SmolLM2's range.
#[test]
fn a_synthetic_model_keeps_the_blocks_asked_for_and_says_so() {
    // SmolLM2's tokenizer from the file's metadata, read once (each model takes its own).
    let path = root().join("data/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let file = std::fs::File::open(&path).expect("model file");
    let gguf = tokenmeter_core::gguf::Gguf::read(&mut std::io::BufReader::new(file)).expect("GGUF");
    let tok = || {
        tokenmeter_core::tokenizer::TextTokenizer::from_gguf(
            &gguf,
            tokenmeter_core::tokenizer::smollm2_info(),
        )
        .expect("tokenizer")
    };
    let full = LoadedModel::synthetic(tok(), 1, 30).expect("30 blocks");
    assert_eq!(full.model.config().n_layer, 30);
    assert!(!full.name.contains("blocks"), "{}", full.name);
    let short = LoadedModel::synthetic(tok(), 1, 2).expect("2 blocks");
    assert_eq!(short.model.config().n_layer, 2);
    assert!(short.name.contains("2 of 30 blocks"), "{}", short.name);
    for n in [0, 31] {
        let e = LoadedModel::synthetic(tok(), 1, n).err().expect("refused");
        assert_eq!(
            e.to_string(),
            format!("SmolLM2 has blocks 1 to 30, not {n}")
        );
    }
}
