//! The library kept open between a long-lived frontend's queries (the dashboard), on either
//! catalog: opened by the first query and again only once the catalog has changed since (an
//! ingest or an upload committed, a run became active, frames were judged), so a second query
//! reads no frame list, mean or lyrics again. One query runs at a time.

use super::{Backend, Searchable};
use crate::catalog::Catalog;
use crate::config::{Config, SearchSpace};
use crate::error::{Error, Remedy, Result};
use crate::library::Library;
use crate::ml::Models;
use crate::pipeline::{QueryAnswer, QueryRequest};
use crate::search::{search, Query, Weights};
use crate::shared::SharedCatalog;
use std::collections::HashMap;
use std::sync::Mutex;

/// A library opened for search and kept between queries: in the configured space, and in the
/// vision-text space once a description asks (each opened on its first query).
#[derive(Default)]
pub struct QueryCache {
    held: Mutex<[Option<Held>; 2]>,
}

/// The library as the last query opened it, with the connection that tells whether it changed.
struct Held {
    watch: Watch,
    stamp: Stamp,
    searchable: Searchable,
}

/// A connection kept to see changes: SQLite's `data_version` moves when another connection
/// commits; the shared catalog's stamp is a cheap read of what search depends on.
enum Watch {
    Embedded(Catalog),
    Shared(Box<SharedCatalog>),
}

#[derive(Debug, Clone, PartialEq)]
enum Stamp {
    Embedded(i64),
    Shared(crate::shared::query::Stamp),
}

impl Watch {
    fn open(backend: &Backend, library: &Library) -> Result<Watch> {
        Ok(match backend {
            Backend::Embedded => Watch::Embedded(Catalog::open(&library.catalog_path())?),
            Backend::Shared(url) => Watch::Shared(Box::new(SharedCatalog::open(url)?)),
        })
    }

    fn stamp(&mut self) -> Result<Stamp> {
        Ok(match self {
            Watch::Embedded(catalog) => Stamp::Embedded(catalog.data_version()?),
            Watch::Shared(catalog) => Stamp::Shared(crate::shared::query::stamp(catalog)?),
        })
    }
}

impl QueryCache {
    /// Answers `request` on the library, opening it first unless it is kept and current, with
    /// the frame images of the first `previews` results (see [`Searchable::answer`]); a lyrics
    /// query loads the text model (only that one), a description the vision-text model (and
    /// the library in its space, kept beside the other). A failed query lets the library go, so the
    /// next one opens it again.
    #[allow(clippy::too_many_arguments)] // the query, where it runs, and what it shows
    pub fn answer(
        &self,
        backend: &Backend,
        library: &Library,
        config: &Config,
        request: &QueryRequest,
        models: &Models,
        weights: Weights,
        previews: usize,
    ) -> Result<QueryAnswer> {
        let describes = matches!(request, QueryRequest::Describe { .. });
        let mut slots = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = &mut slots[usize::from(describes)];
        let kept = match held.take() {
            Some(mut h) => {
                let now = h.watch.stamp()?;
                (now == h.stamp).then_some(h)
            }
            None => None,
        };
        let (current, opened) = match kept {
            Some(h) => (h, false),
            None => (open(backend, library, config, describes.then_some(SearchSpace::VisionText))?, true),
        };
        let threshold = config.search.duplicate_threshold;
        let mut answer = current.searchable.answer(request, models, weights, previews, threshold)?;
        if opened {
            answer.opened = Some((current.searchable.lib.videos.len(), current.searchable.lib.frame_refs.len()));
        }
        *held = Some(current);
        Ok(answer)
    }
}

/// Opens the library for search, stamped as it was when loading began (a commit during the
/// load makes the next query load again).
fn open(backend: &Backend, library: &Library, config: &Config, space: Option<SearchSpace>) -> Result<Held> {
    let mut watch = Watch::open(backend, library)?;
    let mut stamp = watch.stamp()?;
    let searchable = backend.searchable(library, config, space, &|note| tracing::info!("{note}"))?;
    if let (Stamp::Shared(before), Stamp::Shared(after)) = (&stamp, watch.stamp()?) {
        // Opening judged the new frames itself: that judging is in what was opened.
        stamp = Stamp::Shared(before.clone().judged_as(&after));
    }
    Ok(Held { watch, stamp, searchable })
}

impl Searchable {
    /// The library ranked against `request` (every video, so a view can re-rank with other
    /// weights without searching again), with the images of the first `previews` results' best
    /// pairs of frames: the matched frame, and the query's frame it matched (read from files,
    /// or from the shared catalog, a round trip each: a view that shows one pair asks for one).
    pub fn answer(
        &self,
        request: &QueryRequest,
        models: &Models,
        weights: Weights,
        previews: usize,
        duplicate_threshold: f32,
    ) -> Result<QueryAnswer> {
        let lib = &self.lib;
        let query = match request {
            QueryRequest::Video(id) => {
                let here = self.here(*id);
                let video = lib.videos.iter().find(|v| v.id == here).ok_or_else(|| {
                    Error::not_ready(format!("video {id} has no frames to search with yet"), Remedy::WaitForIngest)
                })?;
                Query::from_library(lib, self.root(), video)?
            }
            QueryRequest::Lyrics(words) => Query::from_lyrics(models.require_text()?, words)?,
            QueryRequest::Describe { text, lyrics } => self.description_query(models, text, lyrics.as_deref())?,
        };
        let mut results = search(lib, &query, weights, usize::MAX, false);
        if let QueryRequest::Video(id) = request {
            // Which videos of the whole library hold its recording.
            self.relate(&mut results, super::Asked::Video(self.here(*id)), duplicate_threshold)?;
        }
        let shown: Vec<_> = results.results.iter().take(previews).filter_map(|h| h.best_frame()).collect();
        let (query_frames, matches) = self.with_images(|images| -> Result<_> {
            let mut query_frames = Vec::with_capacity(query.frames.len());
            for f in &query.frames {
                let image = match &f.file {
                    Some(file) if shown.iter().any(|b| b.query_t == f.t_s) => images.open(&file.to_string_lossy())?,
                    _ => None,
                };
                query_frames.push((f.t_s, image));
            }
            let mut matches = HashMap::new();
            for best in &shown {
                if let Some(img) = images.open(&best.match_file)? {
                    matches.insert(best.match_file.clone(), img);
                }
            }
            Ok((query_frames, matches))
        })??;
        self.publish(&mut results);
        let unjudged = (lib.unjudged > 0).then(|| {
            format!("{} new frame(s) are not yet checked for shared intros and black frames; `reelmatch index update` checks them", lib.unjudged)
        });
        let note = [self.note.clone(), unjudged].into_iter().flatten().collect::<Vec<_>>().join("; ");
        Ok(QueryAnswer { results, query_frames, matches, note: (!note.is_empty()).then_some(note), opened: None })
    }
}
