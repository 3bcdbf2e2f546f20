//! Answering a query: from a library video, lyrics, or a video file outside the library (probed,
//! sampled and transcribed here, never added), with the images its results show.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Error, Remedy, Result};
use crate::events::Cancel;
use crate::library::Library;
use crate::media::{audio_time_limit, decode_audio, probe, sample_frames, SampleSpec};
use crate::ml::Models;
use crate::search::library::spread;
use crate::search::query::{embed_lyrics, QueryFrame, QUERY_FRAMES};
use crate::search::space::Space;
use crate::search::{search, Query, Results, Weights};
use image::{DynamicImage, RgbImage};
use std::collections::HashMap;
use std::path::Path;

/// What to search with.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryRequest {
    /// A library video, by id.
    Video(i64),
    /// Lyrics typed by the user.
    Lyrics(String),
}

/// A ranked answer with the images needed to show it: the query frames and each result's best
/// matching frame (decoded here, so a view only draws).
pub struct QueryAnswer {
    /// Every other video, ranked (so a view can re-rank with other weights without searching again).
    pub results: Results,
    /// Query frames by time, with their images when they have one.
    pub query_frames: Vec<(f64, Option<DynamicImage>)>,
    /// Matched frame images by file (relative to the library root).
    pub matches: HashMap<String, DynamicImage>,
    /// Something to tell the user about the search (e.g. the space it fell back to).
    pub note: Option<String>,
}

/// A library opened for search and kept between queries by a long-lived frontend (the
/// dashboard): reused while the catalog is unchanged, opened again once another connection has
/// committed to it (an ingest, a training run). One query runs at a time; a fresh cache answers
/// one query cold.
#[derive(Default)]
pub struct QueryCache {
    held: std::sync::Mutex<Option<Opened>>,
}

/// The catalog connection, the space and the library as one query found them.
struct Opened {
    catalog: Catalog,
    version: i64,
    space: Space,
    lib: crate::search::SearchLibrary,
}

impl Opened {
    fn open(library: &Library, config: &Config) -> Result<Opened> {
        let catalog = Catalog::open(&library.catalog_path())?;
        // Read before loading: a commit during the load makes the next query load again.
        let version = catalog.data_version()?;
        let space = Space::choose(library, &catalog, config, None)?;
        let lib = space.load(&catalog, None)?;
        Ok(Opened { catalog, version, space, lib })
    }
}

impl QueryCache {
    /// Answers `request` against the library, opening it first unless it is kept and current; a
    /// lyrics query loads the text model (only that one).
    pub fn answer(
        &self,
        library: &Library,
        config: &Config,
        request: &QueryRequest,
        models: &Models,
        weights: Weights,
    ) -> Result<QueryAnswer> {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = match held.take() {
            Some(h) if h.catalog.data_version()? == h.version => h,
            _ => Opened::open(library, config)?,
        };
        let answer = current.answer(library, request, models, weights);
        *held = Some(current);
        answer
    }
}

impl Opened {
    fn answer(
        &self,
        library: &Library,
        request: &QueryRequest,
        models: &Models,
        weights: Weights,
    ) -> Result<QueryAnswer> {
        let lib = &self.lib;
        let query = match request {
            QueryRequest::Video(id) => {
                let video = lib.videos.iter().find(|v| v.id == *id).ok_or_else(|| {
                    Error::not_ready(format!("video {id} has no frames to search with yet"), Remedy::WaitForIngest)
                })?;
                Query::from_library(lib, library.root(), video)?
            }
            QueryRequest::Lyrics(words) => Query::from_lyrics(models.require_text()?, words)?,
        };
        let results = search(lib, &query, weights, usize::MAX, false);
        let open = crate::images::open;
        let query_frames = query.frames.iter().map(|f| (f.t_s, f.file.as_deref().and_then(open))).collect();
        let mut matches = HashMap::new();
        for hit in results.results.iter().take(50) {
            if let Some(best) = hit.best_frame() {
                if let Some(img) = open(&library.resolve(&best.match_file)) {
                    matches.insert(best.match_file.clone(), img);
                }
            }
        }
        let unjudged = (lib.unjudged > 0).then(|| {
            format!("{} new frame(s) are not yet checked for shared intros and black frames; `reelmatch index update` checks them", lib.unjudged)
        });
        let note = [self.space.note.clone(), unjudged].into_iter().flatten().collect::<Vec<_>>().join("; ");
        Ok(QueryAnswer { results, query_frames, matches, note: (!note.is_empty()).then_some(note) })
    }
}

/// A video file outside the library: probed, 10 frames sampled and embedded, its audio
/// transcribed and embedded, without adding it to the library.
pub fn query_from_file(config: &Config, models: &Models, path: &Path, cancel: &Cancel) -> Result<Query> {
    let p = probe(&config.tools.ffprobe, path)?;
    let mut frames = Vec::new();
    if let Some(image) = models.image() {
        let fps = (QUERY_FRAMES as f64 + 0.5) / p.duration_s;
        let spec = SampleSpec { fps, short_side: config.sampling.frame_short_side };
        let mut sampled = Vec::new();
        sample_frames(&config.tools.ffmpeg, path, spec, SampleSpec::time_limit(p.duration_s), cancel, |f| {
            if let Some(img) = RgbImage::from_raw(f.width, f.height, f.rgb) {
                sampled.push((f.t_s, img));
            }
            Ok(())
        })?;
        let keep: Vec<_> = spread(sampled.len(), QUERY_FRAMES).into_iter().map(|i| sampled[i].clone()).collect();
        let images: Vec<RgbImage> = keep.iter().map(|(_, i)| i.clone()).collect();
        let vectors = image.embed(&images)?;
        frames = keep
            .into_iter()
            .zip(vectors)
            .map(|((t_s, img), vector)| QueryFrame { t_s, vector, file: None, image: Some(img), from_index: false })
            .collect();
    }
    let mut lyrics = None;
    let speech = if p.has_audio { models.lock_speech() } else { None };
    if let (Some(mut speech), Some(text)) = (speech, models.text()) {
        let pcm = decode_audio(&config.tools.ffmpeg, path, audio_time_limit(p.duration_s), cancel)?;
        let t = speech.transcribe(&pcm, models.expected_language.as_deref(), cancel)?;
        if !t.text().trim().is_empty() {
            let lines: Vec<(String, f64, f64)> =
                t.segments.iter().map(|s| (s.text.trim().to_string(), s.start, s.end)).collect();
            lyrics = Some(embed_lyrics(text, &t.text(), &lines)?);
        }
    }
    let label = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Query { label, exclude: None, frames, lyrics, within: None })
}
