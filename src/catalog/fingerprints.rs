//! Each video's audio fingerprint (made at ingest from its extracted audio), which says whether
//! two videos share a recording.

use super::Catalog;
use crate::error::Result;
use crate::types::Fingerprint;
use rusqlite::{params, OptionalExtension};

impl Catalog {
    /// Keeps video `id`'s audio fingerprint (replacing one kept before).
    pub fn store_fingerprint(&self, id: i64, print: &Fingerprint) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO fingerprints (video_id, duration_s, hashes) VALUES (?1, ?2, ?3)",
                params![id, print.duration_s, print.to_bytes()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Whether video `id` has its audio fingerprint.
    pub fn has_fingerprint(&self, id: i64) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM fingerprints WHERE video_id = ?1", params![id], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Every video's audio fingerprint, by video id.
    pub fn all_fingerprints(&self) -> Result<Vec<(i64, Fingerprint)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT video_id, duration_s, hashes FROM fingerprints ORDER BY video_id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, Fingerprint::from_bytes(r.get(1)?, &r.get::<_, Vec<u8>>(2)?))))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Video `id`'s audio fingerprint, if it has one.
    pub fn fingerprint(&self, id: i64) -> Result<Option<Fingerprint>> {
        let row = self
            .conn
            .query_row("SELECT duration_s, hashes FROM fingerprints WHERE video_id = ?1", params![id], |r| {
                Ok(Fingerprint::from_bytes(r.get(0)?, &r.get::<_, Vec<u8>>(1)?))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row)
    }
}
