//! Reading GGUF, the single-file format llama.cpp uses for a model: a header of typed key/value
//! metadata (architecture, hyper-parameters, the whole tokenizer) followed by the tensors, each in
//! its own quantized block format.
//!
//! candle's reader does the byte-level work and bounds-checks every length; this module turns its
//! errors into messages a user can act on and offers typed getters for the metadata.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::QTensor;
use candle_core::Device;

use crate::msg::Msg;
use crate::{msg, Error, Result};

/// A parsed GGUF header: metadata plus where each tensor lives. Tensors are read on demand.
pub struct Gguf {
    content: Content,
}

impl Gguf {
    /// Parses the header. Reads only the metadata and tensor table, not the tensor data.
    ///
    /// A file is untrusted input: before candle parses it, [`check_header`] walks the header
    /// with every length checked against the bytes left (so no count in the file can ask for
    /// more memory than the file's own size) and refuses values candle would trip on (an
    /// alignment of 0); afterwards every tensor must fit inside the file.
    pub fn read<R: Read + Seek>(reader: &mut R) -> Result<Self> {
        let gguf = Self::read_head(reader)?;
        let content = &gguf.content;
        let file_size = reader.seek(SeekFrom::End(0)).map_err(io)?;
        for (name, t) in &content.tensor_infos {
            let bytes = tensor_bytes(t).ok_or_else(|| {
                Error::InvalidGguf(msg!("tensor '{}' has an impossible shape", name))
            })?;
            let end = content
                .tensor_data_offset
                .checked_add(t.offset)
                .and_then(|s| s.checked_add(bytes));
            if end.is_none_or(|e| e > file_size) {
                return Err(Error::InvalidGguf(msg!(
                    "tensor '{}' lies beyond the end of the file (truncated or incomplete download)",
                    name
                )));
            }
        }
        Ok(gguf)
    }

    /// The header only, checked as in [`Gguf::read`] but without requiring the tensors' data:
    /// for reading a tokenizer from the first megabytes of a large model file.
    pub fn read_head<R: Read + Seek>(reader: &mut R) -> Result<Self> {
        let start = reader.stream_position().map_err(io)?;
        check_header(reader)?;
        reader.seek(SeekFrom::Start(start)).map_err(io)?;
        let content = Content::read(reader).map_err(|e| Error::InvalidGguf(describe(&e)))?;
        Ok(Self { content })
    }

    /// The typed metadata entries.
    pub fn metadata(&self) -> Metadata<'_> {
        Metadata(&self.content.metadata)
    }

    /// Every tensor's name, ggml type and number of values (the header's table; checked against
    /// the file by [`Gguf::read`]).
    pub fn tensors(&self) -> impl Iterator<Item = (&str, candle_core::quantized::GgmlDType, u64)> {
        self.content.tensor_infos.iter().map(|(name, t)| {
            let n = t.shape.dims().iter().map(|&d| d as u64).product();
            (name.as_str(), t.ggml_dtype, n)
        })
    }

    /// Whether a tensor of this name exists.
    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Writes a GGUF with this file's metadata and no tensors: a "vocab-only" file like
    /// llama.cpp's `ggml-vocab-*.gguf`, enough to rebuild the tokenizer (a few MB, not 98).
    pub fn write_metadata_only<W: std::io::Write + Seek>(&self, w: &mut W) -> Result<()> {
        let mut entries: Vec<(&str, &Value)> = self
            .content
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        entries.sort_by_key(|(k, _)| *k); // reproducible output
        candle_core::quantized::gguf_file::write(w, &entries, &[])
            .map_err(|e| Error::InvalidGguf(msg!("cannot write GGUF: {}", describe(&e))))
    }

    /// Reads one tensor's quantized blocks from `reader` onto the CPU.
    pub fn tensor<R: Read + Seek>(&self, reader: &mut R, name: &str) -> Result<QTensor> {
        if !self.has_tensor(name) {
            return Err(Error::InvalidGguf(msg!(
                "the file has no tensor '{}'",
                name
            )));
        }
        self.content
            .tensor(reader, name, &Device::Cpu)
            .map_err(|e| Error::InvalidGguf(msg!("tensor '{}': {}", name, describe(&e))))
    }
}

fn io(e: std::io::Error) -> Error {
    Error::InvalidGguf(msg!("cannot read the file: {}", e.to_string()))
}

/// Bytes a tensor's blocks take, if its shape is possible: dimensions that multiply without
/// overflow into at least one whole block. (An empty tensor is refused too: candle would view
/// its zero bytes as a slice of blocks through a dangling, misaligned pointer.)
fn tensor_bytes(t: &candle_core::quantized::gguf_file::TensorInfo) -> Option<u64> {
    let elems = t
        .shape
        .dims()
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))?;
    let block = t.ggml_dtype.block_size() as u64;
    (elems > 0 && elems % block == 0)
        .then(|| (elems / block).checked_mul(t.ggml_dtype.type_size() as u64))?
}

/// Largest alignment accepted (llama.cpp writes 32; any power of two up to this is fine).
const MAX_ALIGNMENT: u64 = 1 << 20;

/// Walks a GGUF header (v2/v3) without keeping it, checking every length against the bytes
/// left and `general.alignment` (a power of two, not 0).
pub fn check_header<R: Read + Seek>(r: &mut R) -> Result<()> {
    let start = r.stream_position().map_err(io)?;
    let size = r.seek(SeekFrom::End(0)).map_err(io)?;
    r.seek(SeekFrom::Start(start)).map_err(io)?;
    let ends_early = || {
        Error::InvalidGguf(msg!(
            "the file ends early (truncated or incomplete download)"
        ))
    };
    let mut buf = [0u8; 8];
    let mut read = |r: &mut R, n: usize| -> Result<u64> {
        r.read_exact(&mut buf[..n]).map_err(|_| ends_early())?;
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&buf[..n]);
        Ok(u64::from_le_bytes(b))
    };
    let left =
        |r: &mut R| -> Result<u64> { Ok(size.saturating_sub(r.stream_position().map_err(io)?)) };
    if read(r, 4)? != 0x4655_4747 {
        return Err(Error::InvalidGguf(msg!(
            "it does not start with the GGUF signature"
        )));
    }
    let version = read(r, 4)?;
    match version {
        2 | 3 => {}
        // Version 1 (before August 2023) and later versions are real formats this reader does
        // not know; a number far beyond them is damage, not a version.
        1..=255 => {
            return Err(Error::Unsupported(msg!(
                "GGUF version {} (this reader knows versions 2 and 3)",
                version
            )))
        }
        _ => {
            return Err(Error::InvalidGguf(msg!(
                "its version number {} is not a GGUF version",
                version
            )))
        }
    }
    let _tensors = read(r, 8)?;
    let entries = read(r, 8)?;
    if entries > left(r)? / 13 {
        return Err(Error::InvalidGguf(msg!(
            "the header names more entries than the file holds"
        )));
    }
    // Skips one value of `kind`, returning it when it is a small unsigned or signed integer.
    fn skip<R: Read + Seek>(
        r: &mut R,
        kind: u64,
        size: u64,
        depth: u32,
        read: &mut dyn FnMut(&mut R, usize) -> Result<u64>,
    ) -> Result<Option<i64>> {
        let fixed = |k: u64| match k {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        };
        let left = |r: &mut R| -> Result<u64> {
            Ok(size.saturating_sub(r.stream_position().map_err(io)?))
        };
        let beyond = || Error::InvalidGguf(msg!("a metadata value runs past the end of the file"));
        match kind {
            8 => {
                let len = read(r, 8)?;
                if len > left(r)? {
                    return Err(beyond());
                }
                r.seek(SeekFrom::Current(len as i64)).map_err(io)?;
                Ok(None)
            }
            9 => {
                if depth > 4 {
                    return Err(Error::InvalidGguf(msg!(
                        "metadata arrays are nested too deeply"
                    )));
                }
                let elem = read(r, 4)?;
                let count = read(r, 8)?;
                match fixed(elem) {
                    Some(n) => {
                        let bytes = count.checked_mul(n).ok_or_else(beyond)?;
                        if bytes > left(r)? {
                            return Err(beyond());
                        }
                        r.seek(SeekFrom::Current(bytes as i64)).map_err(io)?;
                    }
                    None => {
                        // Strings and arrays take at least 8 bytes each.
                        if count > left(r)? / 8 {
                            return Err(beyond());
                        }
                        for _ in 0..count {
                            skip(r, elem, size, depth + 1, read)?;
                        }
                    }
                }
                Ok(None)
            }
            k => match fixed(k) {
                Some(n) => {
                    let v = read(r, n as usize)?;
                    Ok(match k {
                        0 | 2 | 4 | 10 => Some(v as i64),
                        1 => Some(v as u8 as i8 as i64),
                        3 => Some(v as u16 as i16 as i64),
                        5 => Some(v as u32 as i32 as i64),
                        11 => Some(v as i64),
                        _ => None,
                    })
                }
                None => Err(Error::InvalidGguf(msg!(
                    "unknown metadata value type {}",
                    k
                ))),
            },
        }
    }
    for _ in 0..entries {
        let len = read(r, 8)?;
        if len > 65_536 || len > left(r)? {
            return Err(Error::InvalidGguf(msg!(
                "a metadata key runs past the end of the file"
            )));
        }
        let mut key = vec![0u8; len as usize];
        r.read_exact(&mut key).map_err(|_| ends_early())?;
        let kind = read(r, 4)?;
        let value = skip(r, kind, size, 0, &mut read)?;
        if key == b"general.alignment" {
            let ok = value.is_some_and(|a| {
                a > 0 && (a as u64).is_power_of_two() && (a as u64) <= MAX_ALIGNMENT
            });
            if !ok {
                return Err(Error::InvalidGguf(msg!(
                    "general.alignment must be a power of two from 1 to {}",
                    MAX_ALIGNMENT
                )));
            }
        }
    }
    Ok(())
}

/// candle's messages for I/O errors ("failed to fill whole buffer") mean the file ended early.
fn describe(e: &candle_core::Error) -> Msg {
    let text = crate::error::candle_message(e);
    if text.contains("failed to fill whole buffer") || text.contains("UnexpectedEof") {
        msg!("the file ends early (truncated or incomplete download)")
    } else if text.contains("remaining") {
        msg!(
            "the file ends early (truncated or incomplete download): {}",
            text
        )
    } else if text.contains("unknown magic") {
        msg!("it does not start with the GGUF signature")
    } else {
        msg!("{}", text)
    }
}

/// Typed access to GGUF metadata, with errors that name the missing key.
#[derive(Clone, Copy)]
pub struct Metadata<'a>(&'a HashMap<String, Value>);

impl<'a> Metadata<'a> {
    fn get(&self, key: &str) -> Result<&'a Value> {
        self.0
            .get(key)
            .ok_or_else(|| Error::MissingKey(key.to_string()))
    }

    fn wrong_type(key: &str, want: &str) -> Error {
        Error::InvalidGguf(msg!("'{}' should be {}", key, want))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn string(&self, key: &str) -> Result<&'a str> {
        match self.get(key)? {
            Value::String(s) => Ok(s),
            _ => Err(Self::wrong_type(key, "a string")),
        }
    }

    /// Any unsigned or non-negative integer type, as `u32`.
    pub fn u32(&self, key: &str) -> Result<u32> {
        let v = self.get(key)?;
        let n: Option<u64> = match v {
            Value::U8(x) => Some(u64::from(*x)),
            Value::U16(x) => Some(u64::from(*x)),
            Value::U32(x) => Some(u64::from(*x)),
            Value::U64(x) => Some(*x),
            Value::I8(x) => u64::try_from(*x).ok(),
            Value::I16(x) => u64::try_from(*x).ok(),
            Value::I32(x) => u64::try_from(*x).ok(),
            Value::I64(x) => u64::try_from(*x).ok(),
            _ => None,
        };
        n.and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| Self::wrong_type(key, "a non-negative 32-bit integer"))
    }

    pub fn f32(&self, key: &str) -> Result<f32> {
        match self.get(key)? {
            Value::F32(x) => Ok(*x),
            Value::F64(x) => Ok(*x as f32),
            _ => Err(Self::wrong_type(key, "a float")),
        }
    }

    /// A boolean, or `default` when the key is absent.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.0.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Self::wrong_type(key, "a boolean")),
        }
    }

    pub fn string_array(&self, key: &str) -> Result<Vec<&'a str>> {
        match self.get(key)? {
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.as_str()),
                    _ => Err(Self::wrong_type(key, "an array of strings")),
                })
                .collect(),
            _ => Err(Self::wrong_type(key, "an array of strings")),
        }
    }

    /// An array of integers of any width, as `i64`.
    pub fn f32_array(&self, key: &str) -> Result<Vec<f32>> {
        match self.get(key)? {
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::F32(x) => Ok(*x),
                    _ => Err(Self::wrong_type(key, "an array of f32")),
                })
                .collect(),
            _ => Err(Self::wrong_type(key, "an array of f32")),
        }
    }

    pub fn int_array(&self, key: &str) -> Result<Vec<i64>> {
        match self.get(key)? {
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::I8(x) => Ok(i64::from(*x)),
                    Value::U8(x) => Ok(i64::from(*x)),
                    Value::I16(x) => Ok(i64::from(*x)),
                    Value::U16(x) => Ok(i64::from(*x)),
                    Value::I32(x) => Ok(i64::from(*x)),
                    Value::U32(x) => Ok(i64::from(*x)),
                    Value::I64(x) => Ok(*x),
                    _ => Err(Self::wrong_type(key, "an array of integers")),
                })
                .collect(),
            _ => Err(Self::wrong_type(key, "an array of integers")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A GGUF v3 header built by hand: `entries` raw key/value bytes, `tensors` raw tensor infos.
    fn gguf(entries: &[Vec<u8>], tensors: &[Vec<u8>], tail: usize) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend((tensors.len() as u64).to_le_bytes());
        b.extend((entries.len() as u64).to_le_bytes());
        for e in entries.iter().chain(tensors) {
            b.extend(e);
        }
        b.extend(vec![0u8; tail]);
        b
    }

    fn string(s: &str) -> Vec<u8> {
        let mut b = (s.len() as u64).to_le_bytes().to_vec();
        b.extend(s.as_bytes());
        b
    }

    fn entry_u32(key: &str, v: u32) -> Vec<u8> {
        let mut b = string(key);
        b.extend(4u32.to_le_bytes());
        b.extend(v.to_le_bytes());
        b
    }

    fn refusal(bytes: Vec<u8>) -> String {
        match Gguf::read(&mut Cursor::new(bytes)) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_well_formed_header_reads() {
        let ok = gguf(&[entry_u32("general.alignment", 32)], &[], 64);
        assert!(Gguf::read(&mut Cursor::new(ok)).is_ok());
    }

    #[test]
    fn an_alignment_of_zero_is_refused_not_a_division_by_zero() {
        let e = refusal(gguf(&[entry_u32("general.alignment", 0)], &[], 64));
        assert!(
            e.contains("general.alignment must be a power of two"),
            "{e}"
        );
        let e = refusal(gguf(&[entry_u32("general.alignment", 48)], &[], 64));
        assert!(e.contains("power of two"), "{e}");
    }

    #[test]
    fn counts_and_lengths_cannot_ask_for_more_than_the_file_holds() {
        // An array of 2⁶⁰ u32 values in a file of a few bytes.
        let mut huge = string("tokenizer.ggml.scores");
        huge.extend(9u32.to_le_bytes());
        huge.extend(4u32.to_le_bytes());
        huge.extend((1u64 << 60).to_le_bytes());
        assert!(refusal(gguf(&[huge], &[], 16)).contains("past the end"));
        // An array of 2⁴⁰ strings.
        let mut strings = string("tokenizer.ggml.tokens");
        strings.extend(9u32.to_le_bytes());
        strings.extend(8u32.to_le_bytes());
        strings.extend((1u64 << 40).to_le_bytes());
        assert!(refusal(gguf(&[strings], &[], 16)).contains("past the end"));
        // A key claiming a gigabyte.
        let mut key = (1u64 << 30).to_le_bytes().to_vec();
        key.extend(b"x");
        assert!(refusal(gguf(&[key], &[], 16)).contains("past the end"));
        // A million entries in a 100-byte file.
        let mut b = gguf(&[], &[], 64);
        b[16..24].copy_from_slice(&1_000_000u64.to_le_bytes());
        assert!(refusal(b).contains("more entries than the file holds"));
    }

    #[test]
    fn a_tensor_must_fit_inside_the_file() {
        // One F32 tensor of 2³⁰ × 2³⁰ values: the product alone would overflow a 32-bit size.
        let mut t = string("token_embd.weight");
        t.extend(2u32.to_le_bytes());
        t.extend((1u64 << 30).to_le_bytes());
        t.extend((1u64 << 30).to_le_bytes());
        t.extend(0u32.to_le_bytes()); // F32
        t.extend(0u64.to_le_bytes());
        let e = refusal(gguf(&[], &[t], 64));
        assert!(e.contains("beyond the end of the file"), "{e}");
    }
}
