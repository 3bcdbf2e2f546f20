//! Audio fingerprints: Chromaprint's algorithm (its second configuration, the one `fpcalc` and
//! AcoustID use), computed by the pure-Rust `rusty-chromaprint` from the 16 kHz mono PCM that
//! ingest already extracts, and the stretches where two fingerprints hold the same recording,
//! with where each starts. On the same audio the hashes equal `fpcalc -raw`'s
//! (`tests/fingerprint.rs`), so they stay comparable with AcoustID's.

use crate::error::{Error, Result};
pub use crate::types::Fingerprint;
use rusty_chromaprint::{match_fingerprints, Configuration, Fingerprinter};

/// A stretch of the same recording in two fingerprints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Where it starts in the first recording and in the second, in seconds.
    pub start_a: f64,
    pub start_b: f64,
    pub seconds: f64,
    /// Bits that differ per hash on average (0: the same audio; unrelated audio is near 16).
    pub differing_bits: f64,
    /// The share of the stretch's hashes (in the first recording) that differ from each other:
    /// near 1 for music or speech, near 0 for silence or a steady tone, whose hashes repeat and
    /// match any other silence or steady tone.
    pub distinct: f64,
}

impl Span {
    /// Whether the stretch holds sound that changes (not silence or a steady tone), so that its
    /// matching says the recordings are the same.
    pub fn informative(&self) -> bool {
        self.distinct >= 0.5
    }
}

/// The sample rate Chromaprint fingerprints at (audio at another rate is resampled to it first).
pub const SAMPLE_RATE: u32 = 11_025;

fn config() -> Configuration {
    Configuration::preset_test2()
}

/// Seconds of audio one hash covers (about 0.124).
pub fn item_seconds() -> f64 {
    f64::from(config().item_duration_in_seconds())
}

/// The fingerprint of mono `samples` (floats in −1…1) at `rate` Hz.
pub fn of_samples(samples: &[f32], rate: u32) -> Result<Fingerprint> {
    let mut printer = Printer::new(rate)?;
    printer.push(samples);
    Ok(printer.finish())
}

/// A fingerprint computed as the audio arrives, block by block (the same hashes as
/// [`of_samples`] on all of it).
pub struct Printer {
    inner: Fingerprinter,
    rate: u32,
    samples: u64,
    block: Vec<i16>,
}

impl Printer {
    /// A fingerprint of mono audio at `rate` Hz.
    pub fn new(rate: u32) -> Result<Printer> {
        let mut inner = Fingerprinter::new(&config());
        inner
            .start(rate, 1)
            .map_err(|e| Error::Invalid(format!("audio at {rate} Hz cannot be fingerprinted: {e:?}")))?;
        Ok(Printer { inner, rate, samples: 0, block: Vec::with_capacity(1 << 16) })
    }

    /// The next samples (floats in −1…1).
    pub fn push(&mut self, samples: &[f32]) {
        for chunk in samples.chunks(1 << 16) {
            self.block.clear();
            self.block.extend(chunk.iter().map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16));
            self.inner.consume(&self.block);
        }
        self.samples += samples.len() as u64;
    }

    /// Whether no audio came.
    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    pub fn finish(mut self) -> Fingerprint {
        self.inner.finish();
        let duration_s = (self.samples as f64 / f64::from(self.rate.max(1))) as u32;
        Fingerprint { hashes: self.inner.fingerprint().to_vec(), duration_s }
    }
}

/// The stretches of `a` and `b` that hold the same recording, longest first.
pub fn matches(a: &Fingerprint, b: &Fingerprint) -> Result<Vec<Span>> {
    let config = config();
    let segments = match_fingerprints(&a.hashes, &b.hashes, &config)
        .map_err(|e| Error::Invalid(format!("fingerprints cannot be compared: {e}")))?;
    let mut spans: Vec<Span> = segments
        .iter()
        .map(|s| {
            let stretch = &a.hashes[s.offset1.min(a.hashes.len())..(s.offset1 + s.items_count).min(a.hashes.len())];
            let distinct = stretch.iter().collect::<std::collections::HashSet<_>>().len();
            Span {
                start_a: f64::from(s.start1(&config)),
                start_b: f64::from(s.start2(&config)),
                seconds: f64::from(s.duration(&config)),
                differing_bits: s.score,
                distinct: distinct as f64 / stretch.len().max(1) as f64,
            }
        })
        .collect();
    spans.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    Ok(spans)
}

/// A tune of changing notes for tests (a pure tone has no changes to hash): a note every half
/// second, drawn by xorshift from `seed` (never repeating in a minute), two voices.
#[cfg(test)]
pub(crate) fn test_tune(seconds: f64, rate: u32, seed: u32) -> Vec<f32> {
    let n = (seconds * f64::from(rate)) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let mut x = ((t * 2.0) as u32 + 1).wrapping_mul(0x9e37_79b9) ^ seed;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let f = 220.0 * 2f64.powf(f64::from(x % 24) / 12.0);
            (0.4 * (2.0 * std::f64::consts::PI * f * t).sin() + 0.2 * (2.0 * std::f64::consts::PI * 1.5 * f * t).sin())
                as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Audio handed over in blocks of any size, as ffmpeg's pipe delivers it, gives the hashes
    /// of all of it at once.
    #[test]
    fn a_fingerprint_taken_as_the_audio_arrives_is_the_whole_ones() {
        let song = test_tune(20.0, SAMPLE_RATE, 3);
        let mut printer = Printer::new(SAMPLE_RATE).unwrap();
        for block in song.chunks(7_919) {
            printer.push(block);
        }
        let whole = of_samples(&song, SAMPLE_RATE).unwrap();
        assert!(whole.hashes.len() > 100, "{} hashes", whole.hashes.len());
        assert_eq!(printer.finish(), whole);
    }

    #[test]
    fn an_excerpt_is_found_at_its_offset_and_another_tune_is_not() {
        let rate = 16_000;
        let song = test_tune(60.0, rate, 1);
        let whole = of_samples(&song, rate).unwrap();
        assert_eq!(whole.duration_s, 60);
        assert!((whole.hashes.len() as f64 * item_seconds() - 60.0).abs() < 3.0, "{} hashes", whole.hashes.len());
        let excerpt = of_samples(&song[20 * rate as usize..35 * rate as usize], rate).unwrap();
        let best = matches(&excerpt, &whole).unwrap()[0];
        assert!((best.start_b - best.start_a - 20.0).abs() <= 1.0, "{best:?}");
        assert!(best.seconds >= 10.0 && best.differing_bits < 4.0, "{best:?}");
        let other = of_samples(&test_tune(60.0, rate, 7), rate).unwrap();
        let long = matches(&other, &whole).unwrap().into_iter().filter(|s| s.seconds >= 10.0).count();
        assert_eq!(long, 0, "another tune shares no long stretch");
        assert!(whole.raw().starts_with("DURATION=60\nFINGERPRINT="));
        assert!(best.informative(), "{best:?}");
        // Silence matches silence, and says nothing: two recordings that end in it are not one.
        let mut quiet = test_tune(10.0, rate, 4);
        quiet.extend(std::iter::repeat_n(0.0, 20 * rate as usize));
        let mut other_quiet = test_tune(10.0, rate, 5);
        other_quiet.extend(std::iter::repeat_n(0.0, 20 * rate as usize));
        let spans = matches(&of_samples(&quiet, rate).unwrap(), &of_samples(&other_quiet, rate).unwrap()).unwrap();
        assert!(spans.iter().all(|s| !s.informative() || s.seconds < 5.0), "{spans:?}");
    }
}
