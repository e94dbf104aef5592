//! The cost panel: what this text costs through APIs, each model counted with its own
//! tokenizer, and the GPU time, energy and memory behind the price, with the formulas shown.
//! Every number comes from the tokenizer worker (`ToWorker::Cost`); this file only draws.

use leptos::prelude::*;
use tokenmeter_core::cost::{LANGUAGE_SAMPLES, PRICES};
use tokenmeter_core::physics::{self, Assumptions, DEFAULT_SOURCES, GPUS};

use tokenmeter_core::service::cost::{CostResponse, CostRow};
use tokenmeter_core::service::gpu_cost::GpuCostResponse;

use super::bridge::Actions;
use super::i18n::{fill, t, tm, tx, Lang};
use super::AppState;

/// Dollars, readable at any size.
pub fn usd(x: f64) -> String {
    if x == 0.0 {
        "$0".into()
    } else if x < 0.01 {
        format!("${x:.6}")
    } else if x < 100.0 {
        format!("${x:.2}")
    } else {
        format!("${x:.0}")
    }
}

/// 1.23e11 → "1.23×10¹¹".
fn sci(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let exp = x.abs().log10().floor() as i32;
    let mant = x / 10f64.powi(exp);
    let sup: String = exp
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹']
                [d.to_digit(10).unwrap_or(0) as usize],
        })
        .collect();
    format!("{mant:.2}×10{sup}")
}

fn seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn bytes(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.1} MB", b / 1e6)
    }
}

#[component]
pub fn CostPanel(state: AppState, actions: Actions) -> impl IntoView {
    let _ = actions;
    let s = state.cost_settings;
    let report = move || state.costs.get();
    // How the table is ordered: 0 as listed, 1 cheapest first, 2 dearest first.
    let sort = RwSignal::new(0u8);
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
                        <input id="out-tokens" type="number" min="0" data-testid="output-tokens"
                            prop:value=move || s.with(|s| s.output_tokens.map(|n| n.to_string()).unwrap_or_default())
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                let n = v.trim().parse::<u64>().ok();
                                s.update(|s| s.output_tokens = n);
                            } />
                    </label>
                    <label class="control" for="per-day">
                        <span>{tx(state, "Requests per day")}</span>
                        <input id="per-day" type="number" min="0"
                            prop:value=move || s.with(|s| s.requests_per_day.to_string())
                            on:change=move |ev| {
                                if let Ok(n) = event_target_value(&ev).trim().parse::<u64>() {
                                    s.update(|s| s.requests_per_day = n);
                                }
                            } />
                    </label>
                    <label class="control slider" for="cached">
                        <span>{tx(state, "Cached share of the input ")} <output>{move || format!("{:.0}%", 100.0 * s.with(|s| s.cached_share))}</output></span>
                        <input id="cached" type="range" min="0" max="1" step="0.05"
                            prop:value=move || s.with(|s| s.cached_share).to_string()
                            on:input=move |ev| {
                                if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                                    s.update(|s| s.cached_share = v.clamp(0.0, 1.0));
                                }
                            } />
                    </label>
                    <label class="control toggle" for="batch">
                        <input id="batch" type="checkbox"
                            prop:checked=move || s.with(|s| s.batch)
                            on:change=move |ev| { let on = event_target_checked(&ev); s.update(|s| s.batch = on) } />
                        {tx(state, " Batch prices")}
                    </label>
                    <label class="control" for="model-search">
                        <span>{tx(state, "Search all models")}</span>
                        <input id="model-search" type="search" data-testid="model-search" placeholder="e.g. llama 70b"
                            prop:value=move || s.with(|s| s.search.clone())
                            on:input=move |ev| { let q = event_target_value(&ev); s.update(|s| s.search = q) } />
                    </label>
                </div>
                {move || {
                    sort.track();
                    let l = state.lang.get();
                    report().map(|r| match r {
                        Ok(r) => view! { <CostTable l report=r.clone() sort /> <Physics state report=r.clone() /> <Languages l report=r /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{tm(l, &e)}</p> }.into_any(),
                    })
                }}
                {move || report().is_none().then(|| view! { <p class="muted">{tx(state, "Pricing…")}</p> })}
            </details>
        </section>
    }
}

#[component]
fn CostTable(l: Lang, mut report: CostResponse, sort: RwSignal<u8>) -> impl IntoView {
    let max = report
        .models
        .iter()
        .filter_map(|r| r.total_usd)
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let shown = report.models.len();
    let order = sort.get_untracked();
    if order != 0 {
        let key = |r: &CostRow| r.total_usd.unwrap_or(f64::INFINITY);
        report.models.sort_by(|a, b| key(a).total_cmp(&key(b)));
        if order == 2 {
            report.models.reverse();
        }
    }
    let header = move || match sort.get() {
        1 => t(l, "per request ▲"),
        2 => t(l, "per request ▼"),
        _ => t(l, "per request"),
    };
    let rows = report
        .models
        .into_iter()
        .map(|r| {
            let tokens = match r.tokens {
                None => "…".to_string(),
                Some(n) if r.exact => n.to_string(),
                Some(n) => format!("≈{n}"),
            };
            let how = if r.exact {
                fill(t(l, "counted with {}"), &[&r.tokenizer])
            } else {
                fill(t(l, "estimated: {} ({})"), &[&r.estimate_note, &r.tokenizer])
            };
            let (per, per_k, month, ctx, width) = match r.total_usd {
                Some(total) => (
                    usd(total),
                    r.per_1000_requests_usd.map(usd).unwrap_or_default(),
                    r.per_month_usd.map(usd).unwrap_or_default(),
                    r.context_used
                        .map(|u| format!("{:.2}%", 100.0 * u))
                        .unwrap_or_else(|| "–".into()),
                    format!("width: {:.1}%", 100.0 * total / max),
                ),
                None => ("…".into(), "…".into(), "…".into(), "…".into(), "width: 0".into()),
            };
            let mut flags = Vec::new();
            if r.long_context_tier == Some(true) {
                flags.push(t(l, "long-context price"));
            }
            if r.batch_prices == Some(true) {
                flags.push(t(l, "batch"));
            }
            let flags = flags.join(", ");
            view! {
                <tr data-model=r.model.clone() data-total=r.total_usd.map(|c| c.to_string()).unwrap_or_default()
                    data-tokens=r.tokens.map(|n| n.to_string()).unwrap_or_default()>
                    <td><code>{r.model.clone()}</code> <span class="muted">{format!(" {}", r.provider)}</span>
                        {(!flags.is_empty()).then(|| view! { <span class="flag">{format!(" · {flags}")}</span> })}</td>
                    <td class="num" title=how class:estimated=!r.exact>{tokens}</td>
                    <td class="num">{ctx}</td>
                    <td class="num">{per}</td>
                    <td class="num">{per_k}</td>
                    <td class="num">{month}</td>
                    <td class="bar-cell"><span class="bar" style=width></span></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="cost-table" data-testid="cost-table">
            <thead><tr>
                <th>{t(l, "model")}</th><th>{t(l, "input tokens")}</th><th>{t(l, "context used")}</th>
                <th aria-sort=move || match sort.get() { 1 => "ascending", 2 => "descending", _ => "none" }>
                    <button class="link" data-testid="sort-cost" title=t(l, "sort by price")
                        on:click=move |_| sort.update(|o| *o = (*o + 1) % 3)>{header}</button>
                </th>
                <th>{t(l, "per 1,000")}</th><th>{t(l, "per month")}</th><th>""</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <p class="muted">{fill(t(l, "{} of {} models shown. Input tokens × input price + output tokens × output price; cached tokens at the cache-read price; above a long-context threshold the whole request at that tier."), &[&shown, &report.matches])}</p>
    }
    .into_any()
}

#[component]
fn Physics(state: AppState, report: CostResponse) -> impl IntoView {
    let l = state.lang.get_untracked();
    let s = state.cost_settings;
    let set = move |f: fn(&mut Assumptions, f64)| {
        move |ev: leptos::ev::Event| {
            if let Ok(v) = event_target_value(&ev).trim().parse::<f64>() {
                if v.is_finite() && v >= 0.0 {
                    s.update(|s| f(&mut s.assumptions, v));
                }
            }
        }
    };
    let a = s.with_untracked(|s| s.assumptions.clone());
    let explanation = report.physics.map(|p| view! { <PhysicsLines l p /> });
    let device = report.device_flops.map(|f| {
        let peak = physics::gpu(&a.gpu).map_or(0.0, |g| g.bf16_tflops * 1e12);
        view! {
            <p data-testid="device">{fill(
                t(l, "Your device: SmolLM2 decoded here reached {} GFLOP/s (2 × 135 M parameters × tokens/s). The {} peaks at {} GFLOP/s, {}× more: one clever teacher against thousands of pupils."),
                &[
                    &format!("{:.1}", f / 1e9),
                    &physics::gpu(&a.gpu).map_or("GPU", |g| g.name.as_ref()),
                    &format!("{:.0}", peak / 1e9),
                    &format!("{:.0}", peak / f.max(1.0)),
                ],
            )}</p>
        }
    });
    view! {
        <h3>{t(l, "Behind the price")}</h3>
        <div class="controls">
            <label class="control" for="phys-model"><span>{t(l, "Open model")}</span>
                <select id="phys-model" on:change=move |ev| { let v = event_target_value(&ev); s.update(|s| s.physics_model = v) }>
                    {physics::known_models().into_iter().map(|m| {
                        let selected = m.name == s.with_untracked(|s| s.physics_model.clone());
                        view! { <option value=m.name.clone() selected=selected>{m.name.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="control" for="phys-gpu"><span>"GPU"</span>
                <select id="phys-gpu" data-testid="gpu" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    // A new GPU brings its typical rent (still editable): no rent set.
                    s.update(|s| {
                        s.assumptions.gpu = v;
                        s.assumptions.usd_per_gpu_hour = None;
                    })
                }>
                    {GPUS.iter().map(|g| view! { <option value=g.id.to_string() selected=g.id == a.gpu>{g.name.to_string()}</option> }).collect_view()}
                </select>
            </label>
            <label class="control" for="rent"><span>{t(l, "$ per GPU-hour")}</span>
                <input id="rent" type="number" min="0" step="0.1" prop:value=a.rent().unwrap_or(0.0).to_string()
                    on:change=set(|a, v| a.usd_per_gpu_hour = Some(v)) /></label>
            <label class="control" for="mfu"><span>{t(l, "Utilisation (MFU, 0–1)")}</span>
                <input id="mfu" type="number" min="0.01" max="1" step="0.05" prop:value=a.mfu.to_string()
                    on:change=set(|a, v| a.mfu = v.clamp(0.01, 1.0)) /></label>
            <label class="control" for="batch-size"><span>{t(l, "Batch (sequences at once)")}</span>
                <input id="batch-size" type="number" min="1" step="1" prop:value=a.batch.to_string()
                    data-testid="batch-size"
                    on:change=set(|a, v| a.batch = (v as u32).max(1)) /></label>
            <label class="control" for="pue"><span>"PUE"</span>
                <input id="pue" type="number" min="1" step="0.01" prop:value=a.pue.to_string()
                    on:change=set(|a, v| a.pue = v.max(1.0)) /></label>
            <label class="control" for="kwh"><span>{t(l, "$ per kWh")}</span>
                <input id="kwh" type="number" min="0" step="0.01" prop:value=a.usd_per_kwh.to_string()
                    on:change=set(|a, v| a.usd_per_kwh = v) /></label>
            <label class="control" for="precision"><span>{t(l, "Weights")}</span>
                <select id="precision" on:change=set(|a, v| a.bytes_per_param = v)>
                    <option value="2" selected=a.bytes_per_param == 2.0>{t(l, "BF16 (2 bytes)")}</option>
                    <option value="1" selected=a.bytes_per_param == 1.0>{t(l, "8-bit (1 byte)")}</option>
                    <option value="0.5" selected=a.bytes_per_param == 0.5>{t(l, "4-bit (½ byte)")}</option>
                </select>
            </label>
        </div>
        {explanation}
        {device}
        <p class="muted sources">{format!("Sources: {DEFAULT_SOURCES}. ")}
            {physics::gpu(&a.gpu).map(|g| format!("{}: {}. Rent: {}.", g.name, g.source, g.rent_range))}</p>
    }
}

#[component]
fn PhysicsLines(l: Lang, p: GpuCostResponse) -> impl IntoView {
    let e = &p.estimate;
    let rate = p.assumptions.usd_per_gpu_hour.unwrap_or(0.0);
    let m = &p.model;
    let active = if m.active_params < m.params {
        fill(t(l, " (of {} in all)"), &[&sci(m.params)])
    } else {
        String::new()
    };
    let bound = if e.decode_memory_bound {
        t(
            l,
            "memory-bound: each step waits for all the weights to stream from memory",
        )
    } else {
        t(
            l,
            "compute-bound: the batch is large enough that arithmetic is the limit",
        )
    };
    view! {
        <ul class="physics" data-testid="physics">
            <li>{fill(t(l, "{} reads your text as {} tokens and writes {} (counted with {})."), &[&m.name, &p.input_tokens, &p.output_tokens, &m.tokenizer])}</li>
            <li>{fill(t(l, "Compute ≈ 2 × parameters × tokens = 2 × {}{} × {} = {} FLOPs (attention adds a little more)."),
                &[&sci(m.active_params), &active, &(p.input_tokens + p.output_tokens), &sci(e.flops)])}</li>
            <li>{fill(t(l, "Reading the text (prefill): {} FLOPs → {} of GPU time."), &[&sci(e.prefill_flops), &seconds(e.prefill_seconds)])}</li>
            <li>{fill(t(l, "Writing (decode) is {}; {} tokens/s per sequence, {} of GPU time for this request's share."),
                &[&bound, &format!("{:.0}", e.tokens_per_second), &seconds(e.decode_seconds)])}</li>
            <li data-testid="gpu-usd">{fill(t(l, "GPU rent: {} of GPU time × {}/hour = {} per request."),
                &[&seconds(e.seconds), &usd(rate), &usd(e.usd)])}</li>
            <li>{fill(t(l, "Energy: board power × time × PUE = {} Wh → {} of electricity."), &[&format!("{:.4}", e.energy_wh), &usd(e.energy_usd)])}</li>
            <li>{fill(t(l, "Memory: weights {} + KV cache {} (2 × layers × KV width × bytes × tokens) = {} for the batch {}."),
                &[&bytes(e.weights_bytes), &e.kv_cache_bytes.map_or("?".to_string(), bytes), &bytes(e.memory_needed_bytes),
                &if e.fits_in_memory { t(l, "— fits on one GPU") } else { t(l, "— does NOT fit on one GPU: it needs several") }])}</li>
        </ul>
    }
}

#[component]
fn Languages(l: Lang, report: CostResponse) -> impl IntoView {
    if report.languages.is_empty() {
        return ().into_any();
    }
    let head = LANGUAGE_SAMPLES
        .iter()
        .map(|(_, name, _)| view! { <th>{*name}</th> })
        .collect_view();
    let rows = report
        .languages
        .into_iter()
        .map(|row| {
            let english = row.counts.first().and_then(|c| c.1).unwrap_or(0).max(1) as f64;
            let cells = row
                .counts
                .into_iter()
                .map(|(_, n)| match n {
                    Some(n) => {
                        let ratio = n as f64 / english;
                        view! { <td class="num" title=fill(t(l, "{}× English"), &[&format!("{ratio:.2}")])>{format!("{n} ({ratio:.1}×)")}</td> }.into_any()
                    }
                    None => view! { <td class="num">"…"</td> }.into_any(),
                })
                .collect_view();
            view! { <tr><td><code>{row.tokenizer}</code></td>{cells}</tr> }
        })
        .collect_view();
    view! {
        <h3>{t(l, "The language token tax")}</h3>
        <p class="muted">{t(l, "The same two sentences, in tokens per tokenizer (× English). Spanish: from a public explainer post; the other languages: tokenmeter's translations.")}</p>
        <div class="scroll" tabindex="0" role="region" aria-label=t(l, "The language token tax")>
            <table class="languages" data-testid="languages">
                <thead><tr><th>{t(l, "tokenizer")}</th>{head}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
