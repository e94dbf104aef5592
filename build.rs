//! The interface's translations, read at build time: each `i18n/<code>.toml` (English string →
//! translation) becomes a table sorted by its English key, compiled into the page
//! (`src/app/i18n.rs` includes it), so the page carries no TOML parser and a broken file fails
//! the build instead of showing English at run time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The languages with a file in `i18n/` (English is written in the code).
const LANGS: [&str; 1] = ["es"];

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for code in LANGS {
        let path = format!("i18n/{code}.toml");
        println!("cargo::rerun-if-changed={path}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // A BTreeMap of Strings: sorted by bytes, the order `str::cmp` searches in.
        let table: BTreeMap<String, String> =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
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
