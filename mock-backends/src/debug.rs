//! Pure helpers behind the `/debug/download` test utility: a cheap,
//! deterministic pseudo-random byte stream (xorshift64*) and its SHA-256,
//! so a test can check a download without holding it in memory twice.

use sha2::{Digest, Sha256};

/// Size of each chunk `/debug/download` sends (a multiple of 8, so the
/// byte sequence does not depend on chunking).
pub const DOWNLOAD_CHUNK: usize = 64 * 1024;

/// A deterministic byte generator: the same seed gives the same bytes.
#[derive(Clone, Debug)]
pub struct PseudoRandomBytes {
    state: u64,
}

impl PseudoRandomBytes {
    pub fn new(seed: u64) -> PseudoRandomBytes {
        // splitmix64 spreads small seeds; xorshift needs a non-zero state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        PseudoRandomBytes {
            state: if z == 0 { 1 } else { z },
        }
    }

    fn next_word(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fills `buf` with the next bytes. Calls must use lengths that are a
    /// multiple of 8 (except the last) for the stream to be chunk-independent.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for word in buf.chunks_mut(8) {
            let bytes = self.next_word().to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
    }
}

/// Lengths of the successive chunks of an `n`-byte download.
pub fn chunk_lengths(n: u64) -> impl Iterator<Item = usize> {
    let chunk = DOWNLOAD_CHUNK as u64;
    (0..n.div_ceil(chunk)).map(move |i| (n - i * chunk).min(chunk) as usize)
}

/// The hex SHA-256 of what `GET /debug/download?bytes={n}&seed={seed}` sends.
pub fn download_bytes_sha256(n: u64, seed: u64) -> String {
    let mut generator = PseudoRandomBytes::new(seed);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; DOWNLOAD_CHUNK];
    for len in chunk_lengths(n) {
        generator.fill(&mut buf[..len]);
        hasher.update(&buf[..len]);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_does_not_change_the_bytes() {
        let mut whole = vec![0u8; 1000];
        PseudoRandomBytes::new(5).fill(&mut whole);
        let mut pieces = vec![0u8; 1000];
        let mut generator = PseudoRandomBytes::new(5);
        let (a, b) = pieces.split_at_mut(512);
        generator.fill(a);
        generator.fill(b);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn seeds_differ_and_hash_is_stable() {
        assert_ne!(download_bytes_sha256(100, 0), download_bytes_sha256(100, 1));
        assert_eq!(download_bytes_sha256(100, 7), download_bytes_sha256(100, 7));
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(download_bytes_sha256(0, 3), empty);
    }

    #[test]
    fn chunk_lengths_cover_n() {
        let n = 3 * DOWNLOAD_CHUNK as u64 + 5;
        assert_eq!(chunk_lengths(n).map(|l| l as u64).sum::<u64>(), n);
        assert_eq!(chunk_lengths(n).last(), Some(5));
        assert_eq!(chunk_lengths(0).count(), 0);
    }
}
