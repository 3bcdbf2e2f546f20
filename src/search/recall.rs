//! How much of what the full scan finds an approximate index finds: recall@10 of the videos the
//! full scan ranks first, and of each query frame's ten nearest frames, with library videos as
//! the queries (`tests/approx.rs` and `benches/library_scale.rs` measure it).

use super::approx::largest;
use super::{search_batch, Query, SearchLibrary, Weights};
use crate::error::Result;
use std::collections::HashSet;
use std::path::Path;

/// Recall@10 against the full scan, each in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recall {
    pub videos: f64,
    pub frames: f64,
    /// Query videos measured.
    pub queries: usize,
}

/// Recall@10 of `approx` against `exact` (the same library loaded both ways), with the videos at
/// `positions` (indexes into `exact.videos`) as the queries, visual scores only.
pub fn recall_at_10(exact: &SearchLibrary, approx: &SearchLibrary, root: &Path, positions: &[usize]) -> Result<Recall> {
    let queries: Vec<Query> =
        positions.iter().map(|&i| Query::from_library(exact, root, &exact.videos[i])).collect::<Result<_>>()?;
    let w = Weights { visual: 1.0, lyrics: 0.0 };
    let want = search_batch(exact, &queries, w, 10, false);
    let got = search_batch(approx, &queries, w, 10, false);
    let (mut videos, mut video_total, mut frames, mut frame_total) = (0usize, 0usize, 0usize, 0usize);
    for (q, (a, b)) in queries.iter().zip(want.iter().zip(&got)) {
        let truth: HashSet<i64> = a.results.iter().map(|h| h.id).collect();
        videos += b.results.iter().filter(|h| truth.contains(&h.id)).count();
        video_total += truth.len();
        let vectors: Vec<Vec<f32>> = q.frames.iter().map(|f| f.vector.clone()).collect();
        for (e, s) in exact.frames.scores(&vectors).iter().zip(&approx.frames.scores(&vectors)) {
            let truth: HashSet<usize> = largest(e, 10).into_iter().collect();
            frames += largest(s, 10).iter().filter(|r| truth.contains(r)).count();
            frame_total += truth.len();
        }
    }
    let share = |found: usize, total: usize| if total == 0 { 1.0 } else { found as f64 / total as f64 };
    Ok(Recall { videos: share(videos, video_total), frames: share(frames, frame_total), queries: queries.len() })
}
