//! A library opened for one search, whichever catalog holds it: the embedded catalog, a shared
//! catalog searched in SQL (the backbone space), or this machine's copy of a shared catalog in
//! the head space of its active run. Results come out in the ids and the space the user knows.

use super::{Backend, Local};
use crate::catalog::{Catalog, RunRecords};
use crate::config::{Config, SearchSpace};
use crate::error::Result;
use crate::library::Library;
use crate::search::space::Space;
use crate::search::{Results, SearchLibrary};
use crate::shared::mirror::Mirror;
use crate::shared::SharedCatalog;
use crate::types::Fingerprint;
use image::DynamicImage;
use std::collections::HashMap;
use std::path::Path;

/// A library ready to search, with where its frames' images are.
pub struct Searchable {
    pub lib: SearchLibrary,
    /// Where the frames' images are, and whose ids the library has.
    images_at: ImagesAt,
    /// Where this is this machine's copy of a shared catalog: the catalog's run whose head it
    /// searches.
    run: Option<i64>,
    /// Something to tell the user about the search (the space it fell back to).
    pub note: Option<String>,
    /// The connection the catalog's images are read through, once one was needed.
    images_connection: std::sync::Mutex<Option<Box<SharedCatalog>>>,
}

/// Where a searchable library's frame images are.
enum ImagesAt {
    /// Files in this library's folder (a shared catalog's copy turns its ids into the catalog's).
    Folder(Local),
    /// JPEG bytes in the shared catalog at this URL (searched in SQL).
    Catalog(String),
}

/// Where the frames' images are read from.
pub enum FrameImages {
    /// Files in a library folder (the embedded catalog, or this machine's copy of a shared one).
    Folder(Library),
    /// JPEG bytes in a shared catalog (a viewer needs no shared file system).
    Catalog(Box<SharedCatalog>),
}

impl FrameImages {
    /// The audio fingerprints of the videos `ids` that have one (in one read).
    pub fn fingerprints(&mut self, ids: &[i64]) -> Result<HashMap<i64, Fingerprint>> {
        match self {
            FrameImages::Folder(library) => {
                let catalog = Catalog::open(&library.catalog_path())?;
                let mut prints = HashMap::new();
                for &id in ids {
                    if let Some(print) = catalog.fingerprint(id)? {
                        prints.insert(id, print);
                    }
                }
                Ok(prints)
            }
            FrameImages::Catalog(shared) => shared.fingerprints(ids),
        }
    }

    /// The image of frame `file` (as a result or a query frame names it), if it can be read.
    pub fn open(&mut self, file: &str) -> Result<Option<DynamicImage>> {
        Ok(match self {
            FrameImages::Folder(library) => crate::images::open(&library.resolve(file)),
            FrameImages::Catalog(shared) => crate::shared::search::frame_image(shared, file)?,
        })
    }
}

impl Backend {
    /// The library opened for search in `space` (the configured one when `None`), saying through
    /// `say` where it falls back or copies. On a shared catalog the head space is searched on
    /// this machine's up-to-date copy when the catalog has an active run; else in SQL.
    pub fn searchable(
        &self,
        library: &Library,
        config: &Config,
        space: Option<SearchSpace>,
        say: &dyn Fn(String),
    ) -> Result<Searchable> {
        let (here, run) = match self {
            Backend::Embedded => (Local { library: library.clone(), copy: None }, None),
            Backend::Shared(url) => match head_on_copy(library, config, url, space, say)? {
                Some((mirror, run)) => {
                    (Local { library: mirror.library.clone(), copy: Some((mirror, url.clone())) }, Some(run))
                }
                None => {
                    let lib = crate::shared::query::open_library(url, config)?;
                    return Ok(Searchable {
                        lib,
                        images_at: ImagesAt::Catalog(url.clone()),
                        run: None,
                        note: None,
                        images_connection: Default::default(),
                    });
                }
            },
        };
        let catalog = Catalog::open(&here.library.catalog_path())?;
        let chosen = Space::choose(&here.library, &catalog, config, space)?;
        if let Some(note) = &chosen.note {
            say(format!("note: {note}"));
        }
        let lib = chosen.load(&catalog, None)?;
        Ok(Searchable {
            lib,
            images_at: ImagesAt::Folder(here),
            run,
            note: chosen.note.clone(),
            images_connection: Default::default(),
        })
    }
}

impl Searchable {
    /// The folder the library's frame files are relative to (empty where the catalog holds
    /// the images).
    pub fn root(&self) -> &Path {
        match &self.images_at {
            ImagesAt::Folder(local) => local.library.root(),
            ImagesAt::Catalog(_) => Path::new(""),
        }
    }

    /// A video reference (title, id or path) as the user gave it, as this library knows it (an
    /// id is the shared catalog's where this is a copy of one).
    pub fn reference(&self, what: &str) -> String {
        match &self.images_at {
            ImagesAt::Folder(local) => local.reference(what),
            ImagesAt::Catalog(_) => what.to_string(),
        }
    }

    /// This library's id of the video the user knows by `id`.
    pub fn here(&self, id: i64) -> i64 {
        match &self.images_at {
            ImagesAt::Folder(local) => local.here(id),
            ImagesAt::Catalog(_) => id,
        }
    }

    /// Results as the user knows them: the catalog's ids and run where this is a copy of one.
    pub fn publish(&self, results: &mut Results) {
        if let (ImagesAt::Folder(local), Some(run)) = (&self.images_at, self.run) {
            results.results.iter_mut().for_each(|h| h.id = local.shown_id(h.id));
            results.space = format!("head of run {run}");
            results.run = Some(run);
        }
    }

    /// Marks how each of the first `n` results relates to the video `query` (an id here) by
    /// their audio fingerprints (`copy`, `excerpt` with its offset, `same_song`); nothing where
    /// the query has no fingerprint (no audio, or ingested before fingerprints were made).
    pub fn relate(&self, results: &mut Results, query: i64, n: usize, duplicate_threshold: f32) -> Result<()> {
        // The query's fingerprint and the results' in one read.
        let ids: Vec<i64> = std::iter::once(query).chain(results.results.iter().take(n).map(|h| h.id)).collect();
        let prints = self.with_images(|images| images.fingerprints(&ids))??;
        if let Some(asked) = prints.get(&query) {
            mark_relations(results, asked, &prints, n, duplicate_threshold);
        }
        Ok(())
    }

    /// Marks how each of the first `n` results relates to a recording fingerprinted as `asked`
    /// (a query file's, say).
    pub fn relate_to(
        &self,
        results: &mut Results,
        asked: &Fingerprint,
        n: usize,
        duplicate_threshold: f32,
    ) -> Result<()> {
        let ids: Vec<i64> = results.results.iter().take(n).map(|h| h.id).collect();
        let prints = self.with_images(|images| images.fingerprints(&ids))??;
        mark_relations(results, asked, &prints, n, duplicate_threshold);
        Ok(())
    }

    /// Calls `read` with where the frames' images are read from: the library's folder, or the
    /// shared catalog through one connection kept for as long as this library is (a query does
    /// not connect again for its images).
    pub fn with_images<T>(&self, read: impl FnOnce(&mut FrameImages) -> T) -> Result<T> {
        let url = match &self.images_at {
            ImagesAt::Folder(local) => return Ok(read(&mut FrameImages::Folder(local.library.clone()))),
            ImagesAt::Catalog(url) => url,
        };
        let mut kept = self.images_connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let connection = match kept.take() {
            Some(connection) => connection,
            None => Box::new(SharedCatalog::open(url)?),
        };
        let mut images = FrameImages::Catalog(connection);
        let out = read(&mut images);
        if let FrameImages::Catalog(connection) = images {
            *kept = Some(connection);
        }
        Ok(out)
    }
}

/// Sets each of the first `n` results' relation to the recording fingerprinted as `asked`, from
/// the results' fingerprints in `prints`.
fn mark_relations(
    results: &mut Results,
    asked: &Fingerprint,
    prints: &HashMap<i64, Fingerprint>,
    n: usize,
    duplicate_threshold: f32,
) {
    for hit in results.results.iter_mut().take(n) {
        if let Some(print) = prints.get(&hit.id) {
            hit.relation = crate::search::relation::relate(asked, print, hit.visual, duplicate_threshold);
        }
    }
}

/// Where the head space is asked for on the shared catalog at `url` and it has an active run:
/// this machine's up-to-date copy of it with that run active, and the run's id there.
fn head_on_copy(
    library: &Library,
    config: &Config,
    url: &str,
    space: Option<SearchSpace>,
    say: &dyn Fn(String),
) -> Result<Option<(Mirror, i64)>> {
    if space.unwrap_or(config.search.space) != SearchSpace::Head {
        return Ok(None);
    }
    let mut shared = SharedCatalog::open(url)?;
    if shared.active_run()?.is_none() {
        say("note: no training run is active on the catalog, so frames are compared as backbone features; `reelmatch --catalog URL train` makes one".to_string());
        return Ok(None);
    }
    let mirror = crate::shared::mirror::sync(library, config, url, say)?;
    let run = mirror.take_active_run(&mut shared)?;
    Ok(run.map(|(_, there)| (mirror, there)))
}
