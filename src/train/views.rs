//! Features of augmented train frames: each train frame's K augmented views are run through the
//! backbone once and cached in the catalog, so every later epoch or run reads them for free.

use super::augment::Augmentation;
use crate::catalog::Catalog;
use crate::config::Train;
use crate::error::{Error, Remedy, Result};
use crate::events::{Cancel, Event, EventSink};
use crate::library::Library;
use crate::ml::image::ImageEmbedder;
use std::collections::HashSet;

/// Computes the views `0..settings.augmented_views` (seeded with `settings.seed`) that the train
/// frames of `videos` lack, in batches committed one by one (a stop or crash keeps what is done).
/// Returns how many were computed.
pub fn ensure_views(
    library: &Library,
    catalog: &Catalog,
    embedder: &ImageEmbedder,
    settings: &Train,
    videos: &HashSet<i64>,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<usize> {
    let (views, seed) = (settings.augmented_views, settings.seed);
    let todo: Vec<_> = catalog
        .frames_missing_views(&embedder.model_id, views)?
        .into_iter()
        .filter(|(video, ..)| videos.contains(video))
        .collect();
    if todo.is_empty() {
        return Ok(0);
    }
    let total = todo.len() as u32;
    sink.emit(Event::AugmentProgress { done: 0, total });
    let mut done = 0;
    let started = std::time::Instant::now();
    for (i, chunk) in todo.chunks(16).enumerate() {
        if i == 1 {
            ask_if_long(settings, started.elapsed().as_secs_f64() / done as f64, done, total)?;
        }
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let images = chunk
            .iter()
            .map(|(_, frame, file, view)| {
                let path = library.resolve(file);
                let img = image::open(&path)
                    .map_err(|e| {
                        Error::media(&path, format!("cannot read this frame ({e}); run `reelmatch ingest` again"))
                    })?
                    .to_rgb8();
                Ok(Augmentation::for_view(seed, *frame, *view).apply(&img))
            })
            .collect::<Result<Vec<_>>>()?;
        let vectors = embedder.embed(&images)?;
        let rows: Vec<(i64, u32, Vec<f32>)> =
            chunk.iter().zip(vectors).map(|((_, frame, _, view), v)| (*frame, *view, v)).collect();
        catalog.store_frame_views(&embedder.model_id, &rows)?;
        done += chunk.len() as u32;
        sink.emit(Event::AugmentProgress { done, total });
    }
    Ok(todo.len())
}

/// After the first batch: when the views left would take longer than
/// `views_ask_over_minutes` at the pace measured, stop and say so (what is done is kept).
fn ask_if_long(settings: &Train, per_view: f64, done: u32, total: u32) -> Result<()> {
    let limit = settings.views_ask_over_minutes * 60.0;
    let left = per_view * (total - done) as f64;
    if limit <= 0.0 || left <= limit {
        return Ok(());
    }
    Err(Error::not_ready(
        format!(
            "the {total} augmented views of the train frames would take about {} more ({per_view:.2} s each, \
             over train.views_ask_over_minutes = {}); the {done} computed so far are kept",
            crate::types::short_duration(left),
            settings.views_ask_over_minutes
        ),
        Remedy::ConfirmViews,
    ))
}
