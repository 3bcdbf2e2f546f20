//! The headless command line: argument parsing and one small module per subcommand.

mod args;
mod check;
mod fingerprint;
mod ingest;
mod library;
mod models;
mod preview;
mod progress;
mod search;
mod shared;
mod train;

pub use args::{Cli, Command, ModelsAction, RunsAction};

use crate::backend::{Backend, IngestOptions};
use crate::config::Config;
use crate::library::Library;
use crate::ml::{ModelNote, Models};
use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;

/// Exit code when a run finished but some files failed.
pub const EXIT_SOME_FAILED: u8 = 2;

/// The exit status of a command whose reader went away (`reelmatch library | head -1`): what a
/// process ended by SIGPIPE reports, as `git` and `cat` do.
pub const EXIT_CLOSED_PIPE: i32 = 141;

/// Writes `bytes` to standard output; a reader that went away ends the command quietly with
/// [`EXIT_CLOSED_PIPE`].
fn print_out(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::from(EXIT_CLOSED_PIPE as u8)),
        Err(e) => Err(e.into()),
    }
}

/// Exit code of a command line that cannot be parsed (sysexits' EX_USAGE), apart from
/// [`EXIT_SOME_FAILED`].
pub const EXIT_USAGE: i32 = 64;

/// Parses the command line and prepares the process for the work it asks for. A command line
/// that cannot be parsed ends the process with [`EXIT_USAGE`] (clap's own 2 would read as "some
/// files failed"); `--help` and `--version` with 0.
pub fn parse() -> Cli {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    crate::init_process(cli.threads);
    progress::set_quiet(cli.quiet);
    cli
}

/// Turns the outcome of a command into its exit code, printing the error if there was one.
pub fn exit_code(outcome: anyhow::Result<ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(e) if matches!(e.downcast_ref::<crate::Error>(), Some(crate::Error::Cancelled)) => {
            eprintln!("{e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {}", crate::types::printable_lines(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// The config and library the command line names (flags over config files over defaults);
/// opening the library makes its folders and starts the log.
pub fn setup(cli: &Cli) -> anyhow::Result<(Config, Library)> {
    let mut config = Config::load(cli.preset.as_deref(), cli.config.as_deref())?;
    config.models.offline |= cli.offline;
    if let Some(url) = &cli.catalog {
        if !url.is_empty() && !crate::shared::is_url(url) {
            anyhow::bail!(
                "--catalog {}: give a PostgreSQL connection string (postgres://USER@HOST/DATABASE); the embedded catalog is the library folder's own (--library DIR)",
                crate::redact::url(url)
            );
        }
        config.catalog.url = url.clone();
    }
    if let Some(d) = &cli.device {
        crate::ml::parse_device(d)?;
        config.models.device = d.clone();
    }
    for (flag, slot) in [
        (&cli.image_model, &mut config.models.image.path),
        (&cli.text_model, &mut config.models.text.path),
        (&cli.speech_model, &mut config.models.speech.path),
        (&cli.vision_text_model, &mut config.models.vision_text.path),
    ] {
        if let Some(p) = flag {
            *slot = p.clone();
        }
    }
    let dir = match &cli.library {
        Some(dir) => dir.clone(),
        None => {
            let base = Library::default_dir().context("this platform has no data directory; pass --library DIR")?;
            if matches!(cli.command, Some(Command::Demo)) {
                base.join("demo")
            } else {
                base
            }
        }
    };
    let library = match (needs(cli.command.as_ref()), config.catalog.shared()) {
        // Model commands and `migrate` keep nothing in a library folder: none is made.
        (Needs::Nothing, _) => return Ok((config, Library::at(&dir))),
        // A command that reads a library makes none where the folder is not there (a mistyped
        // `--library` path): its arguments are checked, and opening the catalog then fails
        // (see [`run`]).
        (Needs::Existing, None) if !dir.exists() => return Ok((config, Library::at(&dir))),
        _ => Library::open(&dir)?,
    };
    init_logging(&library);
    Ok((config, library))
}

/// `outcome`, with an error in opening a file of a library folder that is not there (its
/// catalog, its writer lock) said as that.
fn missing_library(library: &Library, outcome: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    let Err(e) = &outcome else { return outcome };
    let in_library = match e.downcast_ref::<crate::Error>() {
        Some(crate::Error::Catalog { path, .. } | crate::Error::Io { path, .. }) => path.starts_with(library.root()),
        _ => false,
    };
    if library.root().exists() || !in_library {
        return outcome;
    }
    let dir = library.root().display();
    anyhow::bail!(
        "there is no library at {dir}, so no ingested videos: check the --library path, or make one there with `reelmatch --library {dir} ingest DIR`"
    )
}

/// What a command needs of the library folder.
enum Needs {
    /// It may make the library (ingest, the demo, the dashboard; a shared catalog's copy).
    Creates,
    /// It reads a library that must be there already.
    Existing,
    /// It keeps nothing in a library.
    Nothing,
}

fn needs(command: Option<&Command>) -> Needs {
    match command {
        None | Some(Command::Tui | Command::Demo | Command::Ingest { .. }) => Needs::Creates,
        Some(Command::Library { action: Some(args::LibraryAction::Import { .. }), .. }) => Needs::Creates,
        Some(
            Command::Models { .. }
            | Command::Transcribe { .. }
            | Command::Fingerprint { .. }
            | Command::Embed { .. }
            | Command::Migrate
            | Command::Completions { .. }
            | Command::Manpage
            | Command::Config,
        ) => Needs::Nothing,
        Some(_) => Needs::Existing,
    }
}

/// Runs a headless command (anything but the dashboard), on the catalog the configuration
/// names; a command that has meaning on one kind of catalog only says why in [`refusal`].
pub fn run(cli: Cli, library: &Library, config: &Config) -> anyhow::Result<ExitCode> {
    missing_library(library, dispatch(cli, library, config))
}

fn dispatch(cli: Cli, library: &Library, config: &Config) -> anyhow::Result<ExitCode> {
    let (library, config) = (library.clone(), config.clone());
    let backend = Backend::of(&config);
    if let Some(why) = refusal(cli.command.as_ref(), &backend) {
        anyhow::bail!(why);
    }
    let say = |line: String| eprintln!("{line}");
    match cli.command {
        Some(Command::Migrate) => {
            println!("{}", backend.set_up()?.unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Ingest { paths, worker, path_map, retry_failed }) => {
            // A plain `ingest` on a shared catalog is one worker that, as embedded ingestion does,
            // tries the videos that failed again; `--worker` shares the queue with others.
            let options = IngestOptions { path_map, retry_failed: retry_failed || !worker };
            let models = Models::configured(&config, Some(&library));
            ingest::run(&library, &config, &backend, paths, options, models)
        }
        Some(Command::Library { action: Some(args::LibraryAction::Export { to, path_map }), .. }) => {
            shared::export(&library, &config, &to, path_map)
        }
        Some(Command::Library { action: Some(args::LibraryAction::Import { from, path_map }), .. }) => {
            shared::import(&library, &config, &from, path_map)
        }
        Some(Command::Library { action: None, json, follow: true }) => {
            shared::follow(&library, &config, &backend, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Library { action: None, json, follow: false }) => {
            library::list(&library, &config, &backend, json)
        }
        Some(Command::Demo) => demo(&library, &config, &backend),
        Some(Command::Models { action: Some(ModelsAction::Check { images, text, audio, batches, out }), .. }) => {
            check::run(&config, &check::Inputs { images, text, audio, batches }, &out)
        }
        Some(Command::Models { action, json }) => models::run(&config, action, json),
        Some(Command::Transcribe { file, language, json }) => models::transcribe(&config, &file, language, json),
        Some(Command::Embed { what }) => models::embed(&config, what),
        Some(Command::Fingerprint { file, against, json }) => {
            fingerprint::run(&config, &file, against.as_deref(), json)
        }
        Some(similar @ Command::Similar { .. }) => {
            search::similar(&library, &config, &backend, similar_args(similar, &config, cli.graphics)?)
        }
        Some(Command::Eval { space, json }) => {
            let local = backend.local(&library, &config, true, &say)?;
            search::eval(&local.library, &config, space, json)
        }
        Some(Command::Dupes { threshold, not_duplicate, undo, all, relation, json }) => {
            let decide = decision(not_duplicate, undo);
            let local = backend.local(&library, &config, false, &say)?;
            search::dupes(&local, &config, search::DupesArgs { threshold, decide, all, relation, json })
        }
        Some(Command::Train { resume, yes, json }) => {
            train::run(&library, &train_config(&config, yes), &backend, resume, json)
        }
        Some(Command::Runs { action, json }) => train::runs(&library, &backend, action, json),
        Some(Command::Export { what: args::ExportWhat::Frames { layout: _, out } }) => {
            let local = backend.local(&library, &config, false, &say)?;
            library::export(&local.library, &out)
        }
        Some(Command::Index { action }) => {
            let rebuild = matches!(action, args::IndexAction::Rebuild);
            backend.refresh_index(&library, &config, rebuild, &|line| println!("{line}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Completions { shell }) => {
            let (mut command, mut script) = (<Cli as clap::CommandFactory>::command(), Vec::new());
            clap_complete::generate(shell, &mut command, "reelmatch", &mut script);
            print_out(&script)
        }
        Some(Command::Config) => print_out(Config::explain(cli.preset.as_deref(), cli.config.as_deref())?.as_bytes()),
        Some(Command::Manpage) => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut page)?;
            print_out(&page)
        }
        Some(Command::Tui) | None => anyhow::bail!("the dashboard is not a headless command"),
    }
}

/// Why `command` has no meaning on this kind of catalog, if it has none: the one place that
/// says so.
fn refusal(command: Option<&Command>, backend: &Backend) -> Option<String> {
    let shared = |url: &str| crate::shared::shown(url);
    let why = match (command, backend) {
        // (`launch` opens the dashboard on a terminal; this is what a script that asked for it gets.)
        (None | Some(Command::Tui), Backend::Shared(_)) => {
            "the dashboard needs a terminal (stdin and stdout); from a script, `reelmatch --catalog URL library --follow` shows every worker's progress as it happens".to_string()
        }
        (None | Some(Command::Tui), Backend::Embedded) => {
            "the dashboard needs a terminal (stdin and stdout); from a script, `reelmatch library` lists the videos and `reelmatch --help` the commands".to_string()
        }
        (Some(Command::Ingest { worker: true, .. }), Backend::Embedded) => {
            "ingest --worker works a shared catalog's queue: pass --catalog postgres://USER@HOST/DATABASE (or set REELMATCH_CATALOG)".to_string()
        }
        (Some(Command::Ingest { retry_failed: true, .. }), Backend::Embedded) => {
            "--retry-failed is for a shared catalog's queue (--catalog URL); an embedded ingest tries the files that failed again on every run".to_string()
        }
        (Some(Command::Migrate), Backend::Embedded) => {
            "migrate sets up a shared catalog: pass --catalog postgres://USER@HOST/DATABASE (the embedded catalog migrates itself when opened)".to_string()
        }
        (Some(Command::Library { follow: true, .. }), Backend::Embedded) => {
            "library --follow shows the progress of workers on a shared catalog: pass --catalog postgres://USER@HOST/DATABASE".to_string()
        }
        (Some(Command::Library { action: Some(args::LibraryAction::Export { .. } | args::LibraryAction::Import { .. }), .. }), Backend::Shared(url)) => {
            format!(
                "library export and import move an embedded library up and back: run them without --catalog, with --library DIR and --to/--from {}",
                shared(url)
            )
        }
        _ => return None,
    };
    Some(why)
}

/// The fusion weights of `similar`: the flags over `[search]`, checked.
fn search_weights(config: &Config, visual: Option<f32>, lyrics: Option<f32>) -> anyhow::Result<crate::search::Weights> {
    let weights = crate::search::Weights {
        visual: visual.unwrap_or(config.search.visual_weight),
        lyrics: lyrics.unwrap_or(config.search.lyrics_weight),
    };
    weights.check("--visual", "--lyrics-weight")?;
    Ok(weights)
}

/// The config `train` runs with: `--yes` takes augmented views of any length without asking.
fn train_config(config: &Config, yes: bool) -> Config {
    let mut config = config.clone();
    if yes {
        config.train.views_ask_over_minutes = 0.0;
    }
    config
}

/// `dupes`' decision, if its flags ask for one.
fn decision(not_duplicate: Vec<String>, undo: Vec<String>) -> Option<search::Decide> {
    match (not_duplicate.as_slice(), undo.as_slice()) {
        ([a, b], _) => Some(search::Decide::NotDuplicate(a.clone(), b.clone())),
        (_, [a, b]) => Some(search::Decide::Undo(a.clone(), b.clone())),
        _ => None,
    }
}

/// `similar`'s arguments from its command line, with the config's defaults for what the command
/// line leaves out.
fn similar_args(
    command: Command,
    config: &Config,
    graphics: crate::images::Graphics,
) -> anyhow::Result<search::SimilarArgs> {
    let Command::Similar {
        video,
        file,
        image,
        lyrics,
        describe,
        visual,
        lyrics_weight,
        top,
        include_self,
        preview,
        space,
        within,
        m3u,
        play,
        json,
    } = command
    else {
        anyhow::bail!("not a `similar` command");
    };
    Ok(search::SimilarArgs {
        video,
        file,
        image,
        lyrics,
        describe,
        weights: search_weights(config, visual, lyrics_weight)?,
        top: top.unwrap_or(config.search.top),
        include_self,
        preview,
        graphics,
        space,
        within,
        m3u,
        play,
        json,
    })
}

/// The configs the dashboard trains with: the one in force, then each shipped preset layered the
/// same way (user file, preset, `--config`).
pub fn presets(cli: &Cli, config: &Config) -> Vec<(String, Config)> {
    let mut presets = vec![("default".to_string(), config.clone())];
    for (name, _) in crate::config::PRESETS {
        if let Ok(c) = Config::load(Some(name), cli.config.as_deref()) {
            presets.push((name.to_string(), c));
        }
    }
    presets
}

/// Makes the demo clips (see [`demo_media`]) and their models; the dashboard shows them live
/// when there is a terminal, and this is the headless demo: ingest and train with plain
/// progress, then list the library. On a shared catalog its schema is set up first and one
/// worker ingests the clips.
fn demo(library: &Library, config: &Config, backend: &Backend) -> anyhow::Result<ExitCode> {
    if let Some(said) = backend.set_up()? {
        println!("{said}");
    }
    let media = demo_media(library, config)?;
    // The models' notes are said once, by the ingest.
    let models = Models::for_demo(config, library);
    let has_image = models.image().is_some();
    let options = IngestOptions { path_map: Vec::new(), retry_failed: true };
    let code = ingest::run(library, config, backend, vec![media], options, models)?;
    library::list(library, config, backend, false)?;
    if has_image {
        train::run(library, config, backend, None, false)?;
    }
    let (what, how) = match backend.has_workers() {
        false => ("library", "use --library with any command to explore it"),
        true => ("catalog", "`reelmatch --catalog URL` opens its dashboard; any command explores it"),
    };
    eprintln!("demo {what}: {} ({how})", backend.shown(library));
    Ok(code)
}

/// Writes the demo clips into the library's `media/` folder, saying so; returns the folder.
pub fn demo_media(library: &Library, config: &Config) -> anyhow::Result<std::path::PathBuf> {
    let media = library.root().join("media");
    let voice =
        if crate::demo::has_espeak() { "lyrics spoken by espeak-ng" } else { "tones only: espeak-ng is not installed" };
    eprintln!("making demo clips in {} ({voice})…", media.display());
    let made = |n: usize, of: usize, title: &str| {
        if !progress::quiet() {
            eprintln!("  clip {n}/{of}: {title}");
        }
    };
    crate::demo::make_demo_media(&config.tools.ffmpeg, &media, &made)?;
    Ok(media)
}

/// A model note as the command line says it, with the flag that fixes it.
pub fn model_note(note: &ModelNote) -> String {
    match note {
        ModelNote::Missing { role, reason } => {
            format!("{} this run (pass {} DIR): {reason}", note.consequence(), role.flag())
        }
        ModelNote::RandomImage { .. } => note.consequence().to_string(),
    }
}

/// Runs `job` on a blocking thread; the first Ctrl-C asks it to stop after the current `unit`
/// (through the cancel flag it gets), a second one exits with 130 at once.
fn until_ctrl_c<T: Send + 'static>(
    unit: &'static str,
    job: impl FnOnce(crate::events::Cancel) -> T + Send + 'static,
) -> anyhow::Result<T> {
    let cancel = crate::events::Cancel::new();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(async {
        let on_signal = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping after the current {unit}… (Ctrl-C again to abort)");
                on_signal.cancel();
                let _ = tokio::signal::ctrl_c().await;
                crate::media::child::kill_children();
                std::process::exit(130);
            }
        });
        Ok(tokio::task::spawn_blocking(move || job(cancel)).await?)
    })
}

/// Logs go to `<library>/logs/reelmatch.log`, never to the screen.
fn init_logging(library: &Library) {
    let path = library.log_dir().join("reelmatch.log");
    let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(&path) else { return };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REELMATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}
