//! Typed queries over training: cached features of augmented frames, runs with their per-step
//! losses and per-epoch metrics, and which run is active for queries.

use super::outputs::{from_blob, to_blob};
use super::Catalog;
use crate::error::Result;
pub use crate::types::RunStatus;
use crate::types::{EpochMetrics, FitSettings};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// A training run as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
    pub error: Option<String>,
    pub image_model: String,
    /// The settings it trained with.
    pub settings: FitSettings,
    /// Class titles, in label order.
    pub classes: Vec<String>,
    /// The video id of each class, in label order.
    pub class_ids: Vec<i64>,
    /// Videos left out, with why.
    pub left_out: Vec<String>,
    pub epochs_done: u32,
    /// The head's safetensors file, relative to the library root.
    pub head_file: Option<String>,
}

/// What a new run records up front.
pub struct NewRun<'a> {
    pub image_model: &'a str,
    pub settings: &'a FitSettings,
    pub classes: &'a [String],
    pub class_ids: &'a [i64],
    pub left_out: &'a [String],
}

const RUN_COLUMNS: &str =
    "id, started_at, finished_at, status, error, image_model, settings, classes, left_out, epochs_done, head_file";

fn run_from_row(r: &rusqlite::Row) -> rusqlite::Result<RunRow> {
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or(serde_json::Value::Null))
    };
    let classes = json(7)?;
    let titles = classes["titles"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect());
    let ids = classes["ids"].as_array().map(|a| a.iter().filter_map(|t| t.as_i64()).collect());
    Ok(RunRow {
        id: r.get(0)?,
        started_at: r.get(1)?,
        finished_at: r.get(2)?,
        status: RunStatus::parse(&r.get::<_, String>(3)?),
        error: r.get(4)?,
        image_model: r.get(5)?,
        settings: serde_json::from_value(json(6)?).unwrap_or_default(),
        classes: titles.unwrap_or_default(),
        class_ids: ids.unwrap_or_default(),
        left_out: serde_json::from_value(json(8)?).unwrap_or_default(),
        epochs_done: r.get(9)?,
        head_file: r.get(10)?,
    })
}

impl Catalog {
    /// Cached features of augmented views from `model`, views below `views`: (frame id, vector).
    pub fn frame_views(&self, model: &str, views: u32) -> Result<Vec<(i64, Vec<f32>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT frame_id, vector FROM frame_views WHERE model = ?1 AND view < ?2 ORDER BY frame_id, view")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![model, views], |r| Ok((r.get(0)?, from_blob(&r.get::<_, Vec<u8>>(1)?))))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Train frames with `model` features that lack one of the views `0..views`:
    /// (video id, frame id, frame file, view), in video and time order.
    pub fn frames_missing_views(&self, model: &str, views: u32) -> Result<Vec<(i64, i64, String, u32)>> {
        let mut stmt = self
            .conn
            .prepare(
                "WITH RECURSIVE k(view) AS (SELECT 0 WHERE ?2 > 0 UNION ALL SELECT view + 1 FROM k WHERE view + 1 < ?2)
                 SELECT f.video_id, f.id, f.file, k.view FROM frames f
                 JOIN frame_embeddings e ON e.frame_id = f.id AND e.model = ?1 CROSS JOIN k
                 WHERE f.split = 'train' AND NOT EXISTS
                   (SELECT 1 FROM frame_views w WHERE w.frame_id = f.id AND w.model = ?1 AND w.view = k.view)
                 ORDER BY f.video_id, f.idx, k.view",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![model, views], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Stores augmented-view features in one transaction: (frame id, view, vector).
    pub fn store_frame_views(&self, model: &str, rows: &[(i64, u32, Vec<f32>)]) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare("INSERT OR REPLACE INTO frame_views (frame_id, model, view, vector) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| self.err(e))?;
            for (frame, view, v) in rows {
                stmt.execute(params![frame, model, view, to_blob(v)]).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Starts a run; returns its id.
    pub fn insert_run(&self, run: &NewRun) -> Result<i64> {
        let classes = serde_json::json!({"titles": run.classes, "ids": run.class_ids});
        self.conn
            .execute(
                "INSERT INTO runs (status, image_model, settings, classes, left_out) VALUES ('running', ?1, ?2, ?3, ?4)",
                params![
                    run.image_model,
                    serde_json::to_string(run.settings).unwrap_or_default(),
                    classes.to_string(),
                    serde_json::to_string(run.left_out).expect("strings serialise")
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Runs still marked running belong to a process that ended mid-run: they become stopped
    /// (and so resumable). Called before a new run starts.
    pub fn mark_interrupted_runs(&self) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'stopped', error = 'interrupted: the process ended during training',
                    finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE status = 'running'",
                [],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Marks a run as running again (resumed).
    pub fn reopen_run(&self, id: i64) -> Result<()> {
        self.conn
            .execute("UPDATE runs SET status = 'running', finished_at = NULL, error = NULL WHERE id = ?1", params![id])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Stores one epoch's step losses and metrics, and the run's progress, in one transaction.
    pub fn store_epoch(&self, run: i64, steps: &[(u64, u32, f32)], m: &EpochMetrics, epochs_done: u32) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare("INSERT OR REPLACE INTO run_steps (run_id, step, epoch, loss) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| self.err(e))?;
            for (step, epoch, loss) in steps {
                stmt.execute(params![run, *step as i64, epoch, loss]).map_err(|e| self.err(e))?;
            }
        }
        let json = serde_json::to_string(m).expect("metrics serialise");
        tx.execute(
            "INSERT OR REPLACE INTO run_epochs (run_id, epoch, metrics) VALUES (?1, ?2, ?3)",
            params![run, m.epoch, json],
        )
        .map_err(|e| self.err(e))?;
        tx.execute("UPDATE runs SET epochs_done = ?2 WHERE id = ?1", params![run, epochs_done])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Records how a run ended, with its head file when it has one.
    pub fn finish_run(&self, id: i64, status: RunStatus, error: Option<&str>, head_file: Option<&str>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, error = ?3, head_file = COALESCE(?4, head_file),
                    finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
                params![id, status.as_str(), error, head_file],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC")).map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], run_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// One run by id.
    pub fn run(&self, id: i64) -> Result<Option<RunRow>> {
        self.conn
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), params![id], run_from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// A run's per-epoch metrics, in order.
    pub fn run_epochs(&self, id: i64) -> Result<Vec<EpochMetrics>> {
        let mut stmt = self
            .conn
            .prepare("SELECT metrics FROM run_epochs WHERE run_id = ?1 ORDER BY epoch")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params![id], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        let texts = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))?;
        Ok(texts.iter().filter_map(|t| serde_json::from_str(t).ok()).collect())
    }

    /// A run's step losses, in order: (step, epoch, loss).
    pub fn run_steps(&self, id: i64) -> Result<Vec<(u64, u32, f32)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT step, epoch, loss FROM run_steps WHERE run_id = ?1 ORDER BY step")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![id], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get::<_, f64>(2)? as f32)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Chooses the run queries use (`None`: the most recent finished run).
    pub fn set_active_run(&self, id: Option<i64>) -> Result<()> {
        let r = match id {
            Some(id) => self.conn.execute(
                "INSERT INTO settings (key, value) VALUES ('active_run', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = ?1",
                params![id.to_string()],
            ),
            None => self.conn.execute("DELETE FROM settings WHERE key = 'active_run'", []),
        };
        r.map(|_| ()).map_err(|e| self.err(e))
    }

    /// The run queries use: the one chosen with [`Catalog::set_active_run`] if it still has a
    /// head, else the most recent run that finished with one.
    pub fn active_run(&self) -> Result<Option<RunRow>> {
        let chosen: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = 'active_run'", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some(run) = chosen.and_then(|c| c.parse().ok()).map(|id| self.run(id)).transpose()?.flatten() {
            if run.head_file.is_some() {
                return Ok(Some(run));
            }
        }
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'done' AND head_file IS NOT NULL ORDER BY id DESC LIMIT 1"
                ),
                [],
                run_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
