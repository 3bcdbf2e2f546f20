//! The shared catalog's videos as `library` lists them: every field the embedded `library
//! --json` has, and where each video stands in the work queue.

use super::SharedCatalog;
use crate::catalog::{Stage, Status, VideoRow};
use crate::error::Result;

/// One video as `library` on a shared catalog lists it: what the embedded `library --json`
/// says of it (the same fields, flattened), and where it stands in the queue.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QueueRow {
    #[serde(flatten)]
    pub video: VideoRow,
    /// Its frames, both splits.
    pub frames: i64,
    /// The worker holding it, while one does.
    pub claimed_by: Option<String>,
    /// Claims taken on it so far.
    pub attempts: i32,
    /// Its frames search sets aside as saying nothing (filled in by `library`).
    pub set_aside: crate::pipeline::SetAsideCount,
}

/// Every video of the shared catalog, by title (as the embedded catalog lists them). Each
/// sub-select reads an index by video (the embedded frame count comes from the kept per-video
/// sums, not from the vectors). A video's stage is where the shared catalog can see it: new until
/// its worker uploads it whole, then done.
pub fn queue(shared: &mut SharedCatalog) -> Result<Vec<QueueRow>> {
    rows(shared, None)
}

/// One video of the shared catalog as [`queue`] lists it; `None` when there is no such video.
pub fn video(shared: &mut SharedCatalog, id: i64) -> Result<Option<QueueRow>> {
    Ok(rows(shared, Some(id))?.pop())
}

/// Every video, or the one with id `only`.
fn rows(shared: &mut SharedCatalog, only: Option<i64>) -> Result<Vec<QueueRow>> {
    let rows = shared
        .client()
        .query(
            "SELECT v.id, v.title, v.path, v.duration_s, v.sample_fps,
                (SELECT count(*) FILTER (WHERE f.split = 'train') FROM frames f WHERE f.video_id = v.id),
                (SELECT count(*) FILTER (WHERE f.split = 'test') FROM frames f WHERE f.video_id = v.id),
                v.status, v.error, v.claimed_by, v.attempts,
                v.content_hash, v.size_bytes, v.fps, v.width, v.height, v.has_audio, v.audio_samples,
                coalesce((SELECT max(s.n) FROM embedding_sums s WHERE s.video_id = v.id), 0)::bigint,
                t.language, t.flag,
                EXISTS (SELECT 1 FROM lyrics_embeddings l WHERE l.video_id = v.id AND l.segment = -1),
                v.mtime_ns, t.language_probability
             FROM videos v
             LEFT JOIN LATERAL (SELECT language, language_probability, flag FROM transcripts t WHERE t.video_id = v.id
                                ORDER BY t.created_at DESC LIMIT 1) t ON true
             WHERE $1::bigint IS NULL OR v.id = $1
             ORDER BY lower(v.title), v.id",
            &[&only],
        )
        .map_err(|e| shared.err(e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let (frames_train, frames_test): (i64, i64) = (r.get(5), r.get(6));
            let status = Status::parse(r.get(7));
            let done = matches!(status, Status::Ready | Status::Missing);
            QueueRow {
                video: VideoRow {
                    id: r.get(0),
                    title: r.get(1),
                    path: crate::types::text_path(&r.get::<_, String>(2)),
                    duration_s: r.get(3),
                    sample_fps: r.get(4),
                    frames_train,
                    frames_test,
                    status,
                    error: r.get(8),
                    stage: if done { Stage::DONE } else { Stage::New },
                    content_hash: r.get(11),
                    size_bytes: r.get(12),
                    fps: r.get(13),
                    width: r.get(14),
                    height: r.get(15),
                    has_audio: r.get(16),
                    audio_samples: r.get(17),
                    frames_embedded: r.get(18),
                    transcript_language: r.get(19),
                    transcript_language_probability: r.get(23),
                    transcript_flag: r.get(20),
                    lyrics_embedded: r.get(21),
                    mtime_ns: r.get(22),
                },
                frames: frames_train + frames_test,
                claimed_by: r.get(9),
                attempts: r.get(10),
                set_aside: Default::default(),
            }
        })
        .collect())
}
