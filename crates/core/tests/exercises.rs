//! Every shipped exercise set parses, and every exercise's sample answer meets its goal with the
//! real tokenizers, the real model and the real price table — so no exercise is impossible.
//! (Native only: the sets are read from TOML, which the wasm builds do not carry.)
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokenmeter_core::cost::{self, PriceTable, Usage};
use tokenmeter_core::distribution::{self, Distribution};
use tokenmeter_core::exercises::{done, ExerciseSet, Index, Observed};
use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::model::{Model, Session};
use tokenmeter_core::tokenizer::registry::SHIPPED;
use tokenmeter_core::tokenizer::TextTokenizer;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tokenizer(id: &str) -> TextTokenizer {
    let s = SHIPPED
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} is not shipped"));
    let json = std::fs::read(root().join(format!("data/tokenizers/{id}.json")))
        .expect("data (./dev setup)");
    TextTokenizer::from_json(&json, s.info()).expect("tokenizer")
}

fn model() -> (Arc<Model>, TextTokenizer) {
    let path = root().join("data/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut reader =
        std::io::BufReader::new(std::fs::File::open(path).expect("model (./dev setup)"));
    let gguf = Gguf::read(&mut reader).expect("GGUF");
    let tok =
        TextTokenizer::from_gguf(&gguf, tokenmeter_core::tokenizer::smollm2_info()).expect("tok");
    (
        Arc::new(Model::from_gguf(&gguf, &mut reader).expect("model")),
        tok,
    )
}

#[test]
fn every_shipped_answer_meets_its_goal_and_the_start_does_not() {
    let dir = root().join("exercises");
    let index = Index::parse(&std::fs::read_to_string(dir.join("index.toml")).expect("index"))
        .expect("index");
    let prices = PriceTable::from_json(
        &std::fs::read(root().join("data/prices/prices.json")).expect("prices"),
    )
    .expect("price table");
    let (model, model_tok) = model();
    let mut checked = 0;
    for set_id in &index.sets {
        let set = ExerciseSet::parse(
            &std::fs::read_to_string(dir.join(format!("{set_id}.toml"))).expect("set"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for (lang, _) in set.title.0.iter() {
            for e in &set.exercises {
                assert!(!e.prompt.get(lang).is_empty(), "{}: no {lang} prompt", e.id);
            }
        }
        for e in &set.exercises {
            for (text, is_answer) in [(e.answer.as_str(), true), (e.start.text.as_str(), false)] {
                let mut o = Observed {
                    text,
                    ..Observed::default()
                };
                for t in &e.start.columns {
                    o.counts
                        .insert(t.clone(), tokenizer(t).encode(text).expect("encode").len());
                }
                if e.goal.needs_model() && !text.is_empty() {
                    let mut session = Session::new(model.clone());
                    let ids = model_tok.encode(text).expect("encode");
                    let logits = session.next_logits(&ids).expect("forward");
                    let top = distribution::top_k(logits, 1)[0].0;
                    o.top_token = Some(
                        String::from_utf8_lossy(model_tok.token_bytes(top).expect("bytes")).into(),
                    );
                    o.entropy_bits =
                        Some(Distribution::of(logits).entropy_nats / std::f64::consts::LN_2);
                }
                if e.goal.needs_inside() && !text.is_empty() {
                    let ids = model_tok.encode(text).expect("encode");
                    let last = ids.len() - 1;
                    let seen = model.inspect(&ids, last).expect("inspect");
                    let top1 = |l: usize| distribution::top_k(seen.lens_row(l), 1)[0].0;
                    let answer = top1(seen.n_layer - 1);
                    let first = (0..seen.n_layer)
                        .find(|&l| top1(l) == answer)
                        .expect("last")
                        + 1;
                    let answer_text =
                        String::from_utf8_lossy(model_tok.token_bytes(answer).expect("bytes"));
                    o.lens_first_top = Some((answer_text.into_owned(), first));
                    // The answer's head for the answer; the page's first head for the start.
                    let (b, h) = match e.answer_head.split_once('/') {
                        Some((b, h)) if is_answer => (
                            b.parse::<usize>().expect("block"),
                            h.parse::<usize>().expect("head"),
                        ),
                        _ => (1, 1),
                    };
                    if last >= 1 {
                        o.chosen_head_previous =
                            Some(f64::from(seen.attention_row(b - 1, h - 1)[last - 1]));
                    }
                }
                for r in &e.goal.merges {
                    let tok = tokenizer(&r.tokenizer);
                    let merges: usize = tok
                        .encode(text)
                        .expect("encode")
                        .iter()
                        .map(|&id| {
                            tok.merge_path(id)
                                .expect("merge path")
                                .map_or(0, |p| p.steps.len())
                        })
                        .sum();
                    o.merges.insert(r.tokenizer.clone(), merges);
                }
                if let Some(rule) = &e.goal.input_cost_per_1000_above {
                    let price = prices.get(&rule.model).expect("priced model");
                    let counting = cost::counting_for(&rule.model);
                    let n = tokenizer(&counting.tokenizer)
                        .encode(text)
                        .expect("encode")
                        .len() as u64;
                    let c = cost::cost(
                        price,
                        &Usage {
                            input_tokens: n,
                            output_tokens: 0,
                            cached_share: 0.0,
                            batch: false,
                        },
                    );
                    o.input_cost_per_1000 =
                        BTreeMap::from([(rule.model.clone(), c.input_usd * 1000.0)]);
                }
                let checks = e.goal.check(&o);
                if is_answer {
                    assert!(
                        done(&checks),
                        "{}/{}: the answer {text:?} fails: {checks:?}",
                        set.id,
                        e.id
                    );
                    checked += 1;
                } else {
                    assert!(
                        !done(&checks),
                        "{}/{}: the starting text already meets the goal",
                        set.id,
                        e.id
                    );
                }
            }
        }
    }
    assert!(checked >= 11, "{checked} exercises checked");
}
