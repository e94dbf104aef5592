//! The embeddable widget: `?embed=tokens`, `?embed=next`, `?embed=cost` or `?embed=lens` renders one panel with
//! the state from the link's fragment, compact, with an "Open in tokenmeter" link and no other
//! chrome — for an `<iframe>` in a blog post (the full page's *Embed* button writes the snippet).
//!
//! - The model (98 MB) is not downloaded until the reader presses *Load the model*.
//! - The widget tells its host page its height whenever it changes:
//!   `parent.postMessage({ type: "tokenmeter:height", height }, "*")` — only a number, never
//!   the text, so any host may listen.
//! - It works inside `sandbox="allow-scripts allow-same-origin allow-popups"` (its workers need
//!   its own origin; nothing else is asked of the host).

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::bridge::Actions;
use super::{cost, inside, link, next, tokens, AppState, TextInput};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Tokens,
    Next,
    Cost,
    Lens,
}

impl Panel {
    /// `next` and `cost` name those panels; anything else is the token view.
    pub fn parse(s: &str) -> Self {
        match s {
            "next" => Panel::Next,
            "cost" => Panel::Cost,
            "lens" => Panel::Lens,
            _ => Panel::Tokens,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Panel::Tokens => "tokens",
            Panel::Next => "next",
            Panel::Cost => "cost",
            Panel::Lens => "lens",
        }
    }
}

#[component]
pub fn Embedded(state: AppState, actions: Actions, panel: Panel) -> impl IntoView {
    if panel == Panel::Cost {
        state.cost_open.set(true);
    }
    if panel == Panel::Lens {
        state.inside_open.set(true);
    }
    report_height();
    // Follows the state, so the link opens what the reader sees now.
    let open = move || link::link_to(state, None);
    let body = match panel {
        Panel::Tokens => view! { <tokens::TokenPanel state actions /> }.into_any(),
        Panel::Next => view! { <next::NextPanel state actions /> }.into_any(),
        Panel::Cost => view! { <cost::CostPanel state actions /> }.into_any(),
        Panel::Lens => view! { <inside::InsidePanel state actions /> }.into_any(),
    };
    view! {
        <main class="embed" data-embed=panel.name()>
            <TextInput state />
            {body}
            <p class="embed-foot">
                <a href=open target="_blank" rel="noopener" data-testid="open-full">{super::i18n::tx(state, "Open in tokenmeter ↗")}</a>
            </p>
        </main>
    }
}

/// Posts the document's height to the host page now and whenever it changes.
fn report_height() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let post = move || {
        let (Some(w), Some(doc)) = (
            web_sys::window(),
            web_sys::window().and_then(|w| w.document()),
        ) else {
            return;
        };
        let Some(root) = doc.document_element() else {
            return;
        };
        let msg = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&msg, &"type".into(), &"tokenmeter:height".into());
        let _ = js_sys::Reflect::set(&msg, &"height".into(), &root.scroll_height().into());
        if let Ok(Some(parent)) = w.parent() {
            if parent != w {
                let _ = parent.post_message(&msg, "*");
            }
        }
    };
    let callback = Closure::<dyn Fn()>::new(post);
    let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref());
    if let (Ok(observer), Some(body)) = (observer, window.document().and_then(|d| d.body())) {
        observer.observe(&body);
    }
    // The page lives as long as the widget: keep the callback.
    callback.forget();
}
