//! The approximate index for large libraries: the videos nearest to a query by one-bit sketch
//! (`sketch.rs`) are the candidates, and every frame of those videos is then scored exactly, so
//! a candidate video's score is the one the full scan gives it. Rows of videos that are not
//! candidates score minus infinity (they match nothing). What is approximate
//! is only which videos are looked at; recall against the full scan is measured in
//! `tests/approx.rs` and `benches/library_scale.rs`.

use super::index::{FlatIndex, VectorIndex};
use super::rank::VideoSpan;
use super::sketch::Sketch;
pub use crate::config::IndexKind;
use std::collections::{BTreeSet, HashMap};

/// How the index is chosen (`[search] index`, `approximate_from`, `candidates`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexChoice {
    pub mode: IndexKind,
    /// From this many rows on, `auto` is approximate.
    pub approximate_from: usize,
    /// Videos a query scores exactly, chosen by sketch.
    pub candidates: usize,
}

impl Default for IndexChoice {
    fn default() -> Self {
        IndexChoice { mode: IndexKind::Auto, approximate_from: 250_000, candidates: 64 }
    }
}

impl IndexChoice {
    /// Whether a library of `rows` rows is searched approximately.
    pub fn approximate(&self, rows: usize) -> bool {
        match self.mode {
            IndexKind::Auto => rows >= self.approximate_from,
            IndexKind::Exact => false,
            IndexKind::Approximate => true,
        }
    }
}

/// Exact scores over the frames of the videos a sketch search finds.
pub struct ApproxIndex {
    flat: FlatIndex,
    sketch: Sketch,
    /// Each row's video, as an index into `ranges`.
    video_of: Vec<u32>,
    /// Each video's row ranges.
    ranges: Vec<Vec<std::ops::Range<usize>>>,
    candidates: usize,
}

impl ApproxIndex {
    /// `flat`'s rows, sketched by `sketch` (the same rows), grouped into videos by `spans`.
    pub fn new(flat: FlatIndex, sketch: Sketch, spans: &[VideoSpan], candidates: usize) -> Self {
        assert_eq!(sketch.len(), flat.len(), "the sketch covers the index's rows");
        let mut compact: HashMap<usize, u32> = HashMap::new();
        let mut ranges: Vec<Vec<std::ops::Range<usize>>> = Vec::new();
        let mut video_of = vec![u32::MAX; flat.len()];
        for s in spans.iter().filter(|s| s.end > s.start && s.end <= flat.len()) {
            let v = *compact.entry(s.video).or_insert_with(|| {
                ranges.push(Vec::new());
                (ranges.len() - 1) as u32
            });
            ranges[v as usize].push(s.start..s.end);
            video_of[s.start..s.end].iter_mut().for_each(|x| *x = v);
        }
        ApproxIndex { flat, sketch, video_of, ranges, candidates: candidates.max(1) }
    }

    /// The videos worth scoring exactly for `queries` (one query's frames). Each frame's
    /// nearest row by sketch in every video gives a Hamming total per video; the
    /// [`SHORTLIST`] × `candidates` videos nearest by it have those rows scored exactly, and the
    /// `candidates` with the best sum (a lower bound of the score the full scan gives them: it
    /// averages each frame's best match) are taken, with each frame's own nearest quarter as
    /// many by sketch (a single strong match, as `dupes` looks for).
    pub fn candidate_videos(&self, queries: &[Vec<f32>]) -> Vec<usize> {
        let videos = self.ranges.len();
        if videos <= self.candidates {
            return (0..videos).collect();
        }
        let codes: Vec<Vec<u64>> = queries.iter().map(|q| self.sketch.code_of(q)).collect();
        let mut total = vec![0u32; videos];
        let mut best_rows: Vec<Vec<u32>> = Vec::with_capacity(queries.len());
        let mut chosen = BTreeSet::new();
        let per_frame = self.candidates.div_ceil(4);
        for near in self.sketch.nearest_in_groups(&codes, &self.video_of, videos) {
            total.iter_mut().zip(&near.distance).for_each(|(t, &n)| *t += n as u32);
            chosen.extend(smallest(&near.distance, per_frame));
            best_rows.push(near.row);
        }
        let shortlist = smallest(&total, SHORTLIST * self.candidates);
        // Each frame's sketch-nearest row of each shortlisted video, scored exactly.
        let rows: Vec<usize> = shortlist.iter().flat_map(|&v| best_rows.iter().map(move |b| b[v] as usize)).collect();
        let exact = self.flat.scores_at(queries, &rows);
        let per_video: Vec<f32> =
            (0..shortlist.len()).map(|i| (0..queries.len()).map(|q| exact[q][i * queries.len() + q]).sum()).collect();
        chosen.extend(largest(&per_video, self.candidates).into_iter().map(|i| shortlist[i]));
        chosen.into_iter().collect()
    }

    /// Row ranges to score exactly for `queries`, in row order.
    pub fn candidate_ranges(&self, queries: &[Vec<f32>]) -> Vec<std::ops::Range<usize>> {
        let mut ranges: Vec<std::ops::Range<usize>> =
            self.candidate_videos(queries).into_iter().flat_map(|v| self.ranges[v].iter().cloned()).collect();
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
        for r in ranges {
            match merged.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => merged.push(r),
            }
        }
        merged
    }
}

/// How many times `candidates` videos are shortlisted by sketch for a closer look.
pub const SHORTLIST: usize = 8;

/// The indexes of the `k` highest scores (minus infinity never counts), in no particular order.
pub(crate) fn largest(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] > f32::NEG_INFINITY).collect();
    if idx.len() > k && k > 0 {
        idx.select_nth_unstable_by(k - 1, |a, b| scores[*b].total_cmp(&scores[*a]));
        idx.truncate(k);
    }
    idx
}

/// The indexes of the `k` smallest values (ties broken by index).
fn smallest<T: Ord + Copy>(values: &[T], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    if idx.len() > k {
        idx.select_nth_unstable_by_key(k - 1, |&i| (values[i], i));
        idx.truncate(k);
    }
    idx
}

impl VectorIndex for ApproxIndex {
    fn dim(&self) -> usize {
        self.flat.dim()
    }

    fn len(&self) -> usize {
        self.flat.len()
    }

    fn scores(&self, queries: &[Vec<f32>]) -> Vec<Vec<f32>> {
        if queries.is_empty() || self.is_empty() {
            return vec![Vec::new(); queries.len()];
        }
        let mut out = vec![vec![f32::NEG_INFINITY; self.len()]; queries.len()];
        for range in self.candidate_ranges(queries) {
            let part = self.flat.scores_in(queries, range.clone());
            for (row, scored) in out.iter_mut().zip(part) {
                row[range.clone()].copy_from_slice(&scored);
            }
        }
        out
    }

    fn rows(&self, rows: &[usize]) -> Vec<Vec<f32>> {
        self.flat.rows(rows)
    }

    fn scores_at(&self, queries: &[Vec<f32>], rows: &[usize]) -> Vec<Vec<f32>> {
        self.flat.scores_at(queries, rows)
    }

    fn kind(&self) -> &'static str {
        "approximate"
    }

    fn scores_queries_together(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_scores_are_taken() {
        let s = [0.1, 0.9, f32::NEG_INFINITY, 0.5, 0.7];
        let mut got = largest(&s, 2);
        got.sort();
        assert_eq!(got, vec![1, 4]);
        assert_eq!(largest(&s, 10).len(), 4, "minus infinity never counts");
    }

    #[test]
    fn candidate_videos_are_scored_exactly_and_the_rest_not_at_all() {
        // Three videos of 40 rows around three directions; a query near video 1's.
        let dim = 64;
        let mut rng = crate::rng::SplitMix64(5);
        let centres: Vec<Vec<f32>> = (0..3).map(|_| (0..dim).map(|_| rng.unit() as f32 - 0.5).collect()).collect();
        let mut flat = FlatIndex::new(dim);
        let mut spans = Vec::new();
        for (v, c) in centres.iter().enumerate() {
            spans.push(VideoSpan { video: v, start: flat.len(), end: flat.len() + 40 });
            for _ in 0..40 {
                let row: Vec<f32> = c.iter().map(|x| x + 0.1 * (rng.unit() as f32 - 0.5)).collect();
                flat.push(&row);
            }
        }
        flat.center();
        let exact = flat.scores(std::slice::from_ref(&centres[1]));
        let sketch = Sketch::build(flat.halves(), dim);
        let approx = ApproxIndex::new(flat, sketch, &spans, 1);
        assert_eq!(approx.candidate_ranges(std::slice::from_ref(&centres[1])), vec![40..80]);
        let got = approx.scores(std::slice::from_ref(&centres[1]));
        assert_eq!(&got[0][40..80], &exact[0][40..80], "a candidate video's rows score as in the full scan");
        assert!(got[0][..40].iter().chain(&got[0][80..]).all(|s| *s == f32::NEG_INFINITY));
        assert_eq!(approx.kind(), "approximate");
    }
}
