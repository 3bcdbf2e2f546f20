//! Frame embeddings made while the frames are still being sampled: the frame side hands each
//! frame file over as it is written, and a thread of its own embeds them a batch at a time, so
//! ResNet-50 works on the cores that decoding leaves idle instead of after it.

use crate::error::Result;
use crate::events::Cancel;
use crate::library::Library;
use crate::ml::Models;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where the frame side announces each frame file it has written (as the catalog records it,
/// relative to the library). Does nothing when there is no image model.
pub struct FrameFeed(Option<mpsc::Sender<String>>);

impl FrameFeed {
    /// A feed nobody reads: the frames are embedded afterwards, as stored.
    pub fn none() -> FrameFeed {
        FrameFeed(None)
    }

    /// Hands over a written frame file.
    pub fn written(&self, file: &str) {
        if let Some(tx) = &self.0 {
            // A closed receiver means the embedder gave up (stopped, or failed): the frames
            // left are embedded afterwards.
            let _ = tx.send(file.to_string());
        }
    }
}

/// What the embedder made while the frames were sampled: a vector per frame file, and the time
/// its forward passes took.
#[derive(Default)]
pub struct Early {
    pub vectors: HashMap<String, Vec<f32>>,
    pub busy: Duration,
}

/// Runs `sample` (the frame side) with a feed whose frames are embedded on a thread beside it,
/// and returns what `sample` returned with what the thread embedded. An embedding that fails
/// is dropped, not reported: those frames are embedded again after sampling, where a failure
/// fails the video as it always has.
pub fn embed_alongside<R>(
    library: &Library,
    models: &Models,
    cancel: &Cancel,
    sample: impl FnOnce(&FrameFeed) -> R,
) -> (R, Early) {
    let Some(image) = models.image() else { return (sample(&FrameFeed::none()), Early::default()) };
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::scope(|scope| {
        let embedder = scope.spawn(move || {
            let mut early = Early::default();
            let mut batch = Vec::with_capacity(image.batch_size());
            let mut open = true;
            while open {
                // Decoding makes frames slower than the network takes them: wait for a full
                // batch (or the last frames) rather than run small ones.
                while batch.len() < image.batch_size() {
                    match rx.recv() {
                        Ok(f) => batch.push(f),
                        Err(_) => {
                            open = false;
                            break;
                        }
                    }
                }
                if cancel.is_cancelled() || batch.is_empty() {
                    break;
                }
                let started = Instant::now();
                match embed_frame_files(library, image, batch.iter().map(String::as_str)) {
                    Ok(vectors) => early.vectors.extend(batch.drain(..).zip(vectors)),
                    Err(_) => break,
                }
                early.busy += started.elapsed();
            }
            early
        });
        let out = sample(&FrameFeed(Some(tx)));
        // `sample` dropped its feed's sender with the feed: the embedder finishes what is queued.
        let early = embedder.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (out, early)
    })
}

/// Embeds frame files named as the catalog records them (relative to the library), in order.
pub fn embed_frame_files<'a>(
    library: &Library,
    image: &crate::ml::image::ImageEmbedder,
    files: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Vec<f32>>> {
    let paths: Vec<_> = files.into_iter().map(|f| library.resolve(f)).collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    image.embed_files(&refs)
}
