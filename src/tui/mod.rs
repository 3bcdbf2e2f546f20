//! The ratatui dashboard: a thin view over the library. The UI task only receives key events and
//! job messages and draws (at most 10 times a second); ingestion, training and queries run on
//! blocking threads through the job runner.

pub mod app;
pub mod jobs;
pub mod library;
pub mod query;
pub mod training;
pub mod view;
pub mod widgets;

use crate::catalog::Catalog;
use crate::cli::Graphics;
use crate::config::Config;
use crate::ingest::Models;
use crate::library::Library;
use app::{Action, App, Command, Msg};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use jobs::Jobs;
use ratatui_image::picker::{Picker, ProtocolType};
use std::time::{Duration, Instant};

/// The most often the screen is redrawn.
const FRAME: Duration = Duration::from_millis(100);

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
}

/// Opens the dashboard on `library`. Closing it stops running work cleanly (the catalog stays
/// consistent and a re-run resumes).
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
    let mut terminal = ratatui::init();
    let picker = picker(options.graphics);
    let result = runtime.block_on(event_loop(&mut terminal, library, config, options, picker));
    ratatui::restore();
    result
}

/// Chooses how inline images are drawn: detected, forced, or not at all.
fn picker(graphics: Graphics) -> Option<Picker> {
    let forced = match graphics {
        Graphics::None => return None,
        Graphics::Halfblocks => return Some(Picker::halfblocks()),
        Graphics::Kitty => Some(ProtocolType::Kitty),
        Graphics::Sixel => Some(ProtocolType::Sixel),
        Graphics::Iterm2 => Some(ProtocolType::Iterm2),
        Graphics::Auto => None,
    };
    // Inside tmux the terminal query usually goes unanswered, and ratatui-image's reader thread
    // then swallows the first key pressed: use half blocks there unless told otherwise.
    let in_tmux = std::env::var_os("TMUX").is_some()
        || std::env::var("TERM").is_ok_and(|t| t.starts_with("screen") || t.starts_with("tmux"));
    if forced.is_none() && in_tmux {
        return Some(Picker::halfblocks());
    }
    let mut p = Picker::from_query_stdio().unwrap_or_else(|e| {
        tracing::info!("terminal graphics query failed ({e}); using half blocks");
        Picker::halfblocks()
    });
    if let Some(t) = forced {
        p.set_protocol_type(t);
    }
    tracing::info!(protocol = ?p.protocol_type(), "inline images");
    Some(p)
}

/// Re-reads the video list, and the runs when `runs` (only training changes them).
fn reload(app: &mut App, catalog: &Catalog, runs: bool) -> anyhow::Result<()> {
    app.set_videos(catalog.videos()?);
    if runs {
        app.training.runs = training::load_runs(catalog)?;
    }
    show_wanted_run(app, catalog)
}

/// Loads the run the training pane should show, when that changed.
fn show_wanted_run(app: &mut App, catalog: &Catalog) -> anyhow::Result<()> {
    if let Some(id) = app.training.wanted() {
        app.training.show_run(catalog, id)?;
    }
    Ok(())
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    library: Library,
    config: Config,
    options: Options,
    picker: Option<Picker>,
) -> anyhow::Result<()> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let mut app = App::new(library.root().display().to_string(), catalog.videos()?);
    crate::train::settle_dead_runs(&library, &catalog)?;
    app.training.runs = training::load_runs(&catalog)?;
    show_wanted_run(&mut app, &catalog)?;
    app.training.presets = options.presets.iter().map(|(n, _)| n.clone()).collect();
    app.query.weights =
        crate::search::Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
    app.banner = options.banner;
    app.picker = picker;
    let graphics = options.graphics;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let mut jobs = Jobs::new(library.clone(), config, options.presets, tx, options.models);
    let mut pending = app.chain(options.start);
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(FRAME);
    let (mut dirty, mut stale, mut stale_runs) = (true, false, false);
    let mut last_reload = Instant::now();
    while !app.should_quit {
        if let Some(command) = pending.take() {
            match command {
                Command::Preview(query, matched, caption) => {
                    show_preview(query, matched, &caption, graphics)?;
                    app.previewing = true;
                }
                other => jobs.run(other, app.query.weights),
            }
            dirty = true;
        }
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => {
                    let was_previewing = app.previewing;
                    if let Some(action) = app.key_action(k) {
                        pending = app.update(action);
                        show_wanted_run(&mut app, &catalog)?;
                        if was_previewing && action == Action::CloseOverlay {
                            crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
                            terminal.clear()?;
                        }
                        dirty = true;
                    }
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Err(_)) | None => break,
                _ => {}
            },
            Some(msg) = rx.recv() => {
                use crate::events::Event;
                stale |= !matches!(msg, Msg::Answer(_) | Msg::Inspected(_) | Msg::Job(Event::TrainStep { .. }));
                stale_runs |= matches!(
                    msg,
                    Msg::Job(Event::TrainStarted { .. } | Event::TrainEpoch { .. } | Event::TrainFinished { .. })
                        | Msg::JobDone { kind: app::JobKind::Train, .. }
                );
                pending = app.on_msg(msg);
                dirty = true;
            }
            _ = tick.tick() => {
                if stale && last_reload.elapsed() >= Duration::from_millis(250) {
                    reload(&mut app, &catalog, stale_runs)?;
                    (stale, stale_runs) = (false, false);
                    dirty = true;
                    last_reload = Instant::now();
                }
                if dirty && !app.previewing {
                    terminal.draw(|f| view::draw(f, &mut app))?;
                    dirty = false;
                }
            }
        }
    }
    jobs.shutdown().await;
    Ok(())
}

/// Leaves the dashboard's screen and prints the query frame beside the matched frame with viuer
/// (half blocks unless kitty or iTerm2 graphics were asked for); any key returns.
fn show_preview(
    query: Option<image::DynamicImage>,
    matched: Option<image::DynamicImage>,
    caption: &str,
    graphics: Graphics,
) -> anyhow::Result<()> {
    use crossterm::{cursor::MoveTo, execute, terminal};
    let mut out = std::io::stdout();
    execute!(out, terminal::LeaveAlternateScreen, terminal::Clear(terminal::ClearType::All), MoveTo(0, 0))?;
    let (cols, _) = terminal::size().unwrap_or((80, 24));
    let graphics = if matches!(graphics, Graphics::Kitty | Graphics::Iterm2) { graphics } else { Graphics::Halfblocks };
    crate::cli::side_by_side(query.as_ref(), matched.as_ref(), caption, graphics, cols)?;
    Ok(())
}
