//! What a text costs through APIs, each model counted with its own tokenizer, and the physics
//! behind the price (the rules are in [`crate::cost`] and [`crate::physics`]).
//!
//! Answers *cost* ([`cost`]; `tokenmeter cost`, the page's cost panel).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::gpu_cost::{self, GpuCostResponse};
use super::limits::{
    cut_text, CACHED_SHARE, MAX_QUERY_BYTES, MAX_TEXT_BYTES, OUTPUT_TOKENS, REQUESTS_PER_DAY,
};
use crate::cost::{self as prices, ModelPrice, PriceTable, Usage, DEFAULT_MODELS, PRICES};
use crate::msg;
use crate::msg::Msg;
use crate::physics::{self, Assumptions, ModelShape};

/// Rows a search lists at most (the answer says how many models matched).
pub const MAX_COST_ROWS: usize = 40;
/// Days in the monthly figure.
pub const DAYS_PER_MONTH: f64 = 30.0;

/// What the user set in the cost panel (kept in shared links too).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CostSettings {
    /// Words to find in the price table's model keys (empty: the default models).
    pub search: String,
    /// Output tokens per request; `None`: as many as the input.
    pub output_tokens: Option<u64>,
    /// Share of the input read from the provider's prompt cache, 0 to 1.
    pub cached_share: f64,
    /// Use batch prices where the model has them.
    pub batch: bool,
    /// Requests per day, for the monthly figure.
    pub requests_per_day: u64,
    /// The open model whose serving is estimated (a `physics::known_models` name; empty: none).
    pub physics_model: String,
    pub assumptions: Assumptions,
}

impl Default for CostSettings {
    fn default() -> Self {
        Self {
            search: String::new(),
            output_tokens: None,
            cached_share: 0.0,
            batch: false,
            requests_per_day: 1000,
            physics_model: "Llama 3.1 70B".into(),
            assumptions: Assumptions::default(),
        }
    }
}

/// The physics model that means "the model running in the page" (a user's own GGUF): its shape
/// comes with the request ([`CostRequest::own_model`]).
pub const OWN_MODEL: &str = "your model";

impl CostSettings {
    /// Every field in its range (the physics model and GPU known, if a model is named).
    pub fn check(&self) -> Result<(), Msg> {
        CACHED_SHARE.check(self.cached_share)?;
        if let Some(n) = self.output_tokens {
            OUTPUT_TOKENS.check(n as f64)?;
        }
        REQUESTS_PER_DAY.check(self.requests_per_day as f64)?;
        if !self.physics_model.is_empty() {
            if self.physics_model != OWN_MODEL {
                gpu_cost::known_model(&self.physics_model)?;
            }
            gpu_cost::check_assumptions(&self.assumptions)?;
        }
        Ok(())
    }
}

/// What the cost panel (or `tokenmeter cost`) asks for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostRequest {
    pub text: String,
    /// Price-table keys to price (empty: the search's matches, or the default models).
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub settings: CostSettings,
    /// The page's own model measured on this device: (parameters, decode tokens per second).
    #[serde(default)]
    pub device: Option<(f64, f64)>,
    /// Tokenizers for the language comparison.
    #[serde(default)]
    pub languages_for: Vec<String>,
    /// The shape of the model running in the page when it is the user's own (from its file's
    /// metadata, counted with its own tokenizer): the physics model [`OWN_MODEL`].
    #[serde(default)]
    pub own_model: Option<Box<ModelShape>>,
}

/// Where the prices come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PriceInfo {
    pub source: String,
    pub package: String,
    pub version: String,
    pub date: String,
}

/// One model's price for the text. Counts are `None` while its tokenizer loads (page only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostRow {
    pub model: String,
    pub provider: String,
    pub tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// Counted with the model's own tokenizer, or estimated with `tokenizer` (`estimate_note`
    /// says why).
    pub exact: bool,
    pub tokenizer: String,
    pub estimate_note: String,
    pub input_cost_usd: Option<f64>,
    pub output_cost_usd: Option<f64>,
    pub total_usd: Option<f64>,
    pub per_1000_requests_usd: Option<f64>,
    pub per_month_usd: Option<f64>,
    /// (Input + output) tokens ÷ the model's context window, if known.
    pub context_used: Option<f64>,
    /// The model's context window and longest reply (LiteLLM), when known.
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    /// The request does not fit the context window / asks for a longer reply than the model
    /// writes: no single request can be served this way.
    pub over_context: Option<bool>,
    pub over_max_output: Option<bool>,
    /// The long-context tier applied; batch prices applied.
    pub long_context_tier: Option<bool>,
    pub batch_prices: Option<bool>,
}

/// Tokens of the same sentences in each language, for one tokenizer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LanguageRow {
    pub tokenizer: String,
    /// (language name, tokens); `None` while the vocabulary loads.
    pub counts: Vec<(String, Option<u64>)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostResponse {
    pub models: Vec<CostRow>,
    pub prices: PriceInfo,
    /// How many models match the search (the rows show the first [`MAX_COST_ROWS`]).
    pub matches: usize,
    /// Serving the text with `physics_model` on the chosen GPU.
    pub physics: Option<GpuCostResponse>,
    /// FLOP/s the user's device reached running the page's model.
    pub device_flops: Option<f64>,
    pub languages: Vec<LanguageRow>,
}

/// Counts `text` with tokenizer `id`: `Ok(None)` while that vocabulary is not at hand yet.
pub type Counter<'a> = dyn FnMut(&str, &str) -> Result<Option<u64>, Msg> + 'a;

/// Prices the request with the table, counting tokens with `count`.
/// The user's model's shape, checked (it sizes the estimate like a known model's would).
fn own_shape(shape: Option<&ModelShape>) -> Result<ModelShape, Msg> {
    let shape = shape.ok_or_else(|| msg!("no model of your own is running in the page"))?;
    let ok = shape.params.is_finite()
        && shape.params > 0.0
        && shape.params < 1e13
        && shape.active_params == shape.params
        && shape.moe.is_none()
        && (1..=1024).contains(&shape.layers)
        && (1..=1 << 20).contains(&shape.kv_values_per_layer);
    if !ok {
        return Err(msg!(
            "the shape of your model is not one tokenmeter can estimate"
        ));
    }
    Ok(shape.clone())
}

pub fn cost(
    req: &CostRequest,
    table: &PriceTable,
    count: &mut Counter<'_>,
) -> Result<CostResponse, Msg> {
    let s = &req.settings;
    s.check()?;
    let (text, _) = cut_text(&req.text, MAX_TEXT_BYTES);
    // Each tokenizer counts the text once.
    let mut counts: HashMap<String, Option<u64>> = HashMap::new();
    let mut count_text = |id: &str| -> Result<Option<u64>, Msg> {
        if let Some(&n) = counts.get(id) {
            return Ok(n);
        }
        let n = count(id, text)?;
        counts.insert(id.to_string(), n);
        Ok(n)
    };
    let (models, matches): (Vec<&ModelPrice>, usize) = if !req.models.is_empty() {
        let m = req
            .models
            .iter()
            .map(|k| table.get(k).ok_or_else(|| no_price(table, k)))
            .collect::<Result<Vec<_>, _>>()?;
        let n = m.len();
        (m, n)
    } else if s.search.trim().is_empty() {
        let m: Vec<&ModelPrice> = DEFAULT_MODELS.iter().filter_map(|k| table.get(k)).collect();
        let n = m.len();
        (m, n)
    } else {
        let (query, _) = cut_text(&s.search, MAX_QUERY_BYTES);
        let all = table.search(query, usize::MAX);
        let n = all.len();
        (all.into_iter().take(MAX_COST_ROWS).collect(), n)
    };
    let mut rows = Vec::with_capacity(models.len());
    for p in models {
        let counting = prices::counting_for(&p.model);
        let tokens = count_text(&counting.tokenizer)?;
        let output_tokens = s.output_tokens.or(tokens);
        let c = tokens.zip(output_tokens).map(|(i, o)| {
            prices::cost(
                p,
                &Usage {
                    input_tokens: i,
                    output_tokens: o,
                    cached_share: s.cached_share,
                    batch: s.batch,
                },
            )
        });
        rows.push(CostRow {
            model: p.model.clone(),
            provider: p.provider.clone(),
            tokens,
            output_tokens,
            exact: counting.exact,
            tokenizer: counting.tokenizer,
            estimate_note: counting.note,
            input_cost_usd: c.map(|c| c.input_usd),
            output_cost_usd: c.map(|c| c.output_usd),
            total_usd: c.map(|c| c.total_usd),
            per_1000_requests_usd: c.map(|c| c.total_usd * 1000.0),
            per_month_usd: c.map(|c| c.total_usd * s.requests_per_day as f64 * DAYS_PER_MONTH),
            context_used: c.and_then(|c| c.context_used),
            context_window: p.max_input_tokens,
            max_output_tokens: p.max_output_tokens,
            over_context: c.map(|c| c.over_context),
            over_max_output: c.map(|c| c.over_max_output),
            long_context_tier: c.map(|c| c.tier_applied),
            batch_prices: c.map(|c| c.batch_applied),
        });
    }
    let physics = match s.physics_model.as_str() {
        "" => None,
        name => {
            let shape = if name == OWN_MODEL {
                own_shape(req.own_model.as_deref())?
            } else {
                gpu_cost::known_model(name)?
            };
            match count_text(&shape.tokenizer)? {
                None => None,
                Some(input) => {
                    let output = s.output_tokens.unwrap_or(input);
                    Some(gpu_cost::estimate(&shape, input, output, &s.assumptions)?)
                }
            }
        }
    };
    let mut languages = Vec::new();
    for id in &req.languages_for {
        let mut row = Vec::new();
        for (_, name, sample) in prices::LANGUAGE_SAMPLES {
            row.push((name.to_string(), count(id, sample)?));
        }
        languages.push(LanguageRow {
            tokenizer: id.clone(),
            counts: row,
        });
    }
    Ok(CostResponse {
        models: rows,
        prices: PriceInfo {
            source: PRICES.name.into(),
            package: PRICES.package.into(),
            version: table.version.clone(),
            date: table.date.clone(),
        },
        matches,
        physics,
        device_flops: req
            .device
            .filter(|(p, tps)| p.is_finite() && tps.is_finite() && *p > 0.0 && *tps > 0.0)
            .map(|(params, tps)| physics::achieved_flops(params, tps)),
        languages,
    })
}

fn no_price(table: &PriceTable, key: &str) -> Msg {
    let near: Vec<&str> = table
        .search(key, 5)
        .iter()
        .map(|p| p.model.as_str())
        .collect();
    msg!(
        "no price for '{}' in LiteLLM {} (similar: {})",
        key,
        &table.version,
        near.join(", ")
    )
}
