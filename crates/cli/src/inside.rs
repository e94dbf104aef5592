//! `lens`, `attention`: inside the model at one position of a prompt → JSON.

use std::path::PathBuf;

use tokenmeter_core::service::inside::{self, InsideRequest, InsideResponse};
use tokenmeter_core::Msg;
use tokenmeter_gpu::block_on;

use crate::model::{open, BackendArg};
use crate::{text_or_stdin, to_json, GgufArg};

/// The prompt and the position looked at.
#[derive(clap::Args)]
pub struct InsideArgs {
    #[command(flatten)]
    gguf: GgufArg,
    #[command(flatten)]
    backend: BackendArg,
    /// The prompt; read from standard input when absent (special tokens recognised, no BOS
    /// unless --bos).
    #[arg(long)]
    prompt: Option<String>,
    /// Put the BOS token before the prompt.
    #[arg(long)]
    bos: bool,
    /// Wrap the prompt as a user message in the model's chat template (ChatML, Llama 3, Zephyr).
    #[arg(long)]
    chat: bool,
    /// The token position to look at, 0-based over the tokens the model reads (default: the
    /// last, whose lens predicts the next token).
    #[arg(long)]
    position: Option<usize>,
}

impl InsideArgs {
    /// Both views, on the chosen backend (the CPU path, or the GPU kernels read back).
    fn look(self, top: usize, model: Option<PathBuf>) -> Result<InsideResponse, Msg> {
        let req = InsideRequest {
            text: text_or_stdin(self.prompt)?,
            chat: self.chat,
            bos: self.bos,
            continuation: Vec::new(),
            position: self.position,
            top,
        };
        req.check()?;
        let (m, mut engine) = open(self.gguf, model, &self.backend)?;
        block_on(inside::inside(&m, &mut engine, &req))
    }
}

#[derive(clap::Args)]
pub struct LensArgs {
    #[command(flatten)]
    inside: InsideArgs,
    /// Candidates listed per block.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

pub fn lens(a: LensArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    to_json(&a.inside.look(a.top, model)?.lens)
}

#[derive(clap::Args)]
pub struct AttentionArgs {
    #[command(flatten)]
    inside: InsideArgs,
}

pub fn attention(a: AttentionArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    to_json(&a.inside.look(1, model)?.attention)
}
