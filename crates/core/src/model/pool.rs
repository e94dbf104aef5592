//! The forward pass's own thread pool: a few helper threads that stay awake between the products
//! of one step, so that even a decode step's small products (a few hundred thousand
//! multiply-adds, tens of microseconds) are worth sharing.
//!
//! A general pool (rayon) puts idle threads to sleep at once, and waking one costs about as much
//! as the products of a decode step take — so decode did not scale with it. Here the caller
//! publishes a job (a function of the band index and the number of bands) by bumping an epoch;
//! helpers spin on that epoch for a while after each job (llama.cpp's threads do the same) and
//! only then sleep on a condition variable. Bands are claimed one by one with a compare-and-swap
//! on one word holding (epoch, bands, next band), so a helper that arrives late for a job can
//! never claim a band of the next one. The caller works on bands too, then waits for the last.
//!
//! Which thread computes a band never changes its bits (see [`threads`](super::threads)).
//!
//! Natively the helpers are `std` threads; in the threaded wasm build they are Web Workers that
//! the page's worker starts (`src/worker/pool.rs`), each calling [`serve`] on this instance's
//! shared memory. The other wasm builds have no helpers: every job runs on the caller.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// One job: `task(i)` for every band `i < bands`.
struct Job<'a> {
    task: &'a (dyn Fn(usize) + Sync),
}

/// Spins of an idle helper before it sleeps: a few hundred microseconds, longer than the gaps
/// between the products of one step (norms, attention), far shorter than between two requests.
const SPINS: u32 = 1 << 16;

struct Pool {
    /// (epoch << 32) | (bands << 16) | next band: what is being worked on, and what is left.
    word: AtomicU64,
    /// The current job (on the caller's stack; valid while its epoch is in `word` with bands left
    /// to finish).
    job: AtomicPtr<Job<'static>>,
    /// Bands of the current job finished (a band that panicked counts as finished).
    done: AtomicUsize,
    /// A band's task panicked (natively; wasm aborts).
    panicked: AtomicBool,
    /// Helpers that stopped inside a band of the current job (see [`helper_lost`]): their bands
    /// never finish.
    lost: AtomicUsize,
    /// A caller is running a job (a second caller, or a job started from inside a band, runs
    /// its bands itself).
    busy: AtomicBool,
    /// Helpers serving, and those asleep (to notify only when someone sleeps).
    helpers: AtomicUsize,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

static POOL: Pool = Pool {
    word: AtomicU64::new(0),
    job: AtomicPtr::new(std::ptr::null_mut()),
    done: AtomicUsize::new(0),
    panicked: AtomicBool::new(false),
    lost: AtomicUsize::new(0),
    busy: AtomicBool::new(false),
    helpers: AtomicUsize::new(0),
    sleepers: AtomicUsize::new(0),
    lock: Mutex::new(()),
    wake: Condvar::new(),
};

fn pack(epoch: u32, bands: usize, next: usize) -> u64 {
    (u64::from(epoch) << 32) | ((bands as u64) << 16) | next as u64
}

fn unpack(word: u64) -> (u32, usize, usize) {
    (
        (word >> 32) as u32,
        ((word >> 16) & 0xFFFF) as usize,
        (word & 0xFFFF) as usize,
    )
}

/// Helpers serving now.
pub fn helpers() -> usize {
    POOL.helpers.load(Ordering::Relaxed)
}

/// Runs `task(i)` for every `i < bands`, on the helpers and this thread; returns when all have.
pub fn run(bands: usize, task: &(dyn Fn(usize) + Sync)) {
    assert!(bands < 1 << 16);
    if bands <= 1
        || helpers() == 0
        || POOL
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        (0..bands).for_each(task);
        return;
    }
    let job = Job { task };
    // SAFETY (lifetime): the job outlives every use of this pointer. Helpers dereference it only
    // after claiming a band of this epoch, and this function returns only after every band of
    // this epoch is finished (a band that panics is caught in `work` and still counted).
    let ptr = &job as *const Job<'_> as *mut Job<'static>;
    POOL.job.store(ptr, Ordering::Release);
    POOL.done.store(0, Ordering::Relaxed);
    let epoch = unpack(POOL.word.load(Ordering::Relaxed)).0.wrapping_add(1);
    // SeqCst with the load of `sleepers` (and a sleeper's increment and check): either the
    // sleeper sees the new epoch, or this sees the sleeper and wakes it.
    POOL.word.store(pack(epoch, bands, 0), Ordering::SeqCst);
    if POOL.sleepers.load(Ordering::SeqCst) > 0 {
        let _guard = POOL.lock.lock().unwrap_or_else(|e| e.into_inner());
        POOL.wake.notify_all();
    }
    // Every band is claimed once `work` returns; wait for those still running on helpers, but
    // not for the band of a helper that stopped inside it: that one never finishes.
    work(epoch, false);
    let lost = loop {
        let lost = POOL.lost.load(Ordering::Acquire);
        if POOL.done.load(Ordering::Acquire) + lost >= bands {
            break lost;
        }
        std::hint::spin_loop();
    };
    POOL.job.store(std::ptr::null_mut(), Ordering::Relaxed);
    POOL.busy.store(false, Ordering::Release);
    if lost > 0 {
        // The dead helpers' bands were never computed: this product is wrong, so it fails
        // (in the browser: the model worker stops, and the page restarts it, the text kept).
        POOL.lost.fetch_sub(lost, Ordering::AcqRel);
        POOL.helpers.fetch_sub(lost, Ordering::SeqCst);
        POOL.panicked.store(false, Ordering::Relaxed);
        panic!("{lost} helper thread(s) of the forward pass stopped inside a product");
    }
    if POOL.panicked.swap(false, Ordering::Relaxed) {
        panic!("a band of a parallel product panicked");
    }
}

/// Tells the pool that the calling helper stopped inside a band and will never finish it: the
/// job's caller stops waiting for that band and fails the job instead of spinning forever. The
/// threaded wasm build's helper glue calls it when the helper's instance traps (a panic aborts
/// there, and memory can run out); natively a panicking band is caught and still counted.
pub fn helper_lost() {
    POOL.lost.fetch_add(1, Ordering::AcqRel);
}

/// Claims the next band of job `epoch`, if that job is still current and has one left.
fn claim(epoch: u32) -> Option<usize> {
    let mut word = POOL.word.load(Ordering::Acquire);
    loop {
        let (e, bands, next) = unpack(word);
        if e != epoch || next >= bands {
            return None;
        }
        match POOL.word.compare_exchange_weak(
            word,
            pack(e, bands, next + 1),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return Some(next),
            Err(now) => word = now,
        }
    }
}

/// Works on bands of job `epoch` until none is left (on a helper thread: `helper`).
fn work(epoch: u32, helper: bool) {
    while let Some(band) = claim(epoch) {
        // SAFETY: a band of `epoch` was claimed and is not finished, so the caller of that job is
        // still waiting in `run` and its job is alive; `job` was stored before `word` (Release)
        // and read after it (Acquire), so it is this epoch's.
        let job = unsafe { &*POOL.job.load(Ordering::Acquire) };
        // A panicking band (natively; wasm aborts) still counts as finished, on whichever thread
        // it ran, so the caller never waits for it; the caller panics once all are done.
        let task = job.task;
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if helper && FAULT.load(Ordering::Relaxed) && FAULT.swap(false, Ordering::AcqRel) {
                panic!("a helper thread stopped inside a band on purpose (a test's helper_fault)");
            }
            task(band)
        }));
        if ran.is_err() {
            POOL.panicked.store(true, Ordering::Relaxed);
        }
        POOL.done.fetch_add(1, Ordering::Release);
    }
}

/// Set by [`fault_next_helper_band`].
static FAULT: AtomicBool = AtomicBool::new(false);

/// For tests of a helper lost inside a band (the threaded worker's `&helper_fault=1`): the next
/// band a helper takes panics. In the browser that stops the helper (wasm aborts), as a real
/// fault would; natively it is an ordinary panicking band.
pub fn fault_next_helper_band() {
    FAULT.store(true, Ordering::Release);
}

/// Serves jobs on this thread, forever: a helper's whole life. Natively [`start_helpers`] calls
/// it; the threaded wasm build's helper workers call it (`src/worker/pool.rs`).
pub fn serve() -> ! {
    POOL.helpers.fetch_add(1, Ordering::SeqCst);
    let mut seen = unpack(POOL.word.load(Ordering::Acquire)).0;
    loop {
        let mut spins = 0;
        let epoch = loop {
            let e = unpack(POOL.word.load(Ordering::Acquire)).0;
            if e != seen {
                break e;
            }
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            // Asleep until the next job (checked again under the lock: no lost wake-up).
            let guard = POOL.lock.lock().unwrap_or_else(|e| e.into_inner());
            POOL.sleepers.fetch_add(1, Ordering::SeqCst);
            let guard = if unpack(POOL.word.load(Ordering::SeqCst)).0 == seen {
                POOL.wake.wait(guard).unwrap_or_else(|e| e.into_inner())
            } else {
                guard
            };
            POOL.sleepers.fetch_sub(1, Ordering::SeqCst);
            drop(guard);
            spins = 0;
        };
        seen = epoch;
        work(epoch, true);
    }
}

/// Starts helper threads until `n` serve (natively).
#[cfg(not(target_arch = "wasm32"))]
pub fn start_helpers(n: usize) {
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    while STARTED.load(Ordering::SeqCst) < n {
        STARTED.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("tokenmeter-pool".into())
            .spawn(|| serve());
        if spawned.is_err() {
            STARTED.fetch_sub(1, Ordering::SeqCst);
            break;
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_band_runs_once_whoever_runs_it() {
        start_helpers(3);
        for bands in [0, 1, 2, 3, 7, 64] {
            for _ in 0..200 {
                let hits: Vec<AtomicU32> = (0..bands).map(|_| AtomicU32::new(0)).collect();
                run(bands, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                    "{bands} bands"
                );
            }
        }
    }

    #[test]
    fn a_job_inside_a_band_runs_on_its_caller() {
        start_helpers(2);
        let total = AtomicU32::new(0);
        run(4, &|_| {
            run(3, &|_| {
                total.fetch_add(1, Ordering::Relaxed);
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 12);
    }

    /// A helper that stops inside its band (in the browser: its instance traps) makes the job
    /// fail instead of waiting forever; the other helpers' bands are finished first (they use
    /// the caller's job), and the pool goes on without it.
    #[test]
    fn a_helper_lost_inside_a_band_fails_the_job_instead_of_hanging() {
        start_helpers(3);
        // The jobs run on a thread of their own, so that a job that hangs fails the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let died = AtomicBool::new(false);
            // Which thread takes which band is up to them: try until a helper takes one.
            for _ in 0..1000 {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(64, &|_| {
                        let helper = std::thread::current().name() == Some("tokenmeter-pool");
                        if helper && !died.swap(true, Ordering::SeqCst) {
                            helper_lost();
                            // Never returns, as a trapped wasm instance never does.
                            loop {
                                std::thread::park();
                            }
                        }
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    })
                }));
                if died.load(Ordering::SeqCst) {
                    let text = result
                        .err()
                        .map(|m| m.downcast_ref::<String>().cloned().unwrap_or_default());
                    let _ = tx.send(text);
                    return;
                }
            }
            let _ = tx.send(Some("no helper ever took a band".into()));
        });
        let text = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the job with a lost helper hung")
            .expect("the job with a lost helper must fail");
        assert!(text.contains("stopped inside a product"), "{text}");
        let count = AtomicU32::new(0);
        run(8, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 8);
    }

    #[test]
    fn a_panicking_band_reaches_the_caller_and_the_pool_goes_on() {
        start_helpers(2);
        let result = std::panic::catch_unwind(|| {
            run(8, &|i| {
                if i == 5 {
                    panic!("band 5");
                }
            })
        });
        assert!(result.is_err());
        let count = AtomicU32::new(0);
        run(8, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 8);
    }
}
