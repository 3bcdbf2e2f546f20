//! A library opened for one search, whichever catalog holds it: the embedded catalog, a shared
//! catalog searched in SQL (the backbone space), or this machine's copy of a shared catalog in
//! the head space of its active run. Results come out in the ids and the space the user knows.

use super::Backend;
use crate::catalog::{Catalog, RunRecords};
use crate::config::{Config, SearchSpace};
use crate::error::Result;
use crate::library::Library;
use crate::search::space::Space;
use crate::search::{Results, SearchLibrary};
use crate::shared::mirror::Mirror;
use crate::shared::SharedCatalog;
use image::DynamicImage;
use std::path::Path;

/// A library ready to search, with where its frames' images are.
pub struct Searchable {
    pub lib: SearchLibrary,
    /// Where the frames' images are.
    images_at: ImagesAt,
    /// This machine's copy of a shared catalog and the catalog's run whose head it searches.
    copy: Option<(Mirror, i64)>,
    /// Something to tell the user about the search (the space it fell back to).
    pub note: Option<String>,
}

/// Where a searchable library's frame images are.
enum ImagesAt {
    /// Files in this library's folder.
    Folder(Library),
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
        let (here, copy) = match self {
            Backend::Embedded => (library.clone(), None),
            Backend::Shared(url) => match head_on_copy(library, config, url, space, say)? {
                Some((mirror, run)) => (mirror.library.clone(), Some((mirror, run))),
                None => {
                    let lib = crate::shared::query::open_library(url, config)?;
                    return Ok(Searchable { lib, images_at: ImagesAt::Catalog(url.clone()), copy: None, note: None });
                }
            },
        };
        let catalog = Catalog::open(&here.catalog_path())?;
        let chosen = Space::choose(&here, &catalog, config, space)?;
        if let Some(note) = &chosen.note {
            say(format!("note: {note}"));
        }
        let lib = chosen.load(&catalog, None)?;
        Ok(Searchable { lib, images_at: ImagesAt::Folder(here), copy, note: chosen.note.clone() })
    }
}

impl Searchable {
    /// The folder the library's frame files are relative to (empty where the catalog holds
    /// the images).
    pub fn root(&self) -> &Path {
        match &self.images_at {
            ImagesAt::Folder(library) => library.root(),
            ImagesAt::Catalog(_) => Path::new(""),
        }
    }

    /// A video reference (title, id or path) as the user gave it, as this library knows it (an
    /// id is the shared catalog's where this is a copy of one).
    pub fn reference(&self, what: &str) -> String {
        match &self.copy {
            Some((mirror, _)) => mirror.local_reference(what),
            None => what.to_string(),
        }
    }

    /// Results as the user knows them: the catalog's ids and run where this is a copy of one.
    pub fn publish(&self, results: &mut Results) {
        if let Some((mirror, run)) = &self.copy {
            results.results.iter_mut().for_each(|h| h.id = mirror.to_shared(h.id).unwrap_or(h.id));
            results.space = format!("head of run {run}");
            results.run = Some(*run);
        }
    }

    /// Where the frames' images are read from.
    pub fn images(&self) -> Result<FrameImages> {
        Ok(match &self.images_at {
            ImagesAt::Folder(library) => FrameImages::Folder(library.clone()),
            ImagesAt::Catalog(url) => FrameImages::Catalog(Box::new(SharedCatalog::open(url)?)),
        })
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
