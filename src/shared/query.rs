//! A query on the shared catalog as a frontend asks it: the library opened with the configured
//! models and index choice, and a library video's most similar ones with the frames that
//! matched best.

use super::search::{frame_image, load, SharedSearch};
use super::SharedCatalog;
use crate::config::Config;
use crate::error::{Error, Remedy, Result};
use crate::ml::Role;
use crate::search::{search, Query, Results, SearchLibrary, Weights};
use std::path::Path;

/// The shared catalog at `url` opened for search in the backbone space (the head's projections
/// of its frames are not kept there yet): the configured image and text models where the catalog has them, else its most
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
    /// Set when this query had to open the library (first, or after the catalog changed): how
    /// many videos and frames it holds.
    pub opened: Option<(usize, usize)>,
}

/// The videos most similar to the catalog's video `video`, with `[search]`'s weights and top
/// (a new process's one query: the library is opened for it).
pub fn similar_to(url: &str, config: &Config, video: i64) -> Result<Answer> {
    Warm::new(url, config).similar_to(video)
}

/// The shared library held open between a long-lived frontend's queries (the dashboard): opened
/// by the first query, and again only once the catalog has changed since (a video became ready
/// or left, one was claimed or failed, an HNSW index was built), so a second query reads no
/// frame list, mean or lyrics again.
pub struct Warm {
    url: String,
    config: Config,
    open: Option<(SearchLibrary, Stamp)>,
    /// The connection for the stamp and the frames' JPEG bytes.
    catalog: Option<SharedCatalog>,
}

/// What changes whenever the searchable library does: ready videos, the last change to any
/// video, the HNSW indexes.
#[derive(Debug, Clone, PartialEq)]
struct Stamp(i64, Option<String>, Option<String>);

impl Warm {
    pub fn new(url: &str, config: &Config) -> Self {
        Warm { url: url.to_string(), config: config.clone(), open: None, catalog: None }
    }

    /// [`similar_to`], on the library kept open. A failed query drops the connections, so the
    /// next one opens them again.
    pub fn similar_to(&mut self, video: i64) -> Result<Answer> {
        let answer = self.answer(video);
        if answer.is_err() {
            (self.open, self.catalog) = (None, None);
        }
        answer
    }

    fn answer(&mut self, video: i64) -> Result<Answer> {
        let catalog = match &mut self.catalog {
            Some(c) => c,
            None => self.catalog.insert(SharedCatalog::open(&self.url)?),
        };
        let now = stamp(catalog)?;
        let kept = self.open.as_ref().is_some_and(|(_, at)| *at == now);
        if !kept {
            self.open = Some((open_library(&self.url, &self.config)?, now));
        }
        let (lib, _) = self.open.as_ref().expect("the library was kept or opened just above");
        let opened = (!kept).then_some((lib.videos.len(), lib.frame_refs.len()));
        let config = &self.config;
        let row = lib.videos.iter().find(|v| v.id == video).ok_or_else(|| {
            Error::not_ready(
                format!("video {video} of the shared catalog is not ready to search"),
                Remedy::WaitForIngest,
            )
        })?;
        let query = Query::from_library(lib, Path::new(""), row)?;
        let weights = Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
        let results = search(lib, &query, weights, config.search.top, false);
        let Some(best) = results.results.first().and_then(|h| h.best_frame()) else {
            return Ok(Answer { results, pair: [None, None], opened });
        };
        let query_frame = query.frames.iter().find(|f| f.t_s == best.query_t).and_then(|f| f.file.as_ref());
        let files = [query_frame.map(|f| f.to_string_lossy().into_owned()), Some(best.match_file.clone())];
        let mut pair = [None, None];
        for (image, file) in pair.iter_mut().zip(files) {
            *image = file.map_or(Ok(None), |f| frame_image(catalog, &f))?;
        }
        Ok(Answer { results, pair, opened })
    }
}

fn stamp(catalog: &mut SharedCatalog) -> Result<Stamp> {
    let row = catalog
        .client()
        .query_one(
            "SELECT (SELECT count(*) FROM videos WHERE status = 'ready'),
                    (SELECT max(updated_at)::text FROM videos),
                    (SELECT string_agg(name, ',' ORDER BY model) FROM frame_indexes)",
            &[],
        )
        .map_err(|e| catalog.err(e))?;
    Ok(Stamp(row.get(0), row.get(1), row.get(2)))
}
