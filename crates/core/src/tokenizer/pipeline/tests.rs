//! Our pipeline against the Hugging Face crate's, IDs and offsets, on every shipped vocabulary:
//! the parity corpus, texts made to hit the edges of each stage, and random texts mixing tricky
//! characters with the vocabulary's own added tokens.

use std::path::{Path, PathBuf};

use crate::splitmix::SplitMix;
use crate::tokenizer::registry::SHIPPED;
use crate::tokenizer::{smollm2_info, TextTokenizer};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// The crate's tokens: (ID, start, end).
fn theirs(t: &tokenizers::Tokenizer, text: &str) -> Vec<(u32, usize, usize)> {
    let enc = t.encode(text, false).expect("the crate encodes");
    enc.get_ids()
        .iter()
        .zip(enc.get_offsets())
        .map(|(&id, &(s, e))| (id, s, e))
        .collect()
}

fn ours(t: &TextTokenizer, text: &str) -> Vec<(u32, usize, usize)> {
    t.tokenize(text)
        .expect("ours encodes")
        .into_iter()
        .map(|t| (t.id, t.start, t.end))
        .collect()
}

/// Characters on the edges of the normalizers (compositions, compatibility forms, case), the
/// pre-tokenizers (white space of every kind, digits, apostrophes, `▁`) and byte fallback.
const POOL: &[&str] = &[
    "a",
    "Z",
    "é",
    "e\u{301}",
    "\u{301}",
    "ﬁ",
    "Ｆ",
    "ｗ",
    "Ⅻ",
    "½",
    "²",
    "ß",
    "İ",
    "Σ",
    "ǅ",
    "ﬀ",
    "한",
    "\u{1100}\u{1161}",
    "中",
    "ア",
    "ｱ",
    "ﾞ",
    "0",
    "7",
    "٣",
    "߀",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "\u{A0}",
    "\u{3000}",
    "\u{2028}",
    "\u{200B}",
    "\u{FEFF}",
    "'s",
    "'LL",
    "’",
    "▁",
    "▁▁",
    "<",
    ">",
    "|",
    "!",
    "?!",
    "...",
    "😀",
    "👋🏽",
    "\u{200D}",
    "\u{0}",
    "\u{7F}",
    "\u{10FFFF}",
    "\u{E000}",
    "\u{FFFD}",
    "Ǆ",
    "ﷺ",
    "㍿",
    "…",
];

fn random_text(rng: &mut SplitMix, len: usize, added: &[String]) -> String {
    let mut s = String::new();
    for _ in 0..len {
        let r = rng.next_u64();
        if !added.is_empty() && r.is_multiple_of(9) {
            s.push_str(&added[(r / 9 % added.len() as u64) as usize]);
        } else {
            s.push_str(POOL[(r / 9 % POOL.len() as u64) as usize]);
        }
    }
    s
}

fn corpus() -> Vec<String> {
    let bytes = std::fs::read(data().join("parity/corpus.json")).expect("corpus (./dev setup)");
    serde_json::from_slice(&bytes).expect("corpus JSON")
}

/// Every shipped vocabulary: the same IDs and offsets as the crate on the corpus, the edge
/// texts and 3,000 random texts (some of them pieces of the vocabulary's added tokens).
#[test]
fn every_shipped_vocabulary_encodes_as_the_crate_does() {
    let corpus = corpus();
    for spec in SHIPPED {
        let path = data().join(format!("tokenizers/{}.json", spec.id));
        let json = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run ./dev setup)", path.display()));
        let ours_tok = TextTokenizer::from_json(&json, spec.info())
            .unwrap_or_else(|e| panic!("{}: our pipeline reads it: {e:?}", spec.id));
        let crate_tok = tokenizers::Tokenizer::from_bytes(&json).expect("the crate reads it");
        let mut added: Vec<String> = crate_tok
            .get_added_vocabulary()
            .get_added_tokens_decoder()
            .values()
            .map(|t| t.content.clone())
            .collect();
        added.sort();
        let mut texts: Vec<String> = vec![
            String::new(),
            " ".into(),
            "Hello, world! <|endoftext|> Un número: 12345 令牌 <|im_start|>\n  x".into(),
            "ﬁne Ｆｕｌｌ ｗｉｄｔｈ e\u{301} 👋🏽 \u{FFFD}\t\r\n  \u{2581}x <0xE4> 'S 'll ’s".into(),
            "\u{10FFFF}\u{0}\u{7F} ٣٤٥ ⅷ DŽemal ǅ κόσμε Привет 𝕏  ".into(),
            "    four spaces\n\n\n\tand   more      ".into(),
        ];
        // Each added token alone, inside a word, doubled, and cut in half.
        for a in added.iter().step_by(added.len() / 60 + 1) {
            texts.push(a.clone());
            texts.push(format!("x{a}y {a}{a}"));
            let half: String = a.chars().take(a.chars().count() / 2).collect();
            texts.push(format!("{half} {half}z"));
        }
        texts.extend(corpus.iter().cloned());
        let mut rng = SplitMix(0x70_6b_6e);
        for i in 0..3_000 {
            texts.push(random_text(&mut rng, 1 + i % 40, &added));
        }
        for text in &texts {
            assert_eq!(
                ours(&ours_tok, text),
                theirs(&crate_tok, text),
                "{}: {text:?}",
                spec.id
            );
        }
        // IDs alone, as `encode` gives them.
        for text in texts.iter().step_by(13) {
            let ids: Vec<u32> = theirs(&crate_tok, text).iter().map(|t| t.0).collect();
            assert_eq!(ours_tok.encode(text).expect("encodes"), ids, "{}", spec.id);
        }
    }
}

/// A small BPE file with the given sections (SentencePiece style: ▁ for a space), with byte
/// fallback and no fusing of unknown pieces, so that every byte outside the few pieces is a token
/// of its own and every byte's offsets are compared.
fn file(normalizer: &str, pre_tokenizer: &str, post_processor: &str, added: &str) -> String {
    let mut vocab: Vec<String> = [
        "<unk>", "▁", "a", "b", "ab", "▁ab", "Ġ", "Ġa", "f", "i", "fi", "1", "2", "x", "é", "e",
        "aĠ", "ĠĠ",
    ]
    .iter()
    .map(|p| format!("{p:?}"))
    .collect();
    vocab.extend((0..=255u8).map(|b| format!("\"<0x{b:02X}>\"")));
    let vocab: Vec<String> = vocab
        .iter()
        .enumerate()
        .map(|(id, p)| format!("{p}: {id}"))
        .collect();
    r#"{"version": "1.0", "added_tokens": [ADDED], "normalizer": NORMALIZER,
      "pre_tokenizer": PRE, "post_processor": POST,
      "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}]},
      "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
        "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": true, "ignore_merges": false,
        "vocab": {VOCAB},
        "merges": [["a", "b"], ["▁", "ab"], ["Ġ", "a"], ["f", "i"], ["a", "Ġ"], ["Ġ", "Ġ"]]}}"#
        .replace("VOCAB", &vocab.join(", "))
        .replace("ADDED", added)
        .replace("NORMALIZER", normalizer)
        .replace("PRE", pre_tokenizer)
        .replace("POST", post_processor)
}

fn added_token(content: &str, special: bool, normalized: bool) -> String {
    format!(
        r#"{{"id": 99, "content": {content:?}, "single_word": false, "lstrip": false, "rstrip": false, "normalized": {normalized}, "special": {special}}}"#
    )
}

/// Steps no shipped vocabulary uses — lower case, NFD/NFKD, a regex replace, `Metaspace` in its
/// three prepend schemes, every split behaviour, inverted splits, digit runs, a `ByteLevel`
/// that adds a prefix space, offsets trimmed by the post-processor, normalized added tokens —
/// against the crate on the same texts.
#[test]
fn each_step_encodes_as_the_crate_does() {
    let byte_level = |aps: bool, regex: bool| {
        format!(
            r#"{{"type": "ByteLevel", "add_prefix_space": {aps}, "trim_offsets": true, "use_regex": {regex}}}"#
        )
    };
    let split = |pattern: &str, behavior: &str, invert: bool| {
        format!(
            r#"{{"type": "Split", "pattern": {pattern}, "behavior": "{behavior}", "invert": {invert}}}"#
        )
    };
    let mut normalizers = vec!["null".to_string()];
    for n in ["NFC", "NFD", "NFKC", "NFKD", "Lowercase"] {
        normalizers.push(format!(r#"{{"type": "{n}"}}"#));
    }
    normalizers.push(
        r#"{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}"#.into(),
    );
    normalizers.push(
        r#"{"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": "_"}, {"type": "Replace", "pattern": {"Regex": "x+"}, "content": "-"}]}"#.into(),
    );
    let mut pre = vec![
        "null".to_string(),
        byte_level(false, true),
        byte_level(true, true),
        byte_level(false, false),
    ];
    for behavior in [
        "Removed",
        "Isolated",
        "MergedWithPrevious",
        "MergedWithNext",
        "Contiguous",
    ] {
        for invert in [false, true] {
            pre.push(format!(
                r#"{{"type": "Sequence", "pretokenizers": [{}, {}]}}"#,
                split(r#"{"Regex": "\\p{N}+| ?[ab]+"}"#, behavior, invert),
                byte_level(false, false)
            ));
        }
        pre.push(split(r#"{"String": "ab"}"#, behavior, false));
    }
    for scheme in ["always", "first", "never"] {
        for split in [true, false] {
            pre.push(format!(
                r#"{{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "{scheme}", "split": {split}}}"#
            ));
        }
    }
    // The older form (no prepend_scheme, add_prefix_space) and the defaults.
    pre.push(r#"{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}"#.into());
    pre.push(
        r#"{"type": "Metaspace", "replacement": "▁", "add_prefix_space": false, "prepend_scheme": "never", "split": false}"#.into(),
    );
    pre.push(r#"{"type": "Digits", "individual_digits": false}"#.into());
    pre.push(r#"{"type": "Digits", "individual_digits": true}"#.into());
    let posts = [
        "null".to_string(),
        byte_level(false, true),
        byte_level(true, true),
        r#"{"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": true, "add_prefix_space": true}"#.into(),
        r#"{"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": true, "add_prefix_space": false}"#.into(),
        r#"{"type": "Sequence", "processors": [{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}, {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}], "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}], "special_tokens": {}}]}"#.into(),
    ];
    let added = [
        String::new(),
        [
            added_token("<s>", true, false),
            added_token("ab", false, true),
            added_token("▁▁", false, false),
            added_token("ﬁ", false, true),
            added_token(" x", false, true),
        ]
        .join(", "),
        // The same text twice with other flags, a special token also listed as normalized.
        [
            added_token("<s>", true, false),
            added_token("<s>", false, true),
            added_token("ab", false, true),
            added_token("ab", false, false),
            added_token("fi", true, true),
        ]
        .join(", "),
    ];
    let texts = [
        "",
        " ",
        "ab ab  abab",
        " ab",
        "  leading and trailing  ",
        "ﬁ fi Ｆ e\u{301} É 12 ab34 1 2",
        "<s>ab<s> <s>  ab</s>",
        "x ab\u{3000}ab\tab\nab",
        "ﬁﬁ ab ▁▁ab ▁ x x",
        "AB aB Ab İ",
        "a ",
        "xa  ",
        "a  \n",
    ];
    let mut rng = SplitMix(7);
    let random: Vec<String> = (0..40)
        .map(|i| {
            random_text(
                &mut rng,
                1 + i % 12,
                &["<s>".into(), "ab".into(), " x".into()],
            )
        })
        .collect();
    let mut files = 0;
    for n in &normalizers {
        for p in &pre {
            for (k, post) in posts.iter().enumerate() {
                for a in &added {
                    // Every post-processor with a few normalizers only: enough to see trims.
                    if k > 0 && !(n == "null" || n.contains("Prepend")) {
                        continue;
                    }
                    let json = file(n, p, post, a);
                    let crate_tok = tokenizers::Tokenizer::from_bytes(json.as_bytes())
                        .unwrap_or_else(|e| panic!("the crate reads it: {e}\n{json}"));
                    let ours_tok = TextTokenizer::from_json(json.as_bytes(), smollm2_info())
                        .unwrap_or_else(|e| panic!("ours reads it: {e:?}\n{json}"));
                    for text in texts
                        .iter()
                        .copied()
                        .chain(random.iter().map(String::as_str))
                    {
                        assert_eq!(
                            ours(&ours_tok, text),
                            theirs(&crate_tok, text),
                            "{text:?}\n{json}"
                        );
                    }
                    files += 1;
                }
            }
        }
    }
    assert!(files > 300, "{files} files");
}

/// What our pipeline does not read is refused by `from_json` as needing the full library, and
/// read by `from_json_any` with the crate, to the crate's tokens.
#[test]
fn what_ours_does_not_read_goes_to_the_crate() {
    let lstrip = r#"{"id": 300, "content": "<x>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true}"#;
    let cases = [
        file(r#"{"type": "Strip", "strip_left": true, "strip_right": true}"#, "null", "null", ""),
        file("null", r#"{"type": "Whitespace"}"#, "null", ""),
        file("null", r#"{"type": "Metaspace", "replacement": "▁", "add_prefix_space": false}"#, "null", ""),
        file("null", r#"{"type": "Punctuation", "behavior": "Isolated"}"#, "null", ""),
        file("null", r#"{"type": "Split", "pattern": {"Regex": "^a"}, "behavior": "Isolated", "invert": false}"#, "null", ""),
        file("null", "null", r#"{"type": "ByteLevel", "add_prefix_space": true}"#, ""),
        file("null", "null", "null", lstrip),
        file(r#"{"type": "Prepend", "prepend": ""}"#, "null", "null", ""),
        file(r#"{"type": "Replace", "pattern": {"String": ""}, "content": "x"}"#, "null", "null", ""),
        // An added token without its id: the crate refuses the file.
        file("null", "null", "null", &added_token("<x>", true, false).replace(r#""id": 99, "#, "")),
        file("null", "null", "null", "")
            .replace(r#""type": "BPE", "dropout": null"#, r#""type": "WordLevel""#)
            .replace(r#", "merges": [["a", "b"], ["▁", "ab"], ["Ġ", "a"], ["f", "i"], ["a", "Ġ"], ["Ġ", "Ġ"]]"#, ""),
    ];
    for json in &cases {
        let err = TextTokenizer::from_json(json.as_bytes(), smollm2_info())
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(err, crate::Error::NeedsFullTokenizer(_)),
            "{err:?}\n{json}"
        );
        match tokenizers::Tokenizer::from_bytes(json.as_bytes()) {
            Ok(crate_tok) => {
                let any = TextTokenizer::from_json_any(json.as_bytes(), smollm2_info())
                    .unwrap_or_else(|e| panic!("read with the crate: {e:?}\n{json}"));
                for text in ["ab ab", " <x> ab<x>", "ﬁ 12"] {
                    assert_eq!(ours(&any, text), theirs(&crate_tok, text), "{json}");
                }
            }
            Err(_) => assert!(
                TextTokenizer::from_json_any(json.as_bytes(), smollm2_info()).is_err(),
                "{json}"
            ),
        }
    }
}

/// An added token its normalizer writes as nothing: ours does not read the file, and the crate
/// (which would panic on the first text) is not given it.
#[test]
fn an_added_token_normalized_to_nothing_is_refused() {
    let json = file(
        r#"{"type": "Replace", "pattern": {"String": "x"}, "content": ""}"#,
        "null",
        "null",
        &added_token("x", false, true),
    );
    assert!(matches!(
        TextTokenizer::from_json(json.as_bytes(), smollm2_info()),
        Err(crate::Error::NeedsFullTokenizer(_))
    ));
    let err = TextTokenizer::from_json_any(json.as_bytes(), smollm2_info())
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.msg().to_string().contains("empty once normalized"),
        "{err:?}"
    );
}

/// Written back and read again (by us and by the crate): the same tokenizer.
#[test]
fn a_tokenizer_written_back_reads_as_the_same() {
    let corpus = corpus();
    for spec in SHIPPED {
        let json = std::fs::read(data().join(format!("tokenizers/{}.json", spec.id)))
            .expect("tokenizer.json (./dev setup)");
        let first = TextTokenizer::from_json(&json, spec.info()).expect("reads");
        let written = first.to_json().expect("writes");
        let again = TextTokenizer::from_json(written.as_bytes(), spec.info()).expect("reads back");
        let crate_first = tokenizers::Tokenizer::from_bytes(&json).expect("the crate reads it");
        let crate_again =
            tokenizers::Tokenizer::from_bytes(written.as_bytes()).expect("the crate reads ours");
        assert!(
            crate_first.to_string(false).ok() == crate_again.to_string(false).ok(),
            "{}: the crate reads our file as another tokenizer",
            spec.id
        );
        for text in corpus.iter().step_by(11) {
            assert_eq!(ours(&again, text), ours(&first, text), "{}", spec.id);
        }
    }
}
