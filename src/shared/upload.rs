//! Putting one ingested video into the shared catalog, all of it in one transaction: its row,
//! its frames with their JPEG bytes, every model's frame embeddings (normalised, as half floats)
//! with their sum, its transcript with segments, and its lyrics embeddings. Uploading a video
//! again replaces what was there, so a retry never stores a frame twice.

use super::progress::{announce, Progress};
use super::SharedCatalog;
use crate::catalog::{Status, VideoRecords, VideoRow};
use crate::error::{Error, Result};
use crate::library::Library;
use pgvector::{HalfVector, Vector};
use std::path::Path;

/// What one upload stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Uploaded {
    /// The video's id in the shared catalog.
    pub id: i64,
    pub frames: usize,
    pub embeddings: usize,
    pub segments: usize,
}

/// Uploads `video` from the local `library` (its frame files) and `local` (its records: an
/// embedded catalog, or a worker's staged video) under the path `shared_path` (the path every
/// worker sees it at). Runs in one transaction: on any error nothing of it is stored. With
/// `claim`, the video's row must still be claimed by that worker (its lease did not run out
/// and nobody took it over), and the row stays locked until the commit.
pub fn upload_video(
    shared: &mut SharedCatalog,
    library: &Library,
    local: &dyn VideoRecords,
    video: &VideoRow,
    shared_path: &Path,
    claim: Option<&str>,
) -> Result<Uploaded> {
    let url = shared.url().to_string();
    let db = |e: postgres::Error| super::error_of(&url, &e);
    let status = match video.status {
        // Its frames come along; the next worker scan that finds the file sets it ready.
        Status::Ready | Status::Failed | Status::Missing => video.status.as_str(),
        // No embedded video is being worked on by a worker.
        Status::Pending | Status::Working => "pending",
    };
    let frames = local.frames(video.id)?;
    // Read every frame before the transaction starts: a missing file fails the upload early.
    let mut jpegs = Vec::with_capacity(frames.len());
    for f in &frames {
        let file = library.resolve(&f.file);
        jpegs.push(std::fs::read(&file).map_err(|e| Error::io(&file, e))?);
    }
    let mut tx = shared.client().transaction().map_err(db)?;
    let path_text = crate::types::path_text(shared_path);
    if let Some(worker) = claim {
        let holder: Option<String> = tx
            .query_opt("SELECT claimed_by FROM videos WHERE path = $1 FOR UPDATE", &[&path_text.as_ref()])
            .map_err(db)?
            .and_then(|r| r.get(0));
        if holder.as_deref() != Some(worker) {
            return Err(Error::ClaimLost { path: shared_path.into(), by: holder });
        }
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO videos (path, title, content_hash, size_bytes, mtime_ns, duration_s, fps, width, height,
                has_audio, sample_fps, audio_samples, status, error, claimed_by, lease_until, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, NULL, now())
             ON CONFLICT (path) DO UPDATE SET title = EXCLUDED.title, content_hash = EXCLUDED.content_hash,
                size_bytes = EXCLUDED.size_bytes, mtime_ns = EXCLUDED.mtime_ns, duration_s = EXCLUDED.duration_s,
                fps = EXCLUDED.fps, width = EXCLUDED.width, height = EXCLUDED.height, has_audio = EXCLUDED.has_audio,
                sample_fps = EXCLUDED.sample_fps, audio_samples = EXCLUDED.audio_samples, status = EXCLUDED.status,
                error = EXCLUDED.error, claimed_by = NULL, lease_until = NULL, updated_at = now()
             RETURNING id",
            &[
                &path_text.as_ref(),
                &video.title,
                &video.content_hash,
                &video.size_bytes,
                &video.mtime_ns,
                &video.duration_s,
                &video.fps,
                &video.width,
                &video.height,
                &video.has_audio,
                &video.sample_fps,
                &video.audio_samples,
                &status,
                &video.error,
            ],
        )
        .map_err(db)?
        .get(0);
    for table in ["frames", "embedding_sums", "transcripts", "fingerprints"] {
        tx.execute(&format!("DELETE FROM {table} WHERE video_id = $1"), &[&id]).map_err(db)?;
    }
    let mut done = Uploaded { id, frames: frames.len(), ..Default::default() };
    let insert_frame = tx
        .prepare("INSERT INTO frames (video_id, idx, t_s, split, jpeg) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .map_err(db)?;
    let mut frame_ids = std::collections::HashMap::new();
    for (f, jpeg) in frames.iter().zip(&jpegs) {
        let idx = f.idx as i32;
        let row = tx.query_one(&insert_frame, &[&id, &idx, &f.t_s, &f.split.as_str(), jpeg]).map_err(db)?;
        frame_ids.insert(f.idx, row.get::<_, i64>(0));
    }
    let insert_embedding = tx
        .prepare(
            "INSERT INTO frame_embeddings (frame_id, model, video_id, t_s, vector, scale) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .map_err(db)?;
    for (model, _) in local.image_models()? {
        let rows = local.frame_embeddings(video.id, &model)?;
        if rows.is_empty() {
            continue;
        }
        let mut sum = vec![0f32; rows[0].vector.len()];
        for r in &rows {
            let Some(frame_id) = frame_ids.get(&r.idx) else { continue };
            let (halves, scale) = stored_row(&r.vector);
            // The sum is of the stored (rounded) values, as the embedded index's mean is.
            sum.iter_mut().zip(halves.as_slice()).for_each(|(s, h)| *s += h.to_f32());
            tx.execute(&insert_embedding, &[frame_id, &model, &id, &r.t_s, &halves, &scale]).map_err(db)?;
            done.embeddings += 1;
        }
        tx.execute(
            "INSERT INTO embedding_sums (video_id, model, n, sum) VALUES ($1, $2, $3, $4)",
            &[&id, &model, &(rows.len() as i64), &Vector::from(sum)],
        )
        .map_err(db)?;
    }
    if let Some(t) = local.latest_transcript(video.id)? {
        tx.execute(
            "INSERT INTO transcripts (video_id, model, language, language_probability, text, flag)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id, &t.model, &t.language, &t.language_probability, &t.text, &t.flag],
        )
        .map_err(db)?;
        let insert_segment = tx
            .prepare(
                "INSERT INTO segments (video_id, model, id, seek, start_s, end_s, text, tokens, temperature,
                    avg_logprob, compression_ratio, no_speech_prob)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .map_err(db)?;
        for s in local.segments(video.id, &t.model)? {
            let tokens = serde_json::to_string(&s.tokens).expect("token ids serialise");
            tx.execute(
                &insert_segment,
                &[
                    &id,
                    &t.model,
                    &(s.id as i32),
                    &(s.seek as i32),
                    &s.start,
                    &s.end,
                    &s.text,
                    &tokens,
                    &s.temperature,
                    &s.avg_logprob,
                    &s.compression_ratio,
                    &s.no_speech_prob,
                ],
            )
            .map_err(db)?;
            done.segments += 1;
        }
        for (model, _) in local.text_models()? {
            for (segment, v) in local.lyrics_embeddings(video.id, &model)? {
                tx.execute(
                    "INSERT INTO lyrics_embeddings (video_id, transcript_model, model, segment, vector)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&id, &t.model, &model, &(segment as i32), &Vector::from(v)],
                )
                .map_err(db)?;
            }
        }
    }
    if let Some(print) = local.fingerprint(video.id)? {
        tx.execute(
            "INSERT INTO fingerprints (video_id, duration_s, hashes) VALUES ($1, $2, $3)",
            &[&id, &(print.duration_s as i32), &print.to_bytes()],
        )
        .map_err(db)?;
    }
    let p = Progress {
        video: id,
        title: video.title.clone(),
        status: status.into(),
        worker: claim.map(str::to_string),
        frames: frames.len() as i64,
        error: video.error.clone(),
    };
    announce(&mut tx, &p).map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(done)
}

/// A frame vector as the catalog stores it: normalised, in half floats, with the norm it had
/// (training uses raw features).
pub(super) fn stored_row(vector: &[f32]) -> (HalfVector, f32) {
    let scale = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    (HalfVector::from_f32_slice(&super::search::unit(vector)), scale)
}
