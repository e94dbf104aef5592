//! How a token's text is drawn, the same way everywhere on the page (token columns, candidates,
//! generated tokens, search): whitespace made visible with one notation, invisible characters
//! named, and the raw bytes of a character a token holds only in part shown as hex in a box.

use leptos::prelude::*;
use tokenmeter_core::tokenizer::Piece;

use super::i18n::{t, Lang};

/// A character drawn in place of an invisible one: a visible stand-in, or a short name in a box.
enum Shown {
    Plain(char),
    Mark(char),
    Code(&'static str, &'static str),
}

fn show(c: char) -> Shown {
    match c {
        ' ' => Shown::Mark('·'),
        '\t' => Shown::Mark('→'),
        '\n' => Shown::Mark('↵'),
        '\r' => Shown::Mark('␍'),
        '\u{a0}' => Shown::Code("NBSP", "U+00A0 no-break space"),
        '\u{202f}' => Shown::Code("NNBSP", "U+202F narrow no-break space"),
        '\u{200b}' => Shown::Code("ZWSP", "U+200B zero-width space"),
        '\u{200c}' => Shown::Code("ZWNJ", "U+200C zero-width non-joiner"),
        '\u{200d}' => Shown::Code("ZWJ", "U+200D zero-width joiner"),
        '\u{2060}' => Shown::Code("WJ", "U+2060 word joiner"),
        '\u{feff}' => Shown::Code("BOM", "U+FEFF zero-width no-break space"),
        '\u{ad}' => Shown::Code("SHY", "U+00AD soft hyphen"),
        '\u{3000}' => Shown::Code("IDSP", "U+3000 ideographic space"),
        c if ('\u{2000}'..='\u{200a}').contains(&c) => Shown::Code("SP", "a typographic space"),
        c => Shown::Plain(c),
    }
}

/// Text with whitespace made visible, as one string (for titles and accessible names).
pub fn visible_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match show(c) {
            Shown::Plain(c) | Shown::Mark(c) => out.push(c),
            Shown::Code(code, _) => {
                out.push('⟨');
                out.push_str(code);
                out.push('⟩');
            }
        }
    }
    out
}

/// A token's pieces as one string: text with visible whitespace, stray bytes as `E6 88`.
pub fn visible_pieces(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => visible_whitespace(t),
            Piece::Bytes(b) => hex(b),
        })
        .collect::<Vec<_>>()
        .join("")
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text with visible whitespace, invisible characters named in a box.
pub fn text_view(text: &str) -> impl IntoView {
    let mut runs: Vec<AnyView> = Vec::new();
    let mut plain = String::new();
    for c in text.chars() {
        match show(c) {
            Shown::Plain(c) | Shown::Mark(c) => plain.push(c),
            Shown::Code(code, name) => {
                if !plain.is_empty() {
                    runs.push(std::mem::take(&mut plain).into_any());
                }
                runs.push(view! { <span class="ws-code" title=name>{code}</span> }.into_any());
            }
        }
    }
    if !plain.is_empty() {
        runs.push(plain.into_any());
    }
    runs
}

/// A token's text and the raw bytes of characters it holds only in part (hex, in a box).
pub fn pieces_view(pieces: &[Piece], lang: Lang) -> impl IntoView {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => text_view(t).into_any(),
            Piece::Bytes(b) => view! {
                <span class="bytes" title=t(lang, "bytes of a character split across tokens")>{hex(b)}</span>
            }
            .into_any(),
        })
        .collect_view()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_invisible_characters_have_one_notation() {
        assert_eq!(visible_whitespace(" a\tb\n"), "·a→b↵");
        assert_eq!(visible_whitespace("x\u{200d}y\u{a0}z"), "x⟨ZWJ⟩y⟨NBSP⟩z");
        assert_eq!(
            visible_pieces(&[Piece::Text(" ".into()), Piece::Bytes(vec![0xE6, 0x88])]),
            "·E6 88"
        );
    }
}
