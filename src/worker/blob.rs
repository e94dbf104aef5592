//! The user's model file read in place: `Read + Seek` over a `Blob` through `FileReaderSync`
//! (a worker may read synchronously). The core reads a GGUF tensor by tensor, so the file is
//! never held whole in memory — only the weights, unpacked, and the one tensor being read.
//!
//! Reading the header means thousands of small reads and skips (every vocabulary string), and
//! each `FileReaderSync` call costs far more than a copy: small reads are served from a window
//! of [`WINDOW`] bytes that a skip inside it keeps (a `BufReader` would drop it at every seek),
//! large ones (tensors) go straight into the caller's buffer.

use std::io::{self, Read, Seek, SeekFrom};

use web_sys::{Blob, FileReaderSync};

/// Bytes read ahead for small reads.
const WINDOW: u64 = 1 << 20;

/// A `Blob` read at any position; `progress(furthest byte read, size)` after each file read.
pub struct BlobReader<'a> {
    blob: Blob,
    reader: FileReaderSync,
    len: u64,
    pos: u64,
    /// Bytes `window_start..window_start + window.len()` of the file.
    window_start: u64,
    window: Vec<u8>,
    furthest: u64,
    progress: Box<dyn FnMut(u64, u64) + 'a>,
}

impl<'a> BlobReader<'a> {
    pub fn new(blob: Blob, progress: impl FnMut(u64, u64) + 'a) -> io::Result<Self> {
        let reader =
            FileReaderSync::new().map_err(|e| io::Error::other(super::net::js_error(e)))?;
        Ok(Self {
            len: blob.size() as u64,
            blob,
            reader,
            pos: 0,
            window_start: 0,
            window: Vec::new(),
            furthest: 0,
            progress: Box::new(progress),
        })
    }

    /// Bytes `start..end` of the file into `out` (exactly `end - start` long).
    fn read_file(&mut self, start: u64, end: u64, out: &mut [u8]) -> io::Result<()> {
        let err = |e: wasm_bindgen::JsValue| io::Error::other(super::net::js_error(e));
        let slice = self
            .blob
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(err)?;
        let buffer = self.reader.read_as_array_buffer(&slice).map_err(err)?;
        let bytes = js_sys::Uint8Array::new(&buffer);
        if u64::from(bytes.length()) != end - start {
            return Err(io::Error::other("the file changed while it was read"));
        }
        bytes.copy_to(out);
        if end > self.furthest {
            self.furthest = end;
            (self.progress)(end, self.len);
        }
        Ok(())
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let in_window = self.pos >= self.window_start
            && self.pos < self.window_start + self.window.len() as u64;
        if !in_window {
            if buf.len() as u64 >= WINDOW {
                // A tensor: straight into the caller's buffer.
                let end = self.len.min(self.pos + buf.len() as u64);
                let n = (end - self.pos) as usize;
                self.read_file(self.pos, end, &mut buf[..n])?;
                self.pos = end;
                return Ok(n);
            }
            let end = self.len.min(self.pos + WINDOW);
            let mut window = std::mem::take(&mut self.window);
            window.resize((end - self.pos) as usize, 0);
            self.read_file(self.pos, end, &mut window)?;
            self.window = window;
            self.window_start = self.pos;
        }
        let at = (self.pos - self.window_start) as usize;
        let n = buf.len().min(self.window.len() - at);
        buf[..n].copy_from_slice(&self.window[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::other("seek before the start of the file"))?;
        Ok(self.pos)
    }
}
