//! *Copy link* and *Embed*: the address of exactly this state to the clipboard (or shown, to copy
//! by hand), and the HTML a blog pastes to embed a widget of it.

use leptos::prelude::*;

use super::embed;
use super::i18n::{t, tx};
use super::link;
use super::state::AppState;

/// Writes `text` to the clipboard; `done(true)` when it worked (a sandboxed frame may refuse).
fn copy_to_clipboard(text: &str, done: impl FnOnce(bool) + 'static) {
    let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) else {
        done(false);
        return;
    };
    let promise = clipboard.write_text(text);
    wasm_bindgen_futures::spawn_local(async move {
        done(wasm_bindgen_futures::JsFuture::from(promise).await.is_ok());
    });
}

/// "Copy link": the address of exactly this state, to the clipboard (or shown, to copy by hand).
#[component]
pub fn ShareButton(state: AppState) -> impl IntoView {
    let shown = RwSignal::new(None::<String>);
    // What happened, as English keys translated when drawn.
    let message = RwSignal::new(Vec::<&'static str>::new());
    let copy = move |_| {
        shown.set(None);
        // The user's own tokenizer files stay in this tab: say that the link lacks them.
        let own_files = state
            .columns
            .with_untracked(|c| c.iter().any(|c| c.starts_with("file:")));
        let note = own_files
            .then_some("Your own tokenizer files are not in the link: they stay in this tab.");
        let Some(link) = link::write(state) else {
            message.set(vec![
                "This text is too long to share in a link; copy the text itself instead.",
            ]);
            return;
        };
        let link2 = link.clone();
        copy_to_clipboard(&link, move |ok| {
            let first = if ok {
                "Link copied."
            } else {
                // No clipboard permission (e.g. inside a sandboxed frame): show it instead.
                shown.set(Some(link2));
                "Copy this link:"
            };
            message.set([Some(first), note].into_iter().flatten().collect());
        });
    };
    let embedding = RwSignal::new(false);
    let panel = RwSignal::new(embed::Panel::Tokens);
    let snippet = move || embed_snippet(&link::link_to(state, Some(panel.get().name())));
    let snippet_status = RwSignal::new(None::<&'static str>);
    view! {
        <div class="share">
            <button data-testid="copy-link" on:click=copy>{tx(state, "Copy link")}</button>
            <button data-testid="embed" aria-expanded=move || embedding.get().to_string()
                on:click=move |_| embedding.update(|e| *e = !*e)>{tx(state, "Embed")}</button>
            <span role="status" data-testid="share-status">{move || {
                let l = state.lang.get();
                message.get().into_iter().map(|m| t(l, m)).collect::<Vec<_>>().join(" ")
            }}</span>
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
                    <select data-testid="embed-panel" prop:value=move || panel.get().name() on:change=move |ev| {
                        panel.set(embed::Panel::parse(&event_target_value(&ev)));
                    }>
                        <option value="tokens">{tx(state, "tokens of this text")}</option>
                        <option value="next">{tx(state, "next-token scores (loads the model when the reader asks)")}</option>
                        <option value="cost">{tx(state, "what this text costs")}</option>
                        <option value="lens">{tx(state, "inside the model: logit lens and attention (loads the model when the reader asks)")}</option>
                    </select>
                </label>
                <textarea readonly rows="5" data-testid="embed-snippet" aria-label=tx(state, "HTML to paste into a blog post")
                    prop:value=snippet></textarea>
                <p class="muted">
                    <button data-testid="copy-snippet" on:click=move |_| {
                        copy_to_clipboard(&snippet(), move |ok| snippet_status.set(Some(if ok {
                            "HTML copied."
                        } else {
                            "Select the HTML above and copy it."
                        })));
                    }>{tx(state, "Copy the HTML")}</button>
                    " "
                    <span role="status">{move || snippet_status.get().map(|m| t(state.lang.get(), m))}</span>
                    " "
                    {tx(state, "Paste into your page's HTML. The script resizes the frame to its content.")}
                </p>
            </div>
        })}
    }
}

/// The HTML a blog pastes: the widget's frame and the listener that fits its height — only for
/// messages from the widget's own origin, and within sane bounds.
fn embed_snippet(src: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let src = src.replace('&', "&amp;").replace('"', "&quot;");
    let origin = origin.replace(['\\', '"'], "");
    format!(
        "<iframe src=\"{src}\" title=\"tokenmeter\" width=\"100%\" height=\"420\" style=\"border:0\" loading=\"lazy\" \
sandbox=\"allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox\"></iframe>\n\
<script>addEventListener(\"message\", (e) => {{ if (e.origin !== \"{origin}\" || !e.data || e.data.type !== \"tokenmeter:height\") return; \
const h = Math.min(Math.max(Number(e.data.height) || 0, 120), 4000); \
for (const f of document.querySelectorAll(\"iframe\")) if (f.contentWindow === e.source) f.style.height = h + \"px\"; }});</script>"
    )
}
