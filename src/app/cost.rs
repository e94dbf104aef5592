//! The cost panel: what this text costs through APIs, each model counted with its own
//! tokenizer, a request too large for a model flagged, the GPU behind the price ([`physics`])
//! and the language token tax. Every number comes from the tokenizer worker (`Cost`); this file
//! only draws.
//!
//! [`physics`]: super::physics

use leptos::prelude::*;
use tokenmeter_core::cost::{LANGUAGE_SAMPLES, PRICES};
use tokenmeter_core::service::cost::{CostResponse, CostRow};
use tokenmeter_core::service::limits::{CACHED_SHARE, OUTPUT_TOKENS, REQUESTS_PER_DAY};

use super::bridge::Actions;
use super::controls::{bar, follow, number_field, slider, Number};
use super::format::{int, num, pct, usd};
use super::i18n::{fill, t, t_str, tm, tx, Lang};
use super::sortable::{self, Sort};
use super::AppState;

#[component]
pub fn CostPanel(state: AppState, actions: Actions) -> impl IntoView {
    let _ = actions;
    let s = state.cost_settings;
    // The last priced answer. The tables and the assumptions' fields below are drawn once and
    // only their numbers follow the answers: a field being typed in keeps its focus and text, a
    // table its scroll and "show all columns", while vocabularies arrive and prices are redone.
    let report = Memo::new(move |_| state.costs.with(|c| c.clone().and_then(Result::ok)));
    let error = Memo::new(move |_| {
        state
            .costs
            .with(|c| c.as_ref().and_then(|r| r.as_ref().err().cloned()))
    });
    let priced = Memo::new(move |_| report.with(Option::is_some));
    let sort = RwSignal::new(Sort::default());
    let language_sort = RwSignal::new(Sort::default());
    let all_columns = RwSignal::new(false);
    // The output tokens' field follows the settings (a link, Back); empty reads as "same as
    // input".
    let out_tokens = NodeRef::<leptos::html::Input>::new();
    follow(
        out_tokens,
        move || s.with(|s| s.output_tokens),
        |raw| Some(raw.trim().parse::<f64>().ok().map(|t| t.round() as u64)),
        |n| n.map(|n| n.to_string()).unwrap_or_default(),
    );
    view! {
        <section class="cost" aria-labelledby="cost-title">
            <details
                prop:open=move || state.cost_open.get()
                on:toggle=move |ev| {
                    let d: web_sys::HtmlDetailsElement = event_target(&ev);
                    state.cost_open.set(d.open());
                }
            >
                <summary><h2 id="cost-title">{tx(state, "What this text costs ")} <small>{tx(state, "API prices, and the GPU, energy and memory behind them")}</small></h2></summary>
                <p class="muted">
                    {move || fill(t(state.lang.get(), "Prices from LiteLLM {} ({}), via PyPI. "), &[&PRICES.version, &PRICES.date])}
                    {tx(state, "Each model's tokens are counted with its own tokenizer; ≈ marks an estimate with the nearest public one.")}
                </p>
                <div class="controls cost-controls">
                    <label class="control" for="out-tokens">
                        <span>{tx(state, "Output tokens (empty: same as input)")}</span>
                        <input id="out-tokens" type="number" min="0" data-testid="output-tokens" inputmode="numeric"
                            node_ref=out_tokens
                            value=untrack(move || s.with(|s| s.output_tokens.map(|n| n.to_string()).unwrap_or_default()))
                            on:input=move |ev| {
                                // A number on its way ("1e", "-") reads as empty: not "no
                                // output tokens", and not to be wiped.
                                let input: web_sys::HtmlInputElement = event_target(&ev);
                                if input.validity().bad_input() {
                                    return;
                                }
                                let v = input.value();
                                let n = v.trim().parse::<f64>().ok().filter(|n| OUTPUT_TOKENS.contains(*n));
                                if v.trim().is_empty() || n.is_some() {
                                    s.update(|s| s.output_tokens = n.map(|n| n.round() as u64));
                                }
                            }
                            on:change=move |ev| {
                                let input: web_sys::HtmlInputElement = event_target(&ev);
                                let n = input.value().trim().parse::<f64>().ok()
                                    .map(|n| OUTPUT_TOKENS.clamp(n.round(), 0.0) as u64);
                                s.update(|s| s.output_tokens = n);
                                input.set_value(&n.map(|n| n.to_string()).unwrap_or_default());
                            } />
                    </label>
                    {number_field(tx(state, "Requests per day"), Number {
                        id: "per-day", min: REQUESTS_PER_DAY.min, max: REQUESTS_PER_DAY.max, step: 1.0, integer: true,
                        get: move || s.with(|s| s.requests_per_day as f64),
                        set: move |v| s.update(|s| s.requests_per_day = v as u64),
                    }, "requests-per-day")}
                    {slider(tx(state, "Cached share of the input "), "cached", (CACHED_SHARE.min, CACHED_SHARE.max, 0.05),
                        move || format!("{:.0}%", 100.0 * s.with(|s| s.cached_share)),
                        move || s.with(|s| s.cached_share),
                        move |v| s.update(|s| s.cached_share = v))}
                    <label class="control toggle" for="batch">
                        <input id="batch" type="checkbox"
                            prop:checked=move || s.with(|s| s.batch)
                            on:change=move |ev| { let on = event_target_checked(&ev); s.update(|s| s.batch = on) } />
                        {tx(state, " Batch prices")}
                    </label>
                    <label class="control" for="model-search">
                        <span>{tx(state, "Search all models")}</span>
                        <input id="model-search" type="search" data-testid="model-search" placeholder=tx(state, "e.g. llama 70b")
                            prop:value=move || s.with(|s| s.search.clone())
                            on:input=move |ev| { let q = event_target_value(&ev); s.update(|s| s.search = q) } />
                    </label>
                </div>
                {move || {
                    let l = state.lang.get();
                    priced.get().then(|| view! {
                        <CostTable l report sort all_columns />
                        <super::physics::Physics state report />
                        <Languages l report sort=language_sort />
                    })
                }}
                {move || error.get().map(|e| view! { <p class="error" role="alert">{tm(state.lang.get(), &e)}</p> })}
                {move || state.costs.with(Option::is_none).then(|| view! { <p class="muted">{tx(state, "Pricing…")}</p> })}
            </details>
        </section>
    }
}

/// A row's number in each sortable column: tokens, context used, per request, per 1,000, per
/// month.
fn column(r: &CostRow, c: usize) -> Option<f64> {
    match c {
        1 => r.tokens.map(|n| n as f64),
        2 => r.context_used,
        3 => r.total_usd,
        4 => r.per_1000_requests_usd,
        5 => r.per_month_usd,
        _ => None,
    }
}

#[component]
fn CostTable(
    l: Lang,
    report: Memo<Option<CostResponse>>,
    sort: RwSignal<Sort>,
    all_columns: RwSignal<bool>,
) -> impl IntoView {
    let rows = move || {
        report.with(|r| {
            r.as_ref().map(|r| {
                let max = r
                    .models
                    .iter()
                    .filter_map(|r| r.total_usd)
                    .fold(0.0f64, f64::max)
                    .max(1e-12);
                let mut rows = r.models.clone();
                sortable::apply(&mut rows, sort.get(), column);
                rows.into_iter().map(move |r| row(l, r, max)).collect_view()
            })
        })
    };
    let shown = move || {
        report.with(|r| {
            let (shown, matches) = r.as_ref().map_or((0, 0), |r| (r.models.len(), r.matches));
            fill(t(l, "{} of {} models shown. Input tokens × input price + output tokens × output price; cached tokens at the cache-read price; above a long-context threshold the whole request at that tier."), &[&int(l, shown as f64), &int(l, matches as f64)])
        })
    };
    view! {
        <p class="phone-hint muted">
            {t(l, "On a narrow screen the table shows the price per request; ")}
            <button class="link" data-testid="all-columns" aria-pressed=move || all_columns.get().to_string()
                on:click=move |_| all_columns.update(|a| *a = !*a)>
                {move || if all_columns.get() { t(l, "fewer columns") } else { t(l, "show all columns") }}
            </button>
        </p>
        <div class="scroll" class:all-columns=move || all_columns.get() tabindex="0" role="region" aria-label=t(l, "API prices for this text")>
        <table class="cost-table" data-testid="cost-table">
            <thead><tr>
                <th>{t(l, "model")}</th>
                {sortable::header(t(l, "input tokens").into(), 1, sort, "sort-tokens", "")}
                {sortable::header(t(l, "context used").into(), 2, sort, "sort-context", "secondary")}
                {sortable::header(t(l, "per request").into(), 3, sort, "sort-cost", "")}
                {sortable::header(t(l, "per 1,000").into(), 4, sort, "sort-per-1000", "secondary")}
                {sortable::header(t(l, "per month").into(), 5, sort, "sort-month", "secondary")}
                <th class="secondary"><span class="visually-hidden">{t(l, "price bar")}</span></th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        </div>
        <p class="muted">{shown}</p>
    }
}

fn row(l: Lang, r: CostRow, max: f64) -> impl IntoView {
    let tokens = match r.tokens {
        None => "…".to_string(),
        Some(n) if r.exact => int(l, n as f64),
        Some(n) => format!("≈{}", int(l, n as f64)),
    };
    let how = if r.exact {
        fill(t(l, "counted with {}"), &[&r.tokenizer])
    } else {
        fill(
            t(l, "estimated: {} ({})"),
            &[&t_str(l, &r.estimate_note), &r.tokenizer],
        )
    };
    let (per, per_k, month, ctx, width) = match r.total_usd {
        Some(total) => (
            usd(l, total),
            r.per_1000_requests_usd
                .map(|x| usd(l, x))
                .unwrap_or_default(),
            r.per_month_usd.map(|x| usd(l, x)).unwrap_or_default(),
            r.context_used
                .map(|u| pct(l, u))
                .unwrap_or_else(|| "–".into()),
            total / max,
        ),
        None => ("…".into(), "…".into(), "…".into(), "…".into(), 0.0),
    };
    let mut flags = Vec::new();
    if r.long_context_tier == Some(true) {
        flags.push(t(l, "long-context price").to_string());
    }
    if r.batch_prices == Some(true) {
        flags.push(t(l, "batch").to_string());
    }
    // A request this model cannot serve: said in the row, not left for the reader to find.
    let mut limits = Vec::new();
    if r.over_context == Some(true) {
        limits.push(fill(
            t(l, "does not fit its {}-token context window"),
            &[&r.context_window.map_or("?".into(), |n| int(l, n as f64))],
        ));
    }
    if r.over_max_output == Some(true) {
        limits.push(fill(
            t(l, "asks for more than its {} output tokens per reply"),
            &[&r.max_output_tokens.map_or("?".into(), |n| int(l, n as f64))],
        ));
    }
    let flags = flags.join(", ");
    let over = !limits.is_empty();
    view! {
        <tr data-model=r.model.clone() data-total=r.total_usd.map(|c| c.to_string()).unwrap_or_default()
            data-tokens=r.tokens.map(|n| n.to_string()).unwrap_or_default() class:over=over>
            <td><code>{r.model.clone()}</code> <span class="muted">{format!(" {}", r.provider)}</span>
                {(!flags.is_empty()).then(|| view! { <span class="flag">{format!(" · {flags}")}</span> })}
                {over.then(|| view! {
                    <span class="limit" data-testid="over-limit">
                        <span aria-hidden="true">" ⚠ "</span>{fill(t(l, "Impossible as one request: {}."), &[&limits.join("; ")])}
                    </span>
                })}
            </td>
            <td class="num" title=how class:estimated=!r.exact>{tokens}</td>
            <td class="num secondary" class:over=r.over_context == Some(true)>{ctx}</td>
            <td class="num">{per}</td>
            <td class="num secondary">{per_k}</td>
            <td class="num secondary">{month}</td>
            <td class="bar-cell secondary">{bar(width)}</td>
        </tr>
    }
}

#[component]
fn Languages(l: Lang, report: Memo<Option<CostResponse>>, sort: RwSignal<Sort>) -> impl IntoView {
    let any =
        Memo::new(move |_| report.with(|r| r.as_ref().is_some_and(|r| !r.languages.is_empty())));
    let head = LANGUAGE_SAMPLES
        .iter()
        .enumerate()
        .map(|(i, (_, name, _))| sortable::header(t_str(l, name), i + 1, sort, "sort-language", ""))
        .collect_view();
    let rows = move || {
        let mut rows = report.with(|r| r.as_ref().map(|r| r.languages.clone()).unwrap_or_default());
        sortable::apply(&mut rows, sort.get(), |r, c| {
            r.counts.get(c - 1).and_then(|(_, n)| n.map(|n| n as f64))
        });
        rows.into_iter()
            .map(|row| {
                let english = row.counts.first().and_then(|c| c.1).unwrap_or(0).max(1) as f64;
                let cells = row
                    .counts
                    .into_iter()
                    .map(|(_, n)| match n {
                        Some(n) => {
                            let ratio = n as f64 / english;
                            view! {
                                <td class="num" title=fill(t(l, "{}× English"), &[&num(l, ratio, 2)])>
                                    {format!("{} ({}×)", int(l, n as f64), num(l, ratio, 1))}
                                </td>
                            }
                            .into_any()
                        }
                        None => view! { <td class="num">"…"</td> }.into_any(),
                    })
                    .collect_view();
                view! { <tr><td><code>{row.tokenizer}</code></td>{cells}</tr> }
            })
            .collect_view()
    };
    let table = view! {
        <h3>{t(l, "The language token tax")}</h3>
        <p class="muted">{t(l, "The same two sentences, in tokens per tokenizer (× English). Spanish: from a public explainer post; the other languages: tokenmeter's translations.")}</p>
        <div class="scroll" tabindex="0" role="region" aria-label=t(l, "The language token tax")>
            <table class="languages" data-testid="languages">
                <thead><tr><th>{t(l, "tokenizer")}</th>{head}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    };
    view! { <div hidden=move || !any.get()>{table}</div> }
}
