//! The model worker's role: download the GGUF (with progress; kept in Cache Storage), load it,
//! start the engine on the backend asked for, then answer scoring requests one at a time.
//!
//! One task owns the engine and runs every job in turn: control jobs (load, change backend,
//! benchmark) in order, and the newest scoring job (next or generate) — a newer one replaces an
//! older one that has not started, and makes a running one give up at its next look at the
//! mailbox (between prefill chunks, between generated tokens).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Cursor;
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen_futures::spawn_local;

use tokenmeter_core::msg;
use tokenmeter_core::service::bench::{self, BenchRequest};
use tokenmeter_core::service::inside::{self, InsideRequest};
use tokenmeter_core::service::model::LoadedModel;
use tokenmeter_core::service::next::{self, GenerateEvent, GenerateRequest, NextRequest, Progress};
use tokenmeter_gpu::{Engine, Preference};

use super::blob::BlobReader;
use super::mailbox::{yield_to_events, Latest, Notify};
use super::{memory_bytes, net, now_ms, post};
use crate::protocol::{FromWorker, ToWorker};

/// The largest model file the page downloads (wasm32 addresses 4 GB; the weights are unpacked
/// beside the downloaded file while loading).
const MAX_MODEL_BYTES: u64 = 1_500_000_000;

/// The most memory a user's model may take once loaded (`memory_needed`): the weights are read
/// from the file in place, so nearly all of WebAssembly's 4 GB could go to them, less room for
/// the KV cache, the scores and the code.
const MAX_OWN_MODEL_MEMORY: u64 = 3_200_000_000;

enum Control {
    Load {
        url: String,
        sha256: Option<String>,
        backend: Preference,
    },
    LoadFile {
        file: web_sys::File,
        backend: Preference,
    },
    SetBackend(Preference),
    Bench(BenchRequest),
}

#[derive(Clone)]
enum Scoring {
    Next { seq: u64, req: NextRequest },
    Generate { seq: u64, req: GenerateRequest },
}

pub struct Model {
    controls: RefCell<VecDeque<Control>>,
    scoring: Latest<Scoring>,
    /// The newest look inside the model: answered when no scoring job waits.
    inside: Latest<(u64, InsideRequest)>,
    /// The user pressed Stop: a running generation ends at its next token.
    stop: Cell<bool>,
    changed: Rc<Notify>,
}

impl Model {
    pub fn start() -> Rc<Self> {
        let role = Rc::new(Self {
            controls: RefCell::new(VecDeque::new()),
            scoring: Latest::default(),
            inside: Latest::default(),
            stop: Cell::new(false),
            changed: Rc::new(Notify::default()),
        });
        spawn_local(run(Rc::clone(&role)));
        // Once the first request has started (a download, or reading the cache), while it waits
        // for the network: the products in any form give the same bits, so a pass that came
        // before this would only be slower.
        spawn_local(async {
            yield_to_events().await;
            choose_dot_form();
        });
        role
    }

    pub fn handle(self: &Rc<Self>, msg: ToWorker, file: Option<web_sys::File>) {
        match msg {
            ToWorker::LoadFile { backend } => match file {
                Some(file) => self.control(Control::LoadFile { file, backend }),
                None => post(&FromWorker::ModelFailed {
                    message: msg!("no file came with the request"),
                }),
            },
            ToWorker::LoadModel {
                url,
                sha256,
                backend,
            } => self.control(Control::Load {
                url,
                sha256,
                backend,
            }),
            ToWorker::SetBackend(p) => self.control(Control::SetBackend(p)),
            ToWorker::Bench(req) => self.control(Control::Bench(req)),
            ToWorker::Next { seq, req } => self.score(Scoring::Next { seq, req }),
            ToWorker::Generate { seq, req } => self.score(Scoring::Generate { seq, req }),
            ToWorker::Inside { seq, req } => {
                self.inside.put((seq, req));
                self.changed.notify();
            }
            ToWorker::Stop => {
                self.scoring.clear();
                self.stop.set(true);
            }
            ToWorker::ClearModelCache => spawn_local(async {
                if let Err(e) = net::clear_model_cache().await {
                    web_sys::console::warn_1(&format!("tokenmeter: {e}").into());
                }
                post(&FromWorker::ModelCacheCleared);
            }),
            _ => {}
        }
    }

    fn control(&self, c: Control) {
        self.controls.borrow_mut().push_back(c);
        self.changed.notify();
    }

    fn score(&self, s: Scoring) {
        self.scoring.put(s);
        self.changed.notify();
    }

    /// A newer scoring request or a Stop arrived: the running job should give up.
    fn interrupted(&self) -> bool {
        self.scoring.is_full() || self.stop.get()
    }
}

/// Times the forms of the byte products this build has on this machine and keeps the fastest
/// that gives exact results (`tokenmeter_core::model::quant::choose_dot_form`, 0.1–0.25 s), and
/// says which in the console. `&dot=widening|pairs|quads` on the worker's address names one
/// instead (to compare them; one this build lacks means the widening one). (Only wasm has
/// forms to choose from: a native build of this crate, for its tests, has none.)
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn choose_dot_form() {}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn choose_dot_form() {
    use tokenmeter_core::model::quant::{choose_dot_form, set_dot_form, Form};
    let asked = web_sys::UrlSearchParams::new_with_str(&super::scope().location().search())
        .ok()
        .and_then(|p| p.get("dot"));
    if let Some(name) = asked {
        let form = Form::BUILT.iter().find(|f| f.name() == name);
        return set_dot_form(form.copied().unwrap_or(Form::Widen));
    }
    let start = now_ms();
    let timed = choose_dot_form(&now_ms);
    let said: Vec<String> = timed
        .iter()
        .map(|(form, ms)| format!("{} {ms:.3} ms", form.name()))
        .collect();
    web_sys::console::info_1(
        &format!(
            "tokenmeter: byte products in the fastest exact form: {} (timed in {:.0} ms)",
            said.join(", "),
            now_ms() - start
        )
        .into(),
    );
}

/// The model once loaded, and the engine its passes run on.
struct Ready {
    model: Rc<LoadedModel>,
    engine: Engine,
}

/// Runs every job in turn; sleeps when there is none.
async fn run(role: Rc<Model>) {
    let mut ready: Option<Ready> = None;
    loop {
        let changed = role.changed.wait();
        let control = role.controls.borrow_mut().pop_front();
        if let Some(control) = control {
            match control {
                Control::Load {
                    url,
                    sha256,
                    backend,
                } => {
                    if ready.is_none() {
                        ready = load(&url, sha256.as_deref(), backend).await;
                    }
                }
                Control::LoadFile { file, backend } => {
                    if ready.is_none() {
                        ready = load_file(&file, backend).await;
                    }
                }
                Control::SetBackend(pref) => {
                    if let Some(r) = ready.as_mut() {
                        r.engine = Engine::start(Arc::clone(&r.model.model), pref).await;
                        post(&FromWorker::BackendChanged {
                            engine: r.engine.backend().clone(),
                            notice: None,
                        });
                    }
                }
                Control::Bench(req) => post(&match ready.as_mut() {
                    None => FromWorker::BenchFailed {
                        message: msg!("the model is not loaded"),
                    },
                    Some(r) => match bench::bench(&r.model, &mut r.engine, &req, now_ms).await {
                        Ok(result) => FromWorker::BenchDone(Box::new(result)),
                        Err(message) => FromWorker::BenchFailed { message },
                    },
                }),
            }
            continue;
        }
        // Scoring requests wait for the model; a look inside waits for them too (it reuses the
        // cache they fill).
        match (
            ready.as_mut(),
            role.scoring.is_full(),
            role.inside.is_full(),
        ) {
            (Some(r), true, _) => {
                if let Some(job) = role.scoring.take() {
                    role.stop.set(false);
                    score(&role, r, job).await;
                }
            }
            (Some(r), false, true) => {
                if let Some((seq, req)) = role.inside.take() {
                    let t0 = now_ms();
                    let answer = inside::inside(&r.model, &mut r.engine, &req).await;
                    if let Some(notice) = r.engine.take_fallback() {
                        post(&FromWorker::BackendChanged {
                            engine: r.engine.backend().clone(),
                            notice: Some(notice),
                        });
                    }
                    post(&match answer {
                        Ok(answer) => FromWorker::Inside {
                            seq,
                            inside: Box::new(answer),
                            ms: now_ms() - t0,
                        },
                        Err(message) => FromWorker::InsideFailed { seq, message },
                    });
                }
            }
            _ => changed.await,
        }
    }
}

/// Downloads (or takes from Cache Storage) and loads the model, reporting progress. With a
/// `sha256`, a file whose digest differs is never used: a cached one is dropped and downloaded
/// again, a downloaded one is refused (and not kept).
async fn load(url: &str, sha256: Option<&str>, backend: Preference) -> Option<Ready> {
    let started = now_ms();
    let mut last_report = f64::NEG_INFINITY;
    let mut progress = |loaded: u64, total: Option<u64>| {
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
    let cached = net::cached_model(url, MAX_MODEL_BYTES)
        .await
        .unwrap_or_else(|e| {
            // Cache Storage may be unavailable (private mode, quota): just download.
            web_sys::console::warn_1(&format!("tokenmeter: model cache: {e}").into());
            None
        });
    let cached = match (cached, sha256) {
        (Some(bytes), Some(want))
            if net::sha256_hex(&bytes).await.ok().as_deref() != Some(want) =>
        {
            // A damaged or tampered copy: forget it and download the real one.
            if let Err(e) = net::clear_model_cache().await {
                web_sys::console::warn_1(&format!("tokenmeter: model cache: {e}").into());
            }
            None
        }
        (cached, _) => cached,
    };
    let from_cache = cached.is_some();
    let bytes = match cached {
        Some(bytes) => bytes,
        None => match net::fetch_bytes(url, &mut progress, MAX_MODEL_BYTES).await {
            Ok(bytes) => bytes,
            Err(e) => {
                post(&FromWorker::ModelFailed {
                    message: msg!("the model download failed: {}", e),
                });
                return None;
            }
        },
    };
    if let (false, Some(want)) = (from_cache, sha256) {
        match net::sha256_hex(&bytes).await {
            Ok(got) if got == want => {}
            Ok(got) => {
                post(&FromWorker::ModelFailed {
                    message: msg!(
                        "the downloaded model is not the expected file (sha256 {}, expected {}): not used",
                        got,
                        want
                    ),
                });
                return None;
            }
            Err(message) => {
                post(&FromWorker::ModelFailed { message });
                return None;
            }
        }
    }
    let t0 = now_ms();
    let model = match LoadedModel::read(&mut Cursor::new(&bytes[..])) {
        Ok(m) => Rc::new(m),
        Err(message) => {
            if from_cache {
                // A cached copy that does not load is dropped; a retry downloads it again.
                if let Err(e) = net::clear_model_cache().await {
                    web_sys::console::warn_1(&format!("tokenmeter: model cache: {e}").into());
                }
            }
            post(&FromWorker::ModelFailed { message });
            return None;
        }
    };
    // Choose the backend (and upload the weights if it is the GPU).
    let engine = Engine::start(Arc::clone(&model.model), backend).await;
    post(&FromWorker::ModelReady {
        summary: model.summary(engine.backend()),
        load_ms: now_ms() - t0,
        from_cache,
    });
    if !from_cache {
        // Keep a file that loaded for the next visit (after answering: it takes a moment).
        let url = url.to_string();
        spawn_local(async move {
            match net::store_model(&url, bytes).await {
                Ok(()) => post(&FromWorker::ModelCached),
                Err(e) => web_sys::console::warn_1(&format!("tokenmeter: model cache: {e}").into()),
            }
        });
    }
    Some(Ready { model, engine })
}

/// Reads the user's model from their file in place (never whole in memory), after checking from
/// its header that it fits, reporting how far the reading got.
async fn load_file(file: &web_sys::File, backend: Preference) -> Option<Ready> {
    let started = now_ms();
    let mut last_report = f64::NEG_INFINITY;
    let progress = |loaded: u64, total: u64| {
        let t = now_ms();
        if t - last_report > 100.0 || loaded == total {
            last_report = t;
            post(&FromWorker::ModelProgress {
                loaded,
                total: Some(total),
                elapsed_ms: t - started,
            });
        }
    };
    let read = BlobReader::new(file.clone().into(), progress)
        .map_err(|e| msg!("cannot read the file: {}", e.to_string()))
        .and_then(|mut reader| LoadedModel::read_within(&mut reader, MAX_OWN_MODEL_MEMORY));
    let model = match read {
        Ok(m) => Rc::new(m),
        Err(message) => {
            post(&FromWorker::ModelFailed {
                message: msg!("{} cannot be used: {}", file.name(), message),
            });
            return None;
        }
    };
    let t0 = now_ms();
    let engine = Engine::start(Arc::clone(&model.model), backend).await;
    post(&FromWorker::ModelReady {
        summary: model.summary(engine.backend()),
        load_ms: now_ms() - t0,
        from_cache: false,
    });
    Some(Ready { model, engine })
}

/// Answers one scoring job, posting progress, scores and generated tokens as they come.
async fn score(role: &Rc<Model>, r: &mut Ready, job: Scoring) {
    let seq = match &job {
        Scoring::Next { seq, .. } | Scoring::Generate { seq, .. } => *seq,
    };
    let mut t0 = now_ms();
    let mut between = async |p: Progress| {
        post(&FromWorker::NextProgress {
            seq,
            done: p.done,
            total: p.total,
        });
        yield_to_events().await;
        !role.interrupted()
    };
    let post_scores = |scores: &next::NextResponse, t0: f64| {
        if let Some(notice) = &scores.fallback {
            post(&FromWorker::BackendChanged {
                engine: scores.backend.clone(),
                notice: Some(notice.clone()),
            });
        }
        post(&FromWorker::Scores {
            seq,
            scores: Box::new(scores.clone()),
            ms: now_ms() - t0,
            memory_bytes: memory_bytes(),
        });
    };
    match job {
        Scoring::Next { req, .. } => {
            match next::next(&r.model, &mut r.engine, &req, &mut between).await {
                Ok(Some(scores)) => post_scores(&scores, t0),
                Ok(None) => {} // superseded
                Err(message) => post(&FromWorker::NextFailed { seq, message }),
            }
        }
        Scoring::Generate { req, .. } => {
            let mut on = async |e: GenerateEvent<'_>| match e {
                GenerateEvent::Progress(p) => between(p).await,
                GenerateEvent::Scores(s) => {
                    post_scores(s, t0);
                    // Let a Stop or a newer request arrive between two tokens.
                    yield_to_events().await;
                    t0 = now_ms();
                    !role.interrupted()
                }
                GenerateEvent::Token(token) => {
                    post(&FromWorker::Appended {
                        seq,
                        token: token.clone(),
                    });
                    true
                }
            };
            match next::generate(&r.model, &mut r.engine, &req, &mut on).await {
                Ok(_) => post(&FromWorker::GenerateDone { seq }),
                Err(message) => post(&FromWorker::NextFailed { seq, message }),
            }
        }
    }
}
