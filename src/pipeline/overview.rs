//! What the dashboard's lists show, read from the catalog in one go: the videos, the past runs
//! with their last metrics, the pairs marked not duplicates, and one run's curves.

use crate::catalog::{Catalog, RunRow, VideoRow};
use crate::error::Result;
use crate::library::Library;
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

/// The library's videos, and its runs (newest first) when they were asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub videos: Vec<VideoRow>,
    pub runs: Option<Vec<RunItem>>,
    /// Pairs of videos marked not duplicates, lower id first.
    pub not_duplicates: std::collections::HashSet<(i64, i64)>,
}

/// A stored run with everything its curves need.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDetail {
    pub run: RunRow,
    pub history: Vec<EpochMetrics>,
    /// (step, epoch, loss), in step order.
    pub steps: Vec<(u64, u32, f32)>,
}

/// Reads the videos, and the runs when `runs` (only training changes them).
pub fn load_overview(library: &Library, runs: bool) -> Result<Overview> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let videos = catalog.videos()?;
    let runs = if runs { Some(run_items(&catalog)?) } else { None };
    Ok(Overview { videos, runs, not_duplicates: catalog.not_duplicates()? })
}

/// Marks runs that a process which died left `running` as stopped (when nobody holds the
/// library), so lists show how they really ended.
pub fn settle_runs(library: &Library) -> Result<()> {
    let catalog = Catalog::open(&library.catalog_path())?;
    crate::train::settle_dead_runs(library, &catalog)
}

/// Reads run `id` with its metrics and losses; `None` when there is no such run.
pub fn load_run(library: &Library, id: i64) -> Result<Option<RunDetail>> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let Some(run) = catalog.run(id)? else { return Ok(None) };
    Ok(Some(RunDetail { history: catalog.run_epochs(id)?, steps: catalog.run_steps(id)?, run }))
}

fn run_items(catalog: &Catalog) -> Result<Vec<RunItem>> {
    let active = catalog.active_run()?.map(|r| r.id);
    catalog
        .runs()?
        .into_iter()
        .map(|r| {
            let last = catalog.run_epochs(r.id)?.pop();
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
