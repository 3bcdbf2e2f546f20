//! `library export --to URL`: a local (embedded) library moved up into a shared catalog, one
//! transaction per video, so an interrupted export resumes where it stopped: a video already
//! there with the same content and frames is skipped.

use super::hnsw::{ensure_hnsw, HnswBuild};
use super::search::image_models;
use super::upload::upload_video;
use super::worker::Paths;
use super::SharedCatalog;
use crate::catalog::{Catalog, Status};
use crate::error::Result;
use crate::library::Library;
use std::collections::HashMap;

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    pub uploaded: usize,
    /// Videos already in the shared catalog as they are here.
    pub unchanged: usize,
    /// Videos not ready here (still pending, or missing), left out.
    pub left_out: usize,
    pub frames: usize,
    pub embeddings: usize,
    /// Image models whose HNSW index was built by this export.
    pub indexed: Vec<String>,
}

impl std::fmt::Display for ExportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "export finished: {} video(s) uploaded ({} frames, {} embeddings), {} already there, {} not ready here and left out",
            self.uploaded, self.frames, self.embeddings, self.unchanged, self.left_out
        )?;
        if !self.indexed.is_empty() {
            write!(f, "; HNSW index built for {}", self.indexed.join(", "))?;
        }
        Ok(())
    }
}

/// Uploads every ready or failed video of `library` (paths through `paths`), then builds the
/// HNSW index of each image model with at least `hnsw_from` frames.
pub fn export_library(
    library: &Library,
    url: &str,
    paths: &Paths,
    hnsw_from: usize,
    progress: &dyn Fn(usize, usize, &str),
) -> Result<ExportReport> {
    let (mut shared, _) = SharedCatalog::open_and_migrate(url)?;
    let local = Catalog::open(&library.catalog_path())?;
    let there = present(&mut shared)?;
    let videos = local.videos()?;
    let mut report = ExportReport::default();
    for (i, v) in videos.iter().enumerate() {
        progress(i, videos.len(), &v.title);
        if !matches!(v.status, Status::Ready | Status::Failed) {
            report.left_out += 1;
            continue;
        }
        let path = paths.to_shared(&v.path);
        let frames = v.frames_train + v.frames_test;
        let same = there.get(crate::types::path_text(&path).as_ref()).is_some_and(|(hash, status, n)| {
            hash.as_deref() == v.content_hash.as_deref() && status == v.status.as_str() && *n == frames
        });
        if same {
            report.unchanged += 1;
            continue;
        }
        let up = upload_video(&mut shared, library, &local, v, &path, None)?;
        report.uploaded += 1;
        report.frames += up.frames;
        report.embeddings += up.embeddings;
    }
    progress(videos.len(), videos.len(), "");
    if report.uploaded > 0 {
        // Statistics for the planner, and the visibility map that lets search list frames from
        // the index alone (autovacuum would get there too, later).
        shared.client().batch_execute("VACUUM (ANALYZE) frame_embeddings").map_err(|e| shared.err(e))?;
    }
    for (model, count) in image_models(&mut shared)? {
        if count as usize >= hnsw_from && ensure_hnsw(&mut shared, &model)? != HnswBuild::Kept {
            report.indexed.push(model);
        }
    }
    Ok(report)
}

/// What the shared catalog holds of a video: its content hash, status and frame count.
type Held = (Option<String>, String, i64);

/// Each shared video by path.
fn present(shared: &mut SharedCatalog) -> Result<HashMap<String, Held>> {
    let rows = shared
        .client()
        .query(
            "SELECT v.path, v.content_hash, v.status, (SELECT count(*) FROM frames f WHERE f.video_id = v.id) FROM videos v",
            &[],
        )
        .map_err(|e| shared.err(e))?;
    Ok(rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3)))).collect())
}
