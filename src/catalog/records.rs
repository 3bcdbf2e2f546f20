//! The record of training runs as every frontend reads it, whichever catalog keeps it: the
//! embedded catalog and the shared one both implement [`RunRecords`], so `runs`, the dashboard's
//! runs list and its curves are written once.

use super::runs::RunRow;
use crate::error::Result;
use crate::types::EpochMetrics;

/// One past run as a list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunItem {
    pub id: i64,
    pub status: String,
    pub epochs: u32,
    pub classes: usize,
    pub settings: String,
    pub test_accuracy: Option<f64>,
    pub top10: Option<f64>,
    pub macro_accuracy: Option<f64>,
    pub active: bool,
}

/// A stored run with everything its curves need.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDetail {
    pub run: RunRow,
    pub history: Vec<EpochMetrics>,
    /// (step, epoch, loss), in step order.
    pub steps: Vec<(u64, u32, f32)>,
}

/// Training runs as a catalog keeps them: each with its per-epoch metrics and step losses, and
/// the one queries use.
pub trait RunRecords {
    /// Every run, newest first.
    fn runs(&mut self) -> Result<Vec<RunRow>>;
    /// One run by id.
    fn run(&mut self, id: i64) -> Result<Option<RunRow>>;
    /// A run's per-epoch metrics, in order.
    fn run_epochs(&mut self, id: i64) -> Result<Vec<EpochMetrics>>;
    /// A run's step losses, in order: (step, epoch, loss).
    fn run_steps(&mut self, id: i64) -> Result<Vec<(u64, u32, f32)>>;
    /// Chooses the run queries use (`None`: the most recent finished run).
    fn set_active_run(&mut self, id: Option<i64>) -> Result<()>;
    /// The run queries use: the chosen one while it has a head, else the newest finished one.
    fn active_run(&mut self) -> Result<Option<RunRow>>;

    /// Run `id` with its metrics and losses; `None` when there is no such run.
    fn run_detail(&mut self, id: i64) -> Result<Option<RunDetail>> {
        let Some(run) = self.run(id)? else { return Ok(None) };
        Ok(Some(RunDetail { history: self.run_epochs(id)?, steps: self.run_steps(id)?, run }))
    }

    /// Every run (newest first) with its last epoch's metrics, and which one is active.
    fn run_items(&mut self) -> Result<Vec<RunItem>> {
        let active = self.active_run()?.map(|r| r.id);
        let runs = self.runs()?;
        runs.into_iter()
            .map(|r| {
                let last = self.run_epochs(r.id)?.pop();
                Ok(RunItem {
                    id: r.id,
                    status: r.status.as_str().to_string(),
                    epochs: r.epochs_done,
                    classes: r.classes.len(),
                    settings: format!("{} lr {}", r.settings.optimizer, r.settings.learning_rate),
                    test_accuracy: last.as_ref().and_then(|m| m.test_accuracy),
                    top10: last.as_ref().and_then(|m| m.top10_class_accuracy),
                    macro_accuracy: last.as_ref().and_then(|m| m.macro_accuracy),
                    active: Some(r.id) == active,
                })
            })
            .collect()
    }
}

/// The embedded catalog reads through one connection that SQLite serialises, so its own
/// methods take `&self`; these lend them to the shared interface.
impl RunRecords for super::Catalog {
    fn runs(&mut self) -> Result<Vec<RunRow>> {
        super::Catalog::runs(self)
    }
    fn run(&mut self, id: i64) -> Result<Option<RunRow>> {
        super::Catalog::run(self, id)
    }
    fn run_epochs(&mut self, id: i64) -> Result<Vec<EpochMetrics>> {
        super::Catalog::run_epochs(self, id)
    }
    fn run_steps(&mut self, id: i64) -> Result<Vec<(u64, u32, f32)>> {
        super::Catalog::run_steps(self, id)
    }
    fn set_active_run(&mut self, id: Option<i64>) -> Result<()> {
        super::Catalog::set_active_run(self, id)
    }
    fn active_run(&mut self) -> Result<Option<RunRow>> {
        super::Catalog::active_run(self)
    }
}
