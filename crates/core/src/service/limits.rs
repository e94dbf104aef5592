//! Every limit of every request field, in one place.
//!
//! A request from the CLI or the page is *checked* ([`Limit::check`]): a value out of range is an
//! error naming the field and its range, the same words on both front ends. A shared link, which
//! a stranger may have crafted, is *clamped* instead ([`Limit::clamp`], see
//! [`super::link::sanitize`]): the page opens with the nearest sensible state and says what it
//! changed. Texts and ID lists are cut, never refused, and the answer says so.

use crate::msg;
use crate::msg::Msg;

/// A numeric field's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// The field's name as a user knows it (also the CLI flag without its dashes).
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
}

impl Limit {
    /// `v` if it is a number within the range, else an error naming the range.
    pub fn check(&self, v: f64) -> Result<f64, Msg> {
        if v.is_finite() && v >= self.min && v <= self.max {
            Ok(v)
        } else {
            Err(msg!(
                "{} must be a number from {} to {} (got {})",
                self.name,
                number(self.min),
                number(self.max),
                number(v)
            ))
        }
    }

    /// `v` moved into the range (`default` if it is not a number).
    pub fn clamp(&self, v: f64, default: f64) -> f64 {
        if v.is_nan() {
            default
        } else {
            v.clamp(self.min, self.max)
        }
    }

    pub fn contains(&self, v: f64) -> bool {
        self.check(v).is_ok()
    }
}

/// A number as a person writes it (no trailing `.0`).
fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

// ---- text and IDs ------------------------------------------------------------------------------

/// Bytes of text tokenized or priced at most (a longer paste is cut at a character boundary,
/// and the answer says so). Twice the 1 MB paste the README promises.
pub const MAX_TEXT_BYTES: usize = 2_000_000;
/// Token IDs decoded at most (decode mode).
pub const MAX_IDS: usize = 100_000;
/// Tokens whose details (text, bytes, span) are listed per column; counts cover all tokens.
pub const MAX_TOKENS_SHOWN: usize = 5_000;
/// Tokenizer files a user may add in one visit.
pub const MAX_USER_TOKENIZERS: usize = 8;
/// A token search or a price-table search: characters beyond this are ignored.
pub const MAX_QUERY_BYTES: usize = 256;

/// `text` cut to at most `max` bytes at a character boundary; `Some(original length)` when cut.
pub fn cut_text(text: &str, max: usize) -> (&str, Option<usize>) {
    if text.len() <= max {
        return (text, None);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], Some(text.len()))
}

// ---- next-token scoring and sampling -----------------------------------------------------------

/// Candidates listed at most.
pub const MAX_TOP: usize = 100;
pub const TOP: Limit = Limit {
    name: "top",
    min: 1.0,
    max: MAX_TOP as f64,
};
pub const TEMPERATURE: Limit = Limit {
    name: "temperature",
    min: 0.0,
    max: 5.0,
};
pub const TOP_P: Limit = Limit {
    name: "top-p",
    min: 0.0,
    max: 1.0,
};
/// Seeds up to 2⁵³ − 1: every one is exactly representable in a browser's number field.
pub const SEED: Limit = Limit {
    name: "seed",
    min: 0.0,
    max: 9_007_199_254_740_991.0,
};
/// Generated tokens per request at most (the model's context bounds it further).
pub const MAX_TOKENS: Limit = Limit {
    name: "max-tokens",
    min: 1.0,
    max: 8192.0,
};
/// A link's continuation holds at most this many tokens (SmolLM2's context; a request is also
/// checked against the model's own context).
pub const MAX_CONTINUATION: usize = 8192;

// ---- cost and physics --------------------------------------------------------------------------

pub const CACHED_SHARE: Limit = Limit {
    name: "cached-share",
    min: 0.0,
    max: 1.0,
};
/// Output tokens per request: far beyond any model's limit, so that the answer can say which
/// models cannot produce that many, yet finite.
pub const OUTPUT_TOKENS: Limit = Limit {
    name: "output-tokens",
    min: 0.0,
    max: 1e12,
};
pub const REQUESTS_PER_DAY: Limit = Limit {
    name: "requests-per-day",
    min: 0.0,
    max: 1e12,
};
/// Prompt tokens of a physics estimate.
pub const TOKENS: Limit = Limit {
    name: "tokens",
    min: 0.0,
    max: 1e12,
};
pub const USD_PER_GPU_HOUR: Limit = Limit {
    name: "usd-per-gpu-hour",
    min: 0.0,
    max: 1000.0,
};
pub const MFU: Limit = Limit {
    name: "mfu",
    min: 0.01,
    max: 1.0,
};
pub const BATCH: Limit = Limit {
    name: "batch",
    min: 1.0,
    max: 65_536.0,
};
pub const PUE: Limit = Limit {
    name: "pue",
    min: 1.0,
    max: 3.0,
};
pub const USD_PER_KWH: Limit = Limit {
    name: "usd-per-kwh",
    min: 0.0,
    max: 10.0,
};
pub const BYTES_PER_PARAM: Limit = Limit {
    name: "bytes-per-param",
    min: 0.125,
    max: 4.0,
};
pub const KV_BYTES: Limit = Limit {
    name: "kv-bytes",
    min: 0.125,
    max: 4.0,
};
/// A custom model's shape (`gpu-cost --params …`).
pub const PARAMS: Limit = Limit {
    name: "params",
    min: 1.0,
    max: 1e14,
};
pub const LAYERS: Limit = Limit {
    name: "layers",
    min: 0.0,
    max: 10_000.0,
};
pub const KV_HEADS: Limit = Limit {
    name: "kv-heads",
    min: 0.0,
    max: 4096.0,
};
pub const HEAD_DIM: Limit = Limit {
    name: "head-dim",
    min: 0.0,
    max: 65_536.0,
};

// ---- benchmark ---------------------------------------------------------------------------------

pub const BENCH_PROMPT_TOKENS: Limit = Limit {
    name: "prompt-tokens",
    min: 1.0,
    max: 8192.0,
};
pub const BENCH_DECODE_TOKENS: Limit = Limit {
    name: "decode-tokens",
    min: 0.0,
    max: 4096.0,
};
pub const BENCH_RUNS: Limit = Limit {
    name: "runs",
    min: 1.0,
    max: 50.0,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_field_and_its_range() {
        assert_eq!(TOP_P.check(0.0), Ok(0.0));
        let e = TOP_P.check(1.5).unwrap_err().to_string();
        assert_eq!(e, "top-p must be a number from 0 to 1 (got 1.5)");
        assert!(TEMPERATURE.check(f64::NAN).is_err());
        assert!(TEMPERATURE.check(f64::INFINITY).is_err());
        assert!(BATCH.check(-3.0).is_err());
    }

    #[test]
    fn clamps_move_into_range_and_replace_nan() {
        assert_eq!(BATCH.clamp(-3.0, 32.0), 1.0);
        assert_eq!(TEMPERATURE.clamp(f64::NAN, 1.0), 1.0);
        assert_eq!(TEMPERATURE.clamp(f64::INFINITY, 1.0), 5.0);
    }

    #[test]
    fn texts_are_cut_at_character_boundaries() {
        assert_eq!(cut_text("abc", 5), ("abc", None));
        // "é" is two bytes: a cut inside it moves back before it.
        assert_eq!(cut_text("aé", 2), ("a", Some(3)));
        assert_eq!(cut_text("ab", 0), ("", Some(2)));
    }
}
