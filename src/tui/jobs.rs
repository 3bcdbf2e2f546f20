//! The dashboard's job runner: ingestion, training, queries and video inspection on blocking
//! threads, reporting back as messages. It calls the library's functions; it never draws.

use super::app::{Command, JobKind, Msg};
use crate::config::Config;
use crate::events::{Cancel, Event};
use crate::ingest::{ingest, Models};
use crate::library::Library;
use crate::pipeline::{answer_query, inspect_video, QueryRequest};
use crate::search::Weights;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// Runs commands as jobs and keeps the long one's stop flag.
pub struct Jobs {
    library: Library,
    config: Config,
    /// Configs by preset name, for training.
    presets: Vec<(String, Config)>,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    models: Arc<OnceLock<Models>>,
    long: Option<JoinHandle<()>>,
}

impl Jobs {
    /// `models`, when given, are used for every job (the demo's); otherwise the configured models
    /// are loaded the first time a job needs them.
    pub fn new(
        library: Library,
        config: Config,
        presets: Vec<(String, Config)>,
        tx: UnboundedSender<Msg>,
        models: Option<Models>,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(m) = models {
            let _ = cell.set(m);
        }
        Jobs { library, config, presets, tx, cancel: Cancel::new(), models: Arc::new(cell), long: None }
    }

    /// Starts the work `command` asks for (previews are drawn by the event loop, not here).
    pub fn run(&mut self, command: Command, weights: Weights) {
        match command {
            Command::Ingest(roots) => self.ingest(roots),
            Command::Train { preset } => self.train(&preset),
            Command::Stop => self.cancel.cancel(),
            Command::Query(request) => self.query(request, weights),
            Command::Inspect(id) => {
                let (library, tx) = (self.library.clone(), self.tx.clone());
                tokio::task::spawn_blocking(move || {
                    let r = inspect_video(&library, id).map(Box::new).map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Inspected(r));
                });
            }
            Command::Preview(..) => {}
        }
    }

    /// The models, loaded the first time a job needs them (missing roles are reported as notes).
    fn models<'a>(
        cell: &'a OnceLock<Models>,
        library: &Library,
        config: &Config,
        tx: &UnboundedSender<Msg>,
    ) -> &'a Models {
        cell.get_or_init(|| {
            let (models, notes) = crate::demo::models_for(library, config);
            for n in notes {
                let _ = tx.send(Msg::Job(Event::Note { path: library.root().to_path_buf(), message: n }));
            }
            models
        })
    }

    fn ingest(&mut self, roots: Vec<std::path::PathBuf>) {
        self.cancel = Cancel::new();
        let (library, config, tx, cancel, cell) =
            (self.library.clone(), self.config.clone(), self.tx.clone(), self.cancel.clone(), self.models.clone());
        self.long = Some(tokio::task::spawn_blocking(move || {
            let models = Self::models(&cell, &library, &config, &tx);
            let sink_tx = tx.clone();
            let sink = move |e: Event| {
                let _ = sink_tx.send(Msg::Job(e));
            };
            let result = ingest(&library, &config, &roots, models, &sink, &cancel)
                .map(|r| {
                    let how = if r.cancelled { "stopped" } else { "finished" };
                    format!(
                        "ingest {how}: {} ingested, {} failed, {} up to date",
                        r.processed,
                        r.failed.len(),
                        r.up_to_date
                    )
                })
                .map_err(|e| e.to_string());
            let _ = tx.send(Msg::JobDone { kind: JobKind::Ingest, result });
        }));
    }

    fn train(&mut self, preset: &str) {
        self.cancel = Cancel::new();
        let config =
            self.presets.iter().find(|(n, _)| n == preset).map_or_else(|| self.config.clone(), |(_, c)| c.clone());
        let (library, tx, cancel, cell) =
            (self.library.clone(), self.tx.clone(), self.cancel.clone(), self.models.clone());
        let base = self.config.clone();
        self.long = Some(tokio::task::spawn_blocking(move || {
            let embedder = Self::models(&cell, &library, &base, &tx).image.as_ref();
            let sink_tx = tx.clone();
            let sink = move |e: Event| {
                let _ = sink_tx.send(Msg::Job(e));
            };
            let result = crate::train::train(&library, &config, embedder, None, &sink, &cancel)
                .map(|s| {
                    format!(
                        "run {} {} after {} epoch(s): test accuracy {:.1}%, top-10 {:.1}%, macro {:.1}%",
                        s.run,
                        s.status.as_str(),
                        s.epochs,
                        s.test_accuracy.unwrap_or(0.0) * 100.0,
                        s.top10_class_accuracy.unwrap_or(0.0) * 100.0,
                        s.macro_accuracy.unwrap_or(0.0) * 100.0
                    )
                })
                .map_err(|e| e.to_string());
            let _ = tx.send(Msg::JobDone { kind: JobKind::Train, result });
        }));
    }

    fn query(&self, request: QueryRequest, weights: Weights) {
        let (library, config, tx, cell) =
            (self.library.clone(), self.config.clone(), self.tx.clone(), self.models.clone());
        tokio::task::spawn_blocking(move || {
            if matches!(request, QueryRequest::Lyrics(_)) {
                Self::models(&cell, &library, &config, &tx);
            }
            let text = cell.get().and_then(|m| m.text.as_ref());
            let r = answer_query(&library, &config, &request, text, weights).map(Box::new).map_err(|e| e.to_string());
            let _ = tx.send(Msg::Answer(r));
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
