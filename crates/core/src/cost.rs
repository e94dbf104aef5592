//! What a text costs through an API: each model's price per token × that model's own token count.
//!
//! Prices come from LiteLLM's public price table (PyPI `litellm`, pinned; see [`PRICES`]), trimmed
//! at build time to chat models (`cargo xtask prices`). For every priced model we name the
//! tokenizer that counts its tokens — exactly, where tokenmeter ships that model's tokenizer, or
//! as an estimate with the nearest public one, labelled as such.
//!
//! ```text
//! input cost  = uncached input tokens × input price + cached input tokens × cache-read price
//! output cost = output tokens × output price
//! ```
//!
//! Long-context tiers ("above 200k tokens"): when a request's input exceeds the threshold, the
//! provider bills the whole request at the tier's prices (Gemini and Anthropic price this way).
//! Batch prices apply to the whole request when batch is on and the model has them.
//!
//! (A little over 500 lines: about 150 are the tests of these rules, kept beside them.)

use serde::{Deserialize, Serialize};

use crate::{msg, Error, Result};

/// The pinned price source.
pub const PRICES: PriceSource = PriceSource {
    name: "LiteLLM model_prices_and_context_window_backup.json",
    package: "litellm==1.110.2 (PyPI)",
    version: "1.110.2",
    date: "2026-11-20",
    sha256: "8943af58bf9f979c6a4bef815687117ffa341e462a41faed9be17b5c33d3dcc2",
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceSource {
    pub name: &'static str,
    pub package: &'static str,
    pub version: &'static str,
    /// The package's upload time on PyPI (its simple index): the prices' date.
    pub date: &'static str,
    /// sha256 of the JSON file inside the wheel, checked by `./dev setup`.
    pub sha256: &'static str,
}

/// A long-context price tier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tier {
    /// Input tokens above which the whole request is billed at this tier.
    pub above_tokens: u64,
    pub input: f64,
    pub output: f64,
    pub cache_read: Option<f64>,
}

/// One model's prices, in US dollars per token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelPrice {
    /// LiteLLM's key, e.g. `gpt-4o` or `gemini/gemini-2.5-pro`.
    pub model: String,
    pub provider: String,
    pub input: f64,
    pub output: f64,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub batch_input: Option<f64>,
    pub batch_output: Option<f64>,
    /// Price of reasoning tokens where the provider bills them apart.
    pub reasoning_output: Option<f64>,
    pub tier: Option<Tier>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

/// The trimmed price table the page and CLI use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PriceTable {
    pub source: String,
    pub version: String,
    pub date: String,
    pub models: Vec<ModelPrice>,
}

/// The models the cost panel shows before the user searches: popular chat models across
/// providers, one or more for every shipped tokenizer (keys of the price table).
pub const DEFAULT_MODELS: &[&str] = &[
    "gpt-5.1",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4o",
    "gpt-4o-mini",
    "o3",
    "o4-mini",
    "gpt-3.5-turbo",
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gemini/gemini-2.5-pro",
    "gemini/gemini-2.5-flash",
    "gemini/gemini-2.5-flash-lite",
    "deepseek/deepseek-chat",
    "deepseek/deepseek-reasoner",
    "mistral/mistral-large-latest",
    "mistral/mistral-small-latest",
    "mistral/open-mistral-nemo",
    "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "deepinfra/meta-llama/Meta-Llama-3.1-8B-Instruct",
    "deepinfra/Qwen/Qwen3-235B-A22B-Instruct-2507",
    "deepinfra/google/gemma-3-27b-it",
    "groq/openai/gpt-oss-120b",
];

fn num(v: &serde_json::Value, key: &str) -> Option<f64> {
    v.get(key).and_then(serde_json::Value::as_f64)
}

impl PriceTable {
    /// Trims LiteLLM's table to chat models that have both an input and an output price.
    pub fn from_litellm(json: &[u8], version: &str, date: &str) -> Result<Self> {
        let all: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(json)
            .map_err(|e| Error::Invalid(msg!("LiteLLM price table: {}", e.to_string())))?;
        let mut models = Vec::new();
        for (key, v) in &all {
            if v.get("mode").and_then(|m| m.as_str()) != Some("chat") {
                continue;
            }
            let (Some(input), Some(output)) = (
                num(v, "input_cost_per_token"),
                num(v, "output_cost_per_token"),
            ) else {
                continue;
            };
            // Long-context tier: `input_cost_per_token_above_<N>k_tokens` (the lowest N).
            let tier = v
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys())
                .filter_map(|k| {
                    let n = k
                        .strip_prefix("input_cost_per_token_above_")?
                        .strip_suffix("k_tokens")?;
                    n.parse::<u64>().ok().map(|n| (n, k.clone()))
                })
                .min()
                .and_then(|(n, k)| {
                    let suffix = &k["input_cost_per_token".len()..];
                    Some(Tier {
                        above_tokens: n * 1000,
                        input: num(v, &k)?,
                        output: num(v, &format!("output_cost_per_token{suffix}")).unwrap_or(output),
                        cache_read: num(v, &format!("cache_read_input_token_cost{suffix}")),
                    })
                });
            let count = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
            models.push(ModelPrice {
                model: key.clone(),
                provider: v
                    .get("litellm_provider")
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .to_string(),
                input,
                output,
                cache_read: num(v, "cache_read_input_token_cost"),
                cache_write: num(v, "cache_creation_input_token_cost"),
                batch_input: num(v, "input_cost_per_token_batches"),
                batch_output: num(v, "output_cost_per_token_batches"),
                reasoning_output: num(v, "output_cost_per_reasoning_token"),
                tier,
                max_input_tokens: count("max_input_tokens"),
                max_output_tokens: count("max_output_tokens"),
            });
        }
        models.sort_by(|a, b| a.model.cmp(&b.model));
        Ok(Self {
            source: "LiteLLM".into(),
            version: version.into(),
            date: date.into(),
            models,
        })
    }

    /// Reads the trimmed table (as written by `cargo xtask prices`).
    pub fn from_json(json: &[u8]) -> Result<Self> {
        serde_json::from_slice(json)
            .map_err(|e| Error::Invalid(msg!("price table: {}", e.to_string())))
    }

    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.models
            .binary_search_by(|m| m.model.as_str().cmp(model))
            .ok()
            .map(|i| &self.models[i])
    }

    /// Models whose key contains every word of `query` (case-insensitive), at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&ModelPrice> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        self.models
            .iter()
            .filter(|m| {
                let key = m.model.to_lowercase();
                words.iter().all(|w| key.contains(w.as_str()))
            })
            .take(limit)
            .collect()
    }
}

/// Why a model's tokens are counted with another tokenizer (shown beside the estimate).
const NOTE_QWEN: &str = "a newer or unpublished Qwen tokenizer, counted with Qwen3's";
const NOTE_DISTILLED: &str = "a distilled model with its base model's tokenizer";
const NOTE_GEMINI: &str = "Gemini's tokenizer is not published; Gemma 3 shares Gemini's vocabulary";
const NOTE_MISTRAL: &str = "counted with Mistral's Tekken tokenizer (Nemo)";
const NOTE_CLAUDE: &str =
    "current Claude tokenizers are not published; counted with Anthropic's older public one";
const NOTE_OTHER: &str = "no public tokenizer for this model; counted with o200k_base";
/// Every estimate note, for the page's translation check.
pub const ESTIMATE_NOTES: &[&str] = &[
    NOTE_QWEN,
    NOTE_DISTILLED,
    NOTE_GEMINI,
    NOTE_MISTRAL,
    NOTE_CLAUDE,
    NOTE_OTHER,
];

/// How a model's tokens are counted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Counting {
    /// The shipped tokenizer used.
    pub tokenizer: String,
    /// True when it is the model's own tokenizer.
    pub exact: bool,
    /// For estimates: why this tokenizer stands in.
    pub note: String,
}

/// Which shipped tokenizer counts a model's tokens, from the model's name.
pub fn counting_for(model: &str) -> Counting {
    let name = model.rsplit('/').next().unwrap_or(model).to_lowercase();
    let full = model.to_lowercase();
    let exact = |t: &str| Counting {
        tokenizer: t.into(),
        exact: true,
        note: String::new(),
    };
    let estimate = |t: &str, note: &str| Counting {
        tokenizer: t.into(),
        exact: false,
        note: note.into(),
    };
    let starts = |p: &str| name.starts_with(p);
    if full.contains("gpt-oss") {
        exact("o200k_harmony")
    } else if starts("gpt-4o")
        || starts("gpt-4.1")
        || starts("gpt-4.5")
        || starts("gpt-5")
        || starts("o1")
        || starts("o3")
        || starts("o4")
        || starts("chatgpt-4o")
    {
        exact("o200k_base")
    } else if starts("gpt-4") || starts("gpt-3.5") {
        exact("cl100k_base")
    } else if full.contains("llama-3") || full.contains("llama3") || full.contains("llama-v3") {
        exact("llama3")
    } else if full.contains("qwen3-") || full.ends_with("qwen3") {
        exact("qwen3")
    } else if full.contains("qwen2.5") || full.contains("qwen2p5") {
        exact("qwen2.5")
    } else if full.contains("qwen") {
        estimate("qwen3", NOTE_QWEN)
    } else if full.contains("deepseek") {
        if full.contains("distill") {
            estimate("deepseek-v3", NOTE_DISTILLED)
        } else {
            exact("deepseek-v3")
        }
    } else if full.contains("gemma-3") || full.contains("gemma3") {
        exact("gemma3")
    } else if full.contains("gemini") || full.contains("gemma") {
        estimate("gemma3", NOTE_GEMINI)
    } else if full.contains("nemo") || full.contains("mistral-small") || full.contains("pixtral") {
        exact("mistral-nemo")
    } else if full.contains("mistral") || full.contains("ministral") || full.contains("magistral") {
        estimate("mistral-nemo", NOTE_MISTRAL)
    } else if full.contains("claude") {
        estimate("claude-legacy", NOTE_CLAUDE)
    } else {
        estimate("o200k_base", NOTE_OTHER)
    }
}

/// One request's tokens.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Share of the input read from the provider's prompt cache (0 to 1).
    pub cached_share: f64,
    /// Use batch prices where the model has them.
    pub batch: bool,
}

/// What one request costs, in US dollars.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Cost {
    pub input_usd: f64,
    pub output_usd: f64,
    pub total_usd: f64,
    /// The long-context tier applied.
    pub tier_applied: bool,
    /// Batch prices applied.
    pub batch_applied: bool,
    /// (Input + output tokens) ÷ the model's context window, if known: the output is written
    /// into the same window the input occupies.
    pub context_used: Option<f64>,
    /// The request does not fit the model's context window, or asks for more output than the
    /// model writes in one reply (LiteLLM's `max_input_tokens`, `max_output_tokens`).
    pub over_context: bool,
    pub over_max_output: bool,
}

/// The price of one request (see the module docs for the rules).
pub fn cost(p: &ModelPrice, u: &Usage) -> Cost {
    let tier = p.tier.as_ref().filter(|t| u.input_tokens > t.above_tokens);
    let (mut input, mut output, mut cache_read) = match tier {
        Some(t) => (t.input, t.output, t.cache_read.or(p.cache_read)),
        None => (p.input, p.output, p.cache_read),
    };
    let batch_applied =
        u.batch && p.batch_input.is_some() && p.batch_output.is_some() && tier.is_none();
    if batch_applied {
        // Batch halves (typically) both prices; a cached read is discounted like the rest.
        let factor = p.batch_input.unwrap_or(p.input) / p.input.max(f64::MIN_POSITIVE);
        input = p.batch_input.unwrap_or(input);
        output = p.batch_output.unwrap_or(output);
        cache_read = cache_read.map(|c| c * factor);
    }
    let share = u.cached_share.clamp(0.0, 1.0);
    let cached = (u.input_tokens as f64 * share).round();
    let uncached = u.input_tokens as f64 - cached;
    let input_usd = uncached * input + cached * cache_read.unwrap_or(input);
    let output_usd = u.output_tokens as f64 * output;
    Cost {
        input_usd,
        output_usd,
        total_usd: input_usd + output_usd,
        tier_applied: tier.is_some(),
        batch_applied,
        context_used: p
            .max_input_tokens
            .filter(|&m| m > 0)
            .map(|m| (u.input_tokens as f64 + u.output_tokens as f64) / m as f64),
        over_context: p
            .max_input_tokens
            .is_some_and(|m| u.input_tokens.saturating_add(u.output_tokens) > m),
        over_max_output: p.max_output_tokens.is_some_and(|m| u.output_tokens > m),
    }
}

/// The same few sentences in several languages, to show that some languages cost more tokens.
/// The Spanish is from the public explainer post this tool grew from; the other versions are
/// tokenmeter's translations.
pub const LANGUAGE_SAMPLES: &[(&str, &str, &str)] = &[
    ("en", "English", "In short, tokens are the smallest unit an AI model works with. So the money you pay for tokens is really the cost of renting computing power from graphics cards."),
    ("es", "Spanish", "En pocas palabras, los tokens son la 'unidad de ración mínima' del gran modelo de IA. Entonces, el dinero que pagas por tokens es en realidad el costo de alquilar potencia de cálculo de tarjetas gráficas."),
    ("zh", "Chinese", "简单来说，词元是大模型的最小处理单位。所以，你为词元支付的钱，其实就是租用显卡算力的费用。"),
    ("ja", "Japanese", "簡単に言うと、トークンはAIモデルが扱う最小の単位です。つまり、トークンに払うお金は、実はグラフィックカードの計算能力を借りる費用なのです。"),
    ("ko", "Korean", "간단히 말해 토큰은 AI 모델이 다루는 가장 작은 단위입니다. 그래서 토큰에 지불하는 돈은 사실 그래픽 카드의 연산 능력을 빌리는 비용입니다."),
    ("hi", "Hindi", "सरल शब्दों में, टोकन एआई मॉडल की सबसे छोटी इकाई हैं। इसलिए टोकन के लिए आप जो पैसा देते हैं, वह असल में ग्राफ़िक्स कार्ड की गणना शक्ति किराए पर लेने की लागत है।"),
    ("ar", "Arabic", "باختصار، الرموز هي أصغر وحدة يتعامل معها نموذج الذكاء الاصطناعي. لذلك فإن المال الذي تدفعه مقابل الرموز هو في الحقيقة تكلفة استئجار القدرة الحاسوبية لبطاقات الرسوميات."),
    ("ru", "Russian", "Проще говоря, токены — это наименьшая единица, с которой работает модель ИИ. Поэтому деньги, которые вы платите за токены, — это на самом деле плата за аренду вычислительной мощности видеокарт."),
    ("de", "German", "Kurz gesagt sind Tokens die kleinste Einheit, mit der ein KI-Modell arbeitet. Das Geld, das Sie für Tokens bezahlen, ist also eigentlich die Miete für die Rechenleistung von Grafikkarten."),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn price(input: f64, output: f64) -> ModelPrice {
        ModelPrice {
            model: "m".into(),
            provider: "p".into(),
            input,
            output,
            cache_read: None,
            cache_write: None,
            batch_input: None,
            batch_output: None,
            reasoning_output: None,
            tier: None,
            max_input_tokens: Some(128_000),
            max_output_tokens: None,
        }
    }

    fn usage(input: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cached_share: 0.0,
            batch: false,
        }
    }

    #[test]
    fn plain_prices_by_hand() {
        // gpt-4o list prices: $2.50 and $10.00 per million tokens.
        // 1,000 in + 500 out = 1000 × 2.5e-6 + 500 × 1e-5 = 0.0025 + 0.005 = $0.0075
        let c = cost(&price(2.5e-6, 1e-5), &usage(1_000, 500));
        assert!((c.input_usd - 0.0025).abs() < 1e-12);
        assert!((c.output_usd - 0.005).abs() < 1e-12);
        assert!((c.total_usd - 0.0075).abs() < 1e-12);
        assert!((c.context_used.unwrap() - 1_500.0 / 128_000.0).abs() < 1e-12);
        assert!(!c.tier_applied && !c.over_context && !c.over_max_output);
    }

    #[test]
    fn requests_beyond_a_models_limits_are_flagged() {
        let mut p = price(2.5e-6, 1e-5);
        p.max_output_tokens = Some(16_384);
        let c = cost(&p, &usage(1_000, 5_000_000));
        assert!(c.over_context && c.over_max_output);
        assert!(c.context_used.unwrap() > 39.0, "5,001,000 of 128,000");
        let fits = cost(&p, &usage(100_000, 16_384));
        assert!(!fits.over_context && !fits.over_max_output);
        assert!(cost(&p, &usage(120_000, 10_000)).over_context);
    }

    #[test]
    fn cached_prefix_is_billed_at_the_cache_read_price() {
        // 10,000 in, 40% cached at $0.30/M, the rest at $3/M:
        // 6,000 × 3e-6 + 4,000 × 3e-7 = 0.018 + 0.0012 = $0.0192
        let mut p = price(3e-6, 1.5e-5);
        p.cache_read = Some(3e-7);
        let mut u = usage(10_000, 0);
        u.cached_share = 0.4;
        assert!((cost(&p, &u).input_usd - 0.0192).abs() < 1e-12);
        // Without a cache price, cached tokens cost the normal price.
        p.cache_read = None;
        assert!((cost(&p, &u).input_usd - 0.03).abs() < 1e-12);
    }

    #[test]
    fn long_context_tier_prices_the_whole_request() {
        // Gemini 2.5 Pro: $1.25/$10 per M, above 200k: $2.50/$15 per M.
        let mut p = price(1.25e-6, 1e-5);
        p.tier = Some(Tier {
            above_tokens: 200_000,
            input: 2.5e-6,
            output: 1.5e-5,
            cache_read: None,
        });
        let at = cost(&p, &usage(200_000, 1_000));
        assert!(
            !at.tier_applied,
            "the threshold itself is still the base price"
        );
        assert!((at.total_usd - (200_000.0 * 1.25e-6 + 1_000.0 * 1e-5)).abs() < 1e-12);
        let above = cost(&p, &usage(200_001, 1_000));
        assert!(above.tier_applied);
        // 200,001 × 2.5e-6 + 1,000 × 1.5e-5 = 0.5000025 + 0.015 = 0.5150025
        assert!((above.total_usd - 0.515_002_5).abs() < 1e-12);
    }

    #[test]
    fn batch_prices_apply_when_asked_and_available() {
        let mut p = price(2.5e-6, 1e-5);
        let mut u = usage(1_000, 1_000);
        u.batch = true;
        assert!(
            !cost(&p, &u).batch_applied,
            "no batch prices: normal prices"
        );
        p.batch_input = Some(1.25e-6);
        p.batch_output = Some(5e-6);
        let c = cost(&p, &u);
        assert!(c.batch_applied);
        assert!((c.total_usd - (1_000.0 * 1.25e-6 + 1_000.0 * 5e-6)).abs() < 1e-12);
    }

    #[test]
    fn litellm_rows_are_trimmed_and_parsed() {
        let json = br#"{
            "sample_spec": {"mode": "one of: chat, ...", "input_cost_per_token": 0.0},
            "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06,
                       "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06,
                       "input_cost_per_token_batches": 1.25e-06, "output_cost_per_token_batches": 5e-06,
                       "max_input_tokens": 128000},
            "gemini/x": {"litellm_provider": "gemini", "mode": "chat", "input_cost_per_token": 1.25e-06,
                         "output_cost_per_token": 1e-05, "input_cost_per_token_above_200k_tokens": 2.5e-06,
                         "output_cost_per_token_above_200k_tokens": 1.5e-05},
            "dall-e": {"mode": "image_generation", "input_cost_per_token": 1.0, "output_cost_per_token": 1.0},
            "free": {"mode": "chat", "input_cost_per_token": 0}
        }"#;
        let t = PriceTable::from_litellm(json, "1.0", "2026-01-01").unwrap();
        assert_eq!(t.models.len(), 2, "chat models with both prices only");
        let g = t.get("gpt-4o").unwrap();
        assert_eq!(g.provider, "openai");
        assert_eq!(g.cache_read, Some(1.25e-6));
        assert_eq!(g.batch_output, Some(5e-6));
        let tier = t.get("gemini/x").unwrap().tier.clone().unwrap();
        assert_eq!(tier.above_tokens, 200_000);
        assert_eq!(tier.output, 1.5e-5);
        assert_eq!(t.search("GEMINI", 10).len(), 1);
        assert!(PriceTable::from_litellm(b"[", "1", "d").is_err());
    }

    #[test]
    fn models_are_counted_with_their_own_tokenizer_or_labelled_estimates() {
        let c = |m: &str| {
            let c = counting_for(m);
            (c.tokenizer, c.exact)
        };
        assert_eq!(c("gpt-4o-mini"), ("o200k_base".into(), true));
        assert_eq!(c("gpt-5.1"), ("o200k_base".into(), true));
        assert_eq!(c("azure/eu/gpt-4-turbo"), ("cl100k_base".into(), true));
        assert_eq!(
            c("groq/openai/gpt-oss-120b"),
            ("o200k_harmony".into(), true)
        );
        assert_eq!(
            c("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"),
            ("llama3".into(), true)
        );
        assert_eq!(
            c("deepinfra/Qwen/Qwen3-235B-A22B-Instruct-2507"),
            ("qwen3".into(), true)
        );
        assert_eq!(c("deepinfra/Qwen/Qwen3.5-27B"), ("qwen3".into(), false));
        assert_eq!(c("deepseek/deepseek-chat"), ("deepseek-v3".into(), true));
        assert_eq!(
            c("deepinfra/google/gemma-3-27b-it"),
            ("gemma3".into(), true)
        );
        assert_eq!(c("gemini/gemini-2.5-pro"), ("gemma3".into(), false));
        assert_eq!(
            c("mistral/open-mistral-nemo"),
            ("mistral-nemo".into(), true)
        );
        assert_eq!(c("claude-sonnet-4-5"), ("claude-legacy".into(), false));
        assert_eq!(c("xai/grok-4"), ("o200k_base".into(), false));
        assert!(!counting_for("claude-sonnet-4-5").note.is_empty());
    }
}
