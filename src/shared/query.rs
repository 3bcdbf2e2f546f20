//! A query on the shared catalog as a frontend asks it: the library opened with the configured
//! models, space and index choice, and a library video's most similar ones with the frames that
//! matched best.

use super::mirror::Mirror;
use super::search::{frame_image, load, SharedSearch};
use super::SharedCatalog;
use crate::catalog::preferred_model;
use crate::catalog::{Catalog, RunRecords};
use crate::config::{Config, SearchSpace};
use crate::error::{Error, Remedy, Result};
use crate::library::Library;
use crate::ml::Role;
use crate::pipeline::SetAsideCount;
use crate::search::space::Space;
use crate::search::traps::Effort;
use crate::search::{search, Query, Results, SearchLibrary, Weights};
use std::collections::HashMap;
use std::path::Path;

/// The shared catalog at `url` opened for search in the backbone space (the head's projections
/// of its frames are not kept there yet): the configured image and text models where the catalog has them, else its most
/// used ones, and `[search]`'s exact or approximate choice.
pub fn open_library(url: &str, config: &Config) -> Result<SearchLibrary> {
    let how = SharedSearch { index: crate::search::space::index_choice(config), ..Default::default() };
    let (image, text) = (configured(config, Role::Image), configured(config, Role::Text));
    load(SharedCatalog::open(url)?, image.as_deref(), text.as_deref(), how, super::traps::rules(config).as_ref())
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
pub fn similar_to(url: &str, config: &Config, local: Option<&Library>, video: i64) -> Result<Answer> {
    Warm::new(url, config, local).similar_to(video)
}

/// The shared library held open between a long-lived frontend's queries (the dashboard): opened
/// by the first query, and again only once the catalog has changed since (a video became ready
/// or left, one was claimed or failed, an HNSW index was built, another run became active), so
/// a second query reads no frame list, mean or lyrics again. In the head space (`[search]
/// space = "head"`, the default) with an active run it is this machine's copy of the catalog
/// with that run's head, as `similar` searches it.
pub struct Warm {
    url: String,
    config: Config,
    /// Where this machine keeps its copy of the catalog (for the head space).
    local: Option<Library>,
    open: Option<(Opened, Stamp)>,
    /// The connection for the stamp and the frames' JPEG bytes.
    catalog: Option<SharedCatalog>,
}

/// The library a query searches.
enum Opened {
    /// The catalog's frames in the backbone space, searched in SQL.
    Catalog(SearchLibrary),
    /// This machine's copy, in the head space of the catalog's run `run`.
    Copy { lib: SearchLibrary, mirror: Box<Mirror>, run: i64 },
}

/// What changes whenever the searchable library does: ready videos, the last change to any
/// video, the HNSW indexes, the active run (chosen, or the newest finished one), the last
/// judging of frames that say nothing.
#[derive(Debug, Clone, PartialEq)]
struct Stamp(i64, Option<String>, Option<String>, Option<String>, Option<i64>, Option<String>);

impl Warm {
    /// Queries on the catalog at `url`; `local` is the library whose folder holds this
    /// machine's copy of it (without one, frames are compared in the backbone space).
    pub fn new(url: &str, config: &Config, local: Option<&Library>) -> Self {
        Warm { url: url.to_string(), config: config.clone(), local: local.cloned(), open: None, catalog: None }
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
        let mut now = stamp(catalog)?;
        let kept = self.open.as_ref().is_some_and(|(_, at)| *at == now);
        if !kept {
            self.open = None; // a copy being brought up to date is not searched meanwhile
            let opened = open(&self.url, &self.config, self.local.as_ref(), catalog)?;
            // Opening judged the new frames itself: that judging is in what was opened.
            now.5 = stamp(catalog)?.5;
            self.open = Some((opened, now));
        }
        let (opened, _) = self.open.as_ref().expect("the library was kept or opened just above");
        let (lib, root, mirror) = match opened {
            Opened::Catalog(lib) => (lib, Path::new(""), None),
            Opened::Copy { lib, mirror, run } => (lib, mirror.library.root(), Some((mirror, *run))),
        };
        let opened = (!kept).then_some((lib.videos.len(), lib.frame_refs.len()));
        let config = &self.config;
        let here = match &mirror {
            Some((m, _)) => m.to_local(video),
            None => Some(video),
        };
        let row = lib.videos.iter().find(|v| Some(v.id) == here).ok_or_else(|| {
            Error::not_ready(
                format!("video {video} of the shared catalog is not ready to search"),
                Remedy::WaitForIngest,
            )
        })?;
        let query = Query::from_library(lib, root, row)?;
        let weights = Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
        let mut results = search(lib, &query, weights, config.search.top, false);
        if let Some((m, run)) = &mirror {
            results.results.iter_mut().for_each(|h| h.id = m.to_shared(h.id).unwrap_or(h.id));
            results.space = format!("head of run {run}");
        }
        let Some(best) = results.results.first().and_then(|h| h.best_frame()) else {
            return Ok(Answer { results, pair: [None, None], opened });
        };
        let query_frame = query.frames.iter().find(|f| f.t_s == best.query_t).and_then(|f| f.file.as_ref());
        let files = [query_frame.map(|f| f.to_string_lossy().into_owned()), Some(best.match_file.clone())];
        let mut pair = [None, None];
        for (image, file) in pair.iter_mut().zip(files) {
            *image = match (&mirror, file) {
                (_, None) => None,
                (Some((m, _)), Some(f)) => crate::images::open(&m.library.resolve(&f)),
                (None, Some(f)) => frame_image(catalog, &f)?,
            };
        }
        Ok(Answer { results, pair, opened })
    }
}

/// Opens the library a query searches: this machine's copy in the head space when that is the
/// configured space, there is a copy to keep and the catalog has an active run; else the
/// catalog in SQL.
fn open(url: &str, config: &Config, local: Option<&Library>, catalog: &mut SharedCatalog) -> Result<Opened> {
    if let Some(local) = local.filter(|_| config.search.space == SearchSpace::Head) {
        if catalog.active_run()?.is_some() {
            let mirror = super::mirror::sync(local, config, url, &|m| tracing::info!("{m}"))?;
            if let Some((_, run)) = mirror.take_active_run(catalog)? {
                let here = Catalog::open(&mirror.library.catalog_path())?;
                let space = Space::choose(&mirror.library, &here, config, Some(SearchSpace::Head))?;
                let lib = space.load(&here, None)?;
                return Ok(Opened::Copy { lib, mirror: Box::new(mirror), run });
            }
        }
    }
    Ok(Opened::Catalog(open_library(url, config)?))
}

fn stamp(catalog: &mut SharedCatalog) -> Result<Stamp> {
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
