//! The vector store as a job: brought up to date when ingestion or training finishes (so the
//! first query after them pays nothing), and built again on request.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::Result;
use crate::library::Library;
use crate::search::library::projection_key;
use crate::search::space::Space;
use crate::store::FrameStore;

/// What the stores hold after a refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSummary {
    /// (model, rows, dimensions) per image model.
    pub stores: Vec<(String, usize, usize)>,
    /// The active run's projection: (run, rows, dimensions).
    pub head: Option<(i64, usize, usize)>,
}

impl std::fmt::Display for IndexSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.stores.is_empty() {
            return write!(f, "no frame vectors to index yet; ingest videos with an image model first");
        }
        for (i, (model, rows, dim)) in self.stores.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{model}: {rows} frame vectors of {dim} dimensions")?;
        }
        if let Some((run, rows, dim)) = self.head {
            write!(f, "\nhead of run {run}: {rows} projections of {dim} dimensions")?;
        }
        Ok(())
    }
}

/// Brings every image model's store up to date with the catalog (builds them again when
/// `rebuild`), and the active run's projection with it.
pub fn refresh_index(library: &Library, config: &Config, rebuild: bool) -> Result<IndexSummary> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let space = Space::choose(library, &catalog, config, Some(crate::config::SearchSpace::Head))?;
    let mut summary = IndexSummary { stores: Vec::new(), head: None };
    for (model, _) in catalog.image_models()? {
        let store = if rebuild { FrameStore::rebuild(&catalog, &model)? } else { FrameStore::open(&catalog, &model)? };
        summary.stores.push((model.clone(), store.len(), store.dim()));
        // The active run's projection follows the store of the model it was trained on.
        if let Some((run, head)) = &space.head {
            if space.image_model.as_deref() == Some(model.as_str()) && store.dim() == head.dim() {
                let projected = store.projected(&projection_key(head)?, &|v| head.project(v))?;
                summary.head = Some((*run, projected.len(), projected.dim()));
            }
        }
    }
    Ok(summary)
}
