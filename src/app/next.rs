//! The next-token panel: every vocabulary entry scored, the sampler's filters acting live on that
//! distribution, and token-by-token generation (step, force, run, stop, undo).

use leptos::prelude::*;

use tokenmeter_core::service::limits::{SEED, TEMPERATURE, TOP, TOP_P};

use super::bridge::Actions;
use super::controls::{dropped_file, number_field, picked_file, slider, Number};
use super::format::{int, num, pct};
use super::i18n::{fill, t, tm, tx};
use super::text::pieces_view;
use super::{AppState, Generated, ModelState, NextState};

/// How many tokens "Run" generates by default.
const RUN_TOKENS: usize = 20;

#[component]
pub fn NextPanel(state: AppState, actions: Actions) -> impl IntoView {
    // Kept across answers: the candidates' order the user chose, and the search field (above the
    // answers, not redrawn with them).
    let sort = RwSignal::new(super::sortable::Sort::default());
    let refocus = StoredValue::new(None::<usize>);
    let searchable = Memo::new(move |_| {
        state
            .next
            .with(|n| matches!(n, NextState::Done(_) | NextState::Reading { .. }))
    });
    // What a screen reader is told of each answer, in one region that is always in the page (a
    // region inserted together with its text is not reliably announced): the next draw (kept
    // while the next answer is read, so that the same draw is not announced twice), or why there
    // is none.
    let announce = Memo::new(move |prev: Option<&String>| {
        state.next.with(|n| match n {
            NextState::Done(s) => {
                let l = state.lang.get();
                let d = &s.scores.row.sampling;
                fill(
                    t(l, "Next token: “{}” ({} after filtering)."),
                    &[
                        &super::text::visible_pieces(&d.chosen.pieces),
                        &pct(l, d.chosen.prob),
                    ],
                )
            }
            NextState::Waiting | NextState::Reading { .. } => prev.cloned().unwrap_or_default(),
            NextState::Failed(e) => tm(state.lang.get(), e),
        })
    });
    let body = move || {
        state.lang.track(); // the scores' sentences follow the language
        let next = state.next.get();
        match next {
        NextState::Waiting => view! { <p class="muted">{tx(state, "Waiting for the model…")}</p> }.into_any(),
        NextState::Reading { done, total } => view! {
            <p class="muted">{move || {
                let l = state.lang.get();
                fill(t(l, "Reading your text: {} of {} tokens…"), &[&int(l, done as f64), &int(l, total as f64)])
            }}</p>
        }
        .into_any(),
        NextState::Failed(e) => {
            view! { <p class="notice" data-testid="next-notice">{tm(state.lang.get(), &e)}</p> }.into_any()
        }
        NextState::Done(s) => view! { <super::scores::ScoresView state scores=*s actions sort refocus /> }.into_any(),
    }
    };
    view! {
        <section class="next" aria-labelledby="next-title">
            <h2 id="next-title" tabindex="-1">{tx(state, "Next token ")} <small>{tx(state, "scored over the whole vocabulary")}</small></h2>
            <ModelLine state actions />
            <OwnModel state actions />
            <Controls state />
            <Continuation state actions />
            // Screen readers hear the next draw, not the whole table again at each answer.
            <p class="visually-hidden" aria-live="polite" data-testid="next-announce">{announce}</p>
            <div
                class="scores"
                class:stale=move || state.stale.get()
                data-stale=move || state.stale.get().to_string()
            >
                {move || searchable.get().then(|| view! { <super::scores::Search state /> })}
                {body}
            </div>
            <StatusLine state actions />
        </section>
    }
}

#[component]
fn ModelLine(state: AppState, actions: Actions) -> impl IntoView {
    // The line is drawn again when the model's state changes kind, not at each download tick (the
    // Cancel button keeps the keyboard focus); the progress itself follows the ticks.
    let kind = Memo::new(move |_| match state.model.get() {
        ModelState::Downloading { .. } => ModelState::Downloading {
            loaded: 0,
            total: None,
            rate: None,
        },
        m => m,
    });
    let progress = move || match state.model.get() {
        ModelState::Downloading {
            loaded,
            total,
            rate,
        } => (loaded, total, rate),
        _ => (0, None, None),
    };
    move || {
        let l = state.lang.get();
        match kind.get() {
        ModelState::Downloading { .. } => {
            let mb = move |b: u64| num(l, b as f64 / 1e6, 1);
            let text = move || {
            let (loaded, total, rate) = progress();
            let speed = rate
                .filter(|_| loaded > 0)
                .map(|r| fill(t(l, " at {} MB/s"), &[&num(l, r / 1e6, 1)]))
                .unwrap_or_default();
            let own = state.own_model.get().is_some();
            match total {
                Some(n) if own => fill(
                    t(l, "Reading your model: {} of {} MB"),
                    &[&mb(loaded), &mb(n)],
                ),
                Some(n) if loaded >= n => t(l, "Downloaded; loading the model…").to_string(),
                Some(n) => fill(
                    t(l, "Downloading the model: {} of {} MB{}"),
                    &[&mb(loaded), &mb(n), &speed],
                ),
                None => fill(t(l, "Downloading the model: {} MB{}"), &[&mb(loaded), &speed]),
            }
            };
            view! {
                <div class="download">
                    <progress
                        max=move || progress().1.unwrap_or(0).max(1) as f64
                        value=move || progress().0 as f64
                        aria-label=t(l, "model download")
                    ></progress>
                    <span>{text}</span>
                    <button data-testid="cancel-download" on:click=move |_| actions.cancel_model()>{t(l, "Cancel")}</button>
                </div>
            }
            .into_any()
        }
        ModelState::Ready(info) => { let m = &info.summary; view! {
            <p class="model-ready" data-testid="model-status">
                {fill(
                    t(l, "{} · {} · {} M parameters · {} MB of weights · {} vocabulary entries"),
                    &[&m.name, &m.architecture, &int(l, m.n_params as f64 / 1e6), &int(l, m.weight_bytes as f64 / 1e6), &int(l, m.vocab_size as f64)],
                )}
            </p>
        }
        .into_any() }
        ModelState::Asleep => view! {
            <div class="download">
                <button data-testid="load-model" on:click=move |_| actions.restart_model()>
                    {t(l, "Load the model (SmolLM2, 98 MB, once; kept in this browser)")}
                </button>
                <span class="muted">{t(l, " to see its score for every possible next token.")}</span>
            </div>
        }
        .into_any(),
        ModelState::Failed(e) => view! {
            <div class="error" role="alert" data-testid="model-error">
                <p>{tm(l, &e)}</p>
                <button on:click=move |_| actions.restart_model()>{t(l, "Retry loading the model")}</button>
            </div>
        }
        .into_any(),
        }
    }
}

/// "Use your own model": a GGUF file picked here is read by the model worker in this tab, never
/// uploaded; while it runs, one click goes back to the shipped SmolLM2.
#[component]
fn OwnModel(state: AppState, actions: Actions) -> impl IntoView {
    let chosen = move |ev: leptos::ev::Event| {
        if let Some(file) = picked_file(&ev) {
            actions.use_own_model(file);
        }
    };
    // A .gguf dropped on the line is taken like a picked one.
    let dropped = move |ev: web_sys::DragEvent| {
        if let Some(file) = dropped_file(&ev) {
            actions.use_own_model(file);
        }
    };
    move || {
        let l = state.lang.get();
        match state.own_model.get() {
            None => view! {
                <label class="own-model" data-testid="own-model-drop"
                    on:dragover=move |ev: web_sys::DragEvent| ev.prevent_default()
                    on:drop=dropped>
                    {t(l, "Use your own model (pick or drop a llama, qwen2 or qwen3 GGUF here; read in this tab, never uploaded): ")}
                    <input type="file" accept=".gguf" data-testid="own-model" on:change=chosen />
                </label>
            }
            .into_any(),
            Some(name) => view! {
                <p class="own-model">
                    <span data-testid="own-model-name">{fill(t(l, "Your model: {}. "), &[&name])}</span>
                    <button data-testid="back-to-shipped" on:click=move |_| actions.use_shipped_model()>
                        {t(l, "Back to SmolLM2")}
                    </button>
                </p>
            }
            .into_any(),
        }
    }
}

#[component]
fn Controls(state: AppState) -> impl IntoView {
    // The template of the last answer, kept while the next one is read (a long text is read in
    // parts): the details stay open, and their summary keeps the focus.
    let template = Memo::new(move |prev: Option<&Option<String>>| {
        state.next.with(|n| match n {
            NextState::Done(s) => s.scores.template.clone(),
            NextState::Reading { .. } | NextState::Waiting => prev.cloned().flatten(),
            NextState::Failed(_) => None,
        })
    });
    let s = state.settings;
    let l = move || state.lang.get();
    view! {
        <fieldset class="controls">
            <legend>{tx(state, "Sampling")}</legend>
            {slider(tx(state, "Temperature"), "temperature", (TEMPERATURE.min, TEMPERATURE.max, 0.05),
                move || {
                    let temp = s.with(|s| s.sampler.temperature);
                    if temp == 0.0 { t(l(), "0 (greedy)").to_string() } else { num(l(), f64::from(temp), 2) }
                },
                move || f64::from(s.with(|s| s.sampler.temperature)),
                move |v| s.update(|s| s.sampler.temperature = v as f32))}
            {slider(tx(state, "Top-p"), "top-p", (TOP_P.min, TOP_P.max, 0.01),
                move || num(l(), f64::from(s.with(|s| s.sampler.top_p)), 2),
                move || f64::from(s.with(|s| s.sampler.top_p)),
                move |v| s.update(|s| s.sampler.top_p = v as f32))}
            {number_field(tx(state, "Top-k (0 = off)"), Number {
                id: "top-k", min: 0.0, max: 1e6, step: 1.0, integer: true,
                get: move || s.with(|s| s.sampler.top_k) as f64,
                set: move |v| s.update(|s| s.sampler.top_k = v as usize),
            }, "top-k")}
            {number_field(tx(state, "Seed"), Number {
                id: "seed", min: SEED.min, max: SEED.max, step: 1.0, integer: true,
                get: move || s.with(|s| s.sampler.seed) as f64,
                set: move |v| s.update(|s| s.sampler.seed = v as u64),
            }, "seed")}
            {number_field(tx(state, "Candidates shown"), Number {
                id: "top-shown", min: TOP.min, max: TOP.max, step: 1.0, integer: true,
                get: move || s.with(|s| s.top) as f64,
                set: move |v| s.update(|s| s.top = v as usize),
            }, "top-shown")}
            <label class="control toggle" for="chat">
                <input
                    id="chat"
                    type="checkbox"
                    prop:checked=move || s.with(|s| s.chat)
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        s.update(|s| s.chat = on)
                    }
                />
                {tx(state, " Chat mode (wrap the text as a user message)")}
            </label>
        </fieldset>
        // Chat mode: the exact text the model reads, as the model's answer gives it.
        {move || template.get().map(|text| view! {
            <details class="template" data-testid="template">
                <summary>{tx(state, "The exact text the model reads (the chat template applied)")}</summary>
                <pre>{super::text::text_view(&text)}</pre>
            </details>
        })}
    }
}

/// A generation button: it stays focusable while it cannot act (`aria-disabled`), so pressing
/// Enter or Space on it again and again keeps stepping from the keyboard.
fn gen_button<L: IntoView + 'static>(
    label: L,
    testid: &'static str,
    enabled: impl Fn() -> bool + Send + Sync + Copy + 'static,
    act: impl Fn() + 'static,
) -> impl IntoView {
    view! {
        <button data-testid=testid aria-disabled=move || (!enabled()).to_string()
            on:click=move |_| if enabled() { act() }>
            {label}
        </button>
    }
}

#[component]
fn Continuation(state: AppState, actions: Actions) -> impl IntoView {
    let has_model = move || matches!(state.model.get(), ModelState::Ready(_));
    let running = move || state.running.get();
    let has_tokens = move || !state.continuation.with(Vec::is_empty);
    // The user changed the tokens after the text: score what is there now.
    let edit = move |f: &dyn Fn(&mut Vec<Generated>)| {
        actions.stop_if_running();
        state.continuation.update(|c| f(c));
        actions.request_next();
    };
    view! {
        <div class="generation">
            <div class="buttons" role="group" aria-label=tx(state, "generation")>
                {gen_button(tx(state, "Step"), "step", move || has_model() && !running(), move || actions.generate(1))}
                {gen_button(move || fill(t(state.lang.get(), "Run {}"), &[&RUN_TOKENS]), "run",
                    move || has_model() && !running(), move || actions.generate(RUN_TOKENS))}
                {gen_button(tx(state, "Stop"), "stop", running, move || actions.stop())}
                {gen_button(tx(state, "Undo"), "undo", has_tokens, move || edit(&|c| { c.pop(); }))}
                {gen_button(tx(state, "Clear"), "clear", has_tokens, move || edit(&|c| c.clear()))}
            </div>
            {move || {
                let c = state.continuation.get();
                (!c.is_empty()).then(|| {
                    let l = state.lang.get_untracked();
                    // The bytes of all the tokens decoded together (a character split across
                    // tokens reads whole), from the model's latest answer for these tokens.
                    let ids: Vec<u32> = c.iter().map(|g| g.id).collect();
                    let text = state.next.with(|n| match n {
                        NextState::Done(s) if s.scores.continuation.tokens.iter().map(|t| t.id).eq(ids.iter().copied()) => {
                            Some(s.scores.continuation.text.clone())
                        }
                        _ => None,
                    });
                    let text = text.unwrap_or_else(|| {
                        c.iter().map(|g| super::text::visible_pieces(&g.pieces)).collect()
                    });
                    view! {
                        <div class="continuation" data-testid="continuation">
                            <span class="muted">{t(l, "After your text: ")}</span>
                            {c.iter().map(|g| {
                                let class = if g.forced { "gen forced" } else { "gen" };
                                let title = fill(
                                    if g.forced { t(l, "ID {} · chosen by you") } else { t(l, "ID {} · drawn by the sampler") },
                                    &[&g.id],
                                );
                                let shown = if g.pieces.is_empty() { "…".into_any() } else { pieces_view(&g.pieces, l).into_any() };
                                view! { <span class=class title=title data-id=g.id>{shown}</span> }
                            }).collect_view()}
                            <p class="gen-text" data-testid="gen-text">{text}</p>
                        </div>
                    }
                })
            }}
        </div>
    }
}

#[component]
fn StatusLine(state: AppState, actions: Actions) -> impl IntoView {
    // Drawn once while the model is ready: each answer updates the speeds in the text, but the
    // backend select (which the user may be on) is not redrawn with them. Not a live region: a
    // screen reader would read every speed update; the notices below are (`role="status"`).
    let ready = Memo::new(move |_| matches!(state.model.get(), ModelState::Ready(_)));
    let with_info = move |f: &dyn Fn(&super::state::ModelInfo) -> String| match state.model.get() {
        ModelState::Ready(info) => f(&info),
        _ => String::new(),
    };
    let text = move || {
        let s = state.speed.get();
        let l = state.lang.get();
        with_info(&|info| {
            let mut parts = vec![engine_label(l, &info.summary.engine)];
            if let Some(p) = s.prefill {
                parts.push(fill(t(l, "prefill {} tokens/s"), &[&int(l, p)]));
            }
            if let Some(ms) = s.decode_ms {
                parts.push(fill(
                    t(l, "decode {} tokens/s ({} ms/step)"),
                    &[&int(l, 1e3 / ms), &num(l, ms, 1)],
                ));
            }
            if s.memory_bytes > 0 {
                parts.push(fill(
                    t(l, "{} MB of memory"),
                    &[&int(l, s.memory_bytes as f64 / 1e6)],
                ));
            }
            parts.push(if info.from_cache {
                t(l, "model from this browser's cache").to_string()
            } else {
                fill(t(l, "model loaded in {} ms"), &[&int(l, info.load_ms)])
            });
            if info.saved && !info.from_cache {
                parts.push(t(l, "saved in this browser for next time").to_string());
            }
            parts.join(" · ")
        })
    };
    let reason = move || with_info(&|info| tm(state.lang.get(), &info.summary.engine.why));
    let kind = move || with_info(&|info| info.summary.engine.kind.clone());
    let saved =
        Memo::new(move |_| matches!(state.model.get(), ModelState::Ready(info) if info.saved));
    let line = move || {
        ready.get().then(|| view! {
            <p class="status" data-testid="status" data-backend=kind title=reason>
                {text}
                " "
                {move || saved.get().then(|| view! {
                    <button class="link" on:click=move |_| actions.clear_model_cache()>{tx(state, "Clear cached model")}</button>
                })}
            </p>
            <p class="status backend">
                <label>
                    {tx(state, "Run the model on ")}
                    <select
                        data-testid="backend"
                        prop:value=move || pref_value(state.backend_pref.get())
                        on:change=move |ev| {
                            if let Ok(p) = event_target_value(&ev).parse() {
                                actions.set_backend(p);
                            }
                        }
                    >
                        <option value="auto">{tx(state, "Automatic (WebGPU on a real GPU, else wasm SIMD)")}</option>
                        <option value="cpu">{tx(state, "CPU: wasm SIMD")}</option>
                        <option value="webgpu">{tx(state, "WebGPU (even a software adapter)")}</option>
                    </select>
                </label>
                " "
                <span class="reason" data-testid="backend-reason">{reason}</span>
            </p>
        })
    };
    let notice = move || {
        state.backend_notice.get().map(|n| view! {
            <p class="notice" data-testid="backend-notice">
                {move || tm(state.lang.get(), &n)}
                " "
                <button class="link" on:click=move |_| state.backend_notice.set(None)>{tx(state, "Dismiss")}</button>
            </p>
        })
    };
    // The notice comes and goes inside a status region that stays (and so is announced).
    view! { <div><div role="status" data-testid="backend-status">{notice}</div>{line}</div> }
}

/// Where the model runs, as the status line says it: the adapter, or the worker's build (the
/// plain one or the one with relaxed SIMD) and its threads.
fn engine_label(l: super::i18n::Lang, engine: &crate::protocol::Backend) -> String {
    match (engine.on_gpu(), &engine.adapter) {
        (true, Some(a)) => fill(t(l, "WebGPU · {}"), &[&a.name]),
        (true, None) => "WebGPU".into(),
        (false, _) => {
            let relaxed = engine.cpu.contains("relaxed");
            let kernels = t(
                l,
                if relaxed {
                    "wasm SIMD128 + relaxed dot"
                } else {
                    "wasm SIMD128"
                },
            );
            match engine.threads {
                0 | 1 => fill(t(l, "{}, 1 thread"), &[&kernels]),
                n => fill(t(l, "{}, {} threads"), &[&kernels, &n]),
            }
        }
    }
}

fn pref_value(p: crate::protocol::Preference) -> &'static str {
    match p {
        crate::protocol::Preference::Auto => "auto",
        crate::protocol::Preference::Cpu => "cpu",
        crate::protocol::Preference::Webgpu => "webgpu",
    }
}
