//! Typed queries over the `videos` table.

use super::Catalog;
use crate::error::Result;
use crate::types::Probe;
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How far ingestion of a video has got. Each stage is committed on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Known by path and hash only.
    #[default]
    New = 0,
    /// Probed: duration, streams and sampling rate recorded.
    Probed = 1,
    /// Frames sampled, stored and split.
    Frames = 2,
    /// Audio extracted (or known absent): ingestion of media is complete.
    Audio = 3,
}

impl Stage {
    /// The last stage of ingestion.
    pub const DONE: Stage = Stage::Audio;

    fn from_i64(v: i64) -> Stage {
        match v {
            1 => Stage::Probed,
            2 => Stage::Frames,
            3 => Stage::Audio,
            _ => Stage::New,
        }
    }

    /// A short name for displays.
    pub fn name(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Probed => "probed",
            Stage::Frames => "frames",
            Stage::Audio => "audio",
        }
    }
}

/// A video's standing in the library.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ingestion has stages left to run.
    #[default]
    Pending,
    /// Every stage is done.
    Ready,
    /// The last attempt failed; `error` says why.
    Failed,
    /// The file is no longer where the catalog last saw it.
    Missing,
    /// Claimed by a worker that is ingesting it (on a shared catalog only).
    Working,
}

impl Status {
    /// The status stored as `s` (an unknown name reads as pending).
    pub fn parse(s: &str) -> Status {
        match s {
            "ready" => Status::Ready,
            "failed" => Status::Failed,
            "missing" => Status::Missing,
            "working" => Status::Working,
            _ => Status::Pending,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ready => "ready",
            Status::Failed => "failed",
            Status::Missing => "missing",
            Status::Working => "working",
        }
    }
}

/// One video as `reelmatch library --json` reports it. Field names are a contract:
/// later versions add fields, never rename these.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct VideoRow {
    pub id: i64,
    pub title: String,
    #[serde(serialize_with = "crate::types::serialize_path")]
    pub path: PathBuf,
    pub duration_s: Option<f64>,
    pub sample_fps: Option<f64>,
    pub frames_train: i64,
    pub frames_test: i64,
    pub status: Status,
    pub error: Option<String>,
    pub stage: Stage,
    pub content_hash: Option<String>,
    pub size_bytes: Option<i64>,
    pub fps: Option<f64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub has_audio: Option<bool>,
    pub audio_samples: Option<i64>,
    /// Frames with an image embedding (from any model).
    pub frames_embedded: i64,
    /// The latest transcript's language, if transcribed.
    pub transcript_language: Option<String>,
    /// How sure the detection of that language was (0–1), where it was detected.
    pub transcript_language_probability: Option<f32>,
    /// Why the latest transcript should not be trusted, if it should not.
    pub transcript_flag: Option<String>,
    /// Whether the lyrics have an embedding.
    pub lyrics_embedded: bool,
    #[serde(skip)]
    pub mtime_ns: Option<i64>,
}

/// The embedded-frames column of [`SELECT`].
const EMBEDDED_COUNT: &str =
    "(SELECT COUNT(DISTINCT e.frame_id) FROM frame_embeddings e JOIN frames f ON f.id = e.frame_id WHERE f.video_id = v.id)";

const SELECT: &str = "SELECT v.id, v.title, v.path, v.duration_s, v.sample_fps,
        (SELECT COUNT(*) FROM frames f WHERE f.video_id = v.id AND f.split = 'train'),
        (SELECT COUNT(*) FROM frames f WHERE f.video_id = v.id AND f.split = 'test'),
        v.status, v.error, v.stage, v.content_hash, v.size_bytes, v.fps, v.width, v.height,
        v.has_audio, v.audio_samples, v.mtime_ns,
        (SELECT COUNT(DISTINCT e.frame_id) FROM frame_embeddings e JOIN frames f ON f.id = e.frame_id WHERE f.video_id = v.id),
        (SELECT t.language FROM transcripts t WHERE t.video_id = v.id ORDER BY t.created_at DESC, t.rowid DESC LIMIT 1),
        (SELECT t.flag FROM transcripts t WHERE t.video_id = v.id ORDER BY t.created_at DESC, t.rowid DESC LIMIT 1),
        EXISTS (SELECT 1 FROM lyrics_embeddings l WHERE l.video_id = v.id AND l.segment = -1),
        (SELECT t.language_probability FROM transcripts t WHERE t.video_id = v.id ORDER BY t.created_at DESC, t.rowid DESC LIMIT 1)
    FROM videos v";

fn from_row(r: &Row) -> rusqlite::Result<VideoRow> {
    Ok(VideoRow {
        id: r.get(0)?,
        title: r.get(1)?,
        path: crate::types::text_path(&r.get::<_, String>(2)?),
        duration_s: r.get(3)?,
        sample_fps: r.get(4)?,
        frames_train: r.get(5)?,
        frames_test: r.get(6)?,
        status: Status::parse(&r.get::<_, String>(7)?),
        error: r.get(8)?,
        stage: Stage::from_i64(r.get(9)?),
        content_hash: r.get(10)?,
        size_bytes: r.get(11)?,
        fps: r.get(12)?,
        width: r.get(13)?,
        height: r.get(14)?,
        has_audio: r.get(15)?,
        audio_samples: r.get(16)?,
        mtime_ns: r.get(17)?,
        frames_embedded: r.get(18)?,
        transcript_language: r.get(19)?,
        transcript_language_probability: r.get(22)?,
        transcript_flag: r.get(20)?,
        lyrics_embedded: r.get(21)?,
    })
}

fn path_str(path: &Path) -> String {
    crate::types::path_text(path).into_owned()
}

impl Catalog {
    /// Every video, ordered by title then id.
    pub fn videos(&self) -> Result<Vec<VideoRow>> {
        self.videos_selected(SELECT)
    }

    /// [`Catalog::videos`] without counting each video's embedded frames (`frames_embedded` is
    /// -1): search takes its frames from the vector store, and the count is one index probe per
    /// frame (a second at a million frames).
    pub fn videos_for_search(&self) -> Result<Vec<VideoRow>> {
        self.videos_selected(&SELECT.replace(EMBEDDED_COUNT, "-1"))
    }

    fn videos_selected(&self, select: &str) -> Result<Vec<VideoRow>> {
        let mut stmt =
            self.conn.prepare(&format!("{select} ORDER BY v.title COLLATE NOCASE, v.id")).map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// One video by id.
    pub fn video(&self, id: i64) -> Result<Option<VideoRow>> {
        self.query_one(&format!("{SELECT} WHERE v.id = ?1"), params![id])
    }

    /// The video with this content hash, if any.
    pub fn video_by_hash(&self, hash: &str) -> Result<Option<VideoRow>> {
        self.query_one(&format!("{SELECT} WHERE v.content_hash = ?1"), params![hash])
    }

    /// The video recorded at this path, if any.
    pub fn video_by_path(&self, path: &Path) -> Result<Option<VideoRow>> {
        self.query_one(&format!("{SELECT} WHERE v.path = ?1"), params![path_str(path)])
    }

    fn query_one(&self, sql: &str, p: impl rusqlite::Params) -> Result<Option<VideoRow>> {
        self.conn.query_row(sql, p, from_row).optional().map_err(|e| self.err(e))
    }

    /// Adds a newly found video and returns its id.
    pub fn insert_video(&self, path: &Path, title: &str, hash: &str, size: i64, mtime_ns: i64) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO videos (path, title, content_hash, size_bytes, mtime_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![path_str(path), title, hash, size, mtime_ns],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records that a known video now lives at `path` (renamed or moved); its work is kept.
    pub fn move_video(&self, id: i64, path: &Path, title: &str, mtime_ns: i64) -> Result<()> {
        self.exec(
            "UPDATE videos SET path = ?2, title = ?3, mtime_ns = ?4,
                status = CASE WHEN stage >= 3 AND status = 'missing' THEN 'ready'
                              WHEN status = 'missing' THEN 'pending' ELSE status END,
                updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![id, path_str(path), title, mtime_ns],
        )
    }

    /// Records new content at a known path: everything derived from the old content is dropped
    /// and the video starts over.
    pub fn reset_video(&self, id: i64, hash: &str, size: i64, mtime_ns: i64) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM frames WHERE video_id = ?1", params![id]).map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE videos SET content_hash = ?2, size_bytes = ?3, mtime_ns = ?4, stage = 0, status = 'pending',
                error = NULL, duration_s = NULL, fps = NULL, width = NULL, height = NULL, has_audio = NULL,
                video_codec = NULL, sample_fps = NULL, audio_samples = NULL,
                updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![id, hash, size, mtime_ns],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Records a file that could not even be identified (unreadable); kept by path.
    pub fn record_unreadable(&self, path: &Path, title: &str, reason: &str) -> Result<i64> {
        self.exec(
            "INSERT INTO videos (path, title, status, error) VALUES (?1, ?2, 'failed', ?3)
             ON CONFLICT(path) DO UPDATE SET status = 'failed', error = ?3,
                updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
            params![path_str(path), title, reason],
        )?;
        let id = self
            .conn
            .query_row("SELECT id FROM videos WHERE path = ?1", params![path_str(path)], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Stores what ffprobe found and the sampling rate chosen: the `probed` stage.
    pub fn set_probed(&self, id: i64, probe: &Probe, sample_fps: f64) -> Result<()> {
        self.exec(
            "UPDATE videos SET duration_s = ?2, fps = ?3, width = ?4, height = ?5, has_audio = ?6, video_codec = ?7,
                sample_fps = ?8, stage = MAX(stage, 1), status = 'pending', error = NULL,
                updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![
                id,
                probe.duration_s,
                probe.fps,
                probe.width,
                probe.height,
                probe.has_audio,
                probe.codec,
                sample_fps
            ],
        )
    }

    /// Records a new sampling rate for a probed video; its frames must be sampled again.
    pub fn set_probed_rate(&self, id: i64, sample_fps: f64) -> Result<()> {
        self.exec(
            "UPDATE videos SET sample_fps = ?2, stage = MIN(stage, 1), status = 'pending',
                updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![id, sample_fps],
        )
    }

    /// Marks the audio stage done (`samples` is `None` for a video without audio): the video is ready.
    pub fn set_audio_done(&self, id: i64, samples: Option<i64>) -> Result<()> {
        self.exec(
            "UPDATE videos SET audio_samples = ?2, stage = 3, status = 'ready', error = NULL,
                updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![id, samples],
        )
    }

    /// Records a failure with a reason; the stages already done are kept.
    pub fn set_failed(&self, id: i64, reason: &str) -> Result<()> {
        self.exec(
            "UPDATE videos SET status = 'failed', error = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![id, reason],
        )
    }

    /// Removes a video and its frames from the catalog.
    pub fn delete_video(&self, id: i64) -> Result<()> {
        self.exec("DELETE FROM videos WHERE id = ?1", params![id])
    }

    /// Marks a video whose file is gone; nothing derived from it is deleted.
    pub fn set_missing(&self, id: i64) -> Result<()> {
        self.exec(
            "UPDATE videos SET status = 'missing', updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![id],
        )
    }

    /// A missing video whose file is back unchanged (as another catalog says): ready again,
    /// with everything derived from it.
    pub fn set_found(&self, id: i64) -> Result<()> {
        self.exec(
            "UPDATE videos SET status = 'ready', updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
             WHERE id = ?1 AND status = 'missing'",
            params![id],
        )
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<()> {
        self.conn.execute(sql, p).map(|_| ()).map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_listing_leaves_out_only_the_embedded_count() {
        assert_eq!(SELECT.matches(EMBEDDED_COUNT).count(), 1, "the column to leave out is in the query");
        let cat = Catalog::open(std::path::Path::new(":memory:")).unwrap();
        let id = cat.insert_video(Path::new("/v/a.mp4"), "a", "h", 1, 0).unwrap();
        let (full, light) = (cat.videos().unwrap(), cat.videos_for_search().unwrap());
        assert_eq!((full[0].id, full[0].frames_embedded), (id, 0));
        assert_eq!((light[0].id, light[0].frames_embedded), (id, -1));
    }
}
