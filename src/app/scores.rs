//! The scores of the whole vocabulary, drawn: the candidate table (click one to choose it), the
//! sampler's filters and draw, a token's rank by search, and the sorted distribution's long tail.

use leptos::prelude::*;
use tokenmeter_core::scoring::{Candidate, SamplingView};

use super::bridge::Actions;
use super::controls::bar;
use super::format::{int, num, pct, plural};
use super::i18n::{fill, t, tx, Lang};
use super::sortable::{self, Sort};
use super::state::{NextState, Scores};
use super::text::{pieces_view, visible_pieces};
use super::{AppState, Generated};

#[component]
pub fn ScoresView(
    state: AppState,
    scores: Scores,
    actions: Actions,
    sort: RwSignal<Sort>,
    refocus: StoredValue<Option<usize>>,
) -> impl IntoView {
    let l = state.lang.get_untracked();
    let ms = scores.ms;
    let scores = scores.scores;
    let max_prob = scores
        .row
        .candidates
        .first()
        .map_or(1.0, |c| c.prob)
        .max(1e-12);
    let d = scores.row.sampling.clone();
    let candidates = scores.row.candidates.clone();
    let rows = move || {
        let mut rows: Vec<(usize, Candidate)> = candidates.iter().cloned().enumerate().collect();
        let sampling = d.clone();
        sortable::apply(&mut rows, sort.get(), |(rank, c), col| match col {
            0 => Some(*rank as f64),
            2 => Some(f64::from(c.id)),
            3 => Some(f64::from(c.logit)),
            4 => Some(c.prob),
            5 => sampling.prob(c.id),
            _ => None,
        });
        rows.into_iter()
            .enumerate()
            .map(|(row, (rank, c))| {
                let at = Place { row, refocus };
                candidate_row(state, actions, &d, rank, c, max_prob, at)
            })
            .collect_view()
    };
    if let Some(row) = refocus.get_value() {
        refocus.set_value(None);
        request_animation_frame(move || focus_candidate(row));
    }
    let d = &scores.row.sampling;
    let per_token = if scores.computed_tokens > 0 {
        fill(
            t(l, "{} in {} ms ({} ms/token)"),
            &[
                &plural(
                    l,
                    scores.computed_tokens as f64,
                    "{} new token",
                    "{} new tokens",
                ),
                &int(l, ms),
                &num(l, ms / scores.computed_tokens as f64, 1),
            ],
        )
    } else {
        t(l, "from the cache").to_string()
    };
    let n = &scores.row;
    view! {
        <p class="stats" data-testid="entropy">
            {fill(
                t(l, "Entropy {}: as unsure as a fair pick among {} tokens · the {} listed hold {} · {} is spread over the other {} entries"),
                &[
                    &plural_f(l, n.entropy_bits, "{} bit", "{} bits"),
                    &num(l, n.effective_choices, 1),
                    &n.candidates.len(),
                    &pct(l, n.top_mass),
                    &pct(l, (1.0 - n.top_mass).max(0.0)),
                    &int(l, (n.vocab_size - n.candidates.len()) as f64),
                ],
            )}
        </p>
        <p class="stats">
            {fill(
                t(l, "{} of {} tokens survive the filters; the next draw (step {}) is "),
                &[&int(l, d.survivors as f64), &int(l, n.vocab_size as f64), &d.step],
            )}
            <code data-testid="drawn">{pieces_view(&d.chosen.pieces, l)}</code>
            {fill(t(l, " ({} after filtering)."), &[&pct(l, d.chosen.prob)])}
        </p>
        <div class="scroll" tabindex="0" role="region" aria-label=t(l, "the most likely next tokens")>
        <table class="candidates" data-testid="candidates">
            <thead>
                <tr>
                    {sortable::header("#".into(), 0, sort, "sort-rank", "secondary")}
                    <th>{t(l, "token")}</th>
                    {sortable::header("ID".into(), 2, sort, "sort-id", "secondary")}
                    {sortable::header(t(l, "logit").into(), 3, sort, "sort-logit", "secondary")}
                    {sortable::header(t(l, "probability").into(), 4, sort, "sort-prob", "")}
                    {sortable::header(t(l, "after filters").into(), 5, sort, "sort-kept", "")}
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        </div>
        <Curve state points=n.curve.clone() vocab=n.vocab_size shown=n.candidates.len() />
        <p class="stats">{fill(t(l, "Prompt of {}, {}."), &[&plural(l, scores.prompt_tokens as f64, "{} token", "{} tokens"), &per_token])}</p>
    }
}

/// Whether the keyboard focus is on a candidate's button.
fn focus_in_candidates() -> bool {
    super::controls::document()
        .and_then(|d| d.active_element())
        .is_some_and(|e| {
            e.closest("[data-testid=candidates] .token-button")
                .ok()
                .flatten()
                .is_some()
        })
}

/// Focuses the button of the candidates' row `row` (0-based, as drawn).
fn focus_candidate(row: usize) {
    super::controls::focus(|d| {
        d.query_selector_all("[data-testid=candidates] tbody .token-button")
            .ok()?
            .item(row as u32)
            .and_then(|n| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(n).ok())
    });
}

/// A non-integer count: "1 bit" only for exactly 1, "0.5 bits", "1.87 bits".
fn plural_f(l: Lang, x: f64, one: &'static str, other: &'static str) -> String {
    let shown = num(l, x, 2);
    fill(
        if shown == num(l, 1.0, 2) {
            t(l, one)
        } else {
            t(l, other)
        },
        &[&shown],
    )
}

/// Where a candidate's row is drawn, and where a choice made from the keyboard is remembered.
#[derive(Clone, Copy)]
struct Place {
    row: usize,
    refocus: StoredValue<Option<usize>>,
}

fn candidate_row(
    state: AppState,
    actions: Actions,
    d: &SamplingView,
    rank: usize,
    c: Candidate,
    max_prob: f64,
    at: Place,
) -> impl IntoView {
    let l = state.lang.get_untracked();
    let width = c.prob / max_prob;
    let kept = d.prob(c.id);
    let drawn = c.id == d.chosen.id;
    let (id, pieces) = (c.id, c.pieces.clone());
    let force = move |_| {
        // Scores being replaced belong to an older context: choosing from them would put a
        // token where the model did not score it.
        if state.stale.get_untracked() {
            return;
        }
        actions.stop_if_running();
        // Chosen from the keyboard (the focus on its button): the next answer's row at the same
        // place takes the focus, so choosing goes on without tabbing back from the top.
        if focus_in_candidates() {
            at.refocus.set_value(Some(at.row));
        }
        state.continuation.update(|v| {
            v.push(Generated {
                id,
                pieces: pieces.clone(),
                forced: true,
            })
        });
        actions.request_next();
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
            <td class="rank secondary">{rank + 1}</td>
            <td class="cand">
                // The accessible name starts with the visible text (WCAG 2.5.3).
                <button class="token-button"
                    aria-label=fill(t(l, "{} — choose token {}"), &[&visible_pieces(&c.pieces), &c.id])>
                    <code>{pieces_view(&c.pieces, l)}</code>
                </button>
                {drawn.then(|| view! { <span class="drawn-mark">{t(l, " ← next draw")}</span> })}
            </td>
            <td class="num secondary">{c.id}</td>
            <td class="num secondary">{num(l, f64::from(c.logit), 3)}</td>
            <td class="bar-cell">
                {bar(width)}
                <span class="pct">{pct(l, c.prob)}</span>
            </td>
            <td class="num kept">{kept.map_or(t(l, "filtered").to_string(), |p| pct(l, p))}</td>
        </tr>
    }
}

/// "Find a token": drawn once above the answers (typing there asks for new ones, which must not
/// take the field away); only the result line follows them.
#[component]
pub fn Search(state: AppState) -> impl IntoView {
    let result = move || {
        let l = state.lang.get();
        let (h, vocab) = state.next.with(|n| match n {
            NextState::Done(s) => s
                .scores
                .search
                .clone()
                .map(|h| (h, s.scores.row.vocab_size)),
            _ => None,
        })?;
        let what = if h.exact {
            fill(
                t(l, "“{}” is token {}"),
                &[&visible_pieces(&h.pieces), &h.id],
            )
        } else {
            fill(
                t(l, "not one token; its first token “{}” (ID {})"),
                &[&visible_pieces(&h.pieces), &h.id],
            )
        };
        Some(fill(
            t(l, "{}: rank {} of {}, probability {}."),
            &[
                &what,
                &int(l, (h.rank + 1) as f64),
                &int(l, vocab as f64),
                &pct(l, h.prob),
            ],
        ))
    };
    view! {
        <div class="search">
            <label for="search">{tx(state, "Find a token ")}</label>
            <input
                id="search"
                type="text"
                spellcheck="false"
                placeholder=tx(state, " Paris")
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
                    &[&int(l, vocab as f64), &int(l, vocab as f64), &shown],
                )}
            </figcaption>
        </figure>
    }
}
