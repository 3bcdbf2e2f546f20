//! One video staged in memory while a shared catalog's worker runs its ingest stages: the same
//! stages as an embedded library's, writing through [`VideoRecords`] here instead of into a
//! catalog, then uploaded to the shared catalog in one transaction (`shared::upload`).

use crate::catalog::{FrameEmbedding, FrameRecord, Stage, Status, TranscriptInfo, VideoRecords, VideoRow, WHOLE};
use crate::error::Result;
use crate::types::{Fingerprint, Probe, Segment, Transcript};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A video's records while it is ingested; frame ids are the frames' indices.
pub struct Staged {
    inner: Mutex<Inner>,
}

struct Inner {
    video: VideoRow,
    frames: Vec<FrameRecord>,
    /// model → frame index → vector.
    embeddings: BTreeMap<String, BTreeMap<i64, Vec<f32>>>,
    /// (model, transcript, flag), the latest last.
    transcripts: Vec<(String, Transcript, Option<String>)>,
    /// (transcript model, text model) → segment → vector.
    lyrics: BTreeMap<(String, String), BTreeMap<i64, Vec<f32>>>,
    fingerprint: Option<Fingerprint>,
}

impl Staged {
    /// A video known by its row alone (path, title, hash, size, time): no stage done.
    pub fn new(video: VideoRow) -> Self {
        let inner = Inner {
            video,
            frames: Vec::new(),
            embeddings: BTreeMap::new(),
            transcripts: Vec::new(),
            lyrics: BTreeMap::new(),
            fingerprint: None,
        };
        Staged { inner: Mutex::new(inner) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().expect("staged video lock"))
    }
}

impl Inner {
    fn info(&self, (model, t, flag): &(String, Transcript, Option<String>)) -> TranscriptInfo {
        TranscriptInfo {
            model: model.clone(),
            language: t.language.clone(),
            language_probability: t.language_probability,
            text: t.text(),
            flag: flag.clone(),
            segments: t.segments.len() as i64,
        }
    }

    /// The row as the catalog would read it, with the counts it derives.
    fn row(&self) -> VideoRow {
        let mut v = self.video.clone();
        v.frames_test = self.frames.iter().filter(|f| f.split == crate::catalog::Split::Test).count() as i64;
        v.frames_train = self.frames.len() as i64 - v.frames_test;
        v.frames_embedded =
            self.frames.iter().filter(|f| self.embeddings.values().any(|m| m.contains_key(&f.idx))).count() as i64;
        let latest = self.transcripts.last();
        v.transcript_language = latest.map(|(_, t, _)| t.language.clone());
        v.transcript_language_probability = latest.and_then(|(_, t, _)| t.language_probability);
        v.transcript_flag = latest.and_then(|(_, _, flag)| flag.clone());
        v.lyrics_embedded = self.lyrics.values().any(|rows| rows.contains_key(&WHOLE));
        v
    }
}

impl VideoRecords for Staged {
    fn video(&self, id: i64) -> Result<Option<VideoRow>> {
        Ok(self.with(|s| (s.video.id == id).then(|| s.row())))
    }

    fn set_probed(&self, _id: i64, p: &Probe, sample_fps: f64) -> Result<()> {
        self.with(|s| {
            let v = &mut s.video;
            (v.duration_s, v.fps, v.width, v.height) = (Some(p.duration_s), p.fps, Some(p.width), Some(p.height));
            (v.has_audio, v.sample_fps, v.stage) = (Some(p.has_audio), Some(sample_fps), v.stage.max(Stage::Probed));
            (v.status, v.error) = (Status::Pending, None);
        });
        Ok(())
    }

    fn set_probed_rate(&self, _id: i64, sample_fps: f64) -> Result<()> {
        self.with(|s| {
            let v = &mut s.video;
            (v.sample_fps, v.stage, v.status) = (Some(sample_fps), v.stage.min(Stage::Probed), Status::Pending);
        });
        Ok(())
    }

    fn store_frames(&self, _id: i64, frames: &[FrameRecord]) -> Result<()> {
        self.with(|s| {
            s.frames = frames.to_vec();
            s.embeddings.clear();
            s.video.stage = s.video.stage.max(Stage::Frames);
        });
        Ok(())
    }

    fn frames(&self, _id: i64) -> Result<Vec<FrameRecord>> {
        Ok(self.with(|s| s.frames.clone()))
    }

    fn frames_without_embedding(&self, _id: i64, model: &str) -> Result<Vec<(i64, String)>> {
        Ok(self.with(|s| {
            let done = s.embeddings.get(model);
            s.frames
                .iter()
                .filter(|f| done.is_none_or(|d| !d.contains_key(&f.idx)))
                .map(|f| (f.idx, f.file.clone()))
                .collect()
        }))
    }

    fn store_frame_embeddings(&self, model: &str, rows: &[(i64, Vec<f32>)]) -> Result<()> {
        self.with(|s| s.embeddings.entry(model.to_string()).or_default().extend(rows.iter().cloned()));
        Ok(())
    }

    fn frame_embeddings(&self, _id: i64, model: &str) -> Result<Vec<FrameEmbedding>> {
        Ok(self.with(|s| {
            let Some(vectors) = s.embeddings.get(model) else { return Vec::new() };
            s.frames
                .iter()
                .filter_map(|f| {
                    let vector = vectors.get(&f.idx)?.clone();
                    Some(FrameEmbedding { idx: f.idx, t_s: f.t_s, split: f.split, vector })
                })
                .collect()
        }))
    }

    fn image_models(&self) -> Result<Vec<(String, i64)>> {
        Ok(self.with(|s| {
            let mut models: Vec<_> = s.embeddings.iter().map(|(m, rows)| (m.clone(), rows.len() as i64)).collect();
            models.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            models
        }))
    }

    fn set_audio_done(&self, _id: i64, samples: Option<i64>) -> Result<()> {
        self.with(|s| {
            let v = &mut s.video;
            (v.audio_samples, v.stage, v.status, v.error) = (samples, Stage::Audio, Status::Ready, None);
        });
        Ok(())
    }

    fn set_failed(&self, _id: i64, reason: &str) -> Result<()> {
        self.with(|s| (s.video.status, s.video.error) = (Status::Failed, Some(reason.to_string())));
        Ok(())
    }

    fn has_fingerprint(&self, _id: i64) -> Result<bool> {
        Ok(self.with(|s| s.fingerprint.is_some()))
    }

    fn store_fingerprint(&self, _id: i64, print: &Fingerprint) -> Result<()> {
        self.with(|s| s.fingerprint = Some(print.clone()));
        Ok(())
    }

    fn fingerprint(&self, _id: i64) -> Result<Option<Fingerprint>> {
        Ok(self.with(|s| s.fingerprint.clone()))
    }

    fn transcript(&self, _id: i64, model: &str) -> Result<Option<TranscriptInfo>> {
        Ok(self.with(|s| s.transcripts.iter().find(|t| t.0 == model).map(|t| s.info(t))))
    }

    fn latest_transcript(&self, _id: i64) -> Result<Option<TranscriptInfo>> {
        Ok(self.with(|s| s.transcripts.last().map(|t| s.info(t))))
    }

    fn store_transcript(&self, _id: i64, model: &str, t: &Transcript, flag: Option<&str>) -> Result<()> {
        self.with(|s| {
            s.transcripts.retain(|(m, _, _)| m != model);
            s.transcripts.push((model.to_string(), t.clone(), flag.map(str::to_string)));
        });
        Ok(())
    }

    fn segments(&self, _id: i64, model: &str) -> Result<Vec<Segment>> {
        Ok(self.with(|s| s.transcripts.iter().find(|t| t.0 == model).map(|t| t.1.segments.clone()).unwrap_or_default()))
    }

    fn has_lyrics_embedding(&self, _id: i64, transcript_model: &str, model: &str) -> Result<bool> {
        let key = (transcript_model.to_string(), model.to_string());
        Ok(self.with(|s| s.lyrics.get(&key).is_some_and(|rows| rows.contains_key(&WHOLE))))
    }

    fn store_lyrics_embeddings(
        &self,
        _id: i64,
        transcript_model: &str,
        model: &str,
        rows: &[(i64, Vec<f32>)],
    ) -> Result<()> {
        let key = (transcript_model.to_string(), model.to_string());
        self.with(|s| s.lyrics.entry(key).or_default().extend(rows.iter().cloned()));
        Ok(())
    }

    fn text_models(&self) -> Result<Vec<(String, i64)>> {
        Ok(self.with(|s| {
            let mut models: Vec<(String, i64)> = Vec::new();
            for ((_, model), rows) in &s.lyrics {
                if rows.contains_key(&WHOLE) && !models.iter().any(|(m, _)| m == model) {
                    models.push((model.clone(), 1));
                }
            }
            models
        }))
    }

    fn lyrics_embeddings(&self, _id: i64, model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        Ok(self.with(|s| {
            let Some((latest, _, _)) = s.transcripts.last() else { return Vec::new() };
            let key = (latest.clone(), model.to_string());
            s.lyrics.get(&key).map(|rows| rows.iter().map(|(k, v)| (*k, v.clone())).collect()).unwrap_or_default()
        }))
    }
}
