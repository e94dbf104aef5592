//! Numbers as people read them, in the page's language: thousands grouped, decimals by the
//! language's own marks ("1,234.5" in English, "1.234,5" in Spanish), money and small figures
//! with a fixed number of significant digits so that neighbouring values never look equal by
//! rounding, and counted words in their plural form.

use super::i18n::{t, Lang};

fn marks(lang: Lang) -> (char, char) {
    match lang {
        Lang::En => (',', '.'),
        Lang::Es => ('.', ','),
    }
}

/// `x` with `decimals` decimals, thousands grouped.
pub fn num(lang: Lang, x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let (group, point) = marks(lang);
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(point);
        out.push_str(frac);
    }
    let negative = x < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0');
    if negative {
        out.insert(0, '−');
    }
    out
}

/// A whole number, thousands grouped: 5,000,000.
pub fn int(lang: Lang, n: impl Into<f64>) -> String {
    num(lang, n.into().round(), 0)
}

/// `x` with `sig` significant digits (no exponent): 0.00803, 12.3, 1,234.
pub fn sig(lang: Lang, x: f64, sig: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return num(lang, x, 0);
    }
    let magnitude = libm_floor_log10(x.abs());
    let decimals = (sig as i32 - 1 - magnitude).clamp(0, 12) as usize;
    num(lang, x, decimals)
}

fn libm_floor_log10(x: f64) -> i32 {
    x.log10().floor() as i32
}

/// Dollars: whole dollars from $1,000, cents from $1, else three significant digits — so that
/// $0.0100 and $0.00803 read as different prices.
pub fn usd(lang: Lang, x: f64) -> String {
    let body = if x == 0.0 {
        "0".to_string()
    } else if x.abs() >= 1000.0 {
        num(lang, x, 0)
    } else if x.abs() >= 1.0 {
        num(lang, x, 2)
    } else {
        sig(lang, x, 3)
    };
    format!("${body}")
}

/// A percentage with enough digits to tell small shares apart.
pub fn pct(lang: Lang, share: f64) -> String {
    let p = 100.0 * share;
    if p != 0.0 && p.abs() < 0.1 {
        format!("{}%", sig(lang, p, 2))
    } else {
        format!("{}%", num(lang, p, if p.abs() >= 10.0 { 1 } else { 2 }))
    }
}

/// 1.23e11 → "1.23×10¹¹".
pub fn sci(lang: Lang, x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return num(lang, x, 0);
    }
    let exp = libm_floor_log10(x.abs());
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
    format!("{}×10{sup}", num(lang, mant, 2))
}

/// A duration: µs, ms or s.
pub fn seconds(lang: Lang, s: f64) -> String {
    if s < 1e-3 {
        format!("{} µs", sig(lang, s * 1e6, 3))
    } else if s < 1.0 {
        format!("{} ms", sig(lang, s * 1e3, 3))
    } else {
        format!("{} s", num(lang, s, 2))
    }
}

/// Bytes in MB or GB (decimal units, as datasheets use).
pub fn bytes(lang: Lang, b: f64) -> String {
    if b >= 1e9 {
        format!("{} GB", num(lang, b / 1e9, 1))
    } else {
        format!("{} MB", num(lang, b / 1e6, 1))
    }
}

/// "1 token", "2 tokens": the template for `n` by the language's plural rule (English and
/// Spanish: one for exactly 1), with `n` formatted.
pub fn plural(lang: Lang, n: f64, one: &'static str, other: &'static str) -> String {
    let template = if n == 1.0 {
        t(lang, one)
    } else {
        t(lang, other)
    };
    super::i18n::fill(template, &[&int(lang, n)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_group_thousands_in_each_language() {
        assert_eq!(int(Lang::En, 5_000_000.0), "5,000,000");
        assert_eq!(int(Lang::Es, 5_000_000.0), "5.000.000");
        assert_eq!(num(Lang::En, 1234.5, 1), "1,234.5");
        assert_eq!(num(Lang::Es, 1234.5, 1), "1.234,5");
        assert_eq!(num(Lang::En, -0.001, 1), "0.0");
        assert_eq!(num(Lang::En, -2.5, 1), "−2.5");
    }

    #[test]
    fn money_keeps_neighbours_apart() {
        assert_eq!(usd(Lang::En, 0.01), "$0.0100");
        assert_eq!(usd(Lang::En, 0.008032), "$0.00803");
        assert_eq!(usd(Lang::En, 2.1e-7), "$0.000000210");
        assert_eq!(usd(Lang::En, 12.345), "$12.35");
        assert_eq!(usd(Lang::En, 123_456.0), "$123,456");
        assert_eq!(usd(Lang::Es, 0.5), "$0,500");
        assert_eq!(usd(Lang::En, 0.0), "$0");
    }

    #[test]
    fn counted_words_take_their_plural() {
        assert_eq!(
            plural(Lang::En, 1.0, "{} new token", "{} new tokens"),
            "1 new token"
        );
        assert_eq!(
            plural(Lang::En, 2000.0, "{} new token", "{} new tokens"),
            "2,000 new tokens"
        );
        assert_eq!(pct(Lang::En, 0.0001), "0.010%");
        assert_eq!(sci(Lang::En, 2.7e11), "2.70×10¹¹");
    }
}
