//! The SIMD kernels equal the scalar definition bit for bit; the quantized product stays within
//! 8-bit error of the dequantized one.

use super::kernel::Kernel;
use super::scalar::{isum_q4_scalar, isum_q8_scalar};
use super::*;

/// A small deterministic generator (no dependency needed for test data).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn f32(&mut self) -> f32 {
        self.next() as f32 / (1u64 << 31) as f32 - 0.5
    }
}

fn q4_block(rng: &mut Lcg) -> [u8; 16] {
    std::array::from_fn(|_| rng.next() as u8)
}
fn q8_block(rng: &mut Lcg) -> [i8; 32] {
    // −127..=127 like the quantizer produces, plus the extremes.
    std::array::from_fn(|_| ((rng.next() % 255) as i32 - 127) as i8)
}

#[test]
fn simd_integer_dots_equal_scalar_exactly() {
    let mut rng = Lcg(7);
    for _ in 0..10_000 {
        let (w4, w8, x) = (q4_block(&mut rng), q8_block(&mut rng), q8_block(&mut rng));
        assert_eq!(Portable::q4(&w4, &x), isum_q4_scalar(&w4, &x));
        assert_eq!(Portable::q8(&w8, &x), isum_q8_scalar(&w8, &x));
        assert_eq!(Portable::q8_halves(&w8, &x), Scalar::q8_halves(&w8, &x));
        let halves = Scalar::q8_halves(&w8, &x);
        assert_eq!(halves[0] + halves[1], isum_q8_scalar(&w8, &x));
        let xs = [&x, &w8, &x, &w8];
        assert_eq!(Portable::q4x4(&w4, xs), Scalar::q4x4(&w4, xs));
        assert_eq!(Portable::q8x4(&w8, xs), Scalar::q8x4(&w8, xs));
        let w4s = [&w4, &q4_block(&mut rng), &w4, &[0xFF; 16]];
        assert_eq!(Portable::q4w4(w4s, &x), Scalar::q4w4(w4s, &x));
        let w8s = [&w8, &x, &[-127; 32], &w8];
        assert_eq!(Portable::q8w4(w8s, &x), Scalar::q8w4(w8s, &x));
    }
    // Extremes: all 15 × 127 and −127 × −127.
    assert_eq!(Portable::q4(&[0xFF; 16], &[127; 32]), 32 * 15 * 127);
    assert_eq!(Portable::q8(&[-127; 32], &[-127; 32]), 32 * 127 * 127);
}

/// Whatever kernel `matmul` picks here (AVX2, simd128, scalar) and however many activation
/// rows it groups, every output has the scalar definition's exact bits.
#[test]
fn matmul_equals_the_scalar_definition_bit_for_bit() {
    let mut rng = Lcg(3);
    let (rows, cols) = (11, 96);
    let q8_bytes = q8_0_bytes(rows * cols / QK, 0.02, |_| q8_block(&mut rng));
    let matrices = [
        QMatrix::from_bytes(
            Format::Q4_1,
            rows,
            cols,
            &q4_1_bytes(&mut rng, rows * cols / QK),
        )
        .expect("q4_1"),
        QMatrix::from_bytes(Format::Q8_0, rows, cols, &q8_bytes).expect("q8_0"),
    ];
    for w in &matrices {
        for seq in 1..=9 {
            assert_matmul_is_scalar(w, &mut rng, seq, "");
        }
    }
}

/// `w.matmul` of `seq` random activation rows has `w.matmul_scalar`'s exact bits.
fn assert_matmul_is_scalar(w: &QMatrix, rng: &mut Lcg, seq: usize, what: &str) {
    let (rows, cols) = (w.rows(), w.cols());
    let x: Vec<f32> = (0..seq * cols).map(|_| rng.f32() * 3.0).collect();
    let mut xq = Vec::new();
    Q8Row::quantize_rows(&x, cols, &mut xq);
    let (mut fast, mut reference) = (vec![0.0; seq * rows], vec![0.0; seq * rows]);
    w.matmul(&x, &xq, &mut fast);
    w.matmul_scalar(&x, &xq, &mut reference);
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&fast), bits(&reference), "{what}seq {seq}");
}

/// Packs `n_blocks` Q8_0 blocks as they sit in a GGUF file: the scale `d`, then block `b`'s bytes.
fn q8_0_bytes(n_blocks: usize, d: f32, mut block: impl FnMut(usize) -> [i8; 32]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for b in 0..n_blocks {
        bytes.extend_from_slice(&f16::from_f32(d).to_bits().to_le_bytes());
        bytes.extend(block(b).iter().map(|&q| q as u8));
    }
    bytes
}

/// Packs random Q4_1 blocks as they sit in a GGUF file.
fn q4_1_bytes(rng: &mut Lcg, n_blocks: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for _ in 0..n_blocks {
        let d = f16::from_f32(0.01 + rng.f32().abs() * 0.05);
        let m = f16::from_f32(rng.f32() * 0.2);
        bytes.extend_from_slice(&d.to_bits().to_le_bytes());
        bytes.extend_from_slice(&m.to_bits().to_le_bytes());
        bytes.extend_from_slice(&q4_block(rng));
    }
    bytes
}

#[test]
fn quantized_matmul_matches_the_dequantized_product_within_8_bit_error() {
    let mut rng = Lcg(42);
    let (rows, cols, seq) = (24, 576, 3);
    let w = QMatrix::from_bytes(
        Format::Q4_1,
        rows,
        cols,
        &q4_1_bytes(&mut rng, rows * cols / QK),
    )
    .expect("matrix");
    let x: Vec<f32> = (0..seq * cols).map(|_| rng.f32() * 4.0).collect();
    let mut xq = Vec::new();
    Q8Row::quantize_rows(&x, cols, &mut xq);
    let mut out = vec![0.0; seq * rows];
    w.matmul(&x, &xq, &mut out);
    let mut row = vec![0.0; cols];
    for r in 0..rows {
        w.row_f32(r, &mut row);
        for t in 0..seq {
            let exact: f32 = row.iter().zip(&x[t * cols..]).map(|(a, b)| a * b).sum();
            // Each xᵢ moves by at most dₓ/2 = max|x|/254 ≤ 2/254; |wᵢ| ≤ 15·d + |m| < 1.
            let bound = cols as f32 * (2.0 / 254.0);
            assert!((out[t * rows + r] - exact).abs() < bound, "{r},{t}");
            // In practice the errors cancel: far below the worst case.
            assert!((out[t * rows + r] - exact).abs() < bound / 10.0, "{r},{t}");
        }
    }
}

#[test]
fn row_of_q8_0_dequantizes() {
    let bytes = q8_0_bytes(1, 0.5, |_| std::array::from_fn(|i| i as i8 - 16));
    let m = QMatrix::from_bytes(Format::Q8_0, 1, 32, &bytes).expect("matrix");
    let mut row = vec![0.0; 32];
    m.row_f32(0, &mut row);
    assert_eq!(row[0], -8.0);
    assert_eq!(row[31], 7.5);
    assert!(QMatrix::from_bytes(Format::Q8_0, 2, 32, &bytes).is_err());
}

#[test]
fn quantizing_rounds_halves_away_from_zero() {
    let mut x = vec![0.0f32; 32];
    x[0] = 127.0;
    x[1] = 2.5;
    x[2] = -2.5;
    let mut q = Q8Row::default();
    q.quantize(&x);
    assert_eq!(q.d[0], 1.0);
    assert_eq!(&q.qs[0][..3], &[127, 3, -3]);
    assert_eq!(q.s[0], 127.0);
    q.quantize(&[0.0; 32]);
    assert_eq!(q.qs[0], [0; 32]);
}

/// Where 1/d overflows (a block whose largest value is below about 4·10⁻³⁷) the values become
/// ±∞ before rounding; they are kept at ±127, never −128, so that every kernel may negate an
/// activation within a byte.
#[test]
fn quantizing_a_block_whose_scale_inverts_to_infinity_stays_within_127() {
    let x: Vec<f32> = (0..32).map(|i| (i as f32 - 15.5) * 1e-39).collect();
    let mut q = Q8Row::default();
    q.quantize(&x);
    assert!(q.d[0] != 0.0 && (1.0 / q.d[0]).is_infinite());
    assert_eq!(q.qs[0][0], -127);
    assert_eq!(q.qs[0][31], 127);
    assert_eq!(q.s[0], 0.0);
}

/// Signed byte weights, −128 among them (which llama.cpp never writes, but a file may hold),
/// times activations of ±127 from such blocks: every kernel (AVX2 natively) gives the scalar
/// bits. When those activations were −128, AVX2's sign trick negated −128 into itself, so every
/// negative weight times one came out with the wrong sign.
#[test]
fn byte_weights_times_activations_of_overflowing_blocks_multiply_exactly() {
    let mut rng = Lcg(128);
    let (rows, cols) = (8, 96);
    // A large scale, so that the tiny blocks' terms are normal floats, not lost in rounding.
    let bytes = q8_0_bytes(rows * cols / QK, 32768.0, |b| {
        let mut q = q8_block(&mut rng);
        q[b % 32] = -128;
        q[(b + 7) % 32] = -128;
        q
    });
    let w = QMatrix::from_bytes(Format::Q8_0, rows, cols, &bytes).expect("q8_0");
    for seq in [1, 4, 5] {
        // The first row so small that its bytes are ±127 (or 0), the others' every other block.
        let x: Vec<f32> = (0..seq * cols)
            .map(|i| {
                rng.f32()
                    * if i < cols || (i / QK).is_multiple_of(2) {
                        1e-38
                    } else {
                        3.0
                    }
            })
            .collect();
        let mut xq = Vec::new();
        Q8Row::quantize_rows(&x, cols, &mut xq);
        // The first row's every block overflowed: its bytes are ±127 and 0 only.
        assert!(xq[0].qs.iter().flatten().all(|&q| q.abs() == 127 || q == 0));
        assert!(xq[0].qs.iter().flatten().any(|&q| q == -127));
        let (mut fast, mut reference) = (vec![0.0; seq * rows], vec![0.0; seq * rows]);
        w.matmul(&x, &xq, &mut fast);
        w.matmul_scalar(&x, &xq, &mut reference);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fast), bits(&reference), "seq {seq}");
    }
}

/// Shared among threads, each weight row is still computed whole by one of them: the product
/// has the scalar definition's exact bits for any thread count, with bands that end inside a
/// group of four rows and activation rows left over from groups of four.
#[test]
fn threaded_matmul_equals_the_scalar_definition_bit_for_bit() {
    use crate::model::threads;
    let mut rng = Lcg(11);
    // Wide enough rows that a few activation rows are worth several threads.
    let (rows, cols) = (203, 96 * 1024);
    let w = QMatrix::from_bytes(
        Format::Q4_1,
        rows,
        cols,
        &q4_1_bytes(&mut rng, rows * cols / QK),
    )
    .expect("q4_1");
    for n in [3, 2] {
        assert_eq!(threads::set_threads(n), n);
        assert_eq!(threads::bands(rows, cols).len(), n, "{n} bands of rows");
        for seq in 1..=6 {
            assert_matmul_is_scalar(&w, &mut rng, seq, &format!("{n} threads, "));
        }
    }
    threads::set_threads(1);
}

/// `rows` rows of `format` as they sit in a GGUF: random bits, with every scale (and every float
/// weight) set to a finite value of a plausible size.
fn random_bytes(rng: &mut Lcg, format: Format, rows: usize, cols: usize) -> Vec<u8> {
    let n_blocks = rows * cols / format.block_values();
    let size = format.block_bytes();
    let mut bytes: Vec<u8> = (0..n_blocks * size).map(|_| rng.next() as u8).collect();
    let f16_bytes = |v: f32| f16::from_f32(v).to_bits().to_le_bytes();
    for block in bytes.chunks_exact_mut(size) {
        let (a, b) = (rng.f32(), rng.f32());
        let mut put = |at: usize, v: f32| block[at..at + 2].copy_from_slice(&f16_bytes(v));
        match format {
            Format::F32 => block.copy_from_slice(&(a * 2.0).to_le_bytes()),
            Format::F16 => put(0, a * 2.0),
            Format::BF16 => {
                let bits = (a * 2.0).to_bits() >> 16;
                block.copy_from_slice(&(bits as u16).to_le_bytes());
            }
            Format::Q4_0 | Format::Q5_0 | Format::Q8_0 => put(0, 0.01 + a.abs() * 0.05),
            Format::Q4_1 | Format::Q5_1 | Format::Q4_K | Format::Q5_K => {
                put(0, 0.001 + a.abs() * 0.01);
                put(2, b * 0.02);
            }
            Format::Q6_K => put(208, 0.0005 + a.abs() * 0.001),
        }
    }
    bytes
}

/// Every format's rows, unpacked, hold exactly the values candle's dequantization (a port of
/// ggml's `dequantize_row_*`) reads from the same bytes.
#[test]
fn every_format_reads_the_values_ggml_defines() {
    use candle_core::quantized::ggml_file::qtensor_from_ggml;
    use candle_core::quantized::GgmlDType as G;
    let mut rng = Lcg(5);
    let (rows, cols) = (3, 512);
    let dtypes = [
        G::F32,
        G::F16,
        G::BF16,
        G::Q4_0,
        G::Q4_1,
        G::Q5_0,
        G::Q5_1,
        G::Q8_0,
        G::Q4K,
        G::Q5K,
        G::Q6K,
    ];
    for (format, dtype) in Format::ALL.into_iter().zip(dtypes) {
        assert_eq!(Format::from_ggml(dtype), Some(format));
        let bytes = random_bytes(&mut rng, format, rows, cols);
        let m = QMatrix::from_bytes(format, rows, cols, &bytes).expect("matrix");
        assert_eq!(m.format(), format);
        let cpu = candle_core::Device::Cpu;
        let want = qtensor_from_ggml(dtype, &bytes, vec![rows, cols], &cpu)
            .and_then(|t| t.dequantize(&cpu))
            .and_then(|t| t.to_vec2::<f32>())
            .expect("candle dequantizes");
        let mut row = vec![0.0; cols];
        for (r, want) in want.iter().enumerate() {
            m.row_f32(r, &mut row);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&row), bits(want), "{format:?} row {r}");
        }
        // One byte short is refused with the sizes, not read past.
        let err = QMatrix::from_bytes(format, rows, cols, &bytes[1..]).err();
        assert!(
            err.is_some_and(|e| format!("{e:?}").contains("needs")),
            "{format:?}"
        );
    }
    // A K-quant row must be whole super-blocks.
    assert!(QMatrix::from_bytes(Format::Q4_K, 1, 32, &[0; 18]).is_err());
}

/// For every format, the product has the scalar definition's bits, whichever kernel this machine
/// picks, and stays within 8-bit activation error (floats: f32 rounding) of the exact product.
#[test]
fn every_format_multiplies_exactly_as_defined_and_near_the_exact_product() {
    let mut rng = Lcg(9);
    let (rows, cols) = (9, 512);
    for format in Format::ALL {
        let bytes = random_bytes(&mut rng, format, rows, cols);
        let w = QMatrix::from_bytes(format, rows, cols, &bytes).expect("matrix");
        for seq in [1, 2, 5] {
            assert_matmul_is_scalar(&w, &mut rng, seq, &format!("{format:?} "));
        }
        let seq = 3;
        let x: Vec<f32> = (0..seq * cols).map(|_| rng.f32() * 4.0).collect();
        let mut xq = Vec::new();
        Q8Row::quantize_rows(&x, cols, &mut xq);
        let (mut fast, mut exact) = (vec![0.0; seq * rows], vec![0.0; seq * rows]);
        w.matmul(&x, &xq, &mut fast);
        w.matmul_f32(&x, &mut exact);
        let mut row = vec![0.0; cols];
        for r in 0..rows {
            w.row_f32(r, &mut row);
            let abs_w: f32 = row.iter().map(|v| v.abs()).sum();
            for t in 0..seq {
                let (got, want) = (fast[t * rows + r], exact[t * rows + r]);
                // Each xᵢ moves by at most max|x|/254 ≤ 2/254 when quantized; float weights
                // only round in f32.
                let bound = if format.is_float() {
                    1e-5 * abs_w * 2.0
                } else {
                    abs_w * 2.0 / 254.0
                };
                assert!(
                    (got - want).abs() <= bound,
                    "{format:?} {r},{t}: {got} vs {want}"
                );
            }
        }
    }
}

/// Several products as one job (a block's Q, K and V; its gate and up) equal each product
/// alone in scalar code, bit for bit, whatever the thread count: matrices of different shapes
/// and formats, one or several activation rows.
#[test]
fn matmul_each_equals_each_product_alone() {
    #[cfg(not(target_arch = "wasm32"))]
    crate::model::pool::start_helpers(2);
    let mut rng = Lcg(5);
    let cols = 64 * 1024;
    let shapes = [(Format::Q4_1, 37), (Format::Q8_0, 8), (Format::Q6_K, 20)];
    let matrices: Vec<QMatrix> = shapes
        .iter()
        .map(|&(format, rows)| {
            QMatrix::from_bytes(
                format,
                rows,
                cols,
                &random_bytes(&mut rng, format, rows, cols),
            )
            .expect("matrix")
        })
        .collect();
    for seq in [1, 3] {
        let x: Vec<f32> = (0..seq * cols).map(|_| rng.f32() * 3.0).collect();
        let mut xq = Vec::new();
        Q8Row::quantize_rows(&x, cols, &mut xq);
        let mut outs: Vec<Vec<f32>> = matrices.iter().map(|w| vec![0.0; seq * w.rows()]).collect();
        let mut products: Vec<(&QMatrix, &mut [f32])> = matrices
            .iter()
            .zip(outs.iter_mut())
            .map(|(w, out)| (w, out.as_mut_slice()))
            .collect();
        QMatrix::matmul_each(&x, &xq, &mut products);
        for (w, out) in matrices.iter().zip(&outs) {
            let mut reference = vec![0.0; seq * w.rows()];
            w.matmul_scalar(&x, &xq, &mut reference);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(out), bits(&reference), "{:?}, seq {seq}", w.format());
        }
    }
}

/// The scalar integers, grouped as simd128 groups them for prefill: tiles of four weight rows ×
/// four activation rows.
struct Tiled;
impl Kernel for Tiled {
    const WEIGHT_ROWS_4: bool = false;
    const TILE_4X4: bool = true;
    fn q4(w: &[u8; 16], x: &[i8; 32]) -> i32 {
        Scalar::q4(w, x)
    }
    fn q8(w: &[i8; 32], x: &[i8; 32]) -> i32 {
        Scalar::q8(w, x)
    }
    fn q8_halves(w: &[i8; 32], x: &[i8; 32]) -> [i32; 2] {
        Scalar::q8_halves(w, x)
    }
}

/// Tiles of four by four give the row-by-row loop's exact bits for every quantized format, for
/// any part of the rows (a thread's band, ending inside a group of four) and any number of
/// activation rows (groups of four and the rest).
#[test]
fn tiles_of_four_by_four_equal_the_row_by_row_loop_bit_for_bit() {
    let mut rng = Lcg(5);
    let (rows, cols) = (14, 256);
    let quantized = Format::ALL
        .into_iter()
        .filter(|f| !matches!(f, Format::F32 | Format::F16 | Format::BF16));
    for format in quantized {
        let w = QMatrix::from_bytes(
            format,
            rows,
            cols,
            &random_bytes(&mut rng, format, rows, cols),
        )
        .expect("matrix");
        for seq in 1..=9 {
            let x: Vec<f32> = (0..seq * cols).map(|_| rng.f32() * 3.0).collect();
            let mut xq = Vec::new();
            Q8Row::quantize_rows(&x, cols, &mut xq);
            for part in [0..rows, 0..8, 4..14, 8..13, 12..14, 0..3] {
                let n = seq * part.len();
                let (mut tiled, mut reference) = (vec![0.0; n], vec![0.0; n]);
                matmul_with::<Tiled>(&w, &xq, &mut tiled, part.clone());
                matmul_with::<Scalar>(&w, &xq, &mut reference, part.clone());
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&tiled),
                    bits(&reference),
                    "{format:?}, seq {seq}, rows {part:?}"
                );
            }
        }
    }
}
