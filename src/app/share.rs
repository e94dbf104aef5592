//! *Copy link* and *Embed*: the address of exactly this state to the clipboard (or shown, to copy
//! by hand), and the HTML a blog pastes to embed a widget of it.

use leptos::prelude::*;

use super::embed;
use super::i18n::{t, tx};
use super::link;
use super::state::AppState;

/// "Copy link": the address of exactly this state, to the clipboard (or shown, to copy by hand).
#[component]
pub fn ShareButton(state: AppState) -> impl IntoView {
    let shown = RwSignal::new(None::<String>);
    let message = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        shown.set(None);
        let Some(link) = link::write(state) else {
            message.set(Some(t(
                state.lang.get_untracked(),
                "This text is too long to share in a link; copy the text itself instead.",
            )));
            return;
        };
        let clipboard = web_sys::window().map(|w| w.navigator().clipboard());
        let Some(clipboard) = clipboard else {
            shown.set(Some(link));
            return;
        };
        let promise = clipboard.write_text(&link);
        wasm_bindgen_futures::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(promise).await {
                Ok(_) => message.set(Some(t(state.lang.get_untracked(), "Link copied."))),
                Err(_) => {
                    // No clipboard permission (e.g. inside a sandboxed frame): show it instead.
                    message.set(Some(t(state.lang.get_untracked(), "Copy this link:")));
                    shown.set(Some(link));
                }
            }
        });
    };
    let embedding = RwSignal::new(false);
    let panel = RwSignal::new(embed::Panel::Tokens);
    let snippet = move || embed_snippet(&link::link_to(state, Some(panel.get().name())));
    view! {
        <div class="share">
            <button data-testid="copy-link" on:click=copy>{tx(state, "Copy link")}</button>
            <button data-testid="embed" aria-expanded=move || embedding.get().to_string()
                on:click=move |_| embedding.update(|e| *e = !*e)>{tx(state, "Embed")}</button>
            <span role="status" data-testid="share-status">{move || message.get()}</span>
            {move || shown.get().map(|link| view! {
                <input class="link-out" readonly aria-label=tx(state, "Link to this page") prop:value=link
                    on:focus=move |ev| {
                        use wasm_bindgen::JsCast;
                        if let Some(i) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            i.select();
                        }
                    } />
            })}
        </div>
        {move || embedding.get().then(|| view! {
            <div class="embed-code">
                <label>
                    {tx(state, "Widget: ")}
                    <select data-testid="embed-panel" on:change=move |ev| {
                        panel.set(embed::Panel::parse(&event_target_value(&ev)));
                    }>
                        <option value="tokens">{tx(state, "tokens of this text")}</option>
                        <option value="next">{tx(state, "next-token scores (loads the model when the reader asks)")}</option>
                        <option value="cost">{tx(state, "what this text costs")}</option>
                    </select>
                </label>
                <textarea readonly rows="5" data-testid="embed-snippet" aria-label=tx(state, "HTML to paste into a blog post")
                    prop:value=snippet></textarea>
                <p class="muted">{tx(state, "Paste into your page's HTML. The script resizes the frame to its content.")}</p>
            </div>
        })}
    }
}

/// The HTML a blog pastes: the widget's frame and the listener that fits its height.
fn embed_snippet(src: &str) -> String {
    let src = src.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        "<iframe src=\"{src}\" title=\"tokenmeter\" width=\"100%\" height=\"420\" style=\"border:0\" loading=\"lazy\" \
sandbox=\"allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox\"></iframe>\n\
<script>addEventListener(\"message\", (e) => {{ if (e.data && e.data.type === \"tokenmeter:height\") \
for (const f of document.querySelectorAll(\"iframe\")) if (f.contentWindow === e.source) f.style.height = e.data.height + \"px\"; }});</script>"
    )
}
