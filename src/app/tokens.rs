//! The text as tokens, one column per chosen tokenizer: coloured spans with IDs, raw bytes of
//! split characters, the same characters highlighted in every column on hover, and (for
//! SmolLM2, the page's model) the model's surprisal for each token as a heatmap.

use leptos::prelude::*;
use tokenmeter_core::tokenizer::registry::{self, SHIPPED};

use tokenmeter_core::service::tokens::{Column, ColumnState, TokenView};

use super::bridge::Actions;
use super::controls::{dropped_file, picked_file};
use super::format::{int, num, plural};
use super::i18n::{fill, t, t_str, tm, tx};
use super::text::pieces_view;
use super::{visible_whitespace, AppState, ModelState, NextState};

/// Surprisal bands in bits (−log₂ p) for the heatmap: 0–1, 1–2, 2–4, 4–7, 7–11, 11+.
const BANDS: [f64; 5] = [1.0, 2.0, 4.0, 7.0, 11.0];

fn band(bits: f64) -> usize {
    BANDS.iter().take_while(|&&b| bits >= b).count()
}

#[component]
pub fn TokenPanel(state: AppState, actions: Actions) -> impl IntoView {
    let columns = move || {
        state.lang.track(); // re-render the columns' sentences in a new language
        state
            .tokens
            .with(|t| t.as_ref().map(|t| t.columns.clone()).unwrap_or_default())
    };
    // Not redrawn at each download progress: the toggle keeps its focus.
    let awake = Memo::new(move |_| !matches!(state.model.get(), ModelState::Asleep));
    let drop = move |ev: web_sys::DragEvent| {
        if let Some(file) = dropped_file(&ev) {
            actions.add_tokenizer(file);
        }
    };
    // What a screen reader is told after each answer, from regions that are always in the page (a
    // region inserted together with its text is not reliably announced): every column's count in
    // one sentence (eleven regions announcing at each keystroke would be noise), and the panel
    // explaining a token.
    let counts = Memo::new(move |_| {
        let l = state.lang.get();
        state.tokens.with(|t| {
            t.as_ref().map_or_else(String::new, |t| {
                t.columns
                    .iter()
                    .filter_map(|c| {
                        let count = match &c.state {
                            ColumnState::Tokens(t) => {
                                plural(l, t.count as f64, "{} token", "{} tokens")
                            }
                            ColumnState::Decoded(d) => plural(l, d.count as f64, "{} ID", "{} IDs"),
                            ColumnState::Loading | ColumnState::Failed(_) => return None,
                        };
                        Some(format!(
                            "{}: {count}",
                            super::explain::column_name(state, &c.tokenizer)
                        ))
                    })
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
        })
    });
    let explaining = move || super::explain::announcement(state, state.lang.get());
    view! {
        <section
            class="tokens"
            aria-labelledby="tokens-title"
            on:dragover=move |ev: web_sys::DragEvent| ev.prevent_default()
            on:drop=drop
        >
            <div class="panel-head">
                <h2 id="tokens-title">{tx(state, "Tokens")}</h2>
                <div class="toggles">
                    <label class="toggle">
                        <input
                            type="checkbox"
                            prop:checked=move || state.show_ids.get()
                            on:change=move |ev| state.show_ids.set(event_target_checked(&ev))
                        />
                        {tx(state, " Show IDs")}
                    </label>
                    {move || awake.get().then(|| view! {
                    <label class="toggle">
                        <input
                            type="checkbox"
                            data-testid="surprisal-toggle"
                            prop:checked=move || state.settings.with(|s| s.surprisal)
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                state.settings.update(|s| s.surprisal = on)
                            }
                        />
                        {tx(state, " Colour SmolLM2's tokens by surprisal")}
                    </label>
                    })}
                </div>
            </div>
            <Picker state actions />
            <div class="mode" role="radiogroup" aria-label=tx(state, "what the columns show")>
                <label>
                    <input type="radio" name="mode" data-testid="mode-encode"
                        prop:checked=move || !state.decode.get()
                        on:change=move |_| state.decode.set(false) />
                    {tx(state, " Your text as tokens")}
                </label>
                <label>
                    <input type="radio" name="mode" data-testid="mode-decode"
                        prop:checked=move || state.decode.get()
                        on:change=move |_| state.decode.set(true) />
                    {tx(state, " Token IDs back to text")}
                </label>
            </div>
            {move || state.decode.get().then(|| view! {
                <label class="ids-input">
                    {tx(state, "Token IDs (commas, spaces or a JSON array): ")}
                    <input
                        type="text"
                        data-testid="ids-input"
                        spellcheck="false"
                        placeholder="9906, 1917, 0"
                        prop:value=move || state.ids_input.get()
                        on:input=move |ev| state.ids_input.set(event_target_value(&ev))
                    />
                </label>
                <p class="muted">{tx(state, "The same numbers spell different text in each vocabulary.")}</p>
            })}
            {move || state.token_error.get().map(|e| view! { <p class="error" role="alert">{tm(state.lang.get(), &e)}</p> })}
            {move || {
                state.settings.with(|s| s.surprisal && s.chat).then(|| view! {
                    <p class="notice">{tx(state, "Surprisal is shown for plain text, not in chat mode.")}</p>
                })
            }}
            {move || (state.tokens.with(|t| t.is_none()) && state.token_error.with(|e| e.is_none()))
                .then(|| view! { <p class="summary">{tx(state, "Tokenizing…")}</p> })}
            // Past every token stop at once, for keyboard users.
            <button class="skip" data-testid="skip-tokens" on:click=|_| focus_by_id("next-title")>
                {tx(state, "Skip the tokens: go to the next-token scores")}
            </button>
            <p class="visually-hidden" aria-live="polite" data-testid="tokens-announce">{counts}</p>
            <p class="visually-hidden" aria-live="polite" data-testid="explain-announce">{explaining}</p>
            <div class="columns">
                <For
                    each=columns
                    key=move |c| (c.tokenizer.clone(), content_key(&c.state), state.lang.get_untracked().code())
                    children=move |c| view! { <TokenColumn state actions column=c /> }
                />
            </div>
            <super::explain::ExplainView state />
        </section>
    }
}

/// A column is drawn again exactly when what it shows changed: a key from its whole content
/// ("cat" and "bat" are different columns even with as many tokens, characters and digits).
fn content_key(state: &ColumnState) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    format!("{state:?}").hash(&mut h);
    h.finish()
}

/// The tokenizer picker: every shipped vocabulary with its models, source and licence.
#[component]
fn Picker(state: AppState, actions: Actions) -> impl IntoView {
    let chosen = move |ev: leptos::ev::Event| {
        if let Some(file) = picked_file(&ev) {
            actions.add_tokenizer(file);
        }
    };
    view! {
        <details class="picker">
            <summary>{tx(state, "Tokenizers: ")}
                {move || state.columns.with(|c| c.iter()
                    .filter_map(|id| registry::find(id).map(|s| s.name))
                    .collect::<Vec<_>>()
                    .join(", "))}
            </summary>
            <ul>
                {SHIPPED.iter().map(|s| {
                    let id = s.id;
                    view! {
                        <li>
                            <label>
                                <input
                                    type="checkbox"
                                    data-testid=format!("pick-{id}")
                                    prop:checked=move || state.columns.with(|c| c.iter().any(|x| x == id))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        state.columns.update(|c| {
                                            c.retain(|x| x != id);
                                            if on {
                                                // Keep the registry's order.
                                                c.push(id.to_string());
                                                c.sort_by_key(|x| SHIPPED.iter().position(|s| s.id == x));
                                            }
                                        })
                                    }
                                />
                                <strong>{format!(" {}", s.name)}</strong>
                                <span class="muted">{move || {
                                    let l = state.lang.get();
                                    format!(" — {} · {} · {}", t_str(l, s.models), t_str(l, s.license), t_str(l, s.source))
                                }}</span>
                            </label>
                            {(!s.note.is_empty()).then(|| view! { <p class="note">{move || t_str(state.lang.get(), s.note)}</p> })}
                        </li>
                    }
                }).collect_view()}
                {move || state.custom.get().into_iter().map(|(id, name)| {
                    let key = id.clone();
                    view! {
                        <li>
                            <label>
                                <input
                                    type="checkbox"
                                    prop:checked=move || state.columns.with(|c| c.contains(&key))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let id = id.clone();
                                        state.columns.update(|c| {
                                            c.retain(|x| *x != id);
                                            if on { c.push(id); }
                                        })
                                    }
                                />
                                <strong>{format!(" {name}")}</strong>
                                <span class="muted">{tx(state, " — your file (stays in this tab)")}</span>
                            </label>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <label class="byo">
                {tx(state, "Bring your own: a tokenizer.json or a GGUF file ")}
                <input type="file" accept=".json,.gguf,.gz,application/json" data-testid="byo-file" on:change=chosen />
                <span class="muted">{tx(state, " (or drop it on this panel)")}</span>
            </label>
        </details>
        {move || state.custom_error.get().map(|e| view! {
            <p class="error" role="alert" data-testid="byo-error">{move || tm(state.lang.get(), &e)}</p>
        })}
    }
}

#[component]
fn TokenColumn(state: AppState, actions: Actions, column: Column) -> impl IntoView {
    let l = state.lang.get_untracked();
    let id = column.tokenizer.clone();
    let spec = registry::find(&id);
    let name = spec.map(|s| s.name.to_string()).unwrap_or_else(|| {
        state.custom.with_untracked(|c| {
            c.iter()
                .find(|(i, _)| *i == id)
                .map_or(id.clone(), |(_, n)| fill(t(l, "{} (your file)"), &[n]))
        })
    });
    let body = match column.state {
        ColumnState::Loading => view! {
            <p class="muted">{fill(t(l, "Loading the {} vocabulary…"), &[&name])}</p>
        }
        .into_any(),
        ColumnState::Failed(e) => {
            view! { <p class="error" role="alert">{tm(l, &e)}</p> }.into_any()
        }
        ColumnState::Tokens(t) => {
            let list = List {
                count: t.count,
                spans: t.spans,
                chars: t.chars,
                bytes: t.bytes,
                decoded: None,
            };
            view! { <Strip state actions list tokenizer=id.clone() /> }.into_any()
        }
        ColumnState::Decoded(d) => {
            let list = List {
                count: d.count,
                spans: d.spans,
                chars: 0,
                bytes: 0,
                decoded: Some(d.text),
            };
            view! { <Strip state actions list tokenizer=id.clone() /> }.into_any()
        }
    };
    view! {
        <div class="column" data-tokenizer=id.clone()>
            <h3>{name.clone()}</h3>
            {spec.filter(|s| !s.note.is_empty()).map(|s| view! { <p class="note">{t_str(l, s.note)}</p> })}
            {body}
        </div>
    }
}

/// What a column draws: a text's tokens, or typed IDs decoded.
struct List {
    /// Tokens (or IDs) in all; `spans` lists the first of them.
    count: usize,
    spans: Vec<TokenView>,
    /// The text's characters and bytes (for characters and bytes per token).
    chars: usize,
    bytes: usize,
    /// In decode mode: the text the IDs spell.
    decoded: Option<String>,
}

#[component]
fn Strip(state: AppState, actions: Actions, list: List, tokenizer: String) -> impl IntoView {
    let (chars, bytes) = (list.chars, list.bytes);
    let tokenizer_name =
        registry::find(&tokenizer).map_or(tokenizer.clone(), |s| s.name.to_string());
    let l = state.lang.get_untracked();
    let per = |n: usize| {
        if list.count == 0 {
            "–".to_string()
        } else {
            num(l, n as f64 / list.count as f64, 2)
        }
    };
    let summary = match &list.decoded {
        Some(text) => {
            let bad = list.spans.iter().filter(|t| t.invalid).count();
            let bad = if bad > 0 {
                fill(t(l, " · {} not in this vocabulary"), &[&int(l, bad as f64)])
            } else {
                String::new()
            };
            fill(
                t(l, "{}{} → “{}”"),
                &[
                    &plural(l, list.count as f64, "{} ID", "{} IDs"),
                    &bad,
                    &visible_whitespace(text),
                ],
            )
        }
        None => fill(
            t(l, "{} · {} characters/token · {} bytes/token"),
            &[
                &plural(l, list.count as f64, "{} token", "{} tokens"),
                &per(chars),
                &per(bytes),
            ],
        ),
    };
    let truncated = (list.count > list.spans.len()).then(|| {
        fill(
            t(l, "Showing the first {} of {} tokens."),
            &[&int(l, list.spans.len() as f64), &int(l, list.count as f64)],
        )
    });
    let is_model = tokenizer == "smollm2";
    // Per token: its surprisal score, when the model's answer is for this very text.
    let ids: Vec<u32> = list.spans.iter().map(|t| t.id).collect();
    let heat = Memo::new(move |_| {
        if !is_model || !state.settings.with(|s| s.surprisal && !s.chat) {
            return None;
        }
        state.next.with(|n| match n {
            NextState::Done(s) => {
                let sur = s.scores.surprisal.as_ref()?;
                // The model also read any generated tokens: compare the text's part only.
                let read = sur.tokens.get(..ids.len())?;
                read.iter().map(|t| t.id).eq(ids.iter().copied()).then(|| {
                    read.iter()
                        .map(|t| match (t.surprisal_bits, t.prob, t.rank) {
                            (Some(bits), Some(p), Some(rank)) => Some((bits, p, rank)),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                })
            }
            _ => None,
        })
    });
    let tokens: Vec<_> = list.spans.into_iter().enumerate().collect();
    view! {
        <p class="summary" data-testid="token-count">{summary}</p>
        {move || heat.with(|h| h.is_some()).then(|| view! {
            <p class="legend" aria-label=t(l, "surprisal legend")>
                {t(l, "How surprised the model was by each token (−log₂ p): ")}
                {[t(l, "< 1 bit"), t(l, "1–2 bits"), t(l, "2–4 bits"), t(l, "4–7 bits"), t(l, "7–11 bits"), t(l, "11+ bits")]
                    .into_iter().enumerate().map(|(i, label)| view! {
                    <span class=format!("swatch h{i}")>{label}</span>
                }).collect_view()}
                {t(l, " · the first token has no prediction.")}
            </p>
        })}
        // One tab stop per column: the arrow keys move between its tokens (a roving tabindex).
        <div
            class="token-strip"
            class:show-ids=move || state.show_ids.get()
            class:heatmap=move || heat.with(|h| h.is_some())
            data-testid="tokens"
            role="group"
            aria-label=fill(t(l, "tokens of {}"), &[&tokenizer_name])
            on:keydown=roving_keys
            on:focusin=roving_focus
        >
            {tokens.into_iter().map(|(i, t)| {
                let (start, end) = (t.start, t.end);
                let score = move || heat.with(|h| h.as_ref().and_then(|h| h.get(i).copied().flatten()));
                let class = move || {
                    let heat_class = score().map(|(bits, _, _)| format!(" h{}", band(bits))).unwrap_or_default();
                    let lit = state.hovered.with(|h| h.is_some_and(|(a, b)| start < b && a < end));
                    format!(
                        "tok c{}{}{}{}{}",
                        i % 6,
                        if t.special { " special" } else { "" },
                        if t.invalid { " invalid" } else { "" },
                        heat_class,
                        if lit { " lit" } else { "" },
                    )
                };
                let invalid = t.invalid;
                let title = move || match score() {
                    Some((bits, p, rank)) => fill(
                        super::i18n::t(l, "ID {} · p = {} · rank {} · {} bits"),
                        &[&t.id, &num(l, p, 4), &int(l, (rank + 1) as f64), &num(l, bits, 2)],
                    ),
                    None if invalid => fill(super::i18n::t(l, "ID {} is not in this vocabulary"), &[&t.id]),
                    None => format!("ID {}", t.id),
                };
                let bits = move || score().map(|(bits, _, _)| format!("{bits:.2}"));
                // A click (or Enter) shows how the token was built.
                let (column, id) = (tokenizer.clone(), t.id);
                let explain = move || {
                    if !invalid {
                        actions.explain(column.clone(), id)
                    }
                };
                let explain_key = explain.clone();
                view! {
                    <span
                        class=class
                        title=title
                        tabindex=if i == 0 { "0" } else { "-1" }
                        data-id=t.id
                        data-bits=bits
                        on:mouseenter=move |_| state.hovered.set(Some((start, end)))
                        on:mouseleave=move |_| state.hovered.set(None)
                        on:focus=move |_| state.hovered.set(Some((start, end)))
                        on:blur=move |_| state.hovered.set(None)
                        on:click=move |_| explain()
                        on:keydown=move |ev: web_sys::KeyboardEvent| {
                            if ev.key() == "Enter" {
                                ev.prevent_default();
                                explain_key();
                            }
                        }
                    >
                        <span class="text">
                            {pieces_view(&t.pieces, l)}
                            {t.invalid.then(|| view! { <span class="bad">"✗"</span> })}
                        </span>
                        <span class="id">{t.id}</span>
                    </span>
                }
            }).collect_view()}
        </div>
        {truncated.map(|t| view! { <p class="muted truncated">{t}</p> })}
    }
}

/// Arrow keys, Home and End move the focus between a strip's tokens.
fn roving_keys(ev: web_sys::KeyboardEvent) {
    use wasm_bindgen::JsCast;
    let Some(current) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    if !current.class_list().contains("tok") {
        return;
    }
    let sibling = |e: &web_sys::Element, forward: bool| {
        if forward {
            e.next_element_sibling()
        } else {
            e.previous_element_sibling()
        }
    };
    let target = match ev.key().as_str() {
        "ArrowRight" | "ArrowDown" => sibling(&current, true),
        "ArrowLeft" | "ArrowUp" => sibling(&current, false),
        "Home" => current
            .parent_element()
            .and_then(|p| p.first_element_child()),
        "End" => current
            .parent_element()
            .and_then(|p| p.last_element_child()),
        _ => return,
    };
    ev.prevent_default();
    if let Some(el) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.focus();
    }
}

/// The token that has the focus becomes the strip's one tab stop.
fn roving_focus(ev: web_sys::FocusEvent) {
    use wasm_bindgen::JsCast;
    let Some(focused) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    if !focused.class_list().contains("tok") {
        return;
    }
    if let Some(strip) = focused.parent_element() {
        if let Ok(stops) = strip.query_selector_all(".tok[tabindex='0']") {
            for i in 0..stops.length() {
                if let Some(e) = stops
                    .get(i)
                    .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
                {
                    let _ = e.set_attribute("tabindex", "-1");
                }
            }
        }
    }
    focused.set_tab_index(0);
}

/// Moves the keyboard focus to the element with this id (a heading with `tabindex="-1"`).
fn focus_by_id(id: &str) {
    super::controls::focus(|d| d.get_element_by_id(id));
}
