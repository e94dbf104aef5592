//! The Web Worker: it owns the core and answers the page's [`ToWorker`] requests.
//!
//! The page starts two workers from this code. One only tokenizes (it loads the converted
//! SmolLM2 vocabulary, `vocab/smollm2.json`, on first use); the other downloads the GGUF, loads
//! the model and scores next tokens. Requests the user can supersede by typing go into a
//! one-slot mailbox: a newer request replaces an older one that has not started, and a long
//! prompt is fed to the model a few tokens at a time so that a newer request can take over.

use std::cell::RefCell;
use std::io::Cursor;
use std::rc::Rc;
use std::sync::Arc;

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, ReadableStreamDefaultReader, Response};

use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::model::bench::{self, BenchResult};
use tokenmeter_core::model::{Model, Session};
use tokenmeter_core::scoring;
use tokenmeter_core::tokenizer::{smollm2_info, TextTokenizer};

use crate::protocol::{
    FromWorker, ModelSummary, Scores, ToWorker, TokenView, Tokenized, MAX_TOKENS_SHOWN,
};

/// Where the tokenizer worker finds the converted SmolLM2 vocabulary (written by `cargo xtask`).
pub const VOCAB_URL: &str = "vocab/smollm2.json";

/// Tokens fed to the model between two looks at the mailbox.
const PREFILL_CHUNK: usize = 8;

/// The model and the tokenizer stored inside its GGUF.
struct Loaded {
    session: Session,
    tokenizer: TextTokenizer,
}

#[derive(Default)]
struct State {
    /// The converted vocabulary, once fetched (tokenizer worker).
    vocab: Option<Rc<TextTokenizer>>,
    vocab_loading: bool,
    pending_tokenize: Option<(u64, String)>,
    /// The model, once loaded (model worker).
    model: Option<Loaded>,
    model_loading: bool,
    pending_next: Option<(u64, String, usize)>,
    scoring: bool,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

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

/// The worker's entry point: listen, then say so.
pub fn start() {
    console_error_panic_hook::set_once();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(|ev: MessageEvent| {
        let Some(text) = ev.data().as_string() else {
            return;
        };
        match serde_json::from_str::<ToWorker>(&text) {
            Ok(msg) => handle(msg),
            Err(e) => {
                web_sys::console::error_1(&format!("tokenmeter worker: bad message: {e}").into())
            }
        }
    });
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    post(&FromWorker::Ready);
}

fn handle(msg: ToWorker) {
    match msg {
        ToWorker::Tokenize { seq, text } => {
            let start = STATE.with_borrow_mut(|s| {
                s.pending_tokenize = Some((seq, text));
                !std::mem::replace(&mut s.vocab_loading, true)
            });
            if start {
                spawn_local(tokenize_loop());
            }
        }
        ToWorker::LoadModel { url } => {
            let start = STATE.with_borrow_mut(|s| s.model.is_none() && !s.model_loading);
            if start {
                STATE.with_borrow_mut(|s| s.model_loading = true);
                spawn_local(load_model(url));
            }
        }
        ToWorker::Bench {
            prompt_tokens,
            decode_tokens,
            runs,
        } => post(&match bench(prompt_tokens, decode_tokens, runs) {
            Ok(result) => FromWorker::BenchDone(result),
            Err(message) => FromWorker::BenchFailed { message },
        }),
        ToWorker::Next { seq, text, top } => {
            let start = STATE.with_borrow_mut(|s| {
                s.pending_next = Some((seq, text, top));
                !std::mem::replace(&mut s.scoring, true)
            });
            if start {
                spawn_local(score_loop());
            }
        }
    }
}

// ---- tokenizing ----------------------------------------------------------------------------

async fn tokenize_loop() {
    // Let queued messages arrive, so only the newest text is tokenized.
    yield_now().await;
    let vocab = match STATE.with_borrow(|s| s.vocab.clone()) {
        Some(v) => Ok(v),
        None => load_vocab().await.map(Rc::new),
    };
    let vocab = match vocab {
        Ok(v) => v,
        Err(message) => {
            let pending = STATE.with_borrow_mut(|s| {
                s.vocab_loading = false;
                s.pending_tokenize.take()
            });
            if let Some((seq, _)) = pending {
                post(&FromWorker::TokenizeFailed { seq, message });
            }
            return;
        }
    };
    STATE.with_borrow_mut(|s| s.vocab = Some(vocab.clone()));
    while let Some((seq, text)) = STATE.with_borrow_mut(|s| s.pending_tokenize.take()) {
        let t0 = now_ms();
        match vocab.tokenize(&text) {
            Ok(tokens) => post(&FromWorker::Tokenized(Tokenized {
                seq,
                count: tokens.len(),
                chars: text.chars().count(),
                bytes: text.len(),
                tokens: tokens
                    .iter()
                    .take(MAX_TOKENS_SHOWN)
                    .map(TokenView::from)
                    .collect(),
                ms: now_ms() - t0,
            })),
            Err(e) => post(&FromWorker::TokenizeFailed {
                seq,
                message: e.to_string(),
            }),
        }
        yield_now().await;
    }
    // `vocab_loading` doubles as "a loop is running": clear it so the next request starts one.
    STATE.with_borrow_mut(|s| s.vocab_loading = false);
}

async fn load_vocab() -> Result<TextTokenizer, String> {
    let bytes = fetch_bytes(VOCAB_URL, |_, _| {})
        .await
        .map_err(|e| format!("could not download the SmolLM2 vocabulary: {e}"))?;
    TextTokenizer::from_json(&bytes, smollm2_info()).map_err(|e| e.to_string())
}

// ---- the model -----------------------------------------------------------------------------

async fn load_model(url: String) {
    let mut last_report = 0.0;
    let bytes = fetch_bytes(&url, |loaded, total| {
        // Report at most every 100 ms, and at the end.
        let t = now_ms();
        if t - last_report > 100.0 || Some(loaded) == total {
            last_report = t;
            post(&FromWorker::ModelProgress { loaded, total });
        }
    })
    .await;
    let result = match bytes {
        Err(e) => Err(format!("the model download failed: {e}")),
        Ok(bytes) => {
            let t0 = now_ms();
            load_from_bytes(&bytes).map(|loaded| (loaded, now_ms() - t0))
        }
    };
    STATE.with_borrow_mut(|s| s.model_loading = false);
    match result {
        Err(message) => post(&FromWorker::ModelFailed { message }),
        Ok((loaded, load_ms)) => {
            let model = loaded.session.model();
            let summary = ModelSummary {
                name: "SmolLM2-135M-Instruct (Q4_1)".into(),
                n_params: model.n_params(),
                weight_bytes: model.weight_bytes(),
                vocab_size: model.config().vocab_size,
                context_length: model.config().context_length,
                backend: "wasm SIMD128, 1 thread".into(),
                load_ms,
            };
            STATE.with_borrow_mut(|s| s.model = Some(loaded));
            post(&FromWorker::ModelReady(summary));
            // A request that arrived while loading can run now.
            let start = STATE.with_borrow_mut(|s| {
                s.pending_next.is_some() && !std::mem::replace(&mut s.scoring, true)
            });
            if start {
                spawn_local(score_loop());
            }
        }
    }
}

fn load_from_bytes(bytes: &[u8]) -> Result<Loaded, String> {
    let mut reader = Cursor::new(bytes);
    let gguf = Gguf::read(&mut reader).map_err(|e| e.to_string())?;
    let tokenizer = TextTokenizer::from_gguf(&gguf, smollm2_info()).map_err(|e| e.to_string())?;
    let model = Model::from_gguf(&gguf, &mut reader).map_err(|e| e.to_string())?;
    Ok(Loaded {
        session: Session::new(Arc::new(model)),
        tokenizer,
    })
}

/// Answers the newest `Next` request; feeds long prompts in chunks, checking for newer requests.
async fn score_loop() {
    'requests: loop {
        let Some((seq, text, top)) = STATE.with_borrow_mut(|s| {
            if s.model.is_none() {
                // Not loaded yet: keep the request, `load_model` restarts this loop.
                s.scoring = false;
                return None;
            }
            let req = s.pending_next.take();
            if req.is_none() {
                s.scoring = false;
            }
            req
        }) else {
            return;
        };
        let ids = STATE.with_borrow(|s| s.model.as_ref().map(|m| m.tokenizer.encode(&text)));
        let ids = match ids {
            Some(Ok(ids)) => ids,
            Some(Err(e)) => {
                post(&FromWorker::NextFailed {
                    seq,
                    message: e.to_string(),
                });
                continue;
            }
            None => continue,
        };
        let t0 = now_ms();
        let mut computed = 0;
        loop {
            let step = STATE.with_borrow_mut(|s| {
                let m = s.model.as_mut().expect("model checked above");
                m.session.advance(&ids, PREFILL_CHUNK)
            });
            match step {
                Err(e) => {
                    post(&FromWorker::NextFailed {
                        seq,
                        message: e.to_string(),
                    });
                    continue 'requests;
                }
                Ok(step) if step.done => {
                    computed += step.computed;
                    break;
                }
                Ok(step) => {
                    computed += step.computed;
                    post(&FromWorker::NextProgress {
                        seq,
                        done: STATE.with_borrow(|s| {
                            s.model.as_ref().map_or(0, |m| m.session.tokens().len())
                        }),
                        total: ids.len(),
                    });
                    yield_now().await;
                    if STATE.with_borrow(|s| s.pending_next.is_some()) {
                        // The user typed on: answer the newer text instead.
                        continue 'requests;
                    }
                }
            }
        }
        let ms = now_ms() - t0;
        let scores = STATE.with_borrow(|s| {
            let m = s.model.as_ref()?;
            let logits = m.session.logits()?;
            Some(scoring::next_token(logits, &m.tokenizer, top))
        });
        if let Some(next) = scores {
            post(&FromWorker::Scores(Scores {
                seq,
                prompt_tokens: ids.len(),
                computed_tokens: computed,
                ms,
                next,
            }));
        }
        yield_now().await;
    }
}

/// Runs the core's benchmark on the loaded model, timed with the worker's clock.
fn bench(prompt_tokens: usize, decode_tokens: usize, runs: usize) -> Result<BenchResult, String> {
    STATE.with_borrow_mut(|s| {
        let m = s.model.as_mut().ok_or("the model is not loaded")?;
        let prompt = bench::bench_prompt(&m.tokenizer, prompt_tokens).map_err(|e| e.to_string())?;
        let result = bench::run_median(&mut m.session, &prompt, decode_tokens, runs, now_ms);
        // Leave no benchmark state behind for the next real request.
        m.session.truncate(0);
        result.map_err(|e| e.to_string())
    })
}

// ---- browser plumbing ----------------------------------------------------------------------

/// Lets the event loop run (and queued messages arrive) before continuing.
async fn yield_now() {
    let promise = Promise::new(&mut |resolve, _reject| {
        if scope()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .is_err()
        {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

fn js_error(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Downloads `url` (relative to the worker, i.e. the page's folder), reporting progress.
async fn fetch_bytes(
    url: &str,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let response: Response = JsFuture::from(scope().fetch_with_str(url))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    if !response.ok() {
        return Err(format!(
            "{url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    // With a Content-Encoding the length counts compressed bytes: not comparable to what we read.
    let total = match header("content-encoding") {
        Some(_) => None,
        None => header("content-length").and_then(|v| v.parse::<u64>().ok()),
    };
    let body = response
        .body()
        .ok_or_else(|| format!("{url}: the response has no body"))?;
    let reader: ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|o| js_error(o.into()))?;
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(1 << 31) as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("{url}: the connection broke off: {}", js_error(e)))?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(js_error)?
            .dyn_into()
            .map_err(js_error)?;
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        progress(bytes.len() as u64, total);
    }
    if let Some(total) = total {
        if bytes.len() as u64 != total {
            return Err(format!(
                "{url}: incomplete download ({} of {total} bytes)",
                bytes.len()
            ));
        }
    }
    Ok(bytes)
}
