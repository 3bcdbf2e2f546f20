//! One video of the shared catalog as the dashboard's inspector shows it: its row, its newest
//! transcript with the segments, a few frames spread over it (their JPEG bytes are in the
//! catalog) and the frames search sets aside.

use super::SharedCatalog;
use crate::catalog::TranscriptInfo;
use crate::config::Config;
use crate::error::{Error, Remedy, Result};
use crate::pipeline::Inspection;
use crate::search::library::spread;
use crate::types::Segment;

/// Reads video `id`'s metadata, transcript and three thumbnails.
pub fn inspect_video(shared: &mut SharedCatalog, config: &Config, id: i64) -> Result<Inspection> {
    let video = super::listing::video(shared, id)?
        .ok_or_else(|| Error::not_ready(format!("video {id} is no longer in the catalog"), Remedy::Ingest))?
        .video;
    let newest = shared
        .client()
        .query_opt(
            "SELECT model, language, text, flag, language_probability FROM transcripts WHERE video_id = $1
             ORDER BY created_at DESC LIMIT 1",
            &[&id],
        )
        .map_err(|e| shared.err(e))?;
    let (transcript, segments) = match newest {
        Some(t) => {
            let model: String = t.get(0);
            let segments = segments(shared, id, &model)?;
            let info = TranscriptInfo {
                model,
                language: t.get(1),
                language_probability: t.get(4),
                text: t.get(2),
                flag: t.get(3),
                segments: segments.len() as i64,
            };
            (Some(info), segments)
        }
        None => (None, Vec::new()),
    };
    let frames = shared
        .client()
        .query("SELECT id, t_s FROM frames WHERE video_id = $1 ORDER BY idx", &[&id])
        .map_err(|e| shared.err(e))?;
    let mut thumbnails = Vec::new();
    for i in spread(frames.len(), 3) {
        let (frame, t): (i64, f64) = (frames[i].get(0), frames[i].get(1));
        let bytes = super::search::frame_jpeg(shared, frame)?;
        if let Some(img) = bytes.and_then(|b| image::load_from_memory(&b).ok()) {
            thumbnails.push((t, img));
        }
    }
    let set_aside = super::query::set_aside_counts(shared, config)?.remove(&id).unwrap_or_default();
    Ok(Inspection { video, transcript, segments, thumbnails, set_aside })
}

/// A transcript's segments, in order.
pub(crate) fn segments(shared: &mut SharedCatalog, video: i64, model: &str) -> Result<Vec<Segment>> {
    let rows = shared
        .client()
        .query(
            "SELECT id, seek, start_s, end_s, text, tokens, temperature, avg_logprob, compression_ratio, no_speech_prob
             FROM segments WHERE video_id = $1 AND model = $2 ORDER BY id",
            &[&video, &model],
        )
        .map_err(|e| shared.err(e))?;
    Ok(rows
        .iter()
        .map(|s| Segment {
            id: s.get::<_, i32>(0) as usize,
            seek: s.get::<_, i32>(1) as usize,
            start: s.get(2),
            end: s.get(3),
            text: s.get(4),
            tokens: serde_json::from_str(s.get(5)).unwrap_or_default(),
            temperature: s.get(6),
            avg_logprob: s.get(7),
            compression_ratio: s.get(8),
            no_speech_prob: s.get(9),
        })
        .collect())
}
