//! How a result relates to the query video beyond looking alike, from their audio fingerprints
//! and the visual score: the same recording along most of the shorter one makes a `copy` (the
//! same length, pictures alike), an `excerpt` (one a part of the other, at an offset) or the
//! `same_song` (the same length, other pictures: a lyric video, a fan edit).

use crate::media::fingerprint::{matches, Fingerprint};
use serde::Serialize;

/// The share of the shorter recording the matched stretches must cover.
const COVERED: f64 = 0.5;

/// Two recordings this close in length are versions of each other; shorter, one is an excerpt.
const SAME_LENGTH: f64 = 0.85;

/// Once the sound says two videos are one recording, pictures whose visual score (a cosine
/// after the library's mean is taken away) reaches this are the same pictures: a copy. Other
/// pictures score near 0 or below; a re-encoded or mirrored copy well above (0.86 and more in
/// `scripts/relations-eval.sh`), though below the 0.95 that frames alone need to call a pair a
/// duplicate.
const PICTURES_ALIKE: f32 = 0.5;

/// What a result is to the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Copy,
    Excerpt,
    SameSong,
}

impl std::str::FromStr for Relation {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "copy" => Ok(Relation::Copy),
            "excerpt" => Ok(Relation::Excerpt),
            "same_song" | "same-song" => Ok(Relation::SameSong),
            other => Err(format!("`{other}` is not a relation: copy, excerpt or same_song")),
        }
    }
}

impl Relation {
    pub fn name(self) -> &'static str {
        match self {
            Relation::Copy => "copy",
            Relation::Excerpt => "excerpt",
            Relation::SameSong => "same_song",
        }
    }
}

/// A relation with its evidence: where the query's start falls in the result, and the longest
/// stretch of the same recording.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Related {
    pub relation: Relation,
    /// Seconds into the result where the query's 0 s falls (negative: the result starts that far
    /// into the query).
    pub offset_s: f64,
    /// The longest stretch: where it starts in the query and in the result, and how long.
    pub query_start_s: f64,
    pub result_start_s: f64,
    pub seconds: f64,
}

/// How `result` relates to `query`, if they share a recording; `visual` (the result's visual
/// score) at `duplicate_threshold` or [`PICTURES_ALIKE`], whichever is lower, makes a
/// same-length one a copy.
pub fn relate(
    query: &Fingerprint,
    result: &Fingerprint,
    visual: Option<f32>,
    duplicate_threshold: f32,
) -> Option<Related> {
    // Silence and steady tones match any other: only stretches of changing sound count.
    let spans: Vec<_> = matches(query, result).ok()?.into_iter().filter(|s| s.informative()).collect();
    let best = *spans.first()?;
    let offset = best.start_b - best.start_a;
    // The stretches on the best one's time line (a gap where the audio differs splits them).
    let along: f64 = spans.iter().filter(|s| ((s.start_b - s.start_a) - offset).abs() <= 1.0).map(|s| s.seconds).sum();
    let (a, b) = (f64::from(query.duration_s.max(1)), f64::from(result.duration_s.max(1)));
    let (shorter, longer) = (a.min(b), a.max(b));
    if along < COVERED * shorter {
        return None;
    }
    let alike = visual.is_some_and(|v| v >= duplicate_threshold.min(PICTURES_ALIKE));
    let relation = match (shorter / longer >= SAME_LENGTH, alike) {
        (true, true) => Relation::Copy,
        (true, false) => Relation::SameSong,
        (false, _) => Relation::Excerpt,
    };
    Some(Related {
        relation,
        offset_s: offset,
        query_start_s: best.start_a,
        result_start_s: best.start_b,
        seconds: best.seconds,
    })
}

/// Identical hashes two fingerprints must share before they are matched.
const MIN_SHARED: u32 = 8;

/// A hash held by more videos than this is a sound many share (silence, a steady tone): it
/// proposes no pair.
const COMMON_HASH: usize = 50;

/// Every pair of `prints` (by video id) that holds the same recording, with how the first
/// relates to the second: found through an index of their hashes (only pairs sharing
/// [`MIN_SHARED`] identical hashes are matched, never every pair). `visual` gives a pair's visual
/// score, which tells a copy from the same song.
pub fn related_pairs(
    prints: &[(i64, Fingerprint)],
    visual: impl Fn(i64, i64) -> Option<f32>,
    duplicate_threshold: f32,
) -> Vec<(i64, i64, Related)> {
    use std::collections::{HashMap, HashSet};
    let mut holders: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, (_, print)) in prints.iter().enumerate() {
        for hash in print.hashes.iter().copied().collect::<HashSet<u32>>() {
            holders.entry(hash).or_default().push(i);
        }
    }
    let mut shared: HashMap<(usize, usize), u32> = HashMap::new();
    for videos in holders.values().filter(|v| v.len() > 1 && v.len() <= COMMON_HASH) {
        for (k, &a) in videos.iter().enumerate() {
            for &b in &videos[k + 1..] {
                *shared.entry((a.min(b), a.max(b))).or_default() += 1;
            }
        }
    }
    let mut pairs: Vec<(i64, i64, Related)> = shared
        .into_iter()
        .filter(|&(_, n)| n >= MIN_SHARED)
        .filter_map(|((a, b), _)| {
            let ((x, px), (y, py)) = (&prints[a], &prints[b]);
            relate(px, py, visual(*x, *y), duplicate_threshold).map(|r| (*x, *y, r))
        })
        .collect();
    pairs.sort_by_key(|p| (p.0, p.1));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::fingerprint::of_samples;

    fn tune(seconds: f64, seed: u32) -> Vec<f32> {
        crate::media::fingerprint::test_tune(seconds, 16_000, seed)
    }

    #[test]
    fn copies_excerpts_and_the_same_song_are_told_apart() {
        let song = tune(60.0, 3);
        let whole = of_samples(&song, 16_000).unwrap();
        let cut = of_samples(&song[16_000 * 20..16_000 * 32], 16_000).unwrap();
        let other = of_samples(&tune(60.0, 9), 16_000).unwrap();
        let excerpt = relate(&cut, &whole, Some(0.2), 0.95).unwrap();
        assert_eq!(excerpt.relation, Relation::Excerpt);
        assert!((excerpt.offset_s - 20.0).abs() <= 1.0, "{excerpt:?}");
        let back = relate(&whole, &cut, Some(0.2), 0.95).unwrap();
        assert!((back.offset_s + 20.0).abs() <= 1.0, "the other way round: {back:?}");
        assert_eq!(relate(&whole, &whole, Some(0.99), 0.95).unwrap().relation, Relation::Copy);
        assert_eq!(relate(&whole, &whole, Some(0.30), 0.95).unwrap().relation, Relation::SameSong);
        assert_eq!(relate(&other, &whole, Some(0.99), 0.95), None, "another recording");
        let prints = vec![(1, whole), (2, other), (3, cut)];
        let pairs = related_pairs(&prints, |_, _| Some(0.3), 0.95);
        assert_eq!(pairs.len(), 1, "only the cut and its song: {pairs:?}");
        assert_eq!((pairs[0].0, pairs[0].1, pairs[0].2.relation), (1, 3, Relation::Excerpt));
        assert!((pairs[0].2.offset_s + 20.0).abs() <= 1.0, "{:?}", pairs[0]);
    }
}
