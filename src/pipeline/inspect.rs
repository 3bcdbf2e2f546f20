//! Gathering what there is to know about one video: metadata, transcript and a few thumbnails.

use crate::catalog::{Catalog, TranscriptInfo, VideoRow};
use crate::error::{Error, Remedy, Result};
use crate::library::Library;
use crate::search::library::spread;
use crate::types::Segment;
use image::DynamicImage;

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
    let video = catalog
        .video(id)?
        .ok_or_else(|| Error::not_ready(format!("video {id} is no longer in the catalog"), Remedy::Ingest))?;
    let transcript = catalog.latest_transcript(id)?;
    let segments = match &transcript {
        Some(t) => catalog.segments(id, &t.model)?,
        None => Vec::new(),
    };
    let frames = catalog.frames(id)?;
    let thumbnails = spread(frames.len(), 3)
        .into_iter()
        .filter_map(|i| crate::images::open(&library.resolve(&frames[i].file)).map(|img| (frames[i].t_s, img)))
        .collect();
    Ok(Inspection { video, transcript, segments, thumbnails })
}
