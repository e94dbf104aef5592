//! Inside the model: the logit lens (what each block would predict if the model stopped there)
//! and the attention weights (where each head looks), at one position of the text. Every number
//! comes from the model worker (`Inside`, answered by `tokenmeter_core::service::inside`); this
//! file only draws.

use leptos::prelude::*;
use tokenmeter_core::service::inside::{AttentionResponse, InsideResponse, LensResponse};

use super::bridge::Actions;
use super::format::{int, pct};
use super::i18n::{fill, t, tm, tx};
use super::state::InsideState;
use super::text::{pieces_view, visible_pieces};
use super::{AppState, ModelState};

/// Probability bands for the lens cells (darker = more likely), with the heatmap's colours and
/// their checked text colours: below 3%, 10%, 25%, 50%, 80%, and above.
fn band(p: f64) -> usize {
    [0.03, 0.10, 0.25, 0.50, 0.80]
        .iter()
        .take_while(|&&edge| p >= edge)
        .count()
}

#[component]
pub fn InsidePanel(state: AppState, actions: Actions) -> impl IntoView {
    // Said to a screen reader from a region that is always in the page (one inserted together
    // with its text is not reliably announced): the wait, or why it failed, while the panel is open.
    let announce = move || {
        let l = state.lang.get();
        if !state.inside_open.get() || state.model.with(|m| matches!(m, ModelState::Asleep)) {
            return String::new();
        }
        state.inside.with(|i| match i {
            InsideState::Waiting => t(l, "Looking inside the model…").to_string(),
            InsideState::Failed(m) => tm(l, m),
            InsideState::Done(..) => String::new(),
        })
    };
    view! {
        <section class="inside" aria-labelledby="inside-title">
            <p class="visually-hidden" aria-live="polite" data-testid="inside-announce">{announce}</p>
            <details
                data-testid="inside"
                prop:open=move || state.inside_open.get()
                on:toggle=move |ev| {
                    let d: web_sys::HtmlDetailsElement = event_target(&ev);
                    state.inside_open.set(d.open());
                }
            >
                <summary><h2 id="inside-title">{tx(state, "Inside the model ")} <small>{tx(state, "what each block would predict, and where each head looks")}</small></h2></summary>
                {move || state.inside_open.get().then(|| view! { <InsideBody state actions /> })}
            </details>
        </section>
    }
}

#[component]
fn InsideBody(state: AppState, actions: Actions) -> impl IntoView {
    // The tokens one can look from, and the one looked from: the select stays in the page while
    // answers come and go (a keyboard user moving through it keeps their place).
    let positions = Memo::new(move |_| {
        if let ModelState::Asleep = state.model.get() {
            return None;
        }
        state.inside.with(|i| match i {
            InsideState::Done(r, _) => Some((
                r.attention
                    .tokens
                    .iter()
                    .map(|t| visible_pieces(&t.pieces))
                    .collect::<Vec<_>>(),
                r.lens.at.position,
            )),
            _ => None,
        })
    });
    let shown = Memo::new(move |_| positions.with(Option::is_some));
    let body = move || {
        state.lang.track();
        if let ModelState::Asleep = state.model.get() {
            return view! {
                <p class="muted">
                    <button data-testid="inside-load" on:click=move |_| actions.restart_model()>{tx(state, "Load the model")}</button>
                </p>
            }
            .into_any();
        }
        match state.inside.get() {
            InsideState::Waiting => {
                view! { <p class="muted">{tx(state, "Looking inside the model…")}</p> }.into_any()
            }
            InsideState::Failed(m) => {
                view! { <p class="notice" data-testid="inside-notice">{tm(state.lang.get(), &m)}</p> }.into_any()
            }
            InsideState::Done(r, ms) => view! { <InsideViews state r=*r ms /> }.into_any(),
        }
    };
    view! {
        <p class="muted">
            {tx(state, "The model is 30 blocks, one after another. The logit lens scores the whole vocabulary from what each block hands on, as if the model stopped there; the last block's row is the model's real prediction. Attention shows how much each head of each block draws from each earlier token.")}
        </p>
        {move || shown.get().then(|| view! { <Position state positions /> })}
        {body}
    }
}

#[component]
fn InsideViews(state: AppState, r: InsideResponse, ms: f64) -> impl IntoView {
    let l = state.lang.get_untracked();
    let InsideResponse { lens, attention } = r;
    // Keep the large head inside the model's shape.
    let (n_layer, n_head) = (attention.layers.len(), attention.n_head);
    state.inside_head.update(|(b, h)| {
        *b = (*b).min(n_layer.saturating_sub(1));
        *h = (*h).min(n_head.saturating_sub(1));
    });
    let on = lens.computed_on.clone();
    view! {
        <LensView state lens />
        <AttentionView state attention />
        <p class="status" data-testid="inside-status">
            {fill(t(l, "Computed in {} ms on {}."), &[&int(l, ms.round()), &on])}
        </p>
    }
}

/// The position looked at: the last token (whose lens is the next-token prediction) or any other.
#[component]
fn Position(state: AppState, positions: Memo<Option<(Vec<String>, usize)>>) -> impl IntoView {
    let options = move || {
        positions.with(|p| {
            p.as_ref().map(|(tokens, at)| {
                tokens
                    .iter()
                    .enumerate()
                    .map(|(i, tok)| {
                        // The property, not only the attribute: an option the user once picked
                        // no longer follows its attribute.
                        view! { <option value=i.to_string() selected=i == *at prop:selected=i == *at>{format!("{i}: {tok}")}</option> }
                    })
                    .collect_view()
            })
        })
    };
    view! {
        <label class="control" for="inside-position">
            <span>{tx(state, "Look from the token at position ")}</span>
            <select id="inside-position" data-testid="inside-position" on:change=move |ev| {
                let last = positions.with_untracked(|p| p.as_ref().map_or(0, |(t, _)| t.len().saturating_sub(1)));
                let p = event_target_value(&ev).parse::<usize>().ok();
                state.inside_position.set(p.filter(|&p| p != last));
            }>
                {options}
            </select>
        </label>
    }
}

#[component]
fn LensView(state: AppState, lens: LensResponse) -> impl IntoView {
    let l = state.lang.get_untracked();
    let n = lens.layers.len();
    let answer = visible_pieces(&lens.answer.pieces);
    let summary = if lens.first_top_layer == lens.settled_layer {
        fill(
            t(
                l,
                "“{}” becomes the top choice after block {} of {} and stays there.",
            ),
            &[&answer, &lens.first_top_layer, &n],
        )
    } else {
        fill(
            t(l, "“{}” is first the top choice after block {} of {}, and stays the top choice from block {} on."),
            &[&answer, &lens.first_top_layer, &n, &lens.settled_layer],
        )
    };
    let top = lens.layers.first().map_or(0, |r| r.top.len());
    let rows = lens
        .layers
        .iter()
        .map(|row| {
            let cells = row
                .top
                .iter()
                .map(|c| {
                    let title = fill(t(l, "{}: {}"), &[&visible_pieces(&c.pieces), &pct(l, c.prob)]);
                    view! {
                        <td class=format!("cell h{}", band(c.prob)) title=title data-id=c.id data-prob=c.prob.to_string()>
                            {pieces_view(&c.pieces, l)}
                        </td>
                    }
                })
                .collect_view();
            let rank = fill(
                t(l, "#{} · {}"),
                &[&int(l, (row.answer_rank + 1) as f64), &pct(l, row.answer_prob)],
            );
            view! {
                <tr data-layer=row.layer.to_string() data-answer-rank=row.answer_rank class:first=row.layer == lens.first_top_layer>
                    <th scope="row">{row.layer}</th>
                    {cells}
                    <td class="num" data-testid="answer-rank">{rank}</td>
                </tr>
            }
        })
        .collect_view();
    let heads = (1..=top)
        .map(|k| view! { <th scope="col">{fill(t(l, "{}."), &[&k])}</th> })
        .collect_view();
    view! {
        <h3>{tx(state, "Logit lens")}</h3>
        <p data-testid="lens-summary">{summary}</p>
        <LensChart state lens=lens.clone() />
        // Scrolls sideways on a narrow screen: a region the keyboard can reach.
        <div class="table-scroll" tabindex="0" role="region" aria-label=t(l, "logit lens table")>
            <table class="lens" data-testid="lens" data-position=lens.at.position>
                <caption>
                    {fill(t(l, "After each block, the {} most likely next tokens if the model stopped there; darker is more likely. Last column: the rank and probability of the final answer “{}”."), &[&top, &answer])}
                </caption>
                <thead><tr><th scope="col">{tx(state, "Block")}</th>{heads}<th scope="col">{fill(t(l, "“{}”"), &[&answer])}</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// The final answer's probability after each block, as a line.
#[component]
fn LensChart(state: AppState, lens: LensResponse) -> impl IntoView {
    let l = state.lang.get_untracked();
    const W: f64 = 600.0;
    const H: f64 = 100.0;
    let n = lens.layers.len().max(2);
    let x = |layer: usize| W * (layer - 1) as f64 / (n - 1) as f64;
    let y = |p: f64| H * (1.0 - p.clamp(0.0, 1.0));
    let points: String = lens
        .layers
        .iter()
        .map(|r| format!("{:.1},{:.1}", x(r.layer), y(r.answer_prob)))
        .collect::<Vec<_>>()
        .join(" ");
    let answer = visible_pieces(&lens.answer.pieces);
    let label = fill(
        t(
            l,
            "probability of “{}” after each block, from {} after block 1 to {} after block {}",
        ),
        &[
            &answer,
            &pct(l, lens.layers.first().map_or(0.0, |r| r.answer_prob)),
            &pct(l, lens.answer.prob),
            &lens.layers.len(),
        ],
    );
    view! {
        <figure class="curve lens-chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=label data-testid="lens-chart">
                <line class="axis" x1="0" y1=H x2=W y2=H />
                <polyline class="dist" points=points />
            </svg>
            <figcaption>{fill(t(l, "Probability of “{}” (0 to 100%) after blocks 1 to {}."), &[&answer, &lens.layers.len()])}</figcaption>
        </figure>
    }
}

#[component]
fn AttentionView(state: AppState, attention: AttentionResponse) -> impl IntoView {
    let l = state.lang.get_untracked();
    let n_head = attention.n_head;
    let group = n_head / attention.n_kv_head.max(1);
    let n_layer = attention.layers.len();
    let at = visible_pieces(&attention.at.pieces);
    let tokens: Vec<String> = attention
        .tokens
        .iter()
        .map(|t| visible_pieces(&t.pieces))
        .collect();
    let n_tokens = tokens.len();
    let heading = fill(t(l, "Attention from “{}”"), &[&at]);
    let tokens = StoredValue::new(tokens);
    let at = StoredValue::new(at);
    let layers = StoredValue::new(attention.layers);
    // Arrow keys move the large head; the grid is one tab stop.
    let on_key = move |ev: web_sys::KeyboardEvent| {
        let (b, h) = state.inside_head.get_untracked();
        let moved = match ev.key().as_str() {
            "ArrowRight" => Some((b, (h + 1).min(n_head - 1))),
            "ArrowLeft" => Some((b, h.saturating_sub(1))),
            "ArrowDown" => Some(((b + 1).min(n_layer - 1), h)),
            "ArrowUp" => Some((b.saturating_sub(1), h)),
            "Home" => Some((0, 0)),
            "End" => Some((n_layer - 1, n_head - 1)),
            _ => None,
        };
        if let Some(to) = moved {
            ev.prevent_default();
            state.inside_head.set(to);
            focus_head(to);
        }
    };
    // Drawn once; only the chosen head's marks follow the choice, so the button clicked keeps
    // its focus and arrow keys go on from it.
    let grid = {
        layers.with_value(|layers| {
            layers
                .iter()
                .enumerate()
                .map(|(b, layer)| {
                    let heads = layer
                        .heads
                        .iter()
                        .map(|head| {
                            let h = head.head;
                            let is = move || state.inside_head.get() == (b, h);
                            let n = head.weights.len().max(1) as f64;
                            let rects = head
                                .weights
                                .iter()
                                .enumerate()
                                .map(|(s, &w)| {
                                    view! { <rect x=format!("{:.2}", 100.0 * s as f64 / n) width=format!("{:.2}", 100.0 / n) height="10" fill-opacity=format!("{:.3}", w.clamp(0.0, 1.0)) /> }
                                })
                                .collect_view();
                            let looked = tokens.with_value(|t| t.get(head.looks_at).cloned().unwrap_or_default());
                            let name = fill(
                                t(l, "block {}, head {} (keys and values of group {}): most weight on “{}” ({})"),
                                &[&(b + 1), &(h + 1), &(head.kv_head + 1), &looked, &pct(l, f64::from(head.weights.get(head.looks_at).copied().unwrap_or(0.0)))],
                            );
                            view! {
                                <button
                                    class="head"
                                    class:chosen=is
                                    class:group-start=h % group == 0
                                    data-head=format!("{b}/{h}")
                                    tabindex=move || if is() { "0" } else { "-1" }
                                    aria-pressed=move || is().to_string()
                                    aria-label=name.clone()
                                    title=name
                                    on:click=move |_| state.inside_head.set((b, h))
                                >
                                    <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">{rects}</svg>
                                </button>
                            }
                        })
                        .collect_view();
                    view! {
                        <div class="head-row" role="group" aria-label=fill(t(l, "block {}"), &[&(b + 1)])>
                            <span class="block-no" aria-hidden="true">{b + 1}</span>
                            {heads}
                        </div>
                    }
                })
                .collect_view()
        })
    };
    let groups = (0..attention.n_kv_head)
        .map(|k| view! { <span class="group-label">{fill(t(l, "heads {}–{}: keys and values of group {}"), &[&(k * group + 1), &((k + 1) * group), &(k + 1)])}</span> })
        .collect_view();
    let large = move || {
        let (b, h) = state.inside_head.get();
        layers.with_value(|layers| {
            let head = layers.get(b).and_then(|layer| layer.heads.get(h));
            let Some(head) = head else {
                return view! { <p></p> }.into_any();
            };
            let mates: Vec<String> = (0..n_head)
                .filter(|&o| o != h && o / group == h / group)
                .map(|o| (o + 1).to_string())
                .collect();
            let toks = tokens.with_value(|tokens| {
                head.weights
                    .iter()
                    .zip(tokens)
                    .map(|(&w, tok)| {
                        let share = f64::from(w);
                        let title = fill(t(l, "{}: {}"), &[tok, &pct(l, share)]);
                        view! { <span class=format!("tok h{}", band(share)) title=title data-weight=w.to_string()>{tok.clone()}</span> }
                    })
                    .collect_view()
            });
            let at = at.get_value();
            view! {
                <p class="muted" data-testid="head-caption">
                    {fill(t(l, "Block {}, head {}: how much “{}” draws from each token (darker: more). It shares keys and values with heads {}."), &[&(b + 1), &(h + 1), &at, &mates.join(", ")])}
                </p>
                <p class="token-strip heatmap" data-testid="head-large">{toks}</p>
            }
            .into_any()
        })
    };
    view! {
        <h3>{heading}</h3>
        <p class="muted">{fill(t(l, "Each strip is one head: {} blocks × {} heads, each over the {} tokens up to this one (darker: more weight). Arrow keys move between heads."), &[&n_layer, &n_head, &n_tokens])}</p>
        <p class="legend">{groups}</p>
        <div class="heads" data-testid="heads" role="group" aria-label=t(l, "attention heads") on:keydown=on_key>{grid}</div>
        {large}
    }
}

/// Moves keyboard focus to the head button `(block, head)` once it is drawn.
fn focus_head((b, h): (usize, usize)) {
    request_animation_frame(move || {
        super::controls::focus(|d| {
            d.query_selector(&format!("[data-head=\"{b}/{h}\"]"))
                .ok()
                .flatten()
        })
    });
}
