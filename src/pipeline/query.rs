//! What a query asks and answers: a library video, lyrics or a description (answered by
//! `backend::QueryCache`), or a video file outside the library (probed, sampled and transcribed
//! here, never added), with the images its results show.

use crate::config::Config;
use crate::error::Result;
use crate::events::Cancel;
use crate::media::{audio_time_limit, decode_audio, probe, sample_frames, SampleSpec};
use crate::ml::Models;
use crate::search::library::spread;
use crate::search::query::{embed_lyrics, QueryFrame, QUERY_FRAMES};
use crate::search::{Query, Results};
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
    /// A look described in words, with lyrics typed beside it if any (fused by the weights).
    Describe { text: String, lyrics: Option<String> },
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
    /// Set when this query had to open the library (the first, or after the catalog changed):
    /// how many videos and frames it holds.
    pub opened: Option<(usize, usize)>,
}

/// A video file outside the library: probed, 10 frames sampled and embedded, its audio
/// transcribed and embedded, without adding it to the library.
pub fn query_from_file(config: &Config, models: &Models, path: &Path, cancel: &Cancel) -> Result<Query> {
    file_query(config, models, path, cancel).map(|(query, _)| query)
}

/// [`query_from_file`]'s query, with the file's audio fingerprint (which says whether it is cut
/// from a library video, and where) when it has audio.
pub fn file_query(
    config: &Config,
    models: &Models,
    path: &Path,
    cancel: &Cancel,
) -> Result<(Query, Option<crate::types::Fingerprint>)> {
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
    let pcm = match p.has_audio {
        true => decode_audio(&config.tools.ffmpeg, path, audio_time_limit(p.duration_s), cancel)?,
        false => Vec::new(),
    };
    let print = match pcm.is_empty() {
        true => None,
        false => Some(crate::media::fingerprint::of_samples(&pcm, crate::media::AUDIO_SAMPLE_RATE)?),
    };
    let speech = if p.has_audio { models.lock_speech() } else { None };
    if let (Some(mut speech), Some(text)) = (speech, models.text()) {
        let t = speech.transcribe(&pcm, models.expected_language.as_deref(), cancel)?;
        if !t.text().trim().is_empty() {
            let lines: Vec<(String, f64, f64)> =
                t.segments.iter().map(|s| (s.text.trim().to_string(), s.start, s.end)).collect();
            let mut heard = embed_lyrics(text, &t.text(), &lines)?;
            let flag = crate::ingest::transcript_flag(&t, models.expected_language.as_deref());
            heard.doubt = crate::search::doubt::lyrics_doubt(
                flag.as_deref(),
                t.language_probability,
                t.segments.iter().map(|s| s.avg_logprob),
            );
            lyrics = Some(heard);
        }
    }
    let label = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((Query { label, exclude: None, frames, lyrics, within: None }, print))
}
