//! A model file (`--model`, or the page's model download): refused with a message or loaded,
//! and a loaded one runs one step (or refuses scores that are not numbers). Seed:
//! fuzz/seeds/gguf/tiny-llama.gguf, a complete Llama of a few KB.
#![no_main]

use std::io::Cursor;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use tokenmeter_core::model::Session;
use tokenmeter_core::service::model::LoadedModel;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = LoadedModel::read(&mut Cursor::new(data)) {
        let mut session = Session::new(Arc::clone(&m.model));
        if let Ok(ids) = m.tokenizer.encode(" the theory") {
            if !ids.is_empty() {
                let _ = session.next_logits(&ids);
            }
        }
    }
});
