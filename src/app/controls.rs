//! The panels' number fields, sliders and bars, and the files a user picks or drops. A number
//! field applies a value in range as it is typed; when the user leaves it (or presses Enter) a
//! value out of range is brought into range *and shown*, so the field never says one thing while
//! the page computes another.

use leptos::prelude::*;

/// What a number field edits.
pub struct Number<G, S> {
    pub id: &'static str,
    pub min: f64,
    pub max: f64,
    pub step: f64,
    /// Whole numbers only.
    pub integer: bool,
    pub get: G,
    pub set: S,
}

/// A labelled number field.
pub fn number_field<L, G, S>(label: L, n: Number<G, S>, testid: &'static str) -> impl IntoView
where
    L: IntoView + 'static,
    G: Fn() -> f64 + Send + Sync + Copy + 'static,
    S: Fn(f64) + Send + Sync + Copy + 'static,
{
    let Number {
        id,
        min,
        max,
        step,
        integer,
        get,
        set,
    } = n;
    let parse = move |raw: &str| {
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| if integer { v.round() } else { v })
    };
    let shown = move |v: f64| {
        if integer {
            format!("{}", v as i64)
        } else {
            v.to_string()
        }
    };
    let input = NodeRef::<leptos::html::Input>::new();
    follow(input, get, move |raw| parse(raw), move |v| shown(*v));
    view! {
        <label class="control" for=id>
            <span>{label}</span>
            <input
                node_ref=input
                id=id
                type="number"
                data-testid=testid
                min=min
                max=max
                step=step
                inputmode=if integer { "numeric" } else { "decimal" }
                value=untrack(move || shown(get()))
                on:input=move |ev| {
                    if let Some(v) = parse(&event_target_value(&ev)).filter(|v| (min..=max).contains(v)) {
                        set(v);
                    }
                }
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    let v = parse(&input.value()).map_or(get(), |v| v.clamp(min, max));
                    set(v);
                    input.set_value(&shown(v));
                }
            />
        </label>
    }
}

/// Keeps the number field `input` showing `get()` (spelled by `shown`), but never rewrites what
/// the user is typing: not the same number spelled their way (`read` gives it back: "0.10" on
/// the way to "0.105", "2.0" on the way to "2.05"), nor a number on its way ("2.", "1e", "-":
/// the field reads as empty then). Writing a number field, even the same text, moves its caret
/// to the start.
pub fn follow<T: PartialEq + 'static>(
    input: NodeRef<leptos::html::Input>,
    get: impl Fn() -> T + Send + Sync + 'static,
    read: impl Fn(&str) -> Option<T> + Send + Sync + 'static,
    shown: impl Fn(&T) -> String + Send + Sync + 'static,
) {
    Effect::new(move |_| {
        let v = get();
        let Some(el) = input.get() else {
            return;
        };
        let raw = el.value();
        let typing = is_focused(&el) && (el.validity().bad_input() || raw.trim().is_empty());
        if read(&raw).as_ref() != Some(&v) && !typing {
            el.set_value(&shown(&v));
        }
    });
}

/// Whether `el` has the keyboard focus.
fn is_focused(el: &web_sys::Element) -> bool {
    document()
        .and_then(|d| d.active_element())
        .is_some_and(|a| a == *el)
}

/// The page's document.
pub fn document() -> Option<web_sys::Document> {
    web_sys::window().and_then(|w| w.document())
}

/// Puts the keyboard focus on the element `find` returns from the document, if any (and if it
/// takes focus). Moving the focus this way leaves the address's fragment, the page's state, alone.
pub fn focus(find: impl FnOnce(&web_sys::Document) -> Option<web_sys::Element>) {
    use wasm_bindgen::JsCast;
    if let Some(el) = document()
        .and_then(|d| find(&d))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}

/// A labelled range input from `min` to `max`, with its value shown beside the label.
pub fn slider<L, V, G, S>(
    label: L,
    id: &'static str,
    (min, max, step): (f64, f64, f64),
    shown: V,
    get: G,
    set: S,
) -> impl IntoView
where
    L: IntoView + 'static,
    V: Fn() -> String + Send + Sync + Copy + 'static,
    G: Fn() -> f64 + Send + Sync + Copy + 'static,
    S: Fn(f64) + Send + Sync + Copy + 'static,
{
    view! {
        <label class="control slider" for=id>
            <span>{label} " " <output>{shown}</output></span>
            <input
                id=id
                type="range"
                min=min
                max=max
                step=step
                prop:value=move || get().to_string()
                on:input=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                        set(v.clamp(min, max));
                    }
                }
            />
        </label>
    }
}

/// A horizontal bar for a share from 0 to 1: an SVG rectangle (its width an attribute, not an
/// inline style, so the strict Content-Security-Policy holds).
pub fn bar(share: f64) -> impl IntoView {
    let w = if share.is_finite() {
        (100.0 * share).clamp(0.0, 100.0)
    } else {
        0.0
    };
    view! {
        <svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
            <rect width=format!("{w:.1}") height="10" />
        </svg>
    }
}

/// The file picked in a file input (its `change` event). The input is cleared, so picking the
/// same file again is a new change.
pub fn picked_file(ev: &leptos::ev::Event) -> Option<web_sys::File> {
    let input: web_sys::HtmlInputElement = event_target(ev);
    let file = input.files().and_then(|f| f.get(0));
    input.set_value("");
    file
}

/// The file dropped on an element (its `drop` event), with the browser's own handling — opening
/// the file in the tab — prevented.
pub fn dropped_file(ev: &web_sys::DragEvent) -> Option<web_sys::File> {
    ev.prevent_default();
    ev.data_transfer()
        .and_then(|d| d.files())
        .and_then(|f| f.get(0))
}
