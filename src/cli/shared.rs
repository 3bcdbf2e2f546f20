//! The commands only a shared PostgreSQL catalog has: `library export --to URL` / `import --from
//! URL` (an embedded library moved up and back) and `library --follow` (its workers' progress).

use crate::backend::Backend;
use crate::config::Config;
use crate::library::Library;
use crate::shared::worker::{PathMap, Paths};
use std::process::ExitCode;

/// `library export --to URL`.
pub fn export(library: &Library, config: &Config, to: &str, path_map: Vec<PathMap>) -> anyhow::Result<ExitCode> {
    let report = crate::shared::export::export_library(
        library,
        to,
        &Paths(path_map),
        config.search.approximate_from,
        &one_video,
    )?;
    eprintln!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// `library import --from URL`, then the vector store brought up to date.
pub fn import(library: &Library, config: &Config, from: &str, path_map: Vec<PathMap>) -> anyhow::Result<ExitCode> {
    let report = crate::shared::import::import_library(library, from, &Paths(path_map), &one_video)?;
    eprintln!("{report}");
    eprintln!("{}", crate::pipeline::refresh_index(library, config, false)?);
    Ok(ExitCode::SUCCESS)
}

/// A line per video an export or import starts on (the last call, with no title, ends it).
fn one_video(done: usize, total: usize, title: &str) {
    if !title.is_empty() {
        eprintln!("[{}/{total}] {title}", done + 1);
    }
}

/// `library --follow`: the table once listening, then each announcement as a line (a JSON
/// object per line with `--json`, the table's too).
pub fn follow(library: &Library, config: &Config, backend: &Backend, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout();
    let mut table = || {
        let rows = backend.listing(library, config)?;
        match json {
            true => println!("{}", serde_json::to_string(&rows).unwrap_or_default()),
            false => super::library::print_table(library, backend, &rows),
        }
        Ok(())
    };
    backend.follow(&mut table, &mut |p| {
        let line = if json { serde_json::to_string(&p).unwrap_or_default() } else { p.to_string() };
        writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
    })?;
    Ok(())
}
