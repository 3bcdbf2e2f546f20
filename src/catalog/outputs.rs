//! Typed queries over model outputs: frame embeddings, transcripts with their segments, and
//! lyrics embeddings (segment -1 is the whole transcript).

use super::{Catalog, Split};
use crate::error::Result;
use crate::types::{Segment, Transcript};
use rusqlite::{params, OptionalExtension};

/// The `segment` value of a whole-transcript lyrics embedding.
pub const WHOLE: i64 = -1;

/// Vectors are stored as little-endian f32 bytes.
pub fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`to_blob`].
pub fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The model to use out of those with stored outputs (`available`, most used first): `preferred`
/// when it has outputs, else the most used; `None` when there are none.
pub fn preferred_model(available: Vec<(String, i64)>, preferred: Option<&str>) -> Option<String> {
    // A vision-text model asked for is that one or none.
    if let Some(p) = preferred.filter(|p| is_vision_text(p)) {
        return available.iter().any(|(m, _)| m == p).then(|| p.to_string());
    }
    preferred
        .filter(|p| available.iter().any(|(m, _)| m == p))
        .map(str::to_string)
        // A vision-text model's vectors are never taken for the image model's.
        .or_else(|| available.into_iter().map(|(m, _)| m).find(|m| !is_vision_text(m)))
}

/// The vision-text model a description is compared in, out of the image models with stored
/// frames (`available`, most used first): `wanted` (a [`vision_text_key`]) when it has frames,
/// else the vision-text model with the most; never an image model's.
pub fn description_model(available: Vec<(String, i64)>, wanted: Option<&str>) -> Option<String> {
    let wanted = wanted.filter(|w| available.iter().any(|(m, _)| m == w)).map(str::to_string);
    wanted.or_else(|| available.into_iter().map(|(m, _)| m).find(|m| is_vision_text(m)))
}

/// What the frame vectors of the vision-text model `id` are stored under, beside the image
/// model's: `vision-text:` and its id.
pub fn vision_text_key(id: &str) -> String {
    format!("{VISION_TEXT}{id}")
}

/// Whether frame vectors stored under `model` are a vision-text model's.
pub fn is_vision_text(model: &str) -> bool {
    model.starts_with(VISION_TEXT)
}

const VISION_TEXT: &str = "vision-text:";

/// One frame's embedding with where the frame is.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameEmbedding {
    pub idx: i64,
    pub t_s: f64,
    pub split: Split,
    pub vector: Vec<f32>,
}

/// A stored transcript's summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TranscriptInfo {
    pub model: String,
    pub language: String,
    /// How sure the detection of `language` was, where it was detected.
    pub language_probability: Option<f32>,
    pub text: String,
    pub flag: Option<String>,
    pub segments: i64,
}

impl Catalog {
    /// Frames of a video that have no embedding from `model`: (frame id, file).
    pub fn frames_without_embedding(&self, video_id: i64, model: &str) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.id, f.file FROM frames f WHERE f.video_id = ?1 AND NOT EXISTS
                 (SELECT 1 FROM frame_embeddings e WHERE e.frame_id = f.id AND e.model = ?2) ORDER BY f.idx",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params![video_id, model], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Stores frame embeddings in one transaction.
    pub fn store_frame_embeddings(&self, model: &str, rows: &[(i64, Vec<f32>)]) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT OR REPLACE INTO frame_embeddings (frame_id, model, dim, vector) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|e| self.err(e))?;
            for (id, v) in rows {
                stmt.execute(params![id, model, v.len() as i64, to_blob(v)]).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// How many of a video's frames have an embedding (from any model).
    pub fn embedded_frames(&self, video_id: i64) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COUNT(DISTINCT e.frame_id) FROM frame_embeddings e JOIN frames f ON f.id = e.frame_id WHERE f.video_id = ?1",
                params![video_id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// A video's frame embeddings from `model`, in time order.
    pub fn frame_embeddings(&self, video_id: i64, model: &str) -> Result<Vec<FrameEmbedding>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.idx, f.t_s, f.split, e.vector FROM frames f JOIN frame_embeddings e ON e.frame_id = f.id
                 WHERE f.video_id = ?1 AND e.model = ?2 ORDER BY f.idx",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![video_id, model], |r| {
                Ok(FrameEmbedding {
                    idx: r.get(0)?,
                    t_s: r.get(1)?,
                    split: if r.get::<_, String>(2)? == "test" { Split::Test } else { Split::Train },
                    vector: from_blob(&r.get::<_, Vec<u8>>(3)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Image models with stored frame embeddings, most used first: (model, frames).
    pub fn image_models(&self) -> Result<Vec<(String, i64)>> {
        self.model_counts("SELECT model, COUNT(*) FROM frame_embeddings GROUP BY model ORDER BY 2 DESC, 1")
    }

    /// Text models with stored lyrics embeddings, most used first: (model, videos).
    pub fn text_models(&self) -> Result<Vec<(String, i64)>> {
        self.model_counts(
            "SELECT model, COUNT(*) FROM lyrics_embeddings WHERE segment = -1 GROUP BY model ORDER BY 2 DESC, 1",
        )
    }

    fn model_counts(&self, sql: &str) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Stores a transcript and its segments in one transaction, replacing any from the same model.
    pub fn store_transcript(&self, video_id: i64, model: &str, t: &Transcript, flag: Option<&str>) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM transcripts WHERE video_id = ?1 AND model = ?2", params![video_id, model])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO transcripts (video_id, model, language, language_probability, text, flag)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![video_id, model, t.language, t.language_probability, t.text(), flag],
        )
        .map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT INTO segments (video_id, model, id, seek, start_s, end_s, text, tokens, temperature, avg_logprob,
                        compression_ratio, no_speech_prob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(|e| self.err(e))?;
            for s in &t.segments {
                let tokens = serde_json::to_string(&s.tokens).expect("token ids serialise");
                stmt.execute(params![
                    video_id,
                    model,
                    s.id as i64,
                    s.seek as i64,
                    s.start,
                    s.end,
                    s.text,
                    tokens,
                    s.temperature,
                    s.avg_logprob,
                    s.compression_ratio,
                    s.no_speech_prob
                ])
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The transcript of a video from `model`, if any.
    pub fn transcript(&self, video_id: i64, model: &str) -> Result<Option<TranscriptInfo>> {
        self.conn
            .query_row(
                "SELECT t.model, t.language, t.text, t.flag, (SELECT COUNT(*) FROM segments s WHERE s.video_id = t.video_id AND s.model = t.model), t.language_probability
                 FROM transcripts t WHERE t.video_id = ?1 AND t.model = ?2",
                params![video_id, model],
                |r| {
                    Ok(TranscriptInfo {
                        model: r.get(0)?,
                        language: r.get(1)?,
                        language_probability: r.get(5)?,
                        text: r.get(2)?,
                        flag: r.get(3)?,
                        segments: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The most recent transcript of a video, from any model.
    pub fn latest_transcript(&self, video_id: i64) -> Result<Option<TranscriptInfo>> {
        let model: Option<String> = self
            .conn
            .query_row(
                "SELECT model FROM transcripts WHERE video_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
                params![video_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match model {
            Some(m) => self.transcript(video_id, &m),
            None => Ok(None),
        }
    }

    /// A transcript's segments, in order.
    pub fn segments(&self, video_id: i64, model: &str) -> Result<Vec<Segment>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, seek, start_s, end_s, text, tokens, temperature, avg_logprob, compression_ratio, no_speech_prob
                 FROM segments WHERE video_id = ?1 AND model = ?2 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![video_id, model], |r| {
                Ok(Segment {
                    id: r.get::<_, i64>(0)? as usize,
                    seek: r.get::<_, i64>(1)? as usize,
                    start: r.get(2)?,
                    end: r.get(3)?,
                    text: r.get(4)?,
                    tokens: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
                    temperature: r.get(6)?,
                    avg_logprob: r.get(7)?,
                    compression_ratio: r.get(8)?,
                    no_speech_prob: r.get(9)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Whether lyrics embeddings exist for this video, transcript model and text model.
    pub fn has_lyrics_embedding(&self, video_id: i64, transcript_model: &str, model: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM lyrics_embeddings WHERE video_id = ?1 AND transcript_model = ?2 AND model = ?3 AND segment = -1",
                params![video_id, transcript_model, model],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// Stores lyrics embeddings (`segment` [`WHOLE`] for the whole text) in one transaction.
    pub fn store_lyrics_embeddings(
        &self,
        video_id: i64,
        transcript_model: &str,
        model: &str,
        rows: &[(i64, Vec<f32>)],
    ) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare(
                    "INSERT OR REPLACE INTO lyrics_embeddings (video_id, transcript_model, model, segment, dim, vector)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(|e| self.err(e))?;
            for (segment, v) in rows {
                stmt.execute(params![video_id, transcript_model, model, segment, v.len() as i64, to_blob(v)])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// A video's lyrics embeddings from `model` over its latest transcript: (segment, vector).
    pub fn lyrics_embeddings(&self, video_id: i64, model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        let Some(t) = self.latest_transcript(video_id)? else { return Ok(Vec::new()) };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT segment, vector FROM lyrics_embeddings WHERE video_id = ?1 AND transcript_model = ?2 AND model = ?3 ORDER BY segment",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![video_id, t.model, model], |r| Ok((r.get(0)?, from_blob(&r.get::<_, Vec<u8>>(1)?))))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip() {
        let v = vec![0.0, -1.5, 3.25, f32::MIN_POSITIVE];
        assert_eq!(from_blob(&to_blob(&v)), v);
    }
}
