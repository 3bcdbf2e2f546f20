//! The ratatui dashboard: a thin view over the library's jobs, on either catalog. Its loop,
//! generic over the ratatui backend, takes terminal events and job messages, turns them into
//! state changes and draws (at most 10 times a second); every catalog and filesystem read runs
//! as a job on a blocking thread (see [`crate::blocking`]), so the loop never waits on one. On a
//! shared catalog, which other machines change, the lists are also read again every few seconds.

mod action;
pub mod app;
mod around;
pub mod errors;
pub mod jobs;
pub mod keys;
pub mod library;
pub mod library_state;
mod messages;
pub mod mouse;
mod protocol;
pub mod query;
mod terminal;
pub mod training;
pub mod view;
pub mod widgets;

use crate::config::Config;
use crate::images::Graphics;
use crate::library::Library;
use crate::ml::Models;
use app::{App, Command, JobKind, Msg};
use crossterm::event::{Event as TermEvent, KeyEventKind};
use futures::{Stream, StreamExt};
use jobs::Jobs;
pub use messages::{error_text, model_note};
use ratatui::backend::Backend;
use ratatui::Terminal;
use ratatui_image::picker::Picker;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The most often the screen is redrawn.
const FRAME: Duration = Duration::from_millis(100);

/// The least time between two reloads of the lists while jobs change the catalog.
const RELOAD_EVERY: Duration = Duration::from_millis(250);

/// How often a catalog that other machines change is read again (leases run out, runs train
/// elsewhere, videos are registered without an announcement).
const REREAD: Duration = Duration::from_secs(2);

/// How the dashboard starts.
pub struct Options {
    pub graphics: Graphics,
    /// Configs by preset name for training (the first is the default).
    pub presets: Vec<(String, Config)>,
    /// Models to use instead of loading the configured ones (the demo's).
    pub models: Option<Models>,
    /// Commands to run one after another at start (the demo: ingest, train, query).
    pub start: Vec<Command>,
    /// Warnings that stay on screen.
    pub banner: Vec<String>,
    /// Lends the terminal to the video player and takes it back (`None`: the player runs beside
    /// the view, as in a test's backend).
    pub handover: Option<Box<dyn Handover>>,
}

/// A terminal that can be lent to another program (the player) and taken back.
pub trait Handover: Send {
    /// Gives the terminal up: the normal screen, cooked mode, no mouse, no key reading.
    fn suspend(&mut self) -> std::io::Result<()>;
    /// Takes it back for the dashboard.
    fn resume(&mut self) -> std::io::Result<()>;
}

/// Opens the dashboard on the terminal. Closing it stops running work cleanly (the catalog
/// stays consistent and a re-run resumes).
pub fn run(library: Library, config: Config, options: Options) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let log = library.log_dir().join("reelmatch.log");
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // The terminal first, so the message below lands on a normal screen (stderr, not the
        // dashboard); the crash itself goes to the log as well.
        ratatui::restore();
        tracing::error!("the dashboard crashed: {info}");
        previous(info);
        eprintln!("reelmatch crashed; the log is at {}", log.display());
    }));
    let picker = crate::images::picker(options.graphics);
    let mut terminal = ratatui::init();
    let mut options = options;
    let (keys, handover) = terminal::events();
    options.handover = Some(Box::new(handover));
    terminal::mouse(true)?;
    let result = runtime.block_on(event_loop(&mut terminal, keys, library, config, options, picker));
    let _ = terminal::mouse(false);
    ratatui::restore();
    result
}

/// The dashboard's loop over any backend and any stream of terminal events (a test drives it
/// with `TestBackend` and scripted keys). Returns when the user quits or the events end.
pub async fn event_loop<B, E>(
    terminal: &mut Terminal<B>,
    mut events: E,
    library: Library,
    config: Config,
    options: Options,
    picker: Option<Picker>,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    // Opening a CUDA device takes a moment: once, before the first frame.
    let device = crate::ml::device::label(&config.models.device);
    let _drawing = crate::blocking::mark_drawing_thread();
    let catalog = crate::backend::Backend::of(&config);
    let mut app = App::new(catalog.shown(&library), Vec::new());
    app.library.with_workers = catalog.has_workers();
    app.device = device;
    app.training.presets = options.presets.iter().map(|(n, _)| n.clone()).collect();
    app.query.weights =
        crate::search::Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
    app.query.duplicate_threshold = config.search.duplicate_threshold;
    app.banner = options.banner;
    app.picker = picker;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let player = config.player.clone();
    let mut jobs = Jobs::new(library, config, options.presets, tx, options.models);
    jobs.graphics = app.picker.as_ref().map_or(options.graphics, |p| terminal::graphics_of(p.protocol_type()));
    let mut handover = options.handover;
    // The first read settles runs a dead process left `running`; the start commands wait for it.
    let mut pending: VecDeque<Command> = VecDeque::from([Command::Reload { runs: true, settle: true }]);
    let mut start = Some(options.start);
    let mut tick = tokio::time::interval(FRAME);
    let (mut dirty, mut stale, mut stale_runs) = (true, false, false);
    // A read of the lists is under way (one at a time).
    let mut reading = false;
    let mut last_reload = Instant::now();
    while !app.should_quit {
        while let Some(command) = pending.pop_front() {
            dirty = true;
            reading |= matches!(command, Command::Reload { .. });
            // No player: say so without handing the terminal over and back.
            if let Command::Play(_) = command {
                if let Err(missing) = crate::play::find_player(&player) {
                    pending.extend(app.on_msg(Msg::Played(Err(missing))));
                    continue;
                }
            }
            match (command, handover.as_mut()) {
                // Without a display the player draws in the terminal: it has it until it ends,
                // and job messages wait in the channel. (With one, it plays in its own window as
                // a job, and the dashboard stays live.)
                (Command::Play(moment), Some(terminal_side)) if !crate::play::has_display() => {
                    terminal_side.suspend()?;
                    let (player, graphics) = (player.clone(), jobs.graphics);
                    let played = tokio::task::spawn_blocking(move || crate::play::play(&player, graphics, &moment))
                        .await
                        .unwrap_or_else(|e| Err(crate::error::Error::Invalid(format!("the player job failed: {e}"))));
                    terminal_side.resume()?;
                    // The screen was cleared on resume: a blank frame makes ratatui's previous
                    // buffer blank too, so the next draw writes every cell (`Terminal::clear`
                    // would ask the terminal for the cursor, racing the key reader).
                    terminal.draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))?;
                    pending.extend(app.on_msg(Msg::Played(played)));
                }
                (command, _) => jobs.run(command, app.query.weights),
            }
        }
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => {
                    if let Some(action) = app.key_action(k) {
                        pending.extend(app.update(action));
                        pending.extend(app.wanted_run());
                        dirty = true;
                    }
                }
                Some(Ok(TermEvent::Mouse(m))) => {
                    pending.extend(app.mouse(m));
                    pending.extend(app.wanted_run());
                    dirty = true;
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Err(_)) | None => break,
                _ => {}
            },
            Some(msg) = rx.recv() => {
                use crate::events::Event;
                stale |= msg.changes_catalog();
                stale_runs |= matches!(
                    msg,
                    Msg::Job(Event::TrainStarted { .. } | Event::TrainEpoch { .. } | Event::TrainFinished { .. })
                        | Msg::JobDone { kind: JobKind::Train, .. }
                );
                // A job that ended changed the lists: read them now, so the rows agree with the
                // status line that says it ended.
                if matches!(msg, Msg::JobDone { .. } | Msg::Job(Event::IngestFinished { .. })) {
                    pending.push_back(Command::Reload { runs: true, settle: false });
                    (stale, stale_runs) = (false, false);
                    last_reload = Instant::now();
                }
                let first_load = matches!(msg, Msg::Overview(_)) && start.is_some();
                reading &= !matches!(msg, Msg::Overview(_));
                pending.extend(app.on_msg(msg));
                pending.extend(app.wanted_run());
                if first_load {
                    pending.extend(app.chain(start.take().unwrap_or_default()));
                }
                dirty = true;
            }
            _ = tick.tick() => {
                let again = app.library.with_workers && last_reload.elapsed() >= REREAD;
                if !reading && (again || stale && last_reload.elapsed() >= RELOAD_EVERY) {
                    pending.push_back(Command::Reload { runs: stale_runs || again, settle: false });
                    (stale, stale_runs) = (false, false);
                    last_reload = Instant::now();
                }
                if dirty {
                    terminal.draw(|f| view::draw(f, &mut app))?;
                    dirty = false;
                }
            }
        }
    }
    jobs.shutdown().await;
    Ok(())
}
