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

/// Spans of uneven work per thread: a thread that finishes its span early takes the next one.
const SPANS_PER_THREAD: usize = 4;

/// `units` independent pieces of about `unit_work` multiply-adds each (attention's heads, an
/// activation's values), cut into consecutive spans covering `0..units` in order: up to
/// [`SPANS_PER_THREAD`] per thread, so that uneven pieces (a causal head at a later position
/// reads more keys) even out, and none under the least work worth sharing.
pub(crate) fn spans(units: usize, unit_work: usize) -> Vec<Range<usize>> {
    spans_for(units, unit_work, threads())
}

fn spans_for(units: usize, unit_work: usize, threads: usize) -> Vec<Range<usize>> {
    let k = if threads <= 1 {
        1
    } else {
        (threads * SPANS_PER_THREAD)
            .min(units.saturating_mul(unit_work) / MIN_WORK)
            .min(units)
            .max(1)
    };
    let size = units.div_ceil(k).max(1);
    (0..units)
        .step_by(size)
        .map(|start| start..(start + size).min(units))
        .collect()
}

/// `f(i, &mut parts[i])` for every part, on the pool's threads (whichever takes it). The parts
/// are disjoint (e.g. bands of an output, each with its range), so no two threads ever write
/// the same value; which thread ran a part changes nothing in its bits.
pub(crate) fn each_mut<T: Send>(parts: &mut [T], f: impl Fn(usize, &mut T) + Sync) {
    if parts.len() <= 1 {
        parts.iter_mut().enumerate().for_each(|(i, p)| f(i, p));
        return;
    }
    let slots: Vec<Mutex<&mut T>> = parts.iter_mut().map(Mutex::new).collect();
    pool::run(slots.len(), &|i| {
        let mut part = slots[i].lock().unwrap_or_else(|e| e.into_inner());
        f(i, &mut part);
    });
}

/// `out` cut into the pieces `spans` of `size`-long units: `(units, their values)`, in order.
pub(crate) fn split_units<T>(
    mut out: &mut [T],
    size: usize,
    spans: Vec<Range<usize>>,
) -> Vec<(Range<usize>, &mut [T])> {
    let mut parts = Vec::with_capacity(spans.len());
    for span in spans {
        let (here, rest) = std::mem::take(&mut out).split_at_mut(span.len() * size);
        parts.push((span, here));
        out = rest;
    }
    parts
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

    #[test]
    fn spans_cover_the_units_in_order_and_share_only_enough_work() {
        for threads in [1, 2, 3, 16] {
            for units in [1, 2, 9, 64, 576, 1536, 4097] {
                for unit_work in [1, 64, 1 << 12, 1 << 20] {
                    let s = spans_for(units, unit_work, threads);
                    assert_eq!(s.first().map(|r| r.start), Some(0));
                    assert_eq!(s.last().map(|r| r.end), Some(units));
                    for w in s.windows(2) {
                        assert_eq!(w[0].end, w[1].start);
                    }
                    assert!(s.iter().all(|r| !r.is_empty()));
                    assert!(s.len() <= (threads * SPANS_PER_THREAD).max(1));
                    if threads == 1 || units * unit_work < 2 * MIN_WORK {
                        assert_eq!(s.len(), 1, "{threads} threads, {units} × {unit_work}");
                    }
                }
            }
        }
        // A decode step's attention: 9 heads reading 100 keys of 64 values twice.
        assert_eq!(spans_for(9, 100 * 128, 2).len(), 3);
        assert_eq!(spans_for(9, 1000 * 128, 2).len(), 5); // 2 heads each, then 1
    }

    #[test]
    fn each_part_is_visited_once_with_its_index() {
        #[cfg(not(target_arch = "wasm32"))]
        pool::start_helpers(2);
        let mut out = vec![0usize; 1000];
        let mut parts = split_units(&mut out, 10, spans_for(100, MIN_WORK, 3));
        each_mut(&mut parts, |i, (span, values)| {
            for (u, chunk) in span.clone().zip(values.chunks_exact_mut(10)) {
                chunk.iter_mut().for_each(|v| *v += u * 100 + i);
            }
        });
        let spans = spans_for(100, MIN_WORK, 3);
        for (i, span) in spans.iter().enumerate() {
            for u in span.clone() {
                assert!(out[u * 10..u * 10 + 10].iter().all(|&v| v == u * 100 + i));
            }
        }
    }
}
