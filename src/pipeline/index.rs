//! The vector store as a job: brought up to date when ingestion or training finishes (so the
//! first query after them pays nothing), and built again on request.

use crate::catalog::preferred_model;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::Result;
use crate::library::Library;
use crate::search::library::projection_key;
use crate::search::space::Space;
use crate::search::traps::{Effort, FrameTraps, SetAside};
use crate::store::FrameStore;
use std::collections::HashMap;

/// What the stores hold after a refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSummary {
    /// (model, rows, dimensions) per image model.
    pub stores: Vec<(String, usize, usize)>,
    /// The active run's projection: (run, rows, dimensions).
    pub head: Option<(i64, usize, usize)>,
    /// Frames set aside as saying nothing about their video, over all stores.
    pub set_aside: SetAsideCount,
}

/// How many of a video's (or the library's) frames are set aside, and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SetAsideCount {
    /// Near-identical to frames of many other videos (a shared intro, a logo card).
    pub shared: usize,
    /// Black or one flat colour.
    pub flat: usize,
}

impl SetAsideCount {
    /// Counts one frame set aside for `why`, if it is.
    pub fn add(&mut self, why: Option<SetAside>) {
        match why {
            Some(SetAside::Shared(_)) => self.shared += 1,
            Some(SetAside::Flat) => self.flat += 1,
            None => {}
        }
    }

    /// Frames set aside in all.
    pub fn total(&self) -> usize {
        self.shared + self.flat
    }
}

impl std::fmt::Display for SetAsideCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} frame(s) set aside: {} shared with other videos, {} flat or black",
            self.total(),
            self.shared,
            self.flat
        )
    }
}

impl std::fmt::Display for IndexSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.stores.is_empty() {
            return write!(f, "no frame vectors to index yet; ingest videos with an image model first");
        }
        for (i, (model, rows, dim)) in self.stores.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{model}: {rows} frame vectors of {dim} dimensions")?;
        }
        if let Some((run, rows, dim)) = self.head {
            write!(f, "\nhead of run {run}: {rows} projections of {dim} dimensions")?;
        }
        if self.set_aside.total() > 0 {
            write!(f, "\n{}", self.set_aside)?;
        }
        Ok(())
    }
}

/// Where the vision-text role is turned on, embeds with it every frame of the library's videos
/// that has no vector from it yet (a library ingested before it was turned on), saying through
/// `say` how far it is, how fast and how long is left after each video. Returns the frames embedded.
pub fn embed_for_descriptions(library: &Library, config: &Config, say: &dyn Fn(String)) -> Result<usize> {
    if !config.models.vision_text.is_on() {
        return Ok(0);
    }
    let model = crate::ml::load::load_vision_text(config)?;
    let key = model.model_id.clone();
    let models = crate::ml::Models::none().with_vision_text(model);
    let catalog = Catalog::open(&library.catalog_path())?;
    let mut todo = Vec::new();
    for v in catalog.videos_for_search()? {
        let n = catalog.frames_without_embedding(v.id, &key)?.len();
        if n > 0 {
            todo.push((v.id, v.title, n));
        }
    }
    let total: usize = todo.iter().map(|t| t.2).sum();
    if total == 0 {
        return Ok(0);
    }
    let mut progress = DescribeProgress::start(say, total, todo.len(), &key);
    for (id, title, _) in todo {
        let n = crate::ingest::embed_frames_for_descriptions(library, &catalog, &models, id, &Default::default())?;
        progress.add(n, &title);
    }
    Ok(progress.done)
}

/// Brings every image model's store up to date with the catalog (builds them again when
/// `rebuild`), and the active run's projection with it.
pub fn refresh_index(library: &Library, config: &Config, rebuild: bool) -> Result<IndexSummary> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let space = Space::choose(library, &catalog, config, Some(crate::config::SearchSpace::Head))?;
    let mut summary = IndexSummary { stores: Vec::new(), head: None, set_aside: SetAsideCount::default() };
    for (model, _) in catalog.image_models()? {
        let mut store =
            if rebuild { FrameStore::rebuild(&catalog, &model)? } else { FrameStore::open(&catalog, &model)? };
        // Every block of the vectors checked (a query checks a sample): damage is rebuilt away.
        if let Err(e) = store.verify(crate::store::Depth::Full) {
            tracing::warn!(model, "{e}; rebuilding the store");
            store = FrameStore::rebuild(&catalog, &model)?;
        }
        summary.stores.push((model.clone(), store.len(), store.dim()));
        // The approximate index's sketch, kept current so the first query does not build it.
        if space.index.approximate(store.len()) {
            crate::search::sketch::Sketch::of_store(&store);
        }
        // Which frames say nothing, judged now so the first query does not wait for it.
        if let Some(rules) = &space.traps {
            let judged = FrameTraps::open(&store, rules, Effort::Full)?;
            (0..store.len()).for_each(|r| summary.set_aside.add(judged.judge(rules, r)));
        }
        // The active run's projection follows the store of the model it was trained on.
        if let Some((run, head)) = &space.head {
            if space.image_model.as_deref() == Some(model.as_str()) && store.dim() == head.dim() {
                let projected = store.projected(&projection_key(head)?, &|v| head.project(v))?;
                if space.index.approximate(projected.len()) {
                    crate::search::sketch::Sketch::of_store(&projected);
                }
                summary.head = Some((*run, projected.len(), projected.dim()));
            }
        }
    }
    Ok(summary)
}

/// How many frames of each video (by id) are set aside in search, by the configured image
/// model's store; empty when `[search.traps] set_aside` is off or nothing is indexed.
pub fn set_aside_counts(catalog: &Catalog, library: &Library, config: &Config) -> Result<HashMap<i64, SetAsideCount>> {
    let space = Space::choose(library, catalog, config, Some(crate::config::SearchSpace::Backbone))?;
    let mut counts: HashMap<i64, SetAsideCount> = HashMap::new();
    let (Some(rules), Some(model)) =
        (&space.traps, preferred_model(catalog.image_models()?, space.image_model.as_deref()))
    else {
        return Ok(counts);
    };
    let store = FrameStore::open(catalog, &model)?;
    let judged = FrameTraps::open(&store, rules, Effort::Query)?;
    for (r, m) in store.meta().iter().enumerate() {
        counts.entry(m.video_id).or_default().add(judged.judge(rules, r));
    }
    Ok(counts)
}

/// What `index update` says as it embeds frames for descriptions, on either catalog: what it is
/// about to do, then after each video how far it is, how fast and how long is left.
pub struct DescribeProgress<'a> {
    say: &'a dyn Fn(String),
    total: usize,
    pub done: usize,
    started: std::time::Instant,
}

impl<'a> DescribeProgress<'a> {
    /// Says that `total` frames of `videos` videos are to be embedded with the model `key`.
    pub fn start(say: &'a dyn Fn(String), total: usize, videos: usize, key: &str) -> Self {
        say(format!("embedding {total} frames of {videos} videos with {key} (for descriptions)…"));
        DescribeProgress { say, total, done: 0, started: std::time::Instant::now() }
    }

    /// Counts `frames` more embedded, the last of the video `title`, and says where that leaves it.
    pub fn add(&mut self, frames: usize, title: &str) {
        self.done += frames;
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let left = self.total.saturating_sub(self.done) as f64 / rate.max(1e-9);
        (self.say)(format!(
            "  {}/{} frames ({:.0} %), {rate:.1} frames/s, about {} left: {}",
            self.done,
            self.total,
            100.0 * self.done as f64 / self.total.max(1) as f64,
            crate::types::clock(left, 0),
            crate::types::printable(title)
        ));
    }
}
