//! Tokenizer parity: every shipped tokenizer against its reference encoder on the 10,000-string
//! corpus (`cargo xtask vocab` writes it; `./dev reference` writes the expected hashes with
//! llama.cpp, Python `tokenizers`, gpt-tokenizer and llama3-tokenizer-js).
//! The same comparison runs in wasm in headless Chromium (`tests/e2e/parity.test.mjs`).

use std::path::PathBuf;

use tokenmeter_core::tokenizer::registry::SHIPPED;
use tokenmeter_core::tokenizer::TextTokenizer;

#[path = "../../../xtask/src/corpus.rs"]
mod corpus;

/// FNV-1a (32-bit) of an ID sequence: its length, then each ID's four little-endian bytes. The
/// reference scripts and the browser test compute the same, so fixtures hold 8 hex digits per
/// string.
pub fn hash_ids(ids: &[u32]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    let mut eat = |b: u8| {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    };
    for b in (ids.len() as u32).to_le_bytes() {
        eat(b);
    }
    for id in ids {
        for b in id.to_le_bytes() {
            eat(b);
        }
    }
    h
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The corpus, and the expected hashes for `id` (after checking they were made from this corpus).
fn load(id: &str) -> (Vec<String>, Vec<u32>, String) {
    let raw = std::fs::read(root().join("data/parity/corpus.json"))
        .expect("data/parity/corpus.json (run ./dev setup)");
    let texts: Vec<String> = serde_json::from_slice(&raw).expect("corpus JSON");
    let fixture = std::fs::read_to_string(root().join(format!("tests/fixtures/parity/{id}.txt")))
        .expect("parity fixture");
    let mut lines = fixture.lines();
    let header = lines.next().expect("header").to_string();
    let hashes: Vec<u32> = lines
        .map(|l| u32::from_str_radix(l, 16).expect("hex"))
        .collect();
    assert_eq!(
        hashes.len(),
        texts.len(),
        "{id}: fixture and corpus differ in length"
    );
    (texts, hashes, header)
}

#[test]
fn every_shipped_tokenizer_matches_its_reference_on_the_corpus() {
    let mut report = Vec::new();
    for s in SHIPPED {
        let (texts, want, header) = load(s.id);
        let json = std::fs::read(root().join(format!("data/tokenizers/{}.json", s.id)))
            .expect("data/tokenizers (run ./dev setup)");
        let tok = TextTokenizer::from_json(&json, s.info()).expect("tokenizer");
        let mut bad = Vec::new();
        for (i, (text, &h)) in texts.iter().zip(&want).enumerate() {
            let ids = tok.encode(text).expect("encode");
            if hash_ids(&ids) != h {
                bad.push((i, text.clone(), ids));
            }
        }
        eprintln!(
            "{}: {}/{} identical ({})",
            s.id,
            texts.len() - bad.len(),
            texts.len(),
            header.trim_start_matches("# ")
        );
        for (i, text, ids) in bad.iter().take(3) {
            eprintln!("  #{i} {text:?} → ours {ids:?}");
        }
        if !bad.is_empty() {
            report.push(format!("{}: {} of {} differ", s.id, bad.len(), texts.len()));
        }
    }
    assert!(report.is_empty(), "parity failures: {report:?}");
}

/// The corpus file is the generator's output (fixtures are only valid for that corpus).
#[test]
fn the_corpus_is_the_generated_one() {
    let raw = std::fs::read(root().join("data/parity/corpus.json")).expect("corpus");
    let texts: Vec<String> = serde_json::from_slice(&raw).expect("corpus JSON");
    assert_eq!(texts, corpus::corpus(texts.len()));
    assert!(texts.len() >= 10_000);
}
