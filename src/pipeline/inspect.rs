//! Gathering what there is to know about one video: metadata, transcript, a few thumbnails and
//! the frames search sets aside.

use super::SetAsideCount;
use crate::catalog::{Catalog, TranscriptInfo, VideoRow};
use crate::config::Config;
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
    /// Its frames that search sets aside, and why.
    pub set_aside: SetAsideCount,
}

/// Reads a video's metadata, transcript and a few thumbnails from the catalog.
pub fn inspect_video(library: &Library, config: &Config, id: i64) -> Result<Inspection> {
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
    let set_aside = super::set_aside_counts(&catalog, library, config)?.remove(&id).unwrap_or_default();
    Ok(Inspection { video, transcript, segments, thumbnails, set_aside })
}
