//! Each character's Unicode general category and whether it is white space — what the
//! pre-tokenizers' patterns ask (`\p{L}`, `\p{N}`, `\s`, …). The tables (`unicode_tables.rs`)
//! are written by `cargo xtask unicode` from `regex-syntax`, the parser behind the reference
//! encoders' regex engines, and checked against it by xtask's tests.

include!("unicode_tables.rs");

/// A Unicode general category, by its index in [`NAMES`] (`Lu` = 0 … `Cn` = 29).
pub type Category = u8;

/// A set of general categories: bit `1 << category`.
pub type Categories = u32;

/// The categories' short names, in index order.
pub const NAMES: [&str; 30] = [
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi",
    "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
];

/// The bit of a run's value that marks White_Space (the rest is the category).
pub const WHITE_SPACE: u8 = 0x20;

/// The values of U+0000..U+00FF, looked up directly (most text is mostly there), taken from
/// [`RUNS`] at compile time.
static LATIN1: [u8; 256] = {
    let mut table = [0; 256];
    let (mut c, mut run) = (0, 0);
    while c < 256 {
        while run + 1 < RUNS.len() && RUNS[run + 1] >> 8 <= c as u32 {
            run += 1;
        }
        table[c] = RUNS[run] as u8;
        c += 1;
    }
    table
};

/// `c`'s value: its category, `| WHITE_SPACE`.
fn value(c: char) -> u8 {
    match LATIN1.get(c as usize) {
        Some(&v) => v,
        None => search(u32::from(c)),
    }
}

/// The value of the run of [`RUNS`] holding `c`.
fn search(c: u32) -> u8 {
    // RUNS starts at U+0000, so the run is the last one starting at or before `c`.
    let i = RUNS.partition_point(|&run| run >> 8 <= c);
    RUNS[i - 1] as u8
}

/// `c`'s general category.
pub fn category(c: char) -> Category {
    value(c) & !WHITE_SPACE
}

/// Whether `c` has Unicode's White_Space property (regex `\s`).
pub fn is_white_space(c: char) -> bool {
    value(c) & WHITE_SPACE != 0
}

/// The categories a `\p{…}` name stands for: a category (`Lu`), a group (`L`), or a group's long
/// name (`Letter`). `None` for anything else (scripts, other properties).
pub fn categories(name: &str) -> Option<Categories> {
    let group = |prefix: char| {
        NAMES
            .iter()
            .enumerate()
            .filter(|(_, n)| n.starts_with(prefix))
            .fold(0, |set, (i, _)| set | 1 << i)
    };
    let long = [
        ("Letter", 'L'),
        ("Mark", 'M'),
        ("Number", 'N'),
        ("Punctuation", 'P'),
        ("Symbol", 'S'),
        ("Separator", 'Z'),
        ("Other", 'C'),
    ];
    if let Some(i) = NAMES.iter().position(|n| *n == name) {
        return Some(1 << i);
    }
    if let [c] = name.as_bytes() {
        return (b"LMNPSZC".contains(c)).then(|| group(char::from(*c)));
    }
    long.iter()
        .find(|(l, _)| *l == name)
        .map(|&(_, prefix)| group(prefix))
}

/// The characters other than `c` itself and its ASCII other case that `(?i)` matches with the
/// ASCII letter `c` (regex-syntax's simple case folding: `s` → `ſ`, `k` → `K`).
pub fn ascii_folds(c: char) -> &'static [char] {
    if c.is_ascii_alphabetic() {
        FOLDS[usize::from(c.to_ascii_lowercase() as u8 - b'a')]
    } else {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_of_known_characters() {
        let cat = |c| NAMES[usize::from(category(c))];
        assert_eq!(cat('A'), "Lu");
        assert_eq!(cat('ß'), "Ll");
        assert_eq!(cat('ǅ'), "Lt");
        assert_eq!(cat('中'), "Lo");
        assert_eq!(cat('\u{301}'), "Mn");
        assert_eq!(cat('٣'), "Nd");
        assert_eq!(cat('Ⅻ'), "Nl");
        assert_eq!(cat('½'), "No");
        assert_eq!(cat('¿'), "Po");
        assert_eq!(cat('€'), "Sc");
        assert_eq!(cat('😀'), "So");
        assert_eq!(cat('\u{200B}'), "Cf");
        assert_eq!(cat('\u{E000}'), "Co");
        assert_eq!(cat('\u{10FFFF}'), "Cn");
        assert_eq!(cat('\0'), "Cc");
        for c in [' ', '\t', '\n', '\u{85}', '\u{A0}', '\u{2028}', '\u{3000}'] {
            assert!(is_white_space(c), "{c:?}");
        }
        for c in ['\u{200B}', 'a', '\u{180E}'] {
            assert!(!is_white_space(c), "{c:?}");
        }
    }

    #[test]
    fn the_latin1_table_is_the_runs() {
        for c in 0..256 {
            assert_eq!(LATIN1[c as usize], search(c), "U+{c:04X}");
        }
    }

    #[test]
    fn names_and_groups() {
        let l = categories("L").expect("L");
        assert_eq!(l, categories("Letter").expect("Letter"));
        assert_eq!(l.count_ones(), 5);
        assert_eq!(categories("Lu"), Some(1));
        assert_eq!(categories("N").map(u32::count_ones), Some(3));
        assert_eq!(categories("P").map(u32::count_ones), Some(7));
        assert_eq!(categories("Han"), None);
        assert_eq!(categories("X"), None);
        assert_eq!(ascii_folds('s'), ['\u{17F}']);
        assert_eq!(ascii_folds('K'), ['\u{212A}']);
        assert!(ascii_folds('t').is_empty());
        assert!(ascii_folds('\'').is_empty());
    }
}
