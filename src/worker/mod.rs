//! The Web Worker: an adapter between the page's messages and the core's service layer.
//!
//! The page starts two workers from this code, one per role:
//!
//! - [`tokens`]: the token columns, the user's tokenizer files, prices and the exercise sets
//!   (always quick) — the light build `tokens.js` ([`start_tokens`]), without the model's code;
//! - [`model`]: the model — downloading it, choosing the backend, next-token scores, generation,
//!   the benchmark (may be busy with a long prompt) — the full build `worker.js` ([`start`]),
//!   which takes either role on its first message (the tests and the benchmark drive it directly).
//!
//! Each role owns its state. Requests the user supersedes by typing go through a one-slot
//! mailbox ([`mailbox`]); downloads, gzip and Cache Storage are in [`net`]. No logic of its own
//! lives here: every answer comes from `tokenmeter_core::service`.

mod blob;
mod mailbox;
mod model;
mod net;
#[cfg(target_feature = "atomics")]
mod pool;
mod tokens;

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::protocol::{FromWorker, ToWorker};

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(msg: &FromWorker) {
    if let Err(e) = scope().post_message(&JsValue::from_str(&msg.to_json())) {
        web_sys::console::error_2(&"tokenmeter worker: postMessage failed".into(), &e);
    }
}

fn now_ms() -> f64 {
    scope()
        .performance()
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Bytes of memory this worker's wasm instance holds.
fn memory_bytes() -> usize {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| {
            m.buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as usize
        })
        .unwrap_or(0)
}

/// The worker's two possible roles, each created on first use.
#[derive(Default)]
struct Roles {
    tokens: Option<Rc<tokens::Tokens>>,
    model: Option<Rc<model::Model>>,
}

/// The full worker's entry point (`worker.js`): both roles, each on its first message. The
/// threaded build first starts its pool of helper workers ([`pool`]), then says `Ready`.
pub fn start() {
    #[cfg(target_feature = "atomics")]
    wasm_bindgen_futures::spawn_local(async {
        pool::start().await;
        listen_both();
    });
    #[cfg(not(target_feature = "atomics"))]
    listen_both();
}

fn listen_both() {
    let mut roles = Roles::default();
    listen(move |msg, file| {
        if tokens::Tokens::takes(&msg) {
            roles
                .tokens
                .get_or_insert_with(tokens::Tokens::start_full)
                .handle(msg, file)
        } else {
            roles
                .model
                .get_or_insert_with(model::Model::start)
                .handle(msg, file)
        }
    });
}

/// The light worker's entry point (`tokens.js`): the tokenizer role only. The page starts this
/// one for tokens, prices and exercises, so showing tokens (`?embed=tokens`, `?embed=cost`)
/// never downloads the model's or the GPU's code: nothing here reaches them, and the linker
/// leaves them out of this build.
pub fn start_tokens() {
    let mut role: Option<Rc<tokens::Tokens>> = None;
    listen(move |msg, file| {
        if tokens::Tokens::takes(&msg) {
            role.get_or_insert_with(tokens::Tokens::start_light)
                .handle(msg, file)
        } else {
            web_sys::console::error_1(
                &"tokenmeter: the tokens worker has no model; this message belongs to the model worker"
                    .into(),
            )
        }
    });
}

/// Listens for the page's messages, hands each decoded request to `handle`, then says `Ready`.
fn listen(mut handle: impl FnMut(ToWorker, Option<web_sys::File>) + 'static) {
    console_error_panic_hook::set_once();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        // A request is a JSON string, or `[JSON string, File]` when a file comes with it.
        let data = ev.data();
        let (text, file) = match data.dyn_ref::<js_sys::Array>() {
            Some(pair) => (
                pair.get(0).as_string(),
                pair.get(1).dyn_into::<web_sys::File>().ok(),
            ),
            None => (data.as_string(), None),
        };
        let Some(text) = text else {
            return;
        };
        match serde_json::from_str::<ToWorker>(&text) {
            Ok(msg) => handle(msg, file),
            Err(e) => {
                web_sys::console::error_1(&format!("tokenmeter worker: bad message: {e}").into())
            }
        }
    });
    // What arrived before this listened, kept by public/worker-loader.js: handled first, in
    // order (nothing else can run in between).
    let global = js_sys::global();
    let key = JsValue::from_str("tokenmeterEarlyMessages");
    let early = js_sys::Reflect::get(&global, &key)
        .ok()
        .and_then(|v| v.dyn_into::<js_sys::Array>().ok());
    let _ = js_sys::Reflect::delete_property(global.unchecked_ref::<js_sys::Object>(), &key);
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    let handle: &js_sys::Function = onmessage.as_ref().unchecked_ref();
    for ev in early.iter().flat_map(|a| a.iter()) {
        let _ = handle.call1(&JsValue::NULL, &ev);
    }
    onmessage.forget();
    post(&FromWorker::Ready);
}
