//! Jobs a frontend starts that are not ingestion or training: answering a query with the images
//! its results show, and gathering what there is to know about one video. Each runs to
//! completion on the caller's thread (the dashboard calls them on blocking threads).

use crate::catalog::{Catalog, TranscriptInfo, VideoRow};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::library::Library;
use crate::ml::text::TextEmbedder;
use crate::ml::whisper::Segment;
use crate::search::space::Space;
use crate::search::{search, Query, Results, Weights};
use image::DynamicImage;
use std::collections::HashMap;

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

/// Answers `request` against the library; `text` embeds lyrics queries.
pub fn answer_query(
    library: &Library,
    config: &Config,
    request: &QueryRequest,
    text: Option<&TextEmbedder>,
    weights: Weights,
) -> Result<QueryAnswer> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let space = Space::choose(library, &catalog, config, None)?;
    let lib = space.load(&catalog, None)?;
    let query = match request {
        QueryRequest::Video(id) => {
            let video = lib.videos.iter().find(|v| v.id == *id).ok_or_else(|| {
                Error::Invalid(format!("video {id} has no frames to search with yet; let ingestion finish first"))
            })?;
            Query::from_library(&lib, library.root(), video)?
        }
        QueryRequest::Lyrics(words) => {
            let text = text
                .ok_or_else(|| Error::Invalid("a lyrics query needs the text model; pass --text-model DIR".into()))?;
            Query::from_lyrics(text, words)?
        }
    };
    let results = search(&lib, &query, weights, usize::MAX, false);
    let open = |path: &std::path::Path| image::open(path).ok();
    let query_frames = query.frames.iter().map(|f| (f.t_s, f.file.as_deref().and_then(open))).collect();
    let mut matches = HashMap::new();
    for hit in results.results.iter().take(50) {
        if let Some(best) = hit.frames.iter().max_by(|a, b| a.similarity.total_cmp(&b.similarity)) {
            if let Some(img) = open(&library.resolve(&best.match_file)) {
                matches.insert(best.match_file.clone(), img);
            }
        }
    }
    Ok(QueryAnswer { results, query_frames, matches, note: space.note })
}

/// Everything the dashboard shows about one video.
pub struct Inspection {
    pub video: VideoRow,
    pub transcript: Option<TranscriptInfo>,
    pub segments: Vec<Segment>,
    /// A few frames spread over the video, with their times.
    pub thumbnails: Vec<(f64, DynamicImage)>,
}

/// Reads a video's metadata, transcript and a few thumbnails from the catalog.
pub fn inspect_video(library: &Library, id: i64) -> Result<Inspection> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let video = catalog.video(id)?.ok_or_else(|| Error::Invalid(format!("video {id} is no longer in the catalog")))?;
    let transcript = catalog.latest_transcript(id)?;
    let segments = match &transcript {
        Some(t) => catalog.segments(id, &t.model)?,
        None => Vec::new(),
    };
    let frames = catalog.frames(id)?;
    let thumbnails = crate::search::library::spread(frames.len(), 3)
        .into_iter()
        .filter_map(|i| image::open(library.resolve(&frames[i].file)).ok().map(|img| (frames[i].t_s, img)))
        .collect();
    Ok(Inspection { video, transcript, segments, thumbnails })
}
