//! `reelmatch ingest PATH…`: runs ingestion with progress and Ctrl-C handling.

use super::progress::Progress;
use super::EXIT_SOME_FAILED;
use crate::config::Config;
use crate::ingest::{ingest, Models};
use crate::library::Library;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(library: &Library, config: &Config, paths: Vec<PathBuf>, models: Models) -> anyhow::Result<ExitCode> {
    let (library, config) = (library.clone(), config.clone());
    let report = super::until_ctrl_c("step", move |cancel| {
        ingest(&library, &config, &paths, &models, &Progress::new(), &cancel)
    })??;
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

/// Loads the configured models, saying which roles are unavailable and what that means.
pub fn models_with_notice(config: &Config) -> Models {
    let (models, missing) = Models::load(config);
    for (role, reason) in missing {
        let what = match role {
            crate::ml::Role::Image => "frames are stored but not embedded",
            crate::ml::Role::Speech => "lyrics are not transcribed",
            crate::ml::Role::Text => "lyrics are not embedded",
        };
        eprintln!("note: {what} this run: {reason}");
    }
    models
}
