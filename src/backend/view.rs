//! What a frontend reads to show a library, from whichever catalog holds it: the videos with
//! the worker holding each, the runs, one run's curves, one video inspected, and the pairs
//! marked not duplicates (and marking one).

use super::Backend;
use crate::catalog::{Catalog, RunRecords};
use crate::config::Config;
use crate::error::Result;
use crate::library::Library;
use crate::pipeline::{Inspection, Overview, RunDetail};
use crate::shared::SharedCatalog;

impl Backend {
    /// The videos (by title) with the pairs marked not duplicates, and the runs (newest first)
    /// when `runs`; first settling the runs a dead process left `running` when `settle`.
    pub fn overview(&self, library: &Library, runs: bool, settle: bool) -> Result<Overview> {
        match self {
            Backend::Embedded => {
                if settle {
                    crate::pipeline::settle_runs(library)?;
                }
                crate::pipeline::load_overview(library, runs)
            }
            Backend::Shared(url) => {
                let mut catalog = SharedCatalog::open(url)?;
                let rows = crate::shared::listing::queue(&mut catalog)?;
                let workers = rows.iter().filter_map(|r| Some((r.video.id, r.claimed_by.clone()?))).collect();
                let runs = if runs { Some(catalog.run_items()?) } else { None };
                let not_duplicates = catalog.not_duplicates()?;
                Ok(Overview { videos: rows.into_iter().map(|r| r.video).collect(), runs, not_duplicates, workers })
            }
        }
    }

    /// Run `id` with its metrics and losses; `None` when there is no such run.
    pub fn run_detail(&self, library: &Library, id: i64) -> Result<Option<RunDetail>> {
        match self {
            Backend::Embedded => crate::pipeline::load_run(library, id),
            Backend::Shared(url) => SharedCatalog::open(url)?.run_detail(id),
        }
    }

    /// Video `id`'s metadata, transcript, a few thumbnails and the frames search sets aside.
    pub fn inspect(&self, library: &Library, config: &Config, id: i64) -> Result<Inspection> {
        match self {
            Backend::Embedded => crate::pipeline::inspect_video(library, config, id),
            Backend::Shared(url) => crate::shared::inspect::inspect_video(&mut SharedCatalog::open(url)?, config, id),
        }
    }

    /// The pairs marked not duplicates (the catalog's ids, lower first).
    pub fn not_duplicates(&self, library: &Library) -> Result<std::collections::HashSet<(i64, i64)>> {
        match self {
            Backend::Embedded => Catalog::open(&library.catalog_path())?.not_duplicates(),
            Backend::Shared(url) => SharedCatalog::open(url)?.not_duplicates(),
        }
    }

    /// Records that videos `a` and `b` (the catalog's ids) are not duplicates, or forgets it
    /// (`undo`); returns whether anything changed.
    pub fn decide_not_duplicate(&self, library: &Library, a: i64, b: i64, undo: bool) -> Result<bool> {
        match self {
            Backend::Embedded => {
                let catalog = Catalog::open(&library.catalog_path())?;
                match undo {
                    true => catalog.clear_not_duplicate(a, b),
                    false => catalog.set_not_duplicate(a, b).map(|_| true),
                }
            }
            Backend::Shared(url) => SharedCatalog::open(url)?.decide_not_duplicate(a, b, undo),
        }
    }
}
