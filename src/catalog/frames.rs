//! Typed queries over the `frames` table.

use super::Catalog;
use crate::error::Result;
use rusqlite::params;
use serde::Serialize;

/// Which side of the train/test split a frame is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// One sampled frame of a video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameRecord {
    pub video_id: i64,
    /// Position in the video's sampled sequence, from 0.
    pub idx: i64,
    /// Time in the video, seconds.
    pub t_s: f64,
    pub split: Split,
    /// The JPEG file, relative to the library root.
    pub file: String,
}

impl Catalog {
    /// Replaces a video's frames with `frames` and marks its `frames` stage done, in one
    /// transaction: a crash leaves either the old set or the new one, never a mix.
    pub fn store_frames(&self, video_id: i64, frames: &[FrameRecord]) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM frames WHERE video_id = ?1", params![video_id]).map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare("INSERT INTO frames (video_id, idx, t_s, split, file) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(|e| self.err(e))?;
            for f in frames {
                stmt.execute(params![video_id, f.idx, f.t_s, f.split.as_str(), f.file]).map_err(|e| self.err(e))?;
            }
        }
        tx.execute(
            "UPDATE videos SET stage = MAX(stage, 2), updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![video_id],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// A video's frames in time order.
    pub fn frames(&self, video_id: i64) -> Result<Vec<FrameRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT video_id, idx, t_s, split, file FROM frames WHERE video_id = ?1 ORDER BY idx")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![video_id], |r| {
                Ok(FrameRecord {
                    video_id: r.get(0)?,
                    idx: r.get(1)?,
                    t_s: r.get(2)?,
                    split: if r.get::<_, String>(3)? == "test" { Split::Test } else { Split::Train },
                    file: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }
}
