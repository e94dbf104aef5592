//! The page: Leptos components that draw the state and send requests to the workers.
//!
//! State lives in [`AppState`] (signals, owned by [`App`]) and flows down to small components:
//! [`tokens::TokenPanel`] (the text as tokens, optionally coloured by surprisal) and
//! [`next::NextPanel`] (the whole-vocabulary scores, sampling controls, stepping). The page never
//! computes: every token and score comes from a worker through [`Bridge`].

mod cost;
mod embed;
mod exercises;
pub mod i18n;
mod next;
pub mod share;
mod tokens;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use tokenmeter_core::sampling::Sampler;

use crate::protocol::{
    FromWorker, ModelSummary, NextRequest, Preference, Scores, ToWorker, Tokenized,
};
use crate::worker_client::WorkerHandle;
use i18n::{t, tx};

/// The model file, served next to the page by Trunk (see `index.html`).
pub const MODEL_URL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
const DEFAULT_TEXT: &str = "The capital of France is";
/// Pauses after the last keystroke before asking the workers.
const TOKENIZE_DEBOUNCE: Duration = Duration::from_millis(40);
const SCORE_DEBOUNCE: Duration = Duration::from_millis(200);

/// Where the model stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    /// Not asked for yet (an embedded widget loads the model only when the reader asks).
    Asleep,
    Downloading {
        loaded: u64,
        total: Option<u64>,
        /// Bytes per second so far.
        rate: Option<f64>,
    },
    Ready(ModelSummary),
    Failed(String),
}

/// Where the next-token answer for the current text stands.
#[derive(Debug, Clone, PartialEq)]
pub enum NextState {
    /// Waiting for the model, or for the worker to answer.
    Waiting,
    /// Reading a long prompt: `done` of `total` tokens.
    Reading {
        done: usize,
        total: usize,
    },
    Done(Box<Scores>),
    Failed(String),
}

/// What the user set in the next-token panel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Candidates listed (1–100).
    pub top: usize,
    pub sampler: Sampler,
    /// Wrap the text in SmolLM2's chat template.
    pub chat: bool,
    /// A token to locate in the distribution.
    pub search: String,
    /// Colour the text's tokens by how surprising the model found them.
    pub surprisal: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            top: 10,
            sampler: Sampler::default(),
            chat: false,
            search: String::new(),
            surprisal: false,
        }
    }
}

/// A token added after the text: drawn by the sampler, or chosen by the user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Generated {
    pub id: u32,
    pub text: String,
    pub forced: bool,
}

/// Measured speed, from the worker's answers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Speed {
    /// Tokens/s of the last answer that read several tokens at once.
    pub prefill: Option<f64>,
    /// Milliseconds of the last answer that read exactly one new token.
    pub decode_ms: Option<f64>,
    pub memory_bytes: usize,
}

/// Every signal the page renders from.
#[derive(Clone, Copy)]
pub struct AppState {
    pub text: RwSignal<String>,
    pub tokens: RwSignal<Option<Tokenized>>,
    pub token_error: RwSignal<Option<String>>,
    pub model: RwSignal<ModelState>,
    pub next: RwSignal<NextState>,
    pub settings: RwSignal<Settings>,
    pub continuation: RwSignal<Vec<Generated>>,
    /// Tokens still to generate in a run; `None` when not running.
    pub running: RwSignal<Option<usize>>,
    pub speed: RwSignal<Speed>,
    pub show_ids: RwSignal<bool>,
    /// True from a request until its answer: the scores on screen are for an older context and
    /// must not be clicked or stepped from.
    pub stale: RwSignal<bool>,
    /// The tokenizers shown side by side (shipped ids), in order.
    pub columns: RwSignal<Vec<String>>,
    /// The byte range of the text under the pointer, highlighted in every column.
    pub hovered: RwSignal<Option<(usize, usize)>>,
    /// Decode mode: the columns show the typed IDs turned back into text.
    pub decode: RwSignal<bool>,
    pub ids_input: RwSignal<String>,
    /// Tokenizers the user brought (`file:<n>` ids and their file names).
    pub custom: RwSignal<Vec<(String, String)>>,
    /// Why the last file the user brought could not be used.
    pub custom_error: RwSignal<Option<String>>,
    /// The cost panel: open (it only asks for prices and vocabularies once opened), its
    /// settings, and the latest answer.
    pub cost_open: RwSignal<bool>,
    pub cost_settings: RwSignal<cost::CostSettings>,
    pub costs: RwSignal<Option<crate::protocol::CostReport>>,
    /// Where the user wants the model to run (`?backend=auto|cpu|webgpu`, or the status line).
    pub backend_pref: RwSignal<Preference>,
    /// Why the backend changed without being asked (a GPU failure); shown until dismissed.
    pub backend_notice: RwSignal<Option<String>>,
    /// Why the shared link the page was opened with could not be used (shown in a sentence).
    pub share_notice: RwSignal<Option<String>>,
    /// The state is too large to keep in a link.
    pub link_too_long: RwSignal<bool>,
    /// Language of the exercises (`?lang=`, else the browser's).
    pub lang: RwSignal<i18n::Lang>,
    /// The exercise sets, once read by the worker.
    pub exercise_sets: RwSignal<Option<Result<Vec<crate::protocol::ExerciseSet>, String>>>,
    /// The open exercise (set id, exercise id), and those solved in this visit.
    pub exercise: RwSignal<Option<(String, String)>>,
    pub exercises_done: RwSignal<Vec<String>>,
}

/// The tokenizers shown until the user picks others: the page's model, and two it can compare to.
pub const DEFAULT_COLUMNS: [&str; 3] = ["smollm2", "o200k_base", "llama3"];

/// The two workers and the sequence numbers of the latest requests.
struct Bridge {
    tokenizer: Rc<WorkerHandle>,
    /// The model worker; `None` until asked for in an embedded widget.
    model: RefCell<Option<Rc<WorkerHandle>>>,
    state: AppState,
    files_added: Cell<u32>,
}

thread_local! {
    /// Whether the page's state came from a shared link.
    static RESTORED_LINK: Cell<bool> = const { Cell::new(false) };
    /// The exercise a shared link had open, opened once the sets arrive.
    static PENDING_EXERCISE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// Latest request numbers (tokenize, next), read by the handlers to drop stale answers.
    static LATEST: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// Latest cost request number.
    static LATEST_COST: Cell<u64> = const { Cell::new(0) };
}

impl Bridge {
    /// Starts the tokenizer worker, and the model worker unless `lazy_model` (then it starts on
    /// the first [`Bridge::restart_model`]).
    fn start(state: AppState, lazy_model: bool) -> Result<Rc<Self>, String> {
        let tokenizer = WorkerHandle::spawn(
            move |msg| on_tokenizer_message(state, msg),
            move |err| {
                state.token_error.set(Some(i18n::fill(
                    i18n::t(state.lang.get_untracked(), "the tokenizer stopped: {}"),
                    &[&err],
                )))
            },
        )?;
        let model = if lazy_model {
            state.model.set(ModelState::Asleep);
            None
        } else {
            Some(Self::spawn_model(state)?)
        };
        Ok(Rc::new(Bridge {
            tokenizer,
            model: RefCell::new(model),
            state,
            files_added: Cell::new(0),
        }))
    }

    /// Sends to the model worker, if one was started.
    fn to_model(&self, msg: &ToWorker) {
        if let Some(m) = self.model.borrow().as_ref() {
            m.send(msg);
        }
    }

    fn spawn_model(state: AppState) -> Result<Rc<WorkerHandle>, String> {
        let handle = WorkerHandle::spawn(
            move |msg| on_model_message(state, msg),
            move |err| {
                state.running.set(None);
                state.model.set(ModelState::Failed(i18n::fill(
                    t(
                        state.lang.get_untracked(),
                        "the model worker stopped ({}). Your text is kept; restart the model to go on.",
                    ),
                    &[&err],
                )));
            },
        )?;
        handle.send(&ToWorker::LoadModel {
            url: MODEL_URL.into(),
            backend: state.backend_pref.get_untracked(),
        });
        state.model.set(ModelState::Downloading {
            loaded: 0,
            total: None,
            rate: None,
        });
        Ok(handle)
    }

    /// Replaces the model worker (after a crash or a failed download) and reloads the model.
    fn restart_model(&self) {
        if let Some(m) = self.model.borrow().as_ref() {
            m.terminate();
        }
        match Self::spawn_model(self.state) {
            Ok(handle) => {
                *self.model.borrow_mut() = Some(handle);
                self.request_next();
            }
            Err(e) => self.state.model.set(ModelState::Failed(e)),
        }
    }

    /// Stops a download (or a load) by stopping the model worker; Retry starts a fresh one.
    fn cancel_model(&self) {
        if let Some(m) = self.model.borrow().as_ref() {
            m.terminate();
        }
        self.state.running.set(None);
        self.state.model.set(ModelState::Failed(
            t(
                self.state.lang.get_untracked(),
                "Model download cancelled. Tokenizing still works; retry whenever you like.",
            )
            .into(),
        ));
    }

    fn clear_model_cache(&self) {
        self.to_model(&ToWorker::ClearModelCache);
    }

    fn request_exercises(&self) {
        if self.state.exercise_sets.with_untracked(Option::is_none) {
            self.tokenizer.send(&ToWorker::Exercises);
        }
    }

    fn set_backend(&self, pref: Preference) {
        self.state.backend_pref.set(pref);
        self.state.backend_notice.set(None);
        self.to_model(&ToWorker::SetBackend(pref));
    }

    /// Hands the user's file to the tokenizer worker, which reads and checks it.
    fn add_tokenizer(&self, file: web_sys::File) {
        let n = self.files_added.get() + 1;
        self.files_added.set(n);
        self.state.custom_error.set(None);
        self.tokenizer.send_with_file(
            &ToWorker::AddTokenizer {
                id: format!("file:{n}"),
                name: file.name(),
            },
            &file,
        );
    }

    fn request_cost(&self) {
        let st = self.state;
        let seq = LATEST_COST.get() + 1;
        LATEST_COST.set(seq);
        let device = match (st.model.get_untracked(), st.speed.get_untracked().decode_ms) {
            (ModelState::Ready(m), Some(ms)) if ms > 0.0 => Some((m.n_params as f64, 1e3 / ms)),
            _ => None,
        };
        self.tokenizer
            .send(&ToWorker::Cost(crate::protocol::CostRequest {
                seq,
                text: st.text.get_untracked(),
                settings: st.cost_settings.get_untracked(),
                device,
                languages_for: st.columns.get_untracked(),
            }));
    }

    fn request_tokens(&self) {
        let (seq, next) = LATEST.get();
        LATEST.set((seq + 1, next));
        let tokenizers = self.state.columns.get_untracked();
        let msg = if self.state.decode.get_untracked() {
            ToWorker::Decode {
                seq: seq + 1,
                ids: self.state.ids_input.get_untracked(),
                tokenizers,
            }
        } else {
            ToWorker::Tokenize {
                seq: seq + 1,
                text: self.state.text.get_untracked(),
                tokenizers,
            }
        };
        self.tokenizer.send(&msg);
    }

    fn request_next(&self) {
        let (tok, seq) = LATEST.get();
        let seq = seq + 1;
        LATEST.set((tok, seq));
        let text = self.state.text.get_untracked();
        let settings = self.state.settings.get_untracked();
        let continuation: Vec<u32> = self
            .state
            .continuation
            .with_untracked(|c| c.iter().map(|g| g.id).collect());
        if text.is_empty() && continuation.is_empty() && !settings.chat {
            self.state.stale.set(false);
            self.state.next.set(NextState::Failed(
                t(
                    self.state.lang.get_untracked(),
                    "Type some text to see what comes next.",
                )
                .into(),
            ));
            return;
        }
        self.state.stale.set(true);
        if !matches!(self.state.next.get_untracked(), NextState::Done(_)) {
            self.state.next.set(NextState::Waiting);
        }
        self.to_model(&ToWorker::Next(NextRequest {
            seq,
            text,
            chat: settings.chat,
            continuation,
            top: settings.top,
            sampler: settings.sampler,
            search: settings.search,
            surprisal: settings.surprisal,
        }));
    }
}

fn on_tokenizer_message(state: AppState, msg: FromWorker) {
    let latest = LATEST.get().0;
    match msg {
        FromWorker::Tokenized(t) if t.seq == latest => {
            state.token_error.set(None);
            state.tokens.set(Some(t));
        }
        FromWorker::TokenizeFailed { seq, message } if seq == latest => {
            state.token_error.set(Some(message));
        }
        FromWorker::Costs(r) if r.seq == LATEST_COST.get() => state.costs.set(Some(r)),
        FromWorker::Exercises(sets) => {
            state.exercise_sets.set(Some(sets));
            // `?exercise=<set>/<id>`: open it in its starting state. A shared link's exercise
            // comes back as it was left (the link holds the text too).
            let asked = url_param("exercise");
            let linked = PENDING_EXERCISE.take();
            let wanted = asked.as_deref().or(linked.as_deref());
            if let Some((set, id)) = wanted.and_then(|p| p.split_once('/')) {
                if let Some((_, e)) = exercises::find(state, set, id) {
                    // A restored link keeps its own text; a plain `?exercise=` starts afresh.
                    if asked.is_some() && !RESTORED_LINK.get() {
                        exercises::open(state, set, &e);
                    } else {
                        state.exercise.set(Some((set.into(), id.into())));
                    }
                }
            }
        }
        FromWorker::TokenizerAdded { id, name, .. } => {
            state.custom.update(|c| c.push((id.clone(), name)));
            state.columns.update(|c| c.push(id));
        }
        FromWorker::TokenizerRejected { message, .. } => state.custom_error.set(Some(message)),
        _ => {}
    }
}

fn on_model_message(state: AppState, msg: FromWorker) {
    let latest = LATEST.get().1;
    match msg {
        FromWorker::ModelProgress {
            loaded,
            total,
            elapsed_ms,
        } => state.model.set(ModelState::Downloading {
            loaded,
            total,
            rate: (elapsed_ms > 0.0).then(|| loaded as f64 / (elapsed_ms / 1e3)),
        }),
        FromWorker::ModelReady(summary) => state.model.set(ModelState::Ready(summary)),
        FromWorker::BackendChanged {
            backend,
            engine,
            notice,
        } => {
            state.model.update(|m| {
                if let ModelState::Ready(summary) = m {
                    summary.backend = backend;
                    summary.engine = engine;
                }
            });
            // Speeds measured on the other backend no longer apply.
            state.speed.set(Default::default());
            if notice.is_some() {
                state.backend_notice.set(notice);
            }
        }
        FromWorker::ModelFailed { message } => {
            state.running.set(None);
            state.model.set(ModelState::Failed(message))
        }
        FromWorker::ModelCached => state.model.update(|m| {
            if let ModelState::Ready(s) = m {
                s.saved = true;
            }
        }),
        FromWorker::ModelCacheCleared => state.model.update(|m| {
            if let ModelState::Ready(s) = m {
                s.from_cache = false;
                s.saved = false;
            }
        }),
        FromWorker::NextProgress { seq, done, total } if seq == latest => {
            state.next.set(NextState::Reading { done, total })
        }
        FromWorker::Scores(s) if s.seq == latest => {
            state.speed.update(|speed| {
                speed.memory_bytes = s.memory_bytes;
                match s.computed_tokens {
                    0 => {}
                    1 => speed.decode_ms = Some(s.ms),
                    n => speed.prefill = Some(n as f64 / (s.ms / 1e3)),
                }
            });
            // A run appends the drawn token and asks again, until done or an end token.
            if let Some(left) = state.running.get_untracked() {
                let end = s.sampled_ends || left <= 1;
                state.running.set((!end).then(|| left - 1));
                state.continuation.update(|c| {
                    c.push(Generated {
                        id: s.sampling.token,
                        text: s.sampled_text.clone(),
                        forced: false,
                    })
                });
            }
            state.stale.set(false);
            state.next.set(NextState::Done(s.into()));
        }
        FromWorker::NextFailed { seq, message } if seq == latest => {
            state.running.set(None);
            state.stale.set(false);
            state.next.set(NextState::Failed(message))
        }
        _ => {}
    }
}

/// Calls `f` once `delay` has passed without another call.
fn debounced(delay: Duration, f: impl Fn() + 'static) -> impl Fn() + 'static {
    let f = Rc::new(f);
    let pending: Rc<Cell<Option<TimeoutHandle>>> = Rc::new(Cell::new(None));
    move || {
        if let Some(h) = pending.take() {
            h.clear();
        }
        let f = f.clone();
        pending.set(set_timeout_with_handle(move || f(), delay).ok());
    }
}

/// What the components may ask of the workers.
#[derive(Clone, Copy)]
pub struct Actions {
    bridge: StoredValue<Rc<Bridge>, LocalStorage>,
}

impl Actions {
    pub fn restart_model(&self) {
        self.bridge.with_value(|b| b.restart_model());
    }
    pub fn clear_model_cache(&self) {
        self.bridge.with_value(|b| b.clear_model_cache());
    }
    pub fn set_backend(&self, pref: Preference) {
        self.bridge.with_value(|b| b.set_backend(pref));
    }
    pub fn request_exercises(&self) {
        self.bridge.with_value(|b| b.request_exercises());
    }
    pub fn cancel_model(&self) {
        self.bridge.with_value(|b| b.cancel_model());
    }
    pub fn add_tokenizer(&self, file: web_sys::File) {
        self.bridge.with_value(|b| b.add_tokenizer(file));
    }
}

#[component]
pub fn App() -> impl IntoView {
    // A shared link restores what its sender saw; a damaged one gives the defaults and a notice.
    let (shared, share_notice) = match share::decode(&location_hash()) {
        Ok(shared) => (shared, None),
        Err(e) => (None, Some(e)),
    };

    RESTORED_LINK.set(shared.is_some());
    let shared = shared.map(sanitize).unwrap_or_else(|| share::Shared {
        text: DEFAULT_TEXT.to_string(),
        columns: DEFAULT_COLUMNS.iter().map(|s| s.to_string()).collect(),
        ..share::Shared::default()
    });
    let exercise_link = shared.exercise.clone();
    let state = AppState {
        text: RwSignal::new(shared.text),
        tokens: RwSignal::new(None),
        token_error: RwSignal::new(None),
        model: RwSignal::new(ModelState::Downloading {
            loaded: 0,
            total: None,
            rate: None,
        }),
        next: RwSignal::new(NextState::Waiting),
        settings: RwSignal::new(shared.settings),
        continuation: RwSignal::new(shared.continuation),
        running: RwSignal::new(None),
        speed: RwSignal::new(Speed::default()),
        show_ids: RwSignal::new(true),
        stale: RwSignal::new(true),
        columns: RwSignal::new(shared.columns),
        hovered: RwSignal::new(None),
        decode: RwSignal::new(shared.decode),
        ids_input: RwSignal::new(shared.ids),
        custom: RwSignal::new(Vec::new()),
        custom_error: RwSignal::new(None),
        cost_open: RwSignal::new(shared.cost_open),
        cost_settings: RwSignal::new(shared.cost),
        costs: RwSignal::new(None),
        backend_pref: RwSignal::new(backend_from_url()),
        backend_notice: RwSignal::new(None),
        share_notice: RwSignal::new(share_notice),
        link_too_long: RwSignal::new(false),
        lang: RwSignal::new(i18n::Lang::from_code(&shared.lang).unwrap_or_else(i18n::from_browser)),
        exercise_sets: RwSignal::new(None),
        exercise: RwSignal::new(None),
        exercises_done: RwSignal::new(Vec::new()),
    };
    // `?embed=tokens|next|cost`: one panel, compact, for an iframe in a blog post.
    let embed = embed_from_url();
    let bridge = match Bridge::start(state, embed.is_some()) {
        Ok(b) => b,
        Err(e) => {
            return view! { <p class="fatal" role="alert">"tokenmeter cannot start: " {e}</p> }
                .into_any()
        }
    };
    let bridge = StoredValue::new_local(bridge);
    let actions = Actions { bridge };

    let tokenize = debounced(TOKENIZE_DEBOUNCE, move || {
        bridge.with_value(|b| b.request_tokens())
    });
    let score_later = debounced(SCORE_DEBOUNCE, move || {
        bridge.with_value(|b| b.request_next())
    });
    // A new text: tokenize it, forget what was generated after the old one, score it. (Not on
    // the first run: a shared link's generated tokens belong to its text.)
    Effect::new(move |first: Option<()>| {
        state.text.track();
        tokenize();
        state.running.set(None);
        if first.is_some() && !state.continuation.with_untracked(Vec::is_empty) {
            state.continuation.set(Vec::new());
        }
        score_later();
    });
    // The document's language follows the interface's (screen readers pronounce by it).
    Effect::new(move |_| {
        let code = state.lang.get().code();
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("lang", code);
        }
    });
    // Keep the address in step with the state, so that it is always a link to what is shown.
    let sync_link = debounced(LINK_DEBOUNCE, move || {
        write_link(state);
    });
    Effect::new(move |first: Option<()>| {
        track_shared(state);
        if first.is_some() {
            sync_link();
        }
    });
    // Other tokenizers picked, or decode mode and its IDs: tokenize again.
    let retokenize = debounced(TOKENIZE_DEBOUNCE, move || {
        bridge.with_value(|b| b.request_tokens())
    });
    Effect::new(move |first: Option<()>| {
        state.columns.track();
        state.decode.track();
        state.ids_input.track();
        if first.is_some() {
            retokenize();
        }
    });
    // The cost panel, once open: price the text again when it or the settings change.
    let price_later = debounced(SCORE_DEBOUNCE, move || {
        bridge.with_value(|b| b.request_cost())
    });
    Effect::new(move |_| {
        state.text.track();
        state.cost_settings.track();
        state.columns.track();
        state.speed.track();
        if state.cost_open.get() {
            price_later();
        }
    });
    // New settings: score again (debounced: sliders move in small steps).
    let score_settings = debounced(SCORE_DEBOUNCE / 2, move || {
        bridge.with_value(|b| b.request_next())
    });
    Effect::new(move |first: Option<()>| {
        state.settings.track();
        if first.is_some() {
            score_settings();
        }
    });
    // A token added or removed after the text: score right away (one decode step).
    Effect::new(move |first: Option<()>| {
        state.continuation.track();
        if first.is_some() {
            bridge.with_value(|b| b.request_next());
        }
    });
    // When the model becomes ready, score the text that is there.
    Effect::new(move |was_ready: Option<bool>| {
        let ready = matches!(state.model.get(), ModelState::Ready(_));
        if ready && was_ready == Some(false) {
            bridge.with_value(|b| b.request_next());
        }
        ready
    });

    if let Some(panel) = embed {
        return embed::Embedded(embed::EmbeddedProps {
            state,
            actions,
            panel,
        })
        .into_any();
    }
    if url_param("instructor").is_some() {
        actions.request_exercises();
        return exercises::instructor(state).into_any();
    }
    if url_param("exercise").is_some() || !exercise_link.is_empty() {
        PENDING_EXERCISE.set((!exercise_link.is_empty()).then_some(exercise_link));
        actions.request_exercises();
    }
    view! {
        <header>
            <h1>"tokenmeter"</h1>
            <p class="tagline">
                {tx(state, "A token is a number. To write the next one, a model scores every entry of its vocabulary.")}
            </p>
            <ShareButton state />
            <label class="lang">
                {tx(state, "Language ")}
                <select data-testid="lang" on:change=move |ev| {
                    if let Some(l) = i18n::Lang::from_code(&event_target_value(&ev)) {
                        state.lang.set(l);
                    }
                } prop:value=move || state.lang.get().code()>
                    {i18n::Lang::ALL.map(|l| view! { <option value=l.code()>{l.name()}</option> })}
                </select>
            </label>
        </header>
        {move || state.share_notice.get().map(|e| view! {
            <p class="notice" role="alert" data-testid="share-notice">
                {move || i18n::fill(t(state.lang.get(), "This link could not be read: {}. Showing the defaults instead."), &[&e])}
                " "
                <button class="link" on:click=move |_| state.share_notice.set(None)>{tx(state, "Dismiss")}</button>
            </p>
        })}
        <main>
            <exercises::ExerciseCard state />
            <TextInput state />
            <tokens::TokenPanel state actions />
            <next::NextPanel state actions />
            <cost::CostPanel state actions />
            <exercises::ExerciseList state request=move || actions.request_exercises() />
        </main>
    }
    .into_any()
}

#[component]
pub fn TextInput(state: AppState) -> impl IntoView {
    let text = state.text;
    view! {
        <section class="input">
            <label for="text">{tx(state, "Your text")}</label>
            <textarea
                id="text"
                rows="5"
                spellcheck="false"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
            <p class="privacy">{tx(state, "Your text stays in this browser tab: nothing is sent anywhere.")}</p>
        </section>
    }
}

/// Shows whitespace inside a token: `·` for a space, `→` for a tab, `↵` for a newline.
pub fn visible_whitespace(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' => '·',
            '\t' => '→',
            '\n' => '↵',
            '\r' => '␍',
            c => c,
        })
        .collect()
}

/// Quiet time after the last edit before the address is updated.
const LINK_DEBOUNCE: Duration = Duration::from_millis(300);

/// The shareable part of the state.
pub fn shared_state(state: AppState) -> share::Shared {
    share::Shared {
        text: state.text.get_untracked(),
        columns: state.columns.get_untracked(),
        decode: state.decode.get_untracked(),
        ids: state.ids_input.get_untracked(),
        settings: state.settings.get_untracked(),
        continuation: state.continuation.get_untracked(),
        cost_open: state.cost_open.get_untracked(),
        cost: state.cost_settings.get_untracked(),
        lang: state.lang.get_untracked().code().into(),
        exercise: state
            .exercise
            .get_untracked()
            .map(|(set, id)| format!("{set}/{id}"))
            .unwrap_or_default(),
        ..share::Shared::default()
    }
}

/// Subscribes the running effect or view to every signal [`shared_state`] reads (keep the two
/// lists in step).
pub fn track_shared(state: AppState) {
    state.text.track();
    state.columns.track();
    state.decode.track();
    state.ids_input.track();
    state.settings.track();
    state.continuation.track();
    state.cost_open.track();
    state.cost_settings.track();
    state.lang.track();
    state.exercise.track();
}

/// A link's state made safe to use: only shipped tokenizers, settings within their ranges.
fn sanitize(mut s: share::Shared) -> share::Shared {
    use tokenmeter_core::tokenizer::registry::SHIPPED;
    s.columns.retain(|c| SHIPPED.iter().any(|t| t.id == c));
    s.columns.dedup();
    if s.columns.is_empty() {
        s.columns = DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect();
    }
    s.settings.top = s.settings.top.clamp(1, 100);
    let t = &mut s.settings.sampler;
    if !(t.temperature.is_finite() && t.temperature >= 0.0) {
        t.temperature = 1.0;
    }
    if !(t.top_p.is_finite() && t.top_p > 0.0 && t.top_p <= 1.0) {
        t.top_p = 1.0;
    }
    s
}

/// Writes the state into the address (replacing the entry, so Back still leaves the page).
/// Returns the full link, or `None` when the state is too large for one.
fn write_link(state: AppState) -> Option<String> {
    let window = web_sys::window()?;
    let location = window.location();
    let base = format!(
        "{}{}",
        location.pathname().ok()?,
        location.search().unwrap_or_default()
    );
    let link = share::encode(&shared_state(state));
    let too_long = link.len() > share::MAX_LINK;
    state.link_too_long.set(too_long);
    let url = if too_long {
        base
    } else {
        format!("{base}{link}")
    };
    let _ =
        window
            .history()
            .ok()?
            .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    (!too_long).then(|| location.href().ok()).flatten()
}

fn location_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// "Copy link": the address of exactly this state, to the clipboard (or shown, to copy by hand).
#[component]
fn ShareButton(state: AppState) -> impl IntoView {
    let shown = RwSignal::new(None::<String>);
    let message = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        shown.set(None);
        let Some(link) = write_link(state) else {
            message.set(Some(t(
                state.lang.get_untracked(),
                "This text is too long to share in a link; copy the text itself instead.",
            )));
            return;
        };
        let clipboard = web_sys::window().map(|w| w.navigator().clipboard());
        let Some(clipboard) = clipboard else {
            shown.set(Some(link));
            return;
        };
        let promise = clipboard.write_text(&link);
        wasm_bindgen_futures::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(promise).await {
                Ok(_) => message.set(Some(t(state.lang.get_untracked(), "Link copied."))),
                Err(_) => {
                    // No clipboard permission (e.g. inside a sandboxed frame): show it instead.
                    message.set(Some(t(state.lang.get_untracked(), "Copy this link:")));
                    shown.set(Some(link));
                }
            }
        });
    };
    let embedding = RwSignal::new(false);
    let panel = RwSignal::new(embed::Panel::Tokens);
    let snippet = move || {
        track_shared(state);
        embed_snippet(&embed::link_to(state, Some(panel.get())))
    };
    view! {
        <div class="share">
            <button data-testid="copy-link" on:click=copy>{tx(state, "Copy link")}</button>
            <button data-testid="embed" aria-expanded=move || embedding.get().to_string()
                on:click=move |_| embedding.update(|e| *e = !*e)>{tx(state, "Embed")}</button>
            <span role="status" data-testid="share-status">{move || message.get()}</span>
            {move || shown.get().map(|link| view! {
                <input class="link-out" readonly aria-label=tx(state, "Link to this page") prop:value=link
                    on:focus=move |ev| {
                        use wasm_bindgen::JsCast;
                        if let Some(i) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            i.select();
                        }
                    } />
            })}
        </div>
        {move || embedding.get().then(|| view! {
            <div class="embed-code">
                <label>
                    {tx(state, "Widget: ")}
                    <select data-testid="embed-panel" on:change=move |ev| {
                        panel.set(embed::Panel::parse(&event_target_value(&ev)));
                    }>
                        <option value="tokens">{tx(state, "tokens of this text")}</option>
                        <option value="next">{tx(state, "next-token scores (loads the model when the reader asks)")}</option>
                        <option value="cost">{tx(state, "what this text costs")}</option>
                    </select>
                </label>
                <textarea readonly rows="5" data-testid="embed-snippet" aria-label=tx(state, "HTML to paste into a blog post")
                    prop:value=snippet></textarea>
                <p class="muted">{tx(state, "Paste into your page's HTML. The script resizes the frame to its content.")}</p>
            </div>
        })}
    }
}

/// The HTML a blog pastes: the widget's frame and the listener that fits its height.
fn embed_snippet(src: &str) -> String {
    let src = src.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        "<iframe src=\"{src}\" title=\"tokenmeter\" width=\"100%\" height=\"420\" style=\"border:0\" loading=\"lazy\" \
sandbox=\"allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox\"></iframe>\n\
<script>addEventListener(\"message\", (e) => {{ if (e.data && e.data.type === \"tokenmeter:height\") \
for (const f of document.querySelectorAll(\"iframe\")) if (f.contentWindow === e.source) f.style.height = e.data.height + \"px\"; }});</script>"
    )
}

/// A parameter of the page's address (`?name=value`; `Some("")` for a bare `?name`).
pub fn url_param(name: &str) -> Option<String> {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| web_sys::UrlSearchParams::new_with_str(&q).ok())
        .and_then(|p| p.get(name))
}

/// The panel asked for by `?embed=` (`tokens`, `next` or `cost`), if any.
fn embed_from_url() -> Option<embed::Panel> {
    url_param("embed").map(|e| embed::Panel::parse(&e))
}

/// The backend asked for in the page's address (`?backend=cpu`, `webgpu` or `auto`).
fn backend_from_url() -> Preference {
    url_param("backend")
        .and_then(|b| b.parse().ok())
        .unwrap_or_default()
}
