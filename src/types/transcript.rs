//! A transcript as Whisper makes it and the catalog keeps it: timed segments with the seed's fields.

use serde::Serialize;

/// One transcribed segment, with the seed's fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub id: usize,
    /// The mel frame (10 ms units) where this segment's window started.
    pub seek: usize,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub tokens: Vec<u32>,
    pub temperature: f64,
    pub avg_logprob: f64,
    pub compression_ratio: f64,
    pub no_speech_prob: f64,
}

/// A transcript's language as a listing shows it: the code, and how sure its detection was
/// where it was detected ("de 96%"); "no voice" where a multilingual checkpoint heard none to
/// tell it by (an instrumental).
pub fn language_told(language: &str, probability: Option<f32>) -> String {
    match probability {
        _ if language.is_empty() => "no voice".to_string(),
        Some(p) => format!("{language} {:.0}%", 100.0 * p),
        None => language.to_string(),
    }
}

/// A whole transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// Its language code; empty where a multilingual checkpoint heard no voice to tell it by.
    pub language: String,
    /// How sure the detection of `language` was (0–1): `None` where it was not detected (an
    /// English-only checkpoint, or a language set in `[models.speech] language`).
    pub language_probability: Option<f32>,
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// All segments' text joined.
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// Words as a transcript is scored: split on whitespace, letters and digits only, lower case.
fn words(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate: the word-level edit distance from `reference` to `hypothesis`, over the
/// reference's length.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (words(reference), words(hypothesis));
    let mut row: Vec<usize> = (0..=h.len()).collect();
    for i in 1..=r.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=h.len() {
            let cur = row[j];
            row[j] = if r[i - 1] == h[j - 1] { prev } else { 1 + prev.min(row[j]).min(row[j - 1]) };
            prev = cur;
        }
    }
    row[h.len()] as f64 / r.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::{language_told, word_error_rate};

    #[test]
    fn a_language_is_told_with_how_sure_and_none_heard_says_so() {
        assert_eq!(language_told("de", Some(0.981)), "de 98%");
        assert_eq!(language_told("en", None), "en");
        assert_eq!(language_told("", None), "no voice");
    }

    #[test]
    fn word_error_rate_counts_edits_over_the_reference() {
        assert_eq!(word_error_rate("Hold me close, tonight", "hold me close tonight"), 0.0);
        assert_eq!(word_error_rate("a b c d", "a x c"), 0.5);
    }
}
