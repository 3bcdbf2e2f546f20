//! What the dashboard's lists show, read from the catalog in one go: the videos, the past runs
//! with their last metrics, the pairs marked not duplicates, and one run's curves.

use crate::catalog::{Catalog, RunRecords, VideoRow};
pub use crate::catalog::{RunDetail, RunItem};
use crate::error::Result;
use crate::library::Library;

/// The library's videos, and its runs (newest first) when they were asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub videos: Vec<VideoRow>,
    pub runs: Option<Vec<RunItem>>,
    /// Pairs of videos marked not duplicates, lower id first.
    pub not_duplicates: std::collections::HashSet<(i64, i64)>,
    /// The worker holding each video it holds (a shared catalog's; none on the embedded one).
    pub workers: std::collections::HashMap<i64, String>,
}

/// Reads the videos, and the runs when `runs` (only training changes them).
pub fn load_overview(library: &Library, runs: bool) -> Result<Overview> {
    let mut catalog = Catalog::open(&library.catalog_path())?;
    let videos = catalog.videos()?;
    let runs = if runs { Some(catalog.run_items()?) } else { None };
    Ok(Overview { videos, runs, not_duplicates: catalog.not_duplicates()?, workers: Default::default() })
}

/// Marks runs that a process which died left `running` as stopped (when nobody holds the
/// library), so lists show how they really ended.
pub fn settle_runs(library: &Library) -> Result<()> {
    let catalog = Catalog::open(&library.catalog_path())?;
    crate::train::settle_dead_runs(library, &catalog)
}

/// Reads run `id` with its metrics and losses; `None` when there is no such run.
pub fn load_run(library: &Library, id: i64) -> Result<Option<RunDetail>> {
    Catalog::open(&library.catalog_path())?.run_detail(id)
}
