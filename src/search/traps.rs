//! Frames that say nothing about their video: a label's intro or logo card that many videos
//! open with (a frame as alike as `shared_similarity` to frames of `shared_videos` other videos)
//! and black or flat frames (a brightness spread under `flat_below`). They are set aside in
//! visual scores, `dupes` and `eval`, so two videos are not called alike for sharing them.
//!
//! What each stored frame is, is worked out once and kept beside the vector store
//! (`traps.bin`: per row the number of other videos that share it and its brightness spread;
//! `traps.json`: which rows and settings they follow). New rows are compared with every row when
//! they are indexed; a rebuilt store, or another `shared_similarity`, starts again.

use super::index::{FlatIndex, VectorIndex};
use crate::config::Traps as Settings;
use crate::error::{Error, Result};
use crate::save::atomically as write_file;
use crate::store::FrameStore;
use image::RgbImage;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Why a frame is set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetAside {
    /// As alike as the settings say to frames of this many other videos.
    Shared(u16),
    /// Black, or one flat colour.
    Flat,
}

/// The rules and where the library's frames are, as a search is given them.
#[derive(Debug, Clone, PartialEq)]
pub struct TrapRules {
    pub settings: Settings,
    /// The library's root: frame files are relative to it.
    pub root: PathBuf,
}

impl TrapRules {
    /// Why a frame with `shared` other videos alike and brightness spread `spread` is set aside.
    pub fn judge(&self, shared: Option<u16>, spread: f32) -> Option<SetAside> {
        if spread < self.settings.flat_below {
            return Some(SetAside::Flat);
        }
        shared.filter(|&n| n as usize >= self.settings.shared_videos).map(SetAside::Shared)
    }

    /// How many other videos than `own` hold a frame at least `shared_similarity` alike, from one
    /// query frame's scores over the library's rows (`video_of` each row).
    pub fn shared_in(&self, scores: &[f32], video_of: &[i64], own: Option<i64>) -> u16 {
        let mut seen: HashSet<i64> = HashSet::new();
        for (s, v) in scores.iter().zip(video_of) {
            if *s >= self.settings.shared_similarity && Some(*v) != own {
                seen.insert(*v);
            }
        }
        seen.len().min(u16::MAX as usize) as u16
    }
}

/// The standard deviation of a picture's brightness (0-255): near 0 for black or one colour.
pub fn brightness_spread(img: &RgbImage) -> f32 {
    let n = (img.width() as f64 * img.height() as f64).max(1.0);
    let (mut sum, mut sq) = (0f64, 0f64);
    for p in img.pixels() {
        let y = 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
        sum += y;
        sq += y * y;
    }
    let mean = sum / n;
    ((sq / n - mean * mean).max(0.0)).sqrt() as f32
}

/// What `traps.json` records.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Header {
    /// The store generation the rows follow.
    generation: u64,
    rows: usize,
    shared_similarity: f32,
    /// Whether the shared test ran (it is skipped above `shared_max_frames`).
    shared_tested: bool,
}

/// Per stored row: how many other videos share it (when tested) and its brightness spread.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameTraps {
    pub shared: Option<Vec<u16>>,
    pub spread: Vec<f32>,
    /// Rows at the end not judged yet (left for `index update`: too many to judge for a query).
    pub pending: usize,
}

/// How much judging a caller waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Everything not judged yet (`ingest` and `index update`, as they finish).
    Full,
    /// What a query can afford: new rows are judged only if comparing them with every row is
    /// cheap (under [`QUERY_PAIRS`] pairs); otherwise they count as saying something for now.
    Query,
}

/// Frame pairs a query compares at most to judge new rows itself (a few seconds on two cores;
/// a whole 100k-frame library is 10¹⁰ pairs, about 8 minutes, done once by `index update`).
pub const QUERY_PAIRS: usize = 50_000_000;

/// Bytes per row in `traps.bin`: the shared count (u16, 0xFFFF untested), then the spread (f32).
const ROW: usize = 6;

impl FrameTraps {
    /// The traps of every row of `store`, read from beside it and brought up to date first (as
    /// far as `effort` allows).
    pub fn open(store: &FrameStore, rules: &TrapRules, effort: Effort) -> Result<FrameTraps> {
        let dir = store.dir();
        let header = read_header(dir).filter(|h| {
            h.generation == store.generation()
                && h.rows <= store.len()
                && h.shared_similarity == rules.settings.shared_similarity
        });
        let test_shared = store.len() <= rules.settings.shared_max_frames;
        let mut old = match &header {
            Some(h) if h.shared_tested || !test_shared => read_rows(&dir.join("traps.bin"), h.rows)?,
            _ => FrameTraps { shared: test_shared.then(Vec::new), spread: Vec::new(), pending: 0 },
        };
        if !test_shared {
            old.shared = None;
        }
        let from = old.spread.len();
        if from == store.len() {
            return Ok(old);
        }
        // New rows' videos must be new: otherwise an old row's count cannot simply grow.
        let old_videos: HashSet<i64> = store.meta()[..from].iter().map(|m| m.video_id).collect();
        let from = if store.meta()[from..].iter().any(|m| old_videos.contains(&m.video_id)) { 0 } else { from };
        let pairs = (store.len() - from).saturating_mul(if test_shared { store.len() } else { 0 });
        if effort == Effort::Query && pairs > QUERY_PAIRS {
            let pending = store.len() - old.spread.len();
            tracing::warn!(
                "{pending} frames are not judged yet for frames that say nothing; `reelmatch index update` judges them"
            );
            old.shared.iter_mut().for_each(|s| s.resize(store.len(), 0));
            old.spread.resize(store.len(), f32::NAN);
            old.pending = pending;
            return Ok(old);
        }
        if from == 0 {
            old = FrameTraps { shared: test_shared.then(Vec::new), spread: Vec::new(), pending: 0 };
        }
        let started = std::time::Instant::now();
        let spreads: Vec<f32> = store.files()[from..]
            .par_iter()
            .map(|f| match crate::images::open(&rules.root.join(f)) {
                Some(img) => brightness_spread(&img.to_rgb8()),
                None => f32::NAN, // no picture to judge: never called flat
            })
            .collect();
        old.spread.extend(spreads);
        if let Some(shared) = &mut old.shared {
            let video_of: Vec<i64> = store.meta().iter().map(|m| m.video_id).collect();
            add_shared(&FlatIndex::from_store(store), &video_of, from, shared, rules.settings.shared_similarity);
        }
        tracing::info!(
            "frames set aside: judged rows {from}..{} in {:.1}s",
            store.len(),
            started.elapsed().as_secs_f64()
        );
        let header = Header {
            generation: store.generation(),
            rows: store.len(),
            shared_similarity: rules.settings.shared_similarity,
            shared_tested: old.shared.is_some(),
        };
        // Kept for next time if the library can be written; a read-only one is judged again.
        if let Err(e) = save(dir, &old, &header) {
            tracing::warn!("the frames' judgements could not be kept ({e}); they are worked out again next time");
        }
        Ok(old)
    }

    /// Why row `r` is set aside, if it is.
    pub fn judge(&self, rules: &TrapRules, r: usize) -> Option<SetAside> {
        rules.judge(self.shared.as_ref().map(|s| s[r]), self.spread[r])
    }
}

/// Counts, for rows `from..` of `index` (row `r` a frame of video `video_of[r]`), the other
/// videos holding a frame at least `similarity` alike, and adds those new videos to the counts
/// of the rows before `from` (`shared`, which has a count per row before `from`).
pub(crate) fn add_shared(index: &FlatIndex, video_of: &[i64], from: usize, shared: &mut Vec<u16>, similarity: f32) {
    // Old rows → the new videos alike to them.
    let mut new_alike: HashMap<usize, HashSet<i64>> = HashMap::new();
    shared.resize(from, 0);
    let rows: Vec<usize> = (from..index.len()).collect();
    for (&q, alike) in rows.iter().zip(index.rows_at_least(&rows, similarity)) {
        let own = video_of[q];
        let mut seen: HashSet<i64> = HashSet::new();
        for r in alike.into_iter().filter(|&r| video_of[r] != own) {
            seen.insert(video_of[r]);
            if r < from {
                new_alike.entry(r).or_default().insert(own);
            }
        }
        shared.push(seen.len().min(u16::MAX as usize) as u16);
    }
    for (r, videos) in new_alike {
        shared[r] = shared[r].saturating_add(videos.len().min(u16::MAX as usize) as u16);
    }
}

fn save(dir: &Path, judged: &FrameTraps, header: &Header) -> Result<()> {
    write_rows(&dir.join("traps.bin"), judged)?;
    let text =
        serde_json::to_vec_pretty(header).map_err(|e| Error::File { path: dir.into(), reason: e.to_string() })?;
    write_file(&dir.join("traps.json"), &text)
}

fn read_header(dir: &Path) -> Option<Header> {
    serde_json::from_slice(&std::fs::read(dir.join("traps.json")).ok()?).ok()
}

fn read_rows(path: &Path, n: usize) -> Result<FrameTraps> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() < n * ROW {
        return Ok(FrameTraps { shared: Some(Vec::new()), spread: Vec::new(), pending: 0 });
    }
    let mut shared = Vec::with_capacity(n);
    let mut spread = Vec::with_capacity(n);
    let mut tested = true;
    for b in bytes.chunks_exact(ROW).take(n) {
        let s = u16::from_le_bytes([b[0], b[1]]);
        tested &= s != u16::MAX;
        shared.push(s);
        spread.push(f32::from_le_bytes([b[2], b[3], b[4], b[5]]));
    }
    Ok(FrameTraps { shared: tested.then_some(shared), spread, pending: 0 })
}

fn write_rows(path: &Path, t: &FrameTraps) -> Result<()> {
    let mut bytes = Vec::with_capacity(t.spread.len() * ROW);
    for (i, s) in t.spread.iter().enumerate() {
        let shared = t.shared.as_ref().map_or(u16::MAX, |v| v[i].min(u16::MAX - 1));
        bytes.extend(shared.to_le_bytes());
        bytes.extend(s.to_le_bytes());
    }
    write_file(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TrapRules {
        TrapRules {
            settings: Settings {
                set_aside: true,
                shared_videos: 2,
                shared_similarity: 0.9,
                flat_below: 10.0,
                shared_max_frames: 1000,
            },
            root: PathBuf::new(),
        }
    }

    #[test]
    fn black_and_one_colour_are_flat_and_a_pattern_is_not() {
        let black = RgbImage::new(16, 16);
        let red = RgbImage::from_pixel(16, 16, image::Rgb([200, 10, 10]));
        let checks =
            RgbImage::from_fn(16, 16, |x, y| if (x + y) % 2 == 0 { image::Rgb([0; 3]) } else { image::Rgb([255; 3]) });
        let r = rules();
        assert_eq!(r.judge(None, brightness_spread(&black)), Some(SetAside::Flat));
        assert_eq!(r.judge(None, brightness_spread(&red)), Some(SetAside::Flat));
        assert_eq!(r.judge(None, brightness_spread(&checks)), None);
        assert_eq!(r.judge(Some(2), 50.0), Some(SetAside::Shared(2)));
        assert_eq!(r.judge(Some(1), 50.0), None, "one other video is a match, not a trap");
        assert_eq!(r.judge(Some(5), f32::NAN), Some(SetAside::Shared(5)), "no picture: only the shared test");
    }

    #[test]
    fn shared_counts_distinct_other_videos() {
        let r = rules();
        let scores = [0.95, 0.99, 0.2, 0.93, 0.91];
        let videos = [1, 2, 2, 3, 1];
        assert_eq!(r.shared_in(&scores, &videos, Some(1)), 2, "videos 2 and 3; its own video 1 does not count");
        assert_eq!(r.shared_in(&scores, &videos, None), 3);
    }
}
