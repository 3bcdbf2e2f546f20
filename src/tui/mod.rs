//! The ratatui dashboard: a thin view over the library. The UI task only receives key and job
//! events and draws; ingestion runs on a blocking thread and reports through the event stream.

pub mod app;
pub mod view;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::events::{Cancel, Event};
use crate::ingest::{ingest, Models};
use crate::library::Library;
use app::App;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The most often the screen is redrawn.
const FRAME: Duration = Duration::from_millis(100);

/// Opens the dashboard on `library`; when `ingest_roots` is given, ingests them live.
/// Closing the dashboard stops running work cleanly (the catalog stays consistent).
pub fn run(
    library: Library,
    config: Config,
    ingest_roots: Option<(Vec<PathBuf>, Models)>,
    banner: Vec<String>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let log = library.log_dir().join("reelmatch.log");
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ratatui::restore();
        previous(info);
        eprintln!("reelmatch crashed; the log is at {}", log.display());
    }));
    let mut terminal = ratatui::init();
    let result = runtime.block_on(event_loop(&mut terminal, library, config, ingest_roots, banner));
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    library: Library,
    config: Config,
    ingest_roots: Option<(Vec<PathBuf>, Models)>,
    banner: Vec<String>,
) -> anyhow::Result<()> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let mut app = App::new(library.root().display().to_string(), catalog.videos()?);
    app.banner = banner;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let cancel = Cancel::new();
    let job = ingest_roots.map(|(roots, models)| {
        let (library, config, cancel) = (library.clone(), config.clone(), cancel.clone());
        let sink = move |e: Event| {
            let _ = tx.send(e);
        };
        tokio::task::spawn_blocking(move || ingest(&library, &config, &roots, &models, &sink, &cancel))
    });
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(FRAME);
    let (mut dirty, mut reload) = (true, false);
    let mut last_reload = Instant::now();
    while !app.should_quit {
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => {
                    if let Some(action) = app.key_action(k) {
                        app.update(action);
                        dirty = true;
                    }
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Err(_)) | None => break,
                _ => {}
            },
            Some(event) = rx.recv() => {
                reload |= app.on_event(&event);
                dirty = true;
            }
            _ = tick.tick() => {
                if reload && last_reload.elapsed() >= Duration::from_millis(250) {
                    app.set_videos(catalog.videos()?);
                    reload = false;
                    dirty = true;
                    last_reload = Instant::now();
                }
                if dirty {
                    terminal.draw(|f| view::draw(f, &app))?;
                    dirty = false;
                }
            }
        }
    }
    cancel.cancel();
    if let Some(job) = job {
        match job.await {
            Ok(Err(e)) => tracing::error!("ingest: {e}"),
            Err(e) => tracing::error!("ingest task: {e}"),
            Ok(Ok(report)) => tracing::info!(?report, "ingest ended"),
        }
    }
    Ok(())
}
