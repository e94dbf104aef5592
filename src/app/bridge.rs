//! The page's two workers: starting them, restarting them after a crash, and sending requests
//! (numbered, so that only the answer to the newest is shown; [`super::replies`] turns the answers
//! into state).
//!
//! Generation is driven by the model worker: Step and Run send one `Generate` request built from
//! what the user sees; the worker appends each drawn token (`Appended`) and scores the context
//! after it (`Scores`), until done (`GenerateDone`). The page only records what it is told.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use tokenmeter_core::msg;

use super::replies::{on_model_message, on_tokenizer_message, Seqs};
use super::requests;
use super::state::{AppState, Explaining, InsideState, ModelState, NextState};
use crate::protocol::{FromWorker, Preference, ToWorker};
use crate::worker_client::{WorkerHandle, WorkerKind};

/// The model file, served next to the page by Trunk (see `index.html`), and its sha256 (the same
/// as `./dev` checks at setup; a test compares them): the worker checks it before using or
/// keeping the file.
pub const MODEL_URL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
pub const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

pub struct Bridge {
    /// The tokenizer worker (replaced if it crashes).
    tokenizer: RefCell<Option<Rc<WorkerHandle>>>,
    /// Whether the tokenizer worker is the full build (started instead of the light one once a
    /// user's file needs the full tokenizers library).
    tokenizer_full: Cell<bool>,
    /// The model worker; `None` until asked for in an embedded widget.
    model: RefCell<Option<Rc<WorkerHandle>>>,
    state: AppState,
    seqs: Rc<Seqs>,
    files_added: Cell<u32>,
    /// The user's tokenizer files, to hand again to a restarted worker: (id, file).
    files: RefCell<Vec<(String, web_sys::File)>>,
    /// The user's own model file, loaded instead of the shipped model while it is set (and
    /// handed again to a restarted worker).
    own_model: RefCell<Option<web_sys::File>>,
    /// The file the tokenizer worker is reading now: if it crashes meanwhile, that file is the
    /// likely cause and is not handed to the next worker.
    reading: RefCell<Option<String>>,
    /// Crashes so far, per worker: after [`MAX_RESTARTS`] the page stops restarting it.
    tokenizer_crashes: Cell<u32>,
    model_crashes: Cell<u32>,
}

/// Restarts of a crashed worker before the page gives up and says so.
const MAX_RESTARTS: u32 = 3;

impl Bridge {
    /// Starts the tokenizer worker, and the model worker unless `lazy_model` (then it starts on
    /// the first [`Bridge::restart_model`]).
    pub fn start(state: AppState, lazy_model: bool) -> Result<Rc<Self>, String> {
        let bridge = Rc::new(Bridge {
            tokenizer: RefCell::new(None),
            tokenizer_full: Cell::new(false),
            model: RefCell::new(None),
            state,
            seqs: Rc::new(Seqs::default()),
            files_added: Cell::new(0),
            files: RefCell::new(Vec::new()),
            own_model: RefCell::new(None),
            reading: RefCell::new(None),
            tokenizer_crashes: Cell::new(0),
            model_crashes: Cell::new(0),
        });
        bridge.spawn_tokenizer()?;
        if lazy_model {
            state.model.set(ModelState::Asleep);
        } else {
            let model = bridge.spawn_model()?;
            *bridge.model.borrow_mut() = Some(model);
        }
        Ok(bridge)
    }

    fn spawn_tokenizer(self: &Rc<Self>) -> Result<(), String> {
        let (state, seqs) = (self.state, Rc::clone(&self.seqs));
        let (on_msg, on_crash) = (Rc::downgrade(self), Rc::downgrade(self));
        // The full build with one thread: this worker only tokenizes.
        let kind = match self.tokenizer_full.get() {
            false => WorkerKind::Tokens,
            true => WorkerKind::Full {
                plain_simd: false,
                threads: Some(1),
            },
        };
        let handle = WorkerHandle::spawn(
            kind,
            move |msg| {
                if matches!(
                    msg,
                    FromWorker::TokenizerAdded(_)
                        | FromWorker::TokenizerRejected { .. }
                        | FromWorker::TokenizerNeedsFull { .. }
                ) {
                    if let Some(b) = on_msg.upgrade() {
                        b.reading.borrow_mut().take();
                        if let FromWorker::TokenizerNeedsFull { id, .. } = msg {
                            // After this message's handler returns: the switch stops the
                            // worker whose handler this is.
                            wasm_bindgen_futures::spawn_local(
                                async move { b.use_full_tokenizer(id) },
                            );
                            return;
                        }
                    }
                }
                on_tokenizer_message(state, &seqs, msg)
            },
            move |err| {
                if let Some(b) = on_crash.upgrade() {
                    b.tokenizer_crashed(err);
                }
            },
        )?;
        *self.tokenizer.borrow_mut() = Some(handle);
        Ok(())
    }

    fn to_tokenizer(&self, msg: &ToWorker) {
        if let Some(t) = self.tokenizer.borrow().as_ref() {
            t.send(msg);
        }
    }

    /// The tokenizer worker stopped (an uncaught error, out of memory): start a new one and
    /// give it everything the page had asked for — the user's files (but the one it was reading
    /// when it stopped), the columns, the prices, the exercises — with a notice. Nothing typed
    /// is lost.
    fn tokenizer_crashed(self: &Rc<Self>, err: String) {
        let st = self.state;
        if let Some(t) = self.tokenizer.borrow_mut().take() {
            t.terminate();
        }
        let crashes = self.tokenizer_crashes.get() + 1;
        self.tokenizer_crashes.set(crashes);
        if let Some(bad) = self.reading.borrow_mut().take() {
            let name = self
                .files
                .borrow()
                .iter()
                .find(|(id, _)| *id == bad)
                .map(|(_, f)| f.name());
            self.files.borrow_mut().retain(|(id, _)| *id != bad);
            st.custom.update(|c| c.retain(|(id, _)| *id != bad));
            st.columns.update(|c| c.retain(|id| *id != bad));
            st.custom_error.set(Some(msg!(
                "{} stopped the tokenizer while it was read; it was left out",
                name.unwrap_or(bad)
            )));
        }
        if crashes > MAX_RESTARTS {
            st.token_error
                .set(Some(msg!("the tokenizer stopped: {}", err)));
            return;
        }
        if let Err(e) = self.spawn_tokenizer() {
            st.token_error
                .set(Some(msg!("the tokenizer stopped: {}", e)));
            return;
        }
        st.worker_notice.set(Some(msg!(
            "The tokenizer stopped ({}) and was restarted; nothing you typed was lost.",
            err
        )));
        self.resend_to_tokenizer();
    }

    /// A user's file needs the full tokenizers library, which the light tokenizer worker leaves
    /// out: the full worker (its one-thread build, no model loaded) takes the tokenizer role and
    /// is given everything again, that file included (marked as being read: if the worker stops
    /// on it, it is the one left out). Once per page.
    fn use_full_tokenizer(self: &Rc<Self>, id: String) {
        if self.tokenizer_full.replace(true) {
            return;
        }
        if let Some(t) = self.tokenizer.borrow_mut().take() {
            t.terminate();
        }
        if let Err(e) = self.spawn_tokenizer() {
            self.state
                .token_error
                .set(Some(msg!("the tokenizer stopped: {}", e)));
            return;
        }
        self.resend_to_tokenizer();
        *self.reading.borrow_mut() = Some(id);
    }

    /// Gives a new tokenizer worker everything the page had asked for: the user's files, the
    /// columns, the prices.
    fn resend_to_tokenizer(self: &Rc<Self>) {
        let st = self.state;
        for (id, file) in self.files.borrow().iter() {
            if let Some(t) = self.tokenizer.borrow().as_ref() {
                let name = file.name();
                t.send_with_file(
                    &ToWorker::AddTokenizer {
                        id: id.clone(),
                        name,
                    },
                    file,
                );
            }
        }
        self.request_tokens();
        if st.cost_open.get_untracked() {
            self.request_cost();
        }
        // The exercise sets already received stay: they are the same static data (clearing them
        // would close the exercise the user is reading).
    }

    /// Sends to the model worker, if one was started.
    fn to_model(&self, msg: &ToWorker) {
        if let Some(m) = self.model.borrow().as_ref() {
            m.send(msg);
        }
    }

    fn spawn_model(self: &Rc<Self>) -> Result<Rc<WorkerHandle>, String> {
        let (state, seqs) = (self.state, Rc::clone(&self.seqs));
        let weak = Rc::downgrade(self);
        let handle = WorkerHandle::spawn(
            // `?simd=plain` on the page's address: the worker without relaxed SIMD; `?threads=N`:
            // N threads (1: the one-thread build), to compare.
            WorkerKind::Full {
                plain_simd: super::link::url_param("simd").as_deref() == Some("plain"),
                threads: super::link::url_param("threads")
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|&n| n >= 1),
            },
            move |msg| on_model_message(state, &seqs, msg),
            move |err| {
                if let Some(b) = weak.upgrade() {
                    b.model_crashed(err);
                }
            },
        )?;
        let backend = state.backend_pref.get_untracked();
        match self.own_model.borrow().as_ref() {
            Some(file) => handle.send_with_file(&ToWorker::LoadFile { backend }, file),
            None => handle.send(&ToWorker::LoadModel {
                url: MODEL_URL.into(),
                sha256: Some(MODEL_SHA256.into()),
                backend,
            }),
        }
        state.model.set(ModelState::Downloading {
            loaded: 0,
            total: None,
            rate: None,
        });
        Ok(handle)
    }

    /// The model worker stopped: start a new one (the model comes back from the browser's
    /// cache), a few times; then say so and offer a button.
    fn model_crashed(self: &Rc<Self>, err: String) {
        let st = self.state;
        st.running.set(false);
        if st.own_model.get_untracked().is_some()
            && !matches!(st.model.get_untracked(), ModelState::Ready(_))
        {
            // The user's model stopped the worker while loading (most likely out of memory):
            // trying it again would do the same. Back to the shipped model, and say so.
            st.worker_notice.set(Some(msg!(
                "Your model stopped the worker while loading ({}), probably for lack of memory; back to SmolLM2. Nothing you typed was lost.",
                err
            )));
            self.switch_model(None);
            return;
        }
        let crashes = self.model_crashes.get() + 1;
        self.model_crashes.set(crashes);
        if crashes > MAX_RESTARTS {
            if let Some(m) = self.model.borrow_mut().take() {
                m.terminate();
            }
            st.model.set(ModelState::Failed(msg!(
                "the model worker stopped ({}). Your text is kept; restart the model to go on.",
                err
            )));
            return;
        }
        st.worker_notice.set(Some(msg!(
            "The model stopped ({}) and was restarted; nothing you typed was lost.",
            err
        )));
        self.restart_model();
    }

    /// Replaces the model worker (after a crash or a failed download) and reloads the model.
    pub fn restart_model(self: &Rc<Self>) {
        if let Some(m) = self.model.borrow_mut().take() {
            m.terminate();
        }
        match self.spawn_model() {
            Ok(handle) => {
                *self.model.borrow_mut() = Some(handle);
                self.request_next();
                if self.state.inside_open.get_untracked() {
                    self.request_inside();
                }
            }
            Err(e) => self
                .state
                .model
                .set(ModelState::Failed(msg!("cannot start a worker: {}", e))),
        }
    }

    /// Runs the user's own model file (`Some`), or the shipped one again (`None`), in a fresh model
    /// worker (its memory starts empty). Tokens generated for the other model are dropped (their
    /// IDs belong to its vocabulary); the text is kept. The file's tokenizer joins the columns.
    pub fn switch_model(self: &Rc<Self>, file: Option<web_sys::File>) {
        let st = self.state;
        st.running.set(false);
        st.continuation.set(Vec::new());
        st.own_model.set(file.as_ref().map(web_sys::File::name));
        // The physics was of the model being left: back to the default open model.
        if st
            .cost_settings
            .with_untracked(|c| c.physics_model == tokenmeter_core::service::cost::OWN_MODEL)
        {
            st.cost_settings.update(|c| {
                c.physics_model =
                    tokenmeter_core::service::cost::CostSettings::default().physics_model
            });
        }
        if let Some(f) = &file {
            let known = self
                .files
                .borrow()
                .iter()
                .any(|(_, g)| g.name() == f.name());
            if !known {
                self.add_tokenizer(f.clone());
            }
        }
        *self.own_model.borrow_mut() = file;
        self.restart_model();
    }

    /// Stops a download (or a load) by stopping the model worker; Retry starts a fresh one.
    pub fn cancel_model(&self) {
        if let Some(m) = self.model.borrow().as_ref() {
            m.terminate();
        }
        self.state.running.set(false);
        self.state.model.set(ModelState::Failed(msg!(
            "Model download cancelled. Tokenizing still works; retry whenever you like."
        )));
    }

    pub fn clear_model_cache(&self) {
        self.to_model(&ToWorker::ClearModelCache);
    }

    pub fn request_exercises(&self) {
        if self.state.exercise_sets.with_untracked(Option::is_none) {
            self.to_tokenizer(&ToWorker::Exercises);
        }
    }

    pub fn set_backend(&self, pref: Preference) {
        self.state.backend_pref.set(pref);
        self.state.backend_notice.set(None);
        self.to_model(&ToWorker::SetBackend(pref));
    }

    /// Hands the user's file to the tokenizer worker, which reads and checks it.
    pub fn add_tokenizer(&self, file: web_sys::File) {
        let n = self.files_added.get() + 1;
        self.files_added.set(n);
        self.state.custom_error.set(None);
        let id = format!("file:{n}");
        *self.reading.borrow_mut() = Some(id.clone());
        if let Some(t) = self.tokenizer.borrow().as_ref() {
            t.send_with_file(
                &ToWorker::AddTokenizer {
                    id: id.clone(),
                    name: file.name(),
                },
                &file,
            );
        }
        self.files.borrow_mut().push((id, file));
    }

    /// Asks for the lens and attention of what the user sees now (after any scoring request: the
    /// worker answers it from the same cache).
    pub fn request_inside(&self) {
        let st = self.state;
        let next = requests::next(st);
        if !requests::has_prompt(&next) {
            st.inside.set(InsideState::Failed(msg!(
                "Type some text to see what comes next."
            )));
            return;
        }
        let req = requests::inside(st, next);
        let seq = Seqs::bump(&self.seqs.inside);
        if !matches!(st.inside.get_untracked(), InsideState::Done(..)) {
            st.inside.set(InsideState::Waiting);
        }
        self.to_model(&ToWorker::Inside { seq, req });
    }

    /// Shows how token `id` of column `tokenizer` was built (or, without an ID, every token of
    /// `text` there), beside the other columns.
    pub fn explain(&self, tokenizer: String, id: Option<u32>, text: String) {
        let st = self.state;
        let seq = Seqs::bump(&self.seqs.explain);
        let compare = st.columns.get_untracked();
        st.explaining.set(Some(Explaining {
            tokenizer: tokenizer.clone(),
            id,
            text: text.clone(),
            answer: None,
        }));
        self.to_tokenizer(&ToWorker::Explain {
            seq,
            tokenizer,
            req: tokenmeter_core::service::explain::ExplainRequest { text, id },
            compare,
        });
    }

    pub fn request_cost(&self) {
        let seq = Seqs::bump(&self.seqs.cost);
        self.to_tokenizer(&ToWorker::Cost {
            seq,
            req: requests::cost(self.state),
        });
    }

    pub fn request_tokens(&self) {
        let seq = Seqs::bump(&self.seqs.columns);
        self.to_tokenizer(&ToWorker::Columns {
            seq,
            req: requests::columns(self.state),
        });
    }

    /// Asks for the scores of what the user sees now (replacing any request in flight).
    pub fn request_next(&self) {
        let st = self.state;
        let req = requests::next(st);
        let seq = Seqs::bump(&self.seqs.model);
        st.running.set(false);
        if !requests::has_prompt(&req) {
            st.stale.set(false);
            st.next.set(NextState::Failed(msg!(
                "Type some text to see what comes next."
            )));
            return;
        }
        st.stale.set(true);
        if !matches!(st.next.get_untracked(), NextState::Done(_)) {
            st.next.set(NextState::Waiting);
        }
        self.to_model(&ToWorker::Next { seq, req });
    }

    /// Draws `n` tokens after what the user sees now (Step: 1, Run: 20).
    pub fn generate(&self, n: usize) {
        let st = self.state;
        let req = requests::generate(st, n);
        if !requests::has_prompt(&req.next) || self.model.borrow().is_none() {
            return;
        }
        let seq = Seqs::bump(&self.seqs.model);
        st.running.set(true);
        self.to_model(&ToWorker::Generate { seq, req });
    }

    /// Stops a generation (the tokens drawn so far stay) and scores what is there.
    pub fn stop(&self) {
        self.halt();
        self.request_next();
    }

    /// Stops a generation, if one runs; its further answers are dropped.
    fn halt(&self) {
        if self.state.running.get_untracked() {
            Seqs::bump(&self.seqs.model);
            self.state.running.set(false);
            self.to_model(&ToWorker::Stop);
        }
    }
}

/// What the components may ask of the workers.
#[derive(Clone, Copy)]
pub struct Actions {
    bridge: StoredValue<Rc<Bridge>, LocalStorage>,
}

impl Actions {
    pub fn new(bridge: Rc<Bridge>) -> Self {
        Self {
            bridge: StoredValue::new_local(bridge),
        }
    }
    pub fn with(&self, f: impl FnOnce(&Rc<Bridge>)) {
        self.bridge.with_value(|b| f(b));
    }
    pub fn restart_model(&self) {
        self.with(|b| b.restart_model());
    }
    pub fn clear_model_cache(&self) {
        self.with(|b| b.clear_model_cache());
    }
    pub fn set_backend(&self, pref: Preference) {
        self.with(|b| b.set_backend(pref));
    }
    pub fn request_exercises(&self) {
        self.with(|b| b.request_exercises());
    }
    pub fn cancel_model(&self) {
        self.with(|b| b.cancel_model());
    }
    pub fn add_tokenizer(&self, file: web_sys::File) {
        self.with(|b| b.add_tokenizer(file));
    }
    /// Runs the user's own GGUF model instead of SmolLM2.
    pub fn use_own_model(&self, file: web_sys::File) {
        self.with(|b| b.switch_model(Some(file)));
    }
    /// Back to the shipped SmolLM2.
    pub fn use_shipped_model(&self) {
        self.with(|b| b.switch_model(None));
    }
    pub fn request_inside(&self) {
        self.with(|b| b.request_inside());
    }
    /// Shows how a token of a column was built.
    pub fn explain(&self, tokenizer: String, id: u32) {
        self.with(|b| b.explain(tokenizer, Some(id), String::new()));
    }
    /// Shows how every token of a text is built in a column.
    pub fn explain_text(&self, tokenizer: String, text: String) {
        self.with(|b| b.explain(tokenizer, None, text));
    }
    /// Step (1) or Run (n): draw tokens after what the user sees now.
    pub fn generate(&self, n: usize) {
        self.with(|b| b.generate(n));
    }
    pub fn stop(&self) {
        self.with(|b| b.stop());
    }
    /// Before the user changes the tokens after the text: stop a generation that would add more.
    pub fn stop_if_running(&self) {
        self.with(|b| b.halt());
    }
    /// The continuation changed by the user (a forced token, Undo, Clear): score again.
    pub fn request_next(&self) {
        self.with(|b| b.request_next());
    }
    /// Scores again unless a generation runs (it scores the context after its last token).
    pub fn score_if_idle(&self) {
        self.with(|b| {
            if !b.state.running.get_untracked() {
                b.request_next();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page checks the model against the same pin `./dev setup` checks at download.
    #[test]
    fn the_model_pin_is_the_one_setup_checks() {
        let dev = include_str!("../../dev");
        let pinned = |var: &str| {
            dev.lines()
                .find_map(|l| l.strip_prefix(&format!("{var}=")))
                .unwrap_or_else(|| panic!("{var} is not set in ./dev"))
                .to_string()
        };
        assert_eq!(pinned("MODEL_SHA256"), MODEL_SHA256);
        assert_eq!(
            format!("models/{}", pinned("MODEL_FILE")),
            MODEL_URL,
            "the page loads the file setup fetched"
        );
    }
}
