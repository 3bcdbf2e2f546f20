//! Training on a shared catalog: the run trains on this machine's up-to-date copy of the
//! catalog (see [`super::mirror`]) with the same code as an embedded library, and is published
//! to the catalog as it goes (started, step losses every few seconds, each epoch with its head,
//! how it ended), so every dashboard and `runs` on any machine sees it live. Runs are numbered
//! by the catalog; the events the caller sees carry the catalog's run id.

use super::mirror::{self, Mirror};
use super::SharedCatalog;
use crate::catalog::{Catalog, RunRecords};
use crate::config::Config;
use crate::error::{Error, Remedy, Result};
use crate::events::{Cancel, Event, EventSink};
use crate::library::Library;
use crate::ml::Models;
use crate::train::RunSummary;
use crate::types::RunStatus;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often step losses are sent while an epoch runs.
const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// Trains a new run on the catalog at `url` (`library`: this machine's own, which keeps the
/// copy), or continues the catalog's run `resume` where this machine trained it, with `models`
/// for the augmented views, reporting through `sink`.
pub fn train(
    library: &Library,
    config: &Config,
    url: &str,
    models: &Models,
    resume: Option<i64>,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<RunSummary> {
    let note = |message: String| sink.emit(Event::Note { path: library.root().to_path_buf(), message });
    let mirror = mirror::sync(library, config, url, &note)?;
    let resume = match resume {
        Some(id) => Some((resumable_here(&mirror, url, id)?, id)),
        None => None,
    };
    let publisher = Publisher {
        inner: sink,
        state: Mutex::new(State {
            shared: SharedCatalog::open(url)?,
            local: Catalog::open(&mirror.library.catalog_path())?,
            run: None,
            resume,
            steps: Vec::new(),
            flushed: Instant::now(),
            failed: None,
        }),
        mirror: &mirror,
        trained_by: super::worker::process_name(),
    };
    let outcome = crate::pipeline::train(&mirror.library, config, models, resume.map(|r| r.0), &publisher, cancel);
    let mut state = publisher.state.into_inner().unwrap_or_else(|p| p.into_inner());
    let shared_run = state.run.map(|(_, id)| id);
    match (outcome, shared_run) {
        (Ok(mut summary), Some(id)) => match state.failed.take() {
            Some(e) => Err(e),
            None => {
                summary.run = id;
                Ok(summary)
            }
        },
        (Ok(summary), None) => Ok(summary),
        (Err(e), Some(id)) => {
            state.shared.finish_run(id, RunStatus::Failed, Some(&e.to_string()))?;
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

/// The copy's id of the catalog's run `id`, which must have been trained on this machine (its
/// copy holds the run's state) and not have finished.
fn resumable_here(mirror: &Mirror, url: &str, id: i64) -> Result<i64> {
    let mut shared = SharedCatalog::open(url)?;
    let Some(row) = shared.run(id)? else {
        return Err(Error::not_ready(
            format!("the catalog has no run {id} (`reelmatch runs` lists them)"),
            Remedy::NewRun,
        ));
    };
    if row.status == RunStatus::Done {
        return Err(Error::not_ready(format!("run {id} finished already; nothing to resume"), Remedy::NewRun));
    }
    let here = mirror.shared_runs().into_iter().find_map(|(local, shared)| (shared == id).then_some(local));
    here.ok_or_else(|| {
        Error::not_ready(
            format!(
                "run {id} was trained on another machine, whose copy of the catalog holds its state: resume it there"
            ),
            Remedy::NewRun,
        )
    })
}

/// Passes training's events on (with the catalog's run id) and records them in the catalog.
struct Publisher<'a> {
    inner: &'a dyn EventSink,
    state: Mutex<State>,
    mirror: &'a Mirror,
    trained_by: String,
}

struct State {
    shared: SharedCatalog,
    /// The copy's catalog, where the run is trained.
    local: Catalog,
    /// (id in the copy, id in the shared catalog) of the run, once started.
    run: Option<(i64, i64)>,
    /// The run being resumed, (id in the copy, id in the shared catalog).
    resume: Option<(i64, i64)>,
    /// Step losses not sent yet.
    steps: Vec<(u64, u32, f32)>,
    flushed: Instant,
    /// The first error in publishing: the run goes on, and the caller gets it at the end.
    failed: Option<Error>,
}

impl State {
    fn flush(&mut self, shared_id: i64) -> Result<()> {
        if !self.steps.is_empty() {
            self.shared.store_steps(shared_id, &self.steps)?;
            self.steps.clear();
        }
        self.flushed = Instant::now();
        Ok(())
    }
}

impl Publisher<'_> {
    /// Records `event` in the catalog; returns the catalog's id of its run.
    fn publish(&self, state: &mut State, event: &Event) -> Result<Option<i64>> {
        match event {
            Event::TrainStarted { run, .. } if state.resume.is_some_and(|(local, _)| local == *run) => {
                let id = state.resume.map_or(0, |(_, id)| id);
                state.shared.reopen_run(id, &self.trained_by)?;
                state.run = Some((*run, id));
                Ok(Some(id))
            }
            Event::TrainStarted { run, .. } => {
                let row =
                    state.local.run(*run)?.ok_or_else(|| Error::Invalid(format!("run {run} is not in the copy")))?;
                let ids: Vec<i64> = row.class_ids.iter().filter_map(|&v| self.mirror.to_shared(v)).collect();
                let id = state.shared.insert_run(&row, &ids, &self.trained_by)?;
                self.mirror.remember_run(*run, id)?;
                state.run = Some((*run, id));
                Ok(Some(id))
            }
            Event::TrainStep { epoch, step, loss, .. } => {
                let Some((_, id)) = state.run else { return Ok(None) };
                state.steps.push((*step, *epoch, *loss));
                if state.flushed.elapsed() >= FLUSH_EVERY {
                    state.flush(id)?;
                }
                Ok(Some(id))
            }
            Event::TrainEpoch { metrics, .. } => {
                let Some((local, id)) = state.run else { return Ok(None) };
                state.flush(id)?;
                let row = state.local.run(local)?;
                let done = row.as_ref().map_or(0, |r| r.epochs_done);
                let head = row
                    .and_then(|r| r.head_file)
                    .map(|f| std::fs::read(self.mirror.library.resolve(&f)))
                    .transpose()
                    .map_err(|e| Error::Invalid(format!("the head of run {local} could not be read: {e}")))?
                    .unwrap_or_default();
                state.shared.store_epoch(id, metrics, done, &head)?;
                Ok(Some(id))
            }
            Event::TrainFinished { status, .. } => {
                let Some((local, id)) = state.run else { return Ok(None) };
                state.flush(id)?;
                let error = state.local.run(local)?.and_then(|r| r.error);
                state.shared.finish_run(id, *status, error.as_deref())?;
                Ok(Some(id))
            }
            _ => Ok(None),
        }
    }
}

impl EventSink for Publisher<'_> {
    fn emit(&self, mut event: Event) {
        let shared_id = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            match self.publish(&mut state, &event) {
                Ok(id) => id,
                Err(e) => {
                    let id = state.run.map(|(_, id)| id);
                    if state.failed.is_none() {
                        tracing::warn!("training could not be recorded in the catalog: {e}");
                        state.failed = Some(e);
                    }
                    id
                }
            }
        };
        if let Some(id) = shared_id {
            match &mut event {
                Event::TrainStarted { run, .. }
                | Event::TrainStep { run, .. }
                | Event::TrainEpoch { run, .. }
                | Event::TrainFinished { run, .. } => *run = id,
                _ => {}
            }
        }
        self.inner.emit(event);
    }
}
