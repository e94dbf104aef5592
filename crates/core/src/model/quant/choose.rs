//! Which [`Form`] of the wasm byte dots this machine runs fastest, among those that give exact
//! results here: checked on every layout the forms treat differently, then timed (the model
//! worker calls [`choose`] once, while its first download or cache read is under way).

use super::simd128::{matmul_in, set_form, Form};
use super::{Format, Q8Row, QMatrix};

/// Times every form this build has on the products decode and prefill run most (4-bit weights
/// and signed bytes: one token against a matrix, as decode does, and four tokens in tiles, as
/// prefill does), keeps those whose results equal the scalar definition bit for bit on every
/// layout the forms treat differently (an engine that computed a relaxed instruction wrongly is
/// left out), and makes the fastest of them the one used. `now` is a clock in milliseconds.
/// Returns each exact form with its best time, the one chosen first.
///
/// The forms take turns over rounds and each keeps its best: an engine first runs new code
/// unoptimized (V8's Liftoff) and swaps in the optimized code later, and a clock may tick in
/// steps of 0.1 ms, so one short timing would mostly measure those. About 0.1–0.25 s; call it
/// once (the model worker does while its first download or cache read is under way).
pub fn choose(now: &dyn Fn() -> f64) -> Vec<(Form, f64)> {
    let Some(cases) = check_cases() else {
        // (Fixed sizes that always build; if one did not, no relaxed form would be checked.)
        set_form(Form::Widen);
        return Vec::new();
    };
    let run = |form: Form, w: &QMatrix, xq: &[Q8Row], out: &mut [f32]| {
        // Tokens 0 and 1 alone, then tokens 2..6 together: `out` ends up laid out as `want`.
        let rows = w.rows();
        let (first, rest) = out.split_at_mut(rows);
        let (second, four) = rest.split_at_mut(rows);
        matmul_in(form, w, &xq[..1], first, 0..rows);
        matmul_in(form, w, &xq[1..2], second, 0..rows);
        matmul_in(form, w, &xq[2..], four, 0..rows);
    };
    let mut outs: Vec<Vec<f32>> = cases.iter().map(|c| vec![0.0; c.want.len()]).collect();
    let mut timed: Vec<(Form, f64)> = Vec::new();
    for &form in Form::BUILT {
        let exact = cases.iter().zip(&mut outs).all(|(case, out)| {
            out.fill(0.0);
            run(form, &case.w, &case.xq, out);
            out.iter()
                .zip(&case.want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        });
        if exact {
            timed.push((form, f64::INFINITY));
        }
    }
    // Rounds until three in a row improve no form's best by a tenth (the engine's optimized code
    // runs by then), at least six, at most 0.6 s in all. Measured in Chromium: 0.1–0.25 s; a
    // first call's times were up to a quarter above those of calls after it, in the same order.
    const REPEATS: usize = 48;
    let (start, mut calm) = (now(), 0);
    for round in 0.. {
        let mut improved = false;
        for (form, best) in timed.iter_mut() {
            // About 3 ms a sample: a clock of 0.1 ms steps (Chromium's, where the page is not
            // cross-origin isolated) then errs by 3% at most.
            let t0 = now();
            for _ in 0..REPEATS {
                for (case, out) in cases.iter().zip(&mut outs) {
                    if let Some(xq) = &case.timing {
                        run(*form, &case.w, xq, out);
                    }
                }
            }
            let ms = (now() - t0) / REPEATS as f64;
            improved |= ms < 0.9 * *best;
            *best = best.min(ms);
        }
        calm = if improved { 0 } else { calm + 1 };
        let elapsed = now() - start;
        if (round >= 5 && calm >= 3) || elapsed > 600.0 {
            break;
        }
    }
    // The fastest first (ties: the earlier form).
    timed.sort_by(|a, b| a.1.total_cmp(&b.1));
    set_form(timed.first().map_or(Form::Widen, |f| f.0));
    timed
}

/// One product [`choose`] checks: a matrix, six activation rows and the scalar definition's
/// result; and where the forms are also timed on it, the rows they are timed with.
struct Check {
    w: QMatrix,
    xq: Vec<Q8Row>,
    want: Vec<f32>,
    timing: Option<Vec<Q8Row>>,
}

/// Seeded random matrices (scales 2⁻⁷, minimums −2⁻⁷), one per way the forms multiply: Q4_1's
/// nibbles and a Q8_0 without −128 (both timed: decode's and prefill's commonest products, the
/// second one like the output projection), a Q8_0 holding −128 (the widening path in every
/// form), Q6_K's halves and Q5_1's small bytes; the untimed ones have six rows, so that the
/// rows past the last group of four (one weight row against four tokens) are checked too. The activations are a fixed pattern, but rows 1
/// and 2 so small that every block's 1/d overflows (its bytes are ±127 then; alone in a row, its
/// terms are not lost in rounding). Those rows are checked, not timed: their float terms are
/// subnormal, which the CPU multiplies many times slower, whatever the form (measured: the
/// forms' times came out 1.6× longer and nearly equal).
fn check_cases() -> Option<Vec<Check>> {
    let mut random = crate::splitmix::SplitMix(0x9E37_79B9);
    let mut case = |format: Format, rows: usize, cols: usize, timed: bool, minus_128: bool| {
        let n = rows * cols / format.block_values() * format.block_bytes();
        let mut bytes = vec![0u8; n];
        random.fill_bytes(&mut bytes);
        let (scale, min) = ([0x00, 0x20], [0x00, 0xA0]);
        for block in bytes.chunks_exact_mut(format.block_bytes()) {
            match format {
                Format::Q6_K => block[208..210].copy_from_slice(&scale),
                Format::Q4_1 | Format::Q5_1 => {
                    block[..2].copy_from_slice(&scale);
                    block[2..4].copy_from_slice(&min);
                }
                _ => block[..2].copy_from_slice(&scale),
            }
            if format == Format::Q8_0 {
                // −128 in every block, or none (−128 → −127).
                for q in &mut block[2..] {
                    *q = if !minus_128 && *q == 0x80 { 0x81 } else { *q };
                }
                block[2] = if minus_128 { 0x80 } else { block[2] };
            }
        }
        let w = QMatrix::from_bytes(format, rows, cols, &bytes).ok()?;
        let mut x: Vec<f32> = (0..6 * cols)
            .map(|i| ((i * 7919) % 1013) as f32 / 1013.0 - 0.5)
            .collect();
        let (mut plain, mut xq) = (Vec::new(), Vec::new());
        Q8Row::quantize_rows(&x, cols, &mut plain);
        for v in &mut x[cols..3 * cols] {
            *v *= 1e-38;
        }
        Q8Row::quantize_rows(&x, cols, &mut xq);
        let mut want = vec![0.0f32; 6 * rows];
        w.matmul_scalar(&x, &xq, &mut want);
        let timing = timed.then_some(plain);
        Some(Check {
            w,
            xq,
            want,
            timing,
        })
    };
    [
        case(Format::Q4_1, 256, 576, true, false),
        case(Format::Q8_0, 64, 576, true, false),
        case(Format::Q4_1, 6, 576, false, false),
        case(Format::Q8_0, 6, 576, false, false),
        case(Format::Q8_0, 6, 576, false, true),
        case(Format::Q6_K, 6, 512, false, false),
        case(Format::Q5_1, 6, 576, false, false),
    ]
    .into_iter()
    .collect()
}
