//! A model's chat template, recognised from the GGUF's `tokenizer.chat_template` (a Jinja
//! program tokenmeter does not run): the families below cover the small models people run,
//! each written out for one user message and the assistant's turn to reply.
//!
//! ```text
//! ChatML (SmolLM2, Qwen)   <|im_start|>system\n{default system}<|im_end|>\n      (if the template has one)
//!                          <|im_start|>user\n{message}<|im_end|>\n<|im_start|>assistant\n
//! Llama 3                  <|start_header_id|>system<|end_header_id|>\n\n{knowledge date}<|eot_id|>   (3.1+)
//!                          <|start_header_id|>user<|end_header_id|>\n\n{message}<|eot_id|>
//!                          <|start_header_id|>assistant<|end_header_id|>\n\n
//! Zephyr (TinyLlama)       <|user|>\n{message}</s>\n<|assistant|>\n
//! ```
//!
//! SmolLM2-Instruct's template adds its default system turn ("You are a helpful AI assistant
//! named SmolLM, trained by Hugging Face") when the first message is not a system message; the
//! default is read from the template itself, so another ChatML model gets its own.

use crate::gguf::{Gguf, Metadata};
use crate::tokenizer::TextTokenizer;

/// The chat template families tokenmeter writes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTemplate {
    ChatMl { system: Option<String> },
    Llama3 { system: Option<String> },
    Zephyr,
}

impl ChatTemplate {
    /// The family of the file's template; `None` when it has none or one tokenmeter does not
    /// know (the page and the CLI then say that chat is unavailable for this model).
    pub fn from_gguf(md: &Metadata<'_>) -> Option<Self> {
        let t = md.string("tokenizer.chat_template").ok()?;
        if t.contains("<|im_start|>") {
            let system = literal_between(t, "<|im_start|>system", "<|im_end|>");
            Some(ChatTemplate::ChatMl { system })
        } else if t.contains("<|start_header_id|>") {
            // Llama 3.1+ opens with a system turn stating the knowledge cutoff and a date
            // (the template's default `date_string`).
            let system = t.contains("Cutting Knowledge Date").then(|| {
                let date = literal_between(t, "date_string = \"", "\"")
                    .unwrap_or_else(|| "26 Jul 2024".to_string());
                format!("Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n")
            });
            Some(ChatTemplate::Llama3 { system })
        } else if t.contains("<|user|>") && t.contains("<|assistant|>") {
            Some(ChatTemplate::Zephyr)
        } else {
            None
        }
    }

    /// One user message wrapped for the model, ready for the assistant's reply.
    pub fn prompt(&self, user: &str) -> String {
        match self {
            ChatTemplate::ChatMl { system } => {
                let system = system
                    .as_deref()
                    .map(|s| format!("<|im_start|>system\n{s}<|im_end|>\n"))
                    .unwrap_or_default();
                format!("{system}<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
            }
            ChatTemplate::Llama3 { system } => {
                let header = |role: &str| format!("<|start_header_id|>{role}<|end_header_id|>\n\n");
                let system = system
                    .as_deref()
                    .map(|s| format!("{}{s}<|eot_id|>", header("system")))
                    .unwrap_or_default();
                format!(
                    "{system}{}{user}<|eot_id|>{}",
                    header("user"),
                    header("assistant")
                )
            }
            ChatTemplate::Zephyr => format!("<|user|>\n{user}</s>\n<|assistant|>\n"),
        }
    }
}

/// The text after `open` (and a newline, written as one or as `\n`) up to `close`, if it is a
/// literal (no template code inside).
fn literal_between(t: &str, open: &str, close: &str) -> Option<String> {
    let rest = &t[t.find(open)? + open.len()..];
    let rest = rest
        .strip_prefix("\\n")
        .or_else(|| rest.strip_prefix('\n'))
        .unwrap_or(rest);
    let text = &rest[..rest.find(close)?];
    let literal = !text.contains("{{") && !text.contains("{%") && !text.contains('\'');
    (literal && !text.is_empty()).then(|| text.replace("\\n", "\n"))
}

/// Tokens that end a reply: the file's end-of-sequence and end-of-turn tokens, and the usual
/// end markers where the vocabulary has them (`<|endoftext|>`, `<|im_end|>`, `<|eot_id|>`).
pub fn stop_tokens(gguf: &Gguf, tokenizer: &TextTokenizer) -> Vec<u32> {
    let md = gguf.metadata();
    let mut ids: Vec<u32> = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
        .iter()
        .filter_map(|k| md.u32(k).ok())
        .collect();
    for marker in [
        "<|endoftext|>",
        "<|im_end|>",
        "<|eot_id|>",
        "<|end_of_text|>",
    ] {
        if let Some(id) = tokenizer.find(marker) {
            ids.push(id);
        }
    }
    let mut seen = Vec::new();
    ids.retain(|id| {
        let new = !seen.contains(id);
        seen.push(*id);
        new
    });
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-Instruct's template as its GGUF stores it (the start).
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";

    #[test]
    fn chatml_keeps_the_templates_default_system_turn() {
        let system = literal_between(SMOLLM2, "<|im_start|>system", "<|im_end|>");
        let t = ChatTemplate::ChatMl { system };
        let p = t.prompt("Hola");
        assert!(p.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"));
        assert!(p.ends_with("<|im_start|>user\nHola<|im_end|>\n<|im_start|>assistant\n"));
        // Qwen2.5 writes its default with an escaped newline.
        let qwen = r"{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}";
        assert_eq!(
            literal_between(qwen, "<|im_start|>system", "<|im_end|>").as_deref(),
            Some("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        );
        // A system turn built from the messages is no default.
        let code = "{{ '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>' }}";
        assert_eq!(
            literal_between(code, "<|im_start|>system", "<|im_end|>"),
            None
        );
    }

    #[test]
    fn llama3_and_zephyr_turns() {
        let p = ChatTemplate::Llama3 { system: None }.prompt("Hi");
        assert_eq!(p, "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        assert_eq!(
            ChatTemplate::Zephyr.prompt("Hi"),
            "<|user|>\nHi</s>\n<|assistant|>\n"
        );
    }
}
