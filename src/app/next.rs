//! The next-token panel: every vocabulary entry scored, the sampler's filters acting live on that
//! distribution, and token-by-token generation (step, force, run, stop, undo).

use leptos::prelude::*;

use tokenmeter_core::service::limits::MAX_TOP;

use super::bridge::Actions;
use super::i18n::{fill, t, tm, tx};
use super::text::pieces_view;
use super::{AppState, Generated, ModelState, NextState};

/// How many tokens "Run" generates by default.
const RUN_TOKENS: usize = 20;

#[component]
pub fn NextPanel(state: AppState, actions: Actions) -> impl IntoView {
    let body = move || {
        state.lang.track(); // the scores' sentences follow the language
        let next = state.next.get();
        match next {
        NextState::Waiting => view! { <p class="muted">{tx(state, "Waiting for the model…")}</p> }.into_any(),
        NextState::Reading { done, total } => view! {
            <p class="muted">{move || fill(t(state.lang.get(), "Reading your text: {} of {} tokens…"), &[&done, &total])}</p>
        }
        .into_any(),
        NextState::Failed(e) => {
            view! { <p class="notice" role="status" data-testid="next-notice">{tm(state.lang.get(), &e)}</p> }.into_any()
        }
        NextState::Done(s) => view! { <super::scores::ScoresView state scores=*s actions /> }.into_any(),
    }
    };
    view! {
        <section class="next" aria-labelledby="next-title">
            <h2 id="next-title">{tx(state, "Next token ")} <small>{tx(state, "scored over the whole vocabulary")}</small></h2>
            <ModelLine state actions />
            <Controls state />
            <Continuation state actions />
            <div
                aria-live="polite"
                class="scores"
                class:stale=move || state.stale.get()
                data-stale=move || state.stale.get().to_string()
            >
                {body}
            </div>
            <StatusLine state actions />
        </section>
    }
}

#[component]
fn ModelLine(state: AppState, actions: Actions) -> impl IntoView {
    move || {
        let l = state.lang.get();
        match state.model.get() {
        ModelState::Downloading {
            loaded,
            total,
            rate,
        } => {
            let mb = |b: u64| format!("{:.1}", b as f64 / 1e6);
            let speed = rate
                .filter(|_| loaded > 0)
                .map(|r| fill(t(l, " at {} MB/s"), &[&format!("{:.1}", r / 1e6)]))
                .unwrap_or_default();
            let text = match total {
                Some(n) if loaded >= n => t(l, "Downloaded; loading the model…").to_string(),
                Some(n) => fill(
                    t(l, "Downloading the model: {} of {} MB{}"),
                    &[&mb(loaded), &mb(n), &speed],
                ),
                None => fill(t(l, "Downloading the model: {} MB{}"), &[&mb(loaded), &speed]),
            };
            view! {
                <div class="download">
                    <progress
                        max=total.unwrap_or(0).max(1) as f64
                        value=loaded as f64
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
                    t(l, "{} · {} M parameters · {} MB of weights · {} vocabulary entries"),
                    &[&m.name, &format!("{:.0}", m.n_params as f64 / 1e6), &format!("{:.0}", m.weight_bytes as f64 / 1e6), &m.vocab_size],
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

/// A labelled number input bound to one field of the settings.
fn number_input(
    label: impl Fn() -> &'static str + Send + Sync + Copy + 'static,
    id: &'static str,
    min: f64,
    max: f64,
    step: f64,
    get: impl Fn() -> f64 + Send + Sync + Copy + 'static,
    set: impl Fn(f64) + Send + Sync + Copy + 'static,
) -> impl IntoView {
    view! {
        <label class="control" for=id>
            <span>{label}</span>
            <input
                id=id
                type="number"
                min=min
                max=max
                step=step
                prop:value=move || get().to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).trim().parse::<f64>() {
                        if v.is_finite() {
                            set(v.clamp(min, max));
                        }
                    }
                }
            />
        </label>
    }
}

/// A labelled range input from 0 to `max`, with its value shown beside the label.
fn slider(
    label: impl Fn() -> &'static str + Send + Sync + Copy + 'static,
    id: &'static str,
    max: f32,
    step: f32,
    shown: impl Fn() -> String + Send + Sync + Copy + 'static,
    get: impl Fn() -> f32 + Send + Sync + Copy + 'static,
    set: impl Fn(f32) + Send + Sync + Copy + 'static,
) -> impl IntoView {
    view! {
        <label class="control slider" for=id>
            <span>{label} " " <output>{shown}</output></span>
            <input
                id=id
                type="range"
                min="0"
                max=max
                step=step
                prop:value=move || get().to_string()
                on:input=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                        set(v.clamp(0.0, max));
                    }
                }
            />
        </label>
    }
}

#[component]
fn Controls(state: AppState) -> impl IntoView {
    let s = state.settings;
    view! {
        <fieldset class="controls">
            <legend>{tx(state, "Sampling")}</legend>
            {slider(tx(state, "Temperature"), "temperature", 2.0, 0.05,
                move || {
                    let temp = s.with(|s| s.sampler.temperature);
                    if temp == 0.0 { t(state.lang.get(), "0 (greedy)").to_string() } else { format!("{temp:.2}") }
                },
                move || s.with(|s| s.sampler.temperature),
                move |v| s.update(|s| s.sampler.temperature = v))}
            {slider(tx(state, "Top-p"), "top-p", 1.0, 0.01,
                move || format!("{:.2}", s.with(|s| s.sampler.top_p)),
                move || s.with(|s| s.sampler.top_p),
                move |v| s.update(|s| s.sampler.top_p = v))}
            {number_input(tx(state, "Top-k (0 = off)"), "top-k", 0.0, 49_152.0, 1.0,
                move || s.with(|s| s.sampler.top_k) as f64,
                move |v| s.update(|s| s.sampler.top_k = v as usize))}
            {number_input(tx(state, "Seed"), "seed", 0.0, 4_294_967_295.0, 1.0,
                move || s.with(|s| s.sampler.seed) as f64,
                move |v| s.update(|s| s.sampler.seed = v as u64))}
            {number_input(tx(state, "Candidates shown"), "top-shown", 1.0, MAX_TOP as f64, 1.0,
                move || s.with(|s| s.top) as f64,
                move |v| s.update(|s| s.top = v as usize))}
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
    }
}

#[component]
fn Continuation(state: AppState, actions: Actions) -> impl IntoView {
    let has_model = move || matches!(state.model.get(), ModelState::Ready(_));
    let running = move || state.running.get();
    // The user changed the tokens after the text: score what is there now.
    let edit = move |f: &dyn Fn(&mut Vec<Generated>)| {
        actions.stop_if_running();
        state.continuation.update(|c| f(c));
        actions.request_next();
    };
    view! {
        <div class="generation">
            <div class="buttons" role="group" aria-label=tx(state, "generation")>
                <button data-testid="step" on:click=move |_| actions.generate(1)
                    disabled=move || !has_model() || running()>
                    {tx(state, "Step")}
                </button>
                <button data-testid="run" on:click=move |_| actions.generate(RUN_TOKENS)
                    disabled=move || !has_model() || running()>
                    {move || fill(t(state.lang.get(), "Run {}"), &[&RUN_TOKENS])}
                </button>
                <button data-testid="stop" on:click=move |_| actions.stop() disabled=move || !running()>
                    {tx(state, "Stop")}
                </button>
                <button
                    data-testid="undo"
                    on:click=move |_| edit(&|c| {
                        c.pop();
                    })
                    disabled=move || state.continuation.with(Vec::is_empty)
                >
                    {tx(state, "Undo")}
                </button>
                <button
                    data-testid="clear"
                    on:click=move |_| edit(&|c| c.clear())
                    disabled=move || state.continuation.with(Vec::is_empty)
                >
                    {tx(state, "Clear")}
                </button>
            </div>
            {move || {
                let c = state.continuation.get();
                (!c.is_empty()).then(|| {
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
                            <span class="muted">{tx(state, "After your text: ")}</span>
                            {c.iter().map(|g| {
                                let class = if g.forced { "gen forced" } else { "gen" };
                                let title = fill(t(
                                    state.lang.get_untracked(),
                                    if g.forced { "ID {} · chosen by you" } else { "ID {} · drawn by the sampler" }
                                ), &[&g.id]);
                                let l = state.lang.get_untracked();
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
    let line = move || {
        let ModelState::Ready(info) = state.model.get() else {
            return None;
        };
        let m = &info.summary;
        let s = state.speed.get();
        let l = state.lang.get();
        let mut parts = vec![m.backend.clone()];
        if let Some(p) = s.prefill {
            parts.push(fill(t(l, "prefill {} tokens/s"), &[&format!("{p:.0}")]));
        }
        if let Some(ms) = s.decode_ms {
            parts.push(fill(
                t(l, "decode {} tokens/s ({} ms/step)"),
                &[&format!("{:.0}", 1e3 / ms), &format!("{ms:.1}")],
            ));
        }
        if s.memory_bytes > 0 {
            parts.push(fill(
                t(l, "{} MB of memory"),
                &[&format!("{:.0}", s.memory_bytes as f64 / 1e6)],
            ));
        }
        parts.push(if info.from_cache {
            t(l, "model from this browser's cache").to_string()
        } else {
            fill(
                t(l, "model loaded in {} ms"),
                &[&format!("{:.0}", info.load_ms)],
            )
        });
        if info.saved && !info.from_cache {
            parts.push(t(l, "saved in this browser for next time").to_string());
        }
        let reason = tm(l, &m.engine.why);
        Some(view! {
            <p class="status" data-testid="status" data-backend=m.engine.kind.clone() title=reason.clone()>
                {parts.join(" · ")}
                " "
                {info.saved.then(|| view! {
                    <button class="link" on:click=move |_| actions.clear_model_cache()>{t(l, "Clear cached model")}</button>
                })}
            </p>
            <p class="status backend">
                <label>
                    {t(l, "Run the model on ")}
                    <select
                        data-testid="backend"
                        prop:value=move || pref_value(state.backend_pref.get())
                        on:change=move |ev| {
                            if let Ok(p) = event_target_value(&ev).parse() {
                                actions.set_backend(p);
                            }
                        }
                    >
                        <option value="auto">{t(l, "Automatic (WebGPU on a real GPU, else wasm SIMD)")}</option>
                        <option value="cpu">{t(l, "CPU: wasm SIMD")}</option>
                        <option value="webgpu">{t(l, "WebGPU (even a software adapter)")}</option>
                    </select>
                </label>
                " "
                <span class="reason" data-testid="backend-reason">{reason}</span>
            </p>
        })
    };
    let notice = move || {
        state.backend_notice.get().map(|n| view! {
            <p class="notice" role="status" data-testid="backend-notice">
                {move || tm(state.lang.get(), &n)}
                " "
                <button class="link" on:click=move |_| state.backend_notice.set(None)>{tx(state, "Dismiss")}</button>
            </p>
        })
    };
    view! { <div aria-live="polite">{notice}{line}</div> }
}

fn pref_value(p: crate::protocol::Preference) -> &'static str {
    match p {
        crate::protocol::Preference::Auto => "auto",
        crate::protocol::Preference::Cpu => "cpu",
        crate::protocol::Preference::Webgpu => "webgpu",
    }
}
