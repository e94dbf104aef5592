//! What the tokenizers crate panics on instead of answering an error, refused with a reason
//! before it reads a file (in the page a panic would stop the worker; in the CLI, the program):
//!
//! - a JSON syntax error or a bad escape inside the `decoder` section (the crate buffers the
//!   section and `expect`s it);
//! - a `Precompiled` normalizer (sentencepiece's character map) whose charsmap does not parse
//!   (read with an `expect`), or whose trie would send a lookup outside its own arrays (the crate
//!   indexes them unchecked while normalizing: a panic on the first text, not on loading).
//!
//! Every `tokenizer.json` the core hands to the crate (`engine.rs`) goes through [`check`] first.
//! Our own reader and pipeline take the sections as plain JSON values and do not panic.

use serde::Deserialize;
use serde_json::Value;

/// The whole text's syntax (a scan that keeps only the decoder and the normalizer: it skips other
/// strings without decoding their escapes, which reading the decoder into a value does), then
/// every `Precompiled` normalizer in it.
pub(super) fn check(bytes: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Sections {
        normalizer: Option<Value>,
        #[serde(rename = "decoder")]
        _decoder: Option<Value>,
    }
    let sections: Sections = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    match sections.normalizer {
        Some(normalizer) => precompiled_in(&normalizer),
        None => Ok(()),
    }
}

/// Every `Precompiled` normalizer in a section (alone or inside a `Sequence`).
fn precompiled_in(section: &Value) -> Result<(), String> {
    match section {
        Value::Object(fields) => {
            if fields.get("type").and_then(Value::as_str) == Some("Precompiled") {
                precompiled(section)
                    .map_err(|e| format!("the Precompiled normalizer cannot be read: {e}"))?;
            }
            fields.values().try_for_each(precompiled_in)
        }
        Value::Array(items) => items.iter().try_for_each(precompiled_in),
        _ => Ok(()),
    }
}

fn precompiled(node: &Value) -> Result<(), String> {
    use base64::Engine as _;
    // As the crate reads it: from text (its reader takes the charsmap as a borrowed string).
    let text = serde_json::to_string(node).map_err(|e| e.to_string())?;
    serde_json::from_str::<tokenizers::normalizers::Precompiled>(&text)
        .map_err(|e| e.to_string())?;
    let charsmap = node
        .get("precompiled_charsmap")
        .and_then(Value::as_str)
        .ok_or("no precompiled_charsmap")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(charsmap)
        .map_err(|e| e.to_string())?;
    trie_stays_inside(&bytes)
}

// One unit of sentencepiece's double-array trie (darts-clone's layout, as the crate reads it).
fn has_leaf(unit: usize) -> bool {
    (unit >> 8) & 1 == 1
}
fn value(unit: usize) -> usize {
    unit & ((1 << 31) - 1)
}
fn label(unit: usize) -> usize {
    unit & ((1 << 31) | 0xFF)
}
fn offset(unit: usize) -> usize {
    (unit >> 10) << ((unit & (1 << 9)) >> 6)
}

/// The charsmap is a trie's size in bytes (u32, little-endian), the trie's units (u32 each), then
/// the replacement texts (UTF-8, each ended by a NUL). A lookup walks the trie one byte of the
/// text at a time: from a node `p`, byte `c` reads unit `p ^ c`; a unit with the label `c`
/// continues at `(p ^ c) ^ offset`, and one with a leaf reads the replacement's start there.
/// Every node reachable by bytes of UTF-8 text is visited once, and each of those reads must be
/// inside the trie, and each replacement start inside the texts, on a character boundary.
fn trie_stays_inside(bytes: &[u8]) -> Result<(), String> {
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let units = word(0).ok_or("the charsmap is too short")? / 4;
    let trie: Vec<usize> = (0..units)
        .map(|i| word(4 + 4 * i).ok_or("the trie runs past the charsmap"))
        .collect::<Result<_, _>>()?;
    let texts = std::str::from_utf8(&bytes[4 + 4 * units..])
        .map_err(|_| "the replacement texts are not UTF-8")?;
    let root = *trie.first().ok_or("the trie is empty")?;

    // Bytes that occur in UTF-8 text (a NUL ends a lookup).
    let utf8_byte = |c: usize| matches!(c, 0x01..=0xBF | 0xC2..=0xF4);
    let mut seen = std::collections::HashSet::new();
    let mut todo = vec![offset(root)];
    seen.insert(offset(root));
    while let Some(node) = todo.pop() {
        for c in (1..=0xF4).filter(|&c| utf8_byte(c)) {
            let at = node ^ c;
            let unit = *trie.get(at).ok_or("a lookup leaves the trie")?;
            if label(unit) != c {
                continue;
            }
            let next = at ^ offset(unit);
            if has_leaf(unit) {
                let start = value(*trie.get(next).ok_or("a leaf lies outside the trie")?);
                if !texts.is_char_boundary(start) {
                    return Err("a replacement starts outside its texts".into());
                }
            }
            if seen.insert(next) {
                todo.push(next);
            }
        }
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use base64::Engine as _;

    use super::super::{smollm2_info, TextTokenizer};

    /// Read as the CLI and the model worker read a user's file (the crate where ours does not).
    fn read(bytes: &[u8]) -> Result<TextTokenizer, String> {
        TextTokenizer::from_json_any(bytes, smollm2_info()).map_err(|e| e.msg().to_string())
    }

    /// A small BPE `tokenizer.json` with `normalizer` as given.
    fn file(normalizer: &str) -> String {
        r#"{"version": "1.0", "added_tokens": [], "normalizer": NORMALIZER,
          "pre_tokenizer": null, "post_processor": null,
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
          "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": {"a": 0, "b": 1, "c": 2, "bc": 3}, "merges": [["b", "c"]]}}"#
            .replace("NORMALIZER", normalizer)
    }

    /// A charsmap whose trie maps the text "a" to "b": the root (unit 0) leads to node 1; byte
    /// `a` reads unit 1 ^ 0x61 = 96 (label `a`, a leaf, offset 1), whose leaf at 97 says the
    /// replacement starts at byte 0 of the texts "b\0". 256 units, as darts-clone writes blocks.
    fn charsmap(units: &[(usize, u32)], len: usize, texts: &[u8]) -> String {
        let mut trie = vec![0u32; len];
        for &(at, unit) in units {
            trie[at] = unit;
        }
        let mut bytes = ((len * 4) as u32).to_le_bytes().to_vec();
        bytes.extend(trie.iter().flat_map(|u| u.to_le_bytes()));
        bytes.extend_from_slice(texts);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
    const A_TO_B: [(usize, u32); 3] = [(0, 1 << 10), (96, (1 << 10) | 0x100 | 0x61), (97, 0)];

    fn precompiled(charsmap: &str) -> String {
        format!(r#"{{"type": "Precompiled", "precompiled_charsmap": "{charsmap}"}}"#)
    }

    #[test]
    fn a_well_formed_charsmap_reads_and_normalizes() {
        let json = file(&precompiled(&charsmap(&A_TO_B, 256, b"b\0")));
        let tokenizer = read(json.as_bytes()).expect("reads");
        let ids = tokenizer.encode("abc").expect("encodes");
        // "abc" normalized to "bbc": b, then the merge bc.
        assert_eq!(ids, [1, 3]);
    }

    /// Each would load in the crate and panic on the first text it normalizes (or on loading):
    /// an empty trie, a trie too short for a lookup, a leaf outside the trie, a replacement
    /// outside the texts or inside a character; and one that does not parse at all.
    #[test]
    fn a_charsmap_the_crate_would_panic_on_is_refused() {
        let leaf_outside = [(0, 1 << 10), (96, (1 << 10) | 0x100 | 0x61)];
        let cases = [
            charsmap(&[], 0, b"b\0"),
            charsmap(&A_TO_B, 128, b"b\0"),
            charsmap(&leaf_outside, 97, b"b\0"),
            charsmap(
                &[(0, 1 << 10), (96, (1 << 10) | 0x100 | 0x61), (97, 5)],
                256,
                b"b\0",
            ),
            charsmap(
                &[(0, 1 << 10), (96, (1 << 10) | 0x100 | 0x61), (97, 1)],
                256,
                "é\0".as_bytes(),
            ),
            "AAAA".to_string(),
        ];
        for (i, case) in cases.iter().enumerate() {
            for normalizer in [
                precompiled(case),
                format!(
                    r#"{{"type": "Sequence", "normalizers": [{{"type": "NFC"}}, {}]}}"#,
                    precompiled(case)
                ),
            ] {
                let err = read(file(&normalizer).as_bytes()).map(|_| ()).unwrap_err();
                assert!(err.contains("Precompiled"), "case {i}: {err}");
            }
        }
    }

    /// A decoder the crate cannot buffer is refused, whichever reader the file goes to (ours for
    /// BPE, the crate's for another model); without this check each case panics.
    #[test]
    fn a_decoder_the_crate_would_panic_on_is_refused() {
        let bpe = file("null");
        let word_level = bpe
            .replace(
                r#""type": "BPE", "dropout": null, "unk_token": null"#,
                r#""type": "WordLevel", "unk_token": "a""#,
            )
            .replace(r#", "merges": [["b", "c"]]"#, "");
        assert!(read(word_level.as_bytes()).is_ok(), "{word_level}");
        let decoder = r#""decoder": {"type": "ByteLevel""#;
        for json in [&bpe, &word_level] {
            let cases = [
                // A control character inside the decoder: a syntax error.
                json.replace(decoder, &format!("{decoder}, \"x\": \"\u{1}\"")),
                // A lone surrogate escaped inside the decoder.
                json.replace(decoder, &format!("{decoder}, \"x\": \"\\ud800\"")),
                // The file ends inside the decoder.
                json[..json.find(decoder).expect("decoder") + decoder.len()].to_string(),
            ];
            for case in cases {
                assert!(read(case.as_bytes()).is_err(), "{case}");
            }
        }
        assert!(read(bpe.as_bytes()).is_ok());
    }
}
