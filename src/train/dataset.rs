//! The training set: one class per video with enough train frames, each frame's backbone
//! features (read from the vector store, which maps them, rather than decoded from the catalog)
//! plus the cached features of its augmented views, and the test frames.

use super::fit::{Dataset, Samples};
use crate::catalog::{Catalog, Split};
use crate::error::{Error, Remedy, Result};
use crate::store::FrameStore;
use std::collections::HashMap;

/// A dataset with where its classes come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub data: Dataset,
    /// The video id of each class, in label order.
    pub class_ids: Vec<i64>,
    /// Videos left out, with why.
    pub left_out: Vec<String>,
    /// Train samples that are augmented views (the rest are the frames themselves).
    pub augmented: usize,
}

/// The videos that become classes (labelled in catalog order), their titles, and those left out.
struct Classes {
    ids: Vec<i64>,
    titles: Vec<String>,
    left_out: Vec<String>,
}

/// The video ids of the classes training `model`'s features would have (no features loaded).
pub fn class_ids(catalog: &Catalog, model: &str, min_train_frames: usize) -> Result<Vec<i64>> {
    let store = FrameStore::open(catalog, model)?;
    Ok(classes(catalog, &store, model, min_train_frames)?.ids)
}

/// Loads the features of `model`: videos with at least `min_train_frames` train frames become
/// classes; `views` augmented views per train frame are added where cached.
pub fn load(catalog: &Catalog, model: &str, min_train_frames: usize, views: u32) -> Result<Loaded> {
    let store = FrameStore::open(catalog, model)?;
    let Classes { ids: class_ids, titles, left_out } = classes(catalog, &store, model, min_train_frames)?;
    let label: HashMap<i64, u32> = class_ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect();
    let dim = store.dim();
    let mut views_of: HashMap<i64, Vec<Vec<f32>>> = HashMap::new();
    if views > 0 {
        for (frame, v) in catalog.frame_views(model, views)? {
            views_of.entry(frame).or_default().push(v);
        }
    }
    // Frames are read from the store where it maps them, batch by batch as training draws
    // them; only augmented views (from the catalog) are held.
    let (mut train, mut test) = (Samples::over(&store), Samples::over(&store));
    let (mut views_x, mut views_y) = (Vec::new(), Vec::new());
    for (r, f) in store.meta().iter().enumerate() {
        let Some(&y) = label.get(&f.video_id) else { continue };
        if f.split == Split::Train {
            train.push_stored(r, y);
            for v in views_of.remove(&f.frame_id).into_iter().flatten().filter(|v| v.len() == dim) {
                views_x.extend_from_slice(&v);
                views_y.push(y);
            }
        } else {
            test.push_stored(r, y);
        }
    }
    let augmented = views_y.len();
    train.x = views_x;
    train.y.extend(views_y);
    Ok(Loaded { data: Dataset { dim, titles, train, test }, class_ids, left_out, augmented })
}

fn classes(catalog: &Catalog, store: &FrameStore, model: &str, min_train_frames: usize) -> Result<Classes> {
    if store.is_empty() {
        return Err(Error::not_ready(
            format!("no frame features from the image model {model} to train on"),
            Remedy::IngestWithImageModel,
        ));
    }
    let mut train_count: HashMap<i64, usize> = HashMap::new();
    for f in store.meta().iter().filter(|f| f.split == Split::Train) {
        *train_count.entry(f.video_id).or_default() += 1;
    }
    let videos = catalog.videos()?;
    let mut class_ids = Vec::new();
    let mut titles = Vec::new();
    let mut left_out = Vec::new();
    for v in &videos {
        let n = train_count.get(&v.id).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        if n < min_train_frames {
            left_out.push(format!("{} ({n} train frames; a class needs {min_train_frames})", v.title));
            continue;
        }
        let same_title = videos.iter().filter(|o| o.title == v.title).count() > 1;
        titles.push(if same_title { format!("{} (id {})", v.title, v.id) } else { v.title.clone() });
        class_ids.push(v.id);
    }
    Ok(Classes { ids: class_ids, titles, left_out })
}
