use super::*;
use crate::splitmix::SplitMix;
use tokenizers::utils::SysRegex;

/// The split patterns of the shipped tokenizers (and GPT-2's, inside the ByteLevel
/// pre-tokenizer of SmolLM2 and claude-legacy).
const SHIPPED: [&str; 8] = [
    // GPT-2 (ByteLevel's own)
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    // cl100k_base, Llama 3
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    // o200k_base, o200k_harmony
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    // Mistral Nemo
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    // Qwen 2.5, Qwen 3
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    // DeepSeek V3's three
    r"\p{N}{1,3}",
    "[\u{4e00}-\u{9fa5}\u{3040}-\u{309f}\u{30a0}-\u{30ff}]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
];

fn matches(pattern: &str, text: &str) -> Vec<String> {
    Pattern::new(pattern)
        .expect("supported")
        .find_iter(text)
        .expect("in time")
        .into_iter()
        .map(|(a, b)| text[a..b].to_string())
        .collect()
}

fn reference(re: &SysRegex, text: &str) -> Vec<(usize, usize)> {
    re.find_iter(text).collect()
}

#[test]
fn backtracking_semantics() {
    // Alternatives in order, not the longest.
    assert_eq!(matches("a|ab", "ab"), ["a"]);
    // Greedy, giving back what the rest needs.
    assert_eq!(matches("a+ab", "aaab"), ["aaab"]);
    assert_eq!(matches(r"\s+(?!\S)|\s+", "a   b"), ["  ", " "]);
    assert_eq!(matches(r"\s+(?!\S)|\s+", "a   "), ["   "]);
    assert_eq!(matches(r"x(?=y)", "xz xy"), ["x"]);
    assert_eq!(matches(r"\p{N}{1,3}", "1234567"), ["123", "456", "7"]);
    assert_eq!(matches(r"(?:ab){2}", "abababab"), ["abab", "abab"]);
    // `<` and `>` are literals inside a class (outside, fancy-regex's word boundaries).
    assert_eq!(matches(r"[\<\>]+|a", "a<>"), ["a", "<>"]);
    assert_eq!(matches(r"(?i:'s|'t)", "'S 't 'ſ 'x"), ["'S", "'t", "'ſ"]);
    assert_eq!(
        matches(r"[^\r\n\p{L}\p{N}]?\p{L}+", " héllo,wörld"),
        [" héllo", ",wörld"]
    );
    assert_eq!(matches(r"[\x{41}-\x{43}\-]+", "ABD-C"), ["AB", "-C"]);
    assert_eq!(matches(r"\u00e9|\U0001F600", "é😀"), ["é", "😀"]);
    assert_eq!(matches(r"[]a]+", "]a]b"), ["]a]"]);
    assert_eq!(matches(r"[a-]+", "-a-"), ["-a-"]);
    assert_eq!(matches(r".+", "ab\ncd"), ["ab", "cd"]);
    assert_eq!(matches(r"\d+", "a٣4"), ["٣4"]);
    assert_eq!(matches(r"[\P{L}\P{N}]+", "a1-"), ["a1-"]);
    assert_eq!(matches(r"\PL+", "ab12cd"), ["12"]);
}

#[test]
fn what_it_leaves_to_another_engine() {
    for p in [
        r"^a",
        r"a$",
        r"\w+",
        r"\bx",
        r"\p{Han}",
        r"a*?",
        r"a++",
        r"(?<=a)b",
        r"(?i)a",
        r"(?i:é)",
        r"(?i:[a-z])",
        r"(?i:\p{Lu})",
        r"(?:ab)+",
        r"(?:a*){1,9}b",
        r"(?:x(?=a+)){2}",
        // How an iteration matching nothing counts differs between engines.
        r"(?:a|){1,2}b",
        r"x(?:|a)?",
        r"(){2}a",
        // Read otherwise by the engines: word boundaries, `{` as a literal, a leading `]` that
        // starts no range, a set difference.
        r"\<a",
        r"a\>",
        r"a{ 2}",
        r"a{2 }",
        r"a{+2}",
        r"a{2, }",
        r"[]-a]",
        r"[!--]",
        r"[\x{21}--]",
        r"[[:alpha:]]",
        r"[a&&b]",
        r"a*",
        r"(?!x)",
        r"(a",
        r"a)",
        r"[ab",
        r"[z-a]",
        r"a{2,1}",
        r"\p{L",
    ] {
        assert!(Pattern::new(p).is_err(), "{p} should be left to the crate");
    }
    // More nodes than it takes on.
    let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
    assert!(Pattern::new(&words.join("|")).is_err());
    // A match through more nodes in a row than the matcher's recursion may take.
    assert!(Pattern::new(&"ab".repeat(300)).is_err());
    assert!(Pattern::new(r"(?:(?:\p{N}{3}x){64}y){64}").is_err());
    for p in SHIPPED {
        Pattern::new(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
}

/// Text drawn from characters that sit on the patterns' edges: letters of every case class,
/// marks, digits of several scripts, punctuation, symbols, every kind of white space, CJK and
/// kana (DeepSeek's ranges and their neighbours), apostrophes and their look-alikes.
fn random_text(rng: &mut SplitMix, len: usize) -> String {
    const POOL: &[char] = &[
        'a',
        'Z',
        's',
        'S',
        't',
        'd',
        'ſ',
        'K',
        'é',
        'É',
        'ß',
        'ǅ',
        'ʰ',
        '中',
        'ぁ',
        'ア',
        'ー',
        '\u{4DFF}',
        '\u{9FA6}',
        '\u{301}',
        '\u{903}',
        '0',
        '9',
        '٣',
        'Ⅻ',
        '½',
        '\'',
        '’',
        '"',
        ',',
        '.',
        '-',
        '/',
        '!',
        '¿',
        '$',
        '€',
        '+',
        '😀',
        '\u{200D}',
        '\u{FE0F}',
        ' ',
        ' ',
        ' ',
        '\t',
        '\n',
        '\r',
        '\u{A0}',
        '\u{2028}',
        '\u{3000}',
        '\u{85}',
        '\u{B}',
        '\u{200B}',
        '\0',
        '\u{E000}',
        '\u{10FFFF}',
        '_',
        '`',
        '[',
        ']',
        '\\',
        'm',
        'l',
        'v',
        'e',
        'r',
    ];
    (0..len)
        .map(|_| POOL[(rng.next_u64() % POOL.len() as u64) as usize])
        .collect()
}

/// The same matches as fancy-regex (the engine of the `tokenizers` crate and tiktoken) on random
/// text and on the parity corpus, for every shipped pattern.
#[test]
fn same_matches_as_fancy_regex_on_the_shipped_patterns() {
    let corpus_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/parity/corpus.json");
    let corpus: Vec<String> = std::fs::read(corpus_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .expect("data/parity/corpus.json (run ./dev setup)");
    let mut rng = SplitMix(7);
    let random: Vec<String> = (0..3000)
        .map(|i| random_text(&mut rng, 1 + i % 40))
        .collect();
    for p in SHIPPED {
        let ours = Pattern::new(p).expect("supported");
        let theirs = SysRegex::new(p).expect("fancy-regex reads it");
        for text in corpus.iter().chain(&random) {
            assert_eq!(
                ours.find_iter(text).expect("in time"),
                reference(&theirs, text),
                "{p} on {text:?}"
            );
        }
    }
}

/// The shipped patterns stay far below the step limit, even on long runs of one kind.
#[test]
fn shipped_patterns_take_few_steps_per_byte() {
    let mut rng = SplitMix(11);
    let mut texts: Vec<String> = (0..200).map(|_| random_text(&mut rng, 400)).collect();
    for run in ["A", "a", "中", " ", "\n", "1", "!", "\u{301}", "ǅ", " \n"] {
        texts.push(run.repeat(5000));
        texts.push(format!("{}x", run.repeat(5000)));
    }
    for p in SHIPPED {
        let pattern = Pattern::new(p).expect("supported");
        let worst = texts
            .iter()
            .map(|t| pattern.steps(t) as f64 / t.len() as f64)
            .fold(0.0, f64::max);
        assert!(worst < 32.0, "{p}: {worst:.1} steps per byte");
    }
}

/// A pattern that backtracks without end gives up with an error, within its step budget (the
/// work is counted, not timed: past the limit only the character scan under way finishes).
#[test]
fn runaway_backtracking_gives_up() {
    let p = Pattern::new(r"\p{L}*\p{L}*\p{L}*\p{L}*x").expect("supported");
    let text = "a".repeat(20_000);
    assert_eq!(p.find_iter(&text), Err(TooSlow));
    let limit = STEPS_MIN + p.steps_per_byte() * text.len() as u64;
    let (_, steps) = p.search(&text, limit);
    assert!(
        steps > limit && steps <= limit + text.len() as u64 + 1,
        "{steps} steps"
    );
    // Short text is fine.
    assert_eq!(p.find_iter("aax").expect("in time"), [(0, 3)]);
}

/// A list of alternatives (a word list) is tried one by one at every position; the budget
/// grows with the pattern, so it is not taken for a runaway. A far longer list stays the
/// crate's.
#[test]
fn a_word_list_pattern_is_not_a_runaway() {
    let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
    let p = Pattern::new(&words.join("|")).expect("supported");
    let text = "w199 ".repeat(20_000);
    let found = p.find_iter(&text).expect("in time");
    assert_eq!(found.len(), 20_000);
    // The first alternative that matches ("w1"), not the longest, as fancy-regex has it.
    assert_eq!(found[1], (5, 7));
    let re = SysRegex::new(&words.join("|")).expect("fancy-regex reads it");
    assert_eq!(found[..100], reference(&re, &text[..500]));
}

/// Random patterns of the syntax this matcher reads (and some it refuses), each compared with
/// fancy-regex on random texts: whatever it accepts, it must match exactly as the reference
/// does.
#[test]
fn random_patterns_match_as_fancy_regex_does() {
    fn pick<'a>(rng: &mut SplitMix, xs: &[&'a str]) -> &'a str {
        xs[(rng.next_u64() % xs.len() as u64) as usize]
    }
    fn below(rng: &mut SplitMix, n: u64) -> u64 {
        rng.next_u64() % n
    }
    fn atom(rng: &mut SplitMix, depth: u32, fold: bool) -> (String, bool) {
        const LITERALS: &[&str] = &["a", "b", "S", "s", "k", "'", " ", "-", "1", "é"];
        const ESCAPES: &[&str] = &[
            r"\s",
            r"\S",
            r"\d",
            r"\D",
            r"\p{L}",
            r"\p{Lu}",
            r"\pN",
            r"\P{L}",
            r"\p{P}",
            r"\p{Letter}",
            r"\n",
            r"\r",
            r"\t",
            r"\-",
            r"\.",
            r"\x61",
            r"\x{e9}",
            r"\u0027",
        ];
        const CLASSES: &[&str] = &[
            "[a-c]",
            "[^a-c]",
            r"[\s\p{L}]",
            r"[^\r\n\p{L}\p{N}]",
            "[-a]",
            "[a-]",
            r"[\-a]",
            r"[\p{Lu}\p{Ll}]",
            "[0-9]",
            r"[^\S\n]",
            "[]a]",
            r"[\x41-\x5A]",
            r"[\P{L}1]",
            "[é-ü]",
        ];
        let kind = below(rng, if depth > 2 { 4 } else { 8 });
        // Inside (?i:…) mostly what it reads there (ASCII literals), sometimes what it refuses.
        if fold && kind < 4 && below(rng, 4) > 0 {
            return (
                pick(rng, &["a", "b", "S", "s", "k", "'", "-"]).to_string(),
                true,
            );
        }
        match kind {
            0 | 1 => {
                let l = pick(rng, LITERALS);
                (l.to_string(), true)
            }
            2 => (pick(rng, ESCAPES).to_string(), true),
            3 => (pick(rng, CLASSES).to_string(), true),
            4 => (format!("(?:{})", alternation(rng, depth + 1, fold)), false),
            5 => (format!("(?i:{})", alternation(rng, depth + 1, true)), false),
            6 => (
                format!(
                    "(?{}{})",
                    pick(rng, &["=", "!"]),
                    alternation(rng, depth + 1, fold)
                ),
                false,
            ),
            _ => (".".to_string(), true),
        }
    }
    fn concatenation(rng: &mut SplitMix, depth: u32, fold: bool) -> String {
        let mut out = String::new();
        for _ in 0..1 + below(rng, 3) {
            let (a, single) = atom(rng, depth, fold);
            out.push_str(&a);
            let q = if single {
                pick(
                    rng,
                    &["", "", "?", "*", "+", "{1,2}", "{2}", "{0,3}", "{2,}"],
                )
            } else {
                pick(rng, &["", "", "", "?", "{1,2}", "{0,2}"])
            };
            out.push_str(q);
        }
        out
    }
    fn alternation(rng: &mut SplitMix, depth: u32, fold: bool) -> String {
        (0..1 + below(rng, 3))
            .map(|_| concatenation(rng, depth, fold))
            .collect::<Vec<_>>()
            .join("|")
    }

    let mut rng = SplitMix(2024);
    let texts: Vec<String> = (0..24).map(|i| random_text(&mut rng, i % 16)).collect();
    let (mut accepted, mut total, mut gave_up) = (0, 0, 0);
    for _ in 0..4000 {
        let source = alternation(&mut rng, 0, false);
        let Ok(theirs) = SysRegex::new(&source) else {
            continue;
        };
        total += 1;
        let Ok(ours) = Pattern::new(&source) else {
            continue;
        };
        accepted += 1;
        for text in &texts {
            // Giving up is an error the user sees, never a different answer; it stays rare.
            match ours.find_iter(text) {
                Ok(found) => assert_eq!(found, reference(&theirs, text), "{source:?} on {text:?}"),
                Err(TooSlow) => gave_up += 1,
            }
        }
    }
    assert!(
        gave_up * 1000 < accepted * texts.len(),
        "gave up {gave_up} times"
    );
    assert!(
        accepted * 3 > total,
        "only {accepted} of {total} patterns read"
    );
    eprintln!("{accepted} of {total} patterns read and compared; gave up {gave_up} times");
}
