//! Which catalog a library is on, decided once from the configuration (`--catalog`,
//! `REELMATCH_CATALOG`, `[catalog] url`): the embedded SQLite catalog in the library folder, or a
//! shared PostgreSQL catalog. This is the one place that asks which: the command line and the
//! dashboard call these jobs and never branch on the kind. A new capability that both catalogs
//! should have goes here (or beneath it, in a job both implementations share), once.

mod ingest;
mod query;
mod search;
mod view;

pub use ingest::{IngestOptions, Ingested};
pub use query::QueryCache;
pub use search::{Asked, FrameImages, Searchable};

use crate::catalog::{Catalog, RunRecords, VideoRow};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::{Cancel, EventSink};
use crate::library::Library;
use crate::ml::Models;
use crate::pipeline::SetAsideCount;
use crate::shared::listing::QueueRow;
use crate::shared::mirror::Mirror;
use crate::shared::SharedCatalog;
use crate::train::RunSummary;
use std::collections::HashMap;

/// The catalog a library's videos, frames, transcripts, runs and decisions are kept in.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// `catalog.sqlite` in the library folder.
    Embedded,
    /// A PostgreSQL catalog at this URL, which workers on several machines fill; this
    /// machine's library folder keeps its copy of it for training and the head space.
    Shared(String),
}

impl Backend {
    /// The catalog `config` names.
    pub fn of(config: &Config) -> Backend {
        match config.catalog.shared() {
            Some(url) => Backend::Shared(url.to_string()),
            None => Backend::Embedded,
        }
    }

    /// Sets up or updates a shared catalog's schema, saying how (the embedded catalog migrates
    /// itself when opened: `None`).
    pub fn set_up(&self) -> Result<Option<String>> {
        let Backend::Shared(url) = self else { return Ok(None) };
        let (catalog, before) = SharedCatalog::open_and_migrate(url)?;
        let now = crate::shared::LATEST;
        Ok(Some(match before == now {
            true => format!("{}: schema {now}, up to date", catalog.url()),
            false => format!("{}: schema {before} → {now}", catalog.url()),
        }))
    }

    /// Where the catalog is, for messages (a URL's password hidden).
    pub fn shown(&self, library: &Library) -> String {
        match self {
            Backend::Embedded => library.root().display().to_string(),
            Backend::Shared(url) => crate::shared::shown(url),
        }
    }

    /// The command that adds videos to this catalog.
    pub fn ingest_command(&self) -> &'static str {
        match self {
            Backend::Embedded => "reelmatch ingest DIR",
            Backend::Shared(_) => "reelmatch --catalog URL ingest --worker DIR",
        }
    }

    /// Whether several workers fill this catalog (so a listing shows who holds each video).
    pub fn has_workers(&self) -> bool {
        matches!(self, Backend::Shared(_))
    }

    /// Every video with its frames set aside as saying nothing and, on a shared catalog, the
    /// worker holding it; by title.
    pub fn listing(&self, library: &Library, config: &Config) -> Result<Vec<QueueRow>> {
        match self {
            Backend::Embedded => {
                let catalog = Catalog::open(&library.catalog_path())?;
                let aside = crate::pipeline::set_aside_counts(&catalog, library, config)?;
                Ok(catalog.videos()?.into_iter().map(|v| queue_row(v, &aside)).collect())
            }
            Backend::Shared(url) => {
                let mut catalog = SharedCatalog::open(url)?;
                let mut rows = crate::shared::listing::queue(&mut catalog)?;
                let aside = crate::shared::query::set_aside_counts(&mut catalog, config)?;
                for row in &mut rows {
                    row.set_aside = aside.get(&row.video.id).copied().unwrap_or_default();
                }
                Ok(rows)
            }
        }
    }

    /// The record of training runs (runs a dead process left running are settled first).
    pub fn runs(&self, library: &Library) -> Result<Box<dyn RunRecords>> {
        match self {
            Backend::Embedded => {
                let catalog = Catalog::open(&library.catalog_path())?;
                crate::train::settle_dead_runs(library, &catalog)?;
                Ok(Box::new(catalog))
            }
            Backend::Shared(url) => Ok(Box::new(SharedCatalog::open(url)?)),
        }
    }

    /// Trains a new run (or continues `resume`) and records it in the catalog; on a shared
    /// catalog it trains on this machine's copy and publishes as it goes. (`models` make the
    /// augmented views on the embedded catalog.)
    pub fn train(
        &self,
        library: &Library,
        config: &Config,
        models: &Models,
        resume: Option<i64>,
        sink: &dyn EventSink,
        cancel: &Cancel,
    ) -> Result<RunSummary> {
        match self {
            Backend::Embedded => crate::pipeline::train(library, config, models, resume, sink, cancel),
            Backend::Shared(url) => crate::shared::train::train(library, config, url, models, resume, sink, cancel),
        }
    }

    /// An embedded library to compute on (`eval`, `dupes`, `export frames`): this one, or this
    /// machine's up-to-date copy of the shared catalog (with its active run taken when
    /// `with_run`), saying what it does through `say`.
    pub fn local(&self, library: &Library, config: &Config, with_run: bool, say: &dyn Fn(String)) -> Result<Local> {
        match self {
            Backend::Embedded => Ok(Local { library: library.clone(), copy: None }),
            Backend::Shared(url) => {
                let mirror = crate::shared::mirror::sync(library, config, url, say)?;
                let mut shared = SharedCatalog::open(url)?;
                if with_run {
                    mirror.take_active_run(&mut shared)?;
                }
                mirror.take_decisions(&mut shared)?;
                Ok(Local { library: mirror.library.clone(), copy: Some((mirror, url.clone())) })
            }
        }
    }

    /// The workers' progress as it happens: `listening` once the announcements are heard, then
    /// `on` for each until it returns false (the embedded catalog has no workers to follow).
    pub fn follow(
        &self,
        listening: &mut dyn FnMut() -> Result<()>,
        on: &mut dyn FnMut(crate::shared::progress::Progress) -> bool,
    ) -> Result<()> {
        match self {
            Backend::Embedded => Err(Error::Invalid(
                "library --follow shows the progress of workers on a shared catalog; this library has none".into(),
            )),
            Backend::Shared(url) => crate::shared::progress::follow(url, listening, on),
        }
    }

    /// Brings the search structures up to date (every one built again when `rebuild`) and judges
    /// new frames for saying nothing, saying a line per thing done through `say`.
    pub fn refresh_index(&self, library: &Library, config: &Config, rebuild: bool, say: &dyn Fn(String)) -> Result<()> {
        match self {
            Backend::Embedded => {
                crate::pipeline::embed_for_descriptions(library, config, say)?;
                say(crate::pipeline::refresh_index(library, config, rebuild)?.to_string());
                Ok(())
            }
            Backend::Shared(url) => {
                crate::shared::embed_for_descriptions(url, config, say)?;
                crate::shared::upkeep::refresh_index(url, config, rebuild, say)
            }
        }
    }
}

/// A video as a listing shows it, from the embedded catalog (which no worker holds).
fn queue_row(video: VideoRow, aside: &HashMap<i64, SetAsideCount>) -> QueueRow {
    QueueRow {
        frames: video.frames_train + video.frames_test,
        set_aside: aside.get(&video.id).copied().unwrap_or_default(),
        video,
        claimed_by: None,
        attempts: 0,
    }
}

/// An embedded library that holds a catalog's videos: the library itself, or this machine's
/// copy of a shared catalog, whose ids it turns into the catalog's and whose decisions it
/// records there.
pub struct Local {
    pub library: Library,
    copy: Option<(Mirror, String)>,
}

impl Local {
    /// A video reference (title, id or path) as the user gave it, as this library knows it.
    pub fn reference(&self, what: &str) -> String {
        match &self.copy {
            Some((mirror, _)) => mirror.local_reference(what),
            None => what.to_string(),
        }
    }

    /// This library's id of the video the user knows by `id` (the catalog's, on a copy).
    pub fn here(&self, id: i64) -> i64 {
        self.copy.as_ref().and_then(|(mirror, _)| mirror.to_local(id)).unwrap_or(id)
    }

    /// The id the user knows a video here by (the catalog's).
    pub fn shown_id(&self, id: i64) -> i64 {
        self.copy.as_ref().and_then(|(mirror, _)| mirror.to_shared(id)).unwrap_or(id)
    }

    /// Records that videos `a` and `b` (ids here) are not duplicates, or forgets it (`undo`),
    /// in the catalog they belong to; returns whether anything changed.
    pub fn decide_not_duplicate(&self, a: i64, b: i64, undo: bool) -> Result<bool> {
        match &self.copy {
            None => Backend::Embedded.decide_not_duplicate(&self.library, a, b, undo),
            Some((mirror, url)) => {
                let ids = mirror.to_shared(a).zip(mirror.to_shared(b));
                let (a, b) =
                    ids.ok_or_else(|| Error::Invalid("one of the two videos is no longer in the catalog".to_string()))?;
                Backend::Shared(url.clone()).decide_not_duplicate(&self.library, a, b, undo)
            }
        }
    }
}
