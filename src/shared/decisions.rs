//! The pairs of videos people said are not duplicates, kept in the shared catalog for every
//! machine (`dupes` and the dashboard leave them out).

use super::SharedCatalog;
use crate::error::Result;
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
}
