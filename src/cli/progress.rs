//! Rendering ingestion events: indicatif bars on a terminal, plain lines otherwise.

use crate::events::{Event, EventSink};
use crate::types::StageRates;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// `--quiet`: no progress, notes or paces; failures, errors and results are still said.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Says no progress from now on (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Turns events into what a person at a terminal (or a log reader) sees.
pub struct Progress {
    bars: Option<(MultiProgress, Mutex<HashMap<i64, ProgressBar>>)>,
    total: Mutex<Option<ProgressBar>>,
    /// Each stage's pace over the ingest so far.
    rates: Mutex<StageRates>,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            (MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)), Mutex::new(HashMap::new()))
        });
        Progress { bars, total: Mutex::new(None), rates: Mutex::new(StageRates::default()) }
    }

    fn line(&self, text: String) {
        let text = crate::types::printable_lines(&text).into_owned();
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn bar(&self, id: i64, f: impl FnOnce(&ProgressBar)) {
        if let Some((_, bars)) = &self.bars {
            if let Some(bar) = bars.lock().expect("progress lock").get(&id) {
                f(bar);
            }
        }
    }
}

impl EventSink for Progress {
    fn emit(&self, event: Event) {
        if quiet() && !matches!(event, Event::VideoFailed { .. }) {
            return;
        }
        match event {
            Event::IngestPlanned { files, to_process, up_to_date } => {
                self.line(format!("found {files} video(s): {to_process} to ingest, {up_to_date} up to date"));
                if let (Some((multi, _)), true) = (&self.bars, to_process > 0) {
                    let bar = multi.add(ProgressBar::new(to_process as u64));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{msg:7} [{bar:30}] {pos}/{len} videos, {elapsed} elapsed, ETA {eta} · {prefix}",
                        )
                        .expect("template is valid")
                        .progress_chars("## "),
                    );
                    bar.set_prefix("library");
                    *self.total.lock().expect("progress lock") = Some(bar);
                }
            }
            Event::VideoStarted { id, title } => match &self.bars {
                Some((multi, bars)) => {
                    let bar = multi.add(ProgressBar::new(1));
                    bar.set_style(
                        ProgressStyle::with_template("{prefix:30!} {msg:7} [{bar:30}] {pos}/{len} {eta}")
                            .expect("template is valid")
                            .progress_chars("=> "),
                    );
                    bar.set_prefix(crate::types::printable(&title).into_owned());
                    bars.lock().expect("progress lock").insert(id, bar);
                }
                None => eprintln!("[{id}] {}: started", crate::types::printable(&title)),
            },
            Event::VideoStage { id, stage } => match &self.bars {
                Some(_) => self.bar(id, |b| b.set_message(stage.name())),
                None => eprintln!("[{id}] {stage}"),
            },
            Event::VideoFrames { id, done, expected } => self.bar(id, |b| {
                b.set_length(expected.max(done) as u64);
                b.set_position(done as u64);
            }),
            Event::StageRate { id, rate } => {
                let mut rates = self.rates.lock().expect("progress lock");
                rates.add(rate);
                match self.total.lock().expect("progress lock").as_ref() {
                    Some(total) => total.set_prefix(format!("library · {}", rates.summary())),
                    None if self.bars.is_none() => eprintln!("[{id}] {}", rate.short()),
                    None => {}
                }
            }
            Event::VideoDone { id, title, frames } => {
                self.finish(id);
                self.line(format!("[{id}] {title}: done, {frames} frames"));
            }
            Event::VideoFailed { id, path, reason } => {
                if let Some(id) = id {
                    self.finish(id);
                }
                self.line(format!("FAILED {}: {reason}", path.display()));
            }
            Event::Note { path, message } => self.line(format!("note: {} {message}", path.display())),
            Event::IngestFinished { .. } => {
                // The job's report is the summary (printed by `reelmatch ingest`), after the pace.
                if let Some(total) = self.total.lock().expect("progress lock").take() {
                    total.finish_and_clear();
                }
                let rates = self.rates.lock().expect("progress lock");
                if !rates.is_empty() {
                    self.line(format!("pace per stage: {}", rates.summary()));
                }
            }
            Event::Model { note } => self.line(format!("note: {}", super::model_note(&note))),
            _ => {}
        }
    }
}

impl Progress {
    fn finish(&self, id: i64) {
        if let Some(total) = self.total.lock().expect("progress lock").as_ref() {
            total.inc(1);
        }
        if let Some((multi, bars)) = &self.bars {
            if let Some(bar) = bars.lock().expect("progress lock").remove(&id) {
                bar.finish_and_clear();
                multi.remove(&bar);
            }
        }
    }
}
