//! The Web Worker: it owns the core and answers the page's [`ToWorker`] requests.
//!
//! The page starts two workers from this code. One only tokenizes (it loads the converted
//! SmolLM2 vocabulary, `vocab/smollm2.json`, on first use); the other downloads the GGUF, loads
//! the model and scores next tokens. Requests the user can supersede by typing go into a
//! one-slot mailbox: a newer request replaces an older one that has not started, and a long
//! prompt is fed to the model a few tokens at a time so that a newer request can take over.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Cursor;
use std::rc::Rc;
use std::sync::Arc;

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, ReadableStreamDefaultReader, Response};

use tokenmeter_core::chat;
use tokenmeter_core::cost::{self, ModelPrice, PriceTable, Usage, DEFAULT_MODELS};
use tokenmeter_core::gguf::Gguf;
use tokenmeter_core::model::bench::{self, BenchResult};
use tokenmeter_core::model::Model;
use tokenmeter_core::physics;
use tokenmeter_core::scoring::{self, Analysis};
use tokenmeter_core::tokenizer::{self, registry, smollm2_info, TextTokenizer, TokenizerInfo};
use tokenmeter_gpu::{Engine, Preference, MAX_STEP};

use crate::protocol::{
    Column, ColumnState, CostReport, CostRequest, CostRow, FromWorker, LanguageRow, ModelSummary,
    NextRequest, PhysicsView, Scores, SearchHit, Surprisal, ToWorker, TokenList, TokenView,
    Tokenized, MAX_TOKENS_SHOWN, MAX_TOP,
};

/// Where the tokenizer worker finds a shipped vocabulary (written by `cargo xtask vocab`).
fn vocab_url(id: &str) -> String {
    format!("vocab/{id}.json.gz")
}

/// Tokens fed to the model between two looks at the mailbox.
const PREFILL_CHUNK: usize = 8;

/// The model and the tokenizer stored inside its GGUF.
struct Loaded {
    model: Arc<Model>,
    /// Where the forward passes run; taken out of the state while a step is awaited (GPU
    /// read-backs are asynchronous), so other handlers never hold it across an `await`.
    engine: Option<Engine>,
    tokenizer: Rc<TextTokenizer>,
    /// Tokens that end a reply.
    stop: Vec<u32>,
}

/// Cache Storage bucket holding the model file between visits.
const MODEL_CACHE: &str = "tokenmeter-models-v1";

/// What the token columns show: a text encoded, or typed IDs decoded.
#[derive(Clone)]
enum Job {
    Encode(String),
    Decode(String),
}

/// A vocabulary's state in the tokenizer worker.
#[derive(Clone)]
enum Vocab {
    Loading,
    Ready(Rc<TextTokenizer>),
    Failed(String),
}

#[derive(Default)]
struct State {
    /// Vocabularies by id (tokenizer worker), loaded on first use.
    vocabs: HashMap<String, Vocab>,
    /// The newest `Tokenize` or `Decode` request, answered again whenever a vocabulary arrives.
    last_tokenize: Option<(u64, Job, Vec<String>)>,
    /// Whether `last_tokenize` needs a (new) answer, and whether a loop is producing it.
    tokenize_dirty: bool,
    tokenizing: bool,
    /// The price table, once fetched; the newest `Cost` request, answered again as vocabularies
    /// arrive.
    prices: Option<Result<Rc<PriceTable>, String>>,
    prices_loading: bool,
    last_cost: Option<CostRequest>,
    /// Set with each pass of the tokenize loop: the cost request needs answering too.
    cost_due: bool,
    /// The model, once loaded (model worker).
    model: Option<Loaded>,
    model_loading: bool,
    pending_next: Option<NextRequest>,
    scoring: bool,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    /// The file posted with the request being handled (see `AddTokenizer`).
    static ATTACHED: RefCell<Option<web_sys::File>> = const { RefCell::new(None) };
}

/// Files larger than this are not read whole: a GGUF's tokenizer is in its first megabytes.
const GGUF_HEAD: f64 = 64.0 * 1024.0 * 1024.0;
const MAX_JSON: f64 = 256.0 * 1024.0 * 1024.0;

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
        if let Some(file) = file {
            ATTACHED.with_borrow_mut(|a| *a = Some(file));
        }
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
        ToWorker::Tokenize {
            seq,
            text,
            tokenizers,
        } => {
            for id in &tokenizers {
                start_loading(id);
            }
            STATE.with_borrow_mut(|s| {
                s.last_tokenize = Some((seq, Job::Encode(text), tokenizers));
                s.tokenize_dirty = true;
            });
            kick_tokenize_loop();
        }
        ToWorker::Decode {
            seq,
            ids,
            tokenizers,
        } => {
            for id in &tokenizers {
                start_loading(id);
            }
            STATE.with_borrow_mut(|s| {
                s.last_tokenize = Some((seq, Job::Decode(ids), tokenizers));
                s.tokenize_dirty = true;
            });
            kick_tokenize_loop();
        }
        ToWorker::Cost(req) => {
            STATE.with_borrow_mut(|s| {
                s.last_cost = Some(req);
                s.tokenize_dirty = true;
            });
            let fetch = STATE.with_borrow_mut(|s| {
                s.prices.is_none() && !std::mem::replace(&mut s.prices_loading, true)
            });
            if fetch {
                spawn_local(async {
                    let table = load_prices().await.map(Rc::new);
                    STATE.with_borrow_mut(|s| {
                        s.prices = Some(table);
                        s.prices_loading = false;
                        s.tokenize_dirty = true;
                    });
                    kick_tokenize_loop();
                });
            }
            kick_tokenize_loop();
        }
        ToWorker::AddTokenizer { id, name } => {
            let file = ATTACHED.with_borrow_mut(Option::take);
            spawn_local(async move {
                let result = match file {
                    None => Err("no file came with the request".to_string()),
                    Some(file) => read_user_tokenizer(&file, &name).await,
                };
                let msg = match result {
                    Ok(tok) => {
                        let entries = tok.entries();
                        STATE.with_borrow_mut(|s| {
                            s.vocabs.insert(id.clone(), Vocab::Ready(Rc::new(tok)));
                            s.tokenize_dirty = true;
                        });
                        kick_tokenize_loop();
                        FromWorker::TokenizerAdded { id, name, entries }
                    }
                    Err(message) => FromWorker::TokenizerRejected { id, name, message },
                };
                post(&msg);
            });
        }
        ToWorker::TokenizeBatch { tokenizer, texts } => spawn_local(async move {
            let t0 = now_ms();
            let msg = match vocab(&tokenizer).await {
                Err(message) => FromWorker::BatchFailed { message },
                Ok(tok) => {
                    let load_ms = now_ms() - t0;
                    let t1 = now_ms();
                    let ids: Result<Vec<Vec<u32>>, _> =
                        texts.iter().map(|t| tok.encode(t)).collect();
                    match ids {
                        Ok(ids) => FromWorker::BatchIds {
                            tokenizer,
                            ids,
                            load_ms,
                            encode_ms: now_ms() - t1,
                        },
                        Err(e) => FromWorker::BatchFailed {
                            message: e.to_string(),
                        },
                    }
                }
            };
            post(&msg);
        }),
        ToWorker::LoadModel { url, backend } => {
            let start = STATE.with_borrow_mut(|s| s.model.is_none() && !s.model_loading);
            if start {
                STATE.with_borrow_mut(|s| s.model_loading = true);
                spawn_local(load_model(url, backend));
            }
        }
        ToWorker::SetBackend(pref) => spawn_local(set_backend(pref)),
        ToWorker::Exercises => spawn_local(async {
            post(&FromWorker::Exercises(load_exercises().await));
        }),
        ToWorker::Bench {
            prompt_tokens,
            decode_tokens,
            runs,
        } => spawn_local(async move {
            post(&match bench(prompt_tokens, decode_tokens, runs).await {
                Ok(result) => FromWorker::BenchDone(result),
                Err(message) => FromWorker::BenchFailed { message },
            })
        }),
        ToWorker::Next(req) => {
            let start = STATE.with_borrow_mut(|s| {
                s.pending_next = Some(req);
                !std::mem::replace(&mut s.scoring, true)
            });
            if start {
                spawn_local(score_loop());
            }
        }
        ToWorker::ClearModelCache => spawn_local(async {
            if let Err(e) = clear_model_cache().await {
                web_sys::console::warn_1(&format!("tokenmeter: {e}").into());
            }
            post(&FromWorker::ModelCacheCleared);
        }),
    }
}

// ---- tokenizing ----------------------------------------------------------------------------

/// Starts downloading vocabulary `id` unless it is loaded or loading.
fn start_loading(id: &str) {
    let start = STATE.with_borrow_mut(|s| {
        if s.vocabs.contains_key(id) {
            return false;
        }
        s.vocabs.insert(id.to_string(), Vocab::Loading);
        true
    });
    if start {
        let id = id.to_string();
        spawn_local(async move {
            let loaded = match registry::find(&id) {
                None => Vocab::Failed(format!("unknown tokenizer \"{id}\"")),
                Some(spec) => match load_vocab(&id, spec.info()).await {
                    Ok(t) => Vocab::Ready(Rc::new(t)),
                    Err(e) => Vocab::Failed(e),
                },
            };
            STATE.with_borrow_mut(|s| {
                s.vocabs.insert(id, loaded);
                s.tokenize_dirty = true;
            });
            kick_tokenize_loop();
        });
    }
}

/// Vocabulary `id`, loading it if needed.
async fn vocab(id: &str) -> Result<Rc<TextTokenizer>, String> {
    start_loading(id);
    loop {
        match STATE.with_borrow(|s| s.vocabs.get(id).cloned()) {
            Some(Vocab::Ready(t)) => return Ok(t),
            Some(Vocab::Failed(e)) => return Err(e),
            _ => yield_now().await,
        }
    }
}

fn kick_tokenize_loop() {
    let start = STATE.with_borrow_mut(|s| !std::mem::replace(&mut s.tokenizing, true));
    if start {
        spawn_local(tokenize_loop());
    }
}

/// Answers the newest `Tokenize` request, again each time a vocabulary it asked for arrives.
async fn tokenize_loop() {
    loop {
        // Let queued messages arrive, so only the newest text is tokenized.
        yield_now().await;
        let job = STATE.with_borrow_mut(|s| {
            if !std::mem::take(&mut s.tokenize_dirty) {
                s.tokenizing = false;
                return None;
            }
            s.cost_due = s.last_cost.is_some();
            let (seq, text, ids) = s.last_tokenize.clone()?;
            let vocabs: Vec<(String, Option<Vocab>)> = ids
                .into_iter()
                .map(|id| {
                    let v = s.vocabs.get(&id).cloned();
                    (id, v)
                })
                .collect();
            Some((seq, text, vocabs))
        });
        if STATE.with_borrow_mut(|s| std::mem::take(&mut s.cost_due)) {
            answer_cost();
        }
        let Some((seq, job, vocabs)) = job else {
            if STATE.with_borrow(|s| s.tokenizing) {
                continue; // dirty was set but no request yet
            }
            return;
        };
        let ids = match &job {
            Job::Encode(_) => None,
            Job::Decode(typed) => match tokenizer::parse_ids(typed) {
                Ok(ids) => Some(ids),
                Err(e) => {
                    post(&FromWorker::TokenizeFailed {
                        seq,
                        message: e.to_string(),
                    });
                    continue;
                }
            },
        };
        let columns = vocabs
            .into_iter()
            .map(|(tokenizer, v)| {
                let state = match v {
                    None | Some(Vocab::Loading) => ColumnState::Loading,
                    Some(Vocab::Failed(e)) => ColumnState::Failed(e),
                    Some(Vocab::Ready(tok)) => match (&job, &ids) {
                        (Job::Encode(text), _) => encode_column(&tok, text),
                        (Job::Decode(_), Some(ids)) => decode_column(&tok, ids),
                        (Job::Decode(_), None) => ColumnState::Loading,
                    },
                };
                Column { tokenizer, state }
            })
            .collect();
        let text = match &job {
            Job::Encode(text) => text.as_str(),
            Job::Decode(_) => "",
        };
        post(&FromWorker::Tokenized(Tokenized {
            seq,
            chars: text.chars().count(),
            bytes: text.len(),
            columns,
        }));
    }
}

async fn load_prices() -> Result<PriceTable, String> {
    let bytes = fetch_bytes(PRICES_URL, |_, _| {})
        .await
        .map_err(|e| format!("could not download the price table: {e}"))?;
    PriceTable::from_json(&gunzip_if_needed(bytes).await?).map_err(|e| e.to_string())
}

/// Where the trimmed LiteLLM price table is served (written by `cargo xtask data`).
const PRICES_URL: &str = "prices/prices.json.gz";
/// Rows the cost table shows at most for a search.
const MAX_COST_ROWS: usize = 40;

/// Prices the newest `Cost` request with whatever vocabularies are loaded (starting the others).
fn answer_cost() {
    let Some(req) = STATE.with_borrow(|s| s.last_cost.clone()) else {
        return;
    };
    let prices = STATE.with_borrow(|s| s.prices.clone());
    let table = match prices {
        None => return, // still downloading: answered when it arrives
        Some(Err(e)) => {
            post(&FromWorker::Costs(CostReport {
                seq: req.seq,
                version: String::new(),
                date: String::new(),
                rows: Vec::new(),
                matches: 0,
                physics: None,
                device_flops: None,
                languages: Vec::new(),
                error: Some(e),
            }));
            return;
        }
        Some(Ok(t)) => t,
    };
    // Token counts per tokenizer, computed once each (None while a vocabulary loads).
    let mut counts: HashMap<String, Option<u64>> = HashMap::new();
    let mut count = |id: &str, text: &str| -> Option<u64> {
        if let Some(&n) = counts.get(id).filter(|_| text == req.text) {
            return n;
        }
        start_loading(id);
        let n = match STATE.with_borrow(|s| s.vocabs.get(id).cloned()) {
            Some(Vocab::Ready(tok)) => tok.encode(text).ok().map(|ids| ids.len() as u64),
            _ => None,
        };
        if text == req.text {
            counts.insert(id.to_string(), n);
        }
        n
    };
    let (models, matches): (Vec<&ModelPrice>, usize) = if req.settings.search.trim().is_empty() {
        let m: Vec<&ModelPrice> = DEFAULT_MODELS.iter().filter_map(|k| table.get(k)).collect();
        let n = m.len();
        (m, n)
    } else {
        let all = table.search(&req.settings.search, usize::MAX);
        let n = all.len();
        (all.into_iter().take(MAX_COST_ROWS).collect(), n)
    };
    let rows = models
        .into_iter()
        .map(|p| {
            let counting = cost::counting_for(&p.model);
            let tokens = count(&counting.tokenizer, &req.text);
            let output_tokens = req.settings.output_tokens.or(tokens);
            let c = tokens.zip(output_tokens).map(|(i, o)| {
                cost::cost(
                    p,
                    &Usage {
                        input_tokens: i,
                        output_tokens: o,
                        cached_share: req.settings.cached_share,
                        batch: req.settings.batch,
                    },
                )
            });
            CostRow {
                model: p.model.clone(),
                provider: p.provider.clone(),
                counting,
                tokens,
                output_tokens,
                per_month_usd: c.map(|c| c.total_usd * req.settings.requests_per_day as f64 * 30.0),
                cost: c,
            }
        })
        .collect();
    let physics = physics::known_model(&req.settings.physics_model).and_then(|model| {
        let input_tokens = count(&model.tokenizer, &req.text)?;
        let output_tokens = req.settings.output_tokens.unwrap_or(input_tokens);
        let estimate = physics::estimate(
            &model,
            input_tokens,
            output_tokens,
            &req.settings.assumptions,
        )?;
        Some(PhysicsView {
            model,
            input_tokens,
            output_tokens,
            estimate,
        })
    });
    let languages = req
        .languages_for
        .iter()
        .map(|id| LanguageRow {
            tokenizer: id.clone(),
            counts: cost::LANGUAGE_SAMPLES
                .iter()
                .map(|(_, name, text)| (name.to_string(), count(id, text)))
                .collect(),
        })
        .collect();
    post(&FromWorker::Costs(CostReport {
        seq: req.seq,
        version: table.version.clone(),
        date: table.date.clone(),
        rows,
        matches,
        physics,
        device_flops: req
            .device
            .map(|(params, tps)| physics::achieved_flops(params, tps)),
        languages,
        error: None,
    }));
}

fn encode_column(tok: &TextTokenizer, text: &str) -> ColumnState {
    let t0 = now_ms();
    match tok.tokenize(text) {
        Ok(tokens) => ColumnState::Ready(TokenList {
            count: tokens.len(),
            tokens: tokens
                .iter()
                .take(MAX_TOKENS_SHOWN)
                .map(TokenView::from)
                .collect(),
            ms: now_ms() - t0,
            decoded: None,
        }),
        Err(e) => ColumnState::Failed(e.to_string()),
    }
}

fn decode_column(tok: &TextTokenizer, ids: &[u32]) -> ColumnState {
    let t0 = now_ms();
    let decoded = tok.decode_ids(ids);
    ColumnState::Ready(TokenList {
        count: ids.len(),
        tokens: decoded
            .tokens
            .iter()
            .take(MAX_TOKENS_SHOWN)
            .map(|d| match &d.token {
                Some(t) => TokenView::from(t),
                None => TokenView {
                    id: d.id,
                    pieces: Vec::new(),
                    special: false,
                    start: 0,
                    end: 0,
                    invalid: true,
                },
            })
            .collect(),
        ms: now_ms() - t0,
        decoded: Some(decoded.text),
    })
}

/// The user's file as a tokenizer: a GGUF (by its signature) or a `tokenizer.json`.
async fn read_user_tokenizer(file: &web_sys::File, name: &str) -> Result<TextTokenizer, String> {
    let info = TokenizerInfo {
        id: format!("file:{name}"),
        name: name.to_string(),
        source: "your file".into(),
        license: "as stated by its publisher".into(),
    };
    let head = read_blob(&file.slice_with_f64_and_f64(0.0, 4.0).map_err(js_error)?).await?;
    if head == b"GGUF" {
        let size = file.size().min(GGUF_HEAD);
        let bytes = read_blob(&file.slice_with_f64_and_f64(0.0, size).map_err(js_error)?).await?;
        let gguf = Gguf::read(&mut Cursor::new(&bytes[..])).map_err(|e| format!("{name}: {e}"))?;
        return TextTokenizer::from_gguf(&gguf, info).map_err(|e| format!("{name}: {e}"));
    }
    if file.size() > MAX_JSON {
        return Err(format!(
            "{name}: {:.0} MB is too large for a tokenizer.json",
            file.size() / 1e6
        ));
    }
    let bytes = gunzip_if_needed(read_blob(file).await?).await?;
    TextTokenizer::from_json(&bytes, info).map_err(|e| format!("{name}: {e}"))
}

async fn read_blob(blob: &web_sys::Blob) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| format!("cannot read the file: {}", js_error(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

async fn load_vocab(id: &str, info: TokenizerInfo) -> Result<TextTokenizer, String> {
    let bytes = fetch_bytes(&vocab_url(id), |_, _| {})
        .await
        .map_err(|e| format!("could not download the {id} vocabulary: {e}"))?;
    let json = gunzip_if_needed(bytes).await?;
    TextTokenizer::from_json(&json, info).map_err(|e| e.to_string())
}

// ---- the model -----------------------------------------------------------------------------

async fn load_model(url: String, backend: Preference) {
    let mut last_report = 0.0;
    let started = now_ms();
    let progress = move |loaded, total| {
        // Report at most every 100 ms, and at the end.
        let t = now_ms();
        if t - last_report > 100.0 || Some(loaded) == total {
            last_report = t;
            post(&FromWorker::ModelProgress {
                loaded,
                total,
                elapsed_ms: t - started,
            });
        }
    };
    let cached = match cached_bytes(&url).await {
        Ok(bytes) => bytes,
        Err(e) => {
            // Cache Storage may be unavailable (private mode, quota): just download.
            web_sys::console::warn_1(&format!("tokenmeter: model cache: {e}").into());
            None
        }
    };
    let from_cache = cached.is_some();
    let bytes = match cached {
        Some(bytes) => Ok(bytes),
        None => fetch_bytes(&url, progress).await,
    };
    let (result, bytes) = match bytes {
        Err(e) => (Err(format!("the model download failed: {e}")), None),
        Ok(bytes) => {
            let t0 = now_ms();
            let loaded = match load_from_bytes(&bytes) {
                Ok(mut loaded) => {
                    // Choose the backend (and upload the weights if it is the GPU).
                    let engine = Engine::start(loaded.model.clone(), backend).await;
                    let chosen = engine.backend().clone();
                    loaded.engine = Some(engine);
                    Ok((loaded, chosen, now_ms() - t0))
                }
                Err(e) => Err(e),
            };
            (loaded, Some(bytes))
        }
    };
    STATE.with_borrow_mut(|s| s.model_loading = false);
    match result {
        Err(message) => {
            if from_cache {
                // A cached copy that does not load is dropped; a retry downloads it again.
                if let Err(e) = clear_model_cache().await {
                    web_sys::console::warn_1(&format!("tokenmeter: model cache: {e}").into());
                }
            }
            post(&FromWorker::ModelFailed { message })
        }
        Ok((loaded, engine, load_ms)) => {
            let model = &loaded.model;
            let summary = ModelSummary {
                name: "SmolLM2-135M-Instruct (Q4_1)".into(),
                n_params: model.n_params(),
                weight_bytes: model.weight_bytes(),
                vocab_size: model.config().vocab_size,
                context_length: model.config().context_length,
                backend: backend_label(&engine),
                engine,
                load_ms,
                from_cache,
                saved: from_cache,
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
            // Keep a file that loaded for the next visit (after answering: it takes a moment).
            if let (false, Some(bytes)) = (from_cache, bytes) {
                match store_in_cache(&url, bytes).await {
                    Ok(()) => post(&FromWorker::ModelCached),
                    Err(e) => {
                        web_sys::console::warn_1(&format!("tokenmeter: model cache: {e}").into())
                    }
                }
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
        model: Arc::new(model),
        engine: None,
        stop: chat::stop_tokens(&gguf, &tokenizer),
        tokenizer: Rc::new(tokenizer),
    })
}

/// Answers the newest `Next` request; feeds long prompts in chunks, checking for newer requests.
async fn score_loop() {
    'requests: loop {
        let Some(req) = STATE.with_borrow_mut(|s| {
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
        let seq = req.seq;
        let ids = STATE.with_borrow_mut(|s| {
            let m = s.model.as_mut().ok_or("the model is not loaded")?;
            let text = if req.chat {
                chat::smollm2_prompt(&req.text)
            } else {
                req.text.clone()
            };
            let mut ids = m.tokenizer.encode(&text).map_err(|e| e.to_string())?;
            let vocab = m.tokenizer.vocab_size();
            if let Some(&bad) = req.continuation.iter().find(|&&id| id as usize >= vocab) {
                return Err(format!("token {bad} is not in the vocabulary"));
            }
            ids.extend_from_slice(&req.continuation);
            let engine = m.engine.as_mut().ok_or("the model is busy")?;
            engine.session.set_track_scores(req.surprisal && !req.chat);
            Ok::<_, String>(ids)
        });
        let ids = match ids {
            Ok(ids) => ids,
            Err(message) => {
                post(&FromWorker::NextFailed { seq, message });
                continue;
            }
        };
        let t0 = now_ms();
        let mut computed = 0;
        loop {
            let step = with_engine(async |e| {
                // The GPU runs a step of up to MAX_STEP tokens in one go; the CPU reads a few
                // tokens between looks at the mailbox.
                let chunk = if e.on_gpu() { MAX_STEP } else { PREFILL_CHUNK };
                let step = e.advance(&ids, chunk).await.map_err(|e| e.to_string());
                if let Some(notice) = e.take_fallback() {
                    post(&FromWorker::BackendChanged {
                        backend: backend_label(e.backend()),
                        engine: e.backend().clone(),
                        notice: Some(notice),
                    });
                }
                step
            })
            .await
            .and_then(|step| step);
            match step {
                Err(message) => {
                    post(&FromWorker::NextFailed { seq, message });
                    continue 'requests;
                }
                Ok(step) => {
                    computed += step.computed;
                    if step.done {
                        break;
                    }
                    post(&FromWorker::NextProgress {
                        seq,
                        done: STATE.with_borrow(|s| {
                            s.model
                                .as_ref()
                                .and_then(|m| m.engine.as_ref())
                                .map_or(0, |e| e.session.tokens().len())
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
            let logits = m.engine.as_ref()?.session.logits()?;
            Some(summarise(m, &req, &ids, logits, computed, ms))
        });
        if let Some(scores) = scores {
            post(&FromWorker::Scores(scores));
        }
        yield_now().await;
    }
}

/// Everything the next-token panel shows, from one row of logits.
fn summarise(
    m: &Loaded,
    req: &NextRequest,
    ids: &[u32],
    logits: &[f32],
    computed: usize,
    ms: f64,
) -> Scores {
    let top = req.top.clamp(1, MAX_TOP);
    let step = req.continuation.len() as u64;
    let Analysis {
        dist,
        next,
        decision: sampling,
        curve,
    } = scoring::analyse(logits, &m.tokenizer, top, &req.sampler, step);
    let query = req.search.trim_end_matches(['\n', '\r']);
    let search = (!query.is_empty()).then(|| {
        let (id, exact) = match m.tokenizer.find(query) {
            Some(id) => (Some(id), true),
            None => (
                m.tokenizer
                    .encode(query)
                    .ok()
                    .and_then(|v| v.first().copied()),
                false,
            ),
        };
        id.map(|id| SearchHit {
            id,
            token: m.tokenizer.token_display(id).unwrap_or_default(),
            exact,
            rank: scoring::rank_of(logits, id),
            prob: dist.prob(logits[id as usize]),
        })
    });
    let surprisal = (req.surprisal && !req.chat).then(|| Surprisal {
        ids: ids.to_vec(),
        scores: m
            .engine
            .as_ref()
            .map(|e| e.session.token_scores().to_vec())
            .unwrap_or_default(),
    });
    Scores {
        seq: req.seq,
        prompt_tokens: ids.len(),
        computed_tokens: computed,
        ms,
        sampled_text: m
            .tokenizer
            .token_display(sampling.token)
            .unwrap_or_default(),
        sampled_ends: m.stop.contains(&sampling.token),
        sampling,
        curve,
        search: search.flatten(),
        surprisal,
        memory_bytes: wasm_memory_bytes(),
        next,
    }
}

fn wasm_memory_bytes() -> usize {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| {
            m.buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as usize
        })
        .unwrap_or(0)
}

/// Fetches and checks the exercise sets listed in `exercises/index.toml`.
async fn load_exercises() -> Result<Vec<tokenmeter_core::exercises::ExerciseSet>, String> {
    use tokenmeter_core::exercises::{ExerciseSet, Index};
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|e| e.to_string());
    let index = fetch_bytes("exercises/index.toml", |_, _| {})
        .await
        .map_err(|e| format!("could not download the exercises: {e}"))?;
    let index = Index::parse(&text(index)?).map_err(|e| e.to_string())?;
    let mut sets = Vec::new();
    for id in &index.sets {
        let bytes = fetch_bytes(&format!("exercises/{id}.toml"), |_, _| {})
            .await
            .map_err(|e| format!("could not download the exercise set {id}: {e}"))?;
        sets.push(ExerciseSet::parse(&text(bytes)?).map_err(|e| e.to_string())?);
    }
    Ok(sets)
}

/// Runs the core's benchmark on the loaded model (on its current backend), timed with the
/// worker's clock.
async fn bench(
    prompt_tokens: usize,
    decode_tokens: usize,
    runs: usize,
) -> Result<BenchResult, String> {
    let prompt = STATE.with_borrow(|s| {
        let m = s.model.as_ref().ok_or("the model is not loaded")?;
        bench::bench_prompt(&m.tokenizer, prompt_tokens).map_err(|e| e.to_string())
    })?;
    let tokenizer = STATE
        .with_borrow(|s| s.model.as_ref().map(|m| Rc::clone(&m.tokenizer)))
        .ok_or("the model is not loaded")?;
    with_engine(async |e| {
        let result = bench::run_median(e, &tokenizer, &prompt, decode_tokens, runs, now_ms).await;
        // Leave no benchmark state behind for the next real request.
        e.session.truncate(0);
        result.map_err(|e| e.to_string())
    })
    .await?
}

/// Runs `f` on the engine, taken out of the shared state for the duration (so that no borrow
/// is held across an `await`); waits while another task has it.
async fn with_engine<T>(f: impl AsyncFnOnce(&mut Engine) -> T) -> Result<T, String> {
    let mut engine = loop {
        let taken = STATE.with_borrow_mut(|s| match s.model.as_mut() {
            None => Err("the model is not loaded".to_string()),
            Some(m) => Ok(m.engine.take()),
        })?;
        match taken {
            Some(engine) => break engine,
            None => yield_now().await,
        }
    };
    let out = f(&mut engine).await;
    STATE.with_borrow_mut(|s| {
        if let Some(m) = s.model.as_mut() {
            m.engine = Some(engine);
        }
    });
    Ok(out)
}

/// Restarts the engine on the backend the user chose.
async fn set_backend(pref: Preference) {
    let Some(model) = STATE.with_borrow(|s| s.model.as_ref().map(|m| m.model.clone())) else {
        return;
    };
    let result = with_engine(async |e| {
        *e = Engine::start(model, pref).await;
        (backend_label(e.backend()), e.backend().clone())
    })
    .await;
    if let Ok((backend, engine)) = result {
        post(&FromWorker::BackendChanged {
            backend,
            engine,
            notice: None,
        });
    }
}

/// The status line's words for a backend.
fn backend_label(b: &tokenmeter_gpu::Backend) -> String {
    match (&b.kind[..], &b.adapter) {
        ("webgpu", Some(a)) => format!("WebGPU · {}", a.name),
        ("webgpu", None) => "WebGPU".into(),
        _ => "wasm SIMD128, 1 thread".into(),
    }
}

// ---- browser plumbing ----------------------------------------------------------------------

#[wasm_bindgen]
extern "C" {
    /// The browser's `DecompressionStream` (web-sys has it only behind its unstable-APIs flag).
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, JsValue>;
}

/// Decompresses gzip data with the browser's own `DecompressionStream`; other data is returned
/// as is (a host may already have decoded a `.gz` it served with `Content-Encoding: gzip`).
async fn gunzip_if_needed(mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let input = Response::new_with_opt_u8_array(Some(&mut bytes)).map_err(js_error)?;
    let body = input.body().ok_or("empty body")?;
    let gunzip = DecompressionStream::new("gzip").map_err(js_error)?;
    let stream = body.pipe_through(gunzip.unchecked_ref::<web_sys::ReadableWritablePair>());
    let output = Response::new_with_opt_readable_stream(Some(&stream)).map_err(js_error)?;
    let buffer = JsFuture::from(output.array_buffer().map_err(js_error)?)
        .await
        .map_err(|e| format!("the vocabulary file is not valid gzip: {}", js_error(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

async fn open_model_cache() -> Result<web_sys::Cache, String> {
    let caches = scope().caches().map_err(js_error)?;
    JsFuture::from(caches.open(MODEL_CACHE))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)
}

/// The model file from Cache Storage, if a complete copy is there.
async fn cached_bytes(url: &str) -> Result<Option<Vec<u8>>, String> {
    let cache = open_model_cache().await?;
    let hit = JsFuture::from(cache.match_with_str(url))
        .await
        .map_err(js_error)?;
    if hit.is_undefined() || hit.is_null() {
        return Ok(None);
    }
    let response: Response = hit.dyn_into().map_err(js_error)?;
    read_body(url, response, |_, _| {}).await.map(Some)
}

async fn store_in_cache(url: &str, mut bytes: Vec<u8>) -> Result<(), String> {
    let cache = open_model_cache().await?;
    let response = Response::new_with_opt_u8_array(Some(&mut bytes)).map_err(js_error)?;
    drop(bytes);
    JsFuture::from(cache.put_with_str(url, &response))
        .await
        .map_err(js_error)?;
    Ok(())
}

async fn clear_model_cache() -> Result<(), String> {
    let caches = scope().caches().map_err(js_error)?;
    JsFuture::from(caches.delete(MODEL_CACHE))
        .await
        .map_err(js_error)?;
    Ok(())
}

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
async fn fetch_bytes(url: &str, progress: impl FnMut(u64, Option<u64>)) -> Result<Vec<u8>, String> {
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
    read_body(url, response, progress).await
}

/// Reads a response's body, reporting progress, and checks it is as long as announced.
async fn read_body(
    url: &str,
    response: Response,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
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
