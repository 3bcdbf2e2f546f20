//! Audio fingerprints: Chromaprint's algorithm (its second configuration, the one `fpcalc` and
//! AcoustID use), computed by the pure-Rust `rusty-chromaprint` from the 16 kHz mono PCM that
//! ingest already extracts, and the stretches where two fingerprints hold the same recording,
//! with where each starts (Chromaprint's matching, on several time lines). On the same audio
//! the hashes equal `fpcalc -raw`'s (`tests/fingerprint.rs`), so they stay comparable with
//! AcoustID's.

use crate::error::{Error, Result};
pub use crate::types::Fingerprint;
use rusty_chromaprint::{Configuration, Fingerprinter};

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

/// Time lines tried per pair of fingerprints: the offsets the most hashes vote for.
const LINES: usize = 4;

/// A stretch is the same recording where fewer than this many bits of 32 differ per hash on
/// average (unrelated audio differs in about 16; the same audio re-encoded, in 1 to 4).
pub const SAME_BITS: f64 = 10.0;

/// Hashes on each side of one whose differing bits are averaged to tell where a stretch starts
/// and ends (about a second each way).
const SMOOTH: usize = 8;

/// A hash's top 12 bits: hashes agreeing on them vote for the offset between their places.
fn top_bits(hash: u32) -> usize {
    (hash >> 20) as usize
}

/// The stretches of `a` and `b` that hold the same recording, longest first.
///
/// Chromaprint's way, on several time lines: every pair of hashes agreeing on their top 12 bits
/// votes for the offset between them, and along each of the [`LINES`] offsets voted for most
/// (a melody that comes back, as a chorus does, gets votes of its own, and a copy re-encoded on
/// another grid of hashes can get fewer than it) the bits that differ per hash, averaged over
/// about two seconds, cut the line into stretches under [`SAME_BITS`].
pub fn matches(a: &Fingerprint, b: &Fingerprint) -> Vec<Span> {
    let (ha, hb) = (&a.hashes, &b.hashes);
    if ha.is_empty() || hb.is_empty() {
        return Vec::new();
    }
    // b's places by their hashes' top bits (a counting sort), then a's hashes vote.
    let mut start = vec![0u32; 4097];
    for &h in hb {
        start[top_bits(h) + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut places = vec![0u32; hb.len()];
    let mut next = start.clone();
    for (j, &h) in hb.iter().enumerate() {
        places[next[top_bits(h)] as usize] = j as u32;
        next[top_bits(h)] += 1;
    }
    // Votes per offset `j − i`, shifted by `a`'s length. A top that many of b's hashes share
    // (silence, a steady tone) votes for no offset: it would vote for every one.
    let mut votes = vec![0u32; ha.len() + hb.len()];
    for (i, &h) in ha.iter().enumerate() {
        let bucket = &places[start[top_bits(h)] as usize..start[top_bits(h) + 1] as usize];
        if bucket.len() <= 32 {
            for &j in bucket {
                votes[j as usize + ha.len() - i] += 1;
            }
        }
    }
    // The offsets voted for most, each a peak (neighbours are the same line a hash's part off).
    let mut peaks: Vec<(u32, usize)> = (0..votes.len())
        .filter(|&d| {
            votes[d] > 1 && (d == 0 || votes[d - 1] <= votes[d]) && (d + 1 == votes.len() || votes[d + 1] <= votes[d])
        })
        .map(|d| (votes[d], d))
        .collect();
    peaks.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut lines: Vec<usize> = Vec::new();
    for (_, d) in peaks {
        if lines.len() == LINES {
            break;
        }
        if lines.iter().all(|l| l.abs_diff(d) > 2) {
            lines.push(d);
        }
    }
    let seconds = item_seconds();
    let mut spans: Vec<Span> = lines
        .into_iter()
        .flat_map(|d| {
            // Along the line: a's hash i against b's i + shift.
            let shift = d as isize - ha.len() as isize;
            let first = (-shift).max(0) as usize;
            let last = ha.len().min((hb.len() as isize - shift).max(0) as usize);
            let bits: Vec<f64> =
                (first..last).map(|i| f64::from((ha[i] ^ hb[(i as isize + shift) as usize]).count_ones())).collect();
            stretches(&bits).into_iter().map(move |(from, to, differing)| {
                let i = first + from;
                let stretch = &ha[i..first + to];
                let distinct = stretch.iter().collect::<std::collections::HashSet<_>>().len();
                Span {
                    start_a: i as f64 * seconds,
                    start_b: (i as isize + shift) as f64 * seconds,
                    seconds: (to - from) as f64 * seconds,
                    differing_bits: differing,
                    distinct: distinct as f64 / stretch.len().max(1) as f64,
                }
            })
        })
        .collect();
    spans.sort_by(|x, y| y.seconds.total_cmp(&x.seconds).then(x.differing_bits.total_cmp(&y.differing_bits)));
    spans
}

/// The runs of one time line where the bits differing per hash, averaged over [`SMOOTH`] hashes
/// each way, stay under [`SAME_BITS`]: (first, end, their own mean).
fn stretches(bits: &[f64]) -> Vec<(usize, usize, f64)> {
    let mut sums = vec![0.0; bits.len() + 1];
    for (i, b) in bits.iter().enumerate() {
        sums[i + 1] = sums[i] + b;
    }
    let smooth = |i: usize| {
        let (lo, hi) = (i.saturating_sub(SMOOTH), (i + SMOOTH + 1).min(bits.len()));
        (sums[hi] - sums[lo]) / (hi - lo) as f64
    };
    let mut out = Vec::new();
    let mut from = None;
    for i in 0..=bits.len() {
        match (from, i < bits.len() && smooth(i) < SAME_BITS) {
            (None, true) => from = Some(i),
            (Some(f), false) => {
                let mean = (sums[i] - sums[f]) / (i - f) as f64;
                if mean < SAME_BITS {
                    out.push((f, i, mean));
                }
                from = None;
            }
            _ => {}
        }
    }
    out
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

/// `n` random hashes for tests (xorshift from a non-zero `seed`).
#[cfg(test)]
pub(crate) fn test_hashes(n: usize, seed: u32) -> Vec<u32> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })
        .collect()
}

/// A fingerprint of `hashes`, as long as they cover.
#[cfg(test)]
pub(crate) fn test_print(hashes: Vec<u32>) -> Fingerprint {
    Fingerprint { duration_s: (hashes.len() as f64 * item_seconds()) as u32, hashes }
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
        let best = matches(&excerpt, &whole)[0];
        assert!((best.start_b - best.start_a - 20.0).abs() <= 1.0, "{best:?}");
        assert!(best.seconds >= 10.0 && best.differing_bits < 4.0, "{best:?}");
        let other = of_samples(&test_tune(60.0, rate, 7), rate).unwrap();
        let long = matches(&other, &whole).into_iter().filter(|s| s.seconds >= 10.0).count();
        assert_eq!(long, 0, "another tune shares no long stretch");
        assert!(whole.raw().starts_with("DURATION=60\nFINGERPRINT="));
        assert!(best.informative(), "{best:?}");
        // Silence matches silence, and says nothing: two recordings that end in it are not one.
        let mut quiet = test_tune(10.0, rate, 4);
        quiet.extend(std::iter::repeat_n(0.0, 20 * rate as usize));
        let mut other_quiet = test_tune(10.0, rate, 5);
        other_quiet.extend(std::iter::repeat_n(0.0, 20 * rate as usize));
        let spans = matches(&of_samples(&quiet, rate).unwrap(), &of_samples(&other_quiet, rate).unwrap());
        assert!(spans.iter().all(|s| !s.informative() || s.seconds < 5.0), "{spans:?}");
    }

    /// The time line a cut truly came from can get fewer exact votes than a repeat of part of it
    /// (its hashes on another grid differ in a bit or two, often in the top 12): it is tried too,
    /// and is the longer stretch.
    #[test]
    fn a_line_with_fewer_votes_is_tried_too() {
        let (cut, mut whole) = (test_hashes(80, 0x2545_f491), test_hashes(300, 0x9e37_79b9));
        // The cut at 100, with the top bit flipped in three hashes of four (20 votes, under a
        // bit of 32 differing per hash); 60 of its hashes again, exact, at 200 (60 votes).
        for (i, h) in cut.iter().enumerate() {
            whole[100 + i] = if i % 4 == 0 { *h } else { h ^ (1 << 31) };
        }
        whole[200..260].copy_from_slice(&cut[10..70]);
        let spans = matches(&test_print(cut), &test_print(whole));
        let at = |s: &Span| ((s.start_b - s.start_a) / item_seconds()).round() as i64;
        assert_eq!(spans.iter().map(at).collect::<Vec<_>>()[..2], [100, 190], "{spans:?}");
        assert!((spans[0].seconds / item_seconds()).round() as usize == 80, "the whole cut: {spans:?}");
        assert!(spans[0].differing_bits < 1.0 && spans[1].differing_bits < 2.0, "{spans:?}");
    }
}
