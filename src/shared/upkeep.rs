//! The HNSW index kept up with a shared library by the workers that fill it: after each upload
//! a worker looks at each image model's frame count, and once it has moved by a tenth since it
//! last looked, builds the index (where search would use one) or builds it again if the library
//! has drifted from it (`hnsw`'s rule). The build runs on a thread and a connection of its own,
//! so the worker goes on ingesting (and, since the index is built concurrently, every worker
//! goes on uploading); one session builds a model's index at a time, and the others find its
//! lock taken and leave it to that one. As a worker finishes, it judges the new frames for
//! saying nothing (`shared::traps`) where that is cheap.

use super::hnsw::{try_ensure_hnsw, HnswBuild};
use super::search::image_models;
use super::SharedCatalog;
use crate::catalog::is_vision_text;
use crate::config::Config;
use crate::error::Result;
use crate::search::traps::Effort;
use std::collections::HashMap;
use std::thread::JoinHandle;

/// What a worker keeps between its uploads: each model's frame count when it last looked, and
/// the build it started, while it runs.
#[derive(Debug)]
pub struct Upkeep {
    url: String,
    seen: HashMap<String, i64>,
    running: Option<JoinHandle<usize>>,
}

impl Upkeep {
    /// The upkeep of the shared catalog at `url` (its builds open their own connection there).
    pub fn new(url: &str) -> Self {
        Upkeep { url: url.to_string(), seen: HashMap::new(), running: None }
    }

    /// Looks at every image model after an upload and starts a build of the indexes that are
    /// due, unless this worker's last build is still running (the counts are looked at again
    /// after it). Returns how many indexes a build that finished since built. A failed build is
    /// logged and left to the next look (or to `index update`): the videos are safely stored.
    pub fn after_upload(&mut self, shared: &mut SharedCatalog, config: &Config) -> Result<usize> {
        let finished = self.reap(false);
        let choice = crate::search::space::index_choice(config);
        if self.running.is_some() || !choice.approximate(usize::MAX) {
            return Ok(finished); // a build runs; or `search.index = "exact"`: no index to keep
        }
        let due: Vec<String> = image_models(shared)?
            .into_iter()
            .filter(|(model, frames)| {
                !is_vision_text(model) && choice.approximate(*frames as usize) && self.moved(model, *frames)
            })
            .map(|(model, _)| model)
            .collect();
        if !due.is_empty() {
            let url = self.url.clone();
            match std::thread::Builder::new().name("hnsw-build".into()).spawn(move || build_all(&url, &due)) {
                Ok(handle) => self.running = Some(handle),
                Err(e) => tracing::warn!("no thread for the HNSW build ({e}); `index update` does it"),
            }
        }
        Ok(finished)
    }

    /// Waits for the build this worker started, if one runs, then looks once more (uploads that
    /// came in while it ran may have moved the counts) and waits for that build too; returns how
    /// many indexes they built.
    /// Then it judges the new frames for saying nothing, where that is cheap (as a search
    /// would; past that `index update` does it), unless another worker is judging them.
    pub fn finish(mut self, shared: &mut SharedCatalog, config: &Config) -> Result<usize> {
        let mut built = self.reap(true);
        built += self.after_upload(shared, config)?;
        built += self.reap(true);
        if let Some(rules) = super::traps::rules(config) {
            for (model, _) in image_models(shared)?.into_iter().filter(|(m, _)| !is_vision_text(m)) {
                if let Err(e) = super::traps::judge(shared, &model, &rules, Effort::Query) {
                    tracing::warn!("{model}: frames were not judged for saying nothing ({e}); `index update` does it");
                }
            }
        }
        Ok(built)
    }

    /// The count of a build that has finished (or, with `wait`, of the one running, once done).
    fn reap(&mut self, wait: bool) -> usize {
        match self.running.take() {
            Some(build) if wait || build.is_finished() => build.join().unwrap_or(0),
            running => {
                self.running = running;
                0
            }
        }
    }

    /// Whether `model`'s count moved by a tenth since the last look (the first look always does),
    /// remembering `frames` when it did.
    fn moved(&mut self, model: &str, frames: i64) -> bool {
        let moved = self.seen.get(model).is_none_or(|&last| (frames - last).abs() * 10 >= last.max(1));
        if moved {
            self.seen.insert(model.to_string(), frames);
        }
        moved
    }
}

/// Brings each model's index up to date on a connection of its own; how many it built.
fn build_all(url: &str, models: &[String]) -> usize {
    let mut shared = match SharedCatalog::open(url) {
        Ok(shared) => shared,
        Err(e) => {
            tracing::warn!("the HNSW index was not brought up to date ({e}); `index update` does it");
            return 0;
        }
    };
    let mut built = |model: &String| match try_ensure_hnsw(&mut shared, model) {
        Ok(Some(HnswBuild::Kept)) | Ok(None) => false,
        Ok(Some(HnswBuild::Built)) => {
            tracing::info!("{model}: HNSW index built");
            true
        }
        Ok(Some(HnswBuild::Rebuilt(why))) => {
            tracing::info!("{model}: HNSW index built again ({why})");
            true
        }
        Err(e) => {
            tracing::warn!("{model}: the HNSW index was not brought up to date ({e}); `index update` does it");
            false
        }
    };
    models.iter().filter(|m| built(m)).count()
}

/// `index update` on a shared catalog: builds the HNSW index of each image model (not a
/// vision-text model's, whose frames a description scans in full) past the size
/// where search uses it, and builds it again where the library has drifted from it (`rebuild`:
/// each one again regardless); and judges the frames not judged yet for saying nothing. Says a
/// line per thing done through `say` as it is done.
pub fn refresh_index(url: &str, config: &Config, rebuild: bool, say: &dyn Fn(String)) -> Result<()> {
    use super::hnsw::{ensure_hnsw, rebuild_hnsw};
    let mut catalog = SharedCatalog::open(url)?;
    let models = image_models(&mut catalog)?;
    if models.is_empty() {
        say(format!("{}: no frame embeddings yet, so no index to build", catalog.url()));
    }
    for (model, count) in models {
        if is_vision_text(&model) {
            // Descriptions are compared with every frame by plain cosine: no index, no judging.
            say(format!("{model}: {count} frames, exact search (for descriptions)"));
            continue;
        }
        let how = if !crate::search::space::index_choice(config).approximate(count as usize) {
            "exact search (below search.approximate_from, or search.index = \"exact\")".to_string()
        } else {
            let build = if rebuild { rebuild_hnsw } else { ensure_hnsw };
            match build(&mut catalog, &model)? {
                HnswBuild::Kept => "HNSW index present".into(),
                HnswBuild::Built => "HNSW index built".into(),
                HnswBuild::Rebuilt(why) => format!("HNSW index built again ({why})"),
            }
        };
        say(format!("{model}: {count} frames, {how}"));
        // Which frames say nothing, judged now so the first query does not wait for it.
        if let Some(rules) = super::traps::rules(config) {
            let judged = super::traps::judge(&mut catalog, &model, &rules, Effort::Full)?;
            let aside = judged.counts(&rules);
            if aside.total() > 0 {
                say(format!("{model}: {aside}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_looked_at_first_then_after_a_tenth_more_or_fewer_frames() {
        let mut u = Upkeep::new("postgres://nowhere/none");
        assert!(u.moved("m", 1000));
        assert!(!u.moved("m", 1099));
        assert!(u.moved("m", 1100));
        assert!(!u.moved("m", 1000), "1000 is less than a tenth below 1100");
        assert!(u.moved("m", 990));
        assert!(u.moved("other", 5), "each model on its own");
    }
}
