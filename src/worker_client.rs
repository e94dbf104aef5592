//! The page's end of a worker: start it, queue messages until it says `Ready`, decode replies.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use crate::protocol::{FromWorker, ToWorker};

/// Which build of the worker to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerKind {
    /// `tokens.js`: tokens, prices and exercises only (small; no model or GPU code).
    Tokens,
    /// `worker.js`: everything, the model included. The loader picks the fastest build this
    /// browser runs (threaded where the page is cross-origin isolated, relaxed SIMD where
    /// validated); `plain_simd` keeps the build without relaxed SIMD, `threads` asks for a
    /// thread count (1: the one-thread build).
    Full {
        plain_simd: bool,
        threads: Option<u8>,
    },
}

/// The worker's loader (`public/worker-loader.js`), told which build's worker files to load (the
/// page's own, `<meta name="tokenmeter-build">`, written by `scripts/post_build.mjs`) and which
/// of its two workers.
fn worker_url(kind: WorkerKind) -> String {
    let build = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| {
            d.query_selector("meta[name=tokenmeter-build]")
                .ok()
                .flatten()
        })
        .and_then(|m| m.get_attribute("content"))
        .unwrap_or_default();
    match kind {
        WorkerKind::Tokens => format!("./worker-loader.js?build={build}&role=tokens"),
        WorkerKind::Full {
            plain_simd,
            threads,
        } => {
            let mut url = format!("./worker-loader.js?build={build}");
            if plain_simd {
                url.push_str("&simd=plain");
            }
            if let Some(n) = threads {
                url.push_str(&format!("&threads={n}"));
            }
            url
        }
    }
}

/// The tokens worker `public/early-tokens.js` started before the page's wasm ran, with the
/// events it sent meanwhile — taken once, if it was started at `url` (else it is stopped).
fn take_early(kind: WorkerKind, url: &str) -> Option<(Worker, js_sys::Array)> {
    use js_sys::Reflect;
    if kind != WorkerKind::Tokens {
        return None;
    }
    let global = js_sys::global();
    let key = JsValue::from_str("tokenmeterEarlyTokens");
    let early = Reflect::get(&global, &key)
        .ok()
        .filter(JsValue::is_object)?;
    let _ = Reflect::delete_property(global.unchecked_ref::<js_sys::Object>(), &key);
    let field = |name: &str| Reflect::get(&early, &JsValue::from_str(name)).ok();
    let worker: Worker = field("worker")?.dyn_into().ok()?;
    let events: js_sys::Array = field("events")?.dyn_into().ok()?;
    if field("url")?.as_string().as_deref() != Some(url) {
        worker.terminate();
        return None;
    }
    worker.set_onmessage(None);
    worker.set_onerror(None);
    Some((worker, events))
}

/// A running worker.
pub struct WorkerHandle {
    worker: Worker,
    ready: Cell<bool>,
    /// Terminated: nothing more is delivered from it (not even an early event still to replay).
    stopped: Cell<bool>,
    /// Messages sent before the worker said `Ready` (a JSON string, or `[JSON, File]`).
    queue: RefCell<Vec<JsValue>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl WorkerHandle {
    /// Starts a worker. `on_message` gets every reply but `Ready`; `on_crash` gets the message of
    /// an uncaught error inside the worker (after which it should be restarted).
    pub fn spawn(
        kind: WorkerKind,
        on_message: impl Fn(FromWorker) + 'static,
        on_crash: impl Fn(String) + 'static,
    ) -> Result<Rc<Self>, String> {
        let url = worker_url(kind);
        let (worker, early_events) = match take_early(kind, &url) {
            Some(early) => early,
            None => (
                Worker::new(&url).map_err(|e| format!("cannot start a worker: {e:?}"))?,
                js_sys::Array::new(),
            ),
        };
        let on_crash: Rc<dyn Fn(String)> = Rc::new(on_crash);
        let handle = Rc::new_cyclic(|weak: &std::rc::Weak<WorkerHandle>| {
            let weak_msg = weak.clone();
            let crash = on_crash.clone();
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
                let Some(text) = ev.data().as_string() else {
                    return;
                };
                match serde_json::from_str::<FromWorker>(&text) {
                    Ok(FromWorker::Ready) => {
                        if let Some(h) = weak_msg.upgrade() {
                            h.ready.set(true);
                            for msg in h.queue.borrow_mut().drain(..) {
                                h.post(&msg);
                            }
                        }
                    }
                    Ok(FromWorker::Crashed { message }) => crash(message),
                    Ok(msg) => on_message(msg),
                    Err(e) => crash(format!("unreadable message from the worker: {e}")),
                }
            });
            let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |ev: ErrorEvent| {
                ev.prevent_default();
                let msg = ev.message();
                web_sys::console::error_1(&format!("tokenmeter worker error: {msg}").into());
                on_crash(msg);
            });
            WorkerHandle {
                worker,
                ready: Cell::new(false),
                stopped: Cell::new(false),
                queue: RefCell::new(Vec::new()),
                _on_message: on_message,
                _on_error: on_error,
            }
        });
        handle
            .worker
            .set_onmessage(Some(handle._on_message.as_ref().unchecked_ref()));
        handle
            .worker
            .set_onerror(Some(handle._on_error.as_ref().unchecked_ref()));
        // What an early-started worker said before the page listened, in order — once the caller
        // holds this handle (a microtask: before any later event of the worker). Replayed here,
        // inside `spawn`, an early crash restarted the worker before the caller had stored this
        // one, which then replaced the restarted one and went silent.
        if early_events.length() > 0 {
            let weak = Rc::downgrade(&handle);
            wasm_bindgen_futures::spawn_local(async move {
                let Some(h) = weak.upgrade() else {
                    return;
                };
                for event in early_events.iter() {
                    if h.stopped.get() {
                        return;
                    }
                    let listener: &js_sys::Function = if event.is_instance_of::<MessageEvent>() {
                        h._on_message.as_ref().unchecked_ref()
                    } else {
                        h._on_error.as_ref().unchecked_ref()
                    };
                    let _ = listener.call1(&JsValue::NULL, &event);
                }
            });
        }
        Ok(handle)
    }

    /// Sends a request now, or once the worker is ready.
    pub fn send(&self, msg: &ToWorker) {
        self.send_value(JsValue::from_str(&msg.to_json()));
    }

    /// Sends a request with a file attached (the worker reads it; the page never does).
    pub fn send_with_file(&self, msg: &ToWorker, file: &web_sys::File) {
        self.send_value(js_sys::Array::of2(&JsValue::from_str(&msg.to_json()), file).into());
    }

    fn send_value(&self, data: JsValue) {
        if self.ready.get() {
            self.post(&data);
        } else {
            self.queue.borrow_mut().push(data);
        }
    }

    fn post(&self, data: &JsValue) {
        if let Err(e) = self.worker.post_message(data) {
            web_sys::console::error_2(&"tokenmeter: postMessage to worker failed".into(), &e);
        }
    }

    /// Stops the worker for good.
    pub fn terminate(&self) {
        self.stopped.set(true);
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}
