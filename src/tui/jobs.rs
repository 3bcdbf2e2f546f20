//! The dashboard's job runner: the library's jobs (ingest, train, query, inspect) and the reads
//! its views need, each on a blocking thread, reporting back as messages, on whichever catalog
//! the library is (through [`Backend`]); on a shared catalog it also follows the workers'
//! announcements. It never draws.

use super::app::{Command, JobKind, Msg};
use crate::backend::{Backend, IngestOptions, QueryCache};
use crate::config::Config;
use crate::events::{Cancel, Event};
use crate::library::Library;
use crate::ml::Models;
use crate::pipeline::{self, QueryRequest};
use crate::search::Weights;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// How many results' frames a query reads for the query pane to show as the selection moves.
const PREVIEWS: usize = 50;

/// Runs commands as jobs and keeps the long one's stop flag.
pub struct Jobs {
    backend: Backend,
    library: Library,
    config: Config,
    /// Configs by preset name, for training.
    presets: Vec<(String, Config)>,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    /// One model set for every job: each role loads the first time a job needs it.
    models: Arc<Models>,
    /// The library kept open for queries between keypresses.
    cache: Arc<QueryCache>,
    /// The query waiting to run, and whether one is running (see [`Jobs::query`]).
    queries: Arc<Mutex<Queries>>,
    long: Option<JoinHandle<()>>,
    /// How the player draws when there is no display (as the inline images are drawn).
    pub graphics: crate::images::Graphics,
}

/// Queries asked for while one runs: only the newest waits, the ones it replaced are dropped.
#[derive(Default)]
struct Queries {
    next: Option<(QueryRequest, Weights)>,
    running: bool,
}

impl Jobs {
    /// `models`, when given, are used for every job (the demo's); otherwise the configured
    /// models are loaded role by role as jobs need them.
    pub fn new(
        library: Library,
        config: Config,
        presets: Vec<(String, Config)>,
        tx: UnboundedSender<Msg>,
        models: Option<Models>,
    ) -> Self {
        let models = Arc::new(models.unwrap_or_else(|| Models::configured(&config, Some(&library))));
        let backend = Backend::of(&config);
        if backend.has_workers() {
            let (backend, tx) = (backend.clone(), tx.clone());
            std::thread::spawn(move || follow(&backend, &tx));
        }
        Jobs {
            backend,
            library,
            config,
            presets,
            tx,
            cancel: Cancel::new(),
            models,
            cache: Arc::default(),
            queries: Arc::default(),
            long: None,
            graphics: crate::images::Graphics::Auto,
        }
    }

    /// Starts the work `command` asks for.
    pub fn run(&mut self, command: Command, weights: Weights) {
        let (library, tx) = (self.library.clone(), self.tx.clone());
        match command {
            Command::Ingest(roots) => self.ingest(roots),
            Command::Train { preset } => self.train(&preset, false),
            Command::TrainAnyway { preset } => self.train(&preset, true),
            Command::Stop => self.cancel.cancel(),
            Command::Query(request) => self.query(request, weights),
            Command::Inspect(id) => {
                let (backend, config) = (self.backend.clone(), self.config.clone());
                blocking(tx, move || Msg::Inspected(backend.inspect(&library, &config, id).map(Box::new)))
            }
            Command::Reload { runs, settle } => {
                let backend = self.backend.clone();
                blocking(tx, move || Msg::Overview(backend.overview(&library, runs, settle)))
            }
            Command::LoadRun(id) => {
                let backend = self.backend.clone();
                blocking(tx, move || Msg::Run(backend.run_detail(&library, id)))
            }
            Command::Complete(typed) => blocking(tx, move || {
                let completed = pipeline::complete_path(&typed);
                Msg::Completed { typed, completed }
            }),
            // With no terminal to hand over (a test's backend), the player runs beside the view.
            Command::Play(moment) => {
                let (player, graphics) = (self.config.player.clone(), self.graphics);
                blocking(tx, move || Msg::Played(crate::play::play(&player, graphics, &moment)))
            }
            Command::SavePlaylist { label, heading, entries } => blocking(tx, move || {
                let path = library.root().join("playlists").join(crate::playlist::file_name(&label));
                Msg::Saved(crate::playlist::write(&path, &heading, &entries).map(|()| path))
            }),
            Command::NotDuplicate(a, b) => {
                let backend = self.backend.clone();
                blocking(tx, move || Msg::Decided(backend.decide_not_duplicate(&library, a, b, false).map(|_| (a, b))))
            }
        }
    }

    fn sink(&self) -> impl Fn(Event) + Send + Sync + 'static {
        let tx = self.tx.clone();
        move |e: Event| {
            let _ = tx.send(Msg::Job(e));
        }
    }

    /// Ingests `roots`: on a shared catalog this machine works the queue as one of its workers,
    /// taking the videos that failed again as the embedded catalog does on every run.
    fn ingest(&mut self, roots: Vec<std::path::PathBuf>) {
        self.cancel = Cancel::new();
        let (library, config, tx, cancel, models) =
            (self.library.clone(), self.config.clone(), self.tx.clone(), self.cancel.clone(), self.models.clone());
        let (sink, backend) = (self.sink(), self.backend.clone());
        self.long = Some(tokio::task::spawn_blocking(move || {
            let note = |message: String| sink(Event::Note { path: library.root().to_path_buf(), message });
            let options = IngestOptions { path_map: Vec::new(), retry_failed: true };
            let ingested = backend.ingest(&library, &config, &roots, &options, &models, &sink, &cancel, &note);
            let result = ingested.map(|r| r.to_string());
            let _ = tx.send(Msg::JobDone { kind: JobKind::Ingest, result });
        }));
    }

    fn train(&mut self, preset: &str, anyway: bool) {
        self.cancel = Cancel::new();
        let mut config =
            self.presets.iter().find(|(n, _)| n == preset).map_or_else(|| self.config.clone(), |(_, c)| c.clone());
        if anyway {
            config.train.views_ask_over_minutes = 0.0;
        }
        let (library, tx, cancel, models) =
            (self.library.clone(), self.tx.clone(), self.cancel.clone(), self.models.clone());
        let (sink, backend) = (self.sink(), self.backend.clone());
        self.long = Some(tokio::task::spawn_blocking(move || {
            let result = backend.train(&library, &config, &models, None, &sink, &cancel).map(|s| s.to_string());
            let _ = tx.send(Msg::JobDone { kind: JobKind::Train, result });
        }));
    }

    /// Runs a query on the kept library. Asked while one runs, it waits; a newer one replaces
    /// it (a person pressing Enter on one video after another wants the last answer).
    fn query(&self, request: QueryRequest, weights: Weights) {
        {
            let mut q = lock(&self.queries);
            q.next = Some((request, weights));
            if q.running {
                return;
            }
            q.running = true;
        }
        let (backend, library, config, models, cache, queries, tx) = (
            self.backend.clone(),
            self.library.clone(),
            self.config.clone(),
            self.models.clone(),
            self.cache.clone(),
            self.queries.clone(),
            self.tx.clone(),
        );
        tokio::task::spawn_blocking(move || loop {
            let job = {
                let mut q = lock(&queries);
                let job = q.next.take();
                q.running = job.is_some();
                job
            };
            let Some((request, weights)) = job else { break };
            let answer = cache.answer(&backend, &library, &config, &request, &models, weights, PREVIEWS).map(Box::new);
            let _ = tx.send(Msg::Answer(answer));
        });
    }

    /// Stops the long job and waits for it to end cleanly.
    pub async fn shutdown(&mut self) {
        self.cancel.cancel();
        if let Some(job) = self.long.take() {
            let _ = job.await;
        }
    }
}

impl Drop for Jobs {
    /// The kept library may hold a PostgreSQL client, whose drop blocks on its own runtime: it
    /// is dropped on a thread of its own, never on the dashboard's loop.
    fn drop(&mut self) {
        let cache = std::mem::take(&mut self.cache);
        let _ = std::thread::spawn(move || drop(cache)).join();
    }
}

fn lock(q: &Mutex<Queries>) -> MutexGuard<'_, Queries> {
    q.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long to wait before listening again after the catalog's connection was lost.
const LISTEN_AGAIN: Duration = Duration::from_secs(6);

/// Hands the dashboard every worker's announcement until it is gone (its channel closed),
/// listening again a few seconds after the connection is lost.
fn follow(backend: &Backend, tx: &UnboundedSender<Msg>) {
    loop {
        let ended = backend.follow(&mut || Ok(()), &mut |p| tx.send(Msg::Worker(p)).is_ok());
        match ended {
            Err(e) if tx.send(Msg::Unfollowed(e.to_string())).is_ok() => std::thread::sleep(LISTEN_AGAIN),
            _ => return,
        }
    }
}

/// Runs `job` on a blocking thread and sends what it returns.
fn blocking(tx: UnboundedSender<Msg>, job: impl FnOnce() -> Msg + Send + 'static) {
    tokio::task::spawn_blocking(move || {
        let _ = tx.send(job());
    });
}
