//! Threads in the browser, for the threaded build of the model worker (`worker-threads.js`: shared
//! memory + atomics; `scripts/post_build.mjs` builds it, `public/worker-loader.js` starts it only
//! where the page is cross-origin isolated).
//!
//! A browser has no threads to spawn from WebAssembly; it has Web Workers. So the forward pass's
//! pool (`tokenmeter_core::model::pool`) gets helper workers:
//!
//! 1. this worker starts `n - 1` helpers (`worker-loader.js?…&role=thread`), each running the same
//!    glue, and sends each this instance's compiled module and its *shared* memory;
//! 2. each helper instantiates the module on that memory (wasm-bindgen gives every instance its own
//!    stack and thread-locals; `main` runs only in the first), says it is ready, and serves the
//!    pool's jobs until the page closes ([`pool_thread`]);
//! 3. this worker, which runs the model, is the pool's caller: it publishes each large product's
//!    bands, works on them too, and waits for the rest (a worker may block or spin; a page may
//!    not).
//!
//! The bands are rows: the same kernels on the same rows, so the same bits as one thread. If
//! helpers cannot start (no nested workers, not enough memory), the model runs on one thread.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker};

/// Most threads the page asks for: beyond this the products of a 135 M model are too small to
/// share, and each helper holds its own copy of the compiled module.
const MAX_POOL: usize = 8;

/// A helper worker's whole life: serve the forward pass's jobs. Never returns.
#[wasm_bindgen]
pub fn pool_thread() {
    tokenmeter_core::model::pool::serve()
}

/// Called by the helper's glue when [`pool_thread`] trapped (a panic, or memory ran out) inside
/// a band: the caller would otherwise wait for that band forever; now its step fails, the model
/// worker stops, and the page restarts it with the text kept.
#[wasm_bindgen]
pub fn pool_thread_lost() {
    tokenmeter_core::model::pool::helper_lost()
}

/// How many threads to use: `?threads=N` on the worker's address if given, else the browser's
/// count of logical cores, at most [`MAX_POOL`].
fn wanted() -> usize {
    let asked = param("threads").and_then(|n| n.parse::<usize>().ok());
    let cores = super::scope().navigator().hardware_concurrency() as usize;
    asked.unwrap_or(cores).clamp(1, MAX_POOL)
}

/// A parameter of this worker's address.
fn param(name: &str) -> Option<String> {
    web_sys::UrlSearchParams::new_with_str(&super::scope().location().search())
        .ok()
        .and_then(|p| p.get(name))
}

/// Starts the helpers and returns the thread count (1 when no helper could start; the reason is
/// in the console). Call once, before the first forward pass.
pub async fn start() -> usize {
    let n = wanted();
    match start_helpers(n - 1).await {
        Ok(helpers) => {
            for helper in &helpers {
                // From here on the helper serves the pool (it no longer reads messages).
                if let Err(e) = helper.post_message(&JsValue::from_str("serve")) {
                    web_sys::console::warn_1(&e);
                }
            }
            // Kept referenced for the page's lifetime (a helper is never stopped).
            std::mem::forget(helpers);
            if param("helper_fault").as_deref() == Some("1") {
                // Tests: the next band a helper takes stops it, as a fault inside it would.
                tokenmeter_core::model::pool::fault_next_helper_band();
            }
            tokenmeter_core::model::threads::set_threads(n)
        }
        Err(e) => {
            web_sys::console::warn_1(
                &format!("tokenmeter: no helper threads ({e}); running on one").into(),
            );
            1
        }
    }
}

/// Starts `count` helper workers on this module and memory; resolves when every one of them has
/// instantiated it (or fails with the first error).
async fn start_helpers(count: usize) -> Result<Vec<Worker>, String> {
    if count == 0 {
        return Ok(Vec::new());
    }
    // This worker's own address names the build: the helpers load the same build's glue.
    let own = super::scope().location().href();
    let url = format!("{own}&role=thread");
    let init = js_sys::Array::of2(&wasm_bindgen::module(), &wasm_bindgen::memory());
    let mut started = Vec::with_capacity(count);
    let mut failure = None;
    for _ in 0..count {
        let worker = match Worker::new(&url) {
            Ok(w) => w,
            Err(e) => {
                failure = Some(format!("cannot start a helper: {e:?}"));
                break;
            }
        };
        let ready = js_sys::Promise::new(&mut |resolve, reject| {
            let failed = reject.clone();
            let on_message = Closure::once_into_js(move |ev: MessageEvent| {
                // "ready", or the reason the helper could not instantiate the module.
                match ev.data().as_string().as_deref() {
                    Some("ready") => resolve.call0(&JsValue::NULL),
                    _ => reject.call1(&JsValue::NULL, &ev.data()),
                }
            });
            // A script that does not load or throws: an error event, not a message.
            let on_error = Closure::once_into_js(move |ev: web_sys::ErrorEvent| {
                failed.call1(&JsValue::NULL, &ev.message().into())
            });
            worker.set_onmessage(Some(on_message.unchecked_ref()));
            worker.set_onerror(Some(on_error.unchecked_ref()));
        });
        let sent = worker.post_message(&init);
        started.push((worker, ready));
        if let Err(e) = sent {
            failure = Some(format!("cannot reach a helper: {e:?}"));
            break;
        }
    }
    // Every helper ready, or the first failure (then the ones started are stopped).
    if failure.is_none() {
        for (worker, ready) in &started {
            if let Err(e) = JsFuture::from(ready.clone()).await {
                failure = Some(format!("a helper could not start: {e:?}"));
                break;
            }
            worker.set_onmessage(None);
            worker.set_onerror(None);
        }
    }
    let helpers: Vec<Worker> = started.into_iter().map(|(w, _)| w).collect();
    match failure {
        None => Ok(helpers),
        Some(e) => {
            helpers.iter().for_each(Worker::terminate);
            Err(e)
        }
    }
}
