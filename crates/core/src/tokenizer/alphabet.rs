//! How a vocabulary spells its tokens, and the raw bytes each spelling stands for: GPT-2's
//! byte-level alphabet or SentencePiece's (`▁`, byte fallback), read from the tokenizer's
//! decoder.

use super::byte_level;
use crate::{msg, Error, Result};

/// How a vocabulary spells tokens, which decides how to recover each token's raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alphabet {
    /// GPT-2's byte-level alphabet: every byte drawn as one printable character (`Ġ` = space).
    ByteLevel,
    /// SentencePiece style: `▁` stands for a space, `<0xE4>` for a lone byte (byte fallback).
    SentencePiece,
}

/// Which alphabet a tokenizer's vocabulary uses, read from its decoder's description.
pub(super) fn alphabet_of(decoder: &str) -> Result<Alphabet> {
    if decoder.contains("\"ByteLevel\"") {
        Ok(Alphabet::ByteLevel)
    } else if decoder.contains("\"ByteFallback\"") || decoder.contains('\u{2581}') {
        Ok(Alphabet::SentencePiece)
    } else {
        Err(Error::Unsupported(msg!(
            "only byte-level BPE and SentencePiece-style (▁, byte fallback) tokenizers are supported"
        )))
    }
}

/// Appends the raw bytes a vocabulary piece stands for; false (and nothing appended) if a
/// character is outside the alphabet.
pub(super) fn push_piece_bytes(piece: &str, alphabet: Alphabet, out: &mut Vec<u8>) -> bool {
    match alphabet {
        Alphabet::ByteLevel => {
            let start = out.len();
            for c in piece.chars() {
                match byte_level::char_to_byte(c) {
                    Some(b) => out.push(b),
                    None => {
                        out.truncate(start);
                        return false;
                    }
                }
            }
        }
        Alphabet::SentencePiece => {
            // "<0xE4>" is the single byte E4.
            if let Some(hex) = piece.strip_prefix("<0x").and_then(|h| h.strip_suffix('>')) {
                if hex.len() == 2 {
                    if let Ok(b) = u8::from_str_radix(hex, 16) {
                        out.push(b);
                        return true;
                    }
                }
            }
            push_spaced(piece, out);
        }
    }
    true
}

/// Appends SentencePiece text with every `▁` a space.
pub(super) fn push_spaced(piece: &str, out: &mut Vec<u8>) {
    for c in piece.chars() {
        let c = if c == '\u{2581}' { ' ' } else { c };
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
}
