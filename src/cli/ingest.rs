//! `reelmatch ingest PATH…`: runs ingestion with progress and Ctrl-C handling.

use super::progress::Progress;
use super::EXIT_SOME_FAILED;
use crate::config::Config;
use crate::library::Library;
use crate::ml::Models;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(library: &Library, config: &Config, paths: Vec<PathBuf>, models: Models) -> anyhow::Result<ExitCode> {
    let (library, config) = (library.clone(), config.clone());
    let report = super::until_ctrl_c("step", move |cancel| {
        crate::pipeline::ingest(&library, &config, &paths, &models, &Progress::new(), &cancel)
    })??;
    eprintln!("{report}");
    if report.cancelled {
        eprintln!("stopped; run the same command again to finish what is left");
        return Ok(ExitCode::from(130));
    }
    if !report.failed.is_empty() {
        eprintln!("{} file(s) failed; `reelmatch library` shows why:", report.failed.len());
        for (path, reason) in &report.failed {
            eprintln!("  {}: {reason}", path.display());
        }
        return Ok(ExitCode::from(EXIT_SOME_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
