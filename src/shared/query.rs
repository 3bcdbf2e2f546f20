//! The shared catalog opened for search as a frontend asks it: with the configured models,
//! space and index choice; the frames it sets aside; and the stamp that says when what search
//! reads has changed (`backend::QueryCache` keeps the library open until it does).

use super::search::{load, SharedSearch};
use super::SharedCatalog;
use crate::catalog::preferred_model;
use crate::config::{Config, SearchSpace};
use crate::error::Result;
use crate::ml::Role;
use crate::pipeline::SetAsideCount;
use crate::search::traps::Effort;
use crate::search::SearchLibrary;
use std::collections::HashMap;

/// The shared catalog at `url` opened for search: in the backbone space (the head's projections
/// of its frames are not kept there yet) with the configured image and text models where the
/// catalog has them, else its most used ones, and `[search]`'s exact or approximate choice; or,
/// for `SearchSpace::VisionText`, the vision-text model's frames, scanned in full by plain
/// cosine (as the embedded index does: the mean, the approximate index and the frames set aside
/// are the image model's tools). With a note where the space has no frames yet.
pub fn open_library(url: &str, config: &Config, space: Option<SearchSpace>) -> Result<(SearchLibrary, Option<String>)> {
    let mut how = SharedSearch { index: crate::search::space::index_choice(config), ..Default::default() };
    let (image, text) = (configured(config, Role::Image), configured(config, Role::Text));
    let mut shared = SharedCatalog::open(url)?;
    if space.unwrap_or(config.search.space) == SearchSpace::VisionText {
        let wanted = configured(config, Role::VisionText);
        let (model, note) =
            crate::search::space::description_space(super::search::image_models(&mut shared)?, wanted.as_deref());
        how.index.mode = crate::config::IndexKind::Exact;
        return Ok((load(shared, Some(&model), text.as_deref(), how, None)?, note));
    }
    Ok((load(shared, image.as_deref(), text.as_deref(), how, super::traps::rules(config).as_ref())?, None))
}

/// The model `config` names for `role`, which search prefers where the catalog has its
/// embeddings.
fn configured(config: &Config, role: Role) -> Option<String> {
    crate::ml::load::resolve_role(config, role, true).ok().map(|f| f.id)
}

/// How many frames of each video (by id) search sets aside on the shared catalog (the
/// configured image model's, or the most used), judging new frames first if that is cheap;
/// empty when `[search.traps] set_aside` is off or nothing is embedded.
pub fn set_aside_counts(shared: &mut SharedCatalog, config: &Config) -> Result<HashMap<i64, SetAsideCount>> {
    let Some(rules) = super::traps::rules(config) else { return Ok(HashMap::new()) };
    let configured = configured(config, Role::Image);
    let Some(model) = preferred_model(super::search::image_models(shared)?, configured.as_deref()) else {
        return Ok(HashMap::new());
    };
    Ok(super::traps::judge(shared, &model, &rules, Effort::Query)?.per_video(&rules))
}

/// What changes whenever the searchable library does: ready videos, the last change to any
/// video, the HNSW indexes, the active run (chosen, or the newest finished one), the last
/// judging of frames that say nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp(i64, Option<String>, Option<String>, Option<String>, Option<i64>, Option<String>);

impl Stamp {
    /// This stamp with the judging `later` saw: opening the library judges new frames itself,
    /// and that judging is part of what was opened.
    pub fn judged_as(mut self, later: &Stamp) -> Stamp {
        self.5 = later.5.clone();
        self
    }
}

/// The catalog's [`Stamp`] now.
pub fn stamp(catalog: &mut SharedCatalog) -> Result<Stamp> {
    let row = catalog
        .client()
        .query_one(
            "SELECT (SELECT count(*) FROM videos WHERE status = 'ready'),
                    (SELECT max(updated_at)::text FROM videos),
                    (SELECT string_agg(name, ',' ORDER BY model) FROM frame_indexes),
                    (SELECT value FROM settings WHERE key = 'active_run'),
                    (SELECT max(id) FROM runs WHERE status = 'done' AND head IS NOT NULL),
                    (SELECT max(judged_at)::text FROM trap_judgements)",
            &[],
        )
        .map_err(|e| catalog.err(e))?;
    Ok(Stamp(row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5)))
}
