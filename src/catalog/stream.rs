//! Frame embeddings read in the order they were written, for the vector store: a stamp that
//! says whether a copy is current, and the rows written after a given one, in bounded batches.

use super::{from_blob, Catalog, Split};
use crate::error::Result;
use rusqlite::params;

/// How many embeddings of a model the catalog holds, and the newest one's rowid. A copy made at
/// one stamp is current while the stamp is unchanged; rows only added leave the count and the
/// newest rowid grown together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    pub count: i64,
    pub last_rowid: i64,
}

/// A catalog's identity and the state of its embeddings (see [`Catalog::identity`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub catalog_id: String,
    /// Embeddings ever deleted.
    pub deleted: i64,
}

/// One frame embedding with what search needs to know about its frame.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingRow {
    pub rowid: i64,
    pub frame_id: i64,
    pub video_id: i64,
    pub t_s: f64,
    pub split: Split,
    /// The frame's image, relative to the library root.
    pub file: String,
    pub vector: Vec<f32>,
}

impl Catalog {
    /// The stamp of `model`'s frame embeddings.
    pub fn embedding_stamp(&self, model: &str) -> Result<Stamp> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM frame_embeddings WHERE model = ?1",
                params![model],
                |r| Ok(Stamp { count: r.get(0)?, last_rowid: r.get(1)? }),
            )
            .map_err(|e| self.err(e))
    }

    /// Which catalog this is and which state of its embeddings: its random id (made once, when
    /// it was created) and how many embeddings were ever deleted from it. A copy of its vectors
    /// is current only where both are still what they were.
    pub fn identity(&self) -> Result<Identity> {
        let value = |key: &str| -> Result<String> {
            self.conn
                .query_row("SELECT value FROM settings WHERE key = ?1", params![key], |r| r.get(0))
                .map_err(|e| self.err(e))
        };
        Ok(Identity { catalog_id: value("catalog_id")?, deleted: value("embeddings_deleted")?.parse().unwrap_or(-1) })
    }

    /// How many of `model`'s embeddings have a rowid of at most `rowid`.
    pub fn embeddings_up_to(&self, model: &str, rowid: i64) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM frame_embeddings WHERE model = ?1 AND rowid <= ?2",
                params![model, rowid],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Up to `limit` of `model`'s embeddings written after rowid `after`, oldest first.
    pub fn embeddings_after(&self, model: &str, after: i64, limit: usize) -> Result<Vec<EmbeddingRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.rowid, f.id, f.video_id, f.t_s, f.split, f.file, e.vector
                 FROM frame_embeddings e JOIN frames f ON f.id = e.frame_id
                 WHERE e.model = ?1 AND e.rowid > ?2 ORDER BY e.rowid LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![model, after, limit as i64], |r| {
                let split: String = r.get(4)?;
                Ok(EmbeddingRow {
                    rowid: r.get(0)?,
                    frame_id: r.get(1)?,
                    video_id: r.get(2)?,
                    t_s: r.get(3)?,
                    split: if split == "test" { Split::Test } else { Split::Train },
                    file: r.get(5)?,
                    vector: from_blob(&r.get::<_, Vec<u8>>(6)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }
}
