//! A machine's own copy of a shared catalog, for the work that reads every vector many times
//! over (training, `eval`, `dupes`): an embedded library under the local library's `mirrors/`
//! folder, brought up to date from the catalog by an incremental import (only videos that are
//! new or changed there are copied) and its vector store refreshed, with the two catalogs'
//! video ids matched by path so what it finds is reported in the shared catalog's ids.

use super::import::{import_library, ImportReport};
use super::worker::Paths;
use super::SharedCatalog;
use crate::catalog::{Catalog, NewRun, RunRecords, RunStatus};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::library::Library;
use std::collections::HashMap;
use std::path::PathBuf;

/// An up-to-date copy of a shared catalog.
pub struct Mirror {
    pub library: Library,
    /// What the update copied.
    pub report: ImportReport,
    /// Video ids here → in the shared catalog.
    up: HashMap<i64, i64>,
    /// Video ids in the shared catalog → here.
    down: HashMap<i64, i64>,
}

/// Where `library` keeps its copy of the catalog at `url`: one folder per server and database,
/// named by the host and a hash of the URL without its password (so no secret is ever part of a
/// folder name, and two databases on one server get two folders).
pub fn dir(library: &Library, url: &str) -> PathBuf {
    let shown = super::shown(url);
    let place = shown.split_once("://").map_or(shown.as_str(), |(_, rest)| rest);
    let place = place.rsplit_once('@').map_or(place, |(_, host)| host);
    let host = place.split(['/', '?', ':']).next().unwrap_or_default();
    let host: String =
        host.chars().take(40).map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    library.root().join("mirrors").join(format!("{host}-{}", &blake3::hash(shown.as_bytes()).to_hex()[..16]))
}

/// Where copies were kept before [`dir`]: the URL past its user, every other character `_`
/// (which put a `?password=` value in the name).
fn legacy_dir(library: &Library, url: &str) -> PathBuf {
    let place = url.split_once("://").map_or(url, |(_, rest)| rest);
    let place = place.rsplit_once('@').map_or(place, |(_, host)| host);
    let name: String = place.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    library.root().join("mirrors").join(name)
}

/// Brings this machine's copy of the catalog at `url` up to date, saying what it does through
/// `note`.
pub fn sync(library: &Library, config: &Config, url: &str, note: &dyn Fn(String)) -> Result<Mirror> {
    let here = dir(library, url);
    let legacy = legacy_dir(library, url);
    if legacy.is_dir() && !here.exists() {
        // A copy made before folders were named by hash: kept, under its new name.
        std::fs::rename(&legacy, &here).map_err(|e| Error::Invalid(format!("{}: {e}", legacy.display())))?;
    }
    let mirror = Library::open(here)?;
    note(format!("bringing this machine's copy of {} up to date in {}", super::shown(url), mirror.root().display()));
    let report = import_library(&mirror, url, &Paths::default(), &|_, _, _| {})?;
    if report.imported > 0 {
        note(format!("copied {} new or changed video(s), {} frames", report.imported, report.frames));
    }
    let here = Catalog::open(&mirror.catalog_path())?;
    let mut shared = SharedCatalog::open(url)?;
    let rows = shared.client().query("SELECT id, path FROM videos", &[]).map_err(|e| shared.err(e))?;
    let there: HashMap<PathBuf, i64> =
        rows.iter().map(|r| (crate::types::text_path(&r.get::<_, String>(1)), r.get(0))).collect();
    let mut up = HashMap::new();
    let mut gone = Vec::new();
    for v in here.videos()? {
        match there.get(&v.path) {
            Some(&id) => {
                up.insert(v.id, id);
            }
            None => gone.push(v),
        }
    }
    if !gone.is_empty() {
        // Videos removed from the catalog leave the copy too.
        let _writer = crate::lock::WriterLock::acquire(&mirror, "updating the copy", &crate::Cancel::new(), |_| {})?;
        for v in &gone {
            here.delete_video(v.id)?;
            crate::ingest::identify::remove_derived(&mirror, v.id);
        }
        note(format!("{} video(s) no longer in the catalog left the copy", gone.len()));
    }
    crate::pipeline::refresh_index(&mirror, config, false)?;
    let down = up.iter().map(|(&l, &s)| (s, l)).collect();
    Ok(Mirror { library: mirror, report, up, down })
}

impl Mirror {
    /// The shared catalog's id of the video with id `local` here.
    pub fn to_shared(&self, local: i64) -> Option<i64> {
        self.up.get(&local).copied()
    }

    /// Every video id here with the shared catalog's id for it.
    pub fn shared_ids(&self) -> HashMap<i64, i64> {
        self.up.clone()
    }

    /// A video reference (title, id or path) as this copy knows it: an id is the catalog's.
    pub fn local_reference(&self, what: &str) -> String {
        match what.parse().ok().and_then(|id| self.to_local(id)) {
            Some(id) => id.to_string(),
            None => what.to_string(),
        }
    }

    /// This copy's id of the video with id `shared` in the catalog.
    pub fn to_local(&self, shared: i64) -> Option<i64> {
        self.down.get(&shared).copied()
    }

    /// Which run of the catalog each run here is (run id here → there), from the copy's
    /// `shared_runs.json`.
    pub fn shared_runs(&self) -> HashMap<i64, i64> {
        std::fs::read(self.runs_file())
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<(i64, i64)>>(&b).ok())
            .map(|pairs| pairs.into_iter().collect())
            .unwrap_or_default()
    }

    /// Records that run `here` of the copy is run `there` of the catalog.
    pub fn remember_run(&self, here: i64, there: i64) -> Result<()> {
        let mut runs = self.shared_runs();
        runs.insert(here, there);
        let mut pairs: Vec<(i64, i64)> = runs.into_iter().collect();
        pairs.sort_unstable();
        let file = self.runs_file();
        let text = serde_json::to_vec(&pairs).unwrap_or_default();
        crate::save::atomically(&file, &text)
    }

    fn runs_file(&self) -> PathBuf {
        self.library.root().join("shared_runs.json")
    }

    /// Makes the catalog's active run the copy's, copying it down (its classes and head) when
    /// it was trained on another machine; returns (its id here, there), or `None` when the
    /// catalog has no run with a head.
    pub fn take_active_run(&self, shared: &mut SharedCatalog) -> Result<Option<(i64, i64)>> {
        let Some(run) = shared.active_run()? else { return Ok(None) };
        let here = Catalog::open(&self.library.catalog_path())?;
        let _writer =
            crate::lock::WriterLock::acquire(&self.library, "updating the copy", &crate::Cancel::new(), |_| {})?;
        let known = self.shared_runs().into_iter().find(|&(_, there)| there == run.id).map(|(id, _)| id);
        let local = match known.filter(|&id| here.run(id).ok().flatten().is_some_and(|r| r.head_file.is_some())) {
            Some(id) => id,
            None => {
                let Some(head) = shared.run_head(run.id)? else { return Ok(None) };
                let class_ids: Vec<i64> = run.class_ids.iter().filter_map(|&v| self.to_local(v)).collect();
                let id = here.insert_run(&NewRun {
                    image_model: &run.image_model,
                    settings: &run.settings,
                    classes: &run.classes,
                    class_ids: &class_ids,
                    left_out: &run.left_out,
                })?;
                let file = format!("runs/{id}/head.safetensors");
                let path = self.library.resolve(&file);
                crate::save::atomically(&path, &head)?;
                here.finish_run(id, RunStatus::Done, None, Some(&file))?;
                self.remember_run(id, run.id)?;
                id
            }
        };
        here.set_active_run(Some(local))?;
        Ok(Some((local, run.id)))
    }

    /// Replaces this copy's "not duplicates" decisions with the catalog's.
    pub fn take_decisions(&self, shared: &mut SharedCatalog) -> Result<()> {
        let pairs: Vec<(i64, i64)> = (shared.not_duplicates()?.into_iter())
            .filter_map(|(a, b)| Some((self.to_local(a)?, self.to_local(b)?)))
            .collect();
        Catalog::open(&self.library.catalog_path())?.replace_not_duplicates(&pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_folder_never_holds_a_password_and_each_database_has_its_own() {
        let work = tempfile::tempdir().expect("a temporary folder");
        let library = Library::open(work.path().join("lib")).expect("a library");
        let name = |url: &str| dir(&library, url).file_name().unwrap_or_default().to_string_lossy().into_owned();
        let with_query = name("postgres://me@db.example:5432/lib?password=SECRET");
        let with_user = name("postgres://me:SECRET@db.example:5432/lib");
        assert!(with_query.starts_with("db_example-") && !with_query.contains("SECRET"), "{with_query}");
        assert!(!with_user.contains("SECRET"), "{with_user}");
        assert_eq!(with_user, name("postgres://me:OTHER@db.example:5432/lib"), "the password does not change it");
        assert_ne!(with_user, name("postgres://me:SECRET@db.example:5432/other"), "another database, another copy");
    }
}
