//! How well a library retrieves itself: each video queried with 10 of its test frames against
//! an index of train frames, and with the first half of its lyrics against the second halves;
//! recall@1, recall@5 and mean average precision (one relevant video per query: AP = 1/rank).

use super::approx::IndexChoice;
use super::library::{Lyrics, SearchLibrary};
use super::query::{Query, QueryFrame, QUERY_FRAMES};
use super::rank::Weights;
use super::search_batch;
use super::traps::TrapRules;
use crate::catalog::{Catalog, Split};
use crate::error::Result;
use crate::ml::text::TextEmbedder;
use crate::train::head::Head;
use serde::Serialize;
use std::collections::HashMap;

/// Retrieval metrics over a set of queries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub queries: usize,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub map: f64,
}

/// `eval --json`: each side's metrics, null where that side could not be evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// The space frames were compared in: "backbone" or "head of run N".
    pub space: String,
    pub visual: Option<Metrics>,
    pub lyrics: Option<Metrics>,
    pub fused: Option<Metrics>,
}

/// Which side of a video's evaluation a query measures.
enum Side {
    Visual,
    Lyrics,
    Fused,
}

/// Metrics from the 1-based rank of the right answer for each query.
pub fn metrics(ranks: &[usize]) -> Option<Metrics> {
    if ranks.is_empty() {
        return None;
    }
    let n = ranks.len() as f64;
    Some(Metrics {
        queries: ranks.len(),
        recall_at_1: ranks.iter().filter(|&&r| r == 1).count() as f64 / n,
        recall_at_5: ranks.iter().filter(|&&r| r <= 5).count() as f64 / n,
        map: ranks.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / n,
    })
}

/// Evaluates the library. `text` embeds half-transcripts for the lyrics side; without it the
/// lyrics side is null.
/// With `head` (run id, head), frames are compared in that head's output space; with `traps`,
/// the frames those rules set aside are neither asked with nor matched.
pub fn evaluate(
    catalog: &Catalog,
    image_model: Option<&str>,
    text: Option<&TextEmbedder>,
    weights: Weights,
    head: Option<(i64, &Head)>,
    traps: Option<&TrapRules>,
    index: IndexChoice,
) -> Result<EvalReport> {
    let train = SearchLibrary::load_in_space(catalog, image_model, None, Some(Split::Train), head, traps, index)?;
    let test = SearchLibrary::load_in_space(catalog, image_model, None, Some(Split::Test), head, traps, index)?;
    // Lyrics: first halves as queries, second halves as the library.
    let halves: Vec<Option<(Lyrics, Lyrics)>> = match text {
        Some(model) => train.videos.iter().map(|v| halves(catalog, v.id, model)).collect::<Result<_>>()?,
        None => vec![None; train.videos.len()],
    };
    let mut lib = train;
    lib.lyrics = halves.iter().map(|h| h.as_ref().map(|(_, second)| second.clone())).collect();
    // Each video's queries (its frames alone, both, its lyrics alone), in that order: the fused
    // query asks with the frames the one before it asked with, and so shares its scores.
    let (mut asked, mut queries): (Vec<(Side, i64)>, Vec<Query>) = (Vec::new(), Vec::new());
    for (i, v) in lib.videos.iter().enumerate() {
        let frames: Vec<QueryFrame> = match test.position(v.id) {
            Some(p) => test
                .spread_frames(p, QUERY_FRAMES)
                .into_iter()
                .map(|(t_s, vector, _)| QueryFrame::indexed(t_s, vector, None))
                .collect(),
            None => Vec::new(),
        };
        let first = halves[i].as_ref().map(|(f, _)| f.clone());
        let query = |frames: Vec<QueryFrame>, lyrics: Option<Lyrics>| Query {
            label: v.title.clone(),
            exclude: None,
            frames,
            lyrics,
            within: None,
        };
        if !frames.is_empty() && !lib.frames.is_empty() {
            asked.push((Side::Visual, v.id));
            queries.push(query(frames.clone(), None));
        }
        if !frames.is_empty() || first.is_some() {
            asked.push((Side::Fused, v.id));
            queries.push(query(frames, first.clone()));
        }
        if first.is_some() {
            asked.push((Side::Lyrics, v.id));
            queries.push(query(Vec::new(), first));
        }
    }
    let answers = search_batch(&lib, &queries, weights, usize::MAX, true);
    let (mut visual, mut lyrics, mut fused) = (Vec::new(), Vec::new(), Vec::new());
    for ((side, id), answer) in asked.iter().zip(answers) {
        let rank = answer.results.iter().find(|h| h.id == *id).map(|h| h.rank);
        match side {
            Side::Visual => visual.extend(rank),
            Side::Lyrics => lyrics.extend(rank),
            Side::Fused => fused.extend(rank),
        }
    }
    Ok(EvalReport {
        space: lib.space.clone(),
        visual: metrics(&visual),
        lyrics: metrics(&lyrics),
        fused: metrics(&fused),
    })
}

/// A transcript split into its first and second half (by segments), each embedded.
fn halves(catalog: &Catalog, id: i64, model: &TextEmbedder) -> Result<Option<(Lyrics, Lyrics)>> {
    let Some(t) = catalog.latest_transcript(id)? else { return Ok(None) };
    let segments = catalog.segments(id, &t.model)?;
    if segments.len() < 2 {
        return Ok(None);
    }
    let mid = segments.len() / 2;
    let join = |s: &[crate::ml::whisper::Segment]| s.iter().map(|x| x.text.trim()).collect::<Vec<_>>().join(" ");
    let (a, b) = (join(&segments[..mid]), join(&segments[mid..]));
    let v = model.embed_batch(&[&a, &b])?;
    let lyr = |whole: &Vec<f32>| Lyrics { whole: whole.clone(), lines: Vec::new(), doubt: None };
    Ok(Some((lyr(&v[0]), lyr(&v[1]))))
}

/// Pairs of different videos whose frames look alike: each video queried with 10 of its frames
/// against the others, the two directions averaged; pairs at or above `threshold`.
pub fn near_duplicates(lib: &SearchLibrary, threshold: f32) -> Vec<(i64, i64, f32)> {
    pairs_at_least(lib, &visual_scores(lib), threshold)
}

/// Every ordered pair's one-way visual score, by video ids: `(a, b)` is `b`'s score when `a` is
/// queried with 10 of its frames.
pub fn visual_scores(lib: &SearchLibrary) -> HashMap<(i64, i64), f32> {
    visual_scores_seeing(lib, f32::NEG_INFINITY, |_, _, _| {})
}

/// Query vectors scored together in one pass over a full scan.
const PASS_VECTORS: usize = 200;

/// A video asking (its position) with its query frames' vectors.
type Asking = (usize, Vec<Vec<f32>>);

/// [`visual_scores`] at or above `floor` only, showing `see` each of them as it is scored
/// (`see(a, b, score)`: `b`'s score when `a` is queried). The scores are those a search of `a`
/// gives `b` (the mean over `a`'s 10 frames of each one's best match in `b`, frames set aside
/// matching nothing), taken per video as the scan goes instead of a ranking per search: a
/// library of thousands of videos asks millions of pairs.
pub fn visual_scores_seeing(
    lib: &SearchLibrary,
    floor: f32,
    mut see: impl FnMut(i64, i64, f32),
) -> HashMap<(i64, i64), f32> {
    let n = lib.videos.len();
    let row_video = row_videos_scored(lib);
    let dim_ok = |v: &Vec<Vec<f32>>| !v.is_empty() && !lib.frames.is_empty() && lib.frames.dim() == v[0].len();
    let asked: Vec<Asking> = (0..n)
        .map(|i| (i, lib.asking_frames(i).into_iter().map(|(_, v)| v).collect()))
        .filter(|(_, v)| dim_ok(v))
        .collect();
    // Videos in passes: as many as share one pass over the full scan, one at a time otherwise.
    let together = lib.frames.scores_queries_together();
    let mut passes: Vec<&[Asking]> = Vec::new();
    let mut rest = asked.as_slice();
    while !rest.is_empty() {
        let (mut take, mut count) = (1, rest[0].1.len());
        while together && take < rest.len() && count + rest[take].1.len() <= PASS_VECTORS {
            count += rest[take].1.len();
            take += 1;
        }
        passes.push(&rest[..take]);
        rest = &rest[take..];
    }
    // Each pass keeps the pairs at or above the floor: (asking video, scored video, score).
    let pass = |videos: &[Asking]| -> Vec<(usize, usize, f32)> {
        let flat: Vec<Vec<f32>> = videos.iter().flat_map(|(_, v)| v.iter().cloned()).collect();
        let own = if videos.len() == 1 { Some(lib.videos[videos[0].0].id) } else { None };
        let best = lib.frames.best_per_video(&flat, own, &row_video, n);
        let mut rows = best.iter();
        let mut kept = Vec::new();
        for (i, v) in videos {
            let mine: Vec<&Vec<f32>> = rows.by_ref().take(v.len()).collect();
            for j in (0..n).filter(|j| j != i) {
                match mean_of_matched(mine.iter().map(|row| row[j])) {
                    Some(score) if score >= floor => kept.push((*i, j, score)),
                    _ => {}
                }
            }
        }
        kept
    };
    let scored: Vec<Vec<(usize, usize, f32)>> = if together || passes.len() < 2 {
        passes.iter().map(|p| pass(p)).collect()
    } else {
        use rayon::prelude::*;
        passes.par_iter().map(|p| pass(p)).collect()
    };
    let mut out = HashMap::new();
    for (i, j, score) in scored.into_iter().flatten() {
        let (a, b) = (lib.videos[i].id, lib.videos[j].id);
        see(a, b, score);
        out.insert((a, b), score);
    }
    out
}

/// `b`'s visual score when `a` is queried (positions in `lib`), as [`visual_scores`] has it,
/// for one pair.
pub fn one_way_score(lib: &SearchLibrary, a: usize, b: usize) -> Option<f32> {
    let from: Vec<Vec<f32>> = lib.asking_frames(a).into_iter().map(|(_, v)| v).collect();
    let masked = |r: &usize| lib.traps.is_some() && lib.set_aside_at(*r).is_some();
    let rows: Vec<usize> = lib.rows_of[b].iter().copied().filter(|r| !masked(r)).collect();
    if from.is_empty() || rows.is_empty() || lib.frames.dim() != from[0].len() {
        return None;
    }
    let scores = lib.frames.scores_at(&from, &rows);
    mean_of_matched(
        scores.iter().map(|row| row.iter().fold(f32::NEG_INFINITY, |best, &s| if s > best { s } else { best })),
    )
}

/// The mean of the query frames' best scores that matched at all (as a search scores a video).
fn mean_of_matched(best: impl Iterator<Item = f32>) -> Option<f32> {
    let (mut sum, mut count) = (0f32, 0usize);
    for s in best.filter(|&s| s > f32::NEG_INFINITY) {
        sum += s;
        count += 1;
    }
    (count > 0).then(|| sum / count as f32)
}

/// Each row's video (its position in `lib.videos`) as a search counts it: `u32::MAX` for a row
/// in no video's span or set aside.
fn row_videos_scored(lib: &SearchLibrary) -> Vec<u32> {
    let mut rows = vec![u32::MAX; lib.frames.len()];
    for span in &lib.spans {
        for r in span.start..span.end.min(rows.len()) {
            if lib.traps.is_none() || lib.set_aside_at(r).is_none() {
                rows[r] = span.video as u32;
            }
        }
    }
    rows
}

/// A pair's visual score: the two directions averaged (one where only one was scored).
pub fn pair_score(scores: &HashMap<(i64, i64), f32>, a: i64, b: i64) -> Option<f32> {
    averaged(scores.get(&(a, b)).copied(), scores.get(&(b, a)).copied())
}

/// Two directions' visual scores as a pair's: their mean, or the one there is.
pub fn averaged(x: Option<f32>, y: Option<f32>) -> Option<f32> {
    match (x, y) {
        (Some(x), Some(y)) => Some((x + y) / 2.0),
        (x, y) => x.or(y),
    }
}

/// The pairs (in `lib`'s order of videos) whose two directions, averaged, are at or above
/// `threshold`, best first.
pub fn pairs_at_least(lib: &SearchLibrary, scores: &HashMap<(i64, i64), f32>, threshold: f32) -> Vec<(i64, i64, f32)> {
    let position: HashMap<i64, usize> = lib.videos.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
    let before = |a: &i64, b: &i64| position.get(a) < position.get(b);
    let mut pairs: Vec<(i64, i64, f32)> = scores
        .iter()
        .filter(|((a, b), _)| before(a, b) && scores.contains_key(&(*b, *a)))
        .filter_map(|(&(a, b), _)| pair_score(scores, a, b).map(|s| (a, b, s)))
        .filter(|p| p.2 >= threshold)
        .collect();
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    pairs
}

#[cfg(test)]
mod tests {
    use super::metrics;

    #[test]
    fn metrics_from_ranks() {
        let m = metrics(&[1, 2, 1, 6]).unwrap();
        assert_eq!(m.queries, 4);
        assert!((m.recall_at_1 - 0.5).abs() < 1e-12);
        assert!((m.recall_at_5 - 0.75).abs() < 1e-12);
        assert!((m.map - (1.0 + 0.5 + 1.0 + 1.0 / 6.0) / 4.0).abs() < 1e-12);
        assert_eq!(metrics(&[]), None);
    }
}
