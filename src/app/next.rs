//! The next-token panel: every vocabulary entry scored, the sampler's filters acting live on that
//! distribution, and token-by-token generation (step, force, run, stop, undo).

use leptos::prelude::*;

use super::i18n::{fill, t, tx};
use super::{visible_whitespace, Actions, AppState, Generated, ModelState, NextState};
use crate::protocol::{Scores, MAX_TOP};

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
            view! { <p class="notice" role="status" data-testid="next-notice">{e}</p> }.into_any()
        }
        NextState::Done(s) => view! { <ScoresView state scores=*s /> }.into_any(),
    }
    };
    view! {
        <section class="next" aria-labelledby="next-title">
            <h2 id="next-title">{tx(state, "Next token ")} <small>{tx(state, "scored over the whole vocabulary")}</small></h2>
            <ModelLine state actions />
            <Controls state />
            <Continuation state />
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
        ModelState::Ready(m) => view! {
            <p class="model-ready" data-testid="model-status">
                {fill(
                    t(l, "{} · {} M parameters · {} MB of weights · {} vocabulary entries"),
                    &[&m.name, &format!("{:.0}", m.n_params as f64 / 1e6), &format!("{:.0}", m.weight_bytes as f64 / 1e6), &m.vocab_size],
                )}
            </p>
        }
        .into_any(),
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
                <p>{e}</p>
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
fn Continuation(state: AppState) -> impl IntoView {
    let ready = move || matches!(state.next.get(), NextState::Done(_)) && !state.stale.get();
    let running = move || state.running.get().is_some();
    // Appends the token the sampler drew for the scores on screen (if they are current).
    let append_drawn = move || {
        if state.stale.get_untracked() {
            return false;
        }
        let NextState::Done(s) = state.next.get_untracked() else {
            return false;
        };
        state.continuation.update(|c| {
            c.push(Generated {
                id: s.sampling.token,
                text: s.sampled_text.clone(),
                forced: false,
            })
        });
        true
    };
    let step = move |_| {
        append_drawn();
    };
    let run = move |_| {
        if append_drawn() {
            state.running.set(Some(RUN_TOKENS - 1));
        }
    };
    view! {
        <div class="generation">
            <div class="buttons" role="group" aria-label=tx(state, "generation")>
                <button data-testid="step" on:click=step disabled=move || !ready() || running()>
                    {tx(state, "Step")}
                </button>
                <button data-testid="run" on:click=run disabled=move || !ready() || running()>
                    {move || fill(t(state.lang.get(), "Run {}"), &[&RUN_TOKENS])}
                </button>
                <button data-testid="stop" on:click=move |_| state.running.set(None) disabled=move || !running()>
                    {tx(state, "Stop")}
                </button>
                <button
                    data-testid="undo"
                    on:click=move |_| {
                        state.running.set(None);
                        state.continuation.update(|c| {
                            c.pop();
                        });
                    }
                    disabled=move || state.continuation.with(Vec::is_empty)
                >
                    {tx(state, "Undo")}
                </button>
                <button
                    data-testid="clear"
                    on:click=move |_| {
                        state.running.set(None);
                        state.continuation.set(Vec::new());
                    }
                    disabled=move || state.continuation.with(Vec::is_empty)
                >
                    {tx(state, "Clear")}
                </button>
            </div>
            {move || {
                let c = state.continuation.get();
                (!c.is_empty()).then(|| {
                    let text: String = c.iter().map(|g| g.text.as_str()).collect();
                    view! {
                        <div class="continuation" data-testid="continuation">
                            <span class="muted">{tx(state, "After your text: ")}</span>
                            {c.iter().map(|g| {
                                let class = if g.forced { "gen forced" } else { "gen" };
                                let title = fill(t(
                                    state.lang.get_untracked(),
                                    if g.forced { "ID {} · chosen by you" } else { "ID {} · drawn by the sampler" }
                                ), &[&g.id]);
                                view! { <span class=class title=title data-id=g.id>{visible_whitespace(&g.text)}</span> }
                            }).collect_view()}
                            <p class="gen-text">{text}</p>
                        </div>
                    }
                })
            }}
        </div>
    }
}

#[component]
fn ScoresView(state: AppState, scores: Scores) -> impl IntoView {
    let l = state.lang.get_untracked();
    let max_prob = scores
        .next
        .candidates
        .first()
        .map_or(1.0, |c| c.prob)
        .max(1e-12);
    let d = &scores.sampling;
    let rows = scores
        .next
        .candidates
        .iter()
        .enumerate()
        .map(|(rank, c)| {
            let width = format!("width: {:.1}%", 100.0 * c.prob / max_prob);
            let kept = d.prob(c.id);
            let drawn = c.id == d.token;
            let (id, text) = (c.id, c.token.clone());
            let force = move |_| {
                // Scores being replaced belong to an older context: choosing from them would
                // put a token where the model did not score it.
                if state.stale.get_untracked() {
                    return;
                }
                state.continuation.update(|v| {
                    v.push(Generated {
                        id,
                        text: text.clone(),
                        forced: true,
                    })
                })
            };
            view! {
                <tr
                    data-id=c.id
                    data-logit=c.logit.to_string()
                    data-prob=c.prob.to_string()
                    class:filtered=kept.is_none()
                    class:drawn=drawn
                    on:click=force
                    title=tx(state, "Click to choose this token")
                >
                    <td class="rank">{rank + 1}</td>
                    <td class="cand">
                        // The accessible name starts with the visible text (WCAG 2.5.3).
                        <button class="token-button"
                            aria-label=fill(t(l, "{} — choose token {}"), &[&visible_whitespace(&c.token), &c.id])>
                            <code>{visible_whitespace(&c.token)}</code>
                        </button>
                        {drawn.then(|| view! { <span class="drawn-mark">{t(l, " ← next draw")}</span> })}
                    </td>
                    <td class="num">{c.id}</td>
                    <td class="num">{format!("{:.3}", c.logit)}</td>
                    <td class="bar-cell">
                        <span class="bar" style=width></span>
                        <span class="pct">{format!("{:.2}%", 100.0 * c.prob)}</span>
                    </td>
                    <td class="num kept">{kept.map_or(t(l, "filtered").to_string(), |p| format!("{:.2}%", 100.0 * p))}</td>
                </tr>
            }
        })
        .collect_view();
    let per_token = if scores.computed_tokens > 0 {
        fill(
            t(l, "{} new tokens in {} ms ({} ms/token)"),
            &[
                &scores.computed_tokens,
                &format!("{:.0}", scores.ms),
                &format!("{:.1}", scores.ms / scores.computed_tokens as f64),
            ],
        )
    } else {
        t(l, "from the cache").to_string()
    };
    let n = &scores.next;
    view! {
        <p class="stats" data-testid="entropy">
            {fill(
                t(l, "Entropy {} bits: as unsure as a fair pick among {} tokens · the {} listed hold {}% · {}% is spread over the other {} entries"),
                &[
                    &format!("{:.2}", n.entropy_bits()),
                    &format!("{:.1}", n.effective_choices()),
                    &n.candidates.len(),
                    &format!("{:.1}", 100.0 * n.top_mass),
                    &format!("{:.1}", 100.0 * (1.0 - n.top_mass).max(0.0)),
                    &(n.vocab_size - n.candidates.len()),
                ],
            )}
        </p>
        <p class="stats">
            {fill(
                t(l, "{} of {} tokens survive the filters; the next draw (step {}) is "),
                &[&d.survivors, &n.vocab_size, &state.continuation.with_untracked(Vec::len)],
            )}
            <code data-testid="drawn">{visible_whitespace(&scores.sampled_text)}</code>
            {fill(t(l, " ({}% after filtering)."), &[&format!("{:.2}", 100.0 * d.token_prob)])}
        </p>
        <table class="candidates" data-testid="candidates">
            <thead>
                <tr>
                    <th>"#"</th><th>{t(l, "token")}</th><th>"ID"</th><th>{t(l, "logit")}</th>
                    <th>{t(l, "probability")}</th><th>{t(l, "after filters")}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <Search state scores=scores.clone() />
        <Curve state points=scores.curve.clone() vocab=n.vocab_size shown=n.candidates.len() />
        <p class="stats">{fill(t(l, "Prompt of {} tokens, {}."), &[&scores.prompt_tokens, &per_token])}</p>
    }
}

#[component]
fn Search(state: AppState, scores: Scores) -> impl IntoView {
    let l = state.lang.get_untracked();
    let result = scores.search.map(|h| {
        let what = if h.exact {
            fill(
                t(l, "“{}” is token {}"),
                &[&visible_whitespace(&h.token), &h.id],
            )
        } else {
            fill(
                t(l, "not one token; its first token “{}” (ID {})"),
                &[&visible_whitespace(&h.token), &h.id],
            )
        };
        fill(
            t(l, "{}: rank {} of {}, probability {}%."),
            &[
                &what,
                &(h.rank + 1),
                &scores.next.vocab_size,
                &format!("{:.4}", 100.0 * h.prob),
            ],
        )
    });
    view! {
        <div class="search">
            <label for="search">{tx(state, "Find a token ")}</label>
            <input
                id="search"
                type="text"
                spellcheck="false"
                placeholder=" Paris"
                prop:value=move || state.settings.with(|s| s.search.clone())
                on:input=move |ev| {
                    let q = event_target_value(&ev);
                    state.settings.update(|s| s.search = q)
                }
            />
            <span data-testid="search-result">{result}</span>
        </div>
    }
}

/// The whole distribution sorted by probability, on log–log axes: the long tail made visible.
#[component]
fn Curve(state: AppState, points: Vec<(usize, f64)>, vocab: usize, shown: usize) -> impl IntoView {
    let l = state.lang.get_untracked();
    const W: f64 = 600.0;
    const H: f64 = 140.0;
    const MIN_LOG_P: f64 = -12.0;
    let max_log_r = (vocab.max(2) as f64).log10();
    let x = |rank: usize| W * (rank.max(1) as f64).log10() / max_log_r;
    let y = |p: f64| H * (p.max(1e-12).log10() / MIN_LOG_P);
    let line: String = points
        .iter()
        .map(|&(r, p)| format!("{:.1},{:.1}", x(r), y(p)))
        .collect::<Vec<_>>()
        .join(" ");
    let cut = x(shown);
    view! {
        <figure class="curve">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=t(l, "sorted probabilities of all vocabulary entries, log scale")>
                <line class="axis" x1="0" y1=H x2=W y2=H />
                <line class="cut" x1=cut y1="0" x2=cut y2=H />
                <polyline class="dist" points=line />
            </svg>
            <figcaption>
                {fill(
                    t(l, "All {} entries, most likely first (both axes logarithmic: rank 1 to {}, probability 1 to 10⁻¹²). The line marks the {} listed above."),
                    &[&vocab, &vocab, &shown],
                )}
            </figcaption>
        </figure>
    }
}

#[component]
fn StatusLine(state: AppState, actions: Actions) -> impl IntoView {
    let line = move || {
        let ModelState::Ready(m) = state.model.get() else {
            return None;
        };
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
        parts.push(if m.from_cache {
            t(l, "model from this browser's cache").to_string()
        } else {
            fill(
                t(l, "model loaded in {} ms"),
                &[&format!("{:.0}", m.load_ms)],
            )
        });
        if m.saved && !m.from_cache {
            parts.push(t(l, "saved in this browser for next time").to_string());
        }
        let reason = m.engine.reason.clone();
        Some(view! {
            <p class="status" data-testid="status" data-backend=m.engine.kind.clone() title=reason.clone()>
                {parts.join(" · ")}
                " "
                {m.saved.then(|| view! {
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
                {n}
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
