//! Where the CLI finds its files: the model (`--model`, `$TOKENMETER_MODEL`, or the one `./dev
//! setup` fetched), the converted vocabularies and the price table (`$TOKENMETER_DATA`, else the
//! repository's `data/`). Opening them is all this file does; answering is the core's job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokenmeter_core::cost::PriceTable;
use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::msg;
use tokenmeter_core::service::model::LoadedModel;
use tokenmeter_core::service::tokens;
use tokenmeter_core::tokenizer::TextTokenizer;
use tokenmeter_core::Msg;

/// Where `./dev setup` puts the model (relative to the repository root).
const DEFAULT_MODEL: &str = "data/models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The model file: the one given, else `$TOKENMETER_MODEL`, else the one `./dev setup` fetched.
pub fn model_path(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| std::env::var_os("TOKENMETER_MODEL").map(PathBuf::from))
        .unwrap_or_else(|| repo_root().join(DEFAULT_MODEL))
}

/// The repository root, two levels above this crate.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `cargo xtask data` writes vocabularies and prices (override: `$TOKENMETER_DATA`).
pub fn data_dir() -> PathBuf {
    std::env::var_os("TOKENMETER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("data"))
}

pub fn vocab_path(id: &str) -> PathBuf {
    data_dir().join("tokenizers").join(format!("{id}.json"))
}

fn read(path: &Path) -> Result<Vec<u8>, Msg> {
    std::fs::read(path).map_err(|e| {
        msg!(
            "cannot read {}: {} (run ./dev setup)",
            path.display().to_string(),
            e.to_string()
        )
    })
}

fn open_file(path: &Path) -> Result<std::io::BufReader<std::fs::File>, Msg> {
    let file = std::fs::File::open(path).map_err(|e| {
        msg!(
            "cannot open the model file {}: {} (run `./dev setup` or pass --model PATH)",
            path.display().to_string(),
            e.to_string()
        )
    })?;
    Ok(std::io::BufReader::new(file))
}

/// The model file, loaded.
pub fn open_model(path: &Path) -> Result<LoadedModel, Msg> {
    LoadedModel::read(&mut open_file(path)?)
        .map_err(|e| msg!("{}: {}", path.display().to_string(), e))
}

/// A shipped tokenizer: SmolLM2's from the model file's header, the others from their
/// converted files.
pub fn open_tokenizer(id: &str, model: &Path) -> Result<TextTokenizer, Msg> {
    let spec = tokens::shipped(id)?;
    if id == "smollm2" {
        let gguf = Gguf::read_head(&mut open_file(model)?)
            .map_err(|e| msg!("{}: {}", model.display().to_string(), e.msg()))?;
        return Ok(TextTokenizer::from_gguf(&gguf, spec.info())?);
    }
    Ok(TextTokenizer::from_json(
        &read(&vocab_path(id))?,
        spec.info(),
    )?)
}

/// A shipped tokenizer from its converted `tokenizer.json` (also SmolLM2's, which
/// `cargo xtask data` writes from the model file): for `bench --synthetic`, without the model.
pub fn open_tokenizer_json(id: &str) -> Result<TextTokenizer, Msg> {
    let spec = tokens::shipped(id)?;
    Ok(TextTokenizer::from_json(
        &read(&vocab_path(id))?,
        spec.info(),
    )?)
}

/// A tokenizer file the user names (`--tokenizer-file`): a `tokenizer.json` or a GGUF. Its id is
/// `file:1`, as the page names the first file a user brings.
pub fn open_tokenizer_file(path: &Path) -> Result<TextTokenizer, Msg> {
    let bytes = std::fs::read(path).map_err(|e| {
        msg!(
            "cannot read {}: {}",
            path.display().to_string(),
            e.to_string()
        )
    })?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (tok, _) = tokens::read_tokenizer_file(&bytes, &name, "file:1")?;
    Ok(tok)
}

/// The shipped vocabularies, opened once each as they are asked for.
pub struct Vocabularies {
    model: PathBuf,
    open: HashMap<String, Arc<TextTokenizer>>,
}

impl Vocabularies {
    pub fn new(model: PathBuf) -> Self {
        Self {
            model,
            open: HashMap::new(),
        }
    }

    pub fn get(&mut self, id: &str) -> Result<Arc<TextTokenizer>, Msg> {
        if let Some(t) = self.open.get(id) {
            return Ok(t.clone());
        }
        let t = Arc::new(open_tokenizer(id, &self.model)?);
        self.open.insert(id.to_string(), t.clone());
        Ok(t)
    }
}

/// LiteLLM's price table, as `cargo xtask data` trimmed it.
pub fn price_table() -> Result<PriceTable, Msg> {
    Ok(PriceTable::from_json(&read(
        &data_dir().join("prices/prices.json"),
    )?)?)
}
