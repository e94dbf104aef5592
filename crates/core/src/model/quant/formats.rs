//! ggml's weight formats as they sit in a GGUF file, and their unpacking into the few block
//! layouts the kernels multiply.
//!
//! Every quantized format stores a row as blocks; a value is `w = scale · q (+ min)` with a small
//! integer q. The "legacy" formats have one scale per 32 values; the K-quants (Iwan Kawrakow's
//! k-quants, llama.cpp #1684) group 256 values in a super-block with one f16 scale `d` (and
//! `dmin`) and give each sub-block of 32 (16 for Q6_K) a small integer scale of its own:
//!
//! ```text
//! format  bytes/values  value                          q            kernel layout here
//! Q4_0      18 / 32     d·(q − 8)                      0..=15       Q4     (m = −8d)
//! Q4_1      20 / 32     d·q + m                        0..=15       Q4
//! Q5_0      22 / 32     d·(q − 16)                     0..=31       Q8     (q − 16)
//! Q5_1      24 / 32     d·q + m                        0..=31       Q8Min
//! Q8_0      34 / 32     d·q                            −128..=127   Q8
//! Q4_K     144 / 256    d·scᵢ·q − dmin·mᵢ  (6-bit scᵢ, mᵢ per 32)    Q4     per 32: (d·scᵢ, −dmin·mᵢ)
//! Q5_K     176 / 256    d·scᵢ·q − dmin·mᵢ  q 0..=31                  Q8Min  per 32
//! Q6_K     210 / 256    d·scᵢ·(q − 32)  (8-bit scᵢ per 16)           Q8Halves: two scales per 32
//! F32, F16, BF16        the value itself                             kept as stored
//! ```
//!
//! A K-quant sub-block's scale `d·scᵢ` is an f16 times an integer below 2⁸: exact in f32, so the
//! unpacked blocks hold exactly the file's values. Each unpacked block of 32 then multiplies an
//! 8-bit activation block with one exact integer dot product (see [`super`]).

use half::f16;

use super::QK;
use crate::{msg, Error, Result};

/// Values in a K-quant super-block.
pub const QK_K: usize = 256;

/// The weight formats tokenmeter reads (ggml's `ggml_type`), named as ggml names them.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    F32,
    F16,
    BF16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q4_K,
    Q5_K,
    Q6_K,
}

impl Format {
    /// Every format, in ggml's order.
    pub const ALL: [Format; 11] = [
        Format::F32,
        Format::F16,
        Format::BF16,
        Format::Q4_0,
        Format::Q4_1,
        Format::Q5_0,
        Format::Q5_1,
        Format::Q8_0,
        Format::Q4_K,
        Format::Q5_K,
        Format::Q6_K,
    ];

    /// Values per block (1 for the float formats).
    pub fn block_values(self) -> usize {
        match self {
            Format::F32 | Format::F16 | Format::BF16 => 1,
            Format::Q4_0 | Format::Q4_1 | Format::Q5_0 | Format::Q5_1 | Format::Q8_0 => QK,
            Format::Q4_K | Format::Q5_K | Format::Q6_K => QK_K,
        }
    }

    /// Bytes of one block in the file.
    pub fn block_bytes(self) -> usize {
        match self {
            Format::F32 => 4,
            Format::F16 | Format::BF16 => 2,
            Format::Q4_0 => 18,
            Format::Q4_1 => 20,
            Format::Q5_0 => 22,
            Format::Q5_1 => 24,
            Format::Q8_0 => 34,
            Format::Q4_K => 144,
            Format::Q5_K => 176,
            Format::Q6_K => 210,
        }
    }

    /// ggml's name, as llama.cpp prints it.
    pub fn name(self) -> &'static str {
        match self {
            Format::F32 => "F32",
            Format::F16 => "F16",
            Format::BF16 => "BF16",
            Format::Q4_0 => "Q4_0",
            Format::Q4_1 => "Q4_1",
            Format::Q5_0 => "Q5_0",
            Format::Q5_1 => "Q5_1",
            Format::Q8_0 => "Q8_0",
            Format::Q4_K => "Q4_K",
            Format::Q5_K => "Q5_K",
            Format::Q6_K => "Q6_K",
        }
    }

    /// The format of a ggml type, if tokenmeter reads it.
    pub fn from_ggml(dtype: candle_core::quantized::GgmlDType) -> Option<Self> {
        use candle_core::quantized::GgmlDType as G;
        Some(match dtype {
            G::F32 => Format::F32,
            G::F16 => Format::F16,
            G::BF16 => Format::BF16,
            G::Q4_0 => Format::Q4_0,
            G::Q4_1 => Format::Q4_1,
            G::Q5_0 => Format::Q5_0,
            G::Q5_1 => Format::Q5_1,
            G::Q8_0 => Format::Q8_0,
            G::Q4K => Format::Q4_K,
            G::Q5K => Format::Q5_K,
            G::Q6K => Format::Q6_K,
            G::Q8_1 | G::Q2K | G::Q3K | G::Q8K => return None,
        })
    }

    /// ggml's name of any ggml type candle parses (for refusals of the ones tokenmeter does not
    /// read: "Q2_K", not candle's "Q2K").
    pub fn ggml_name(dtype: candle_core::quantized::GgmlDType) -> &'static str {
        use candle_core::quantized::GgmlDType as G;
        match (Self::from_ggml(dtype), dtype) {
            (Some(f), _) => f.name(),
            (None, G::Q8_1) => "Q8_1",
            (None, G::Q2K) => "Q2_K",
            (None, G::Q3K) => "Q3_K",
            (None, G::Q8K) => "Q8_K",
            (None, _) => "an unknown type",
        }
    }

    /// Bytes `n` values take once unpacked for the kernels ([`Blocks`]): per 32 values, f32
    /// scales (and minimums) beside the quantized values.
    pub fn unpacked_bytes(self, n: u64) -> u64 {
        let per_32 = match self {
            Format::F32 => 128,
            Format::F16 | Format::BF16 => 64,
            Format::Q4_0 | Format::Q4_1 | Format::Q4_K => 4 + 4 + 16,
            Format::Q5_0 | Format::Q8_0 => 4 + 32,
            Format::Q5_1 | Format::Q5_K | Format::Q6_K => 4 + 4 + 32,
        };
        n.div_ceil(32) * per_32
    }

    /// Whether values are stored as floats (multiplied by f32 activations, not 8-bit ones).
    pub fn is_float(self) -> bool {
        matches!(self, Format::F32 | Format::F16 | Format::BF16)
    }
}

/// The layouts the kernels multiply, per block of 32 values (scales widened to f32).
pub(crate) enum Blocks {
    /// `w = d·q + m`, q 4-bit unsigned; byte j holds element j (low nibble) and j + 16 (high).
    Q4 {
        d: Vec<f32>,
        m: Vec<f32>,
        qs: Vec<[u8; 16]>,
    },
    /// `w = d·q`, q signed bytes. `symmetric`: every q is in −127..=127, which is true of Q5_0
    /// (−16..=15) and of every Q8_0 that llama.cpp writes (`q = round(x/d)`, `d = max|x|/127`);
    /// a kernel may then take |q| as an unsigned 7-bit operand (simd128's relaxed dots). Only a
    /// Q8_0 file written otherwise holds −128.
    Q8 {
        d: Vec<f32>,
        qs: Vec<[i8; 32]>,
        symmetric: bool,
    },
    /// `w = d·q + m`, q in 0..=31 stored as bytes.
    Q8Min {
        d: Vec<f32>,
        m: Vec<f32>,
        qs: Vec<[i8; 32]>,
    },
    /// `w = d[h]·q`, q signed bytes (Q6_K's −32..=31), one scale for each half of 16 values.
    Q8Halves {
        d: Vec<[f32; 2]>,
        qs: Vec<[i8; 32]>,
    },
    /// Floats, kept as stored (f16 and bf16 as their bits).
    F32(Vec<f32>),
    F16(Vec<u16>),
    Bf16(Vec<u16>),
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_bits(u16_at(bytes, at)).to_f32()
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

/// Unpacks `n` values of `format` from `bytes` (their exact size, checked by the caller).
pub(super) fn unpack(format: Format, bytes: &[u8], n: usize) -> Blocks {
    let chunks = bytes.chunks_exact(format.block_bytes());
    let n32 = n / QK;
    match format {
        Format::F32 => Blocks::F32(
            chunks
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        Format::F16 => Blocks::F16(chunks.map(|b| u16_at(b, 0)).collect()),
        Format::BF16 => Blocks::Bf16(chunks.map(|b| u16_at(b, 0)).collect()),
        Format::Q4_0 | Format::Q4_1 => {
            let (mut d, mut m, mut qs) = with_capacity3(n32);
            for b in chunks {
                let scale = f16_at(b, 0);
                d.push(scale);
                let (min, q) = if format == Format::Q4_0 {
                    // d·(q − 8) = d·q + (−8d); −8d is exact.
                    (-8.0 * scale, &b[2..18])
                } else {
                    (f16_at(b, 2), &b[4..20])
                };
                m.push(min);
                qs.push(q.try_into().expect("16 bytes"));
            }
            Blocks::Q4 { d, m, qs }
        }
        Format::Q5_0 | Format::Q5_1 => {
            let (mut d, mut m, mut qs) = with_capacity3(n32);
            for b in chunks {
                d.push(f16_at(b, 0));
                // The fifth bits of the 32 values, one per bit of `qh`, then the low nibbles as
                // in Q4: byte j holds element j and element j + 16.
                let at = if format == Format::Q5_0 { 2 } else { 4 };
                let qh = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                let low = &b[at + 4..at + 20];
                let mut q = [0i8; 32];
                for j in 0..16 {
                    let hi0 = ((qh >> j) & 1) as u8;
                    let hi1 = ((qh >> (j + 16)) & 1) as u8;
                    q[j] = ((low[j] & 0x0F) | (hi0 << 4)) as i8;
                    q[j + 16] = ((low[j] >> 4) | (hi1 << 4)) as i8;
                }
                if format == Format::Q5_0 {
                    for v in &mut q {
                        *v -= 16;
                    }
                } else {
                    m.push(f16_at(b, 2));
                }
                qs.push(q);
            }
            if format == Format::Q5_0 {
                let symmetric = true;
                Blocks::Q8 { d, qs, symmetric }
            } else {
                Blocks::Q8Min { d, m, qs }
            }
        }
        Format::Q8_0 => {
            let (mut d, mut qs) = (Vec::with_capacity(n32), Vec::with_capacity(n32));
            for b in chunks {
                d.push(f16_at(b, 0));
                qs.push(std::array::from_fn(|j| b[2 + j] as i8));
            }
            let symmetric = qs.iter().flatten().all(|&q| q != i8::MIN);
            Blocks::Q8 { d, qs, symmetric }
        }
        Format::Q4_K => {
            let (mut d, mut m, mut qs) = with_capacity3(n32);
            for b in chunks {
                // [d: f16][dmin: f16][scales: 12 bytes][qs: 128 bytes]
                let (sd, smin) = (f16_at(b, 0), f16_at(b, 2));
                let scales: &[u8; 12] = b[4..16].try_into().expect("12 bytes");
                // 64 values per 32 bytes: sub-block 2k in the low nibbles, 2k + 1 in the high.
                for (k, q) in b[16..144].chunks_exact(32).enumerate() {
                    for (half, shift) in [(0, 0), (1, 4)] {
                        let (sc, mn) = scale_min_k4(2 * k + half, scales);
                        d.push(sd * f32::from(sc));
                        m.push(-(smin * f32::from(mn)));
                        // Repacked into Q4's order: element j low, element j + 16 high.
                        qs.push(std::array::from_fn(|j| {
                            ((q[j] >> shift) & 0x0F) | (((q[j + 16] >> shift) & 0x0F) << 4)
                        }));
                    }
                }
            }
            Blocks::Q4 { d, m, qs }
        }
        Format::Q5_K => {
            let (mut d, mut m, mut qs) = with_capacity3(n32);
            for b in chunks {
                // [d][dmin][scales: 12][qh: 32 — bit i of byte l: sub-block i's fifth bit of
                // value l][ql: 128 — as Q4_K's]
                let (sd, smin) = (f16_at(b, 0), f16_at(b, 2));
                let scales: &[u8; 12] = b[4..16].try_into().expect("12 bytes");
                let qh = &b[16..48];
                for (k, ql) in b[48..176].chunks_exact(32).enumerate() {
                    for (half, shift) in [(0, 0), (1, 4)] {
                        let sub = 2 * k + half;
                        let (sc, mn) = scale_min_k4(sub, scales);
                        d.push(sd * f32::from(sc));
                        m.push(-(smin * f32::from(mn)));
                        qs.push(std::array::from_fn(|l| {
                            let hi = (qh[l] >> sub) & 1;
                            (((ql[l] >> shift) & 0x0F) | (hi << 4)) as i8
                        }));
                    }
                }
            }
            Blocks::Q8Min { d, m, qs }
        }
        Format::Q6_K => {
            let (mut d, mut qs) = (Vec::with_capacity(n32), Vec::with_capacity(n32));
            for b in chunks {
                // [ql: 128 low nibbles][qh: 64, two high bits each][scales: 16 × i8][d: f16]
                let (ql, qh) = (&b[0..128], &b[128..192]);
                let sc = |i: usize| f32::from(b[192 + i] as i8);
                let sd = f16_at(b, 208);
                let mut q = [0i8; QK_K];
                // Two halves of 128 values; in each, value 32·k + l (k = 0..4, l = 0..32) takes
                // its low nibble from ql[l + 32·(k & 1)] (low or high nibble as k < 2) and its
                // two high bits from qh[l] at bit 2k.
                for n in 0..2 {
                    let (ql, qh) = (&ql[64 * n..], &qh[32 * n..]);
                    for l in 0..32 {
                        for k in 0..4 {
                            let low = (ql[l + 32 * (k & 1)] >> (4 * (k / 2))) & 0x0F;
                            let high = (qh[l] >> (2 * k)) & 3;
                            q[128 * n + 32 * k + l] = ((low | (high << 4)) as i8) - 32;
                        }
                    }
                }
                // Scale i covers values 16·i..16·i + 16.
                for (s, block) in q.chunks_exact(QK).enumerate() {
                    d.push([sd * sc(2 * s), sd * sc(2 * s + 1)]);
                    qs.push(block.try_into().expect("32 values"));
                }
            }
            Blocks::Q8Halves { d, qs }
        }
    }
}

fn with_capacity3<A, B, C>(n: usize) -> (Vec<A>, Vec<B>, Vec<C>) {
    (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    )
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a Q4_K/Q5_K super-block, packed in 12
/// bytes: sub-blocks 0..4 in the low 6 bits of bytes 0..4 (scales) and 4..8 (mins); 4..8 in the
/// nibbles of bytes 8..12 with their top two bits in the spare bits of bytes 0..8.
fn scale_min_k4(j: usize, s: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// Checks that `bytes` holds exactly a `(rows, cols)` matrix of `format`.
pub(super) fn check_size(format: Format, rows: usize, cols: usize, bytes: usize) -> Result<()> {
    let per = format.block_values();
    // The kernels multiply blocks of 32; every format's block is a multiple of that, or a float.
    if !cols.is_multiple_of(per.max(QK)) {
        return Err(Error::InvalidGguf(msg!(
            "a row of {} values is not a whole number of {} blocks",
            cols,
            format.name()
        )));
    }
    let want = rows
        .checked_mul(cols / per)
        .and_then(|b| b.checked_mul(format.block_bytes()));
    if want != Some(bytes) {
        return Err(Error::InvalidGguf(msg!(
            "{} matrix {}×{} needs {} bytes, got {}",
            format.name(),
            rows,
            cols,
            want.map_or_else(|| "too many".to_string(), |w| w.to_string()),
            bytes
        )));
    }
    Ok(())
}
