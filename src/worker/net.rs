//! The worker's plumbing to the browser: downloads with progress, gzip through the browser's
//! own `DecompressionStream` (bounded), the model's copy in Cache Storage, and reading files the
//! user dropped. Every failure comes back as a [`Msg`] for the page to show.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, ReadableStreamDefaultReader, Response};

use tokenmeter_core::msg;
use tokenmeter_core::Msg;

use super::scope;

/// Cache Storage bucket holding the model file between visits.
const MODEL_CACHE: &str = "tokenmeter-models-v1";

/// The message of a JavaScript exception (or whatever was thrown).
pub fn js_error(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

#[wasm_bindgen]
extern "C" {
    /// The browser's `DecompressionStream` (web-sys has it only behind its unstable-APIs flag).
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, JsValue>;
}

/// Decompresses gzip data with the browser's own `DecompressionStream`, stopping with an error
/// past `max` bytes (a small file must not inflate into gigabytes); other data is returned as is
/// (a host may already have decoded a `.gz` it served with `Content-Encoding: gzip`).
pub async fn gunzip_if_needed(bytes: Vec<u8>, max: u64) -> Result<Vec<u8>, Msg> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let js = |e: JsValue| msg!("cannot decompress: {}", js_error(e));
    let input = Response::new_with_opt_buffer_source(Some(&js_copy(&bytes))).map_err(js)?;
    drop(bytes);
    let body = input
        .body()
        .ok_or_else(|| msg!("cannot decompress: empty body"))?;
    let gunzip = DecompressionStream::new("gzip").map_err(js)?;
    let stream = body.pipe_through(gunzip.unchecked_ref::<web_sys::ReadableWritablePair>());
    read_stream(&stream, &mut |_, _| {}, None, max)
        .await
        .map_err(|e| msg!("the gzip data is damaged or too large: {}", e))
}

/// Reads a stream to its end, reporting progress; an error past `max` bytes.
async fn read_stream(
    stream: &ReadableStream,
    progress: &mut dyn FnMut(u64, Option<u64>),
    total: Option<u64>,
    max: u64,
) -> Result<Vec<u8>, Msg> {
    let reader: ReadableStreamDefaultReader = stream
        .get_reader()
        .dyn_into()
        .map_err(|o| msg!("{}", js_error(o.into())))?;
    let capacity = total.unwrap_or(0).min(max).min(1 << 31) as usize;
    let mut bytes = Vec::with_capacity(capacity);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| msg!("the connection broke off: {}", js_error(e)))?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| msg!("{}", js_error(e)))?
            .dyn_into()
            .map_err(|e| msg!("{}", js_error(e)))?;
        let start = bytes.len();
        if (start as u64).saturating_add(u64::from(value.length())) > max {
            let _ = reader.cancel();
            return Err(msg!("more than {} MB", max / 1_000_000));
        }
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}

/// Downloads `url` (relative to the worker, i.e. the page's folder), reporting progress.
pub async fn fetch_bytes(
    url: &str,
    progress: &mut dyn FnMut(u64, Option<u64>),
    max: u64,
) -> Result<Vec<u8>, Msg> {
    let response: Response = JsFuture::from(scope().fetch_with_str(url))
        .await
        .map_err(|e| msg!("{}: {}", url, js_error(e)))?
        .dyn_into()
        .map_err(|e| msg!("{}: {}", url, js_error(e)))?;
    if !response.ok() {
        return Err(msg!(
            "{}: HTTP {} {}",
            url,
            response.status(),
            response.status_text()
        ));
    }
    read_body(url, response, progress, max).await
}

/// Reads a response's body, reporting progress, and checks it is as long as announced.
pub async fn read_body(
    url: &str,
    response: Response,
    progress: &mut dyn FnMut(u64, Option<u64>),
    max: u64,
) -> Result<Vec<u8>, Msg> {
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    // With a Content-Encoding the length counts compressed bytes: not comparable to what we read.
    let total = match header("content-encoding") {
        Some(_) => None,
        None => header("content-length").and_then(|v| v.parse::<u64>().ok()),
    };
    let body = response
        .body()
        .ok_or_else(|| msg!("{}: the response has no body", url))?;
    let bytes = read_stream(&body, progress, total, max)
        .await
        .map_err(|e| msg!("{}: {}", url, e))?;
    if let Some(total) = total {
        if bytes.len() as u64 != total {
            return Err(msg!(
                "{}: incomplete download ({} of {} bytes)",
                url,
                bytes.len(),
                total
            ));
        }
    }
    Ok(bytes)
}

/// A file (or part of one) the user dropped, read into memory.
pub async fn read_blob(blob: &web_sys::Blob) -> Result<Vec<u8>, Msg> {
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| msg!("cannot read the file: {}", js_error(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

async fn open_model_cache() -> Result<web_sys::Cache, String> {
    let caches = scope().caches().map_err(js_error)?;
    JsFuture::from(caches.open(MODEL_CACHE))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)
}

/// The model file from Cache Storage, if a complete copy is there.
pub async fn cached_model(url: &str, max: u64) -> Result<Option<Vec<u8>>, String> {
    let cache = open_model_cache().await?;
    let hit = JsFuture::from(cache.match_with_str(url))
        .await
        .map_err(js_error)?;
    if hit.is_undefined() || hit.is_null() {
        return Ok(None);
    }
    let response: Response = hit.dyn_into().map_err(js_error)?;
    read_body(url, response, &mut |_, _| {}, max)
        .await
        .map(Some)
        .map_err(|m| m.to_string())
}

/// `bytes` copied into a buffer of JavaScript's own. Web APIs that take a `BufferSource` (a
/// `Response` body) refuse a view of the threaded build's memory, a `SharedArrayBuffer`.
fn js_copy(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}

/// Keeps the model file for the next visit.
pub async fn store_model(url: &str, bytes: Vec<u8>) -> Result<(), String> {
    let cache = open_model_cache().await?;
    let response =
        Response::new_with_opt_buffer_source(Some(&js_copy(&bytes))).map_err(js_error)?;
    drop(bytes);
    JsFuture::from(cache.put_with_str(url, &response))
        .await
        .map_err(js_error)?;
    Ok(())
}

pub async fn clear_model_cache() -> Result<(), String> {
    let caches = scope().caches().map_err(js_error)?;
    JsFuture::from(caches.delete(MODEL_CACHE))
        .await
        .map_err(js_error)?;
    Ok(())
}

/// The sha256 of `bytes` in hex, by the browser's own SubtleCrypto.
pub async fn sha256_hex(bytes: &[u8]) -> Result<String, Msg> {
    let err = |e: JsValue| msg!("cannot check the file's sha256: {}", js_error(e));
    let subtle = scope().crypto().map_err(err)?.subtle();
    let view = Uint8Array::from(bytes);
    let promise = subtle
        .digest_with_str_and_buffer_source("SHA-256", &view)
        .map_err(err)?;
    let digest = JsFuture::from(promise).await.map_err(err)?;
    Ok(Uint8Array::new(&digest)
        .to_vec()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
