//! `reelmatch library` and `reelmatch export`.

use crate::catalog::{Catalog, VideoRow};
use crate::config::Config;
use crate::export::export_imagefolder;
use crate::library::Library;
use crate::pipeline::SetAsideCount;
use std::path::Path;
use std::process::ExitCode;

/// A row of `library --json`: the video, and its frames search sets aside.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    video: &'a VideoRow,
    set_aside: SetAsideCount,
}

pub fn list(library: &Library, config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let videos = catalog.videos()?;
    let aside = crate::pipeline::set_aside_counts(&catalog, library, config)?;
    let aside_of = |id: i64| aside.get(&id).copied().unwrap_or_default();
    if json {
        let rows: Vec<Listed> = videos.iter().map(|v| Listed { video: v, set_aside: aside_of(v.id) }).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if videos.is_empty() {
        println!("the library at {} is empty; add videos with `reelmatch ingest DIR`", library.root().display());
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", line(COLUMNS.iter().map(|c| c.0.to_string())));
    for v in &videos {
        println!("{}", row(v, aside_of(v.id)));
    }
    Ok(ExitCode::SUCCESS)
}

/// The columns of `reelmatch library`: heading, width (0: as wide as it gets), right-aligned.
const COLUMNS: &[(&str, usize, bool)] = &[
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
fn line(cells: impl Iterator<Item = String>) -> String {
    let padded: Vec<String> = cells
        .zip(COLUMNS)
        .map(|(cell, &(_, width, right))| match (width, right) {
            (0, _) => cell,
            (w, true) => format!("{cell:>w$}"),
            (w, false) => format!("{:<w$}", truncate(&cell, w)),
        })
        .collect();
    padded.join(" ").trim_end().to_string()
}

fn row(v: &VideoRow, aside: SetAsideCount) -> String {
    let duration = v.duration_s.map(|d| crate::types::clock(d, 0)).unwrap_or_else(|| "-".into());
    let rate = v.sample_fps.map(|r| format!("{r}")).unwrap_or_else(|| "-".into());
    let audio = match v.has_audio {
        Some(true) => "yes",
        Some(false) => "none",
        None => "-",
    };
    let lyrics = match (&v.transcript_language, v.has_audio) {
        (Some(lang), _) => lang.clone(),
        (None, Some(false)) => "none".into(),
        _ => "-".into(),
    };
    let aside = (aside.total() > 0).then(|| aside.to_string());
    let note = [v.error.as_deref(), v.transcript_flag.as_deref(), aside.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
    let cells = [
        v.id.to_string(),
        v.title.clone(),
        duration,
        rate,
        format!("{}/{}", v.frames_train, v.frames_test),
        v.frames_embedded.to_string(),
        audio.to_string(),
        lyrics,
        v.status.as_str().to_string(),
        note,
    ];
    line(cells.into_iter())
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
        assert_eq!(COLUMNS.len(), 10);
        let heading = line(COLUMNS.iter().map(|c| c.0.to_string()));
        let status = heading.find("STATUS").expect("a STATUS column");
        let cells: Vec<String> = (0..COLUMNS.len()).map(|i| if i == 8 { "ready".into() } else { "x".into() }).collect();
        let row = line(cells.into_iter());
        assert_eq!(row.find("ready"), Some(status), "STATUS sits over the status:\n{heading}\n{row}");
    }
}
