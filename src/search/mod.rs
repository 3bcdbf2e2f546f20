//! Similarity search: frames by cosine similarity aggregated per video, lyrics by cosine
//! similarity of their embeddings, fused into one ranking that explains itself.

pub mod approx;
pub mod doubt;
pub mod eval;
pub mod index;
pub mod library;
pub mod pairs;
pub mod query;
pub mod rank;
pub mod recall;
pub mod relation;
pub mod sketch;
pub mod space;
pub mod traps;

pub use library::SearchLibrary;
pub use query::{find_video, Query};
pub use rank::Weights;

use crate::ml::cosine;
use rank::{aggregate, fuse, order};
use serde::Serialize;
use std::collections::HashMap;

/// Which query frame matched which library frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameHit {
    pub query_t: f64,
    pub match_t: f64,
    pub similarity: f32,
    /// The matched frame's image, relative to the library root.
    pub match_file: String,
}

/// Re-ranks results with other weights (no new search: each hit keeps its visual and lyrics parts).
pub fn rerank(results: &mut Results, weights: Weights) {
    for h in &mut results.results {
        h.score = fuse(h.visual, doubt::counted(h.visual, h.lyrics, h.lyrics_doubt.as_deref()), weights).unwrap_or(0.0);
    }
    order(&mut results.results, |h| h.score, |h| h.id);
    for (i, h) in results.results.iter_mut().enumerate() {
        h.rank = i + 1;
    }
    results.weights = weights;
}

/// The best-matching pair of lyric lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineHit {
    pub query_text: String,
    pub match_text: String,
    pub similarity: f32,
    pub match_start: f64,
    pub match_end: f64,
}

/// One ranked video. `visual` or `lyrics` is `None` when that side is missing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub rank: usize,
    pub id: i64,
    pub title: String,
    pub score: f32,
    pub visual: Option<f32>,
    pub lyrics: Option<f32>,
    /// Why the lyrics were not counted in `score`, where the query's or this video's are in
    /// doubt ([`doubt::lyrics_doubt`]); `lyrics` still says how alike they are.
    pub lyrics_doubt: Option<String>,
    pub frames: Vec<FrameHit>,
    pub lines: Vec<LineHit>,
    /// What it is to the query video beyond looking alike (`copy`, `excerpt`, `same_song`),
    /// with where the query falls in it; `null` when they share no recording or it was not
    /// looked at (a query without a fingerprint).
    pub relation: Option<relation::Related>,
    /// Whether it is a duplicate of the query video: a copy or an excerpt (by sound or frames),
    /// or frames alike at the duplicate threshold ([`relation::duplicate`]; `dupes` and the
    /// dashboard's `≈dup` go by the same rule). False where it was not looked at (a lyrics query).
    pub duplicate: bool,
}

impl Hit {
    /// Why its lyrics were left out of `score`, if they were ([`doubt::left_out`]).
    pub fn lyrics_left_out(&self) -> Option<&str> {
        doubt::left_out(self.visual, self.lyrics_doubt.as_deref())
    }

    /// The frame pair that matched best, if frames were compared.
    pub fn best_frame(&self) -> Option<&FrameHit> {
        self.frames.iter().max_by(|a, b| a.similarity.total_cmp(&b.similarity))
    }
}

/// A whole answer (`similar --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Results {
    pub query: String,
    pub weights: Weights,
    pub image_model: Option<String>,
    pub text_model: Option<String>,
    /// The space frames were compared in: "backbone" or "head of run N".
    pub space: String,
    /// In the head space, the run whose head frames were compared through (null in the backbone
    /// space): what a script reads instead of parsing `space`.
    pub run: Option<i64>,
    pub results: Vec<Hit>,
}

/// Ranks the library against `query`: at most `top` videos, the query's own video left out
/// unless `include_self`.
pub fn search(lib: &SearchLibrary, query: &Query, weights: Weights, top: usize, include_self: bool) -> Results {
    search_batch(lib, std::slice::from_ref(query), weights, top, include_self).remove(0)
}

/// Query vectors scored per pass over the index when many queries are answered together: each
/// pass reads every stored vector once for all of them (`eval` and `dupes` ask hundreds).
const PASS_VECTORS: usize = 100;

/// One pass's queries (by position) with their visual scores per video.
type Scored = Vec<(usize, HashMap<usize, rank::VisualScore>)>;

/// Ranks the library against each of `queries` (see [`search`]), scoring their frames together
/// in passes of up to [`PASS_VECTORS`] vectors (one query at a time in the approximate index).
pub fn search_batch(
    lib: &SearchLibrary,
    queries: &[Query],
    weights: Weights,
    top: usize,
    include_self: bool,
) -> Vec<Results> {
    let vectors: Vec<Vec<Vec<f32>>> = queries
        .iter()
        .map(|q| {
            let v = lib.query_vectors(&q.frames).unwrap_or_else(|e| {
                tracing::warn!("query frames cannot be compared in {}: {e}", lib.space);
                Vec::new()
            });
            let usable = !v.is_empty() && !lib.frames.is_empty() && lib.frames.dim() == v[0].len();
            if usable {
                v
            } else {
                Vec::new()
            }
        })
        .collect();
    // A query asking with the same frames as the one before it (`eval` asks each video's test
    // frames alone and fused with its lyrics) takes that one's visual scores.
    let repeats: Vec<bool> = (0..queries.len())
        .map(|i| {
            i > 0
                && !vectors[i].is_empty()
                && vectors[i] == vectors[i - 1]
                && queries[i].exclude == queries[i - 1].exclude
                && queries[i].frames.iter().map(|f| f.from_index).eq(queries[i - 1].frames.iter().map(|f| f.from_index))
        })
        .collect();
    let vectors: Vec<Vec<Vec<f32>>> =
        vectors.into_iter().zip(&repeats).map(|(v, &again)| if again { Vec::new() } else { v }).collect();
    let mut visual: Vec<HashMap<usize, rank::VisualScore>> = vec![HashMap::new(); queries.len()];
    let row_videos = if lib.traps.is_some() { lib.row_videos() } else { Vec::new() };
    let masked: Vec<usize> = (0..lib.set_aside.len()).filter(|&r| lib.set_aside_at(r).is_some()).collect();
    let together = lib.frames.scores_queries_together();
    // Queries in passes: as many as share one pass over the full scan, one at a time otherwise.
    let mut passes: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    while start < queries.len() {
        let (mut end, mut count) = (start, 0);
        while end < queries.len() && (end == start || together && count + vectors[end].len() <= PASS_VECTORS) {
            count += vectors[end].len();
            end += 1;
        }
        passes.push(start..end);
        start = end;
    }
    let pass = |range: &std::ops::Range<usize>| -> Scored {
        let (start, end) = (range.start, range.end);
        if vectors[start..end].iter().all(|v| v.is_empty()) {
            return Vec::new();
        }
        let flat: Vec<Vec<f32>> = vectors[start..end].iter().flatten().cloned().collect();
        // A search scored on its own may tell the index which video it leaves out.
        let own = if end == start + 1 && !include_self { queries[start].exclude } else { None };
        let mut scores = lib.frames.scores_leaving_out(&flat, own);
        let mut at = 0;
        let mut out = Vec::new();
        for (q, own) in vectors[start..end].iter().enumerate() {
            if !own.is_empty() {
                let mine = &mut scores[at..at + own.len()];
                set_aside_traps(lib, &queries[start + q], mine, &row_videos, &masked);
                out.push((start + q, aggregate(mine, &lib.spans).into_iter().map(|s| (s.video, s)).collect()));
            }
            at += own.len();
        }
        out
    };
    // The approximate index takes one search at a time, and only part of each on every core
    // (its sketch pass): several searches (`eval`, `dupes`) run side by side.
    let scored: Vec<Scored> = if together || passes.len() < 2 {
        passes.iter().map(pass).collect()
    } else {
        use rayon::prelude::*;
        passes.par_iter().map(pass).collect()
    };
    for (q, v) in scored.into_iter().flatten() {
        visual[q] = v;
    }
    for i in (0..queries.len()).filter(|&i| repeats[i]) {
        visual[i] = visual[i - 1].clone();
    }
    queries.iter().zip(&visual).map(|(q, vis)| rank_one(lib, q, vis, weights, top, include_self)).collect()
}

/// Takes the frames that say nothing out of one query's scores (a row per query frame): a new
/// query frame (not from the index) that is flat or shared by many library videos scores
/// nothing, and no query frame can match a library frame set aside.
fn set_aside_traps(lib: &SearchLibrary, query: &Query, scores: &mut [Vec<f32>], row_videos: &[i64], masked: &[usize]) {
    let Some(rules) = &lib.traps else { return };
    for (frame, row) in query.frames.iter().zip(scores.iter_mut()) {
        if !frame.from_index {
            let spread = frame.image.as_ref().map_or(f32::NAN, traps::brightness_spread);
            let shared = rules.shared_in(row, row_videos, query.exclude);
            if rules.judge(Some(shared), spread).is_some() {
                row.iter_mut().for_each(|s| *s = f32::NEG_INFINITY);
                continue;
            }
        }
        for &r in masked {
            row[r] = f32::NEG_INFINITY;
        }
    }
}

/// One query's ranking from its visual scores per video and the lyrics.
fn rank_one(
    lib: &SearchLibrary,
    query: &Query,
    visual: &HashMap<usize, rank::VisualScore>,
    weights: Weights,
    top: usize,
    include_self: bool,
) -> Results {
    let mut hits: Vec<Hit> = lib
        .videos
        .iter()
        .enumerate()
        .filter(|(_, v)| include_self || Some(v.id) != query.exclude)
        .filter(|(_, v)| query.within.as_ref().is_none_or(|folder| v.path.starts_with(folder)))
        .filter_map(|(i, v)| {
            let vis = visual.get(&i);
            let (lyr, lines, lyrics_doubt) = match (&query.lyrics, &lib.lyrics[i]) {
                (Some(q), Some(m)) => {
                    let doubt = q.doubt.clone().or_else(|| m.doubt.clone());
                    (Some(cosine(&q.whole, &m.whole)), best_lines(q, m), doubt)
                }
                _ => (None, Vec::new(), None),
            };
            let counted = doubt::counted(vis.map(|s| s.score), lyr, lyrics_doubt.as_deref());
            let score = fuse(vis.map(|s| s.score), counted, weights)?;
            let frames = vis
                .map(|s| {
                    s.matches
                        .iter()
                        .map(|m| FrameHit {
                            query_t: query.frames[m.query].t_s,
                            match_t: lib.frame_refs[m.row].t_s,
                            similarity: m.similarity,
                            match_file: lib.frame_refs[m.row].file.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(Hit {
                rank: 0,
                id: v.id,
                title: v.title.clone(),
                score,
                visual: vis.map(|s| s.score),
                lyrics: lyr,
                lyrics_doubt,
                frames,
                lines,
                relation: None,
                duplicate: false,
            })
        })
        .collect();
    order(&mut hits, |h| h.score, |h| h.id);
    hits.truncate(top);
    for (i, h) in hits.iter_mut().enumerate() {
        h.rank = i + 1;
    }
    Results {
        query: query.label.clone(),
        weights,
        image_model: lib.image_model.clone(),
        text_model: lib.text_model.clone(),
        space: lib.space.clone(),
        run: lib.run,
        results: hits,
    }
}

/// The best-matching pair of lines between two lyrics (the explanation of a lyrics score).
fn best_lines(q: &library::Lyrics, m: &library::Lyrics) -> Vec<LineHit> {
    let mut best: Option<LineHit> = None;
    for ql in &q.lines {
        for ml in &m.lines {
            let s = cosine(&ql.vector, &ml.vector);
            if best.as_ref().is_none_or(|b| s > b.similarity) {
                best = Some(LineHit {
                    query_text: ql.text.clone(),
                    match_text: ml.text.clone(),
                    similarity: s,
                    match_start: ml.start,
                    match_end: ml.end,
                });
            }
        }
    }
    best.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: i64, visual: Option<f32>, lyrics: Option<f32>) -> Hit {
        Hit {
            rank: 0,
            id,
            title: id.to_string(),
            score: 0.0,
            visual,
            lyrics,
            lyrics_doubt: None,
            frames: vec![],
            lines: vec![],
            relation: None,
            duplicate: false,
        }
    }

    #[test]
    fn rerank_moves_results_with_the_weights() {
        let mut r = Results {
            query: "q".into(),
            weights: Weights { visual: 1.0, lyrics: 0.0 },
            image_model: None,
            text_model: None,
            space: "backbone".into(),
            run: None,
            results: vec![hit(1, Some(0.9), Some(0.1)), hit(2, Some(0.2), Some(0.95)), hit(3, None, Some(0.5))],
        };
        rerank(&mut r, Weights { visual: 1.0, lyrics: 0.0 });
        assert_eq!(r.results.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1, 3, 2]);
        rerank(&mut r, Weights { visual: 0.0, lyrics: 1.0 });
        assert_eq!(r.results.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2, 3, 1]);
        assert_eq!(r.results.iter().map(|h| h.rank).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(r.results[1].score, 0.5, "a missing side leaves the other to carry the score");
    }
}
