//! A worker's scan of its paths into the shared queue, as an embedded ingest matches files to its
//! catalog: a new file is registered pending; a file whose size or time changed and whose content
//! did is set pending again (the upload replaces its frames under the same id); a file renamed or
//! moved under the paths (the same content where a video's file is gone) takes its new path and
//! keeps its frames; and a video whose file is gone is marked missing, its frames kept until it
//! comes back. Only videos under the paths this worker scanned are judged, each by its file as
//! this machine sees it (`--path-map`).

use super::paths::Paths;
use super::SharedCatalog;
use crate::config::Config;
use crate::error::Result;
use crate::events::{Event, EventSink};
use crate::ingest::{hash_file, title_of};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Files registered per statement.
const BATCH: usize = 2000;

/// A video the catalog has under the scanned paths.
struct Known {
    id: i64,
    path: String,
    size: Option<i64>,
    mtime_ns: Option<i64>,
    hash: Option<String>,
    status: String,
}

/// Scans `roots` and brings the queue in step with what is there (see the module doc). Returns
/// how many files were new, and how many folders could not be read (each said to `sink`, as an
/// embedded ingest says them, with what was skipped on purpose and what was renamed, changed or
/// gone).
pub(super) fn register(
    shared: &mut SharedCatalog,
    config: &Config,
    roots: &[PathBuf],
    paths: &Paths,
    sink: &dyn EventSink,
) -> Result<(usize, usize)> {
    let scanned = crate::ingest::scan(roots, &config.ingest.extensions, &[])?;
    for (path, message) in &scanned.notes {
        sink.emit(Event::Note { path: path.clone(), message: message.clone() });
    }
    for (path, reason) in &scanned.failed {
        sink.emit(Event::VideoFailed { id: None, path: path.clone(), reason: reason.clone() });
    }
    let note = |path: &Path, message: String| sink.emit(Event::Note { path: path.to_path_buf(), message });
    let shared_roots: Vec<PathBuf> =
        roots.iter().map(|r| paths.to_shared(&r.canonicalize().unwrap_or_else(|_| r.clone()))).collect();
    let known = known_under(shared, &shared_roots)?;
    // A FIFO or device named like a video is registered too: the worker that claims it fails it
    // with the reason, as an embedded ingest does.
    let found: Vec<(String, &Path)> = scanned
        .found
        .iter()
        .filter(|f| f.by_extension)
        .map(|f| (crate::types::path_text(&paths.to_shared(&f.path)).into_owned(), f.path.as_path()))
        .collect();
    let seen: HashSet<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    let mut gone: Vec<&Known> = known
        .values()
        .filter(|k| !seen.contains(k.path.as_str()) && !paths.to_local(Path::new(&k.path)).exists())
        .collect();
    let (mut new_paths, mut new_titles) = (Vec::new(), Vec::new());
    for (shared_path, local) in &found {
        let stat = stat(local);
        match (known.get(shared_path), stat) {
            (Some(k), Some(stat)) => {
                if let Some(message) = changed_or_back(shared, k, local, stat)? {
                    note(local, message);
                }
            }
            (Some(_), None) => {} // unreadable: the worker that claims it says why
            (None, stat) => match stat.map(|s| renamed_from(&mut gone, local, s)).unwrap_or(None) {
                Some(from) => {
                    let moved = shared
                        .client()
                        .execute(
                            "UPDATE videos SET path = $2, title = $3, mtime_ns = $4, updated_at = now()
                             WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM videos WHERE path = $2)",
                            &[&from.id, shared_path, &title_of(local), &stat.map(|s| s.1)],
                        )
                        .map_err(|e| shared.err(e))?;
                    if moved > 0 {
                        note(local, format!("moved or renamed from {}; kept its frames", from.path));
                    }
                }
                None => {
                    new_paths.push(shared_path.clone());
                    new_titles.push(title_of(local));
                }
            },
        }
    }
    for k in gone {
        let marked = shared
            .client()
            .execute(
                "UPDATE videos SET status = 'missing', claimed_by = NULL, lease_until = NULL, updated_at = now()
                 WHERE id = $1 AND status IN ('pending', 'ready', 'failed')",
                &[&k.id],
            )
            .map_err(|e| shared.err(e))?;
        if marked > 0 {
            let message = "is gone from disk; marked missing (its frames are kept until it comes back)".to_string();
            note(&paths.to_local(Path::new(&k.path)), message);
        }
    }
    // A few thousand files a statement, each statement one round trip.
    let mut new = 0;
    for (p, t) in new_paths.chunks(BATCH).zip(new_titles.chunks(BATCH)) {
        new += shared
            .client()
            .execute(
                "INSERT INTO videos (path, title) SELECT * FROM unnest($1::text[], $2::text[])
                 ON CONFLICT (path) DO NOTHING",
                &[&p, &t],
            )
            .map_err(|e| shared.err(e))? as usize;
    }
    Ok((new, scanned.failed.len()))
}

/// The videos whose shared path is one of `roots` or under one, by path.
fn known_under(shared: &mut SharedCatalog, roots: &[PathBuf]) -> Result<HashMap<String, Known>> {
    let rows = shared
        .client()
        .query("SELECT id, path, size_bytes, mtime_ns, content_hash, status FROM videos", &[])
        .map_err(|e| shared.err(e))?;
    Ok(rows
        .iter()
        .map(|r| Known {
            id: r.get(0),
            path: r.get(1),
            size: r.get(2),
            mtime_ns: r.get(3),
            hash: r.get(4),
            status: r.get(5),
        })
        .filter(|k| roots.iter().any(|root| Path::new(&k.path).starts_with(root)))
        .map(|k| (k.path.clone(), k))
        .collect())
}

/// A file's size and modification time (ns), as the embedded catalog records them.
fn stat(path: &Path) -> Option<(i64, i64)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() as i64;
    Some((meta.len() as i64, mtime))
}

/// What to do with a known video whose file is at its path: nothing while its size and time are
/// the ones ingested; set pending again when its content changed; ready again when it was
/// missing and is back unchanged. Returns what to tell the user.
fn changed_or_back(
    shared: &mut SharedCatalog,
    k: &Known,
    local: &Path,
    (size, mtime): (i64, i64),
) -> Result<Option<String>> {
    let Some(ingested_size) = k.size else { return Ok(None) }; // not ingested yet: pending or failed as it is
    let same_stat = ingested_size == size && k.mtime_ns == Some(mtime);
    let same_content = same_stat || hash_file(local).ok().is_some_and(|h| Some(&h) == k.hash.as_ref());
    let (sql, message) = match (same_content, k.status.as_str()) {
        (true, "missing") => (
            "UPDATE videos SET status = 'ready', mtime_ns = $2, updated_at = now() WHERE id = $1 AND status = 'missing'",
            Some("is back; its frames were kept".to_string()),
        ),
        (true, _) if same_stat => return Ok(None),
        (true, _) => ("UPDATE videos SET mtime_ns = $2 WHERE id = $1", None), // touched, not changed
        (false, "working") => return Ok(None), // a worker ingests it now; the next scan looks again
        (false, _) => (
            "UPDATE videos SET status = 'pending', error = NULL, attempts = 0, claimed_by = NULL, lease_until = NULL,
                mtime_ns = $2, updated_at = now() WHERE id = $1 AND status <> 'working'",
            Some("changed since it was ingested; ingesting it again".to_string()),
        ),
    };
    shared.client().execute(sql, &[&k.id, &mtime]).map_err(|e| shared.err(e))?;
    Ok(message)
}

/// The video among `gone` (known, its file no longer there) that `local` is, moved or renamed:
/// the same size and the same content. Taken out of `gone`.
fn renamed_from<'a>(gone: &mut Vec<&'a Known>, local: &Path, (size, _): (i64, i64)) -> Option<&'a Known> {
    if !gone.iter().any(|k| k.size == Some(size) && k.hash.is_some()) {
        return None;
    }
    let hash = hash_file(local).ok()?;
    let at = gone.iter().position(|k| k.size == Some(size) && k.hash.as_deref() == Some(hash.as_str()))?;
    Some(gone.remove(at))
}
