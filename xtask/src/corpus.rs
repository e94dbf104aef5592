//! The tokenizer parity corpus: at least 10,000 strings that stress pre-tokenizers and byte
//! handling, generated reproducibly from a fixed seed (no downloads, no hand-kept list).
//!
//! Categories: multilingual sentences (es, en, zh, ja, ar, hi, ru, ko), emoji with ZWJ sequences,
//! skin tones and flags, code with tabs and deep indentation, digit runs, whitespace runs,
//! combining marks, zero-width characters, very long single "words", special-token strings, and
//! random Unicode from many blocks.

use tokenmeter_core::splitmix::SplitMix;

/// The core's SplitMix64, so the corpus is the same on every machine.
struct Rng(SplitMix);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const WORDS: &[(&str, &[&str])] = &[
    (
        "es",
        &[
            "el",
            "niño",
            "comió",
            "pingüino",
            "año",
            "canción",
            "¿Dónde",
            "está?",
            "¡Hola!",
            "token",
            "número",
            "modelo",
            "vocabulario",
            "energía",
            "cómputo",
            "almacenamiento",
            "también",
            "pequeño",
            "corazón",
            "ñandú",
        ],
    ),
    (
        "en",
        &[
            "the",
            "quick",
            "brown",
            "fox",
            "doesn't",
            "I'll",
            "they've",
            "we're",
            "GPU",
            "token",
            "vocabulary",
            "price",
            "energy",
            "rent",
            "compute",
            "HELLO'S",
            "don't",
            "it's",
            "model",
            "scores",
        ],
    ),
    (
        "zh",
        &[
            "一个", "词元", "是", "模型", "处理", "的", "最小", "文本", "单位", "。", "你好",
            "世界", "！", "计算", "能源", "存储", "价格", "，", "显卡", "词汇",
        ],
    ),
    (
        "ja",
        &[
            "日本語",
            "の",
            "テキスト",
            "を",
            "試します",
            "。",
            "トークン",
            "は",
            "数字",
            "です",
            "ひらがな",
            "カタカナ",
            "漢字",
            "、",
            "モデル",
            "計算",
            "東京",
            "ラーメン",
            "「引用」",
            "ｶﾀｶﾅ",
        ],
    ),
    (
        "ar",
        &[
            "مرحبا",
            "بالعالم",
            "النموذج",
            "الرمز",
            "رقم",
            "الطاقة",
            "الحوسبة",
            "،",
            "؟",
            "هذا",
            "كتاب",
            "جميل",
            "اللغة",
            "العربية",
            "١٢٣",
            "٤٥٦",
            "من",
            "إلى",
            "في",
            "على",
        ],
    ),
    (
        "hi",
        &[
            "नमस्ते",
            "दुनिया",
            "मॉडल",
            "टोकन",
            "संख्या",
            "ऊर्जा",
            "गणना",
            "।",
            "यह",
            "एक",
            "पुस्तक",
            "है",
            "हिंदी",
            "भाषा",
            "१२३",
            "क्षत्रिय",
            "ज्ञान",
            "श्री",
            "कृपया",
            "धन्यवाद",
        ],
    ),
    (
        "ru",
        &[
            "Привет",
            "мир",
            "модель",
            "токен",
            "число",
            "энергия",
            "вычисления",
            "ёлка",
            "съешь",
            "же",
            "ещё",
            "этих",
            "мягких",
            "французских",
            "булок",
            "да",
            "выпей",
            "чаю",
            "Москва",
            "—",
        ],
    ),
    (
        "ko",
        &[
            "안녕하세요",
            "세계",
            "모델",
            "토큰",
            "숫자",
            "에너지",
            "계산",
            "저장",
            "한국어",
            "텍스트",
            "입니다",
            ".",
            "서울",
            "김치",
            "ㄱㄴㄷ",
            "가나다",
            "있습니다",
            "없다",
            "좋아요",
            "감사합니다",
        ],
    ),
];

const EMOJI: &[&str] = &[
    "👋",
    "👋🏽",
    "👍🏿",
    "👨‍👩‍👧‍👦",
    "🧑🏾‍💻",
    "❤️",
    "❤",
    "🏳️‍🌈",
    "🇪🇸",
    "🇨🇳",
    "🇯🇵",
    "🇺🇸",
    "😀",
    "🤖",
    "🧠",
    "⚡",
    "💸",
    "🫠",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "👩🏻‍🔬",
    "🤷‍♀️",
    "1️⃣",
    "©️",
    "🚀",
    "🎉",
];

const CODE: &[&str] = &[
    "def f(x):\n    return x ** 2\n",
    "fn main() {\n\tprintln!(\"{}\", 1 + 2);\n}\n",
    "if (a && b) {\n\t\tfoo(bar[i], baz);\n\t}\n",
    "for i in range(10):\n        if i % 2 == 0:\n            print(i)\n",
    "<div class=\"x\">&nbsp;</div>",
    "SELECT * FROM t WHERE id = 42;",
    "const x = {a: 1, 'b': [2, 3]};",
    "#include <stdio.h>\nint main(void) { return 0; }",
    "    \t  mixed indentation\n",
    "x=1;y=2;z=x+y//comment",
    "λx.λy.x y ∘ f ≠ g ≤ h",
    "$ echo \"héllo\" | wc -c",
];

const SPACES: &[&str] = &[
    " ", "  ", "\t", "\n", "\r\n", "\n\n", "\u{a0}", "\u{3000}", "\u{2003}", "\u{2009}", " \t ",
    "\u{85}",
];
const INVISIBLE: &[&str] = &[
    "\u{200b}", "\u{200c}", "\u{200d}", "\u{feff}", "\u{2060}", "\u{ad}",
];
const COMBINING: &[&str] = &[
    "e\u{301}",
    "n\u{303}",
    "a\u{308}",
    "o\u{302}\u{323}",
    "\u{1100}\u{1161}\u{11a8}",
    "क\u{94d}\u{937}",
    "Z\u{335}\u{31b}\u{327}",
];
const SPECIALS: &[&str] = &[
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<s>",
    "</s>",
    "<bos>",
    "<|endofprompt|>",
];

/// Unicode blocks to draw random characters from (start, length).
const BLOCKS: &[(u32, u32)] = &[
    (0x20, 0x5F),
    (0xA0, 0x60),
    (0x100, 0x180),
    (0x370, 0x90),
    (0x400, 0x100),
    (0x590, 0x70),
    (0x600, 0x100),
    (0x900, 0x80),
    (0xE00, 0x80),
    (0x1100, 0x100),
    (0x1E00, 0x100),
    (0x2000, 0x70),
    (0x2100, 0x100),
    (0x2500, 0x80),
    (0x3040, 0xC0),
    (0x4E00, 0x5000),
    (0xAC00, 0x2BA4),
    (0xFF00, 0xF0),
    (0x1D400, 0x400),
    (0x1F300, 0x300),
    (0x20000, 0x200),
    (0x0, 0x20),
    (0x7F, 0x21),
];

fn sentence(rng: &mut Rng) -> String {
    let (lang, words) = rng.pick(WORDS);
    let n = 1 + rng.below(12);
    let sep = if matches!(*lang, "zh" | "ja") {
        ""
    } else {
        " "
    };
    (0..n)
        .map(|_| *rng.pick(words))
        .collect::<Vec<_>>()
        .join(sep)
}

fn random_unicode(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .filter_map(|_| {
            let (start, n) = *rng.pick(BLOCKS);
            char::from_u32(start + rng.below(n as usize) as u32)
        })
        .collect()
}

/// Builds one string of the given category.
fn one(rng: &mut Rng, category: usize) -> String {
    match category {
        0 => sentence(rng),
        1 => {
            let n = 1 + rng.below(6);
            (0..n)
                .map(|_| format!("{}{}", rng.pick(EMOJI), rng.pick(&["", " ", "", "x"])))
                .collect()
        }
        2 => {
            let (tabs, spaces) = (rng.below(6), rng.below(17));
            let indent = "\t".repeat(tabs) + &" ".repeat(spaces);
            format!("{indent}{}", rng.pick(CODE))
        }
        3 => {
            let n = 1 + rng.below(40);
            let digits: String = (0..n)
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            format!(
                "{}{digits}{}",
                rng.pick(&["", " ", "$", "x", "٣"]),
                rng.pick(&["", ".5", ",000", " km", "%"])
            )
        }
        4 => {
            let n = 1 + rng.below(8);
            let mut s: String = (0..n).map(|_| *rng.pick(SPACES)).collect();
            if rng.below(2) == 0 {
                s = format!("{}{s}{}", sentence(rng), sentence(rng));
            }
            s
        }
        5 => format!(
            "{}{}{}",
            sentence(rng),
            rng.pick(COMBINING),
            rng.pick(INVISIBLE)
        ),
        6 => {
            let unit = *rng.pick(&[
                "a",
                "ab",
                "supercalifragilistic",
                "ñ",
                "字",
                "🙂",
                "0",
                "_",
                "-",
                ".",
            ]);
            unit.repeat(50 + rng.below(400))
        }
        7 => format!("{}{}{}", sentence(rng), rng.pick(SPECIALS), sentence(rng)),
        8 => {
            let len = 1 + rng.below(30);
            random_unicode(rng, len)
        }
        _ => format!("{} {} {}", sentence(rng), rng.pick(EMOJI), sentence(rng)),
    }
}

/// The corpus: `n` strings, the same for every run.
pub fn corpus(n: usize) -> Vec<String> {
    let mut rng = Rng(SplitMix(0x746F_6B65_6E6D_6574)); // "tokenmet"
    let mut out: Vec<String> = Vec::with_capacity(n);
    // Edge cases first, then a round-robin over the categories.
    for s in [
        "",
        " ",
        "\n",
        "a",
        "  a  ",
        "\t\t\n  \n",
        "12345678901234567890",
    ] {
        out.push(s.to_string());
    }
    while out.len() < n {
        let category = out.len() % 10;
        out.push(one(&mut rng, category));
    }
    out
}
