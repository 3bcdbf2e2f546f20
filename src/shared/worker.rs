//! Distributed ingestion (`ingest --worker`): every worker registers the files it finds, then
//! claims one pending video at a time (`FOR UPDATE SKIP LOCKED`) under a lease it renews while
//! it works. It runs the embedded pipeline's stages (probe, frames, audio, models) once on the
//! claimed file, staged in memory (`ingest::Staged`), then uploads the result in one
//! transaction that checks the claim is still its own. A worker that dies stops renewing; once
//! its lease runs out another worker takes the video over. Nothing is stored twice (an upload
//! replaces) and nothing is lost (a video is ready only once its upload committed). After each
//! upload it keeps the HNSW index up with the library (`shared::upkeep`).

pub use super::paths::{PathMap, Paths};
use super::progress::{announce, Progress};
use super::upload::{upload_video, Uploaded};
use super::SharedCatalog;
use crate::catalog::{VideoRecords, VideoRow};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::{Cancel, Event, EventSink};
use crate::ingest::{Outcome, Staged};
use crate::library::Library;
use crate::ml::Models;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How one worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// This worker's name in claims (`host:pid` by default).
    pub name: String,
    /// How long a claim holds without renewal.
    pub lease: Duration,
    /// Claims taken over from dead workers before a video is marked failed.
    pub max_attempts: i32,
    pub paths: Paths,
}

impl WorkerSettings {
    pub fn new(lease: Duration, max_claims: u32, paths: Paths) -> Self {
        WorkerSettings { name: process_name(), lease, max_attempts: max_claims as i32, paths }
    }
}

/// This process as the catalog names it: `host:pid`.
pub fn process_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let host = if host.is_empty() { "localhost".to_string() } else { host };
    format!("{host}:{}", std::process::id())
}

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkerReport {
    /// Files this worker found and registered (new to the catalog).
    pub registered: usize,
    /// Videos it ingested and uploaded.
    pub uploaded: usize,
    pub frames: usize,
    /// Videos it marked failed (with the reason, in the catalog).
    pub failed: usize,
    /// Folders under its paths that could not be read (each said, with the reason, as it was
    /// found; the rest was registered).
    pub unreadable: usize,
    /// Claims it lost to another worker (its lease ran out while it worked).
    pub lost: usize,
    /// HNSW index builds it made as the library grew (`shared::upkeep`).
    pub indexed: usize,
    /// Claims it could not read on this machine, given back for a worker that can.
    pub unreachable: usize,
}

impl std::fmt::Display for WorkerReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worker finished: {} registered, {} ingested ({} frames), {} failed, {} claim(s) lost",
            self.registered, self.uploaded, self.frames, self.failed, self.lost
        )?;
        if self.unreadable > 0 {
            write!(f, ", {} folder(s) could not be read", self.unreadable)?;
        }
        if self.indexed > 0 {
            write!(f, ", {} HNSW index build(s)", self.indexed)?;
        }
        if self.unreachable > 0 {
            write!(f, ", {} video(s) left for a machine that can read them", self.unreachable)?;
        }
        Ok(())
    }
}

/// Registers the video files under `roots`, then works the queue until no video is pending
/// or held by a live claim. `library` is this worker's local folder: each claim's frames and
/// audio are written in a scratch folder inside it until they are uploaded.
#[allow(clippy::too_many_arguments)]
pub fn run(
    url: &str,
    library: &Library,
    config: &Config,
    roots: &[PathBuf],
    models: &Models,
    settings: &WorkerSettings,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<WorkerReport> {
    let mut shared = SharedCatalog::open(url)?;
    let (registered, unreadable) = super::register::register(&mut shared, config, roots, &settings.paths, sink)?;
    let mut report = WorkerReport { registered, unreadable, ..Default::default() };
    let renewal = Renewal::start(url, settings)?;
    let mut upkeep = super::upkeep::Upkeep::new(url);
    let mut claimed = 0;
    Scratch::sweep(library);
    let mut reach = Reach { prefixes: claimable(roots, &settings.paths), skip: Vec::new() };
    while !cancel.is_cancelled() {
        match claim(&mut shared, settings, &reach)? {
            Claim::Video { id, path } => {
                renewal.hold(id);
                let local_path = settings.paths.to_local(&path);
                if let Err(e) = readable(&local_path) {
                    // Another machine's file (or one gone): given back, and the next one taken.
                    renewal.release();
                    release(&mut shared, id, settings)?;
                    reach.skip.push(id);
                    report.unreachable += 1;
                    let message = format!(
                        "cannot be read on this machine ({e}); left pending for a worker that can read it (`--path-map SHARED=LOCAL` maps another machine's paths)"
                    );
                    sink.emit(Event::Note { path: local_path, message });
                    continue;
                }
                if claimed == 0 {
                    // Once, before the first video: ffmpeg is there, and the models' notes (one
                    // missing, where to get it).
                    if let Err(e) = crate::media::check_tools(&config.tools) {
                        renewal.release();
                        release(&mut shared, id, settings)?;
                        return Err(e);
                    }
                    models.load_all().into_iter().for_each(|note| sink.emit(Event::Model { note }));
                }
                claimed += 1;
                let outcome = ingest_one(&mut shared, library, config, models, id, &path, settings, sink, cancel);
                let held = renewal.release();
                match outcome {
                    Ok(Some(up)) => {
                        report.uploaded += 1;
                        report.frames += up.frames;
                        report.indexed += upkeep.after_upload(&mut shared, config)?;
                    }
                    Ok(None) => report.failed += 1,
                    Err(Error::ClaimLost { .. }) => report.lost += 1,
                    Err(e) if !held => {
                        tracing::warn!("claim on video {id} lost: {e}");
                        report.lost += 1;
                    }
                    Err(e) => {
                        release(&mut shared, id, settings)?;
                        return Err(e);
                    }
                }
            }
            Claim::Wait => {
                std::thread::sleep((settings.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(5)))
            }
            Claim::Done => break,
        }
    }
    renewal.end();
    // A build the worker started is waited for when the queue is done (the index is there when
    // it says it finished), not after a Ctrl-C: the server drops a build whose session ends,
    // and the next build clears what it left.
    if !cancel.is_cancelled() {
        report.indexed += upkeep.finish(&mut shared, config)?;
    }
    Ok(report)
}

enum Claim {
    Video {
        id: i64,
        path: PathBuf,
    },
    /// Nothing to claim now, but other workers hold live claims (one may die).
    Wait,
    Done,
}

/// What a worker may claim: videos under its own folders and files (none given: any), less the
/// ones it found it cannot read.
struct Reach {
    /// Shared paths: a folder's ending in `/`, a file's whole.
    prefixes: Vec<String>,
    skip: Vec<i64>,
}

/// The SQL condition that a video is within a worker's [`Reach`], given the parameters that
/// hold its prefixes (`text[]`) and the ids it skips (`bigint[]`).
fn within_reach(prefixes: &str, skip: &str) -> String {
    format!(
        "(cardinality({prefixes}::text[]) = 0 OR EXISTS (
            SELECT 1 FROM unnest({prefixes}::text[]) p
            WHERE path = p OR (right(p, 1) = '/' AND left(path, length(p)) = p)))
         AND NOT (id = ANY({skip}::bigint[]))"
    )
}

/// The shared paths of `roots` (as registering names them), a folder's with a trailing `/`.
/// A UTF-8 folder's prefix comes twice: as it is, and as the files under it whose names are
/// not UTF-8 are stored (`bytes:` and the folder, see [`crate::types::path_text`]).
fn claimable(roots: &[PathBuf], paths: &Paths) -> Vec<String> {
    roots
        .iter()
        .flat_map(|root| {
            let local = root.canonicalize().unwrap_or_else(|_| root.clone());
            let shared = crate::types::path_text(&paths.to_shared(&local)).into_owned();
            let prefix = match local.is_dir() {
                true => format!("{}/", shared.trim_end_matches('/')),
                false => shared,
            };
            let as_bytes = (!prefix.starts_with("bytes:") && local.is_dir())
                .then(|| format!("bytes:{}", prefix.replace('\\', "\\\\")));
            std::iter::once(prefix).chain(as_bytes)
        })
        .collect()
}

/// Whether this machine can read `path`: a regular file it can open (anything else, a FIFO
/// included, is left to ingestion, which says why it is no video without opening it).
fn readable(path: &Path) -> std::io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        std::fs::File::open(path)?;
    }
    Ok(())
}

/// Takes the oldest pending video within reach, or one whose claim expired, for this worker.
fn claim(shared: &mut SharedCatalog, s: &WorkerSettings, reach: &Reach) -> Result<Claim> {
    let lease = s.lease.as_secs_f64();
    // Videos whose workers died too often are failed, with the reason.
    shared
        .client()
        .execute(
            "UPDATE videos SET status = 'failed', claimed_by = NULL, lease_until = NULL, updated_at = now(),
                error = 'its ingestion was claimed ' || attempts || ' times and never finished (catalog.max_claims): its workers died on it (out of memory?); see their logs, then set it pending again with `reelmatch ingest --worker --retry-failed`'
             WHERE status = 'working' AND lease_until < now() AND attempts >= $1",
            &[&s.max_attempts],
        )
        .map_err(|e| shared.err(e))?;
    let row = shared
        .client()
        .query_opt(
            &format!("UPDATE videos SET status = 'working', claimed_by = $1, lease_until = now() + make_interval(secs => $2),
                attempts = attempts + 1, updated_at = now()
             WHERE id = (SELECT id FROM videos
                         WHERE (status = 'pending' OR (status = 'working' AND lease_until < now()))
                           AND {}
                         ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
             RETURNING id, path, title", within_reach("$3", "$4")),
            &[&s.name, &lease, &reach.prefixes, &reach.skip],
        )
        .map_err(|e| shared.err(e))?;
    if let Some(r) = row {
        let (id, title) = (r.get(0), r.get(2));
        let p = Progress {
            video: id,
            title,
            status: "working".into(),
            worker: Some(s.name.clone()),
            frames: 0,
            error: None,
        };
        announce(shared.client(), &p).map_err(|e| shared.err(e))?;
        return Ok(Claim::Video { id, path: crate::types::text_path(&r.get::<_, String>(1)) });
    }
    let busy: i64 = shared
        .client()
        .query_one(
            &format!("SELECT count(*) FROM videos WHERE status = 'working' AND {}", within_reach("$1", "$2")),
            &[&reach.prefixes, &reach.skip],
        )
        .map_err(|e| shared.err(e))?
        .get(0);
    Ok(if busy > 0 { Claim::Wait } else { Claim::Done })
}

/// Gives a claim back (this worker stops for a reason not the video's).
fn release(shared: &mut SharedCatalog, id: i64, s: &WorkerSettings) -> Result<()> {
    shared
        .client()
        .execute(
            "UPDATE videos SET status = 'pending', claimed_by = NULL, lease_until = NULL, attempts = greatest(attempts - 1, 0)
             WHERE id = $1 AND claimed_by = $2",
            &[&id, &s.name],
        )
        .map_err(|e| shared.err(e))?;
    Ok(())
}

/// Ingests the claimed video once, from its file: the embedded pipeline's stages run on the
/// video staged in memory (its frames and audio in a scratch folder of the local library), then
/// one upload. `None` when the video itself failed (recorded in the shared catalog with the
/// reason).
#[allow(clippy::too_many_arguments)]
fn ingest_one(
    shared: &mut SharedCatalog,
    library: &Library,
    config: &Config,
    models: &Models,
    id: i64,
    path: &Path,
    s: &WorkerSettings,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<Option<Uploaded>> {
    let local_path = s.paths.to_local(path);
    sink.emit(Event::IngestPlanned { files: 1, to_process: 1, up_to_date: 0 });
    let staged = match identify(shared, id, &local_path, config)? {
        Ok(video) => {
            let scratch = Scratch::new(library)?;
            let staged = Staged::new(video);
            match crate::ingest::ingest_video(&scratch.library, &staged, config, models, id, sink, cancel)? {
                Outcome::Done => Ok((staged, scratch)),
                Outcome::Failed(_, reason) => Err(reason),
                Outcome::Cancelled => return Err(Error::Cancelled),
            }
        }
        Err(reason) => {
            sink.emit(Event::VideoFailed { id: Some(id), path: local_path.clone(), reason: reason.clone() });
            Err(reason)
        }
    };
    let done = match staged {
        Ok((staged, scratch)) => {
            let video = staged.video(id)?.expect("a staged video has its row");
            Some(upload_video(shared, &scratch.library, &staged, &video, path, Some(&s.name))?)
        }
        Err(reason) => {
            mark_failed(shared, id, path, &reason, s)?;
            None
        }
    };
    let processed = done.is_some() as usize;
    sink.emit(Event::IngestFinished { processed, failed: 1 - processed, cancelled: false });
    Ok(done)
}

/// The claimed file as a row to stage (path, title, size, time, content hash), or why it is no
/// video to ingest: what an embedded library's scan and identification say of such a file, and
/// a copy of a video the catalog already holds.
fn identify(
    shared: &mut SharedCatalog,
    id: i64,
    local_path: &Path,
    config: &Config,
) -> Result<std::result::Result<VideoRow, String>> {
    let found = match crate::ingest::scan(&[local_path.to_path_buf()], &config.ingest.extensions, &[]) {
        Ok(scanned) => match (scanned.found.into_iter().next(), scanned.failed.into_iter().next()) {
            (_, Some((_, reason))) => return Ok(Err(reason)),
            (Some(found), None) => found,
            (None, None) => return Ok(Err("it was not ingested: it is not a video file".to_string())),
        },
        Err(e) => return Ok(Err(e.to_string())),
    };
    let (size, mtime_ns, hash) = match crate::ingest::examine(&found, |_, _| Ok(None))? {
        Ok(examined) => examined,
        Err(reason) => return Ok(Err(reason)),
    };
    let same: Option<String> = shared
        .client()
        .query_opt(
            "SELECT path FROM videos WHERE content_hash = $1 AND id <> $2 AND status = 'ready' ORDER BY id LIMIT 1",
            &[&hash, &id],
        )
        .map_err(|e| shared.err(e))?
        .map(|r| r.get(0));
    if let Some(other) = same {
        return Ok(Err(format!("same content as {other}; the library keeps it once")));
    }
    Ok(Ok(VideoRow {
        id,
        title: crate::ingest::title_of(local_path),
        path: found.path,
        content_hash: Some(hash),
        size_bytes: Some(size),
        mtime_ns: Some(mtime_ns),
        ..Default::default()
    }))
}

/// Records a claimed video's failure, if the claim is still this worker's.
fn mark_failed(shared: &mut SharedCatalog, id: i64, path: &Path, reason: &str, s: &WorkerSettings) -> Result<()> {
    let url = shared.url().to_string();
    let db = |e: postgres::Error| super::error_of(&url, &e);
    let mut tx = shared.client().transaction().map_err(db)?;
    let marked = tx
        .execute(
            "UPDATE videos SET status = 'failed', error = $3, claimed_by = NULL, lease_until = NULL, updated_at = now()
             WHERE id = $1 AND claimed_by = $2",
            &[&id, &s.name, &reason],
        )
        .map_err(db)?;
    if marked == 0 {
        // The lease ran out and another worker holds the video now: its outcome counts.
        return Err(Error::ClaimLost { path: path.into(), by: None });
    }
    let p = Progress {
        video: id,
        title: crate::ingest::title_of(path),
        status: "failed".into(),
        worker: Some(s.name.clone()),
        frames: 0,
        error: Some(reason.to_string()),
    };
    announce(&mut tx, &p).map_err(db)?;
    tx.commit().map_err(db)
}

/// A folder for one claim's frames and audio, in the local library (on the disk chosen for it,
/// not a memory-backed /tmp) under a hidden name no scan takes, removed when the claim ends.
struct Scratch {
    library: Library,
    _dir: tempfile::TempDir,
}

const SCRATCH_PREFIX: &str = ".worker-scratch-";

impl Scratch {
    fn new(library: &Library) -> Result<Self> {
        let root = library.root();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{SCRATCH_PREFIX}{}-", std::process::id()))
            .tempdir_in(root)
            .map_err(|e| Error::io(root, e))?;
        Ok(Scratch { library: Library::open(dir.path())?, _dir: dir })
    }

    /// Removes what workers killed on this machine left (their process is gone).
    fn sweep(library: &Library) {
        let Ok(entries) = std::fs::read_dir(library.root()) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix(SCRATCH_PREFIX)).and_then(|n| n.split('-').next());
            let gone = pid.is_some_and(|pid| pid != std::process::id().to_string() && !process_alive(pid));
            if gone {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Whether the process `pid` runs on this machine (where that cannot be known: assumed so).
fn process_alive(pid: &str) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid).exists()
}

/// Renews the claim being worked on from a thread of its own, every third of the lease, over
/// one connection kept for the worker's life (opened again only after it broke).
struct Renewal {
    orders: std::sync::mpsc::Sender<Order>,
    thread: std::thread::JoinHandle<()>,
}

enum Order {
    /// Renew the claim on this video from now on.
    Hold(i64),
    /// Stop renewing; answer whether the claim was held throughout.
    Release(std::sync::mpsc::Sender<bool>),
}

impl Renewal {
    fn start(url: &str, s: &WorkerSettings) -> Result<Self> {
        let mut shared = Some(SharedCatalog::open(url)?);
        let (orders, inbox) = std::sync::mpsc::channel::<Order>();
        let (url, name, lease) = (url.to_string(), s.name.clone(), s.lease);
        let thread = std::thread::spawn(move || {
            // The video held, and whether every renewal so far went through.
            let mut holding: Option<(i64, bool)> = None;
            loop {
                let order = match holding {
                    Some(_) => inbox.recv_timeout(lease / 3),
                    None => inbox.recv().map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected),
                };
                match order {
                    Ok(Order::Hold(id)) => holding = Some((id, true)),
                    Ok(Order::Release(answer)) => {
                        let _ = answer.send(holding.take().is_some_and(|(_, held)| held));
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        // A claim already lost stays lost: nothing to renew until the next.
                        let Some((id, held)) = holding.as_mut() else { continue };
                        if !*held {
                            continue;
                        }
                        if shared.as_mut().is_none_or(|c| c.client().is_closed()) {
                            shared = SharedCatalog::open(&url).ok();
                        }
                        let renewed = shared.as_mut().map(|c| {
                            c.client().execute(
                                "UPDATE videos SET lease_until = now() + make_interval(secs => $3)
                                 WHERE id = $1 AND claimed_by = $2 AND status = 'working'",
                                &[&*id, &name, &lease.as_secs_f64()],
                            )
                        });
                        *held = matches!(renewed, Some(Ok(1)));
                    }
                }
            }
        });
        Ok(Renewal { orders, thread })
    }

    /// Renews the claim on video `id` until [`Renewal::release`].
    fn hold(&self, id: i64) {
        let _ = self.orders.send(Order::Hold(id));
    }

    /// Stops renewing; whether the claim was held throughout.
    fn release(&self) -> bool {
        let (answer, answered) = std::sync::mpsc::channel();
        self.orders.send(Order::Release(answer)).is_ok() && answered.recv().unwrap_or(false)
    }

    /// Ends the renewing thread.
    fn end(self) {
        drop(self.orders);
        let _ = self.thread.join();
    }
}

/// Sets every failed video pending again (`ingest --worker --retry-failed`); how many.
pub fn retry_failed(url: &str) -> Result<u64> {
    let mut shared = SharedCatalog::open(url)?;
    shared
        .client()
        .execute("UPDATE videos SET status = 'pending', error = NULL, attempts = 0 WHERE status = 'failed'", &[])
        .map_err(|e| shared.err(e))
}
