//! A vocabulary packed for the page: the same tokenizer as its `tokenizer.json`, with the two
//! large lists in binary so that reading them is copying, not parsing.
//!
//! `cargo xtask data` writes one per shipped vocabulary (`vocab/<id>.vocab.gz`, after checking
//! that it reads back as the very tokenizer its `tokenizer.json` gives). A `tokenizer.json` spends
//! most of its reading time in JSON: Gemma 3's 262,144 pieces and 514,906 merges, each a string
//! to scan, unescape and look up. Here the pieces are lengths and bytes in ID order, and each merge
//! is already its numbers.
//!
//! Layout (every number a LEB128 varint: 7 bits a byte, low bits first, the high bit set on all
//! bytes but the last — most numbers here take one to three bytes):
//!
//! ```text
//! "tokenmeter vocab 1\n"
//! header length, header      the tokenizer.json without the model's vocab and merges (JSON)
//! n                          one more than the largest ID
//! n piece lengths            each length + 1 in bytes; 0 for an ID the vocabulary does not have
//! the pieces' bytes          UTF-8, one after another in ID order
//! m                          the number of merges
//! m × (rank step, left, right, result step)   in rank order; a step is the difference from the
//!                            previous merge's value (the result's zigzagged: it may go down)
//! ```

use serde::Deserialize;

use super::bpe::{Bpe, Options};
use super::pipeline::{Parts, Pipeline};
use crate::{msg, Error, Result};

const MAGIC: &[u8] = b"tokenmeter vocab 1\n";

/// Packs a tokenizer read by our own pipeline.
pub(super) fn write(pipeline: &Pipeline) -> Result<Vec<u8>> {
    let bpe = &pipeline.bpe;
    let header = pipeline.to_file(false)?;
    let mut out = MAGIC.to_vec();
    put(&mut out, header.len() as u64);
    out.extend_from_slice(&header);
    let limit = bpe.id_limit();
    put(&mut out, limit as u64);
    for id in 0..limit as u32 {
        put(&mut out, bpe.piece(id).map_or(0, |p| p.len() as u64 + 1));
    }
    for id in 0..limit as u32 {
        out.extend_from_slice(bpe.piece(id).unwrap_or_default().as_bytes());
    }
    let merges = bpe.ranked_merges();
    put(&mut out, merges.len() as u64);
    let (mut rank, mut result) = (0u32, 0u32);
    for (r, left, right, made) in merges {
        put(&mut out, u64::from(r - rank)); // sorted: never negative
        put(&mut out, u64::from(left));
        put(&mut out, u64::from(right));
        put(&mut out, zigzag(i64::from(made) - i64::from(result)));
        (rank, result) = (r, made);
    }
    Ok(out)
}

/// Appends `n` as a LEB128 varint.
fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A signed step as an unsigned number: 0, -1, 1, -2, 2 … → 0, 1, 2, 3, 4 …
fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    (n >> 1) as i64 ^ -((n & 1) as i64)
}

/// The tokenizer.json's parts besides the model's lists.
#[derive(Deserialize)]
struct Header {
    #[serde(flatten)]
    parts: Parts,
    model: ModelHeader,
}

#[derive(Deserialize)]
struct ModelHeader {
    dropout: Option<f32>,
    unk_token: Option<String>,
    continuing_subword_prefix: Option<String>,
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    fuse_unk: bool,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(default)]
    ignore_merges: bool,
}

/// Reads a packed vocabulary, every count checked against what is left of the bytes before
/// anything is sized by it.
pub(super) fn read(bytes: &[u8]) -> Result<(Bpe, Parts)> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(bad("not a packed tokenmeter vocabulary"));
    }
    let header_len = r.number()?;
    let header = r.take(header_len)?;
    let header: Header = serde_json::from_slice(header)
        .map_err(|e| Error::Tokenizer(msg!("packed vocabulary: {}", e.to_string())))?;

    // Each ID takes at least one byte.
    let limit = r.number()?;
    if limit > r.left() {
        return Err(bad("the piece count runs past the file"));
    }
    let lengths: Vec<usize> = (0..limit).map(|_| r.number()).collect::<Result<_>>()?;
    // Checked: on wasm32 a crafted list of lengths could otherwise wrap `usize`.
    let total = lengths
        .iter()
        .try_fold(0usize, |sum, &n| sum.checked_add(n.saturating_sub(1)))
        .ok_or_else(|| bad("the pieces run past the file"))?;
    let text = std::str::from_utf8(r.take(total)?)
        .map_err(|_| bad("a piece is not UTF-8"))?
        .to_owned();
    let mut spans = Vec::with_capacity(limit);
    let mut at = 0usize;
    for n in lengths {
        if n == 0 {
            spans.push(None);
            continue;
        }
        let end = at + n - 1; // at most `total`, which the file held (the sum was checked)
        if end > text.len() || !text.is_char_boundary(end) {
            return Err(bad("a piece is not UTF-8"));
        }
        let span = u32::try_from(at).ok().zip(u32::try_from(end).ok());
        spans.push(Some(span.ok_or_else(|| bad("the pieces are too long"))?));
        at = end;
    }

    // Each merge takes at least four bytes.
    let count = r.number()?;
    if count > r.left() / 4 {
        return Err(bad("the merge count runs past the file"));
    }
    let id = |n: i64| u32::try_from(n).map_err(|_| bad("a merge names an impossible ID"));
    let mut merges = Vec::with_capacity(count);
    let (mut rank, mut result) = (0i64, 0i64);
    for _ in 0..count {
        rank += r.number()? as i64;
        let (left, right) = (r.number()? as i64, r.number()? as i64);
        result += unzigzag(r.number()? as u64);
        merges.push([id(rank)?, id(left)?, id(right)?, id(result)?]);
    }
    if r.left() != 0 {
        return Err(bad("bytes after the merges"));
    }

    let m = header.model;
    let options = Options {
        unk_token: m.unk_token,
        continuing_subword_prefix: m.continuing_subword_prefix,
        end_of_word_suffix: m.end_of_word_suffix,
        fuse_unk: m.fuse_unk,
        byte_fallback: m.byte_fallback,
        ignore_merges: m.ignore_merges,
        dropout: m.dropout,
    };
    let bpe = Bpe::from_lists(text, spans, &merges, options)?;
    Ok((bpe, header.parts))
}

fn bad(why: &str) -> Error {
    Error::Tokenizer(msg!("packed vocabulary: {}", why.to_string()))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err(bad("the file ends early"));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    /// One LEB128 varint, at most 2^32 - 1 (every count and ID here fits a `u32`).
    fn number(&mut self) -> Result<usize> {
        let mut n: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.take(1)?[0];
            n |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(n)
                    .ok()
                    .filter(|&n| n <= u32::MAX as usize)
                    .ok_or_else(|| bad("a number is too large"));
            }
        }
        Err(bad("a number is too long"))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::super::TextTokenizer;
    use super::*;

    fn data() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
    }

    /// Every shipped vocabulary packed and read back is the tokenizer its tokenizer.json gives:
    /// the same tokenizer.json written out (vocabulary, merges in rank order, added tokens, the
    /// other parts), the same IDs and offsets on the parity corpus.
    #[test]
    fn every_shipped_vocabulary_reads_back_packed_as_the_same_tokenizer() {
        let corpus =
            std::fs::read(data().join("parity/corpus.json")).expect("corpus (./dev setup)");
        let corpus: Vec<String> = serde_json::from_slice(&corpus).expect("corpus JSON");
        for spec in super::super::registry::SHIPPED {
            let json = std::fs::read(data().join(format!("tokenizers/{}.json", spec.id)))
                .expect("tokenizer.json (./dev setup)");
            let from_json = TextTokenizer::from_json(&json, spec.info()).expect("json");
            let packed = from_json.to_packed().expect("pack");
            let back = TextTokenizer::from_packed(&packed, spec.info()).expect("read packed");
            assert!(
                back.to_json().ok() == from_json.to_json().ok(),
                "{}: not the same tokenizer",
                spec.id
            );
            for text in corpus.iter().step_by(7) {
                assert_eq!(
                    back.tokenize(text).expect("encode"),
                    from_json.tokenize(text).expect("encode"),
                    "{}: {text:?}",
                    spec.id
                );
            }
        }
    }

    /// A broken or hostile file is refused with a reason, never a panic or a huge allocation.
    #[test]
    fn broken_files_are_refused() {
        let json = std::fs::read(data().join("tokenizers/smollm2.json")).expect("smollm2.json");
        let packed = TextTokenizer::from_json(&json, super::super::smollm2_info())
            .expect("json")
            .to_packed()
            .expect("pack");
        // Cut anywhere: an error.
        for cut in (0..packed.len()).step_by(packed.len() / 97) {
            assert!(read(&packed[..cut]).is_err(), "cut at {cut}");
        }
        assert!(read(&[packed.as_slice(), &[0]].concat()).is_err());
        let mut wrong = packed.clone();
        wrong[0] = b'T';
        assert!(read(&wrong).is_err());
        // Counts far beyond the file: the piece count is the number after the header.
        let mut r = Reader {
            bytes: &packed,
            at: MAGIC.len(),
        };
        let header_len = r.number().expect("header length");
        let count_at = r.at + header_len;
        let huge = [
            &packed[..count_at],
            &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
            &packed[count_at..],
        ]
        .concat();
        let err = read(&huge).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("runs past"), "{err}");
        // A merge naming an ID the vocabulary lacks: the last merge's result stepped far up.
        let mut bad_merge = packed.clone();
        bad_merge.pop();
        bad_merge.extend_from_slice(&[0xFE, 0xFF, 0x7F]);
        let err = read(&bad_merge).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("does not have"), "{err}");
        // A merge whose result is the neighbouring ID: not its two pieces joined.
        let mut start = packed.len() - 1;
        while start > 0 && packed[start - 1] & 0x80 != 0 {
            start -= 1;
        }
        let step = Reader {
            bytes: &packed[start..],
            at: 0,
        }
        .number()
        .expect("the last merge's result step") as u64;
        let mut neighbour = packed[..start].to_vec();
        put(&mut neighbour, if step >= 2 { step - 2 } else { step + 2 });
        let err = read(&neighbour).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("does not make its two pieces"), "{err}");
    }
}
