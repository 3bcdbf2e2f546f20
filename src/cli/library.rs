//! `reelmatch library` and `reelmatch export`.

use crate::catalog::{Catalog, VideoRow};
use crate::export::export_imagefolder;
use crate::library::Library;
use std::path::Path;
use std::process::ExitCode;

pub fn list(library: &Library, json: bool) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let videos = catalog.videos()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&videos)?);
        return Ok(ExitCode::SUCCESS);
    }
    if videos.is_empty() {
        println!("the library at {} is empty; add videos with `reelmatch ingest DIR`", library.root().display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>4}  {:<32} {:>8} {:>5} {:>11} {:<6} {:<8} ERROR",
        "ID", "TITLE", "DURATION", "RATE", "TRAIN/TEST", "AUDIO", "STATUS"
    );
    for v in &videos {
        println!("{}", row(v));
    }
    Ok(ExitCode::SUCCESS)
}

fn row(v: &VideoRow) -> String {
    let duration =
        v.duration_s.map(|d| format!("{}:{:02}", (d / 60.0) as u64, d as u64 % 60)).unwrap_or_else(|| "-".into());
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
    let note = [v.error.as_deref(), v.transcript_flag.as_deref()].into_iter().flatten().collect::<Vec<_>>().join("; ");
    format!(
        "{:>4}  {:<32} {:>8} {:>5} {:>11} {:>8} {:<6} {:<6} {:<8} {}",
        v.id,
        truncate(&v.title, 32),
        duration,
        rate,
        format!("{}/{}", v.frames_train, v.frames_test),
        v.frames_embedded,
        audio,
        lyrics,
        v.status.as_str(),
        note
    )
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
