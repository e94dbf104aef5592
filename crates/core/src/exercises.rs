//! Workshop exercises as data: each set is a TOML file in `exercises/` (listed in
//! `exercises/index.toml`), so an instructor adds one without touching Rust. `cargo xtask data`
//! checks each and writes it as JSON for the page (`data/exercises/`, served as `exercises/`):
//! the page reads JSON, which it reads anyway, and carries no TOML parser. An exercise has a
//! prompt, a hint and a sample answer in each language, a starting state for the page, and a
//! **goal** the page checks live against what it already computes: token counts per tokenizer,
//! the model's next-token distribution, the price of the text.
//!
//! ```toml
//! [[exercise]]
//! id = "one-vs-five"
//! title = { en = "…", es = "…" }
//! prompt = { en = "…", es = "…" }
//! hint = { en = "…", es = "…" }
//! answer = "Здравствуйте"              # a text that meets the goal (tests type it in)
//! start = { text = "", columns = ["o200k_base", "llama3"], panel = "tokens" }
//! goal = { one_word = true, counts = [
//!   { tokenizer = "o200k_base", max = 1 }, { tokenizer = "llama3", min = 3 } ] }
//! ```
//!
//! Goal fields (all optional; every one given must hold): `one_word`, `max_chars`, `counts`
//! (`tokenizer`, `min`, `max`), `ratio` (`tokenizer` ÷ `over` ≥ `at_least`), `top_token` (the
//! model's most likely next token, exact text), `entropy_below_bits`, `entropy_above_bits`,
//! `input_cost_per_1000_above` (`model` price key, `usd`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{msg, Error, Result};

/// A text in several languages (`en` always present); falls back to English.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Text(pub BTreeMap<String, String>);

impl Text {
    pub fn get(&self, lang: &str) -> &str {
        self.0
            .get(lang)
            .or_else(|| self.0.get("en"))
            .map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExerciseSet {
    pub id: String,
    pub title: Text,
    #[serde(default)]
    pub intro: Text,
    #[serde(rename = "exercise")]
    pub exercises: Vec<Exercise>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    pub id: String,
    pub title: Text,
    pub prompt: Text,
    pub hint: Text,
    /// A text that meets the goal: the instructor's key, and what the tests type in.
    pub answer: String,
    /// For a goal about the chosen attention head: the answer's head, "<block>/<head>" (1-based).
    #[serde(default)]
    pub answer_head: String,
    #[serde(default)]
    pub start: Start,
    pub goal: Goal,
}

/// The page's state when an exercise opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Start {
    pub text: String,
    /// Tokenizers shown (the ones the goal counts with must be among them).
    pub columns: Vec<String>,
    /// "tokens", "next", "inside" or "cost": the panel the exercise is about.
    pub panel: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Goal {
    pub one_word: bool,
    pub max_chars: Option<usize>,
    pub counts: Vec<CountRule>,
    pub ratio: Option<Ratio>,
    pub top_token: Option<String>,
    pub entropy_below_bits: Option<f64>,
    pub entropy_above_bits: Option<f64>,
    pub input_cost_per_1000_above: Option<CostRule>,
    /// The logit lens: the model's final answer is `token`, already the top choice after block
    /// `block` or earlier.
    pub lens_top_by: Option<LensRule>,
    /// Attention: the head shown large puts at least this share of its weight on the token just
    /// before the last one (a "previous-token head").
    pub chosen_head_on_previous_at_least: Option<f64>,
    /// BPE merges a tokenizer applies to build the text's tokens, in all.
    pub merges: Vec<CountRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LensRule {
    pub token: String,
    pub block: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountRule {
    pub tokenizer: String,
    pub min: Option<usize>,
    pub max: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    pub tokenizer: String,
    pub over: String,
    pub at_least: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostRule {
    pub model: String,
    pub usd: f64,
}

/// What the page knows about the current text (`None`: not computed yet).
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    pub text: &'a str,
    /// Token counts by tokenizer id.
    pub counts: BTreeMap<String, usize>,
    /// The model's most likely next token (text) and the entropy in bits.
    pub top_token: Option<String>,
    pub entropy_bits: Option<f64>,
    /// Input price per 1,000 requests by price key.
    pub input_cost_per_1000: BTreeMap<String, f64>,
    /// The logit lens at the last token: the final answer (text) and the first block after which
    /// it is the top choice.
    pub lens_first_top: Option<(String, usize)>,
    /// The weight the head shown large puts on the token before the last.
    pub chosen_head_previous: Option<f64>,
    /// Merges applied in all to build the text's tokens, by tokenizer id.
    pub merges: BTreeMap<String, usize>,
}

/// One condition of a goal, and whether it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    OneWord,
    MaxChars(usize),
    Count {
        tokenizer: String,
        min: Option<usize>,
        max: Option<usize>,
        got: Option<usize>,
    },
    Ratio {
        tokenizer: String,
        over: String,
        at_least: f64,
        got: Option<f64>,
    },
    TopToken {
        want: String,
        got: Option<String>,
    },
    EntropyBelow {
        bits: f64,
        got: Option<f64>,
    },
    EntropyAbove {
        bits: f64,
        got: Option<f64>,
    },
    InputCostAbove {
        model: String,
        usd: f64,
        got: Option<f64>,
    },
    LensTopBy {
        token: String,
        block: usize,
        got: Option<(String, usize)>,
    },
    HeadOnPrevious {
        at_least: f64,
        got: Option<f64>,
    },
    Merges {
        tokenizer: String,
        min: Option<usize>,
        max: Option<usize>,
        got: Option<usize>,
    },
}

/// A condition with its state: met, not met, or waiting for a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub condition: Condition,
    /// `None` while what it needs is still being computed.
    pub met: Option<bool>,
}

impl Goal {
    /// Every condition of the goal against what is observed.
    pub fn check(&self, o: &Observed) -> Vec<Check> {
        let mut out = Vec::new();
        let mut push = |condition, met| out.push(Check { condition, met });
        if self.one_word {
            let t = o.text.trim();
            push(
                Condition::OneWord,
                Some(!t.is_empty() && !t.contains(char::is_whitespace)),
            );
        }
        if let Some(n) = self.max_chars {
            let chars = o.text.trim().chars().count();
            push(Condition::MaxChars(n), Some(chars > 0 && chars <= n));
        }
        for r in &self.counts {
            let got = o.counts.get(&r.tokenizer).copied();
            let met =
                got.map(|g| g > 0 && r.min.is_none_or(|m| g >= m) && r.max.is_none_or(|m| g <= m));
            push(
                Condition::Count {
                    tokenizer: r.tokenizer.clone(),
                    min: r.min,
                    max: r.max,
                    got,
                },
                met,
            );
        }
        if let Some(r) = &self.ratio {
            let got = match (o.counts.get(&r.tokenizer), o.counts.get(&r.over)) {
                (Some(&a), Some(&b)) if b > 0 => Some(a as f64 / b as f64),
                _ => None,
            };
            push(
                Condition::Ratio {
                    tokenizer: r.tokenizer.clone(),
                    over: r.over.clone(),
                    at_least: r.at_least,
                    got,
                },
                got.map(|g| g >= r.at_least),
            );
        }
        if let Some(want) = &self.top_token {
            let got = o.top_token.clone();
            let met = got.as_ref().map(|g| g == want);
            push(
                Condition::TopToken {
                    want: want.clone(),
                    got,
                },
                met,
            );
        }
        if let Some(bits) = self.entropy_below_bits {
            let got = o.entropy_bits;
            push(Condition::EntropyBelow { bits, got }, got.map(|g| g < bits));
        }
        if let Some(bits) = self.entropy_above_bits {
            let got = o.entropy_bits;
            push(Condition::EntropyAbove { bits, got }, got.map(|g| g > bits));
        }
        if let Some(r) = &self.input_cost_per_1000_above {
            let got = o.input_cost_per_1000.get(&r.model).copied();
            push(
                Condition::InputCostAbove {
                    model: r.model.clone(),
                    usd: r.usd,
                    got,
                },
                got.map(|g| g > r.usd),
            );
        }
        if let Some(r) = &self.lens_top_by {
            let got = o.lens_first_top.clone();
            let met = got
                .as_ref()
                .map(|(answer, block)| *answer == r.token && *block <= r.block);
            push(
                Condition::LensTopBy {
                    token: r.token.clone(),
                    block: r.block,
                    got,
                },
                met,
            );
        }
        if let Some(at_least) = self.chosen_head_on_previous_at_least {
            let got = o.chosen_head_previous;
            push(
                Condition::HeadOnPrevious { at_least, got },
                got.map(|g| g >= at_least),
            );
        }
        for r in &self.merges {
            let got = o.merges.get(&r.tokenizer).copied();
            let met = got.map(|g| r.min.is_none_or(|m| g >= m) && r.max.is_none_or(|m| g <= m));
            push(
                Condition::Merges {
                    tokenizer: r.tokenizer.clone(),
                    min: r.min,
                    max: r.max,
                    got,
                },
                met,
            );
        }
        out
    }

    /// Tokenizers whose counts the goal needs.
    pub fn tokenizers(&self) -> Vec<String> {
        let mut t: Vec<String> = self.counts.iter().map(|r| r.tokenizer.clone()).collect();
        if let Some(r) = &self.ratio {
            t.push(r.tokenizer.clone());
            t.push(r.over.clone());
        }
        t.extend(self.merges.iter().map(|r| r.tokenizer.clone()));
        t.dedup();
        t
    }

    /// Whether the goal asks about the model's next token.
    pub fn needs_model(&self) -> bool {
        self.top_token.is_some()
            || self.entropy_below_bits.is_some()
            || self.entropy_above_bits.is_some()
            || self.needs_inside()
    }

    /// Whether the goal asks about the logit lens or the attention heads.
    pub fn needs_inside(&self) -> bool {
        self.lens_top_by.is_some() || self.chosen_head_on_previous_at_least.is_some()
    }
}

/// All conditions met.
pub fn done(checks: &[Check]) -> bool {
    !checks.is_empty() && checks.iter().all(|c| c.met == Some(true))
}

/// The list of sets (`exercises/index.toml`: `sets = ["seed", …]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub sets: Vec<String>,
}

impl Index {
    /// `exercises/index.toml` (natively: tests and `cargo xtask data`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn parse(toml_text: &str) -> Result<Self> {
        toml::from_str(toml_text)
            .map_err(|e| Error::Invalid(msg!("exercises/index.toml: {}", e.to_string())))
    }

    /// The page's `exercises/index.json`.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        serde_json::from_slice(json)
            .map_err(|e| Error::Invalid(msg!("exercises/index.json: {}", e.to_string())))
    }
}

impl ExerciseSet {
    /// Reads a set and checks it is usable: unique ids, a non-empty goal, counted tokenizers
    /// shown at the start (natively: tests and `cargo xtask data`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn parse(toml_text: &str) -> Result<Self> {
        toml::from_str::<ExerciseSet>(toml_text)
            .map_err(|e| Error::Invalid(msg!("exercise set: {}", e.to_string())))?
            .checked()
    }

    /// A set as the page reads it (`cargo xtask data` writes it from the TOML), checked again.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        serde_json::from_slice::<ExerciseSet>(json)
            .map_err(|e| Error::Invalid(msg!("exercise set: {}", e.to_string())))?
            .checked()
    }

    fn checked(self) -> Result<Self> {
        let set = self;
        let bad = |m: String| Err(Error::Invalid(msg!("exercise set '{}': {}", &set.id, m)));
        for (i, e) in set.exercises.iter().enumerate() {
            if set.exercises[..i].iter().any(|o| o.id == e.id) {
                return bad(format!("two exercises are called '{}'", e.id));
            }
            if e.goal.check(&Observed::default()).is_empty() {
                return bad(format!("'{}' has no goal", e.id));
            }
            if let Some(t) = e
                .goal
                .tokenizers()
                .iter()
                .find(|t| !e.start.columns.contains(t))
            {
                return bad(format!(
                    "'{}' counts with {t}, which its start does not show",
                    e.id
                ));
            }
        }
        Ok(set)
    }

    pub fn find(&self, id: &str) -> Option<&Exercise> {
        self.exercises.iter().find(|e| e.id == id)
    }
}

// The sets are read from TOML natively only (the page reads xtask's JSON).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    const SET: &str = r#"
id = "t"
title = { en = "Test", es = "Prueba" }
[[exercise]]
id = "a"
title = { en = "A" }
prompt = { en = "Do A", es = "Haz A" }
hint = { en = "h" }
answer = "Здравствуйте"
start = { columns = ["o200k_base", "llama3"] }
goal = { one_word = true, counts = [{ tokenizer = "o200k_base", max = 1 }, { tokenizer = "llama3", min = 3 }] }
"#;

    fn observed<'a>(text: &'a str, counts: &[(&str, usize)]) -> Observed<'a> {
        Observed {
            text,
            counts: counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..Observed::default()
        }
    }

    #[test]
    fn goals_are_checked_condition_by_condition() {
        let set = ExerciseSet::parse(SET).expect("valid");
        let g = &set.exercises[0].goal;
        assert!(done(&g.check(&observed(
            "Здравствуйте",
            &[("o200k_base", 1), ("llama3", 5)]
        ))));
        let two_words = g.check(&observed("a b", &[("o200k_base", 1), ("llama3", 5)]));
        assert_eq!(two_words[0].met, Some(false));
        assert!(!done(&two_words));
        let waiting = g.check(&observed("word", &[("o200k_base", 1)]));
        assert_eq!(waiting[2].met, None, "llama3 not counted yet");
        assert!(!done(&waiting));
        assert_eq!(set.exercises[0].prompt.get("es"), "Haz A");
        assert_eq!(
            set.exercises[0].hint.get("es"),
            "h",
            "falls back to English"
        );
    }

    #[test]
    fn model_and_cost_goals() {
        let g = Goal {
            top_token: Some(" Madrid".into()),
            entropy_below_bits: Some(5.0),
            input_cost_per_1000_above: Some(CostRule {
                model: "gpt-4o".into(),
                usd: 1.0,
            }),
            ..Goal::default()
        };
        assert!(g.needs_model());
        let mut o = Observed {
            text: "x",
            ..Observed::default()
        };
        assert!(g.check(&o).iter().all(|c| c.met.is_none()));
        o.top_token = Some(" Madrid".into());
        o.entropy_bits = Some(4.4);
        o.input_cost_per_1000.insert("gpt-4o".into(), 1.25);
        assert!(done(&g.check(&o)));
        o.input_cost_per_1000.insert("gpt-4o".into(), 0.5);
        assert!(!done(&g.check(&o)));
    }

    #[test]
    fn broken_sets_are_refused_with_a_reason() {
        let dup = format!("{SET}\n{}", &SET[SET.find("[[exercise]]").expect("x")..]);
        assert!(ExerciseSet::parse(&dup)
            .unwrap_err()
            .to_string()
            .contains("two exercises"));
        let hidden = SET.replace(
            r#"columns = ["o200k_base", "llama3"]"#,
            r#"columns = ["o200k_base"]"#,
        );
        assert!(ExerciseSet::parse(&hidden)
            .unwrap_err()
            .to_string()
            .contains("does not show"));
        let typo = SET.replace("one_word", "one_wrd");
        assert!(ExerciseSet::parse(&typo).is_err());
        assert!(ExerciseSet::parse("not toml [").is_err());
    }

    /// The page's JSON form reads back as the very set, and is checked as the TOML is.
    #[test]
    fn the_json_form_is_the_same_set_and_checked_again() {
        let set = ExerciseSet::parse(SET).expect("valid");
        let json = serde_json::to_vec(&set).expect("json");
        assert_eq!(ExerciseSet::from_json(&json).expect("reads back"), set);
        let mut dup = set.clone();
        dup.exercises.push(set.exercises[0].clone());
        let json = serde_json::to_vec(&dup).expect("json");
        assert!(ExerciseSet::from_json(&json)
            .unwrap_err()
            .to_string()
            .contains("two exercises"));
        assert!(ExerciseSet::from_json(b"{").is_err());
        let index = Index::parse(r#"sets = ["seed", "more"]"#).expect("index");
        let json = serde_json::to_vec(&index).expect("json");
        assert_eq!(Index::from_json(&json).expect("reads back"), index);
    }
}
