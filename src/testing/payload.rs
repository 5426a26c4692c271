//! The one payload generator of the tests and the benchmark: a seeded byte
//! stream with random access, so a client can make or check any part of what
//! it sends without keeping it.
//!
//! Byte `offset` of `seed`'s stream is byte `offset % 8` of SplitMix64's
//! output number `offset / 8` for that seed (one hash per 8 bytes: this also
//! runs under emulation). Streams of different seeds are unrelated, and no
//! stream repeats, so a lost, repeated, reordered or foreign chunk is caught.
//! [`Period`] repeats the start of a stream, for a load generator that must
//! cost no more per echo than a copy and a `memcmp`.

use std::ops::Range;

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 8 bytes of `seed`'s stream at offsets `8 * block..8 * block + 8`.
fn block(seed: u64, block: u64) -> [u8; 8] {
    // SplitMix64 seeded with mix(seed): output `block` without the ones before.
    let state = mix(seed).wrapping_add(block.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA));
    mix(state).to_le_bytes()
}

/// Calls `each(range, expected)` for consecutive pieces of bytes
/// `offset..offset + len` of `seed`'s stream: `range` indexes the caller's
/// buffer, `expected` holds the stream's bytes there. Stops at the first
/// `false`.
fn pieces(seed: u64, offset: u64, len: usize, mut each: impl FnMut(Range<usize>, &[u8]) -> bool) {
    let mut done = 0;
    while done < len {
        let at = offset + done as u64;
        let bytes = block(seed, at / 8);
        let from = (at % 8) as usize;
        let n = (8 - from).min(len - done);
        if !each(done..done + n, &bytes[from..from + n]) {
            return;
        }
        done += n;
    }
}

/// Byte `offset` of `seed`'s stream.
pub fn stream_byte(seed: u64, offset: u64) -> u8 {
    block(seed, offset / 8)[(offset % 8) as usize]
}

/// Fills `buf` with bytes `offset..offset + buf.len()` of `seed`'s stream.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    pieces(seed, offset, buf.len(), |range, expected| {
        buf[range].copy_from_slice(expected);
        true
    });
}

/// Bytes `0..len` of `seed`'s stream.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    fill(seed, 0, &mut bytes);
    bytes
}

/// Index of the first byte of `got` that is not the byte at the same place
/// of `seed`'s stream from `offset` on.
pub fn first_mismatch(seed: u64, offset: u64, got: &[u8]) -> Option<usize> {
    let mut mismatch = None;
    pieces(seed, offset, got.len(), |range, expected| {
        let start = range.start;
        match got[range].iter().zip(expected).position(|(a, b)| a != b) {
            Some(i) => {
                mismatch = Some(start + i);
                false
            }
            None => true,
        }
    });
    mismatch
}

/// The stream that repeats bytes `0..period` of `seed`'s stream, held in
/// memory so that any `len` bytes of it, up to a bound, are one slice.
///
/// A prime period keeps message boundaries and the repetition out of step,
/// so a shifted or repeated message still differs from what was expected.
#[derive(Clone, Debug)]
pub struct Period {
    period: usize,
    /// The repeating stream's bytes `0..period + max_len`.
    bytes: Vec<u8>,
}

impl Period {
    /// Repeats bytes `0..period` of `seed`'s stream; [`Period::at`] serves
    /// up to `max_len` bytes at a time.
    pub fn new(seed: u64, period: usize, max_len: usize) -> Period {
        assert!(period > 0, "a period of 0 bytes");
        let first = pattern(period, seed);
        let bytes = first
            .iter()
            .copied()
            .cycle()
            .take(period + max_len)
            .collect();
        Period { period, bytes }
    }

    /// Bytes `offset..offset + len` of the repeating stream.
    ///
    /// # Panics
    ///
    /// If `len` is over the `max_len` it was made for.
    pub fn at(&self, offset: u64, len: usize) -> &[u8] {
        let from = (offset % self.period as u64) as usize;
        &self.bytes[from..from + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_reading_the_stream_agrees() {
        let whole = pattern(100, 7);
        for offset in 0..40 {
            let mut buf = vec![0; 33];
            fill(7, offset, &mut buf);
            assert_eq!(buf, whole[offset as usize..offset as usize + 33]);
            assert_eq!(stream_byte(7, offset), whole[offset as usize]);
            assert_eq!(first_mismatch(7, offset, &buf), None);
        }
    }

    #[test]
    fn a_changed_shifted_or_foreign_byte_is_found() {
        let mut got = pattern(64, 3);
        got[37] ^= 1;
        assert_eq!(first_mismatch(3, 0, &got), Some(37));
        let shifted = pattern(65, 3);
        assert_eq!(first_mismatch(3, 0, &shifted[1..]), Some(0));
        assert!(first_mismatch(4, 0, &pattern(64, 3)).is_some());
        // Seed 0 is no stream of zeros.
        assert!(pattern(16, 0).iter().any(|&b| b != 0));
    }

    #[test]
    fn a_period_repeats_the_start_of_the_stream() {
        let period = Period::new(5, 251, 1000);
        let start = pattern(251, 5);
        for offset in [0, 1, 250, 251, 252, 5000] {
            let got = period.at(offset, 1000);
            for (i, &byte) in got.iter().enumerate() {
                assert_eq!(byte, start[(offset as usize + i) % 251]);
            }
        }
    }
}
