//! Training runs kept in a shared catalog, so every dashboard and `runs` on any machine sees a
//! run that one machine trains: its settings and classes, step losses flushed every few seconds,
//! each epoch's metrics, the head's bytes and how it ended. A run whose trainer went silent
//! (killed, machine lost) reads as stopped once it has sent nothing for [`SILENT_AFTER_S`].

use super::SharedCatalog;
use crate::catalog::{RunRecords, RunRow};
use crate::error::Result;
use crate::types::{EpochMetrics, RunStatus};

/// Seconds without news after which a running run is taken for stopped.
pub const SILENT_AFTER_S: i64 = 600;

/// What a run's row is read as: timestamps as the embedded catalog writes them, a silent
/// running run as stopped, and the head as present or not.
fn columns() -> String {
    let time = |c: &str| format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
    format!(
        "id, {}, {}, CASE WHEN status = 'running' AND updated_at < now() - make_interval(secs => {SILENT_AFTER_S}) \
         THEN 'stopped' ELSE status END, \
         CASE WHEN status = 'running' AND updated_at < now() - make_interval(secs => {SILENT_AFTER_S}) \
         THEN 'no news from ' || trained_by || ' for ' || {SILENT_AFTER_S} / 60 || ' minutes' ELSE error END, \
         image_model, settings, classes, left_out, epochs_done, head IS NOT NULL",
        time("started_at"),
        time("finished_at")
    )
}

fn run_of(r: &postgres::Row) -> RunRow {
    let json = |i: usize| serde_json::from_str::<serde_json::Value>(r.get(i)).unwrap_or(serde_json::Value::Null);
    let classes = json(7);
    let id: i64 = r.get(0);
    RunRow {
        id,
        started_at: r.get(1),
        finished_at: r.get(2),
        status: RunStatus::parse(r.get(3)),
        error: r.get(4),
        image_model: r.get(5),
        settings: serde_json::from_value(json(6)).unwrap_or_default(),
        classes: serde_json::from_value(classes["titles"].clone()).unwrap_or_default(),
        class_ids: serde_json::from_value(classes["ids"].clone()).unwrap_or_default(),
        left_out: serde_json::from_value(json(8)).unwrap_or_default(),
        epochs_done: r.get::<_, i32>(9).max(0) as u32,
        head_file: r.get::<_, bool>(10).then(|| format!("the catalog (run {id})")),
    }
}

impl SharedCatalog {
    /// Records a run that `trained_by` starts (its settings and classes as `run` has them, with
    /// `class_ids` the catalog's ids of its classes); returns its id here.
    pub fn insert_run(&mut self, run: &RunRow, class_ids: &[i64], trained_by: &str) -> Result<i64> {
        let classes = serde_json::json!({"titles": run.classes, "ids": class_ids}).to_string();
        let settings = serde_json::to_string(&run.settings).unwrap_or_default();
        let left_out = serde_json::to_string(&run.left_out).unwrap_or_default();
        let row = self
            .client()
            .query_one(
                "INSERT INTO runs (status, image_model, settings, classes, left_out, epochs_done, trained_by)
                 VALUES ('running', $1, $2, $3, $4, $5, $6) RETURNING id",
                &[&run.image_model, &settings, &classes, &left_out, &(run.epochs_done as i32), &trained_by],
            )
            .map_err(|e| self.err(e))?;
        Ok(row.get(0))
    }

    /// Marks a stopped run running again, trained by `trained_by` (`train --resume`).
    pub fn reopen_run(&mut self, id: i64, trained_by: &str) -> Result<()> {
        self.client()
            .execute(
                "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, trained_by = $2, updated_at = now()
                 WHERE id = $1",
                &[&id, &trained_by],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Adds step losses (step, epoch, loss) and says the run is alive.
    pub fn store_steps(&mut self, run: i64, steps: &[(u64, u32, f32)]) -> Result<()> {
        let (step, epoch, loss): (Vec<i64>, Vec<i32>, Vec<f32>) =
            steps.iter().map(|&(s, e, l)| (s as i64, e as i32, l)).fold(Default::default(), |mut acc, (s, e, l)| {
                acc.0.push(s);
                acc.1.push(e);
                acc.2.push(l);
                acc
            });
        let url = self.url().to_string();
        let mut tx = self.client().transaction().map_err(|e| super::error_of(&url, &e))?;
        let done = tx
            .execute(
                "INSERT INTO run_steps (run_id, step, epoch, loss)
                 SELECT $1, * FROM unnest($2::BIGINT[], $3::INTEGER[], $4::REAL[])
                 ON CONFLICT (run_id, step) DO UPDATE SET epoch = EXCLUDED.epoch, loss = EXCLUDED.loss",
                &[&run, &step, &epoch, &loss],
            )
            .and_then(|_| tx.execute("UPDATE runs SET updated_at = now() WHERE id = $1", &[&run]))
            .and_then(|_| tx.commit());
        done.map_err(|e| super::error_of(&url, &e))
    }

    /// Stores an epoch's metrics, the run's progress and the head after it, in one transaction.
    pub fn store_epoch(&mut self, run: i64, m: &EpochMetrics, epochs_done: u32, head: &[u8]) -> Result<()> {
        let json = serde_json::to_string(m).unwrap_or_default();
        let url = self.url().to_string();
        let mut tx = self.client().transaction().map_err(|e| super::error_of(&url, &e))?;
        let done = tx
            .execute(
                "INSERT INTO run_epochs (run_id, epoch, metrics) VALUES ($1, $2, $3)
                 ON CONFLICT (run_id, epoch) DO UPDATE SET metrics = EXCLUDED.metrics",
                &[&run, &(m.epoch as i32), &json],
            )
            .and_then(|_| {
                tx.execute(
                    "UPDATE runs SET epochs_done = $2, head = $3, updated_at = now() WHERE id = $1",
                    &[&run, &(epochs_done as i32), &head],
                )
            })
            .and_then(|_| tx.commit());
        done.map_err(|e| super::error_of(&url, &e))
    }

    /// Records how a run ended.
    pub fn finish_run(&mut self, id: i64, status: RunStatus, error: Option<&str>) -> Result<()> {
        self.client()
            .execute(
                "UPDATE runs SET status = $2, error = $3, finished_at = now(), updated_at = now() WHERE id = $1",
                &[&id, &status.as_str(), &error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The head's safetensors bytes after the run's last stored epoch.
    pub fn run_head(&mut self, id: i64) -> Result<Option<Vec<u8>>> {
        let row = self.client().query_opt("SELECT head FROM runs WHERE id = $1", &[&id]).map_err(|e| self.err(e))?;
        Ok(row.and_then(|r| r.get(0)))
    }

    /// The newest run with its epochs and its loss curve, for the dashboard (read every few
    /// seconds, so the curve comes averaged in the server: a bounded read however long the run).
    pub fn latest_run(&mut self) -> Result<Option<LatestRun>> {
        let sql = format!("SELECT {} FROM runs ORDER BY id DESC LIMIT 1", columns());
        let Some(run) = self.client().query_opt(&sql, &[]).map_err(|e| self.err(e))?.as_ref().map(run_of) else {
            return Ok(None);
        };
        let epochs = self.run_epochs(run.id)?;
        let row = self
            .client()
            .query_one(
                "SELECT count(*), (SELECT loss FROM run_steps WHERE run_id = $1 ORDER BY step DESC LIMIT 1)
                 FROM run_steps WHERE run_id = $1",
                &[&run.id],
            )
            .map_err(|e| self.err(e))?;
        let (steps, last_loss): (i64, Option<f32>) = (row.get(0), row.get(1));
        let per_point = (steps + CURVE_POINTS - 1) / CURVE_POINTS;
        let curve = self
            .client()
            .query(
                "SELECT avg(loss)::REAL FROM (
                     SELECT loss, (row_number() OVER (ORDER BY step) - 1) / $2 AS part FROM run_steps WHERE run_id = $1
                 ) s GROUP BY part ORDER BY part",
                &[&run.id, &per_point.max(1)],
            )
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(Some(LatestRun { run, epochs, curve, steps: steps as u64, last_loss }))
    }
}

/// The catalog's runs, read as the embedded catalog's are.
impl RunRecords for SharedCatalog {
    fn runs(&mut self) -> Result<Vec<RunRow>> {
        let sql = format!("SELECT {} FROM runs ORDER BY id DESC", columns());
        let rows = self.client().query(&sql, &[]).map_err(|e| self.err(e))?;
        Ok(rows.iter().map(run_of).collect())
    }

    fn run(&mut self, id: i64) -> Result<Option<RunRow>> {
        let sql = format!("SELECT {} FROM runs WHERE id = $1", columns());
        let row = self.client().query_opt(&sql, &[&id]).map_err(|e| self.err(e))?;
        Ok(row.as_ref().map(run_of))
    }

    fn run_epochs(&mut self, id: i64) -> Result<Vec<EpochMetrics>> {
        let rows = self
            .client()
            .query("SELECT metrics FROM run_epochs WHERE run_id = $1 ORDER BY epoch", &[&id])
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().filter_map(|r| serde_json::from_str(r.get(0)).ok()).collect())
    }

    fn run_steps(&mut self, id: i64) -> Result<Vec<(u64, u32, f32)>> {
        let rows = self
            .client()
            .query("SELECT step, epoch, loss FROM run_steps WHERE run_id = $1 ORDER BY step", &[&id])
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i32>(1) as u32, r.get(2))).collect())
    }

    fn set_active_run(&mut self, id: Option<i64>) -> Result<()> {
        let done = match id {
            Some(id) => self.client().execute(
                "INSERT INTO settings (key, value) VALUES ('active_run', $1)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&id.to_string()],
            ),
            None => self.client().execute("DELETE FROM settings WHERE key = 'active_run'", &[]),
        };
        done.map(|_| ()).map_err(|e| self.err(e))
    }

    fn active_run(&mut self) -> Result<Option<RunRow>> {
        let chosen = self
            .client()
            .query_opt("SELECT value FROM settings WHERE key = 'active_run'", &[])
            .map_err(|e| self.err(e))?
            .and_then(|r| r.get::<_, String>(0).parse::<i64>().ok());
        if let Some(run) = chosen.map(|id| self.run(id)).transpose()?.flatten() {
            if run.head_file.is_some() {
                return Ok(Some(run));
            }
        }
        let sql = format!(
            "SELECT {} FROM runs WHERE status = 'done' AND head IS NOT NULL ORDER BY id DESC LIMIT 1",
            columns()
        );
        let row = self.client().query_opt(&sql, &[]).map_err(|e| self.err(e))?;
        Ok(row.as_ref().map(run_of))
    }
}

/// The most points of the dashboard's loss curve.
const CURVE_POINTS: i64 = 240;

/// A run as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestRun {
    pub run: RunRow,
    pub epochs: Vec<EpochMetrics>,
    /// The step losses so far, as at most [`CURVE_POINTS`] means of equal runs of steps.
    pub curve: Vec<f32>,
    pub steps: u64,
    pub last_loss: Option<f32>,
}
