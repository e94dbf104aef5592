//! How many threads the forward pass uses, and how a matrix product's rows are shared among them.
//!
//! Only the *rows* of a product are split: each output `W[r]·x` is computed whole by one thread,
//! with the same kernel and in the same order as with one thread, so the logits are
//! bit-identical whatever the count (a sum is never split across threads). The threads are the
//! forward pass's own pool ([`pool`](super::pool)): natively `std` threads (`tokenmeter
//! --threads N`); in the threaded wasm build Web Workers on the shared memory
//! (`src/worker/pool.rs`); the other wasm builds run one thread.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::pool;

static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Least work (multiply-adds) worth sharing: the pool's helpers spin between the products of a
/// step, so handing one a band costs about a microsecond — a few tens of thousands of
/// multiply-adds. Every product of SmolLM2's decode step (the smallest is 192 × 576) is shared.
/// Measured with `tokenmeter bench --threads 2` (BENCHMARKS.md).
const MIN_WORK: usize = 32 << 10;

/// Most threads a forward pass may use.
pub const MAX_THREADS: usize = 256;

/// Sets how many threads later forward passes use (1 ..= [`MAX_THREADS`]); returns the count
/// now in effect. Natively this starts the pool's helpers (they are never stopped; a smaller
/// count later only cuts products into fewer bands). In the threaded wasm build the worker has
/// started `n - 1` helper workers first (a browser has no threads of its own to spawn); the
/// other wasm builds stay at 1.
pub fn set_threads(n: usize) -> usize {
    let n = n.clamp(1, MAX_THREADS);
    #[cfg(not(target_arch = "wasm32"))]
    pool::start_helpers(n - 1);
    if cfg!(any(not(target_arch = "wasm32"), target_feature = "atomics")) {
        THREADS.store(n, Ordering::Relaxed);
    }
    threads()
}

/// Threads a forward pass uses now.
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed)
}

/// `rows` weight rows of `row_work` multiply-adds each, cut into at most one band per thread
/// (fewer when the work is small), each band starting at a multiple of 4 (the kernels take rows
/// four at a time), together covering `0..rows` in order.
pub(crate) fn bands(rows: usize, row_work: usize) -> Vec<Range<usize>> {
    bands_for(rows, row_work, threads())
}

fn bands_for(rows: usize, row_work: usize, threads: usize) -> Vec<Range<usize>> {
    let k = threads
        .min(rows.saturating_mul(row_work) / MIN_WORK)
        .min(rows / 4)
        .max(1);
    let size = rows.div_ceil(k).div_ceil(4) * 4;
    (0..rows)
        .step_by(size.max(4))
        .map(|start| start..(start + size).min(rows))
        .collect()
}

/// `f` of each band, on the pool's threads (whichever takes it), in band order.
pub(crate) fn map<T: Send>(
    bands: Vec<Range<usize>>,
    f: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let slots: Vec<Mutex<Option<T>>> = bands.iter().map(|_| Mutex::new(None)).collect();
    pool::run(bands.len(), &|i| {
        let value = f(bands[i].clone());
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("pool::run runs every band")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_the_rows_in_order_on_multiples_of_four() {
        for threads in [1, 2, 3, 7, 16] {
            for rows in [1, 4, 63, 64, 130, 192, 576, 1536, 49152, 49153] {
                let b = bands_for(rows, 1 << 20, threads);
                assert!(
                    b.len() <= threads.max(1),
                    "{threads} threads, {rows} rows: {b:?}"
                );
                assert_eq!(b.first().map(|r| r.start), Some(0));
                assert_eq!(b.last().map(|r| r.end), Some(rows));
                for w in b.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
                assert!(b.iter().all(|r| r.start % 4 == 0 && !r.is_empty()));
            }
        }
        // Enough work: every thread gets a band (a decode step's smallest product, 192 × 576,
        // included); too little: one band.
        assert_eq!(bands_for(1536, 576 * 64, 2), [0..768, 768..1536]);
        assert_eq!(bands_for(576, 576 * 64, 3), [0..192, 192..384, 384..576]);
        assert_eq!(bands_for(192, 576, 2), [0..96, 96..192]);
        assert_eq!(bands_for(64, 576, 2).len(), 1);
        assert_eq!(bands_for(49152, 576, 2), [0..24576, 24576..49152]);
    }
}
