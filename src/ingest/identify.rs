//! Identifying found files against the catalog by content hash: new, unchanged, renamed or
//! moved, changed in place, duplicated, or gone missing.

use super::scan::Found;
use crate::catalog::{Catalog, Stage, Status};
use crate::config::Config;
use crate::error::Result;
use crate::events::{Event, EventSink};
use crate::library::Library;
use crate::media::{not_regular_reason, probe};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The work an ingest run has to do.
pub struct Plan {
    /// Video ids with stages left to run.
    pub jobs: Vec<i64>,
    /// Video files found (including failed ones).
    pub videos: usize,
    pub up_to_date: usize,
    /// Files that could not even be identified, with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

/// Matches every found file to a catalog row, creating, moving or resetting rows as needed,
/// and marks rows whose file is gone as missing.
pub fn plan(
    library: &Library,
    catalog: &Catalog,
    config: &Config,
    found: &[Found],
    models: &crate::ml::Models,
    sink: &dyn EventSink,
) -> Result<Plan> {
    let mut plan = Plan { jobs: Vec::new(), videos: 0, up_to_date: 0, failed: Vec::new() };
    for f in found {
        if !f.by_extension && probe(&config.tools.ffprobe, &f.path).is_err() {
            continue; // not a known video extension and not a video: not ours
        }
        plan.videos += 1;
        let title = title_of(&f.path);
        let mut by_path = None;
        let examined = examine(f, |size, mtime_ns| {
            by_path = catalog.video_by_path(&f.path)?;
            Ok(by_path
                .as_ref()
                .filter(|v| v.size_bytes == Some(size) && v.mtime_ns == Some(mtime_ns))
                .and_then(|v| v.content_hash.clone()))
        })?;
        let (size, mtime_ns, hash) = match examined {
            Ok(it) => it,
            Err(reason) => {
                fail_unreadable(catalog, &f.path, &title, reason, sink, &mut plan)?;
                continue;
            }
        };
        let id = match catalog.video_by_hash(&hash)? {
            Some(v) if v.path == f.path => v.id,
            Some(v) if v.path.exists() && v.status != Status::Missing => {
                let message = format!("same content as {}; ingested once", v.path.display());
                sink.emit(Event::Note { path: f.path.clone(), message });
                continue;
            }
            Some(v) => {
                if let Some(stale) = by_path.filter(|p| p.id != v.id) {
                    catalog.delete_video(stale.id)?;
                    remove_derived(library, stale.id);
                }
                catalog.move_video(v.id, &f.path, &title, mtime_ns)?;
                let message = format!("moved or renamed from {}; kept its frames", v.path.display());
                sink.emit(Event::Note { path: f.path.clone(), message });
                v.id
            }
            None => match by_path {
                Some(old) => {
                    catalog.reset_video(old.id, &hash, size, mtime_ns)?;
                    remove_derived(library, old.id);
                    let message = "changed since it was ingested; ingesting it again".to_string();
                    sink.emit(Event::Note { path: f.path.clone(), message });
                    old.id
                }
                None => catalog.insert_video(&f.path, &title, &hash, size, mtime_ns)?,
            },
        };
        let video = catalog.video(id)?.expect("video row exists: it was just found or written");
        if video.stage >= Stage::DONE
            && video.status == Status::Ready
            && !super::models::pending(catalog, &video, models)?
        {
            plan.up_to_date += 1;
        } else {
            plan.jobs.push(id);
        }
    }
    let seen: HashSet<&Path> = found.iter().map(|f| f.path.as_path()).collect();
    for v in catalog.videos()? {
        if v.status != Status::Missing && !seen.contains(v.path.as_path()) && !v.path.exists() {
            catalog.set_missing(v.id)?;
            let message = "is gone from disk; marked missing (its frames are kept until it comes back)".into();
            sink.emit(Event::Note { path: v.path.clone(), message });
        }
    }
    Ok(plan)
}

fn fail_unreadable(
    catalog: &Catalog,
    path: &Path,
    title: &str,
    reason: String,
    sink: &dyn EventSink,
    plan: &mut Plan,
) -> Result<()> {
    let id = match catalog.video_by_path(path)? {
        Some(v) => {
            catalog.set_failed(v.id, &reason)?;
            v.id
        }
        None => catalog.record_unreadable(path, title, &reason)?,
    };
    sink.emit(Event::VideoFailed { id: Some(id), path: path.to_path_buf(), reason: reason.clone() });
    plan.failed.push((path.to_path_buf(), reason));
    Ok(())
}

/// Deletes frame folders and audio files that no catalog row owns (left by a run that stopped
/// between writing them and recording them) and half-written audio. Called under the writer lock.
pub fn remove_orphans(library: &Library, catalog: &Catalog) -> Result<()> {
    let owned: HashSet<i64> = catalog.videos()?.iter().map(|v| v.id).collect();
    let orphan = |name: &str| name.parse::<i64>().is_ok_and(|id| !owned.contains(&id));
    if let Ok(entries) = std::fs::read_dir(library.root().join("frames")) {
        for e in entries.flatten() {
            if orphan(&e.file_name().to_string_lossy()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(library.root().join("audio")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap_or("");
            if name.ends_with(".partial") || orphan(stem) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// Deletes a video's frame images and audio (their catalog rows are handled by the caller).
pub(crate) fn remove_derived(library: &Library, id: i64) {
    let _ = std::fs::remove_dir_all(library.frames_dir(id));
    let _ = std::fs::remove_file(library.audio_path(id));
}

/// A display title: the file name without its extension.
pub fn title_of(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// A found file's size, modification time (ns) and content hash, or why it cannot be ingested:
/// not a regular file, unreadable, or empty. `known_hash` may give the hash from an earlier
/// ingest, for the file's size and time, so that it is not read again.
pub(crate) fn examine(
    f: &Found,
    known_hash: impl FnOnce(i64, i64) -> Result<Option<String>>,
) -> Result<std::result::Result<(i64, i64, String), String>> {
    if let Some(kind) = f.special {
        return Ok(Err(not_regular_reason(kind)));
    }
    let (size, mtime_ns) = match stat(&f.path) {
        Ok(s) => s,
        Err(e) => return Ok(Err(unreadable(&f.path, e))),
    };
    if size == 0 {
        return Ok(Err("is empty (0 bytes); the download or copy did not finish. Replace the file.".to_string()));
    }
    Ok(match known_hash(size, mtime_ns)?.map(Ok).unwrap_or_else(|| hash_file(&f.path)) {
        Ok(hash) => Ok((size, mtime_ns, hash)),
        Err(e) => Err(unreadable(&f.path, e)),
    })
}

fn stat(path: &Path) -> std::io::Result<(i64, i64)> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos() as i64);
    Ok((meta.len() as i64, mtime.unwrap_or(0)))
}

fn unreadable(path: &Path, e: std::io::Error) -> String {
    let what = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        "is a link to a file that does not exist"
    } else {
        "cannot be read"
    };
    format!("{what} ({e}); check the file and its permissions")
}

/// The blake3 hash of a file's content, hex.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}
