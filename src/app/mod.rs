//! The page: Leptos components that draw the state and send requests to the workers.
//!
//! - [`state`]: every signal the page renders from ([`AppState`]), and the shareable state
//!   derived from them.
//! - [`bridge`]: the two workers and the requests sent to them ([`requests`] builds each from
//!   what the user sees); [`replies`]: their answers turned into state.
//! - [`link`]: the page's address (the link it was opened with, kept in step with the state).
//! - Panels: [`tokens`], [`next`] (with [`scores`]), [`inside`] (the logit lens and attention),
//!   [`cost`] (with [`physics`]), [`exercises`],
//!   the [`embed`]ded widget, the [`share`] buttons.
//! - Shared pieces: [`text`] (how a token's text is drawn), [`format`] (numbers in the page's
//!   language), [`controls`] (number fields, sliders, picked and dropped files), [`sortable`] tables, [`i18n`].
//!
//! The page never computes: every token, score and price comes from a worker, which asks the
//! core's service layer.

mod bridge;
mod controls;
mod cost;
mod embed;
mod exercises;
mod explain;
mod format;
pub mod i18n;
mod inside;
mod link;
mod next;
mod physics;
mod replies;
mod requests;
mod scores;
mod share;
mod sortable;
mod state;
mod text;
mod tokens;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use tokenmeter_core::service::link::Shared;

pub use bridge::MODEL_URL;
use bridge::{Actions, Bridge};
use i18n::{tm, tx};
pub use state::{AppState, Generated, ModelState, NextState};
pub use text::visible_whitespace;

const DEFAULT_TEXT: &str = "The capital of France is";
/// Pauses after the last keystroke before asking the workers.
const TOKENIZE_DEBOUNCE: Duration = Duration::from_millis(40);
const SCORE_DEBOUNCE: Duration = Duration::from_millis(200);
/// Quiet time after the last edit before the address is updated.
const LINK_DEBOUNCE: Duration = Duration::from_millis(300);

#[component]
pub fn App() -> impl IntoView {
    // A shared link restores what its sender saw; a damaged one gives the defaults and a notice.
    let (shared, notices) = link::opened_with();
    let from_link = shared.is_some();
    let shared = shared.unwrap_or_else(|| Shared {
        text: DEFAULT_TEXT.to_string(),
        ..Shared::default()
    });
    let lang = i18n::Lang::from_code(&shared.lang).unwrap_or_else(i18n::from_browser);
    let state = AppState::new(shared, from_link, lang, backend_from_url());
    state.share_notice.set(notices);
    // `?exercise=<set>/<id>`: opened in its starting state once the sets arrive (a shared
    // link's own exercise comes back as it was left: the link holds its text too).
    if let Some(e) = link::url_param("exercise") {
        state.pending_exercise.set(Some((e, !from_link)));
    }

    // `?embed=tokens|next|cost`: one panel, compact, for an iframe in a blog post.
    let embed = link::url_param("embed").map(|e| embed::Panel::parse(&e));
    let bridge = match Bridge::start(state, embed.is_some()) {
        Ok(b) => b,
        Err(e) => {
            return view! { <p class="fatal" role="alert">"tokenmeter cannot start: " {e}</p> }
                .into_any()
        }
    };
    let actions = Actions::new(bridge);
    wire(state, actions);

    if let Some(panel) = embed {
        return embed::Embedded(embed::EmbeddedProps {
            state,
            actions,
            panel,
        })
        .into_any();
    }
    if link::url_param("instructor").is_some() {
        actions.request_exercises();
        return exercises::instructor(state).into_any();
    }
    if state.pending_exercise.with_untracked(Option::is_some) {
        actions.request_exercises();
    }
    view! {
        <header>
            <h1>"tokenmeter"</h1>
            <p class="tagline">
                {tx(state, "A token is a number. To write the next one, a model scores every entry of its vocabulary.")}
            </p>
            <share::ShareButton state />
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
        {move || {
            let notes = state.share_notice.get();
            (!notes.is_empty()).then(|| view! {
                <p class="notice" role="alert" data-testid="share-notice">
                    {move || {
                        let l = state.lang.get();
                        notes.iter().map(|m| tm(l, m)).collect::<Vec<_>>().join(" ")
                    }}
                    " "
                    <button class="link" on:click=move |_| state.share_notice.set(Vec::new())>{tx(state, "Dismiss")}</button>
                </p>
            })
        }}
        {move || state.worker_notice.get().map(|m| view! {
            <p class="notice" role="alert" data-testid="worker-notice">
                {move || tm(state.lang.get(), &m)}
                " "
                <button class="link" on:click=move |_| state.worker_notice.set(None)>{tx(state, "Dismiss")}</button>
            </p>
        })}
        <main>
            <exercises::ExerciseCard state />
            <TextInput state />
            <tokens::TokenPanel state actions />
            <next::NextPanel state actions />
            <inside::InsidePanel state actions />
            <cost::CostPanel state actions />
            <exercises::ExerciseList state request=move || actions.request_exercises() />
        </main>
    }
    .into_any()
}

/// The effects that turn the user's edits into requests, and the state into the address.
fn wire(state: AppState, actions: Actions) {
    let tokenize = debounced(TOKENIZE_DEBOUNCE, move || {
        actions.with(|b| b.request_tokens())
    });
    // (Not while a generation runs: it scores the context after its last token itself.)
    let score_later = debounced(SCORE_DEBOUNCE, move || actions.score_if_idle());
    // A new text: tokenize it, forget what was generated after the old one, score it. (Not on
    // the first run, nor for a state restored from a link or the history: its generated tokens
    // belong to its text.)
    Effect::new(move |first: Option<()>| {
        let restored = state.text.with(|t| {
            let mine = state
                .restored_text
                .with_value(|r| r.as_deref() == Some(t.as_str()));
            state.restored_text.set_value(None);
            mine
        });
        tokenize();
        if first.is_some() {
            actions.stop_if_running();
            if !restored && !state.continuation.with_untracked(Vec::is_empty) {
                state.continuation.set(Vec::new());
            }
            // A position of the old text means nothing in the new one.
            if !restored && state.inside_position.get_untracked().is_some() {
                state.inside_position.set(None);
            }
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
        link::write(state);
    });
    Effect::new(move |first: Option<()>| {
        // Read (not only tracked), so that the memo computes and follows its signals.
        state.shared.with(|_| ());
        if first.is_some() {
            sync_link();
        }
    });
    // Other tokenizers picked, or decode mode and its IDs: tokenize again.
    let retokenize = debounced(TOKENIZE_DEBOUNCE, move || {
        actions.with(|b| b.request_tokens())
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
    let price_later = debounced(SCORE_DEBOUNCE, move || actions.with(|b| b.request_cost()));
    Effect::new(move |_| {
        state.text.track();
        state.cost_settings.track();
        state.columns.track();
        state.speed.track();
        if state.cost_open.get() {
            price_later();
        }
    });
    // The panel inside the model, once open: look again whenever new scores arrive (the worker
    // answers from the cache they filled) or another position is chosen.
    let inside_later = debounced(TOKENIZE_DEBOUNCE, move || actions.request_inside());
    Effect::new(move |_| {
        let open = state.inside_open.get();
        state.inside_position.track();
        let scored = matches!(state.next.get(), NextState::Done(_));
        if open && scored {
            inside_later();
        }
    });
    // New settings: score again (debounced: sliders move in small steps).
    let score_settings = debounced(SCORE_DEBOUNCE / 2, move || actions.score_if_idle());
    Effect::new(move |first: Option<()>| {
        state.settings.track();
        if first.is_some() {
            // A run acts on the settings the user saw when it started: new ones stop it.
            actions.stop_if_running();
            score_settings();
        }
    });
    // When the model becomes ready, score the text that is there.
    Effect::new(move |was_ready: Option<bool>| {
        let ready = matches!(state.model.get(), ModelState::Ready(_));
        if ready && was_ready == Some(false) {
            actions.request_next();
        }
        ready
    });
    // Back and Forward move between states kept in the history (see `link::push_history`); a
    // link pasted into the address of the open page is read as on opening.
    let on_pop =
        wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::PopStateEvent)>::new(move |_| {
            let (shared, notices) = link::opened_with();
            if let Some(s) = shared {
                state.put_aside.set(None);
                state.restore(s);
            }
            if !notices.is_empty() {
                state.share_notice.set(notices);
            }
        });
    if let Some(w) = web_sys::window() {
        use wasm_bindgen::JsCast;
        let _ = w.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    }
    on_pop.forget();
    // An exercise about merges: show how its column builds the text, as the text changes.
    let merges_for: Rc<std::cell::RefCell<Option<(String, String)>>> = Rc::default();
    let explain_later = {
        let merges_for = Rc::clone(&merges_for);
        debounced(TOKENIZE_DEBOUNCE, move || {
            if let Some((tokenizer, text)) = merges_for.take() {
                actions.explain_text(tokenizer, text);
            }
        })
    };
    Effect::new(move |_| {
        let text = state.text.get();
        let column = state
            .exercise
            .get()
            .and_then(|(set, id)| exercises::find(state, &set, &id))
            .and_then(|(_, e)| e.goal.merges.first().map(|r| r.tokenizer.clone()));
        if let Some(column) = column.filter(|_| !text.trim().is_empty()) {
            merges_for.replace(Some((column, text)));
            explain_later();
        }
    });
    // An exercise waiting for the sets: open it once they are here.
    Effect::new(move |_| {
        let arrived = state.exercise_sets.with(|s| matches!(s, Some(Ok(_))));
        if !arrived {
            return;
        }
        let Some((wanted, fresh)) = state.pending_exercise.get() else {
            return;
        };
        state.pending_exercise.set(None);
        if let Some((set, id)) = wanted.split_once('/') {
            if let Some((_, e)) = exercises::find(state, set, id) {
                if fresh {
                    exercises::open(state, set, &e);
                    // Opened from its own link: there was no text of the user's to put aside.
                    state.put_aside.set(None);
                } else {
                    state.exercise.set(Some((set.into(), id.into())));
                }
            }
        }
    });
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

/// The backend asked for in the page's address (`?backend=cpu`, `webgpu` or `auto`).
fn backend_from_url() -> crate::protocol::Preference {
    link::url_param("backend")
        .and_then(|b| b.parse().ok())
        .unwrap_or_default()
}
