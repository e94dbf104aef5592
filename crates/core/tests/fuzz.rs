//! Property tests on everything a stranger can hand tokenmeter: a link's fragment, typed token
//! IDs, a tokenizer.json, a GGUF file, and the scores a damaged model produces; plus the
//! quantized kernels against their scalar definition.
//!
//! Each property runs a bounded number of generated cases inside `cargo test` (stable, no
//! network); proptest shrinks a failure to a small input and prints it. The same targets run
//! for as long as one likes with cargo-fuzz (`fuzz/`, nightly; see SECURITY.md). Every crash
//! found is pinned below as a plain `#[test]` (`regression_*`).
//!
//! Set `PROPTEST_CASES` to run more cases, e.g. `PROPTEST_CASES=20000 cargo test --test fuzz`.

#![cfg(not(target_arch = "wasm32"))]

use std::io::Cursor;

use base64::Engine as _;
use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use proptest::prelude::*;
use proptest::test_runner::Config;

use tokenmeter_core::distribution::{top_k, Distribution};
use tokenmeter_core::model::quant::{Format, Q8Row, QMatrix, QK};
use tokenmeter_core::sampling::{decide, filter, Sampler};
use tokenmeter_core::service::limits::{
    MAX_CONTINUATION, MAX_IDS, MAX_QUERY_BYTES, MAX_TEXT_BYTES, TOP,
};
use tokenmeter_core::service::link::{self, Shared};
use tokenmeter_core::service::model::LoadedModel;
use tokenmeter_core::service::next::check_sampler;
use tokenmeter_core::service::tokens::{parse_typed_ids, read_tokenizer_file};
use tokenmeter_core::tokenizer::byte_level::byte_to_char;
use tokenmeter_core::tokenizer::parse_ids;
use tokenmeter_core::tokenizer::registry::SHIPPED;

/// Cases per property: enough to matter in every `cargo test`, small enough to keep it quick.
/// `PROPTEST_CASES` (read by proptest) overrides it for longer runs.
fn cases(n: u32) -> Config {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- links ---------------------------------------------------------------------------------

/// A `#s=` fragment holding exactly `json`, however it was made.
fn fragment_of(json: &[u8]) -> String {
    format!(
        "#s={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(miniz_oxide::deflate::compress_to_vec(json, 6))
    )
}

/// Numbers a crafted link might hold where a setting belongs.
fn wild_number() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<f64>().prop_map(|v| serde_json::json!(v)),
        any::<i64>().prop_map(|v| serde_json::json!(v)),
        any::<u64>().prop_map(|v| serde_json::json!(v)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(1e308)),
        Just(serde_json::json!(0)),
        Just(serde_json::json!("NaN")),
        Just(serde_json::Value::Null),
    ]
}

fn short_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect())
}

/// A tokenizer name: usually a shipped one (repeated), sometimes anything.
fn column() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0..SHIPPED.len()).prop_map(|i| SHIPPED[i].id.to_string()),
        1 => short_text(),
    ]
}

/// A link state as a stranger might write it: the right keys with wrong, huge, repeated or
/// missing values.
fn crafted_state() -> impl Strategy<Value = serde_json::Value> {
    (
        (
            short_text(),
            proptest::collection::vec(column(), 0..300),
            any::<bool>(),
            short_text(),
            proptest::collection::vec((any::<u32>(), any::<bool>()), 0..50),
        ),
        (
            wild_number(),
            wild_number(),
            wild_number(),
            wild_number(),
            wild_number(),
        ),
        (
            wild_number(),
            wild_number(),
            wild_number(),
            wild_number(),
            wild_number(),
        ),
        (wild_number(), wild_number(), short_text(), short_text()),
        (short_text(), short_text(), any::<u32>()),
    )
        .prop_map(
            |(
                (text, columns, decode, ids, cont),
                (top, temp, top_p, seed, top_k),
                (cached, out, rpd, usd, mfu),
                (batch, pue, gpu, model),
                (lang, exercise, v),
            )| {
                serde_json::json!({
                    "v": v % 3,
                    "text": text,
                    "columns": columns,
                    "decode": decode,
                    "ids": ids,
                    "settings": {
                        "top": top,
                        "sampler": {"temperature": temp, "top_k": top_k, "top_p": top_p, "seed": seed},
                        "search": "x",
                    },
                    "continuation": cont.iter().map(|(id, f)| serde_json::json!({"id": id, "forced": f, "text": "never shown"})).collect::<Vec<_>>(),
                    "cost": {
                        "cached_share": cached, "output_tokens": out, "requests_per_day": rpd,
                        "physics_model": model,
                        "assumptions": {"gpu": gpu, "usd_per_gpu_hour": usd, "mfu": mfu, "batch": batch, "pue": pue},
                    },
                    "lang": lang,
                    "exercise": exercise,
                })
            },
        )
}

/// Columns a page can show: some, each shipped, each once.
fn assert_shipped(columns: &[String]) {
    assert!(!columns.is_empty() && columns.len() <= SHIPPED.len());
    for (i, c) in columns.iter().enumerate() {
        assert!(SHIPPED.iter().any(|t| t.id == c), "{c} is not shipped");
        assert!(!columns[..i].contains(c), "{c} twice");
    }
}

/// What every sanitised state satisfies, whatever the link said.
fn assert_usable(s: &Shared) {
    assert_shipped(&s.columns);
    assert!(s.text.len() <= MAX_TEXT_BYTES);
    assert!(s.ids.len() <= MAX_IDS * 12);
    assert!(s.settings.search.len() <= MAX_QUERY_BYTES);
    assert!(s.cost.search.len() <= MAX_QUERY_BYTES);
    assert!(s.continuation.len() <= MAX_CONTINUATION);
    // Every setting passes the checks a request from the page gets.
    TOP.check(s.settings.top as f64).expect("top");
    check_sampler(&s.settings.sampler).expect("sampler");
    s.cost.check().expect("cost settings");
    assert!(s.lang.len() <= 8 && s.exercise.len() <= 100);
}

proptest! {
    #![proptest_config(cases(1000))]

    /// Any fragment at all: an answer (state, nothing, or an error), never a panic.
    #[test]
    fn any_fragment_is_answered(tail in ".{0,200}", raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = link::decode(&format!("#s={tail}"));
        assert_shipped(&link::columns_at(&format!("#s={tail}")));
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
        let columns = link::columns_at(&format!("#s={b64}"));
        assert_shipped(&columns);
        if let Ok(Some(s)) = link::decode(&format!("#s={b64}")) {
            let s = link::sanitize(s).0;
            assert_usable(&s);
            prop_assert_eq!(&columns, &s.columns);
        }
    }

    /// A crafted state opens as a usable one; sanitising twice changes nothing more, and the
    /// sanitised state survives its own link unchanged.
    #[test]
    fn a_crafted_link_opens_as_a_usable_state(state in crafted_state()) {
        let json = serde_json::to_vec(&state).expect("json");
        let Ok(Some(decoded)) = link::decode(&fragment_of(&json)) else {
            // Wrong types (a string where a number belongs) are refused as a whole: fine.
            return Ok(());
        };
        let (clean, _) = link::sanitize(decoded);
        assert_usable(&clean);
        // What the tokens worker starts downloading before the page has read the link.
        prop_assert_eq!(&link::columns_at(&fragment_of(&json)), &clean.columns);
        let (again, notes) = link::sanitize(clean.clone());
        prop_assert_eq!(&again, &clean);
        prop_assert!(notes.is_empty(), "{:?}", notes);
        let reopened = link::decode(&link::encode(&clean)).expect("decodes").expect("state");
        prop_assert_eq!(reopened, clean);
    }

    /// IDs as typed: any text is parsed or named as wrong; real lists round-trip whatever the
    /// separators; the typed form is cut to MAX_IDS and says so.
    #[test]
    fn typed_ids_parse_or_name_the_bad_entry(junk in ".{0,100}", ids in proptest::collection::vec(any::<u32>(), 0..60), sep in prop_oneof![Just(", "), Just(" "), Just("\n"), Just(",")], bracket in any::<bool>()) {
        let _ = parse_ids(&junk);
        let _ = parse_typed_ids(&junk);
        let body = ids.iter().map(u32::to_string).collect::<Vec<_>>().join(sep);
        let typed = if bracket { format!("[{body}]") } else { body };
        prop_assert_eq!(parse_ids(&typed).expect("ids"), ids.clone());
        let (parsed, cut) = parse_typed_ids(&typed).expect("ids");
        prop_assert_eq!(parsed, ids);
        prop_assert_eq!(cut, None);
    }
}

#[test]
fn too_many_typed_ids_are_cut_and_say_so() {
    let typed = vec!["7"; MAX_IDS + 10].join(" ");
    let (ids, cut) = parse_typed_ids(&typed).expect("ids");
    assert_eq!(ids.len(), MAX_IDS);
    assert_eq!(cut, Some(MAX_IDS + 10));
}

// ---- tokenizer.json ----------------------------------------------------------------------------

/// A small byte-level BPE tokenizer.json: the 256-byte alphabet, a few merges, one special
/// token. `ids` shifts and scatters its IDs; `extra` adds sections a file may carry.
fn tokenizer_json(shift: u32, added_id: u32, extra: &serde_json::Value) -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    for b in 0..=255u8 {
        vocab.insert(byte_to_char(b).to_string(), (u32::from(b) + shift).into());
    }
    for (i, piece) in ["Ġt", "he", "Ġthe"].iter().enumerate() {
        vocab.insert(piece.to_string(), (256 + i as u32 + shift).into());
    }
    let mut json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{"id": added_id, "content": "<|endoftext|>", "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": ["Ġ t", "h e", "Ġt he"]}
    });
    if let (Some(obj), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    json
}

/// What a file may add: truncation and padding of any size, sections of the wrong type.
fn tokenizer_extra() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::json!({})),
        any::<u32>().prop_map(|n| serde_json::json!({"truncation": {"direction": "Right",
            "max_length": n, "strategy": "LongestFirst", "stride": n / 2}})),
        any::<u32>().prop_map(|n| serde_json::json!({"padding": {"strategy": {"Fixed": n},
            "direction": "Right", "pad_to_multiple_of": n, "pad_id": n, "pad_type_id": 0, "pad_token": "x"}})),
        Just(serde_json::json!({"model": {"type": "WordPiece", "vocab": {"a": 0}}})),
        Just(serde_json::json!({"decoder": null})),
        Just(serde_json::json!({"added_tokens": "not a list"})),
    ]
}

const SAMPLE: &str = "the theory, then 42 — ünïcödé 🙂 <|endoftext|> the";

/// A loaded tokenizer tokenizes any text into IDs its own tables describe.
fn assert_ids_within_tables(tok: &tokenmeter_core::tokenizer::TextTokenizer) {
    for text in [SAMPLE, "", " ", "\u{0}\u{ffff}"] {
        if let Ok(tokens) = tok.tokenize(text) {
            for t in tokens {
                assert!((t.id as usize) < tok.vocab_size());
            }
        }
    }
}

/// A loaded file tokenizes any text into IDs its own tables describe.
fn assert_tokenizes(bytes: &[u8]) {
    if let Ok((tok, added)) = read_tokenizer_file(bytes, "fuzzed.json", "file:1") {
        assert!(added.entries <= tok.vocab_size());
        assert_ids_within_tables(&tok);
    }
}

proptest! {
    #![proptest_config(cases(500))]

    /// Structured: IDs anywhere in u32 (a gap that would ask for gigabytes is refused), any
    /// truncation or padding (dropped, never applied), wrong sections (named).
    #[test]
    fn a_crafted_tokenizer_json_loads_or_is_refused(shift in prop_oneof![Just(0u32), 0u32..70_000, any::<u32>()], added in any::<u32>(), extra in tokenizer_extra()) {
        let json = tokenizer_json(shift.min(u32::MAX - 300), added, &extra);
        let bytes = serde_json::to_vec(&json).expect("json");
        assert_tokenizes(&bytes);
    }

    /// Byte-level damage to a valid file: a refusal with a message, never a panic.
    #[test]
    fn a_damaged_tokenizer_json_is_refused_or_loads(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let mut bytes = serde_json::to_vec(&tokenizer_json(0, 259, &serde_json::json!({}))).expect("json");
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        assert_tokenizes(&bytes);
    }
}

/// A packed vocabulary (what the page downloads) read back, tokenizing within its own tables.
fn assert_packed_tokenizes(bytes: &[u8], info: &tokenmeter_core::tokenizer::TokenizerInfo) {
    if let Ok(tok) = tokenmeter_core::tokenizer::TextTokenizer::from_packed(bytes, info.clone()) {
        assert_ids_within_tables(&tok);
    }
}

proptest! {
    #![proptest_config(cases(500))]

    /// A packed vocabulary damaged in transit or by hand: refused with a reason, or a tokenizer
    /// whose IDs stay in its own tables — never a panic or an allocation sized by a bad count.
    #[test]
    fn a_damaged_packed_vocabulary_is_refused_or_loads(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let json = serde_json::to_vec(&tokenizer_json(0, 259, &serde_json::json!({}))).expect("json");
        let (tok, _) = read_tokenizer_file(&json, "t.json", "file:1").expect("the sample loads");
        let mut bytes = tok.to_packed().expect("packs");
        // The header is JSON (its damage is the tokenizer.json tests'); aim at the numbers too.
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        assert_packed_tokenizes(&bytes, tok.info());
    }
}

#[test]
fn truncation_and_padding_in_a_file_are_ignored() {
    for extra in [
        serde_json::json!({"truncation": {"direction": "Right", "max_length": 2,
            "strategy": "LongestFirst", "stride": 5}}),
        serde_json::json!({"padding": {"strategy": {"Fixed": 1_000_000_000u32}, "direction": "Right",
            "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "x"}}),
    ] {
        let bytes = serde_json::to_vec(&tokenizer_json(0, 259, &extra)).expect("json");
        let (tok, _) = read_tokenizer_file(&bytes, "t.json", "file:1").expect("loads");
        let long = " the".repeat(300);
        assert_eq!(
            tok.tokenize(&long).expect("tokenizes").len(),
            300,
            "{extra}"
        );
    }
}

#[test]
fn the_sample_tokenizer_json_is_well_formed() {
    // The fixture the properties damage must itself load, or they test nothing.
    let bytes = serde_json::to_vec(&tokenizer_json(0, 259, &serde_json::json!({}))).expect("json");
    let (tok, added) = read_tokenizer_file(&bytes, "t.json", "file:1").expect("loads");
    assert_eq!(added.entries, 260);
    assert_eq!(tok.encode(" the").expect("encode"), vec![258]);
    assert_eq!(tok.encode("<|endoftext|>").expect("encode"), vec![259]);
}

// ---- GGUF ----------------------------------------------------------------------------------

/// A complete tiny Llama in GGUF form (dim 32, 2 heads, 1 layer, the 256-byte vocabulary plus
/// a few merges): every key and tensor tokenmeter reads, real formats (Q8_0 and Q4_1 weights,
/// f32 norms), 21 KB.
fn tiny_llama() -> Vec<u8> {
    use gguf_file::Value;
    let (dim, ffn, vocab) = (32usize, 64usize, 260usize);
    let mut tokens: Vec<Value> = (0..=255u8)
        .map(|b| Value::String(byte_to_char(b).to_string()))
        .collect();
    for t in ["Ġt", "he", "Ġthe", "<|endoftext|>"] {
        tokens.push(Value::String(t.into()));
    }
    let mut types = vec![Value::I32(1); vocab];
    types[vocab - 1] = Value::I32(3);
    let merges = ["Ġ t", "h e", "Ġt he"]
        .iter()
        .map(|m| Value::String(m.to_string()))
        .collect();
    let u = |v: u32| Value::U32(v);
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("tiny".into())),
        ("general.alignment", u(32)),
        ("llama.embedding_length", u(dim as u32)),
        ("llama.block_count", u(1)),
        ("llama.attention.head_count", u(2)),
        ("llama.attention.head_count_kv", u(1)),
        ("llama.feed_forward_length", u(ffn as u32)),
        ("llama.context_length", u(64)),
        ("llama.rope.freq_base", Value::F32(10_000.0)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("smollm".into())),
        ("tokenizer.ggml.tokens", Value::Array(tokens)),
        ("tokenizer.ggml.token_type", Value::Array(types)),
        ("tokenizer.ggml.merges", Value::Array(merges)),
        ("tokenizer.ggml.eos_token_id", u(vocab as u32 - 1)),
    ];
    let dev = Device::Cpu;
    let mut seed = 0u32;
    let mut weights = |rows: usize, cols: usize, dtype: GgmlDType| {
        seed += 1;
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| ((i as f32 * 0.37 + seed as f32).sin()) * 0.2)
            .collect();
        let shape = if rows == 1 {
            vec![cols]
        } else {
            vec![rows, cols]
        };
        let t = Tensor::from_vec(data, shape, &dev).expect("tensor");
        QTensor::quantize(&t, dtype).expect("quantize")
    };
    let kv = 16;
    let tensors: Vec<(String, QTensor)> = vec![
        (
            "token_embd.weight".into(),
            weights(vocab, dim, GgmlDType::Q8_0),
        ),
        (
            "blk.0.attn_q.weight".into(),
            weights(dim, dim, GgmlDType::Q4_1),
        ),
        (
            "blk.0.attn_k.weight".into(),
            weights(kv, dim, GgmlDType::Q4_1),
        ),
        (
            "blk.0.attn_v.weight".into(),
            weights(kv, dim, GgmlDType::Q8_0),
        ),
        (
            "blk.0.attn_output.weight".into(),
            weights(dim, dim, GgmlDType::Q4_1),
        ),
        (
            "blk.0.ffn_gate.weight".into(),
            weights(ffn, dim, GgmlDType::Q4_1),
        ),
        (
            "blk.0.ffn_up.weight".into(),
            weights(ffn, dim, GgmlDType::Q4_1),
        ),
        (
            "blk.0.ffn_down.weight".into(),
            weights(dim, ffn, GgmlDType::Q8_0),
        ),
        (
            "blk.0.attn_norm.weight".into(),
            weights(1, dim, GgmlDType::F32),
        ),
        (
            "blk.0.ffn_norm.weight".into(),
            weights(1, dim, GgmlDType::F32),
        ),
        ("output_norm.weight".into(), weights(1, dim, GgmlDType::F32)),
    ];
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut out = Cursor::new(Vec::new());
    gguf_file::write(&mut out, &md, &ts).expect("write gguf");
    out.into_inner()
}

fn tiny() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(tiny_llama)
}

/// Reads `bytes` the way the page and `--model` do; if it loads, it also runs.
fn load_and_run(bytes: &[u8]) {
    if let Ok(m) = LoadedModel::read(&mut Cursor::new(bytes)) {
        let mut session = tokenmeter_core::model::Session::new(std::sync::Arc::clone(&m.model));
        if let Ok(ids) = m.tokenizer.encode(" the theory") {
            if !ids.is_empty() {
                let _ = session.next_logits(&ids);
            }
        }
    }
    // The tokenizer alone, as a dropped tokenizer file.
    assert_tokenizes_gguf(bytes);
}

fn assert_tokenizes_gguf(bytes: &[u8]) {
    if let Ok((tok, _)) = read_tokenizer_file(bytes, "fuzzed.gguf", "file:1") {
        if let Ok(tokens) = tok.tokenize(SAMPLE) {
            assert!(tokens.iter().all(|t| (t.id as usize) < tok.vocab_size()));
        }
    }
}

#[test]
fn the_tiny_llama_loads_and_runs() {
    // The fixture the properties damage must itself load and run, or they test nothing.
    let m = LoadedModel::read(&mut Cursor::new(tiny())).expect("tiny llama loads");
    let ids = m.tokenizer.encode(" the theory").expect("encode");
    assert_eq!(ids[0], 258, "' the' is one merged token");
    let mut session = tokenmeter_core::model::Session::new(std::sync::Arc::clone(&m.model));
    let logits = session.next_logits(&ids).expect("runs");
    assert_eq!(logits.len(), 260);
    assert!(logits.iter().all(|z| z.is_finite()));
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Bytes overwritten anywhere (header counts, lengths, types, offsets, tensor data) or the
    /// file cut short: refused with a message or loaded, never a panic or a huge allocation.
    #[test]
    fn a_damaged_gguf_is_refused_or_loads(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let mut bytes = tiny().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        load_and_run(&bytes);
    }

    /// The header is where lengths and counts live: damage concentrated in its first 2 KB,
    /// including whole 8-byte little-endian counts set to extreme values.
    #[test]
    fn a_crafted_gguf_header_is_refused_or_loads(at in 0usize..2048, word in prop_oneof![any::<u64>(), Just(u64::MAX), Just(0u64), Just(1u64 << 40), Just(0x8000_0000u64)], width in prop_oneof![Just(1usize), Just(4), Just(8)]) {
        let mut bytes = tiny().to_vec();
        let at = at.min(bytes.len() - width);
        bytes[at..at + width].copy_from_slice(&word.to_le_bytes()[..width]);
        load_and_run(&bytes);
    }
}

/// Found by `a_damaged_gguf_is_refused_or_loads` (PROPTEST_CASES=50000): a tensor with a
/// dimension of 0 reached candle, which views its zero bytes through a dangling pointer as a
/// slice of blocks (undefined behaviour; a debug build aborts the process). Now refused first.
#[test]
fn regression_an_empty_tensor_is_refused_before_candle_reads_it() {
    let mut bytes = tiny().to_vec();
    // Tensor info: name (u64 length + bytes), n_dims (u32), dims (u64 each), type, offset.
    let name = b"output_norm.weight";
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .expect("tensor info")
        + name.len();
    assert_eq!(bytes[at..at + 4], 1u32.to_le_bytes(), "one dimension");
    bytes[at + 4..at + 12].copy_from_slice(&0u64.to_le_bytes());
    let err = LoadedModel::read(&mut Cursor::new(&bytes))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("impossible shape"), "{err}");
}

// ---- scores that are not numbers ------------------------------------------------------------

fn wild_logit() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -30.0f32..30.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(f32::MAX),
        1 => Just(f32::MIN),
        1 => any::<f32>(),
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Whatever the scores (NaN, ±∞, extremes), the sampler answers in bounded time with a token
    /// of the vocabulary, filter and decide agree on it, and top-k lists real IDs.
    #[test]
    fn sampling_terminates_with_a_real_token(logits in proptest::collection::vec(wild_logit(), 1..300), temperature in prop_oneof![Just(0.0f32), 0.01f32..5.0, Just(f32::NAN)], k in 0usize..400, top_p in 0.0f32..=1.0, seed in any::<u64>(), step in 0u64..1000) {
        let s = Sampler { temperature, top_k: k, top_p, seed };
        let d = decide(&logits, &s, step, 10);
        prop_assert!((d.token as usize) < logits.len());
        prop_assert!(d.survivors >= 1 && d.survivors <= logits.len());
        let f = filter(&logits, &s);
        prop_assert!(f.tokens.iter().all(|&(id, _)| (id as usize) < logits.len()));
        for (id, _) in top_k(&logits, 20) {
            prop_assert!((id as usize) < logits.len());
        }
        let _ = Distribution::of(&logits);
        if logits.iter().all(|z| z.is_finite()) {
            // Finite scores: one answer, whichever way it is computed.
            prop_assert_eq!(f.pick(tokenmeter_core::sampling::uniform(seed, step)), d.token);
            let dist = Distribution::of(&logits);
            prop_assert!(dist.entropy_nats.is_finite() && dist.entropy_nats >= -1e-9);
        }
    }
}

/// A damaged model's non-finite scores are refused with a message, not shown as probabilities.
#[test]
fn a_model_that_produces_nan_is_refused() {
    let mut bytes = tiny().to_vec();
    // Token 258's embedding row is one Q8_0 block (an f16 scale, 32 bytes): its scale becomes
    // NaN, and so does everything computed from that token.
    let row = find_tensor_data(&bytes, "token_embd.weight") + 258 * 34;
    bytes[row..row + 2].copy_from_slice(&half::f16::NAN.to_bits().to_le_bytes());
    let m = LoadedModel::read(&mut Cursor::new(&bytes)).expect("still a valid file");
    let mut session = tokenmeter_core::model::Session::new(std::sync::Arc::clone(&m.model));
    let err = session.next_logits(&[258]).expect_err("refused");
    assert!(
        err.to_string().contains("scores that are not numbers"),
        "{err}"
    );
}

/// Offset of a tensor's data in a GGUF file (read back through tokenmeter's own reader).
fn find_tensor_data(bytes: &[u8], name: &str) -> usize {
    let content = gguf_file::Content::read(&mut Cursor::new(bytes)).expect("gguf");
    let info = &content.tensor_infos[name];
    content.tensor_data_offset as usize + info.offset as usize
}

// ---- quantized kernels ----------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(1000))]

    /// Whatever kernel this machine's matmul picks (AVX2, simd128, scalar), any blocks (random
    /// bits, scales of any finite size) and any activations give the scalar definition's bits.
    #[test]
    fn quantized_matmul_equals_the_scalar_definition(q4 in any::<bool>(), rows in 1usize..9, blocks in 1usize..4, seq in 1usize..6, raw in proptest::collection::vec(any::<u8>(), 8 * 3 * 34), scale in prop_oneof![Just(1.0f32), 1e-4f32..1e4], xs in proptest::collection::vec(-1e3f32..1e3, 5 * 3 * 32)) {
        let cols = blocks * QK;
        let format = if q4 { Format::Q4_1 } else { Format::Q8_0 };
        let per_block = format.block_bytes();
        let mut bytes = raw[..rows * blocks * per_block].to_vec();
        // Scales (and Q4_1's minimum) as finite f16s (a NaN scale gives NaN scores, which the
        // session refuses: see `a_model_that_produces_nan_is_refused`).
        for b in 0..rows * blocks {
            let at = b * per_block;
            let d = half::f16::from_f32(scale * (1.0 + bytes[at] as f32 / 255.0));
            bytes[at..at + 2].copy_from_slice(&d.to_bits().to_le_bytes());
            if q4 {
                let m = half::f16::from_f32(-scale * bytes[at + 2] as f32 / 255.0);
                bytes[at + 2..at + 4].copy_from_slice(&m.to_bits().to_le_bytes());
            }
        }
        let w = QMatrix::from_bytes(format, rows, cols, &bytes).expect("matrix");
        let x = &xs[..seq * cols];
        let mut xq = Vec::new();
        Q8Row::quantize_rows(x, cols, &mut xq);
        let (mut fast, mut reference) = (vec![0.0; seq * rows], vec![0.0; seq * rows]);
        w.matmul(x, &xq, &mut fast);
        w.matmul_scalar(x, &xq, &mut reference);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&fast), bits(&reference));
    }
}

// ---- seeds for the cargo-fuzz targets ---------------------------------------------------------

/// The committed seeds of `fuzz/seeds/` are what these properties start from: a tiny Llama, a
/// tokenizer.json, a link. `TOKENMETER_WRITE_SEEDS=1` rewrites them; otherwise each must still be
/// read as a valid input (so the long runs start from somewhere meaningful).
#[test]
fn fuzz_seeds_are_valid_inputs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let tokenizer =
        serde_json::to_vec(&tokenizer_json(0, 259, &serde_json::json!({}))).expect("json");
    let state = Shared {
        text: "Hola, mundo".into(),
        ..Shared::default()
    };
    let seeds: [(&str, Vec<u8>); 4] = [
        ("gguf/tiny-llama.gguf", tiny().to_vec()),
        ("tokenizer_file/tokenizer.json", tokenizer),
        ("tokenizer_file/tiny-llama.gguf", tiny().to_vec()),
        ("link/state.json", serde_json::to_vec(&state).expect("json")),
    ];
    for (name, bytes) in seeds {
        let path = dir.join(name);
        if std::env::var_os("TOKENMETER_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, &bytes).expect("write seed");
        }
        let seed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match name.split('/').next() {
            Some("gguf") => {
                LoadedModel::read(&mut Cursor::new(&seed)).expect("seed model loads");
            }
            Some("tokenizer_file") => {
                let file = if name.ends_with(".gguf") {
                    "t.gguf"
                } else {
                    "t.json"
                };
                read_tokenizer_file(&seed, file, "file:1").expect("seed tokenizer loads");
            }
            _ => {
                let state = link::decode(&fragment_of(&seed))
                    .expect("decodes")
                    .expect("state");
                assert!(link::sanitize(state).1.is_empty());
            }
        }
    }
}
