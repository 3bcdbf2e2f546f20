//! `reelmatch library` and `reelmatch export`.

use crate::backend::Backend;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::export::export_imagefolder;
use crate::library::Library;
use crate::shared::listing::QueueRow;
use std::path::Path;
use std::process::ExitCode;

/// `reelmatch library`: every video of the catalog, as a table or JSON.
pub fn list(library: &Library, config: &Config, backend: &Backend, json: bool) -> anyhow::Result<ExitCode> {
    let rows = backend.listing(library, config)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_table(library, backend, &rows);
    Ok(ExitCode::SUCCESS)
}

/// The listing as a table (a WORKER column where workers fill the catalog), or how to fill an
/// empty one.
pub fn print_table(library: &Library, backend: &Backend, rows: &[QueueRow]) {
    if rows.is_empty() {
        println!(
            "the library at {} has no videos; add them with `{}`",
            backend.shown(library),
            backend.ingest_command()
        );
        return;
    }
    let columns = columns(backend.has_workers());
    println!("{}", line(&columns, columns.iter().map(|c| c.0.to_string())));
    for r in rows {
        let cells = cells(r, backend.has_workers()).into_iter().map(|c| crate::types::printable(&c).into_owned());
        println!("{}", line(&columns, cells));
    }
}

/// A column of `reelmatch library`: heading, width (0: as wide as it gets), right-aligned.
type Column = (&'static str, usize, bool);

/// The columns of `reelmatch library` (with who holds each video, where `workers`).
fn columns(workers: bool) -> Vec<Column> {
    let mut columns = COLUMNS.to_vec();
    if workers {
        columns.insert(columns.len() - 1, WORKER);
    }
    columns
}

const WORKER: Column = ("WORKER", 20, false);

const COLUMNS: &[Column] = &[
    ("ID", 4, true),
    ("TITLE", 32, false),
    ("DURATION", 8, true),
    ("RATE", 5, true),
    ("TRAIN/TEST", 11, true),
    ("EMBEDDED", 8, true),
    ("AUDIO", 6, false),
    ("LYRICS", 6, false),
    ("STATUS", 8, false),
    ("NOTE", 0, false),
];

/// One line of the table: each cell padded to its column.
fn line(columns: &[Column], cells: impl Iterator<Item = String>) -> String {
    let padded: Vec<String> = cells
        .zip(columns)
        .map(|(cell, &(_, width, right))| match (width, right) {
            (0, _) => cell,
            (w, true) => format!("{cell:>w$}"),
            (w, false) => format!("{:<w$}", truncate(&cell, w)),
        })
        .collect();
    padded.join(" ").trim_end().to_string()
}

/// A video's cells, in the order of [`columns`].
fn cells(r: &QueueRow, workers: bool) -> Vec<String> {
    let (v, aside) = (&r.video, r.set_aside);
    let duration = v.duration_s.map(|d| crate::types::clock(d, 0)).unwrap_or_else(|| "-".into());
    let rate = v.sample_fps.map(|r| format!("{r}")).unwrap_or_else(|| "-".into());
    let audio = match v.has_audio {
        Some(true) => "yes",
        Some(false) => "none",
        None => "-",
    };
    let lyrics = match (&v.transcript_language, v.has_audio) {
        (Some(lang), _) => crate::types::language_told(lang, v.transcript_language_probability),
        (None, Some(false)) => "none".into(),
        _ => "-".into(),
    };
    let aside = (aside.total() > 0).then(|| aside.to_string());
    let note = [v.error.as_deref(), v.transcript_flag.as_deref(), aside.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
    let mut cells = vec![
        v.id.to_string(),
        v.title.clone(),
        duration,
        rate,
        format!("{}/{}", v.frames_train, v.frames_test),
        v.frames_embedded.to_string(),
        audio.to_string(),
        lyrics,
        v.status.as_str().to_string(),
    ];
    if workers {
        cells.push(r.claimed_by.clone().unwrap_or_else(|| "-".into()));
    }
    cells.push(note);
    cells
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

pub fn export(library: &Library, out: &Path) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let r = export_imagefolder(library, &catalog, out)?;
    println!("exported {} video(s): {} train and {} test frames under {}", r.videos, r.train, r.test, out.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_as_many_cells_as_the_heading() {
        for workers in [false, true] {
            let columns = columns(workers);
            assert_eq!(columns.len(), 10 + usize::from(workers));
            let heading = line(&columns, columns.iter().map(|c| c.0.to_string()));
            let mut row = QueueRow::default();
            row.video.status = crate::catalog::Status::Ready;
            row.claimed_by = Some("host-1".into());
            let cells = cells(&row, workers);
            assert_eq!(cells.len(), columns.len());
            let row = line(&columns, cells.into_iter());
            for (column, cell) in [("STATUS", "ready"), ("WORKER", "host-1")] {
                let at = heading.find(column);
                assert_eq!(at.is_some(), workers || column == "STATUS", "{heading}");
                assert_eq!(row.find(cell), at, "{column} sits over its cell:\n{heading}\n{row}");
            }
        }
    }
}
