//! The page's state in a link, so that opening it reproduces what the sender saw: the text, the
//! tokenizers shown, decode mode, the sampling settings and seed, the tokens generated or forced,
//! the cost panel with its assumptions, the language and the open exercise.
//!
//! The state lives in the fragment (`#s=…`), which browsers never send to a server. It is JSON,
//! deflated and written in URL-safe base64. A link is untrusted input: [`decode`] bounds the work
//! it can cause (at most [`MAX_JSON`] inflated), and [`sanitize`] clamps every field into the
//! ranges of [`super::limits`], returning a notice for each thing it changed. Generated tokens
//! travel as IDs only: their text is always decoded again by the model's tokenizer, so a link
//! cannot show words the model never produced.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::cost::CostSettings;
use super::limits::{
    cut_text, BATCH, BYTES_PER_PARAM, CACHED_SHARE, KV_BYTES, MAX_CONTINUATION, MAX_IDS,
    MAX_QUERY_BYTES, MAX_TEXT_BYTES, MFU, OUTPUT_TOKENS, PUE, REQUESTS_PER_DAY, SEED, TEMPERATURE,
    TOP, TOP_P, USD_PER_GPU_HOUR, USD_PER_KWH,
};
use crate::msg;
use crate::msg::Msg;
use crate::physics;
use crate::sampling::Sampler;
use crate::tokenizer::registry::SHIPPED;

/// Where the state starts in the fragment.
pub const PREFIX: &str = "#s=";
/// The format written by this version.
pub const VERSION: u32 = 1;
/// Longer states are not kept in the address (browsers and chat apps cut long links); the page
/// says so instead.
pub const MAX_LINK: usize = 32_000;
/// A link may not inflate to more than this: near what the longest real link needs (a
/// [`MAX_LINK`]-byte link of ordinary text inflates to a few hundred KB).
pub const MAX_JSON: usize = 1 << 20;
/// The tokenizers shown until the user picks others: the page's model, and two to compare to.
pub const DEFAULT_COLUMNS: [&str; 3] = ["smollm2", "o200k_base", "llama3"];

/// What the user set in the next-token panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NextSettings {
    /// Candidates listed.
    pub top: usize,
    pub sampler: Sampler,
    /// Wrap the text in the model's chat template.
    pub chat: bool,
    /// A token to locate in the distribution.
    pub search: String,
    /// Colour the text's tokens by how surprising the model found them.
    pub surprisal: bool,
}

impl Default for NextSettings {
    fn default() -> Self {
        Self {
            top: 10,
            sampler: Sampler::default(),
            chat: false,
            search: String::new(),
            surprisal: false,
        }
    }
}

/// A token added after the text: drawn by the sampler, or chosen by the user. Only its ID
/// travels; older links' `text` field is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkToken {
    pub id: u32,
    #[serde(default)]
    pub forced: bool,
}

/// Everything a link carries. Missing fields take their defaults, so older links keep working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Shared {
    pub v: u32,
    pub text: String,
    pub columns: Vec<String>,
    pub decode: bool,
    pub ids: String,
    pub settings: NextSettings,
    pub continuation: Vec<LinkToken>,
    pub cost_open: bool,
    pub cost: CostSettings,
    /// The page's language ("en", "es"); empty: the reader's browser decides.
    pub lang: String,
    /// The open exercise, "<set>/<id>".
    pub exercise: String,
    /// The panel inside the model is open, at this token position (`None`: the last).
    pub inside_open: bool,
    pub inside_position: Option<usize>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            v: VERSION,
            text: String::new(),
            columns: DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
            decode: false,
            ids: String::new(),
            settings: NextSettings::default(),
            continuation: Vec::new(),
            cost_open: false,
            cost: CostSettings::default(),
            lang: String::new(),
            exercise: String::new(),
            inside_open: false,
            inside_position: None,
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
/// shared, or it is the host page's own anchor such as `#section-2`); `Err`: it does, but it is
/// damaged, truncated, too large or from a newer tokenmeter.
pub fn decode(fragment: &str) -> Result<Option<Shared>, Msg> {
    let Some(json) = inflate(fragment)? else {
        return Ok(None);
    };
    let state: Shared = serde_json::from_slice(&json).map_err(|e| {
        msg!(
            "the link's data does not describe a tokenmeter page ({})",
            e.to_string()
        )
    })?;
    if state.v > VERSION {
        return Err(msg!(
            "the link was made by a newer tokenmeter (format {}, this page reads {})",
            state.v,
            VERSION
        ));
    }
    Ok(Some(state))
}

/// The JSON inside a fragment written by [`encode`] (`None`: no state), at most [`MAX_JSON`].
fn inflate(fragment: &str) -> Result<Option<Vec<u8>>, Msg> {
    let Some(data) = fragment.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    // Base64 of a deflated MAX_JSON never needs more than this many characters.
    if data.len() > 2 * MAX_JSON {
        return Err(msg!("the link is too long to be a tokenmeter link"));
    }
    let deflated = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(data.trim_end_matches('='))
        .map_err(|_| msg!("the link's data is not valid base64 (was it cut short?)"))?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, MAX_JSON)
        .map_err(|_| msg!("the link's data is damaged, cut short or too large"))?;
    // An object, as `encode` writes (serde would also read a struct from a JSON array, by
    // position).
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(msg!(
            "the link's data does not describe a tokenmeter page (it is not a JSON object)"
        ));
    }
    Ok(Some(json))
}

/// The tokenizers a page opened at `fragment` shows, in order: the link's shipped ones (as
/// [`sanitize`] keeps them), or the defaults where it holds no state or a damaged one. The tokens
/// worker starts downloading their vocabularies from this before the page has read the link
/// itself; only this field is parsed (a smaller worker), so at worst, for a link the page then
/// refuses, a vocabulary is downloaded that the page does not show.
pub fn columns_at(fragment: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Columns {
        #[serde(default)]
        v: u32,
        #[serde(default)]
        columns: Vec<String>,
    }
    let read = inflate(fragment)
        .ok()
        .flatten()
        .and_then(|json| serde_json::from_slice::<Columns>(&json).ok())
        .filter(|c| c.v <= VERSION);
    shipped_columns(read.map(|c| c.columns).unwrap_or_default())
}

/// The shipped tokenizers among `asked`, each once, in order; the defaults if none is.
fn shipped_columns(asked: Vec<String>) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for c in asked {
        if SHIPPED.iter().any(|t| t.id == c) && !columns.contains(&c) {
            columns.push(c);
        }
    }
    if columns.is_empty() {
        columns = DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect();
    }
    columns
}

/// A link's state made safe to use: only shipped tokenizers (each once), texts and lists cut to
/// their limits, every number finite and in its range. Returns a notice for each change.
pub fn sanitize(mut s: Shared) -> (Shared, Vec<Msg>) {
    let mut notes = Vec::new();
    let d = Shared::default();

    // Tokenizers: shipped ones, each once, in the link's order.
    let asked = s.columns.len();
    let shipped = |c: &String| SHIPPED.iter().any(|t| t.id == c);
    let kept = s
        .columns
        .iter()
        .enumerate()
        .filter(|&(i, c)| shipped(c) && !s.columns[..i].contains(c))
        .count();
    if kept < asked {
        notes.push(msg!(
            "the link named {} tokenizers, of which {} are shipped and different; the others were left out",
            asked,
            kept
        ));
    }
    s.columns = shipped_columns(std::mem::take(&mut s.columns));

    // Texts and lists.
    let cut = |text: &mut String, max: usize, what: Msg, notes: &mut Vec<Msg>| {
        let (kept, cut_from) = cut_text(text, max);
        if let Some(n) = cut_from {
            notes.push(msg!("{} was cut from {} to {} bytes", what, n, kept.len()));
            *text = kept.to_string();
        }
    };
    cut(
        &mut s.text,
        MAX_TEXT_BYTES,
        msg!("the link's text"),
        &mut notes,
    );
    cut(
        &mut s.ids,
        MAX_IDS * 12,
        msg!("the link's token IDs"),
        &mut notes,
    );
    cut(
        &mut s.settings.search,
        MAX_QUERY_BYTES,
        msg!("the link's token search"),
        &mut notes,
    );
    cut(
        &mut s.cost.search,
        MAX_QUERY_BYTES,
        msg!("the link's model search"),
        &mut notes,
    );
    if s.continuation.len() > MAX_CONTINUATION {
        notes.push(msg!(
            "the link's {} generated tokens were cut to {}",
            s.continuation.len(),
            MAX_CONTINUATION
        ));
        s.continuation.truncate(MAX_CONTINUATION);
    }

    // Numbers: clamped into their ranges.
    let mut changed = Vec::new();
    let mut num = |v: f64, default: f64, limit: super::limits::Limit| -> f64 {
        let c = limit.clamp(v, default);
        if c != v {
            changed.push(limit.name);
        }
        c
    };
    let n = &mut s.settings;
    let dn = &d.settings;
    n.top = num(n.top as f64, dn.top as f64, TOP) as usize;
    n.sampler.temperature = num(
        f64::from(n.sampler.temperature),
        f64::from(dn.sampler.temperature),
        TEMPERATURE,
    ) as f32;
    n.sampler.top_p = num(f64::from(n.sampler.top_p), 1.0, TOP_P) as f32;
    n.sampler.seed = num(n.sampler.seed as f64, 0.0, SEED) as u64;
    let c = &mut s.cost;
    let dc = &d.cost;
    c.cached_share = num(c.cached_share, dc.cached_share, CACHED_SHARE);
    c.output_tokens = c
        .output_tokens
        .map(|o| num(o as f64, 0.0, OUTPUT_TOKENS) as u64);
    c.requests_per_day = num(
        c.requests_per_day as f64,
        dc.requests_per_day as f64,
        REQUESTS_PER_DAY,
    ) as u64;
    let a = &mut c.assumptions;
    let da = &dc.assumptions;
    a.usd_per_gpu_hour = a.usd_per_gpu_hour.map(|r| num(r, 0.0, USD_PER_GPU_HOUR));
    a.mfu = num(a.mfu, da.mfu, MFU);
    a.batch = num(f64::from(a.batch), f64::from(da.batch), BATCH) as u32;
    a.pue = num(a.pue, da.pue, PUE);
    a.usd_per_kwh = num(a.usd_per_kwh, da.usd_per_kwh, USD_PER_KWH);
    a.bytes_per_param = num(a.bytes_per_param, da.bytes_per_param, BYTES_PER_PARAM);
    a.kv_bytes = num(a.kv_bytes, da.kv_bytes, KV_BYTES);
    // A position beyond any text the model reads: the last one instead.
    if s.inside_position.is_some_and(|p| p >= MAX_CONTINUATION) {
        s.inside_position = None;
        changed.push("position");
    }
    if !changed.is_empty() {
        notes.push(msg!(
            "out-of-range settings were brought into range: {}",
            changed.join(", ")
        ));
    }
    if physics::gpu(&a.gpu).is_none() {
        notes.push(msg!(
            "the link named an unknown GPU; showing the {} instead",
            "H100"
        ));
        *a = Default::default();
    }
    if !c.physics_model.is_empty() && physics::known_model(&c.physics_model).is_none() {
        notes.push(msg!(
            "the link named an unknown model for the physics estimate"
        ));
        c.physics_model = dc.physics_model.clone();
    }

    // Names: short and plain, or nothing.
    let plain = |t: &str, max: usize| {
        t.len() <= max
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_/.".contains(c))
    };
    if !plain(&s.lang, 8) {
        s.lang.clear();
    }
    if !plain(&s.exercise, 100) {
        notes.push(msg!("the link named an exercise that does not exist"));
        s.exercise.clear();
    }
    s.v = VERSION;
    (s, notes)
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
            continuation: vec![LinkToken {
                id: 7042,
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

    fn link_of(json: &[u8]) -> String {
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(miniz_oxide::deflate::compress_to_vec(json, 9))
        )
    }

    #[test]
    fn a_link_round_trips_every_field() {
        let s = sample();
        let link = encode(&s);
        assert!(link.starts_with(PREFIX));
        assert!(link[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode(&link), Ok(Some(s.clone())));
        assert_eq!(
            sanitize(s.clone()),
            (s, vec![]),
            "a sane state is kept as is"
        );
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
    fn the_columns_a_fragment_opens_with() {
        let mut s = sample();
        s.columns = vec![
            "gemma3".into(),
            "nonsense".into(),
            "gemma3".into(),
            "qwen3".into(),
        ];
        assert_eq!(columns_at(&encode(&s)), ["gemma3", "qwen3"]);
        for fragment in ["", "#section-2", "#s=%%%", &encode(&s)[..20]] {
            assert_eq!(columns_at(fragment), DEFAULT_COLUMNS, "{fragment}");
        }
    }

    #[test]
    fn no_state_is_not_an_error() {
        assert_eq!(decode(""), Ok(None));
        assert_eq!(decode("#section-2"), Ok(None));
        assert_eq!(decode("#foo=bar"), Ok(None));
    }

    #[test]
    fn a_state_is_an_object_never_an_array() {
        // Serde would read `Shared` from an array by position; a link never holds one.
        let link = link_of(br#"[1, "text", ["gemma3"]]"#);
        assert!(decode(&link).is_err());
        assert_eq!(columns_at(&link), DEFAULT_COLUMNS);
        assert!(decode(&link_of(br#" {"columns": ["gemma3"]}"#)).is_ok());
    }

    #[test]
    fn damaged_links_are_errors_with_a_reason() {
        let link = encode(&sample());
        let cut = &link[..link.len() / 2];
        assert!(decode(cut).is_err(), "a truncated link");
        assert!(decode("#s=%%%").unwrap_err().to_string().contains("base64"));
        assert!(decode(&link_of_raw(b"hello")).is_err());
        let not_ours = link_of(b"[1,2,3]");
        assert!(decode(&not_ours)
            .unwrap_err()
            .to_string()
            .contains("does not describe"));
    }

    fn link_of_raw(bytes: &[u8]) -> String {
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    #[test]
    fn newer_formats_are_refused_and_missing_fields_default() {
        assert!(decode(&link_of(br#"{"v":99}"#))
            .unwrap_err()
            .to_string()
            .contains("newer"));
        let s = decode(&link_of(br#"{"v":1,"text":"hi"}"#))
            .expect("readable")
            .expect("state");
        assert_eq!(s.text, "hi");
        assert_eq!(s.settings, NextSettings::default());
    }

    #[test]
    fn older_links_keep_working_and_their_token_texts_are_ignored() {
        let old = br#"{"v":1,"text":"The capital of France is","continuation":[{"id":7042,"text":" London","forced":false}],"cost":{"assumptions":{"usd_per_gpu_hour":3.0}}}"#;
        let s = decode(&link_of(old)).expect("readable").expect("state");
        assert_eq!(
            s.continuation,
            vec![LinkToken {
                id: 7042,
                forced: false
            }]
        );
        assert_eq!(s.cost.assumptions.usd_per_gpu_hour, Some(3.0));
    }

    #[test]
    fn a_small_link_cannot_inflate_without_bound() {
        let bomb = vec![b' '; MAX_JSON + 1];
        let link = link_of(&bomb);
        assert!(link.len() < 20_000);
        assert!(decode(&link).is_err());
    }

    #[test]
    fn crafted_states_are_clamped_with_notices() {
        let mut s = sample();
        s.columns = ["smollm2", "llama3"]
            .iter()
            .cycle()
            .take(200_000)
            .map(|c| c.to_string())
            .chain(["nope".to_string()])
            .collect();
        s.settings.top = 10_000;
        s.settings.sampler.temperature = f32::NAN;
        s.settings.sampler.top_p = -1.0;
        s.cost.cached_share = f64::INFINITY;
        s.cost.assumptions.batch = 0;
        s.cost.assumptions.mfu = f64::NAN;
        s.cost.assumptions.gpu = "tpu".into();
        s.continuation = vec![
            LinkToken {
                id: 1,
                forced: false
            };
            MAX_CONTINUATION + 5
        ];
        s.exercise = "<script>".into();
        let (c, notes) = sanitize(s);
        assert_eq!(c.columns, vec!["smollm2", "llama3"]);
        assert_eq!(c.settings.top, 100);
        assert_eq!(c.settings.sampler.temperature, 1.0);
        assert_eq!(c.settings.sampler.top_p, 0.0);
        assert_eq!(c.cost.cached_share, 1.0);
        assert_eq!(c.cost.assumptions, Default::default());
        assert_eq!(c.continuation.len(), MAX_CONTINUATION);
        assert!(c.exercise.is_empty());
        assert!(notes.len() >= 4, "{notes:?}");
    }
}
