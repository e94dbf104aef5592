//! The text as tokens: coloured spans with IDs, raw bytes of split characters, and optionally
//! the model's surprisal for each token as a heatmap.

use leptos::prelude::*;
use tokenmeter_core::tokenizer::Piece;

use super::{visible_whitespace, AppState, NextState};
use crate::protocol::MAX_TOKENS_SHOWN;

/// Surprisal bands in bits (−log₂ p) for the heatmap: 0–1, 1–2, 2–4, 4–7, 7–11, 11+.
const BANDS: [f64; 5] = [1.0, 2.0, 4.0, 7.0, 11.0];

fn band(bits: f64) -> usize {
    BANDS.iter().take_while(|&&b| bits >= b).count()
}

#[component]
pub fn TokenPanel(state: AppState) -> impl IntoView {
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
    // Per shown token: its surprisal score when the model's answer is for this very text.
    let heat = Memo::new(move |_| {
        if !state.settings.with(|s| s.surprisal && !s.chat) {
            return None;
        }
        let ids: Vec<u32> = state
            .tokens
            .with(|t| t.as_ref().map(|t| t.tokens.iter().map(|t| t.id).collect()))?;
        state.next.with(|n| match n {
            NextState::Done(s) => {
                let sur = s.surprisal.as_ref()?;
                // The model also read any generated tokens: compare the text's part only.
                (sur.ids.get(..ids.len()) == Some(&ids[..])).then(|| {
                    std::iter::once(None)
                        .chain(
                            sur.scores
                                .iter()
                                .take(ids.len().saturating_sub(1))
                                .map(Some),
                        )
                        .map(|s| s.map(|s| (s.surprisal_bits(), s.prob, s.rank)))
                        .collect::<Vec<_>>()
                })
            }
            _ => None,
        })
    });
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
                <div class="toggles">
                    <label class="toggle">
                        <input
                            type="checkbox"
                            prop:checked=move || state.show_ids.get()
                            on:change=move |ev| state.show_ids.set(event_target_checked(&ev))
                        />
                        " Show IDs"
                    </label>
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
                        " Colour by surprisal"
                    </label>
                </div>
            </div>
            <p class="summary" data-testid="token-count" aria-live="polite">{summary}</p>
            {move || state.token_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || {
                state.settings.with(|s| s.surprisal && s.chat).then(|| view! {
                    <p class="notice">"Surprisal is shown for plain text, not in chat mode."</p>
                })
            }}
            {move || heat.with(|h| h.is_some()).then(|| view! {
                <p class="legend" aria-label="surprisal legend">
                    "How surprised the model was by each token (−log₂ p): "
                    {["< 1", "1–2", "2–4", "4–7", "7–11", "11+"].iter().enumerate().map(|(i, l)| view! {
                        <span class=format!("swatch h{i}")>{format!("{l} bits")}</span>
                    }).collect_view()}
                    " · the first token has no prediction."
                </p>
            })}
            <div
                class="token-strip"
                class:show-ids=move || state.show_ids.get()
                class:heatmap=move || heat.with(|h| h.is_some())
                data-testid="tokens"
            >
                <For
                    each=tokens
                    key=|(i, t)| (*i, t.id)
                    children=move |(i, t)| {
                        let class = move || {
                            let score = heat.with(|h| h.as_ref().and_then(|h| h.get(i).copied().flatten()));
                            let heat_class = score.map(|(bits, _, _)| format!(" h{}", band(bits))).unwrap_or_default();
                            format!(
                                "tok c{}{}{}",
                                i % 6,
                                if t.special { " special" } else { "" },
                                heat_class
                            )
                        };
                        let title = move || {
                            let score = heat.with(|h| h.as_ref().and_then(|h| h.get(i).copied().flatten()));
                            match score {
                                Some((bits, p, rank)) => format!(
                                    "ID {} · p = {:.4} · rank {} · {:.2} bits",
                                    t.id, p, rank + 1, bits
                                ),
                                None => format!("ID {}", t.id),
                            }
                        };
                        let bits = move || {
                            heat.with(|h| h.as_ref().and_then(|h| h.get(i).copied().flatten()))
                                .map(|(bits, _, _)| format!("{bits:.2}"))
                        };
                        view! {
                            <span class=class title=title data-id=t.id data-bits=bits>
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
pub fn pieces_view(pieces: &[Piece]) -> impl IntoView {
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
