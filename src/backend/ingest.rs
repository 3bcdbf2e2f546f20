//! Ingesting files into whichever catalog a library is on: the embedded catalog's stages on
//! this machine, or one worker of a shared catalog's queue (registering the files, then claiming
//! and uploading videos until the queue is empty).

use super::Backend;
use crate::config::Config;
use crate::error::Result;
use crate::events::{Cancel, EventSink};
use crate::ingest::IngestReport;
use crate::library::Library;
use crate::ml::Models;
use crate::shared::worker::{PathMap, Paths, WorkerReport, WorkerSettings};
use std::path::PathBuf;
use std::time::Duration;

/// What an ingest was asked beyond its paths.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// How this machine's paths appear to other machines (a shared catalog's workers).
    pub path_map: Vec<PathMap>,
    /// Set the videos that failed pending again first (a shared catalog's queue; the embedded
    /// catalog tries them again on every run).
    pub retry_failed: bool,
}

/// How an ingest ended.
pub enum Ingested {
    Embedded(IngestReport),
    Shared(WorkerReport),
}

impl Ingested {
    /// Whether it was stopped before finishing (a re-run finishes it).
    pub fn cancelled(&self) -> bool {
        match self {
            Ingested::Embedded(r) => r.cancelled,
            Ingested::Shared(_) => false,
        }
    }

    /// How many videos failed (or folders could not be read).
    pub fn failed(&self) -> usize {
        match self {
            Ingested::Embedded(r) => r.failed.len(),
            Ingested::Shared(r) => r.failed + r.unreadable,
        }
    }

    /// The files that failed with why, where this machine knows them (a shared catalog keeps
    /// them in its queue: `library` lists them).
    pub fn failed_files(&self) -> &[(PathBuf, String)] {
        match self {
            Ingested::Embedded(r) => &r.failed,
            Ingested::Shared(_) => &[],
        }
    }
}

impl std::fmt::Display for Ingested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ingested::Embedded(r) => r.fmt(f),
            Ingested::Shared(r) => r.fmt(f),
        }
    }
}

impl Backend {
    /// Ingests the video files under `paths` with `models`, saying through `say` what a worker
    /// is and what it set pending again.
    #[allow(clippy::too_many_arguments)] // the job's inputs, each its own kind
    pub fn ingest(
        &self,
        library: &Library,
        config: &Config,
        paths: &[PathBuf],
        options: &IngestOptions,
        models: &Models,
        sink: &dyn EventSink,
        cancel: &Cancel,
        say: &dyn Fn(String),
    ) -> Result<Ingested> {
        match self {
            Backend::Embedded => {
                crate::pipeline::ingest(library, config, paths, models, sink, cancel).map(Ingested::Embedded)
            }
            Backend::Shared(url) => {
                if options.retry_failed {
                    let n = crate::shared::worker::retry_failed(url)?;
                    if n > 0 {
                        say(format!("{n} video(s) that failed set pending again"));
                    }
                }
                let settings = WorkerSettings::new(
                    Duration::from_secs_f64(config.catalog.lease_s),
                    config.catalog.max_claims,
                    Paths(options.path_map.clone()),
                );
                say(format!("worker {} on {}", settings.name, crate::shared::shown(url)));
                crate::shared::worker::run(url, library, config, paths, models, &settings, sink, cancel)
                    .map(Ingested::Shared)
            }
        }
    }
}
