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
    let mut q8_bytes = Vec::new();
    for _ in 0..rows * cols / QK {
        q8_bytes.extend_from_slice(&f16::from_f32(0.02).to_bits().to_le_bytes());
        q8_bytes.extend(q8_block(&mut rng).iter().map(|&q| q as u8));
    }
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
    w.matmul(&xq, &mut fast);
    w.matmul_scalar(&xq, &mut reference);
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&fast), bits(&reference), "{what}seq {seq}");
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
    w.matmul(&xq, &mut out);
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
    let mut bytes = f16::from_f32(0.5).to_bits().to_le_bytes().to_vec();
    bytes.extend((0..32).map(|i| (i as i8 - 16) as u8));
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
