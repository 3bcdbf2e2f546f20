//! A library opened for one search, whichever catalog holds it: the embedded catalog, a shared
//! catalog searched in SQL (the backbone space), or this machine's copy of a shared catalog in
//! the head space of its active run. Results come out in the ids and the space the user knows.

use super::{Backend, Local};
use crate::catalog::{Catalog, RunRecords};
use crate::config::{Config, SearchSpace};
use crate::error::{Error, Remedy, Result};
use crate::library::Library;
use crate::ml::Models;
use crate::search::space::Space;
use crate::search::Query;
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
    /// Every video's audio fingerprint, read once for as long as this library is kept open.
    prints: std::sync::OnceLock<Vec<(i64, Fingerprint)>>,
}

/// Where a searchable library's frame images are.
enum ImagesAt {
    /// Files in this library's folder (a shared catalog's copy turns its ids into the catalog's).
    Folder(Local),
    /// JPEG bytes in the shared catalog at this URL (searched in SQL).
    Catalog(String),
}

/// What a result's relation is told against: a library video (by its id here), or a file with
/// its length, its frames (times, and vectors in the library's space) and, where it has sound,
/// its fingerprint.
#[derive(Clone, Copy)]
pub enum Asked<'a> {
    Video(i64),
    File { print: Option<&'a Fingerprint>, seconds: f64, frames: &'a [(f64, Vec<f32>)] },
}

/// A result is looked at along time lines by its frames only where its visual score reaches
/// this (a whole asking for a short cut of it scores well under the cut asking for the whole).
const LOOK_BY_FRAMES: f32 = 0.2;

/// Where the frames' images are read from.
pub enum FrameImages {
    /// Files in a library folder (the embedded catalog, or this machine's copy of a shared one).
    Folder(Library),
    /// JPEG bytes in a shared catalog (a viewer needs no shared file system).
    Catalog(Box<SharedCatalog>),
}

impl FrameImages {
    /// Every video's audio fingerprint, by video id.
    pub fn all_fingerprints(&mut self) -> Result<Vec<(i64, Fingerprint)>> {
        match self {
            FrameImages::Folder(library) => Catalog::open(&library.catalog_path())?.all_fingerprints(),
            FrameImages::Catalog(shared) => shared.all_fingerprints(),
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
                    let (lib, note) = crate::shared::query::open_library(url, config, space)?;
                    if let Some(note) = &note {
                        say(format!("note: {note}"));
                    }
                    return Ok(Searchable {
                        lib,
                        images_at: ImagesAt::Catalog(url.clone()),
                        run: None,
                        note,
                        images_connection: Default::default(),
                        prints: Default::default(),
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
            prints: Default::default(),
        })
    }
}

impl Searchable {
    /// A description of a look (and lyrics typed beside it, if any) as a query of this library,
    /// which must be open in the vision-text space of the model that embeds the description.
    pub fn description_query(&self, models: &Models, text: &str, lyrics: Option<&str>) -> Result<Query> {
        let model = models.require_vision_text()?;
        if self.lib.image_model.as_deref() != Some(model.model_id.as_str()) {
            return Err(Error::not_ready(
                format!(
                    "the library's frames are not embedded with the vision-text model {} yet",
                    model.model_id.trim_start_matches("vision-text:")
                ),
                Remedy::EmbedForDescriptions,
            ));
        }
        let mut query = Query::from_description(model, text)?;
        if let Some(words) = lyrics.filter(|w| !w.trim().is_empty()) {
            query.lyrics = Query::from_lyrics(models.require_text()?, words)?.lyrics;
            query.label = crate::search::query::description_label(text, Some(words));
        }
        Ok(query)
    }

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

    /// The id the user knows the video `id` (an id here) by: the catalog's, where this is a copy.
    pub fn shown(&self, id: i64) -> i64 {
        match &self.images_at {
            ImagesAt::Folder(local) => local.shown_id(id),
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

    /// Marks how every result relates to `asked`: by sound where both have changing sound (the
    /// videos holding its recording found in the whole library by the fingerprints' hashes), by
    /// frames along one time line where either is silent or has no audio; and whether each is a
    /// duplicate of it ([`crate::search::relation::duplicate`]). Returns how many are related.
    pub fn relate(&self, results: &mut Results, asked: Asked<'_>, duplicate_threshold: f32) -> Result<usize> {
        use crate::search::relation::{
            duplicate, from_other_side, place_through_sound, relate_by_frames, related_to, sound_decides, ByFrames,
            Related,
        };
        let prints = match self.prints.get() {
            Some(prints) => prints,
            None => {
                let read = self.with_images(|images| images.all_fingerprints())??;
                self.prints.get_or_init(|| read)
            }
        };
        let prints = prints.as_slice();
        let by_id: HashMap<i64, &Fingerprint> = prints.iter().map(|(id, p)| (*id, p)).collect();
        let lib = &self.lib;
        let at: HashMap<i64, usize> = lib.videos.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
        let position = |id: i64| at.get(&id).copied();
        let length = |id: i64| position(id).and_then(|i| lib.videos[i].duration_s);
        let (print, except, asked_s) = match asked {
            Asked::Video(id) => (by_id.get(&id).copied(), Some(id), length(id)),
            Asked::File { print, seconds, .. } => (print, None, Some(seconds)),
        };
        let visual: HashMap<i64, Option<f32>> = results.results.iter().map(|h| (h.id, h.visual)).collect();
        let by_sound: HashMap<i64, _> = match print.filter(|p| p.says_something()) {
            Some(print) => {
                related_to(print, prints, except, |id| visual.get(&id).copied().flatten(), duplicate_threshold)
                    .into_iter()
                    .collect()
            }
            None => HashMap::new(),
        };
        let asked_at = except.and_then(position);
        let asking: Vec<(f64, Vec<f32>)> = match (asked, asked_at) {
            (Asked::File { frames, .. }, _) => frames.to_vec(),
            (Asked::Video(_), Some(at)) => lib.asking_frames(at),
            (Asked::Video(_), None) => Vec::new(),
        };
        // Where the sound cannot tell, frames along one time line, for results whose frames look
        // alike at all; the shorter one's frames ask (all of them are in the longer one, if it
        // is cut from it). Told from the query's side, then placed through the results' sound.
        let mut by_frames: Vec<ByFrames> = Vec::new();
        for hit in &results.results {
            if by_sound.contains_key(&hit.id)
                || sound_decides(print, by_id.get(&hit.id).copied())
                || !hit.visual.is_some_and(|v| v >= LOOK_BY_FRAMES)
            {
                continue;
            }
            let (Some(q), Some(r), Some(theirs)) = (asked_s, length(hit.id), position(hit.id)) else { continue };
            let found = match asked_at.filter(|_| r < q) {
                Some(mine) => relate_by_frames(&lib.frame_grid(&lib.asking_frames(theirs), mine), r, q)
                    .map(|(related, alike)| (from_other_side(related), alike)),
                None => relate_by_frames(&lib.frame_grid(&asking, theirs), q, r),
            };
            if let Some((related, alike)) = found {
                by_frames.push(ByFrames { other: hit.id, related, alike, from_s: q, to_s: r });
            }
        }
        place_through_sound(&mut by_frames, |id| by_id.get(&id).copied());
        let by_frames: HashMap<i64, Related> = by_frames.into_iter().map(|f| (f.other, f.related)).collect();
        let mut related = 0;
        for hit in &mut results.results {
            hit.relation = by_sound.get(&hit.id).or_else(|| by_frames.get(&hit.id)).copied();
            hit.duplicate = duplicate(hit.relation.as_ref(), hit.visual, duplicate_threshold);
            related += usize::from(hit.relation.is_some());
        }
        Ok(related)
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
