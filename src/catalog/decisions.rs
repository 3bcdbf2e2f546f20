//! What a person decided about pairs of videos: "these two are not duplicates", kept so `dupes`
//! and the dashboard stop flagging the pair.

use super::Catalog;
use crate::error::Result;
use rusqlite::params;
use std::collections::HashSet;

/// A pair as stored: the lower id first.
fn ordered(a: i64, b: i64) -> (i64, i64) {
    (a.min(b), a.max(b))
}

impl Catalog {
    /// Records that videos `a` and `b` are not duplicates (again is harmless).
    pub fn set_not_duplicate(&self, a: i64, b: i64) -> Result<()> {
        let (a, b) = ordered(a, b);
        self.conn
            .execute("INSERT OR IGNORE INTO not_duplicates (a, b) VALUES (?1, ?2)", params![a, b])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Forgets that decision; returns whether there was one.
    pub fn clear_not_duplicate(&self, a: i64, b: i64) -> Result<bool> {
        let (a, b) = ordered(a, b);
        let n = self
            .conn
            .execute("DELETE FROM not_duplicates WHERE a = ?1 AND b = ?2", params![a, b])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Makes `pairs` the only decisions (a copy of another catalog's), in one transaction.
    pub fn replace_not_duplicates(&self, pairs: &[(i64, i64)]) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM not_duplicates", []).map_err(|e| self.err(e))?;
        for &(a, b) in pairs {
            let (a, b) = ordered(a, b);
            tx.execute("INSERT OR IGNORE INTO not_duplicates (a, b) VALUES (?1, ?2)", params![a, b])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every pair marked not a duplicate, lower id first.
    pub fn not_duplicates(&self) -> Result<HashSet<(i64, i64)>> {
        let mut stmt = self.conn.prepare("SELECT a, b FROM not_duplicates").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<HashSet<_>>>().map_err(|e| self.err(e))
    }
}

/// Whether `pairs` (as [`Catalog::not_duplicates`] gives them) holds `a` and `b`, either way round.
pub fn is_decided(pairs: &HashSet<(i64, i64)>, a: i64, b: i64) -> bool {
    pairs.contains(&ordered(a, b))
}
