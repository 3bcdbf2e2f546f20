//! When a video's lyrics should not weigh in a fused score: the transcript was flagged (another
//! language than expected, text that loops or compresses like a hallucination), its language was
//! told with little certainty (a song the speech model cannot place), or its words were heard
//! unsure on average (an instrumental, a voice under the music). Such lyrics still get their
//! similarity shown, with why they were not counted, instead of adding noise to the ranking.

/// Below this probability a detected language is not trusted.
pub const LANGUAGE_SURE: f32 = 0.5;
/// Below this mean log-probability per token (Whisper's own threshold for a window) the words
/// are not trusted.
pub const WORDS_SURE: f64 = crate::ml::whisper::LOGPROB_THRESHOLD;

/// Why lyrics with this transcript should not count, if they should not: `flag` is the
/// transcript's stored flag, `language_probability` how sure its language detection was (none
/// when the language was set), `avg_logprobs` each segment's mean log-probability per token.
pub fn lyrics_doubt(
    flag: Option<&str>,
    language_probability: Option<f32>,
    avg_logprobs: impl IntoIterator<Item = f64>,
) -> Option<String> {
    let mut why: Vec<String> = flag.map(|f| f.trim_start_matches("possibly wrong: ").to_string()).into_iter().collect();
    if let Some(p) = language_probability.filter(|&p| p < LANGUAGE_SURE) {
        why.push(format!("its language was told with probability {p:.2}"));
    }
    let logprobs: Vec<f64> = avg_logprobs.into_iter().collect();
    if !logprobs.is_empty() {
        let mean = logprobs.iter().sum::<f64>() / logprobs.len() as f64;
        if mean < WORDS_SURE {
            why.push(format!("its words were heard unsure (log-probability {mean:.2} per token)"));
        }
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Why a pair's lyrics are left out of its fused score, if they are: where they are in doubt,
/// unless they are all there is to rank by (a query of typed lyrics has no frames).
pub fn left_out(visual: Option<f32>, doubt: Option<&str>) -> Option<&str> {
    doubt.filter(|_| visual.is_some())
}

/// The lyrics side a fused score counts: none where [`left_out`] says why.
pub fn counted(visual: Option<f32>, lyrics: Option<f32>, doubt: Option<&str>) -> Option<f32> {
    lyrics.filter(|_| left_out(visual, doubt).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lyrics_are_doubted_for_a_flag_an_unsure_language_or_unsure_words_and_each_says_so() {
        assert_eq!(lyrics_doubt(None, Some(0.9), [-0.3, -0.5]), None);
        assert_eq!(lyrics_doubt(None, None, []), None, "a set language and no segments: nothing to doubt");
        let flagged = lyrics_doubt(Some("possibly wrong: the same line repeats 4 times in a row"), None, [-0.2]);
        assert_eq!(flagged.as_deref(), Some("the same line repeats 4 times in a row"));
        let unsure = lyrics_doubt(None, Some(0.22), [-1.4, -1.0]).unwrap();
        assert!(unsure.contains("probability 0.22") && unsure.contains("-1.20 per token"), "{unsure}");
        assert_eq!(counted(Some(0.5), Some(0.9), Some("x")), None);
        assert_eq!(counted(None, Some(0.9), Some("x")), Some(0.9), "typed lyrics rank by words alone");
        assert_eq!(counted(Some(0.5), Some(0.9), None), Some(0.9));
    }
}
