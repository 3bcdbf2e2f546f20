//! What the shared catalog keeps about pairs of videos: the pairs people said are not
//! duplicates (`dupes` and the dashboard leave them out), and each video's audio fingerprint,
//! which says whether two share a recording.

use super::SharedCatalog;
use crate::error::Result;
use crate::types::Fingerprint;
use std::collections::HashSet;

impl SharedCatalog {
    /// Records that videos `a` and `b` are not duplicates, or forgets it (`undo`); returns
    /// whether anything changed.
    pub fn decide_not_duplicate(&mut self, a: i64, b: i64, undo: bool) -> Result<bool> {
        let (a, b) = (a.min(b), a.max(b));
        let sql = if undo {
            "DELETE FROM not_duplicates WHERE a = $1 AND b = $2"
        } else {
            "INSERT INTO not_duplicates (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        };
        let n = self.client().execute(sql, &[&a, &b]).map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Every pair marked not duplicates, lower id first.
    pub fn not_duplicates(&mut self) -> Result<HashSet<(i64, i64)>> {
        let rows = self.client().query("SELECT a, b FROM not_duplicates", &[]).map_err(|e| self.err(e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Every video's audio fingerprint, by video id.
    pub fn all_fingerprints(&mut self) -> Result<Vec<(i64, Fingerprint)>> {
        let rows = self
            .client()
            .query("SELECT video_id, duration_s, hashes FROM fingerprints ORDER BY video_id", &[])
            .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), Fingerprint::from_bytes(r.get::<_, i32>(1) as u32, &r.get::<_, Vec<u8>>(2))))
            .collect())
    }
}
