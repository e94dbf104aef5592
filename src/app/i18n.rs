//! The interface's language. English strings are written in the code, where they are used, and
//! are the keys; every other language is one file, `i18n/<code>.toml`, mapping each English string
//! to its translation (placeholders `{}` in the same order), compiled into the page as a sorted
//! table by `build.rs`. A third language is one more file, one entry in `build.rs`'s `LANGS`, a
//! variant of [`Lang`] (with its code, name and place in `ALL`) and its table in `catalog`. A
//! string missing from a file shows in English.
//!
//! Messages computed by the core and the workers (errors, cost notes, physics sources) stay in
//! English for now.

use leptos::prelude::*;
use tokenmeter_core::Msg;

use super::AppState;

/// The languages of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The language's (English, translation) pairs, sorted by the English string.
    fn catalog(self) -> &'static [(&'static str, &'static str)] {
        static ES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/i18n_es.rs"));
        match self {
            Lang::En => &[],
            Lang::Es => ES,
        }
    }

    /// The translation of `en`, if the language's file has one.
    fn lookup(self, en: &str) -> Option<&'static str> {
        let catalog = self.catalog();
        catalog
            .binary_search_by(|(key, _)| (*key).cmp(en))
            .ok()
            .map(|i| catalog[i].1)
    }
}

/// `en` in `lang`.
pub fn t(lang: Lang, en: &'static str) -> &'static str {
    lang.lookup(en).unwrap_or(en)
}

/// `en` (any string, such as a message key from the core) in `lang`.
pub fn t_str(lang: Lang, en: &str) -> String {
    lang.lookup(en).unwrap_or(en).to_string()
}

/// A message from the core or a worker, in `lang` (its arguments translated too when they are
/// messages themselves).
pub fn tm(lang: Lang, m: &Msg) -> String {
    m.render(&|key| t_str(lang, key))
}

/// A view child or attribute that follows the page's language.
pub fn tx(
    state: AppState,
    en: &'static str,
) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    move || t(state.lang.get(), en)
}

/// `template` with each `{}` replaced by the next argument.
pub fn fill(template: &str, args: &[&dyn std::fmt::Display]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokenmeter_core::msg::fill(template, &args)
}

/// `?lang=`, else the browser's language, else English.
pub fn from_browser() -> Lang {
    let browser = web_sys::window().and_then(|w| w.navigator().language());
    super::link::url_param("lang")
        .or(browser)
        .and_then(|l| Lang::from_code(l.get(..2).unwrap_or(&l)))
        .unwrap_or(Lang::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_in_order() {
        assert_eq!(fill("{} of {} MB", &[&3, &"98"]), "3 of 98 MB");
        assert_eq!(fill("no placeholders", &[&1]), "no placeholders");
        assert_eq!(fill("{}{}", &[&"a"]), "a");
    }

    /// Calls whose string literals are shown to people: `t(lang, "…")`, `tx(state, "…")`,
    /// `plural(lang, n, "…", "…")` and the core's `msg!("…", …)`.
    const CALLS: [&str; 4] = ["t", "tx", "plural", "msg!"];

    /// Every string literal inside each such call of `src` (both branches of an `if` included),
    /// up to the file's tests.
    fn shown_literals(src: &str) -> Vec<String> {
        let src = src.split("#[cfg(test)]").next().unwrap_or(src);
        // Comments hold examples, not interface text.
        let src: String = src
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let src = src.as_str();
        let bytes = src.as_bytes();
        let mut out = Vec::new();
        for (i, _) in src.match_indices('(') {
            let name_start = src[..i]
                .char_indices()
                .rev()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '!'))
                .map_or(0, |(j, c)| j + c.len_utf8());
            let name = &src[name_start..i];
            if !CALLS.contains(&name) || src[..name_start].ends_with("fn ") {
                continue;
            }
            // Walk the call's parentheses, collecting literals.
            let mut depth = 0;
            let mut j = i;
            while j < bytes.len() {
                match bytes[j] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b'"' => {
                        let lit = literal(&src[j + 1..]);
                        j += 1 + raw_len(&src[j + 1..]);
                        out.push(lit);
                        if name == "msg!" {
                            // A message's template is its first literal; the rest are arguments.
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        out
    }

    /// Bytes up to (not including) the closing quote of the literal `lit` starts.
    fn raw_len(lit: &str) -> usize {
        let b = lit.as_bytes();
        let mut end = 0;
        while end < b.len() && !(b[end] == b'"' && (end == 0 || b[end - 1] != b'\\')) {
            end += 1;
        }
        end
    }

    /// The string literal that `lit` starts (after its opening quote), unescaped.
    fn literal(lit: &str) -> String {
        lit[..raw_len(lit)]
            .replace("\\n", "\n")
            .replace("\\\"", "\"")
            .replace("\\u{a0}", "\u{a0}")
    }

    /// A literal that needs no translation: no letters outside `{…}` placeholders (a format, a
    /// symbol, a number).
    fn is_language(s: &str) -> bool {
        let mut depth = 0;
        s.chars().any(|c| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                c if depth == 0 && c.is_alphabetic() => return true,
                _ => {}
            }
            false
        })
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs") {
                out.push(path);
            }
        }
    }

    fn spanish() -> std::collections::HashMap<&'static str, &'static str> {
        let es: std::collections::HashMap<_, _> = Lang::Es.catalog().iter().copied().collect();
        assert!(
            es.len() > 300,
            "i18n/es.toml compiled into {} entries",
            es.len()
        );
        es
    }

    /// `build.rs` reads each file (without a TOML library) as a TOML parser does.
    #[cfg(not(target_arch = "wasm32"))] // toml is a native dev-dependency
    #[test]
    fn the_compiled_table_is_the_file_as_toml_reads_it() {
        let toml: std::collections::BTreeMap<String, String> =
            toml::from_str(include_str!("../../i18n/es.toml")).expect("i18n/es.toml is TOML");
        let compiled: Vec<(&str, &str)> =
            toml.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(compiled, Lang::Es.catalog());
    }

    /// `build.rs` sorts the table the page searches; every entry is found, and nothing else is.
    #[test]
    fn every_translation_is_found_by_its_english_string() {
        let catalog = Lang::Es.catalog();
        assert!(
            catalog.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );
        for &(en, es) in catalog {
            assert_eq!(t_str(Lang::Es, en), es);
        }
        assert_eq!(t(Lang::Es, "Your text"), "Tu texto");
        assert_eq!(t(Lang::Es, "no such string"), "no such string");
        assert_eq!(t(Lang::En, "Your text"), "Your text");
    }

    /// Every sentence the page can show — its own strings and the messages of the core, the GPU
    /// engine and the workers — has a Spanish entry with as many placeholders.
    #[test]
    fn every_interface_string_and_message_is_translated() {
        let es = spanish();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["src/app", "src/worker", "crates/core/src", "crates/gpu/src"] {
            sources(&root.join(dir), &mut files);
        }
        let mut missing = Vec::new();
        let mut seen = 0;
        for path in &files {
            let src = std::fs::read_to_string(path).expect("source");
            for en in shown_literals(&src).into_iter().filter(|s| is_language(s)) {
                seen += 1;
                match es.get(en.as_str()) {
                    None => missing.push(format!("{}: {en:?}", path.display())),
                    Some(tr) if tr.matches("{}").count() != en.matches("{}").count() => {
                        missing.push(format!("placeholders differ: {en:?}"))
                    }
                    _ => {}
                }
            }
        }
        eprintln!("{seen} interface strings and messages");
        assert!(seen > 300, "found only {seen} strings");
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "not in i18n/es.toml:\n{}",
            missing.join("\n")
        );
    }

    /// The data the page shows as sentences — tokenizer descriptions, sources, estimate notes,
    /// language names — is translated too.
    #[test]
    fn every_shown_data_string_is_translated() {
        use tokenmeter_core::{cost, physics, tokenizer::registry::SHIPPED};
        let es = spanish();
        let mut shown: Vec<String> = Vec::new();
        for s in SHIPPED {
            shown.extend([s.models, s.license, s.source, s.note].map(String::from));
        }
        for g in physics::GPUS {
            shown.extend([g.source.to_string(), g.rent_range.to_string()]);
        }
        for m in physics::known_models() {
            shown.push(m.source);
        }
        shown.extend(cost::ESTIMATE_NOTES.iter().map(|n| n.to_string()));
        shown.extend(
            cost::LANGUAGE_SAMPLES
                .iter()
                .map(|(_, name, _)| name.to_string()),
        );
        shown.push(physics::DEFAULT_SOURCES.to_string());
        let missing: Vec<&String> = shown
            .iter()
            .filter(|s| is_language(s) && !es.contains_key(s.as_str()))
            .collect();
        assert!(missing.is_empty(), "not in i18n/es.toml: {missing:#?}");
    }

    #[test]
    fn the_scanner_finds_literals_in_every_branch() {
        let src = r#"t(l, if x { "one" } else { "two" }); plural(l, n, "{} a", "{} as"); msg!("m {}", y);"#;
        assert_eq!(shown_literals(src), ["one", "two", "{} a", "{} as", "m {}"]);
    }
}
