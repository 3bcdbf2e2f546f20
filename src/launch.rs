//! The binary's front door: parses the command line and hands it to the dashboard (no command,
//! `tui`, or `demo` on a terminal) or to the headless CLI. The only module that knows both.

use crate::backend::Backend;
use crate::cli::{self, Cli, Command};
use crate::ml::Models;
use crate::pipeline::QueryRequest;
use crate::tui::{self, app::Command as Do};
use std::io::IsTerminal;
use std::process::ExitCode;

/// Parses the command line, runs it, and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = cli::parse();
    let code = cli::exit_code(run(cli));
    report_peak_memory();
    code
}

pub use crate::cli::EXIT_CLOSED_PIPE;

/// Ends the process quietly with [`EXIT_CLOSED_PIPE`] when printing to standard output fails
/// because its reader has gone, instead of a panic message and 101. (SIGPIPE stays ignored, so a
/// database socket or a child's pipe that closes is an error to handle, never a silent death.)
fn quiet_on_closed_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // `println!`'s own words (a panic elsewhere that mentions a pipe is a bug, and says so).
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(EXIT_CLOSED_PIPE);
        }
        previous(info);
    }));
}

/// With `REELMATCH_PEAK_RSS` set, says this process's own peak resident set on stderr as it
/// ends (not its ffmpeg children's): what `scripts/peak.sh` and the benches read.
fn report_peak_memory() {
    if std::env::var_os("REELMATCH_PEAK_RSS").is_none() {
        return;
    }
    // SAFETY: getrusage only writes the struct it is given, which is valid and writable.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
        eprintln!("reelmatch peak RSS: {} KiB", usage.ru_maxrss);
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (config, library) = cli::setup(&cli)?;
    let on_terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let options = |models, start, banner| tui::Options {
        graphics: cli.graphics,
        presets: cli::presets(&cli, &config),
        models,
        start,
        banner,
        handover: None, // tui::run lends its own terminal
    };
    // One dashboard for either catalog; without a terminal, `cli::run` says what to run instead.
    match cli.command {
        Some(Command::Tui) | None if on_terminal => {
            tui::run(library, config.clone(), options(None, Vec::new(), Vec::new()))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo) if on_terminal => {
            // The dashboard runs ingest → train → a first query live (on a shared catalog this
            // machine ingests as one of its workers, once its schema is set up).
            if let Some(said) = Backend::of(&config).set_up()? {
                eprintln!("{said}");
            }
            let media = cli::demo_media(&library, &config)?;
            let models = Models::for_demo(&config, &library);
            let banner = models.notes().iter().map(tui::model_note).collect();
            let start = vec![
                Do::Ingest(vec![media]),
                Do::Train { preset: "default".into() },
                Do::Query(QueryRequest::Video(0)),
            ];
            tui::run(library, config.clone(), options(Some(models), start, banner))?;
            Ok(ExitCode::SUCCESS)
        }
        _ => cli::run(cli, &library, &config),
    }
}
