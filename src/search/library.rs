//! The library as search sees it: every video's frame embeddings in one index (loaded from the
//! catalog once), and its lyrics embeddings with the transcript lines they came from.

use super::approx::{ApproxIndex, IndexChoice};
use super::index::{FlatIndex, VectorIndex};
use super::rank::VideoSpan;
use super::relation::FrameGrid;
use super::sketch::Sketch;
use super::traps::{Effort, FrameTraps, SetAside, TrapRules};
use crate::catalog::{preferred_model, Catalog, Split, VideoRow, WHOLE};
use crate::error::{Error, Remedy, Result};
use crate::store::FrameStore;
use crate::train::head::Head;
use image::RgbImage;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Frames taken from a query video (the seed's 10).
pub const QUERY_FRAMES: usize = 10;

/// One transcript line with its embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub start: f64,
    pub end: f64,
    pub vector: Vec<f32>,
}

/// A video's lyrics: the whole-text embedding and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Lyrics {
    pub whole: Vec<f32>,
    pub lines: Vec<Line>,
    /// Why these lyrics should not count in a fused score, if they should not
    /// ([`super::doubt::lyrics_doubt`]).
    pub doubt: Option<String>,
}

/// One query frame.
#[derive(Debug, Clone)]
pub struct QueryFrame {
    pub t_s: f64,
    pub vector: Vec<f32>,
    /// The frame's image file, when it has one (library frames).
    pub file: Option<PathBuf>,
    /// The frame itself, when it was made for this query.
    pub image: Option<RgbImage>,
    /// Whether `vector` came from the library's index (already in its space) rather than
    /// straight from the backbone.
    pub from_index: bool,
}

impl QueryFrame {
    /// A frame taken from the library's index.
    pub fn indexed(t_s: f64, vector: Vec<f32>, file: Option<PathBuf>) -> Self {
        QueryFrame { t_s, vector, file, image: None, from_index: true }
    }
}

/// Where a row of the frame index comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRef {
    pub video: usize,
    pub t_s: f64,
    pub file: String,
}

/// Everything search needs, held in memory.
pub struct SearchLibrary {
    pub videos: Vec<VideoRow>,
    /// The frames' vectors: the full scan, or past a size the approximate index.
    pub frames: Box<dyn VectorIndex>,
    pub frame_refs: Vec<FrameRef>,
    pub spans: Vec<VideoSpan>,
    /// Each video's rows, in time order.
    pub rows_of: Vec<Vec<usize>>,
    pub lyrics: Vec<Option<Lyrics>>,
    /// The image model whose embeddings are indexed, if any.
    pub image_model: Option<String>,
    /// The text model whose embeddings are used, if any.
    pub text_model: Option<String>,
    /// The space frames are compared in: "backbone", or "head of run N".
    pub space: String,
    /// The run whose head frames are projected through (the head space), by number.
    pub run: Option<i64>,
    /// The trained head frames are projected through, in the head space.
    head: Option<Head>,
    /// The rules frames are set aside by, when they are (`[search.traps] set_aside`).
    pub traps: Option<TrapRules>,
    /// Why each row is set aside, if it is (empty when no rules were given).
    pub set_aside: Vec<Option<SetAside>>,
    /// Frames not judged yet for saying nothing (`reelmatch index update` judges them).
    pub unjudged: usize,
}

/// Where a search library's rows are: a whole store (mapped), a whole head projection (a store
/// of its own), or rows copied out of one (a split).
enum RowsFrom<'a> {
    Store(&'a FrameStore),
    Projection(Box<FrameStore>),
    Copied,
}

/// The name a head's projection of the library is kept under: one per head's parameters (and
/// per space: logits, or their compact image past as many classes as features).
pub fn projection_key(head: &Head) -> Result<String> {
    let space = if head.compact() { "-compact" } else { "" };
    Ok(format!("head-{}{space}", head.fingerprint()?))
}

/// How many times each catalog's library has been loaded for search in this process (a warm
/// frontend's second query must not load again; its tests count, each on its own catalog).
static LOADS: std::sync::Mutex<Vec<(PathBuf, usize)>> = std::sync::Mutex::new(Vec::new());

fn count_load(catalog: &Path) {
    let mut loads = LOADS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match loads.iter_mut().find(|(path, _)| path == catalog) {
        Some((_, n)) => *n += 1,
        None => loads.push((catalog.to_path_buf(), 1)),
    }
}

/// How many times [`SearchLibrary::load_in_space`] has run on the catalog at `catalog` in this
/// process.
pub fn loads(catalog: &Path) -> usize {
    let loads = LOADS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    loads.iter().find(|(path, _)| path == catalog).map_or(0, |(_, n)| *n)
}

impl SearchLibrary {
    /// Loads the ready videos' embeddings. The image and text models are the preferred ones if
    /// the catalog has embeddings from them, else the most used. `only` keeps frames of one
    /// split (evaluation indexes train frames and queries with test frames): read in place from
    /// the store, the other split's rows belonging to no video, so both are centred on the
    /// whole library's mean.
    pub fn load(
        catalog: &Catalog,
        image_model: Option<&str>,
        text_model: Option<&str>,
        only: Option<Split>,
    ) -> Result<Self> {
        Self::load_in_space(catalog, image_model, text_model, only, None, None, IndexChoice::default())
    }

    /// Like [`SearchLibrary::load`], with frames compared in a trained head's output space when
    /// `head` is given as (run id, head); the image model is then the run's. With `traps`, the
    /// frames those rules set aside take no part in visual scores.
    pub fn load_in_space(
        catalog: &Catalog,
        image_model: Option<&str>,
        text_model: Option<&str>,
        only: Option<Split>,
        head: Option<(i64, &Head)>,
        traps: Option<&TrapRules>,
        index: IndexChoice,
    ) -> Result<Self> {
        count_load(catalog.path());
        let image_model = preferred_model(catalog.image_models()?, image_model);
        let text_model = preferred_model(catalog.text_models()?, text_model);
        let videos: Vec<VideoRow> =
            catalog.videos_for_search()?.into_iter().filter(|v| v.frames_train + v.frames_test > 0).collect();
        let position: HashMap<i64, usize> = videos.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
        let store = image_model.as_deref().map(|m| FrameStore::open(catalog, m)).transpose()?;
        let dim = store.as_ref().map_or(0, |s| s.dim());
        if let Some((_, h)) = head {
            if h.dim() != dim && dim > 0 {
                return Err(Error::not_ready(
                    format!(
                        "the trained head takes {}-d features but the image model {} gives {dim}-d ones",
                        h.dim(),
                        image_model.as_deref().unwrap_or("?")
                    ),
                    Remedy::TrainAgain,
                ));
            }
        }
        // The store's rows of the listed videos, and which of them are in the split asked for.
        let listed: Vec<usize> = store.as_ref().map_or_else(Vec::new, |s| {
            (0..s.len()).filter(|&r| position.contains_key(&s.meta()[r].video_id)).collect()
        });
        let in_split = |r: usize| store.as_ref().is_some_and(|s| only.is_none_or(|split| split == s.meta()[r].split));
        // The index's rows (store rows): the whole store when every row is listed (a split is
        // then the rows its spans cover, read in place), else the listed rows of the split.
        let whole = store.as_ref().is_some_and(|s| listed.len() == s.len());
        let index_rows: Vec<usize> = if whole { listed } else { listed.into_iter().filter(|&r| in_split(r)).collect() };
        let (frames, rows_from) = match (&store, head) {
            // The whole store as it is: mapped, with the mean and norms it keeps.
            (Some(s), None) if whole => (FlatIndex::from_store(s), RowsFrom::Store(s)),
            // The head's projection of the whole store, computed once per head and kept.
            (Some(s), Some((_, h))) if whole => {
                let projected = s.projected(&projection_key(h)?, &|v| h.project(v))?;
                (FlatIndex::from_store(&projected), RowsFrom::Projection(Box::new(projected)))
            }
            // Some of its videos only: those rows copied out (from the head's projection in the
            // head space) and centred on their own mean.
            (Some(s), head) => {
                let projected = match head {
                    Some((_, h)) => Some(s.projected(&projection_key(h)?, &|v| h.project(v))?),
                    None => None,
                };
                let from = projected.as_ref().unwrap_or(s);
                let source = FlatIndex::from_store(from);
                let mut index = FlatIndex::new(from.dim().max(1));
                for rows in index_rows.chunks(4096) {
                    for v in source.rows(rows) {
                        index.push(&v);
                    }
                }
                index.center();
                (index, RowsFrom::Copied)
            }
            (None, _) => (FlatIndex::new(1), RowsFrom::Copied),
        };
        let (set_aside, unjudged) = match (&store, traps) {
            (Some(s), Some(rules)) => {
                let judged = FrameTraps::open(s, rules, Effort::Query)?;
                (index_rows.iter().map(|&r| judged.judge(rules, r)).collect(), judged.pending)
            }
            _ => (Vec::new(), 0),
        };
        let mut frame_refs = Vec::with_capacity(index_rows.len());
        let mut member = Vec::with_capacity(index_rows.len());
        if let Some(s) = &store {
            for &r in &index_rows {
                let m = &s.meta()[r];
                frame_refs.push(FrameRef { video: position[&m.video_id], t_s: m.t_s, file: s.files()[r].clone() });
                member.push(in_split(r));
            }
        }
        let (spans, rows_of) = layout_of(&frame_refs, &member, videos.len());
        // A vision-text model's frames are scored by plain cosine, exactly: its sketch and the
        // mean centring are the image model's tools.
        let describing = image_model.as_deref().is_some_and(crate::catalog::is_vision_text);
        let frames = if describing { frames.uncentred() } else { frames };
        let frames: Box<dyn VectorIndex> = if !describing && index.approximate(frames.len()) && !frames.is_empty() {
            // The whole store (or its head projection) has its sketch kept beside it; rows
            // copied out of it (some videos only) are sketched here.
            let sketch = match &rows_from {
                RowsFrom::Store(s) => Sketch::of_store(s),
                RowsFrom::Projection(p) => Sketch::of_store(p),
                RowsFrom::Copied => Sketch::build(frames.halves(), frames.dim()),
            };
            Box::new(ApproxIndex::new(frames, sketch, &spans, index.candidates))
        } else {
            Box::new(frames)
        };
        let mut lyrics = Vec::with_capacity(videos.len());
        for v in &videos {
            lyrics.push(match &text_model {
                Some(m) => load_lyrics(catalog, v.id, m)?,
                None => None,
            });
        }
        let base = Self::backbone(videos, frames, frame_refs, (spans, rows_of), lyrics, image_model, text_model);
        Ok(SearchLibrary {
            space: match head {
                Some((run, _)) if !describing => format!("head of run {run}"),
                _ => base.space.clone(),
            },
            run: head.map(|(run, _)| run),
            head: head.map(|(_, h)| h.clone()),
            traps: traps.cloned(),
            set_aside,
            unjudged,
            ..base
        })
    }

    /// A library in the backbone (or vision-text) space over `frames`, an index whose row `r` is
    /// `frame_refs[r]` (the shared catalog's index scores in SQL); no frames are set aside.
    pub fn assemble(
        videos: Vec<VideoRow>,
        frames: Box<dyn VectorIndex>,
        frame_refs: Vec<FrameRef>,
        lyrics: Vec<Option<Lyrics>>,
        image_model: Option<String>,
        text_model: Option<String>,
    ) -> Self {
        let layout = layout(&frame_refs, videos.len());
        Self::backbone(videos, frames, frame_refs, layout, lyrics, image_model, text_model)
    }

    /// This library with the frames `rules` set aside: `set_aside` has a judgement per row, and
    /// `unjudged` frames are not judged yet.
    pub fn with_traps(self, rules: &TrapRules, set_aside: Vec<Option<SetAside>>, unjudged: usize) -> Self {
        SearchLibrary { traps: Some(rules.clone()), set_aside, unjudged, ..self }
    }

    /// A library in the backbone space (the vision-text space where `image_model` is a
    /// vision-text model's) with nothing set aside, over rows laid out as `layout`.
    fn backbone(
        videos: Vec<VideoRow>,
        frames: Box<dyn VectorIndex>,
        frame_refs: Vec<FrameRef>,
        (spans, rows_of): (Vec<VideoSpan>, Vec<Vec<usize>>),
        lyrics: Vec<Option<Lyrics>>,
        image_model: Option<String>,
        text_model: Option<String>,
    ) -> Self {
        SearchLibrary {
            videos,
            frames,
            frame_refs,
            spans,
            rows_of,
            lyrics,
            space: match image_model.as_deref().is_some_and(crate::catalog::is_vision_text) {
                true => "vision-text".into(),
                false => "backbone".into(),
            },
            image_model,
            text_model,
            run: None,
            head: None,
            traps: None,
            set_aside: Vec::new(),
            unjudged: 0,
        }
    }

    /// Query frames' vectors in this library's space: frames from the index as they are, backbone
    /// features of new frames through the head when the library is in a head's space.
    pub fn query_vectors(&self, frames: &[QueryFrame]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(frames.len());
        for f in frames {
            match (&self.head, f.from_index) {
                (Some(h), false) => out.extend(h.project(std::slice::from_ref(&f.vector))?),
                _ => out.push(f.vector.clone()),
            }
        }
        Ok(out)
    }

    /// The position of a video (by catalog id) in `videos`.
    pub fn position(&self, id: i64) -> Option<usize> {
        self.videos.iter().position(|v| v.id == id)
    }

    /// Why row `row` is set aside, if it is.
    pub fn set_aside_at(&self, row: usize) -> Option<SetAside> {
        self.set_aside.get(row).copied().flatten()
    }

    /// The catalog id of each row's video.
    pub fn row_videos(&self) -> Vec<i64> {
        self.frame_refs.iter().map(|f| self.videos[f.video].id).collect()
    }

    /// How `from` (frames at their times, vectors in this library's space; a video's spread
    /// frames, as a query takes them) compares with every frame of video `to`: the grid the
    /// time-line relation is found on (`relation::relate_by_frames`).
    pub fn frame_grid(&self, from: &[(f64, Vec<f32>)], to: usize) -> FrameGrid {
        let rows = &self.rows_of[to];
        if from.is_empty() || rows.is_empty() {
            return FrameGrid::default();
        }
        let vectors: Vec<Vec<f32>> = from.iter().map(|(_, v)| v.clone()).collect();
        FrameGrid {
            from_t: from.iter().map(|(t, _)| *t).collect(),
            to_t: rows.iter().map(|&r| self.frame_refs[r].t_s).collect(),
            scores: self.frames.scores_at(&vectors, rows),
        }
    }

    /// A video's frames as a query takes them (up to 10, evenly spread): times and vectors.
    pub fn asking_frames(&self, video: usize) -> Vec<(f64, Vec<f32>)> {
        self.spread_frames(video, QUERY_FRAMES).into_iter().map(|(t, v, _)| (t, v)).collect()
    }

    /// Up to `n` of a video's indexed frame embeddings, evenly spread over its length, with
    /// times; frames set aside are not chosen.
    pub fn spread_frames(&self, video: usize, n: usize) -> Vec<(f64, Vec<f32>, String)> {
        let own: Vec<usize> = self.rows_of[video].iter().copied().filter(|&r| self.set_aside_at(r).is_none()).collect();
        let rows: Vec<usize> = spread(own.len(), n).into_iter().map(|i| own[i]).collect();
        let all = self.frames.rows(&rows);
        rows.iter().zip(all).map(|(&r, v)| (self.frame_refs[r].t_s, v, self.frame_refs[r].file.clone())).collect()
    }
}

/// Each video's spans of rows (runs of consecutive rows) and its rows in time order.
fn layout(frame_refs: &[FrameRef], videos: usize) -> (Vec<VideoSpan>, Vec<Vec<usize>>) {
    layout_of(frame_refs, &vec![true; frame_refs.len()], videos)
}

/// [`layout`] of the rows whose `member` is true only (the others belong to no video's span).
fn layout_of(frame_refs: &[FrameRef], member: &[bool], videos: usize) -> (Vec<VideoSpan>, Vec<Vec<usize>>) {
    let mut spans: Vec<VideoSpan> = Vec::new();
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); videos];
    for (row, f) in frame_refs.iter().enumerate().filter(|(r, _)| member[*r]) {
        rows_of[f.video].push(row);
        match spans.last_mut() {
            Some(span) if span.video == f.video && span.end == row => span.end = row + 1,
            _ => spans.push(VideoSpan { video: f.video, start: row, end: row + 1 }),
        }
    }
    for rows in &mut rows_of {
        rows.sort_by(|a, b| frame_refs[*a].t_s.total_cmp(&frame_refs[*b].t_s));
    }
    (spans, rows_of)
}

fn load_lyrics(catalog: &Catalog, id: i64, model: &str) -> Result<Option<Lyrics>> {
    let rows = catalog.lyrics_embeddings(id, model)?;
    let Some((_, whole)) = rows.iter().find(|(s, _)| *s == WHOLE) else { return Ok(None) };
    let Some(t) = catalog.latest_transcript(id)? else { return Ok(None) };
    let segments = catalog.segments(id, &t.model)?;
    let lines = rows
        .iter()
        .filter(|(s, _)| *s != WHOLE)
        .filter_map(|(s, v)| {
            let seg = segments.iter().find(|x| x.id as i64 == *s)?;
            Some(Line { text: seg.text.trim().to_string(), start: seg.start, end: seg.end, vector: v.clone() })
        })
        .collect();
    let doubt =
        super::doubt::lyrics_doubt(t.flag.as_deref(), t.language_probability, segments.iter().map(|s| s.avg_logprob));
    Ok(Some(Lyrics { whole: whole.clone(), lines, doubt }))
}

/// `n` indices evenly spread over `0..len` (all of them when `len <= n`).
pub fn spread(len: usize, n: usize) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    (0..n).map(|i| (i * len + len / 2) / n).map(|i| i.min(len - 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_is_even_and_distinct() {
        assert_eq!(spread(3, 10), vec![0, 1, 2]);
        let s = spread(100, 10);
        assert_eq!(s, vec![5, 15, 25, 35, 45, 55, 65, 75, 85, 95]);
        let s = spread(11, 10);
        assert_eq!(s.len(), 10);
        assert!(s.windows(2).all(|w| w[1] > w[0]));
    }
}
