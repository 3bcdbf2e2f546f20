//! A query on the shared catalog as a frontend asks it: the library opened with the configured
//! models and index choice, and a library video's most similar ones.

use super::search::{load, SharedSearch};
use super::SharedCatalog;
use crate::config::Config;
use crate::error::{Error, Remedy, Result};
use crate::ml::Role;
use crate::search::{search, Query, Results, SearchLibrary, Weights};
use std::path::Path;

/// The shared catalog at `url` opened for search in the backbone space (it keeps no training
/// runs yet): the configured image and text models where the catalog has them, else its most
/// used ones, and `[search]`'s exact or approximate choice.
pub fn open_library(url: &str, config: &Config) -> Result<SearchLibrary> {
    let preferred = |role| crate::ml::load::resolve_role(config, role, true).ok().map(|f| f.id);
    let how = SharedSearch { index: crate::search::space::index_choice(config), ..Default::default() };
    let (image, text) = (preferred(Role::Image), preferred(Role::Text));
    load(SharedCatalog::open(url)?, image.as_deref(), text.as_deref(), how)
}

/// The videos most similar to the catalog's video `video`, with `[search]`'s weights and top.
pub fn similar_to(url: &str, config: &Config, video: i64) -> Result<Results> {
    let lib = open_library(url, config)?;
    let row = lib.videos.iter().find(|v| v.id == video).ok_or_else(|| {
        Error::not_ready(format!("video {video} of the shared catalog is not ready to search"), Remedy::WaitForIngest)
    })?;
    let query = Query::from_library(&lib, Path::new(""), row)?;
    let weights = Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
    Ok(search(&lib, &query, weights, config.search.top, false))
}
