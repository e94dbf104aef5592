//! How a token was built (`service::explain`), for every shipped tokenizer: replaying BPE's
//! merges on a token's own characters ends at that token, for every token the tokenizer itself
//! produces on a multilingual sample of the parity corpus.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tokenmeter_core::service::explain::{self, Alphabet, ExplainRequest};
use tokenmeter_core::tokenizer::registry::{self, SHIPPED};
use tokenmeter_core::tokenizer::TextTokenizer;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped(id: &str) -> TextTokenizer {
    let s = registry::find(id).expect("shipped");
    let json = std::fs::read(root().join(format!("data/tokenizers/{id}.json")))
        .expect("data/tokenizers (run ./dev setup)");
    TextTokenizer::from_json(&json, s.info()).expect("tokenizer")
}

#[test]
fn every_token_a_tokenizer_produces_is_built_by_its_merge_path() {
    let raw = std::fs::read(root().join("data/parity/corpus.json")).expect("corpus");
    let texts: Vec<String> = serde_json::from_slice(&raw).expect("corpus JSON");
    // Every 5th string: 2,000 texts across the corpus's scripts, code, numbers and emoji.
    let sample: Vec<&String> = texts.iter().step_by(5).collect();
    let mut report = Vec::new();
    for s in SHIPPED {
        let tok = shipped(s.id);
        let ids: BTreeSet<u32> = sample
            .iter()
            .flat_map(|t| tok.encode(t).expect("encode"))
            .filter(|&id| !tok.is_added(id))
            .collect();
        let mut bad = Vec::new();
        for &id in &ids {
            let path = tok.merge_path(id).expect("merge path");
            match path {
                Some(p) if p.end == [id] => {
                    // Each step joins two neighbours into one: as many steps as symbols − 1.
                    assert_eq!(p.steps.len(), p.start.len() - 1, "{}: {id}", s.id);
                    // Ranks are what BPE applies: never a later merge while an earlier applies.
                    let bytes: Vec<u8> = p
                        .start
                        .iter()
                        .flat_map(|&i| tok.token_bytes(i).expect("bytes").to_vec())
                        .collect();
                    assert_eq!(bytes, tok.token_bytes(id).expect("bytes"), "{}: {id}", s.id);
                }
                other => bad.push((id, tok.token_display(id).unwrap_or_default(), other)),
            }
        }
        eprintln!(
            "{}: {} tokens, {} not built by their path",
            s.id,
            ids.len(),
            bad.len()
        );
        for b in bad.iter().take(5) {
            eprintln!("  {b:?}");
        }
        if !bad.is_empty() {
            report.push(format!("{}: {} of {}", s.id, bad.len(), ids.len()));
        }
    }
    assert!(
        report.is_empty(),
        "paths that do not end at their token: {report:?}"
    );
}

#[test]
fn paris_is_built_step_by_step_and_compared_across_vocabularies() {
    let smol = shipped("smollm2");
    let o200k = shipped("o200k_base");
    let gemma = shipped("gemma3");
    let req = ExplainRequest {
        text: " Paris".into(),
        id: None,
    };
    let r = explain::explain(&smol, &req, &[&smol, &o200k, &gemma]).expect("explain");
    assert_eq!(r.alphabet, Alphabet::ByteLevel);
    assert_eq!(r.tokens.len(), 1);
    let t = &r.tokens[0];
    assert_eq!((t.id, t.token.as_str()), (7042, " Paris"));
    let path = t.path.as_ref().expect("path");
    assert!(path.builds_token);
    let start: Vec<&str> = path.start.iter().map(|s| s.token.as_str()).collect();
    assert_eq!(start, [" ", "P", "a", "r", "i", "s"]);
    assert_eq!(path.steps.last().expect("steps").result.id, 7042);
    // Each step's rank is the lowest among the pairs present: later steps may have lower ranks
    // only because they join what an earlier step made.
    assert!(path
        .steps
        .iter()
        .all(|s| s.result.token == s.left.token.clone() + &s.right.token));
    // The same text elsewhere, the explained vocabulary itself left out.
    assert_eq!(r.elsewhere.len(), 2);
    assert_eq!(r.elsewhere[0].tokenizer, "o200k_base");
    assert_eq!(r.elsewhere[0].ids, o200k.encode(" Paris").expect("encode"));
    assert_eq!(r.elsewhere[0].single, r.elsewhere[0].ids.len() == 1);

    // SentencePiece style: Gemma's pieces start from "▁"-spelled characters, spaces shown as such.
    let r = explain::explain(&gemma, &req, &[]).expect("explain");
    assert_eq!(r.alphabet, Alphabet::SentencePiece);
    let path = r.tokens[0].path.as_ref().expect("path");
    assert!(path.builds_token);
    assert_eq!(path.start[0].token, " ");

    // By ID; a special token has no path, with a reason; an unknown ID is an error.
    let im_start = smol.encode("<|im_start|>").expect("encode")[0];
    let r = explain::explain(
        &smol,
        &ExplainRequest {
            text: String::new(),
            id: Some(im_start),
        },
        &[],
    )
    .expect("explain");
    assert!(r.tokens[0].special && r.tokens[0].path.is_none());
    assert!(r.tokens[0].note.is_some());
    let bad = ExplainRequest {
        text: String::new(),
        id: Some(10_000_000),
    };
    assert!(explain::explain(&smol, &bad, &[]).is_err());
    let empty = ExplainRequest {
        text: String::new(),
        id: None,
    };
    assert!(explain::explain(&smol, &empty, &[]).is_err());
}
