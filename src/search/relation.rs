//! How a result relates to the query video beyond looking alike, from their audio fingerprints
//! and the visual score: the same recording along most of the shorter one makes a `copy` (the
//! same length, pictures alike), an `excerpt` (one a part of the other, at an offset) or the
//! `same_song` (the same length, other pictures: a lyric video, a fan edit). Where the sound
//! cannot say (either video silent or without audio), frames matched along one time line (the
//! offset whose frames are most alike, standing out from the others) make a `copy` or an `excerpt`. [`duplicate`] is the
//! one notion of a duplicate that `similar`, the dashboard and `dupes` share.

use crate::media::fingerprint::{self, matches, Fingerprint};
use serde::Serialize;

/// The share of the shorter recording the matched stretches must cover.
const COVERED: f64 = 0.5;

/// Stretches whose offsets differ by at most this are on one time line (under two hashes).
const SAME_LINE: f64 = 0.2;

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

/// What a relation was found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The audio fingerprints (the same recording).
    Sound,
    /// Frames matched along one time line (a silent video, or one without audio).
    Frames,
}

/// A relation with its evidence: where the query's start falls in the result, and the longest
/// stretch of the same recording (or of frames matched along one time line).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Related {
    pub relation: Relation,
    /// What found it: `sound` or `frames`.
    pub by: Evidence,
    /// Seconds into the result where the query's 0 s falls (negative: the result starts that far
    /// into the query); 0 where it is not `placed`.
    pub offset_s: f64,
    /// Whether the offset was found. Frames that look alike on every time line (a still picture,
    /// a pattern that changes little) hold the one video in the other without saying where.
    pub placed: bool,
    /// The longest stretch: where it starts in the query and in the result, and how long.
    pub query_start_s: f64,
    pub result_start_s: f64,
    pub seconds: f64,
}

impl Related {
    /// The relation in a few words, as the dashboard's column says it: "excerpt +17s" (where
    /// the query's start falls in the result), "copy", "same song", "excerpt (unplaced)" where
    /// frames alike all along cannot place it.
    pub fn in_brief(&self) -> String {
        let name = self.relation.name().replace('_', " ");
        match (self.placed, self.offset_s.abs() >= 0.5) {
            (false, _) => format!("{name} (unplaced)"),
            (true, true) => format!("{name} {:+.0}s", self.offset_s),
            (true, false) => name,
        }
    }
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
    let spans: Vec<_> = matches(query, result).into_iter().filter(|s| s.informative()).collect();
    // The stretches on one stretch's time line (a gap where the audio differs splits a line).
    let on_line = |offset: f64| spans.iter().filter(move |s| ((s.start_b - s.start_a) - offset).abs() <= SAME_LINE);
    // The time line most of the recording agrees on, and best (a melody that comes back, as a
    // chorus does, also matches some seconds away, less closely): its stretches' seconds, each
    // weighed by how few bits differ.
    let weight = |offset: f64| -> f64 {
        on_line(offset).map(|s| s.seconds * (1.0 - s.differing_bits / fingerprint::SAME_BITS).max(0.0)).sum()
    };
    let mut line: Option<(f64, f64)> = None;
    for d in spans.iter().map(|s| s.start_b - s.start_a) {
        let w = weight(d);
        if line.is_none_or(|(_, most)| w > most) {
            line = Some((d, w));
        }
    }
    let (line, _) = line?;
    let best = *on_line(line).next()?;
    let offset = best.start_b - best.start_a;
    let along: f64 = on_line(offset).map(|s| s.seconds).sum();
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
        by: Evidence::Sound,
        offset_s: offset,
        placed: true,
        query_start_s: best.start_a,
        result_start_s: best.start_b,
        seconds: best.seconds,
    })
}

/// The mean similarity along the winning time line must reach this (a cosine after the
/// library's mean is taken away): re-encoded, mirrored and graded copies score above it, other
/// pictures near 0.
const FRAMES_ALIKE: f32 = 0.7;

/// And stand this far above the typical time line's: a still picture, or pictures that look
/// alike all along (a cropped copy of a pattern that changes little), scores the same on every
/// time line and places nothing.
const LINE_STANDS_OUT: f32 = 0.02;

/// At least this many of the asking frames must fall inside the other video on the line (two
/// where only two do: a short excerpt asked from the whole).
const MIN_FRAMES: usize = 3;

/// How one video's frames compare with another's: the asking frames' times, the other video's
/// frame times (sorted), and each asking frame's similarity to each of the other's frames.
#[derive(Debug, Clone, Default)]
pub struct FrameGrid {
    pub from_t: Vec<f64>,
    pub to_t: Vec<f64>,
    pub scores: Vec<Vec<f32>>,
}

/// How the video whose frames ask (`from_s` long) relates to the other (`to_s` long) by frames
/// alone, aligned in time: every time line (an offset `to − from`, on the other video's frame
/// times) is scored by the mean, over the asking frames that fall inside the other video on it,
/// of each one's similarity to the other's frame at that moment (the nearest within half a
/// sampling interval). The best line is a `copy` (about the same length) or an `excerpt` at its
/// offset where its mean reaches [`FRAMES_ALIKE`], stands [`LINE_STANDS_OUT`] above the median
/// line's, holds at least [`MIN_FRAMES`] frames, and covers most of the shorter video. Where no
/// line stands out but the typical one reaches [`FRAMES_ALIKE`] too (a still picture), the one is
/// held in the other along any line: the relation holds, not `placed`. With it, the mean
/// similarity along its line.
pub fn relate_by_frames(grid: &FrameGrid, from_s: f64, to_s: f64) -> Option<(Related, f32)> {
    let (from_t, to_t) = (&grid.from_t, &grid.to_t);
    if from_t.is_empty() || to_t.len() < 2 {
        return None;
    }
    // Half the other video's sampling interval: how far a moment may be from its nearest frame.
    let step = to_t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max).max(0.5);
    let near = step / 2.0 + 1e-6;
    let mut offsets: Vec<f64> =
        from_t.iter().flat_map(|f| to_t.iter().map(move |t| ((t - f) * 2.0).round() / 2.0)).collect();
    offsets.sort_by(f64::total_cmp);
    offsets.dedup();
    // Each line: its mean similarity and how many asking frames it holds.
    let line = |d: f64| -> Option<(f32, usize)> {
        let mut sum = 0.0;
        let mut n = 0;
        for (i, f) in from_t.iter().enumerate() {
            let at = f + d;
            let j = to_t.partition_point(|t| *t < at - near);
            let best = (j..to_t.len())
                .take_while(|&j| to_t[j] <= at + near)
                .map(|j| grid.scores[i][j])
                .fold(f32::NEG_INFINITY, f32::max);
            if best > f32::NEG_INFINITY {
                sum += best;
                n += 1;
            }
        }
        (n > 0).then(|| (sum / n as f32, n))
    };
    let inside = |d: f64| from_t.iter().filter(|f| *f + d >= -near && *f + d <= to_s + near).count();
    let lines: Vec<(f64, f32, usize)> = offsets
        .iter()
        .filter_map(|&d| line(d).map(|(m, n)| (d, m, n)))
        .filter(|l| l.2 >= MIN_FRAMES.min(inside(l.0)).max(2))
        .collect();
    let (offset, mean, _) = *lines.iter().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.abs().total_cmp(&a.0.abs())))?;
    let mut means: Vec<f32> = lines.iter().map(|l| l.1).collect();
    means.sort_by(f32::total_cmp);
    let typical = means[means.len() / 2];
    let placed = mean - typical >= LINE_STANDS_OUT;
    // Alike on the best line; where no line stands out, alike on the typical one too: held, unplaced.
    if mean < FRAMES_ALIKE || (!placed && typical < FRAMES_ALIKE) {
        return None;
    }
    let offset = if placed { offset } else { 0.0 };
    let (query_start_s, seconds) = on_line(offset, from_s, to_s);
    let (shorter, longer) = (from_s.min(to_s).max(1.0), from_s.max(to_s).max(1.0));
    if seconds < COVERED * shorter {
        return None;
    }
    let relation = if shorter / longer >= SAME_LENGTH { Relation::Copy } else { Relation::Excerpt };
    let related = Related {
        relation,
        by: Evidence::Frames,
        offset_s: offset,
        placed,
        query_start_s,
        result_start_s: query_start_s + offset,
        seconds,
    };
    Some((related, mean))
}

/// Where a video `from_s` long, its 0 s at `offset` in another `to_s` long, starts to overlap
/// it (in its own time), and for how long.
fn on_line(offset: f64, from_s: f64, to_s: f64) -> (f64, f64) {
    let from_start = (-offset).max(0.0);
    (from_start, (from_s.min(to_s - offset) - from_start).max(0.0))
}

/// One video's relation by frames to another, told from the one's side, with how alike the
/// frames are along its line and both lengths.
#[derive(Debug, Clone, Copy)]
pub struct ByFrames {
    pub other: i64,
    pub related: Related,
    pub alike: f32,
    pub from_s: f64,
    pub to_s: f64,
}

/// Frames can place a video wrongly in another whose pictures were edited: a cropped copy of a
/// zooming picture looks like a later moment of it. Where two videos that one is related to by
/// frames hold one recording (their sound says where the one falls in the other), the place
/// found in the one whose frames are more alike is carried to the other through the sound's
/// offset, where the two disagree by over a second or the other's frames could not place it.
pub fn place_through_sound<'a>(found: &mut [ByFrames], print_of: impl Fn(i64) -> Option<&'a Fingerprint>) {
    if found.len() < 2 {
        return;
    }
    let prints: Vec<Option<&Fingerprint>> =
        found.iter().map(|f| print_of(f.other).filter(|p| p.says_something())).collect();
    let mut order: Vec<usize> = (0..found.len()).collect();
    order.sort_by(|&a, &b| found[b].alike.total_cmp(&found[a].alike));
    for k in 1..order.len() {
        let i = order[k];
        let Some(mine) = prints[i] else { continue };
        // The most alike of those before it that holds its recording, and where it falls in it.
        let through = order[..k].iter().find_map(|&j| {
            let better = found[j];
            if !better.related.placed || better.alike <= found[i].alike {
                return None;
            }
            let sound = relate(mine, prints[j]?, None, 1.0)?;
            Some(better.related.offset_s - sound.offset_s)
        });
        let f = &mut found[i];
        let Some(offset) = through.filter(|o| !f.related.placed || (o - f.related.offset_s).abs() > 1.0) else {
            continue;
        };
        let (query_start_s, seconds) = on_line(offset, f.from_s, f.to_s);
        f.related = Related {
            offset_s: offset,
            placed: true,
            query_start_s,
            result_start_s: query_start_s + offset,
            seconds,
            ..f.related
        };
    }
}

/// A relation told from the other video's side: the offset negated, the starts swapped.
pub fn from_other_side(r: Related) -> Related {
    Related { offset_s: -r.offset_s, query_start_s: r.result_start_s, result_start_s: r.query_start_s, ..r }
}

/// Whether the sound can tell two videos' relation: both have a fingerprint of changing sound
/// (not silence, a steady tone, or no audio at all).
pub fn sound_decides(a: Option<&Fingerprint>, b: Option<&Fingerprint>) -> bool {
    a.is_some_and(Fingerprint::says_something) && b.is_some_and(Fingerprint::says_something)
}

/// The one notion of a duplicate (`similar`'s `duplicate`, the dashboard's `≈dup`, `dupes`): a
/// copy or an excerpt of the other, by sound or by frames, or frames alike at `threshold`.
pub fn duplicate(relation: Option<&Related>, visual: Option<f32>, threshold: f32) -> bool {
    relation.is_some_and(|r| matches!(r.relation, Relation::Copy | Relation::Excerpt))
        || visual.is_some_and(|v| v >= threshold)
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

/// The videos of `prints` (by id, `except` left out) that hold the same recording as `asked`,
/// with how each relates to it: only those sharing [`MIN_SHARED`] identical hashes with it are
/// matched (a hash of the query's that more than [`COMMON_HASH`] videos hold counts for none), so
/// a lookup in a library of thousands aligns a handful. `visual` gives a video's visual score.
pub fn related_to(
    asked: &Fingerprint,
    prints: &[(i64, Fingerprint)],
    except: Option<i64>,
    visual: impl Fn(i64) -> Option<f32>,
    duplicate_threshold: f32,
) -> Vec<(i64, Related)> {
    use std::collections::{HashMap, HashSet};
    let wanted: HashSet<u32> = asked.hashes.iter().copied().collect();
    // Per video, the query's hashes it holds (each once).
    let held: Vec<(usize, Vec<u32>)> = prints
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| Some(*id) != except)
        .filter_map(|(i, (_, print))| {
            let mut mine: Vec<u32> = print.hashes.iter().copied().filter(|h| wanted.contains(h)).collect();
            mine.sort_unstable();
            mine.dedup();
            (mine.len() >= MIN_SHARED as usize).then_some((i, mine))
        })
        .collect();
    let mut holders: HashMap<u32, usize> = HashMap::new();
    for (_, mine) in &held {
        for &h in mine {
            *holders.entry(h).or_default() += 1;
        }
    }
    let mut found: Vec<(i64, Related)> = held
        .into_iter()
        .filter(|(_, mine)| mine.iter().filter(|h| holders[h] <= COMMON_HASH).count() >= MIN_SHARED as usize)
        .filter_map(|(i, _)| {
            let (id, print) = &prints[i];
            relate(asked, print, visual(*id), duplicate_threshold).map(|r| (*id, r))
        })
        .collect();
    found.sort_by_key(|f| f.0);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::fingerprint::{item_seconds, of_samples, test_hashes, test_print};
    use std::collections::HashMap;

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
        // One video looked up in the whole library finds the same pair, from either side.
        let of_cut = related_to(&prints[2].1, &prints, Some(3), |_| Some(0.3), 0.95);
        assert_eq!(of_cut.iter().map(|f| (f.0, f.1.relation)).collect::<Vec<_>>(), vec![(1, Relation::Excerpt)]);
        assert!((of_cut[0].1.offset_s - 20.0).abs() <= 1.0, "{of_cut:?}");
        let of_other = related_to(&prints[1].1, &prints, Some(2), |_| Some(0.3), 0.95);
        assert!(of_other.is_empty(), "another recording relates to nothing: {of_other:?}");
    }

    /// A grid of `from` frame times against a video sampled every 0.5 s for `to_s` seconds, where
    /// a frame is alike (0.95) to the other's frame `shift` seconds later and not (0.1) to the
    /// rest: or alike to all of them (`still`).
    fn grid(from: &[f64], to_s: f64, shift: f64, still: bool) -> FrameGrid {
        let to_t: Vec<f64> = (0..(to_s * 2.0) as usize).map(|i| i as f64 * 0.5 + 0.25).collect();
        let scores = from
            .iter()
            .map(|f| to_t.iter().map(|t| if still || (t - (f + shift)).abs() < 0.3 { 0.95 } else { 0.1 }).collect())
            .collect();
        FrameGrid { from_t: from.to_vec(), to_t, scores }
    }

    #[test]
    fn frames_on_one_time_line_relate_a_silent_cut_and_a_copy() {
        // A 12 s cut's ten frames, found 20 s into a 60 s video.
        let cut: Vec<f64> = (0..10).map(|i| 0.25 + 1.0 * f64::from(i)).collect();
        let r = relate_by_frames(&grid(&cut, 60.0, 20.0, false), 12.0, 60.0).unwrap().0;
        assert_eq!((r.relation, r.by), (Relation::Excerpt, Evidence::Frames));
        assert!((r.offset_s - 20.0).abs() < 0.01, "{r:?}");
        let back = from_other_side(r);
        assert!((back.offset_s + 20.0).abs() < 0.01 && (back.query_start_s - 20.0).abs() < 0.01, "{back:?}");
        let spread: Vec<f64> = (0..10).map(|i| 1.25 + 5.5 * f64::from(i)).collect();
        let copy = relate_by_frames(&grid(&spread, 59.0, 0.0, false), 60.0, 59.0).unwrap().0;
        assert_eq!((copy.relation, copy.offset_s), (Relation::Copy, 0.0));
        // A still picture is alike on every time line: the cut is held in it, but not placed.
        let still = relate_by_frames(&grid(&cut, 60.0, 0.0, true), 12.0, 60.0).unwrap().0;
        assert_eq!((still.relation, still.placed, still.offset_s), (Relation::Excerpt, false, 0.0), "{still:?}");
        assert!(r.placed && copy.placed);
        // Alike on a few lines but not the typical one, and none standing out: nothing.
        let mut blurred = grid(&cut, 60.0, 20.0, false);
        blurred.scores.iter_mut().flatten().for_each(|s| *s = if *s > 0.5 { 0.705 } else { 0.695 });
        assert_eq!(relate_by_frames(&blurred, 12.0, 60.0).map(|f| f.0), None, "alike on no line apart, unsure on all");
        let mut other = grid(&spread, 60.0, 0.0, false);
        other.scores.iter_mut().flatten().for_each(|s| *s -= 0.5);
        assert_eq!(relate_by_frames(&other, 60.0, 60.0).map(|f| f.0), None, "other pictures");
        assert!(duplicate(Some(&r), Some(0.2), 0.95), "an excerpt is a duplicate whatever its score");
        assert!(!duplicate(None, Some(0.5), 0.95) && duplicate(None, Some(0.96), 0.95));
    }

    /// A silent cut placed by frames in three videos of one recording: the original, a cropped
    /// copy whose pictures match it 4 s off (a zoom), and a copy trimmed of its first 2 s; and in
    /// a fourth with other sound. The crop takes the original's place through their sound, the
    /// trimmed one keeps its own (it agrees), the other sound keeps its own.
    #[test]
    fn a_place_found_by_frames_is_carried_through_the_sound() {
        let song = tune(40.0, 5);
        let whole = of_samples(&song, 16_000).unwrap();
        let trimmed = of_samples(&song[16_000 * 2..], 16_000).unwrap();
        let other = of_samples(&tune(40.0, 11), 16_000).unwrap();
        let prints: HashMap<i64, Fingerprint> = [(1, whole.clone()), (2, whole), (3, trimmed), (4, other)].into();
        let at = |other: i64, offset: f64, alike: f32| {
            let (query_start_s, seconds) = on_line(offset, 10.0, 40.0);
            let related = Related {
                relation: Relation::Excerpt,
                by: Evidence::Frames,
                offset_s: offset,
                placed: true,
                query_start_s,
                result_start_s: query_start_s + offset,
                seconds,
            };
            ByFrames { other, related, alike, from_s: 10.0, to_s: 40.0 }
        };
        let mut found = vec![at(2, 11.0, 0.80), at(1, 7.0, 0.95), at(3, 5.4, 0.90), at(4, 3.0, 0.99)];
        place_through_sound(&mut found, |id| prints.get(&id));
        let offsets: Vec<(i64, f64)> = found.iter().map(|f| (f.other, f.related.offset_s)).collect();
        assert!((offsets[0].1 - 7.0).abs() <= 0.3, "the crop, through the original's sound: {offsets:?}");
        assert_eq!(&offsets[1..], &[(1, 7.0), (3, 5.4), (4, 3.0)], "the rest keep theirs");
        assert!((found[0].related.result_start_s - offsets[0].1).abs() < 1e-9 && found[0].related.placed);
        // Unplaced, it is placed the same way; alone, nothing changes.
        found[0].related.placed = false;
        place_through_sound(&mut found, |id| prints.get(&id));
        assert!(found[0].related.placed && (found[0].related.offset_s - 7.0).abs() <= 0.3, "{:?}", found[0]);
        let mut alone = vec![at(2, 11.0, 0.80)];
        place_through_sound(&mut alone, |id| prints.get(&id));
        assert_eq!(alone[0].related.offset_s, 11.0);
    }

    /// A melody that comes back matches a few seconds away too; the offset is the time line most
    /// of the excerpt agrees on.
    #[test]
    fn a_repeated_melody_does_not_move_an_excerpt() {
        // A 40 s song whose 10–20 s come back at 25–35 s, as a chorus; an excerpt of 8–20 s:
        // 10 s of it are the repeat too.
        let (a, b) = (tune(25.0, 7), tune(15.0, 13));
        let s = |t: f64| (t * 16_000.0) as usize;
        let mut song: Vec<f32> = a.clone();
        song.extend_from_slice(&a[s(10.0)..s(20.0)]);
        song.extend_from_slice(&b[..s(5.0)]);
        let whole = of_samples(&song, 16_000).unwrap();
        let cut = of_samples(&a[s(8.0)..s(20.0)], 16_000).unwrap();
        let spans = matches(&cut, &whole);
        assert!(spans.iter().any(|x| (x.start_b - x.start_a - 23.0).abs() <= 1.0 && x.seconds >= 8.0), "{spans:?}");
        let r = relate(&cut, &whole, None, 0.95).unwrap();
        assert!((r.offset_s - 8.0).abs() <= 1.0, "{r:?}");
        assert_eq!(relate(&whole, &cut, None, 0.95).map(|r| r.offset_s.round()), Some(-8.0), "from the song's side");
    }

    /// Where a cut matches two places as long (a melody that repeats almost exactly), the place
    /// where fewer bits differ is where it was cut from.
    #[test]
    fn of_two_places_as_long_the_closer_is_the_cut() {
        let (cut, mut whole) = (test_hashes(60, 0x9e37_79b9), test_hashes(400, 0x2545_f491));
        // The cut at 250 with one low bit of 32 differing per hash; again at 40 with two; and a
        // poorer match of half of it at 120 (8 bits differing).
        for (i, h) in cut.iter().enumerate() {
            whole[250 + i] = h ^ 1;
            whole[40 + i] = h ^ 0b11;
        }
        for (i, h) in cut[..30].iter().enumerate() {
            whole[120 + i] = h ^ 0xff;
        }
        let (cut, whole) = (test_print(cut), test_print(whole));
        let r = relate(&cut, &whole, None, 0.95).unwrap();
        assert!((r.offset_s / item_seconds() - 250.0).abs() < 0.5, "{r:?}");
    }
}
