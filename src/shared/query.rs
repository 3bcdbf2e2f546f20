//! A query on the shared catalog as a frontend asks it: the library opened with the configured
//! models and index choice, and a library video's most similar ones with the frames that
//! matched best.

use super::search::{frame_id_of, frame_jpeg, load, SharedSearch};
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

/// A query's answer, with the top hit's best-matching pair of frames (the query's frame, the
/// matched frame), decoded from the JPEG bytes in the database where it has them.
#[derive(Debug, Clone)]
pub struct Answer {
    pub results: Results,
    pub pair: [Option<image::DynamicImage>; 2],
}

/// The videos most similar to the catalog's video `video`, with `[search]`'s weights and top.
pub fn similar_to(url: &str, config: &Config, video: i64) -> Result<Answer> {
    let lib = open_library(url, config)?;
    let row = lib.videos.iter().find(|v| v.id == video).ok_or_else(|| {
        Error::not_ready(format!("video {video} of the shared catalog is not ready to search"), Remedy::WaitForIngest)
    })?;
    let query = Query::from_library(&lib, Path::new(""), row)?;
    let weights = Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
    let results = search(&lib, &query, weights, config.search.top, false);
    let Some(best) = results.results.first().and_then(|h| h.best_frame()) else {
        return Ok(Answer { results, pair: [None, None] });
    };
    let query_frame = query.frames.iter().find(|f| f.t_s == best.query_t).and_then(|f| f.file.as_ref());
    let ids = [query_frame.and_then(|f| frame_id_of(&f.to_string_lossy())), frame_id_of(&best.match_file)];
    let mut catalog = SharedCatalog::open(url)?;
    let mut pair = [None, None];
    for (image, id) in pair.iter_mut().zip(ids) {
        let jpeg = id.map_or(Ok(None), |id| frame_jpeg(&mut catalog, id))?;
        *image = jpeg.and_then(|bytes| image::load_from_memory(&bytes).ok());
    }
    Ok(Answer { results, pair })
}
