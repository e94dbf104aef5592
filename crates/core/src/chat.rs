//! SmolLM2-Instruct's chat template, as stored in the GGUF (`tokenizer.chat_template`):
//!
//! ```text
//! <|im_start|>system
//! You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
//! <|im_start|>user
//! {message}<|im_end|>
//! <|im_start|>assistant
//! ```
//!
//! The default system turn is the template's own (added when the first message is not a system
//! message); the trailing `<|im_start|>assistant\n` is the generation prompt.

use crate::gguf::Gguf;
use crate::tokenizer::TextTokenizer;

/// Tokens that end a reply: the file's end-of-sequence token (`<|im_end|>` for SmolLM2) and
/// `<|endoftext|>`.
pub fn stop_tokens(gguf: &Gguf, tokenizer: &TextTokenizer) -> Vec<u32> {
    let mut ids: Vec<u32> = gguf
        .metadata()
        .u32("tokenizer.ggml.eos_token_id")
        .ok()
        .into_iter()
        .collect();
    if let Some(id) = tokenizer.find("<|endoftext|>") {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The system message SmolLM2's template inserts when none is given.
pub const DEFAULT_SYSTEM: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// One user message wrapped for SmolLM2-Instruct, ready for the assistant's reply.
pub fn smollm2_prompt(user: &str) -> String {
    format!(
        "<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn wraps_one_user_turn() {
        let p = super::smollm2_prompt("Hola");
        assert!(p.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"));
        assert!(p.ends_with("<|im_start|>user\nHola<|im_end|>\n<|im_start|>assistant\n"));
    }
}
