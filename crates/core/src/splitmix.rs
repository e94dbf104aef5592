//! SplitMix64 (Steele, Lea and Flood 2014): the one small seeded generator everything
//! reproducible here draws from — the sampler's draws, the synthetic benchmark model's weights,
//! xtask's parity corpus — so a seed means the same numbers on every machine and target.

/// The golden-ratio increment between two states.
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a 64-bit word mixed so that nearby inputs give unrelated outputs.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded stream of 64-bit words.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Fills `out` with the stream's bytes (each word little-endian).
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let w = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference values of SplitMix64 seeded with 1234567 (from the published C code).
    #[test]
    fn the_stream_is_splitmix64() {
        let mut r = SplitMix(1234567);
        let words: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            words,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
    }
}
