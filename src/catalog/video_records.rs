//! What ingestion reads and writes of one video, and what an upload to a shared catalog reads
//! back: the embedded catalog's rows, or one video staged in memory by a shared catalog's worker
//! (`ingest::Staged`), uploaded whole once its stages are done.

use super::{Catalog, FrameEmbedding, FrameRecord, TranscriptInfo, VideoRow};
use crate::error::Result;
use crate::types::{Fingerprint, Probe, Segment, Transcript};

/// One video's records, as the ingest stages and an upload use them. The methods keep the
/// embedded catalog's meaning; frame ids are whatever `frames_without_embedding` hands out.
pub trait VideoRecords {
    fn video(&self, id: i64) -> Result<Option<VideoRow>>;
    /// What ffprobe found and the sampling rate chosen: the `probed` stage.
    fn set_probed(&self, id: i64, probe: &Probe, sample_fps: f64) -> Result<()>;
    /// A new sampling rate: the frames must be sampled again.
    fn set_probed_rate(&self, id: i64, sample_fps: f64) -> Result<()>;
    /// Replaces the video's frames and marks its `frames` stage done.
    fn store_frames(&self, id: i64, frames: &[FrameRecord]) -> Result<()>;
    fn frames(&self, id: i64) -> Result<Vec<FrameRecord>>;
    /// Frames without an embedding from `model`: (frame id, file).
    fn frames_without_embedding(&self, id: i64, model: &str) -> Result<Vec<(i64, String)>>;
    /// Embeddings by frame id (as `frames_without_embedding` gave them).
    fn store_frame_embeddings(&self, model: &str, rows: &[(i64, Vec<f32>)]) -> Result<()>;
    fn frame_embeddings(&self, id: i64, model: &str) -> Result<Vec<FrameEmbedding>>;
    /// Image models with frame embeddings, most used first: (model, frames).
    fn image_models(&self) -> Result<Vec<(String, i64)>>;
    /// The audio stage done (`samples` `None` without audio): the video is ready.
    fn set_audio_done(&self, id: i64, samples: Option<i64>) -> Result<()>;
    fn set_failed(&self, id: i64, reason: &str) -> Result<()>;
    fn has_fingerprint(&self, id: i64) -> Result<bool>;
    fn store_fingerprint(&self, id: i64, print: &Fingerprint) -> Result<()>;
    fn fingerprint(&self, id: i64) -> Result<Option<Fingerprint>>;
    fn transcript(&self, id: i64, model: &str) -> Result<Option<TranscriptInfo>>;
    fn latest_transcript(&self, id: i64) -> Result<Option<TranscriptInfo>>;
    /// A transcript and its segments, replacing any from the same model.
    fn store_transcript(&self, id: i64, model: &str, t: &Transcript, flag: Option<&str>) -> Result<()>;
    fn segments(&self, id: i64, model: &str) -> Result<Vec<Segment>>;
    fn has_lyrics_embedding(&self, id: i64, transcript_model: &str, model: &str) -> Result<bool>;
    fn store_lyrics_embeddings(
        &self,
        id: i64,
        transcript_model: &str,
        model: &str,
        rows: &[(i64, Vec<f32>)],
    ) -> Result<()>;
    /// Text models with lyrics embeddings, most used first: (model, videos).
    fn text_models(&self) -> Result<Vec<(String, i64)>>;
    /// Lyrics embeddings from `model` over the latest transcript: (segment, vector).
    fn lyrics_embeddings(&self, id: i64, model: &str) -> Result<Vec<(i64, Vec<f32>)>>;
}

impl VideoRecords for Catalog {
    fn video(&self, id: i64) -> Result<Option<VideoRow>> {
        Catalog::video(self, id)
    }
    fn set_probed(&self, id: i64, probe: &Probe, sample_fps: f64) -> Result<()> {
        Catalog::set_probed(self, id, probe, sample_fps)
    }
    fn set_probed_rate(&self, id: i64, sample_fps: f64) -> Result<()> {
        Catalog::set_probed_rate(self, id, sample_fps)
    }
    fn store_frames(&self, id: i64, frames: &[FrameRecord]) -> Result<()> {
        Catalog::store_frames(self, id, frames)
    }
    fn frames(&self, id: i64) -> Result<Vec<FrameRecord>> {
        Catalog::frames(self, id)
    }
    fn frames_without_embedding(&self, id: i64, model: &str) -> Result<Vec<(i64, String)>> {
        Catalog::frames_without_embedding(self, id, model)
    }
    fn store_frame_embeddings(&self, model: &str, rows: &[(i64, Vec<f32>)]) -> Result<()> {
        Catalog::store_frame_embeddings(self, model, rows)
    }
    fn frame_embeddings(&self, id: i64, model: &str) -> Result<Vec<FrameEmbedding>> {
        Catalog::frame_embeddings(self, id, model)
    }
    fn image_models(&self) -> Result<Vec<(String, i64)>> {
        Catalog::image_models(self)
    }
    fn set_audio_done(&self, id: i64, samples: Option<i64>) -> Result<()> {
        Catalog::set_audio_done(self, id, samples)
    }
    fn set_failed(&self, id: i64, reason: &str) -> Result<()> {
        Catalog::set_failed(self, id, reason)
    }
    fn has_fingerprint(&self, id: i64) -> Result<bool> {
        Catalog::has_fingerprint(self, id)
    }
    fn store_fingerprint(&self, id: i64, print: &Fingerprint) -> Result<()> {
        Catalog::store_fingerprint(self, id, print)
    }
    fn fingerprint(&self, id: i64) -> Result<Option<Fingerprint>> {
        Catalog::fingerprint(self, id)
    }
    fn transcript(&self, id: i64, model: &str) -> Result<Option<TranscriptInfo>> {
        Catalog::transcript(self, id, model)
    }
    fn latest_transcript(&self, id: i64) -> Result<Option<TranscriptInfo>> {
        Catalog::latest_transcript(self, id)
    }
    fn store_transcript(&self, id: i64, model: &str, t: &Transcript, flag: Option<&str>) -> Result<()> {
        Catalog::store_transcript(self, id, model, t, flag)
    }
    fn segments(&self, id: i64, model: &str) -> Result<Vec<Segment>> {
        Catalog::segments(self, id, model)
    }
    fn has_lyrics_embedding(&self, id: i64, transcript_model: &str, model: &str) -> Result<bool> {
        Catalog::has_lyrics_embedding(self, id, transcript_model, model)
    }
    fn store_lyrics_embeddings(
        &self,
        id: i64,
        transcript_model: &str,
        model: &str,
        rows: &[(i64, Vec<f32>)],
    ) -> Result<()> {
        Catalog::store_lyrics_embeddings(self, id, transcript_model, model, rows)
    }
    fn text_models(&self) -> Result<Vec<(String, i64)>> {
        Catalog::text_models(self)
    }
    fn lyrics_embeddings(&self, id: i64, model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        Catalog::lyrics_embeddings(self, id, model)
    }
}
