//! How a token was built: a click on a token in any column shows its ID and bytes, the BPE
//! merges that join its characters into it (each with its rank), and the same text in the other
//! columns. The tokenizer worker answers (`Explain`, from `tokenmeter_core::service::explain`);
//! this file only draws.

use leptos::prelude::*;
use tokenmeter_core::service::explain::{Alphabet, Explained, ExplainedToken, Symbol};
use tokenmeter_core::tokenizer::registry;

use super::format::int;
use super::i18n::{fill, t, tm, tx, Lang};
use super::state::Explaining;
use super::text::{pieces_view, visible_pieces};
use super::AppState;

/// A column's name: the registry's, or the name of the user's file.
pub fn column_name(state: AppState, id: &str) -> String {
    registry::find(id).map_or_else(
        || {
            state.custom.with_untracked(|c| {
                c.iter()
                    .find(|(i, _)| i == id)
                    .map_or(id.to_string(), |(_, n)| n.clone())
            })
        },
        |s| s.name.to_string(),
    )
}

#[component]
pub fn ExplainView(state: AppState) -> impl IntoView {
    // The panel stays while it is open: a new answer (or another token clicked) redraws its
    // title and body, never the Close button under the keyboard.
    let open = Memo::new(move |_| state.explaining.with(Option::is_some));
    let heading = move || {
        let l = state.lang.get();
        state
            .explaining
            .with(|e| e.as_ref().map(|e| title(state, l, e)))
    };
    let body = move || {
        let e = state.explaining.get()?;
        let l = state.lang.get();
        Some(match e.answer {
            None => view! { <p class="muted">{t(l, "Replaying the merges…")}</p> }.into_any(),
            Some(Err(m)) => view! { <p class="notice">{tm(l, &m)}</p> }.into_any(),
            Some(Ok(x)) => explained(state, l, *x).into_any(),
        })
    };
    move || {
        open.get().then(|| {
            view! {
                <div class="explain" data-testid="explain">
                    <div class="panel-head">
                        <h3 id="explain-title" tabindex="-1">{heading}</h3>
                        <button class="link" data-testid="explain-close" on:click=move |_| state.explaining.set(None)>{tx(state, "Close")}</button>
                    </div>
                    {body}
                </div>
            }
        })
    }
}

/// The panel's title: which token of which column, or which text.
fn title(state: AppState, l: Lang, e: &Explaining) -> String {
    let name = column_name(state, &e.tokenizer);
    match e.id {
        Some(id) => fill(t(l, "How token {} of {} was built"), &[&id, &name]),
        None => fill(
            t(l, "How {} builds “{}”"),
            &[&name, &super::visible_whitespace(&e.text)],
        ),
    }
}

/// What a screen reader is told of the panel (from a region that is always in the page, see
/// [`TokenPanel`](super::tokens::TokenPanel)): the wait, the failure, or the title of the answer.
pub fn announcement(state: AppState, l: Lang) -> String {
    state.explaining.with(|e| match e {
        None => String::new(),
        Some(e) => match &e.answer {
            None => t(l, "Replaying the merges…").to_string(),
            Some(Err(m)) => tm(l, m),
            Some(Ok(_)) => title(state, l, e),
        },
    })
}

fn symbol(s: &Symbol, l: Lang) -> impl IntoView {
    view! { <span class="sym" title=format!("ID {}", s.id)>{pieces_view(&s.pieces, l)}</span> }
}

fn explained(state: AppState, l: Lang, x: Explained) -> impl IntoView {
    let rule = match x.alphabet {
        Alphabet::ByteLevel => t(l, "Byte-level BPE: the token starts as its bytes, one character each (a space is one of them), and the merge with the lowest rank among neighbouring pairs is applied first, again and again."),
        Alphabet::SentencePiece => t(l, "SentencePiece-style BPE: the token starts as its characters (▁ stands for a space; a character the vocabulary lacks becomes its bytes), and the merge with the lowest rank among neighbouring pairs is applied first, again and again."),
    };
    let tokens = x.tokens.into_iter().map(|tok| token(l, tok)).collect_view();
    let text = visible_pieces(&[tokenmeter_core::tokenizer::Piece::Text(x.text.clone())]);
    let elsewhere = x
        .elsewhere
        .into_iter()
        .map(|o| {
            let name = column_name(state, &o.tokenizer);
            let verdict = if o.single {
                fill(t(l, "one token, ID {}"), &[&o.ids[0]])
            } else {
                fill(t(l, "{} tokens: {}"), &[&o.ids.len(), &o.tokens.iter().map(|s| format!("“{}”", super::visible_whitespace(s))).collect::<Vec<_>>().join(" ")])
            };
            view! { <tr data-tokenizer=o.tokenizer.clone()><th scope="row">{name}</th><td>{verdict}</td><td class="num">{o.ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")}</td></tr> }
        })
        .collect_view();
    view! {
        <p class="muted">{rule}</p>
        {tokens}
        <table class="elsewhere" data-testid="elsewhere">
            <caption>{fill(t(l, "“{}” in the other columns"), &[&text])}</caption>
            <thead><tr><th scope="col">{t(l, "Vocabulary")}</th><th scope="col">{t(l, "Tokens")}</th><th scope="col">{t(l, "IDs")}</th></tr></thead>
            <tbody>{elsewhere}</tbody>
        </table>
    }
}

fn token(l: Lang, tok: ExplainedToken) -> impl IntoView {
    let head = fill(t(l, "ID {} · bytes {}"), &[&tok.id, &tok.bytes]);
    let note = tok
        .note
        .map(|m| view! { <p class="notice" data-testid="explain-note">{tm(l, &m)}</p> });
    let path = tok.path.map(|p| {
        let start = p.start.iter().map(|s| symbol(s, l)).collect_view();
        let steps = p
            .steps
            .iter()
            .map(|s| {
                view! {
                    <li data-rank=s.rank>
                        {fill(t(l, "rank {}: "), &[&int(l, s.rank as f64)])}
                        {symbol(&s.left, l)} " + " {symbol(&s.right, l)} " → " {symbol(&s.result, l)}
                    </li>
                }
            })
            .collect_view();
        let n = p.steps.len();
        view! {
            <p>{fill(t(l, "Starts as {} pieces: "), &[&p.start.len()])} {start}</p>
            <ol class="merges" data-testid="merges">{steps}</ol>
            <p class="muted">{fill(t(l, "{} merges in all."), &[&n])}</p>
        }
    });
    view! {
        <div class="explained" data-id=tok.id>
            <p><strong class="sym">{pieces_view(&tok.pieces, l)}</strong> " " {head}</p>
            {path}
            {note}
        </div>
    }
}
