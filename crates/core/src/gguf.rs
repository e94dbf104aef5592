//! Reading GGUF, the single-file format llama.cpp uses for a model: a header of typed key/value
//! metadata (architecture, hyper-parameters, the whole tokenizer) followed by the tensors, each in
//! its own quantized block format.
//!
//! candle's reader does the byte-level work and bounds-checks every length; this module turns its
//! errors into messages a user can act on and offers typed getters for the metadata.

use std::collections::HashMap;
use std::io::{Read, Seek};

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
    pub fn read<R: Read + Seek>(reader: &mut R) -> Result<Self> {
        let content = Content::read(reader).map_err(|e| Error::InvalidGguf(describe(&e)))?;
        Ok(Self { content })
    }

    /// The typed metadata entries.
    pub fn metadata(&self) -> Metadata<'_> {
        Metadata(&self.content.metadata)
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
