//! Workshop exercises (data: `exercises/*.toml`, served as JSON and read by the tokenizer worker; format in
//! `tokenmeter_core::exercises`). Opening one sets the page to its starting state; its goal is
//! checked live, condition by condition, against what the page already shows: token counts, the
//! model's next token, the price table. `?exercise=<set>/<id>` opens one directly;
//! `?instructor` shows every exercise with its hint and a sample answer, for printing.

use leptos::prelude::*;
use tokenmeter_core::exercises::{done, Check, Condition, Exercise, ExerciseSet, Observed};

use tokenmeter_core::service::tokens::ColumnState;

use super::i18n::{fill, t, tm, Lang};
use super::state::InsideState;
use super::{AppState, NextState};

/// The sets, once the worker has read them.
pub fn find(state: AppState, set: &str, id: &str) -> Option<(ExerciseSet, Exercise)> {
    state.exercise_sets.with(|s| {
        let sets = s.as_ref()?.as_ref().ok()?;
        let set = sets.iter().find(|x| x.id == set)?;
        Some((set.clone(), set.find(id)?.clone()))
    })
}

/// Puts the page in the exercise's starting state.
/// Opening from the list or the "next" button puts the user's own state aside first (shown in
/// the card with a way back) and adds an entry to the browser's history, so Back returns to it.
pub fn open(state: AppState, set: &str, e: &Exercise) {
    let s = &e.start;
    if state.exercise.get_untracked().is_none() {
        state.put_aside.set(Some(state.shared.get_untracked()));
    }
    super::link::push_history(state);
    state.decode.set(false);
    if !s.columns.is_empty() {
        state.columns.set(s.columns.clone());
    }
    state.text.set(s.text.clone());
    state.cost_open.set(s.panel == "cost");
    state.inside_open.set(s.panel == "inside");
    state.inside_position.set(None);
    state.inside_head.set((0, 0));
    state.explaining.set(None);
    state.exercise.set(Some((set.to_string(), e.id.clone())));
}

/// What the page currently shows, as the goal checker sees it.
fn observe(state: AppState, text: &str) -> Observed<'_> {
    let mut o = Observed {
        text,
        ..Observed::default()
    };
    state.tokens.with(|t| {
        for c in t.iter().flat_map(|t| &t.columns) {
            if let ColumnState::Tokens(list) = &c.state {
                o.counts.insert(c.tokenizer.clone(), list.count);
            }
        }
    });
    if !state.stale.get() {
        if let NextState::Done(s) = state.next.get() {
            o.top_token = s.scores.row.candidates.first().map(|c| c.token.clone());
            o.entropy_bits = Some(s.scores.row.entropy_bits);
        }
    }
    // Inside the model, at the last token (the position a goal is about).
    if state.inside_position.get().is_none() {
        if let InsideState::Done(r, _) = state.inside.get() {
            let text_now = r.lens.prompt_ids == r.attention.prompt_ids && !state.stale.get();
            if text_now {
                o.lens_first_top = Some((r.lens.answer.token.clone(), r.lens.first_top_layer));
                let (b, h) = state.inside_head.get();
                let n = r.attention.tokens.len();
                o.chosen_head_previous = r
                    .attention
                    .layers
                    .get(b)
                    .and_then(|l| l.heads.get(h))
                    .and_then(|head| n.checked_sub(2).and_then(|p| head.weights.get(p)))
                    .map(|&w| f64::from(w));
            }
        }
    }
    // Merges, from the explanation of the whole text in a column.
    state.explaining.with(|e| {
        if let Some(e) = e {
            if let (None, Some(Ok(x))) = (e.id, &e.answer) {
                if x.text == text {
                    let steps = x
                        .tokens
                        .iter()
                        .map(|t| t.path.as_ref().map_or(0, |p| p.steps.len()))
                        .sum();
                    o.merges.insert(e.tokenizer.clone(), steps);
                }
            }
        }
    });
    state.costs.with(|c| {
        for row in c.iter().flatten().flat_map(|c| &c.models) {
            if let Some(input) = row.input_cost_usd {
                o.input_cost_per_1000
                    .insert(row.model.clone(), input * 1000.0);
            }
        }
    });
    o
}

/// A count's allowed range in words: "3", "at least 3", "at most 3", "2–5".
fn range(lang: Lang, min: &Option<usize>, max: &Option<usize>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), None) => fill(t(lang, "at least {}"), &[a]),
        (None, Some(b)) => fill(t(lang, "at most {}"), &[b]),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        (None, None) => "?".into(),
    }
}

fn describe(c: &Condition, lang: Lang) -> String {
    let got = |g: Option<String>| g.map_or(String::new(), |g| fill(t(lang, " (now: {})"), &[&g]));
    match c {
        Condition::OneWord => t(lang, "one word, no spaces").into(),
        Condition::MaxChars(n) => fill(t(lang, "at most {} characters"), &[n]),
        Condition::Count {
            tokenizer,
            min,
            max,
            got: g,
        } => fill(
            t(lang, "{}: {} tokens{}"),
            &[
                tokenizer,
                &range(lang, min, max),
                &got(g.map(|g| g.to_string())),
            ],
        ),
        Condition::Ratio {
            tokenizer,
            over,
            at_least,
            got: g,
        } => format!(
            "{tokenizer} ÷ {over} ≥ {at_least}{}",
            got(g.map(|g| format!("{g:.2}")))
        ),
        Condition::TopToken { want, got: g } => format!(
            "{} “{}”{}",
            t(lang, "most likely next token:"),
            super::visible_whitespace(want),
            got(g
                .as_ref()
                .map(|g| format!("“{}”", super::visible_whitespace(g))))
        ),
        Condition::EntropyBelow { bits, got: g } => format!(
            "{} {bits} bit{}",
            t(lang, "entropy below"),
            got(g.map(|g| format!("{g:.2}")))
        ),
        Condition::EntropyAbove { bits, got: g } => format!(
            "{} {bits} bits{}",
            t(lang, "entropy above"),
            got(g.map(|g| format!("{g:.2}")))
        ),
        Condition::InputCostAbove { model, usd, got: g } => format!(
            "{model}: {} ${usd}{}",
            t(lang, "input per 1,000 requests above"),
            got(g.map(|g| format!("${g:.3}")))
        ),
        Condition::LensTopBy {
            token,
            block,
            got: g,
        } => fill(
            t(lang, "“{}” is the answer and the top choice by block {}{}"),
            &[
                &super::visible_whitespace(token),
                block,
                &got(g.as_ref().map(|(a, b)| {
                    fill(
                        t(lang, "“{}” from block {}"),
                        &[&super::visible_whitespace(a), b],
                    )
                })),
            ],
        ),
        Condition::HeadOnPrevious { at_least, got: g } => fill(
            t(
                lang,
                "the large head puts at least {}% of its weight on the token before{}",
            ),
            &[
                &format!("{:.0}", 100.0 * at_least),
                &got(g.map(|g| format!("{:.0}%", 100.0 * g))),
            ],
        ),
        Condition::Merges {
            tokenizer,
            min,
            max,
            got: g,
        } => fill(
            t(lang, "{}: {} merges{}"),
            &[
                tokenizer,
                &range(lang, min, max),
                &got(g.map(|g| g.to_string())),
            ],
        ),
    }
}

/// The open exercise: its prompt, its goal checked live, a hint.
#[component]
pub fn ExerciseCard(state: AppState) -> impl IntoView {
    move || {
        let (set_id, id) = state.exercise.get()?;
        let (set, e) = find(state, &set_id, &id)?;
        let lang = state.lang.get();
        let l = lang.code();
        let checks: Memo<Vec<Check>> = {
            let goal = e.goal.clone();
            Memo::new(move |_| {
                let text = state.text.get();
                goal.check(&observe(state, &text))
            })
        };
        let solved = move || done(&checks.get());
        let next = {
            let pos = set.exercises.iter().position(|x| x.id == e.id).unwrap_or(0);
            set.exercises.get(pos + 1).cloned()
        };
        let set_id2 = set_id.clone();
        Effect::new(move |_| {
            if solved() {
                let key = format!("{}/{}", set_id2, id);
                state.exercises_done.update(|d| {
                    if !d.contains(&key) {
                        d.push(key);
                    }
                });
            }
        });
        Some(view! {
            <section class="exercise" aria-labelledby="exercise-title" data-testid="exercise" data-exercise=e.id.clone()
                data-solved=move || solved().to_string()>
                <p class="muted">{set.title.get(l).to_string()}</p>
                <h2 id="exercise-title">{e.title.get(l).to_string()}</h2>
                <p class="prompt">{e.prompt.get(l).to_string()}</p>
                // The list is redrawn as the text changes; what a screen reader hears is the
                // verdict below (a region that stays): how many checks are met, then done.
                <ul class="checks">
                    {move || checks.get().into_iter().map(|c| {
                        let (mark, class) = match c.met {
                            Some(true) => ("✓", "met"),
                            Some(false) => ("✗", "unmet"),
                            None => ("…", "waiting"),
                        };
                        view! { <li class=class><span aria-hidden="true">{mark}</span> " " {describe(&c.condition, lang)}</li> }
                    }).collect_view()}
                </ul>
                <p role="status" class="verdict" data-testid="exercise-verdict">
                    {move || checks.with(|cs| {
                        let met = cs.iter().filter(|c| c.met == Some(true)).count();
                        if done(cs) {
                            t(lang, "Done! Well found.").to_string()
                        } else {
                            fill(t(lang, "{} of {} checks met."), &[&met, &cs.len()])
                        }
                    })}
                </p>
                <details class="hint">
                    <summary>{t(lang, "Hint")}</summary>
                    <p>{e.hint.get(l).to_string()}</p>
                </details>
                {move || state.put_aside.get().map(|before| view! {
                    <p class="notice" data-testid="put-aside">
                        {t(lang, "Your own text and settings were put aside for this exercise. ")}
                        <button class="link" data-testid="bring-back" on:click=move |_| {
                            state.put_aside.set(None);
                            state.restore(before.clone());
                        }>{t(lang, "Bring them back")}</button>
                    </p>
                })}
                <p class="exercise-nav">
                    {next.map(|n| {
                        let set_id = set_id.clone();
                        view! {
                            <button data-testid="next-exercise" on:click=move |_| open(state, &set_id, &n)>
                                {t(lang, "Next exercise →")}
                            </button>
                        }
                    })}
                    " "
                    <button class="link" on:click=move |_| state.exercise.set(None)>{t(lang, "Close")}</button>
                </p>
            </section>
        })
    }
}

/// The list of exercises (asks the worker for them when first opened).
#[component]
pub fn ExerciseList(state: AppState, request: impl Fn() + Copy + 'static) -> impl IntoView {
    let asked = RwSignal::new(false);
    view! {
        <section class="exercises" aria-labelledby="exercises-title">
            <details on:toggle=move |_| {
                if !asked.get_untracked() {
                    asked.set(true);
                    request();
                }
            }>
                <summary><h2 id="exercises-title">{move || t(state.lang.get(), "Exercises")}</h2></summary>
                {move || {
                    let lang = state.lang.get();
                    let l = lang.code();
                    match state.exercise_sets.get() {
                        None => view! { <p class="muted">{t(lang, "Loading…")}</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="error" role="alert">{tm(lang, &e)}</p> }.into_any(),
                        Some(Ok(sets)) => sets.into_iter().map(|set| {
                            let set_id = set.id.clone();
                            view! {
                                <h3>{set.title.get(l).to_string()}</h3>
                                <p class="muted">{set.intro.get(l).to_string()}</p>
                                <ol data-testid="exercise-list">
                                    {set.exercises.into_iter().map(|e| {
                                        let set_id = set_id.clone();
                                        let key = format!("{set_id}/{}", e.id);
                                        let title = e.title.get(l).to_string();
                                        let id = e.id.clone();
                                        view! {
                                            <li>
                                                <button class="link" data-testid=format!("open-{id}")
                                                    on:click=move |_| open(state, &set_id, &e)>{title}</button>
                                                {move || state.exercises_done.with(|d| d.contains(&key)).then(|| view! {
                                                    " " <span aria-label=t(lang, "done")>"✓"</span>
                                                })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                                <p><a href="?instructor" target="_blank" rel="noopener">
                                    {t(lang, "Instructor view (printable, with answers)")}
                                </a></p>
                            }
                        }).collect_view().into_any(),
                    }
                }}
            </details>
        </section>
    }
}

/// `?instructor`: every exercise with prompt, hint, goal and a sample answer, and a link that
/// opens it — printable.
pub fn instructor(state: AppState) -> impl IntoView {
    view! {
        <main class="instructor">
            <h1>{move || t(state.lang.get(), "tokenmeter exercises — instructor view")}</h1>
            {move || {
                let lang = state.lang.get();
                let l = lang.code();
                match state.exercise_sets.get() {
                    None => view! { <p>{t(lang, "Loading…")}</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error" role="alert">{tm(lang, &e)}</p> }.into_any(),
                    Some(Ok(sets)) => sets.into_iter().map(|set| view! {
                        <h2>{set.title.get(l).to_string()}</h2>
                        <p>{set.intro.get(l).to_string()}</p>
                        <ol data-testid="instructor-list">
                            {set.exercises.iter().map(|e| {
                                let link = format!("./?exercise={}/{}&lang={l}", set.id, e.id);
                                let goal = e.goal.check(&Observed::default()).iter()
                                    .map(|c| describe(&c.condition, lang)).collect::<Vec<_>>().join("; ");
                                view! {
                                    <li data-set=set.id.clone() data-id=e.id.clone() data-answer=e.answer.clone() data-answer-head=e.answer_head.clone()>
                                        <h3><a href=link>{e.title.get(l).to_string()}</a></h3>
                                        <p>{e.prompt.get(l).to_string()}</p>
                                        <p><strong>{t(lang, "Goal: ")}</strong>{goal}</p>
                                        <p><strong>{t(lang, "Hint: ")}</strong>{e.hint.get(l).to_string()}</p>
                                        <p><strong>{t(lang, "A sample answer: ")}</strong><code>{short_answer(lang, &e.answer)}</code>
                                            {e.answer_head.split_once('/').map(|(b, h)| fill(t(lang, " (block {}, head {})"), &[&b, &h]))}</p>
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    }).collect_view().into_any(),
                }
            }}
        </main>
    }
}

/// A sample answer short enough to print: a word repeated many times as "“word” × 500", a long
/// text cut with its length given.
fn short_answer(lang: Lang, answer: &str) -> String {
    let words: Vec<&str> = answer.split_whitespace().collect();
    if words.len() > 3 && words.iter().all(|w| *w == words[0]) {
        return fill(t(lang, "“{}” × {}"), &[&words[0], &words.len()]);
    }
    let chars = answer.chars().count();
    if chars <= 80 {
        return answer.to_string();
    }
    let head: String = answer.chars().take(60).collect();
    fill(t(lang, "{}… ({} characters in all)"), &[&head, &chars])
}
