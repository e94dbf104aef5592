//! The page's state in its address, so that a link reproduces what the sender saw: the text, the
//! tokenizers shown, decode mode, the sampling settings and seed, the tokens generated or forced,
//! and the cost panel with its assumptions.
//!
//! The state lives in the fragment (`#s=…`), which browsers never send to a server: sharing a
//! link shares the text with the person who opens it, not with whoever hosts the page. It is JSON,
//! deflated and written in URL-safe base64. A link that cannot be read gives the defaults and a
//! notice, never a blank page.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::cost::CostSettings;
use super::{Generated, Settings};

/// Where the state starts in the fragment.
pub const PREFIX: &str = "#s=";
/// The format written by this version.
const VERSION: u32 = 1;
/// Longer states are not kept in the address (browsers and chat apps cut long links); the page
/// says so instead.
pub const MAX_LINK: usize = 32_000;
/// A link may not inflate to more than this (a small link must not become a huge allocation).
const MAX_JSON: usize = 8 << 20;

/// Everything a link carries. Missing fields take their defaults, so older links keep working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Shared {
    pub v: u32,
    pub text: String,
    pub columns: Vec<String>,
    pub decode: bool,
    pub ids: String,
    pub settings: Settings,
    pub continuation: Vec<Generated>,
    pub cost_open: bool,
    pub cost: CostSettings,
    /// The page's language ("en", "es"); empty: the reader's browser decides.
    pub lang: String,
    /// The open exercise, "<set>/<id>".
    pub exercise: String,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            v: VERSION,
            text: String::new(),
            columns: Vec::new(),
            decode: false,
            ids: String::new(),
            settings: Settings::default(),
            continuation: Vec::new(),
            cost_open: false,
            cost: CostSettings::default(),
            lang: String::new(),
            exercise: String::new(),
        }
    }
}

/// The fragment for `state`: `#s=` and the deflated JSON in URL-safe base64.
pub fn encode(state: &Shared) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    let deflated = miniz_oxide::deflate::compress_to_vec(&json, 9);
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(deflated)
    )
}

/// Reads a fragment written by [`encode`]. `Ok(None)`: the fragment holds no state (no link was
/// shared); `Err`: it does, but it is damaged, truncated or from a newer tokenmeter.
pub fn decode(fragment: &str) -> Result<Option<Shared>, String> {
    let Some(data) = fragment.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let deflated = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(data.trim_end_matches('='))
        .map_err(|_| "the link's data is not valid base64 (was it cut short?)".to_string())?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, MAX_JSON)
        .map_err(|_| "the link's data is damaged or cut short".to_string())?;
    let state: Shared = serde_json::from_slice(&json)
        .map_err(|e| format!("the link's data does not describe a tokenmeter page ({e})"))?;
    if state.v > VERSION {
        return Err(format!(
            "the link was made by a newer tokenmeter (format {}, this page reads {VERSION})",
            state.v
        ));
    }
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Shared {
        let mut s = Shared {
            text: "Hola, mundo 🌍 — «tokens»\n\tand a tab".into(),
            columns: vec!["smollm2".into(), "qwen3".into()],
            decode: true,
            ids: "9906, 1917".into(),
            continuation: vec![Generated {
                id: 7042,
                text: " Paris".into(),
                forced: true,
            }],
            cost_open: true,
            lang: "es".into(),
            exercise: "seed/madrid".into(),
            ..Shared::default()
        };
        s.settings.sampler.temperature = 0.7;
        s.settings.sampler.seed = 42;
        s.settings.top = 25;
        s.cost.output_tokens = Some(300);
        s.cost.assumptions.batch = 8;
        s
    }

    #[test]
    fn a_link_round_trips_every_field() {
        let s = sample();
        let link = encode(&s);
        assert!(link.starts_with(PREFIX));
        assert!(link[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode(&link), Ok(Some(s)));
    }

    #[test]
    fn long_texts_are_compressed() {
        let s = Shared {
            text: "The same sentence, again and again. ".repeat(500),
            ..Shared::default()
        };
        let link = encode(&s);
        assert!(link.len() < s.text.len() / 10, "{} bytes", link.len());
        assert_eq!(decode(&link).map(|o| o.map(|s| s.text)), Ok(Some(s.text)));
    }

    #[test]
    fn no_state_is_not_an_error() {
        assert_eq!(decode(""), Ok(None));
        assert_eq!(decode("#section-2"), Ok(None));
    }

    #[test]
    fn damaged_links_are_errors_with_a_reason() {
        let link = encode(&sample());
        let cut = &link[..link.len() / 2];
        assert!(decode(cut).is_err(), "a truncated link");
        assert!(decode("#s=%%%").unwrap_err().contains("base64"));
        let not_deflate = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"hello")
        );
        assert!(decode(&not_deflate).is_err());
        let not_ours = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(miniz_oxide::deflate::compress_to_vec(b"[1,2,3]", 9))
        );
        assert!(decode(&not_ours).unwrap_err().contains("does not describe"));
    }

    #[test]
    fn newer_formats_are_refused_and_missing_fields_default() {
        let newer = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(miniz_oxide::deflate::compress_to_vec(br#"{"v":99}"#, 9))
        );
        assert!(decode(&newer).unwrap_err().contains("newer"));
        let partial = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
                miniz_oxide::deflate::compress_to_vec(br#"{"v":1,"text":"hi"}"#, 9)
            )
        );
        let s = decode(&partial).expect("readable").expect("state");
        assert_eq!(s.text, "hi");
        assert_eq!(s.settings, Settings::default());
    }

    #[test]
    fn a_small_link_cannot_inflate_without_bound() {
        let bomb = vec![b' '; MAX_JSON + 1];
        let link = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(miniz_oxide::deflate::compress_to_vec(&bomb, 9))
        );
        assert!(link.len() < 20_000);
        assert!(decode(&link).is_err());
    }
}
