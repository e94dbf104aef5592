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

/// A TOML basic string at the start of `s` (after its opening quote is `s[1..]`): its value and
/// the rest of `s` after the closing quote.
fn basic_string(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.strip_prefix('"')?.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[1 + i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                let hex = |n: usize, chars: &mut std::str::CharIndices| {
                    let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                };
                out.push(match e {
                    '"' => '"',
                    '\\' => '\\',
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{C}',
                    'e' => '\u{1B}',
                    'u' => hex(4, &mut chars)?,
                    'U' => hex(8, &mut chars)?,
                    _ => return None,
                });
            }
            c if c.is_control() && c != '\t' => return None,
            c => out.push(c),
        }
    }
    None
}

/// One `"English" = "translation"` line.
fn entry(line: &str) -> Option<(String, String)> {
    let (key, rest) = basic_string(line)?;
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let (value, rest) = basic_string(rest)?;
    let rest = rest.trim_start();
    (rest.is_empty() || rest.starts_with('#')).then_some((key, value))
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for code in LANGS {
        let path = format!("i18n/{code}.toml");
        println!("cargo::rerun-if-changed={path}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // A BTreeMap of Strings: sorted by bytes, the order `str::cmp` searches in.
        let mut table = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (en, translated) = entry(line).unwrap_or_else(|| {
                panic!(
                    "{path}:{}: expected a line `\"English\" = \"translation\"`, a comment or \
                     nothing",
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
