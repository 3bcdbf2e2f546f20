//! Resumable library ingestion: scan, identify by content hash, then per video probe → frames
//! (sampled, stored as JPEG, split) → audio, each stage committed on its own.

mod early;
pub(crate) mod identify;
mod models;
mod scan;
pub mod split;
mod staged;
mod worker;

pub(crate) use identify::examine;
pub use identify::{hash_file, title_of};
pub use models::{embed_frames_for_descriptions, transcript_flag};
pub use scan::{scan, Found, Scan};
pub use staged::Staged;
pub(crate) use worker::{run as ingest_video, Outcome};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::Result;
use crate::events::{Cancel, Event, EventSink};
use crate::library::Library;
use crate::lock::WriterLock;
use crate::media::check_tools;
use crate::ml::Models;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

/// What one ingest run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    /// Video files found under the roots.
    pub found: usize,
    /// Videos that had stages to run and finished them.
    pub processed: usize,
    /// Videos that were already complete.
    pub up_to_date: usize,
    /// Files that failed, with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// Whether the run was stopped before finishing.
    pub cancelled: bool,
}

impl std::fmt::Display for IngestReport {
    /// The one-line summary every frontend shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.cancelled { "stopped" } else { "finished" };
        write!(
            f,
            "ingest {how}: {} ingested, {} failed, {} up to date",
            self.processed,
            self.failed.len(),
            self.up_to_date
        )
    }
}

/// Ingests every video under `roots` into `library`, running the model stages of the roles in
/// `models` (loaded first; each role that is missing is reported as an [`Event::Model`]). Files that fail are recorded with their reason and the rest go on; a fatal problem
/// (ffmpeg missing, catalog unusable, the library's disk full) is an error. Holds the library's
/// writer lock, waiting (with a note) while another process writes it.
pub fn ingest(
    library: &Library,
    config: &Config,
    roots: &[PathBuf],
    models: &Models,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<IngestReport> {
    check_tools(&config.tools)?;
    let notes = models.load_all();
    let _writer = WriterLock::acquire(library, "ingesting", cancel, |holder| {
        let message = format!("{holder}; waiting for it to finish (stop with Ctrl-C or s)");
        sink.emit(Event::Note { path: library.root().to_path_buf(), message });
    })?;
    let scanned = scan(roots, &config.ingest.extensions, &library.internal_dirs())?;
    for (path, message) in scanned.notes {
        sink.emit(Event::Note { path, message });
    }
    for (path, reason) in &scanned.failed {
        sink.emit(Event::VideoFailed { id: None, path: path.clone(), reason: reason.clone() });
    }
    let catalog = Catalog::open(&library.catalog_path())?;
    identify::remove_orphans(library, &catalog)?;
    let plan = identify::plan(library, &catalog, config, &scanned.found, models, sink)?;
    let mut report = IngestReport { found: plan.videos, up_to_date: plan.up_to_date, ..Default::default() };
    report.failed.extend(scanned.failed);
    report.failed.extend(plan.failed);
    // What the missing models mean is said in full where there is work they would have done;
    // a re-run with nothing to do says it in a line.
    if plan.jobs.is_empty() && !notes.is_empty() {
        let message = format!(
            "nothing new to ingest; {} model note(s) (a missing or random model): `reelmatch models` says which and how to provide them",
            notes.len()
        );
        sink.emit(Event::Note { path: library.root().to_path_buf(), message });
    } else {
        notes.into_iter().for_each(|note| sink.emit(Event::Model { note }));
    }
    sink.emit(Event::IngestPlanned { files: plan.videos, to_process: plan.jobs.len(), up_to_date: plan.up_to_date });

    let queue = Mutex::new(VecDeque::from(plan.jobs));
    let results = Mutex::new(Vec::new());
    let fatal = Mutex::new(None);
    let workers = config.ingest.concurrency.min(queue.lock().expect("queue lock").len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let catalog = match Catalog::open(&library.catalog_path()) {
                    Ok(c) => c,
                    Err(e) => {
                        fatal.lock().expect("fatal lock").get_or_insert(e);
                        cancel.cancel();
                        return;
                    }
                };
                loop {
                    if cancel.is_cancelled() {
                        return;
                    }
                    let Some(id) = queue.lock().expect("queue lock").pop_front() else { return };
                    match worker::run(library, &catalog, config, models, id, sink, cancel) {
                        Ok(outcome) => results.lock().expect("results lock").push(outcome),
                        Err(e) => {
                            fatal.lock().expect("fatal lock").get_or_insert(e);
                            cancel.cancel();
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = fatal.into_inner().expect("fatal lock") {
        return Err(e);
    }
    for outcome in results.into_inner().expect("results lock") {
        match outcome {
            worker::Outcome::Done => report.processed += 1,
            worker::Outcome::Failed(path, reason) => report.failed.push((path, reason)),
            worker::Outcome::Cancelled => report.cancelled = true,
        }
    }
    report.cancelled |= cancel.is_cancelled();
    sink.emit(Event::IngestFinished {
        processed: report.processed,
        failed: report.failed.len(),
        cancelled: report.cancelled,
    });
    Ok(report)
}
