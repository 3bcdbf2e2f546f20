//! `library import --from URL`: a shared catalog's videos copied down into an embedded library
//! (the way back from `library export`): frames written out as JPEG files, embeddings at their
//! original scale, transcripts with their segments, lyrics embeddings. One video at a time, each
//! committed on its own, so an interrupted import resumes: a video already here with the same
//! content and frames is skipped.

use super::worker::Paths;
use super::SharedCatalog;
use crate::catalog::{Catalog, FrameRecord, Split, Status};
use crate::error::{Error, Result};
use crate::library::Library;
use crate::types::{Probe, Transcript};
use pgvector::{HalfVector, Vector};
use std::collections::HashMap;
use std::path::PathBuf;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub imported: usize,
    /// Videos already here as they are there.
    pub unchanged: usize,
    /// Videos that failed there, recorded here as failed with their reason.
    pub failed: usize,
    pub frames: usize,
    pub embeddings: usize,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "import finished: {} video(s) imported ({} frames, {} embeddings), {} already here, {} failed there",
            self.imported, self.frames, self.embeddings, self.unchanged, self.failed
        )
    }
}

/// One shared video's row.
struct Remote {
    id: i64,
    path: PathBuf,
    title: String,
    hash: Option<String>,
    size: Option<i64>,
    mtime_ns: Option<i64>,
    duration_s: Option<f64>,
    fps: Option<f64>,
    width: Option<i64>,
    height: Option<i64>,
    has_audio: Option<bool>,
    sample_fps: Option<f64>,
    audio_samples: Option<i64>,
    status: String,
    error: Option<String>,
    frames: i64,
}

/// Copies every ready (and failed) video of the catalog at `url` into `library`, and every
/// missing one with frames (marked missing here too), paths through `paths` (shared → this
/// machine's).
pub fn import_library(
    library: &Library,
    url: &str,
    paths: &Paths,
    progress: &dyn Fn(usize, usize, &str),
) -> Result<ImportReport> {
    let mut shared = SharedCatalog::open(url)?;
    // The library is written as ingestion writes it: one writer at a time.
    let _writer = crate::lock::WriterLock::acquire(library, "importing", &crate::Cancel::new(), |holder| {
        tracing::warn!("{holder}; the import waits for it to finish");
    })?;
    let local = Catalog::open(&library.catalog_path())?;
    let remote = remote_videos(&mut shared)?;
    let mut report = ImportReport::default();
    for (i, r) in remote.iter().enumerate() {
        progress(i, remote.len(), &r.title);
        let path = paths.to_local(&r.path);
        if r.status == "failed" {
            local.record_unreadable(
                &path,
                &r.title,
                r.error.as_deref().unwrap_or("it failed in the shared catalog"),
            )?;
            report.failed += 1;
            continue;
        }
        let missing = r.status == "missing";
        if let Some(here) = local.video_by_path(&path)? {
            let same = here.content_hash == r.hash
                && matches!(here.status, Status::Ready | Status::Missing)
                && here.frames_train + here.frames_test == r.frames;
            if same {
                // Gone from (or back on) the catalog's disk: the copy says so, frames kept.
                match (missing, here.status) {
                    (true, Status::Ready) => local.set_missing(here.id)?,
                    (false, Status::Missing) => local.set_found(here.id)?,
                    _ => {}
                }
                report.unchanged += 1;
                continue;
            }
            local.delete_video(here.id)?;
            crate::ingest::identify::remove_derived(library, here.id);
        }
        // The same content under another path (a copy the workers both ingested, or a video
        // already here): the library keeps one of each.
        if let Some(other) = r.hash.as_deref().map(|h| local.video_by_hash(h)).transpose()?.flatten() {
            tracing::info!("{}: same content as {}, kept once", path.display(), other.path.display());
            report.unchanged += 1;
            continue;
        }
        let (id, frames, embeddings) = import_one(&mut shared, library, &local, r, &path)?;
        if missing {
            local.set_missing(id)?;
        }
        report.imported += 1;
        report.frames += frames;
        report.embeddings += embeddings;
    }
    progress(remote.len(), remote.len(), "");
    Ok(report)
}

fn remote_videos(shared: &mut SharedCatalog) -> Result<Vec<Remote>> {
    let rows = shared
        .client()
        .query(
            "SELECT v.id, v.path, v.title, v.content_hash, v.size_bytes, v.mtime_ns, v.duration_s, v.fps, v.width, v.height,
                v.has_audio, v.sample_fps, v.audio_samples, v.status, v.error,
                (SELECT count(*) FROM frames f WHERE f.video_id = v.id)
             FROM videos v
             WHERE v.status IN ('ready', 'failed')
                OR v.status = 'missing' AND EXISTS (SELECT 1 FROM frames f WHERE f.video_id = v.id)
             ORDER BY v.id",
            &[],
        )
        .map_err(|e| shared.err(e))?;
    Ok(rows
        .iter()
        .map(|r| Remote {
            id: r.get(0),
            path: crate::types::text_path(&r.get::<_, String>(1)),
            title: r.get(2),
            hash: r.get(3),
            size: r.get(4),
            mtime_ns: r.get(5),
            duration_s: r.get(6),
            fps: r.get(7),
            width: r.get(8),
            height: r.get(9),
            has_audio: r.get(10),
            sample_fps: r.get(11),
            audio_samples: r.get(12),
            status: r.get(13),
            error: r.get(14),
            frames: r.get(15),
        })
        .collect())
}

/// Imports one ready video; returns its id here and the frames and embeddings written.
fn import_one(
    shared: &mut SharedCatalog,
    library: &Library,
    local: &Catalog,
    r: &Remote,
    path: &std::path::Path,
) -> Result<(i64, usize, usize)> {
    let url = shared.url().to_string();
    let db = |e: postgres::Error| super::error_of(&url, &e);
    let hash = r.hash.clone().unwrap_or_else(|| format!("shared-{}", r.id));
    let id = local.insert_video(path, &r.title, &hash, r.size.unwrap_or(0), r.mtime_ns.unwrap_or(0))?;
    let probe = Probe {
        duration_s: r.duration_s.unwrap_or(0.0),
        fps: r.fps,
        width: r.width.unwrap_or(0),
        height: r.height.unwrap_or(0),
        has_audio: r.has_audio.unwrap_or(false),
        codec: String::new(),
        format: String::new(),
    };
    local.set_probed(id, &probe, r.sample_fps.unwrap_or(0.0))?;
    // Frames: their JPEG bytes written where ingestion would have put them.
    let dir = library.frames_dir(id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let rows = shared
        .client()
        .query("SELECT idx, t_s, split, jpeg FROM frames WHERE video_id = $1 ORDER BY idx", &[&r.id])
        .map_err(db)?;
    let mut frames = Vec::with_capacity(rows.len());
    for row in &rows {
        let idx: i32 = row.get(0);
        let file = format!("frames/{id}/{idx:06}.jpg");
        let target = library.resolve(&file);
        std::fs::write(&target, row.get::<_, &[u8]>(3)).map_err(|e| Error::io(&target, e))?;
        let split = if row.get::<_, &str>(2) == "test" { Split::Test } else { Split::Train };
        frames.push(FrameRecord { video_id: id, idx: idx.into(), t_s: row.get(1), split, file });
    }
    local.store_frames(id, &frames)?;
    // Embeddings, scaled back to the norm the model gave them.
    let rows = shared
        .client()
        .query(
            "SELECT e.model, f.idx, e.vector, e.scale FROM frame_embeddings e JOIN frames f ON f.id = e.frame_id
             WHERE e.video_id = $1 ORDER BY e.model, f.idx",
            &[&r.id],
        )
        .map_err(db)?;
    let mut by_model: HashMap<String, Vec<(i32, Vec<f32>)>> = HashMap::new();
    for row in &rows {
        let scale: f32 = row.get(3);
        let v: Vec<f32> = row.get::<_, HalfVector>(2).to_vec().iter().map(|h| h.to_f32() * scale).collect();
        by_model.entry(row.get(0)).or_default().push((row.get(1), v));
    }
    let mut embeddings = 0;
    for (model, vectors) in by_model {
        let ids: HashMap<String, i64> =
            local.frames_without_embedding(id, &model)?.into_iter().map(|(frame, file)| (file, frame)).collect();
        let rows: Vec<(i64, Vec<f32>)> = vectors
            .into_iter()
            .filter_map(|(idx, v)| ids.get(&format!("frames/{id}/{idx:06}.jpg")).map(|&frame| (frame, v)))
            .collect();
        embeddings += rows.len();
        local.store_frame_embeddings(&model, &rows)?;
    }
    // The transcript with its segments, then the lyrics embeddings made from it.
    let transcript = shared
        .client()
        .query_opt(
            "SELECT model, language, flag, language_probability FROM transcripts WHERE video_id = $1
             ORDER BY created_at DESC LIMIT 1",
            &[&r.id],
        )
        .map_err(db)?;
    if let Some(t) = transcript {
        let model: String = t.get(0);
        let segments = super::inspect::segments(shared, r.id, &model)?;
        let flag: Option<String> = t.get(2);
        let heard = Transcript { language: t.get(1), language_probability: t.get(3), segments };
        local.store_transcript(id, &model, &heard, flag.as_deref())?;
        let lyrics = shared
            .client()
            .query(
                "SELECT model, segment, vector FROM lyrics_embeddings WHERE video_id = $1 AND transcript_model = $2 ORDER BY model, segment",
                &[&r.id, &model],
            )
            .map_err(db)?;
        let mut by_model: HashMap<String, Vec<(i64, Vec<f32>)>> = HashMap::new();
        for l in &lyrics {
            by_model.entry(l.get(0)).or_default().push((l.get::<_, i32>(1).into(), l.get::<_, Vector>(2).to_vec()));
        }
        for (text_model, rows) in by_model {
            local.store_lyrics_embeddings(id, &model, &text_model, &rows)?;
        }
    }
    let print = shared
        .client()
        .query_opt("SELECT duration_s, hashes FROM fingerprints WHERE video_id = $1", &[&r.id])
        .map_err(db)?;
    if let Some(p) = print {
        let duration: i32 = p.get(0);
        local
            .store_fingerprint(id, &crate::types::Fingerprint::from_bytes(duration as u32, &p.get::<_, Vec<u8>>(1)))?;
    }
    // Last: only a video with everything in place is ready (an interrupted import redoes it).
    local.set_audio_done(id, r.audio_samples)?;
    Ok((id, frames.len(), embeddings))
}
