//! Ingestion and training as jobs: the models they need are loaded (once, and kept) before the
//! work starts, and what is missing is reported as an event rather than printed. Ingestion is
//! the ingest layer's own job; training adds the choice of the image model for augmented views.

use crate::config::Config;
use crate::error::Result;
use crate::events::{Cancel, Event, EventSink};
use crate::library::Library;
use crate::ml::Models;
use crate::train::RunSummary;

use crate::ingest::IngestReport;
use std::path::PathBuf;

/// Ingests `roots` with every model role `models` can provide (see [`crate::ingest::ingest`]),
/// then brings the vector store up to date, so the first query after it pays nothing.
pub fn ingest(
    library: &Library,
    config: &Config,
    roots: &[PathBuf],
    models: &Models,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<IngestReport> {
    let report = crate::ingest::ingest(library, config, roots, models, sink, cancel)?;
    refresh(library, config, sink);
    Ok(report)
}

/// Updates the vector store after a job; a failure is said, and the next query tries again.
fn refresh(library: &Library, config: &Config, sink: &dyn EventSink) {
    if let Err(e) = super::refresh_index(library, config, false) {
        let message = format!("the search index could not be updated ({e}); the next query tries again");
        sink.emit(Event::Note { path: library.root().to_path_buf(), message });
    }
}

/// Trains a run (or resumes `resume`); the image model is loaded only when augmented views are
/// asked for, and their absence is said, not fatal.
pub fn train(
    library: &Library,
    config: &Config,
    models: &Models,
    resume: Option<i64>,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<RunSummary> {
    let embedder = if config.train.augmented_views > 0 { models.image() } else { None };
    if config.train.augmented_views > 0 {
        if let Some(note) = models.notes().into_iter().find(|n| n.role() == crate::types::Role::Image) {
            let message = match embedder {
                Some(_) => note.to_string(),
                None => format!("augmented views are skipped this run: {}", note.reason()),
            };
            sink.emit(Event::Note { path: library.root().to_path_buf(), message });
        }
    }
    let summary = crate::train::train(library, config, embedder, resume, sink, cancel)?;
    refresh(library, config, sink);
    Ok(summary)
}
