//! An audio fingerprint as the catalogs keep it (made by `media::fingerprint`).

/// A recording's fingerprint: Chromaprint's, one 32-bit hash per 0.124 s of audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub hashes: Vec<u32>,
    /// The audio's length.
    pub duration_s: u32,
}

impl Fingerprint {
    /// As `fpcalc -raw` prints it: `DURATION=…` and `FINGERPRINT=` the hashes as numbers.
    pub fn raw(&self) -> String {
        let hashes: Vec<String> = self.hashes.iter().map(u32::to_string).collect();
        format!("DURATION={}\nFINGERPRINT={}", self.duration_s, hashes.join(","))
    }

    /// Whether it holds changing sound: most of its hashes differ from each other (silence and a
    /// steady tone repeat theirs, and match any other silence or steady tone).
    pub fn says_something(&self) -> bool {
        let distinct = self.hashes.iter().collect::<std::collections::HashSet<_>>().len();
        self.hashes.len() >= 8 && distinct * 2 >= self.hashes.len()
    }

    /// The hashes as stored: 4 little-endian bytes each.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    /// From its stored bytes.
    pub fn from_bytes(duration_s: u32, bytes: &[u8]) -> Fingerprint {
        let hashes = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Fingerprint { hashes, duration_s }
    }
}
