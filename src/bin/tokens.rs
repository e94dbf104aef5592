//! The light Web Worker's entry point (built by Trunk as `tokens.js` + `tokens_bg.wasm`): the
//! tokenizer role only, so the page shows tokens without downloading the model's code.

fn main() {
    tokenmeter_web::worker::start_tokens();
}
