//! Messages for people: an English template with `{}` placeholders plus its arguments.
//!
//! Every sentence the core shows a user (errors, notices, estimate notes) is a [`Msg`]. The
//! template is also the key of the page's translation files (`i18n/<code>.toml`), so the page can
//! show it in the reader's language; the CLI prints it in English ([`std::fmt::Display`]). Write
//! new ones with [`msg!`](crate::msg!) so the translation test finds them:
//!
//! ```
//! use tokenmeter_core::msg;
//! let m = msg!("the prompt has {} tokens but the model reads at most {}", 9000, 8192);
//! assert_eq!(m.to_string(), "the prompt has 9000 tokens but the model reads at most 8192");
//! ```

use serde::{Deserialize, Serialize};

/// A translatable sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Msg {
    /// The English template, `{}` for each argument in order.
    pub key: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
}

/// One argument of a [`Msg`]: text shown as is (a name, a number, a parser's own words), or
/// another message, translated in turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    Text(String),
    Msg(Box<Msg>),
}

impl Msg {
    pub fn new(key: &str, args: Vec<Arg>) -> Self {
        Self {
            key: key.into(),
            args,
        }
    }

    /// The message with each argument rendered by `render` and the template by `template` (the
    /// page passes its translation lookup; [`Display`](std::fmt::Display) passes English).
    pub fn render(&self, template: &dyn Fn(&str) -> String) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| match a {
                Arg::Text(t) => t.clone(),
                Arg::Msg(m) => m.render(template),
            })
            .collect();
        fill(&template(&self.key), &args)
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(&|k| k.to_string()))
    }
}

impl std::error::Error for Msg {}

/// `template` with each `{}` replaced by the next argument (missing ones by nothing).
pub fn fill(template: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(i) = rest.find("{}") {
        out.push_str(&rest[..i]);
        if let Some(a) = args.next() {
            out.push_str(a);
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

impl From<Msg> for Arg {
    fn from(m: Msg) -> Self {
        Arg::Msg(Box::new(m))
    }
}

macro_rules! text_args {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Self {
                Arg::Text(v.to_string())
            }
        }
    )*};
}
text_args!(String, &str, &String, char, usize, u64, u32, u16, u8, i64, i32, f64, f32);

/// `msg!("template {}", a, b)`: a [`Msg`] whose arguments are anything `Into<Arg>`.
#[macro_export]
macro_rules! msg {
    ($key:literal $(, $arg:expr)* $(,)?) => {
        $crate::msg::Msg::new($key, vec![$($crate::msg::Arg::from($arg)),*])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fill_in_order_and_nest() {
        let inner = msg!("the file ends early");
        let m = msg!("{}: {}", "model.gguf", inner);
        assert_eq!(m.to_string(), "model.gguf: the file ends early");
        let shouted = m.render(&|k| k.to_uppercase());
        assert_eq!(shouted, "model.gguf: THE FILE ENDS EARLY");
        assert_eq!(fill("{}{}", &["a".into()]), "a");
    }

    #[test]
    fn messages_round_trip_through_json() {
        let m = msg!("{} of {}", 3usize, msg!("nested {}", "x"));
        let json = serde_json::to_string(&m).unwrap();
        let back: Msg = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
