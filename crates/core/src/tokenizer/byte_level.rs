//! GPT-2's byte-level alphabet.
//!
//! Byte-level BPE vocabularies (GPT-2, SmolLM2, Llama 3, o200k …) store every token as a string in
//! a 256-character alphabet: each byte is drawn as one printable character, so that a space becomes
//! `Ġ` (U+0120) and a newline `Ċ` (U+010A). To show a token's *raw bytes* we map back.

/// The character that stands for `byte` in the vocabulary's strings.
pub fn byte_to_char(byte: u8) -> char {
    BYTE_TO_CHAR[usize::from(byte)]
}

/// The byte a vocabulary character stands for, if it is part of the alphabet.
pub fn char_to_byte(c: char) -> Option<u8> {
    let code = c as usize;
    match CHAR_TO_BYTE.get(code) {
        Some(&b) if b <= 255 => Some(b as u8),
        _ => None,
    }
}

/// Decodes a vocabulary string into its raw bytes; `None` if it uses characters outside the alphabet.
pub fn decode_token(piece: &str) -> Option<Vec<u8>> {
    piece.chars().map(char_to_byte).collect()
}

/// Bytes that are drawn as themselves; the other 68 are drawn as U+0100, U+0101, … in byte order.
const fn is_printable(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

const BYTE_TO_CHAR: [char; 256] = build_table();

/// Inverse of [`BYTE_TO_CHAR`], indexed by code point (all glyphs are below U+0144); 0xFFFF = none.
const CHAR_TO_BYTE: [u16; 256 + 68] = build_inverse();

const fn build_inverse() -> [u16; 256 + 68] {
    let mut inv = [0xFFFFu16; 256 + 68];
    let mut b = 0usize;
    while b < 256 {
        inv[BYTE_TO_CHAR[b] as usize] = b as u16;
        b += 1;
    }
    inv
}

const fn build_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next_extra = 256u32;
    let mut b = 0usize;
    while b < 256 {
        let code = if is_printable(b as u8) {
            b as u32
        } else {
            next_extra += 1;
            next_extra - 1
        };
        table[b] = match char::from_u32(code) {
            Some(c) => c,
            None => '\0',
        };
        b += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_and_newline_have_their_gpt2_glyphs() {
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'a'), 'a');
    }

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b), "byte {b}");
        }
        assert_eq!(char_to_byte('€'), None);
        assert_eq!(decode_token("ĠHello"), Some(b" Hello".to_vec()));
    }
}
