//! The interface's language. English strings are written in the code, where they are used, and
//! are the keys; every other language is one file, `i18n/<code>.toml`, mapping each English string
//! to its translation (placeholders `{}` in the same order). A third language is one more file
//! and one line in [`Lang`]. A string missing from a file shows in English.
//!
//! Messages computed by the core and the workers (errors, cost notes, physics sources) stay in
//! English for now.

use std::collections::HashMap;
use std::sync::LazyLock;

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

    fn catalog(self) -> Option<&'static HashMap<String, String>> {
        static ES: LazyLock<HashMap<String, String>> =
            LazyLock::new(|| parse(include_str!("../../i18n/es.toml")));
        match self {
            Lang::En => None,
            Lang::Es => Some(&ES),
        }
    }
}

fn parse(text: &str) -> HashMap<String, String> {
    toml::from_str(text).unwrap_or_default()
}

/// `en` in `lang`.
pub fn t(lang: Lang, en: &'static str) -> &'static str {
    lang.catalog()
        .and_then(|c| c.get(en))
        .map_or(en, String::as_str)
}

/// `en` (any string, such as a message key from the core) in `lang`.
pub fn t_str(lang: Lang, en: &str) -> String {
    lang.catalog()
        .and_then(|c| c.get(en))
        .map_or_else(|| en.to_string(), String::clone)
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

    /// The English literals of `t(<expr>, "…")` and `tx(<expr>, "…")` calls in a source file:
    /// the first string literal after the first top-level comma of the call.
    fn calls(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, _) in src.match_indices('(') {
            let name_start = src[..i]
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |j| j + 1);
            let name = &src[name_start..i];
            if name == "msg!" || src[..i].ends_with("msg!") {
                // `msg!("…", args)`: the first argument is the template.
                let after = src[i + 1..].trim_start();
                if let Some(lit) = after.strip_prefix('"') {
                    out.push(literal(lit));
                }
                continue;
            }
            if (name != "t" && name != "tx") || src[..name_start].ends_with("fn ") {
                continue;
            }
            let rest = &src[i + 1..];
            let mut depth = 0;
            let mut comma = None;
            for (j, c) in rest.char_indices() {
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' if depth == 0 => break,
                    ')' | ']' | '}' => depth -= 1,
                    ',' if depth == 0 => {
                        comma = Some(j);
                        break;
                    }
                    '"' => break, // a literal first argument: not a translation call
                    _ => {}
                }
            }
            let Some(comma) = comma else { continue };
            let after = rest[comma + 1..].trim_start();
            let Some(lit) = after.strip_prefix('"') else {
                continue;
            };
            out.push(literal(lit));
        }
        out
    }

    /// The string literal that `lit` starts (after its opening quote), unescaped.
    fn literal(lit: &str) -> String {
        let mut end = 0;
        let lb = lit.as_bytes();
        while end < lb.len() && !(lb[end] == b'"' && (end == 0 || lb[end - 1] != b'\\')) {
            end += 1;
        }
        lit[..end].replace("\\n", "\n").replace("\\\"", "\"")
    }

    /// Every string the interface passes through `t`/`tx` has a Spanish entry, with as many
    /// placeholders as the English one.
    #[test]
    fn every_interface_string_is_translated() {
        let es = parse(include_str!("../../i18n/es.toml"));
        assert!(!es.is_empty(), "i18n/es.toml parses");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
        let mut missing = Vec::new();
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("src/app") {
            let path = entry.expect("entry").path();
            if path.ends_with("i18n.rs") {
                continue; // this file only talks about calls
            }
            let src = std::fs::read_to_string(&path).expect("source");
            for en in calls(&src) {
                seen += 1;
                match es.get(&en) {
                    None => missing.push(format!("{}: {en:?}", path.display())),
                    Some(tr) if tr.matches("{}").count() != en.matches("{}").count() => {
                        missing.push(format!("placeholders differ: {en:?}"))
                    }
                    _ => {}
                }
            }
        }
        eprintln!("{seen} interface strings");
        assert!(seen > 150, "found only {seen} interface strings");
        assert!(
            missing.is_empty(),
            "not in i18n/es.toml:\n{}",
            missing.join("\n")
        );
    }
}
