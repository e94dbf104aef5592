//! The interface's translations, read at build time: each `i18n/<code>.toml` (English string →
//! translation) becomes a table sorted by its English key, compiled into the page
//! (`src/app/i18n.rs` includes it), so the page carries no TOML parser and a broken file fails
//! the build instead of showing English at run time.
//!
//! The files use one TOML form only — `"English" = "translation"` lines (basic strings), comments
//! and blank lines — read here without a TOML library (a build dependency would be compiled once
//! more for every release build); a test in `src/app/i18n.rs` checks that a real TOML parser
//! reads each file as the same table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The languages with a file in `i18n/` (English is written in the code).
const LANGS: [&str; 1] = ["es"];

/// A TOML basic string at the start of `s` (which begins with its opening quote): its value and
/// the rest of `s` after the closing quote, or what is wrong.
fn basic_string(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s
        .strip_prefix('"')
        .ok_or("expected a quoted string")?
        .char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[1 + i + 1..])),
            '\\' => {
                let (_, e) = chars.next().ok_or("a string ends in a backslash")?;
                let mut hex = |n: usize| {
                    let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    (digits.len() == n && digits.bytes().all(|b| b.is_ascii_hexdigit()))
                        .then(|| u32::from_str_radix(&digits, 16).ok())
                        .flatten()
                        .and_then(char::from_u32)
                        .ok_or(format!("\\{e}{digits} is not a character"))
                };
                out.push(match e {
                    '"' => '"',
                    '\\' => '\\',
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{C}',
                    'u' => hex(4)?,
                    'U' => hex(8)?,
                    other => return Err(format!("unknown escape \\{other}")),
                });
            }
            // TOML: control characters other than tab must be escaped.
            c if c.is_ascii_control() && c != '\t' => {
                return Err(format!("an unescaped control character U+{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    Err("a string without its closing quote".into())
}

/// TOML's white space: space and tab.
fn skip_blank(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// One `"English" = "translation"` line.
fn entry(line: &str) -> Result<(String, String), String> {
    let (key, rest) = basic_string(line)?;
    let rest = skip_blank(rest)
        .strip_prefix('=')
        .ok_or("expected '=' after the English string")?;
    let (value, rest) = basic_string(skip_blank(rest))?;
    let rest = skip_blank(rest);
    if rest.is_empty() || rest.starts_with('#') {
        Ok((key, value))
    } else {
        Err(format!("unexpected {rest:?} after the translation"))
    }
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for code in LANGS {
        let path = format!("i18n/{code}.toml");
        println!("cargo::rerun-if-changed={path}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // A BTreeMap of Strings: sorted by bytes, the order `str::cmp` searches in.
        let mut table = BTreeMap::new();
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
        for (n, line) in text.lines().enumerate() {
            let line = skip_blank(line).trim_end_matches([' ', '\t', '\r']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (en, translated) = entry(line).unwrap_or_else(|why| {
                panic!(
                    "{path}:{}: {why} (the file holds `\"English\" = \"translation\"` lines, \
                     comments and blank lines)",
                    n + 1
                )
            });
            if table.insert(en, translated).is_some() {
                panic!("{path}:{}: this English string is there twice", n + 1);
            }
        }
        let mut rs = String::from("&[\n");
        for (en, translated) in &table {
            // `{:?}` of a str is a Rust string literal (quotes and escapes included).
            let _ = writeln!(rs, "    ({en:?}, {translated:?}),");
        }
        rs.push(']');
        let dest = out.join(format!("i18n_{code}.rs"));
        std::fs::write(&dest, rs).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
    }
}
