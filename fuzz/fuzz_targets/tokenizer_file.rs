//! A file dropped on the tokenizer panel (tokenizer.json or GGUF): loaded or refused with a
//! message; a loaded one tokenizes into IDs its own tables describe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenmeter_core::service::tokens::read_tokenizer_file;

fuzz_target!(|data: &[u8]| {
    for name in ["fuzzed.json", "fuzzed.gguf"] {
        if let Ok((tok, added)) = read_tokenizer_file(data, name, "file:1") {
            assert!(added.entries <= tok.vocab_size());
            if let Ok(tokens) = tok.tokenize("the theory, then 42 — ünïcödé 🙂 <|endoftext|>")
            {
                assert!(tokens.iter().all(|t| (t.id as usize) < tok.vocab_size()));
            }
        }
    }
});
