//! "Behind the price": the open model and GPU chosen, every assumption editable and cited, and
//! the estimate line by line with its formula — compute, prefill, decode (memory- or
//! compute-bound), how many GPUs the model needs, rent, energy, memory per sequence and per
//! batch — plus how a decode step changes with the batch size (for a mixture of experts: how
//! many distinct experts it reads). The numbers are the core's (`gpu_cost`); this file draws.

use leptos::prelude::*;
use tokenmeter_core::physics::{self, Assumptions, DEFAULT_SOURCES, GPUS};
use tokenmeter_core::service::cost::{CostResponse, OWN_MODEL};
use tokenmeter_core::service::gpu_cost::GpuCostResponse;
use tokenmeter_core::service::limits::{BATCH, MFU, PUE, USD_PER_GPU_HOUR, USD_PER_KWH};

use super::controls::{number_field, Number};
use super::format::{bytes, int, num, plural, sci, seconds, sig, usd};
use super::i18n::{fill, t, t_str, Lang};
use super::AppState;

#[component]
pub fn Physics(state: AppState, report: Memo<Option<CostResponse>>) -> impl IntoView {
    let l = state.lang.get_untracked();
    let s = state.cost_settings;
    // For the selects' first choice only: afterwards they hold what the user picked.
    let a = s.with_untracked(|s| s.assumptions.clone());
    let field = move |label: &'static str,
                      id: &'static str,
                      limit: tokenmeter_core::service::limits::Limit,
                      step: f64,
                      integer: bool,
                      get: fn(&Assumptions) -> f64,
                      set: fn(&mut Assumptions, f64)| {
        number_field(
            t(l, label),
            Number {
                id,
                min: limit.min,
                max: limit.max,
                step,
                integer,
                get: move || s.with(|s| get(&s.assumptions)),
                set: move |v| s.update(|s| set(&mut s.assumptions, v)),
            },
            id,
        )
    };
    let explanation = move || {
        let mut p = report.with(|r| r.as_ref().and_then(|r| r.physics.clone()))?;
        // A user's model is counted with its file's column: named by the file, not its id.
        if let Some((_, name)) = state
            .custom
            .get_untracked()
            .into_iter()
            .find(|(id, _)| *id == p.model.tokenizer)
        {
            p.model.tokenizer = name;
        }
        Some(view! { <PhysicsLines l p /> })
    };
    let device = move || {
        let f = report.with(|r| r.as_ref().and_then(|r| r.device_flops))?;
        // The model whose decode speed gave `device_flops` (the request took both from the state).
        let super::ModelState::Ready(m) = state.model.get_untracked() else {
            return None;
        };
        let (name, params) = (m.summary.name.clone(), m.summary.n_params);
        let gpu = s.with(|s| s.assumptions.gpu.clone());
        let peak = physics::gpu(&gpu).map_or(0.0, |g| g.bf16_tflops * 1e12);
        Some(view! {
            <p data-testid="device">{fill(
                t(l, "Your device: {} decoded here reached {} GFLOP/s (2 × {} M parameters × tokens/s). The {} peaks at {} GFLOP/s, {}× more: one clever teacher against thousands of pupils."),
                &[
                    &name,
                    &num(l, f / 1e9, 1),
                    &num(l, params as f64 / 1e6, 0),
                    &physics::gpu(&gpu).map_or("GPU", |g| g.name.as_ref()),
                    &int(l, peak / 1e9),
                    &int(l, peak / f.max(1.0)),
                ],
            )}</p>
        })
    };
    // The user's own model, once it runs in the page, as the first open model to choose.
    let own = Memo::new(move |_| {
        state.own_model.track();
        state.custom.track();
        state.model.track();
        super::requests::own_model_shape(state).map(|m| m.name)
    });
    let sources = move || {
        let gpu = s.with(|s| s.assumptions.gpu.clone());
        physics::gpu(&gpu).map(|g| {
            fill(
                t(l, "{}: {}. Rent: {}."),
                &[&g.name, &t_str(l, &g.source), &t_str(l, &g.rent_range)],
            )
        })
    };
    view! {
        <h3>{t(l, "Behind the price")}</h3>
        <div class="controls">
            <label class="control" for="phys-model"><span>{t(l, "Open model")}</span>
                <select id="phys-model" prop:value=move || s.with(|s| s.physics_model.clone()) on:change=move |ev| { let v = event_target_value(&ev); s.update(|s| s.physics_model = v) }>
                    {move || own.get().map(|name| {
                        let selected = s.with_untracked(|s| s.physics_model == OWN_MODEL);
                        view! { <option value=OWN_MODEL selected=selected>{fill(t(l, "Your model: {}"), &[&name])}</option> }
                    })}
                    {physics::known_models().into_iter().map(|m| {
                        let selected = m.name == s.with_untracked(|s| s.physics_model.clone());
                        view! { <option value=m.name.clone() selected=selected>{m.name.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="control" for="phys-gpu"><span>"GPU"</span>
                <select id="phys-gpu" data-testid="gpu" prop:value=move || s.with(|s| s.assumptions.gpu.clone()) on:change=move |ev| {
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
            {field("$ per GPU-hour", "rent", USD_PER_GPU_HOUR, 0.1, false,
                |a| a.rent().unwrap_or(0.0), |a, v| a.usd_per_gpu_hour = Some(v))}
            {field("Utilisation (MFU, 0–1)", "mfu", MFU, 0.05, false, |a| a.mfu, |a, v| a.mfu = v)}
            {field("Batch (sequences at once)", "batch-size", BATCH, 1.0, true,
                |a| f64::from(a.batch), |a, v| a.batch = v as u32)}
            {field("PUE", "pue", PUE, 0.01, false, |a| a.pue, |a, v| a.pue = v)}
            {field("$ per kWh", "kwh", USD_PER_KWH, 0.01, false, |a| a.usd_per_kwh, |a, v| a.usd_per_kwh = v)}
            <label class="control" for="precision"><span>{t(l, "Weights")}</span>
                <select id="precision" prop:value=move || s.with(|s| s.assumptions.bytes_per_param.to_string()) on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                        s.update(|s| s.assumptions.bytes_per_param = v);
                    }
                }>
                    <option value="2" selected=a.bytes_per_param == 2.0>{t(l, "BF16 (2 bytes)")}</option>
                    <option value="1" selected=a.bytes_per_param == 1.0>{t(l, "8-bit (1 byte)")}</option>
                    <option value="0.5" selected=a.bytes_per_param == 0.5>{t(l, "4-bit (½ byte)")}</option>
                </select>
            </label>
        </div>
        {explanation}
        {device}
        <p class="muted sources">
            {fill(t(l, "Sources: {}."), &[&t_str(l, DEFAULT_SOURCES)])}
            " "
            {sources}
        </p>
    }
}

#[component]
fn PhysicsLines(l: Lang, p: GpuCostResponse) -> impl IntoView {
    let e = &p.estimate;
    let a = &p.assumptions;
    let rate = a.usd_per_gpu_hour.unwrap_or(0.0);
    let m = &p.model;
    let batch = a.batch.max(1);
    let active = if m.active_params < m.params {
        fill(t(l, " (of {} in all)"), &[&sci(l, m.params)])
    } else {
        String::new()
    };
    let bound = if e.decode_memory_bound {
        t(
            l,
            "memory-bound: each step waits for the weights it reads to stream from memory",
        )
    } else {
        t(
            l,
            "compute-bound: the batch is large enough that arithmetic is the limit",
        )
    };
    let gpus = if e.gpus == 1 {
        t(l, "It fits on one GPU.").to_string()
    } else {
        fill(
            t(l, "It does not fit on one GPU: {} needed at this precision, working as one (n × bandwidth, n × FLOP/s; real interconnects lose some of that). Time below is on all {}; rent and energy count every one of them."),
            &[&plural(l, f64::from(e.gpus), "{} GPU", "{} GPUs"), &int(l, f64::from(e.gpus))],
        )
    };
    let read = match (&m.moe, e.experts_touched) {
        (Some(moe), Some(touched)) => fill(
            t(l, "A decode step reads {} weights: the always-used part ({}) and, in each of {} expert layers, the experts some token of the batch was routed to — {} of {} on average (E·(1 − (1 − k/E)^B) with k = {}, B = {})."),
            &[&sci(l, e.params_read_per_step), &sci(l, m.dense_params()), &moe.layers, &num(l, touched, 1), &moe.experts, &moe.active, &batch],
        ),
        _ => fill(t(l, "A decode step reads all {} weights once for the whole batch."), &[&sci(l, e.params_read_per_step)]),
    };
    let kv = match (e.kv_cache_bytes, e.kv_cache_bytes_batch) {
        (Some(one), Some(all)) => fill(
            t(l, "Memory: weights {} + KV cache {} per sequence × {} sequences = {} → {} for the batch."),
            &[&bytes(l, e.weights_bytes), &bytes(l, one), &int(l, f64::from(batch)), &bytes(l, all), &bytes(l, e.memory_needed_bytes)],
        ),
        _ => fill(
            t(l, "Memory: weights {} (the KV cache is unknown without the model's shape) → {} for the batch."),
            &[&bytes(l, e.weights_bytes), &bytes(l, e.memory_needed_bytes)],
        ),
    };
    view! {
        <ul class="physics" data-testid="physics" data-gpus=e.gpus>
            <li>{fill(t(l, "{} reads your text as {} tokens and writes {} (counted with {})."),
                &[&m.name, &int(l, p.input_tokens as f64), &int(l, p.output_tokens as f64), &m.tokenizer])}
                " " {fill(t(l, "Its sizes: {}."), &[&t_str(l, &m.source)])}</li>
            <li>{fill(t(l, "Compute ≈ 2 × active parameters × tokens = 2 × {}{} × {} = {} FLOPs (attention adds a little more)."),
                &[&sci(l, m.active_params), &active, &int(l, (p.input_tokens + p.output_tokens) as f64), &sci(l, e.flops)])}</li>
            <li data-testid="memory" data-weights=e.weights_bytes.to_string()
                data-kv=e.kv_cache_bytes.map(|b| b.to_string()).unwrap_or_default()
                data-kv-batch=e.kv_cache_bytes_batch.map(|b| b.to_string()).unwrap_or_default()
                data-total=e.memory_needed_bytes.to_string() data-batch=batch>{kv}</li>
            <li data-testid="gpus">{gpus}</li>
            <li>{fill(t(l, "Reading the text (prefill): {} FLOPs → {}."), &[&sci(l, e.prefill_flops), &seconds(l, e.prefill_seconds)])}</li>
            <li data-testid="read" data-params=e.params_read_per_step.to_string()
                data-experts=e.experts_touched.map(|x| x.to_string()).unwrap_or_default()>{read}</li>
            <li>{fill(t(l, "Writing (decode) is {}; {} tokens/s per sequence, {} for this request's share."),
                &[&bound, &sig(l, e.tokens_per_second, 3), &seconds(l, e.decode_seconds)])}</li>
            <li data-testid="gpu-usd" data-usd=e.usd.to_string()>{fill(t(l, "GPU rent: {} of GPU time ({} × {}) × {}/hour = {} per request."),
                &[&seconds(l, e.gpu_seconds), &plural(l, f64::from(e.gpus), "{} GPU", "{} GPUs"), &seconds(l, e.seconds), &usd(l, rate), &usd(l, e.usd)])}</li>
            <li>{fill(t(l, "Energy: board power × GPU time × PUE = {} Wh → {} of electricity."), &[&sig(l, e.energy_wh, 3), &usd(l, e.energy_usd)])}</li>
        </ul>
        <BatchCurve l p=p.clone() />
    }
}

/// How a decode step changes with the batch: bytes read, step time, tokens/s.
#[component]
fn BatchCurve(l: Lang, p: GpuCostResponse) -> impl IntoView {
    let moe = p.model.moe.is_some();
    let chosen = p.assumptions.batch.max(1);
    let rows = p
        .estimate
        .batch_curve
        .iter()
        .map(|b| {
            view! {
                <tr class:chosen=b.batch == chosen data-batch=b.batch>
                    <td class="num">{int(l, f64::from(b.batch))}</td>
                    {moe.then(|| view! { <td class="num">{b.experts_touched.map(|x| num(l, x, 1)).unwrap_or_default()}</td> })}
                    <td class="num">{bytes(l, b.bytes_read_per_step)}</td>
                    <td class="num">{int(l, f64::from(b.gpus))}</td>
                    <td class="num">{seconds(l, b.step_seconds)}</td>
                    <td>{if b.memory_bound { t(l, "memory") } else { t(l, "compute") }}</td>
                    <td class="num">{sig(l, b.tokens_per_second, 3)}</td>
                    <td class="num">{sig(l, b.batch_tokens_per_second, 3)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h4>{t(l, "One decode step, by batch size")}</h4>
        <p class="muted">{if moe {
            t(l, "A mixture of experts reads few experts for one sequence, and more distinct ones as the batch grows: why it is cheap at scale only up to a point.")
        } else {
            t(l, "A dense model reads every weight at each step whatever the batch: batching shares that read until arithmetic becomes the limit.")
        }}</p>
        <div class="scroll" tabindex="0" role="region" aria-label=t(l, "One decode step, by batch size")>
            <table class="curve-table" data-testid="batch-curve">
                <thead><tr>
                    <th>{t(l, "batch")}</th>
                    {moe.then(|| view! { <th>{t(l, "experts read per layer")}</th> })}
                    <th>{t(l, "weights read per step")}</th>
                    <th>{t(l, "GPUs")}</th>
                    <th>{t(l, "step time")}</th>
                    <th>{t(l, "limit")}</th>
                    <th>{t(l, "tokens/s per sequence")}</th>
                    <th>{t(l, "tokens/s, whole batch")}</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
