//! The HNSW index kept up with a shared library by the workers that fill it: after each upload
//! a worker looks at each image model's frame count, and once it has moved by a tenth since it
//! last looked, builds the index (where search would use one) or builds it again if the library
//! has drifted from it (`search::ensure_hnsw`'s rule). One worker builds at a time: the others
//! find the build's advisory lock taken and go on ingesting.

use super::search::{ensure_hnsw, image_models, HnswBuild};
use super::SharedCatalog;
use crate::config::Config;
use crate::error::Result;
use std::collections::HashMap;

/// What a worker remembers between its uploads: each model's frame count when it last looked.
#[derive(Debug, Default)]
pub struct Upkeep {
    seen: HashMap<String, i64>,
}

impl Upkeep {
    /// Looks at every image model after an upload; returns the models whose index this call
    /// built or built again. A failed build is logged and left to the next look (or to `index
    /// update`): the video it follows is already safely stored.
    pub fn after_upload(&mut self, shared: &mut SharedCatalog, config: &Config) -> Result<Vec<String>> {
        let choice = crate::search::space::index_choice(config);
        if !choice.approximate(usize::MAX) {
            return Ok(Vec::new()); // `search.index = "exact"`: no index to keep, nothing to count
        }
        let mut built = Vec::new();
        for (model, frames) in image_models(shared)? {
            if !choice.approximate(frames as usize) || !self.moved(&model, frames) {
                continue;
            }
            match locked_build(shared, &model) {
                Ok(Some(HnswBuild::Kept)) | Ok(None) => {}
                Ok(Some(HnswBuild::Built)) => {
                    tracing::info!("{model}: HNSW index built over {frames} frames");
                    built.push(model);
                }
                Ok(Some(HnswBuild::Rebuilt(why))) => {
                    tracing::info!("{model}: HNSW index built again ({why})");
                    built.push(model);
                }
                Err(e) => {
                    tracing::warn!("{model}: the HNSW index was not brought up to date ({e}); `index update` does it")
                }
            }
        }
        Ok(built)
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

/// `ensure_hnsw` under the model's advisory lock; `None` when another session holds it (that
/// session is building the same index).
fn locked_build(shared: &mut SharedCatalog, model: &str) -> Result<Option<HnswBuild>> {
    let key = format!("reelmatch-hnsw:{model}");
    let got: bool = shared
        .client()
        .query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&key])
        .map_err(|e| shared.err(e))?
        .get(0);
    if !got {
        return Ok(None);
    }
    let outcome = ensure_hnsw(shared, model);
    shared.client().execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key]).map_err(|e| shared.err(e))?;
    outcome.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_looked_at_first_then_after_a_tenth_more_or_fewer_frames() {
        let mut u = Upkeep::default();
        assert!(u.moved("m", 1000));
        assert!(!u.moved("m", 1099));
        assert!(u.moved("m", 1100));
        assert!(!u.moved("m", 1000), "1000 is less than a tenth below 1100");
        assert!(u.moved("m", 990));
        assert!(u.moved("other", 5), "each model on its own");
    }
}
