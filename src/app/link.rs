//! The page's address: reading the link it was opened with, keeping the address in step with the
//! state (so it is always a link to what is shown), and the `?…` parameters. The link's format,
//! its limits and its sanitising are the core's (`tokenmeter_core::service::link`).

use leptos::prelude::*;
use tokenmeter_core::service::link::{self, Shared};
use tokenmeter_core::{msg, Msg};

use super::state::AppState;

/// The state the page opens with: a shared link's (sanitized, with notices), else `None`.
pub fn opened_with() -> (Option<Shared>, Vec<Msg>) {
    match link::decode(&location_hash()) {
        Ok(Some(s)) => {
            let (s, notes) = link::sanitize(s);
            let notes = notes
                .into_iter()
                .map(|n| msg!("This link was adjusted: {}.", n))
                .collect();
            (Some(s), notes)
        }
        Ok(None) => (None, Vec::new()),
        Err(e) => {
            // Take the damaged link out of the address: what is shown is the defaults.
            replace_address(&address_without_fragment().unwrap_or_default());
            (
                None,
                vec![msg!(
                    "This link could not be read: {}. Showing the defaults instead.",
                    e
                )],
            )
        }
    }
}

/// Writes the state into the address (replacing the entry, so Back still leaves the page).
/// Returns the full link, or `None` when the state is too large for one.
pub fn write(state: AppState) -> Option<String> {
    let base = address_without_fragment()?;
    let fragment = link::encode(&state.shared.get_untracked());
    let too_long = fragment.len() > link::MAX_LINK;
    state.link_too_long.set(too_long);
    replace_address(&if too_long {
        base
    } else {
        format!("{base}{fragment}")
    });
    let location = web_sys::window()?.location();
    (!too_long).then(|| location.href().ok()).flatten()
}

/// A new entry in the browser's history for what is shown now, so that Back returns to it
/// after a change the user did not type (opening an exercise).
pub fn push_history(state: AppState) {
    write(state);
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.push_state(&wasm_bindgen::JsValue::NULL, "");
    }
}

fn address_without_fragment() -> Option<String> {
    let location = web_sys::window()?.location();
    Some(format!(
        "{}{}",
        location.pathname().ok()?,
        location.search().unwrap_or_default()
    ))
}

fn replace_address(url: &str) {
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url));
    }
}

fn location_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// The address of the full page (or of a widget, with `embed`) showing the current state.
pub fn link_to(state: AppState, embed: Option<&str>) -> String {
    let Some(window) = web_sys::window() else {
        return String::new();
    };
    let location = window.location();
    let origin = location.origin().unwrap_or_default();
    let path = location.pathname().unwrap_or_default();
    // The page's folder: `/tools/tokenmeter/` for `/tools/tokenmeter/index.html` or `…/embed.html`.
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    // Embeds load `embed.html`: the same app, served with headers that allow framing
    // (the main page refuses to be framed; see `_headers` written by scripts/post_build.mjs).
    let page = match embed {
        Some(p) => format!("{dir}embed.html?embed={p}"),
        None if path.ends_with("/embed.html") => dir.to_string(),
        None => path.clone(),
    };
    format!("{origin}{page}{}", link::encode(&state.shared.get()))
}

/// A parameter of the page's address (`?name=value`; `Some("")` for a bare `?name`).
pub fn url_param(name: &str) -> Option<String> {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|q| web_sys::UrlSearchParams::new_with_str(&q).ok())
        .and_then(|p| p.get(name))
}
