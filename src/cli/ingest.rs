//! `reelmatch ingest PATH…`: runs ingestion (on a shared catalog, as one worker of its queue)
//! with progress and Ctrl-C handling.

use super::progress::Progress;
use super::EXIT_SOME_FAILED;
use crate::backend::{Backend, IngestOptions};
use crate::config::Config;
use crate::library::Library;
use crate::ml::Models;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(
    library: &Library,
    config: &Config,
    backend: &Backend,
    paths: Vec<PathBuf>,
    options: IngestOptions,
    models: Models,
) -> anyhow::Result<ExitCode> {
    // A worker stops after the video it holds; an embedded ingest after the step it is in.
    let unit = if backend.has_workers() { "video" } else { "step" };
    let (library, config, backend) = (library.clone(), config.clone(), backend.clone());
    let report = super::until_ctrl_c(unit, move |cancel| {
        let say = |line: String| eprintln!("{line}");
        backend.ingest(&library, &config, &paths, &options, &models, &Progress::new(), &cancel, &say)
    })??;
    eprintln!("{report}");
    if report.cancelled() {
        eprintln!("stopped; run the same command again to finish what is left");
        return Ok(ExitCode::from(130));
    }
    if report.failed() > 0 {
        if !report.failed_files().is_empty() {
            eprintln!("{} file(s) failed; `reelmatch library` shows why:", report.failed());
        }
        for (path, reason) in report.failed_files() {
            eprintln!("  {}: {reason}", path.display());
        }
        return Ok(ExitCode::from(EXIT_SOME_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
