//! The page: Leptos components that draw the state and send requests to the workers.
//!
//! State lives in [`AppState`] (signals, owned by [`App`]) and flows down to small components.
//! The page never computes: every token and score comes from a worker through [`Bridge`].

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;

use tokenmeter_core::tokenizer::Piece;

use crate::protocol::{FromWorker, ModelSummary, Scores, ToWorker, Tokenized, MAX_TOKENS_SHOWN};
use crate::worker_client::WorkerHandle;

/// The model file, served next to the page by Trunk (see `index.html`).
pub const MODEL_URL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
const DEFAULT_TEXT: &str = "The capital of France is";
/// How many candidates the next-token panel lists.
const TOP_CANDIDATES: usize = 10;
/// Pauses after the last keystroke before asking the workers.
const TOKENIZE_DEBOUNCE: Duration = Duration::from_millis(40);
const SCORE_DEBOUNCE: Duration = Duration::from_millis(200);

/// Where the model stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Downloading { loaded: u64, total: Option<u64> },
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
    Done(Scores),
    Failed(String),
}

/// Every signal the page renders from.
#[derive(Clone, Copy)]
struct AppState {
    text: RwSignal<String>,
    tokens: RwSignal<Option<Tokenized>>,
    token_error: RwSignal<Option<String>>,
    model: RwSignal<ModelState>,
    next: RwSignal<NextState>,
    show_ids: RwSignal<bool>,
}

/// The two workers and the sequence numbers of the latest requests.
struct Bridge {
    tokenizer: Rc<WorkerHandle>,
    model: std::cell::RefCell<Rc<WorkerHandle>>,
    token_seq: Cell<u64>,
    next_seq: Cell<u64>,
    state: AppState,
}

impl Bridge {
    fn start(state: AppState) -> Result<Rc<Self>, String> {
        let tokenizer = WorkerHandle::spawn(
            move |msg| on_tokenizer_message(state, msg),
            move |err| {
                state
                    .token_error
                    .set(Some(format!("the tokenizer stopped: {err}")))
            },
        )?;
        let bridge = Rc::new(Bridge {
            tokenizer,
            model: std::cell::RefCell::new(Self::spawn_model(state)?),
            token_seq: Cell::new(0),
            next_seq: Cell::new(0),
            state,
        });
        Ok(bridge)
    }

    fn spawn_model(state: AppState) -> Result<Rc<WorkerHandle>, String> {
        let handle = WorkerHandle::spawn(
            move |msg| on_model_message(state, msg),
            move |err| {
                state.model.set(ModelState::Failed(format!(
                    "the model worker stopped ({err}). Your text is kept; restart the model to go on."
                )));
            },
        )?;
        handle.send(&ToWorker::LoadModel {
            url: MODEL_URL.into(),
        });
        state.model.set(ModelState::Downloading {
            loaded: 0,
            total: None,
        });
        Ok(handle)
    }

    /// Replaces the model worker (after a crash or a failed download) and reloads the model.
    fn restart_model(&self) {
        self.model.borrow().terminate();
        match Self::spawn_model(self.state) {
            Ok(handle) => {
                *self.model.borrow_mut() = handle;
                self.request_next();
            }
            Err(e) => self.state.model.set(ModelState::Failed(e)),
        }
    }

    fn request_tokens(&self) {
        let seq = self.token_seq.get() + 1;
        self.token_seq.set(seq);
        let text = self.state.text.get_untracked();
        self.tokenizer.send(&ToWorker::Tokenize { seq, text });
    }

    fn request_next(&self) {
        let seq = self.next_seq.get() + 1;
        self.next_seq.set(seq);
        let text = self.state.text.get_untracked();
        if text.is_empty() {
            self.state.next.set(NextState::Failed(
                "Type some text to see what comes next.".into(),
            ));
            return;
        }
        self.state.next.set(NextState::Waiting);
        self.model.borrow().send(&ToWorker::Next {
            seq,
            text,
            top: TOP_CANDIDATES,
        });
    }
}

thread_local! {
    /// Latest request numbers, read by the message handlers to drop stale answers.
    static LATEST: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
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
        _ => {}
    }
}

fn on_model_message(state: AppState, msg: FromWorker) {
    let latest = LATEST.get().1;
    match msg {
        FromWorker::ModelProgress { loaded, total } => {
            state.model.set(ModelState::Downloading { loaded, total })
        }
        FromWorker::ModelReady(summary) => state.model.set(ModelState::Ready(summary)),
        FromWorker::ModelFailed { message } => state.model.set(ModelState::Failed(message)),
        FromWorker::NextProgress { seq, done, total } if seq == latest => {
            state.next.set(NextState::Reading { done, total })
        }
        FromWorker::Scores(s) if s.seq == latest => state.next.set(NextState::Done(s)),
        FromWorker::NextFailed { seq, message } if seq == latest => {
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

#[component]
pub fn App() -> impl IntoView {
    let state = AppState {
        text: RwSignal::new(DEFAULT_TEXT.to_string()),
        tokens: RwSignal::new(None),
        token_error: RwSignal::new(None),
        model: RwSignal::new(ModelState::Downloading {
            loaded: 0,
            total: None,
        }),
        next: RwSignal::new(NextState::Waiting),
        show_ids: RwSignal::new(true),
    };
    let bridge = match Bridge::start(state) {
        Ok(b) => b,
        Err(e) => {
            return view! { <p class="fatal" role="alert">"tokenmeter cannot start: " {e}</p> }
                .into_any()
        }
    };
    let bridge = StoredValue::new_local(bridge);

    let tokenize = debounced(TOKENIZE_DEBOUNCE, move || {
        bridge.with_value(|b| {
            b.request_tokens();
            LATEST.set((b.token_seq.get(), b.next_seq.get()));
        })
    });
    let score = debounced(SCORE_DEBOUNCE, move || {
        bridge.with_value(|b| {
            b.request_next();
            LATEST.set((b.token_seq.get(), b.next_seq.get()));
        })
    });
    // Every change of the text asks both workers again (debounced).
    Effect::new(move |_| {
        state.text.track();
        tokenize();
        score();
    });
    // When the model becomes ready, score the text that is there.
    Effect::new(move |was_ready: Option<bool>| {
        let ready = matches!(state.model.get(), ModelState::Ready(_));
        if ready && was_ready == Some(false) {
            bridge.with_value(|b| {
                b.request_next();
                LATEST.set((b.token_seq.get(), b.next_seq.get()));
            });
        }
        ready
    });
    let restart = move || bridge.with_value(|b| b.restart_model());

    view! {
        <header>
            <h1>"tokenmeter"</h1>
            <p class="tagline">
                "A token is a number. To write the next one, a model scores every entry of its vocabulary."
            </p>
        </header>
        <main>
            <TextInput text=state.text />
            <TokenPanel state />
            <NextPanel state restart />
        </main>
    }
    .into_any()
}

#[component]
fn TextInput(text: RwSignal<String>) -> impl IntoView {
    view! {
        <section class="input">
            <label for="text">"Your text"</label>
            <textarea
                id="text"
                rows="5"
                spellcheck="false"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
            <p class="privacy">"Your text stays in this browser tab: nothing is sent anywhere."</p>
        </section>
    }
}

#[component]
fn TokenPanel(state: AppState) -> impl IntoView {
    let summary = move || {
        state.tokens.with(|t| match t {
            None => "Tokenizing…".to_string(),
            Some(t) => {
                let per = |n: usize| {
                    if t.count == 0 {
                        "–".to_string()
                    } else {
                        format!("{:.2}", n as f64 / t.count as f64)
                    }
                };
                format!(
                    "{} tokens · {} characters/token · {} bytes/token",
                    t.count,
                    per(t.chars),
                    per(t.bytes)
                )
            }
        })
    };
    let truncated = move || {
        state.tokens.with(|t| {
            t.as_ref().filter(|t| t.count > MAX_TOKENS_SHOWN).map(|t| {
                format!(
                    "Showing the first {MAX_TOKENS_SHOWN} of {} tokens.",
                    t.count
                )
            })
        })
    };
    let tokens = move || {
        state
            .tokens
            .with(|t| t.as_ref().map(|t| t.tokens.clone()).unwrap_or_default())
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
    };
    view! {
        <section class="tokens" aria-labelledby="tokens-title">
            <div class="panel-head">
                <h2 id="tokens-title">"Tokens " <small>"SmolLM2 tokenizer"</small></h2>
                <label class="toggle">
                    <input
                        type="checkbox"
                        prop:checked=move || state.show_ids.get()
                        on:change=move |ev| state.show_ids.set(event_target_checked(&ev))
                    />
                    " Show IDs"
                </label>
            </div>
            <p class="summary" data-testid="token-count" aria-live="polite">{summary}</p>
            {move || state.token_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="token-strip" class:show-ids=move || state.show_ids.get() data-testid="tokens">
                <For
                    each=tokens
                    key=|(i, t)| (*i, t.id)
                    children=move |(i, t)| {
                        let class = format!(
                            "tok c{}{}",
                            i % 6,
                            if t.special { " special" } else { "" },
                        );
                        let title = format!("ID {}", t.id);
                        view! {
                            <span class=class title=title data-id=t.id>
                                <span class="text">{pieces_view(&t.pieces)}</span>
                                <span class="id">{t.id}</span>
                            </span>
                        }
                    }
                />
            </div>
            {truncated}
        </section>
    }
}

/// A token's text with visible whitespace, and stray bytes of split characters as hex.
fn pieces_view(pieces: &[Piece]) -> impl IntoView {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => view! { <span>{visible_whitespace(t)}</span> }.into_any(),
            Piece::Bytes(b) => {
                let hex: Vec<String> = b.iter().map(|x| format!("{x:02X}")).collect();
                view! { <span class="bytes" title="bytes of a character split across tokens">{hex.join(" ")}</span> }
                    .into_any()
            }
        })
        .collect_view()
}

/// Shows whitespace inside a token: `·` for a space, `→` for a tab, `↵` for a newline.
fn visible_whitespace(text: &str) -> String {
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

#[component]
fn NextPanel(state: AppState, restart: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let model_line = move || match state.model.get() {
        ModelState::Downloading { loaded, total } => {
            let mb = |b: u64| format!("{:.1}", b as f64 / 1e6);
            let text = match total {
                Some(t) if loaded >= t => "Downloaded; loading the model…".to_string(),
                Some(t) => format!("Downloading the model: {} of {} MB", mb(loaded), mb(t)),
                None => format!("Downloading the model: {} MB", mb(loaded)),
            };
            view! {
                <div class="download">
                    <progress
                        max=move || total.unwrap_or(0).max(1) as f64
                        value=loaded as f64
                        aria-label="model download"
                    ></progress>
                    <span>{text}</span>
                </div>
            }
            .into_any()
        }
        ModelState::Ready(m) => view! {
            <p class="model-ready" data-testid="model-status">
                {format!(
                    "{} · {:.0} M parameters · {:.0} MB of weights · {} vocabulary entries · {}",
                    m.name,
                    m.n_params as f64 / 1e6,
                    m.weight_bytes as f64 / 1e6,
                    m.vocab_size,
                    m.backend
                )}
            </p>
        }
        .into_any(),
        ModelState::Failed(e) => view! {
            <div class="error" role="alert" data-testid="model-error">
                <p>{e}</p>
                <button on:click=move |_| restart()>"Retry loading the model"</button>
            </div>
        }
        .into_any(),
    };
    let body = move || match state.next.get() {
        NextState::Waiting => view! { <p class="muted">"Waiting for the model…"</p> }.into_any(),
        NextState::Reading { done, total } => {
            view! { <p class="muted">{format!("Reading your text: {done} of {total} tokens…")}</p> }
                .into_any()
        }
        NextState::Failed(e) => view! { <p class="notice" role="status">{e}</p> }.into_any(),
        NextState::Done(s) => view! { <ScoresTable scores=s /> }.into_any(),
    };
    view! {
        <section class="next" aria-labelledby="next-title">
            <h2 id="next-title">"Next token " <small>"scored over the whole vocabulary"</small></h2>
            {model_line}
            <div aria-live="polite">{body}</div>
        </section>
    }
}

#[component]
fn ScoresTable(scores: Scores) -> impl IntoView {
    let per_token = if scores.computed_tokens > 0 {
        format!(
            "{} new tokens in {:.0} ms ({:.0} ms/token)",
            scores.computed_tokens,
            scores.ms,
            scores.ms / scores.computed_tokens as f64
        )
    } else {
        "from the cache".to_string()
    };
    let max_prob = scores
        .next
        .candidates
        .first()
        .map_or(1.0, |c| c.prob)
        .max(1e-9);
    let rows = scores
        .next
        .candidates
        .iter()
        .enumerate()
        .map(|(rank, c)| {
            let width = format!("width: {:.1}%", 100.0 * c.prob / max_prob);
            view! {
                <tr data-id=c.id data-logit=c.logit.to_string() data-prob=c.prob.to_string()>
                    <td class="rank">{rank + 1}</td>
                    <td class="cand"><code>{visible_whitespace(&c.token)}</code></td>
                    <td class="num">{c.id}</td>
                    <td class="num">{format!("{:.3}", c.logit)}</td>
                    <td class="bar-cell">
                        <span class="bar" style=width></span>
                        <span class="pct">{format!("{:.2}%", 100.0 * c.prob)}</span>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="candidates" data-testid="candidates">
            <thead>
                <tr><th>"#"</th><th>"token"</th><th>"ID"</th><th>"logit"</th><th>"probability"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <p class="stats">
            {format!(
                "Entropy {:.2} bits over all {} entries · prompt of {} tokens, {}",
                scores.next.entropy_nats / std::f64::consts::LN_2,
                scores.next.vocab_size,
                scores.prompt_tokens,
                per_token
            )}
        </p>
    }
}
