//! `reelmatch train` and `reelmatch runs`: training with a progress bar and an epoch table,
//! Ctrl-C to stop cleanly, and the runs' records, details and plots.

use super::args::RunsAction;
use crate::backend::Backend;
use crate::catalog::{RunRecords, RunRow, RunStatus};
use crate::config::Config;
use crate::events::{Event, EventSink};
use crate::library::Library;
use crate::ml::Models;
use crate::train::metrics::{pct, EpochMetrics};
use crate::train::plot;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// Renders training events: a bar on a terminal (plain lines otherwise) and one table row per epoch.
struct TrainProgress {
    bar: Mutex<Option<ProgressBar>>,
    terminal: bool,
    /// Off a terminal: the tenths of the augmented views said so far.
    said_tenths: std::sync::atomic::AtomicU32,
}

fn epoch_row(m: &EpochMetrics) -> String {
    format!(
        "{:>5} {:>10.4} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7.2}s",
        m.epoch,
        m.train_loss,
        pct(Some(m.train_accuracy)),
        m.test_loss.map(|l| format!("{l:.4}")).unwrap_or_else(|| "-".into()),
        pct(m.test_accuracy),
        pct(m.top10_class_accuracy),
        pct(m.macro_accuracy),
        m.seconds
    )
}

const TABLE_HEADER: &str = "EPOCH TRAIN LOSS TRAIN ACC  TEST LOSS  TEST ACC    TOP-10     MACRO    TIME";

impl TrainProgress {
    fn new() -> Self {
        TrainProgress {
            bar: Mutex::new(None),
            terminal: std::io::stderr().is_terminal(),
            said_tenths: std::sync::atomic::AtomicU32::new(0),
        }
    }

    fn new_bar(&self, len: u64, template: &str) {
        if !self.terminal {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(10));
        bar.set_style(ProgressStyle::with_template(template).expect("template is valid").progress_chars("=> "));
        if let Some(old) = self.bar.lock().expect("bar lock").replace(bar) {
            old.finish_and_clear();
        }
    }

    fn println(&self, line: String) {
        match self.bar.lock().expect("bar lock").as_ref() {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl EventSink for TrainProgress {
    fn emit(&self, event: Event) {
        if super::progress::quiet() {
            return;
        }
        match event {
            Event::AugmentProgress { done, total } => {
                if done == 0 {
                    eprintln!("computing {total} augmented view(s) of train frames (cached for later runs)");
                    self.new_bar(total as u64, "augment [{bar:40}] {pos}/{len} views, ETA {eta}");
                }
                if let Some(b) = self.bar.lock().expect("bar lock").as_ref() {
                    b.set_position(done as u64);
                }
                // Off a terminal (a log, CI): a line at each tenth, so a long computation is seen
                // to move.
                let tenths = (done as u64 * 10 / total.max(1) as u64) as u32;
                if !self.terminal && done > 0 && self.said_tenths.fetch_max(tenths, Ordering::Relaxed) < tenths {
                    eprintln!("augment: {done}/{total} views");
                }
            }
            Event::TrainStarted { run, classes, train_frames, test_frames, first_epoch, epochs, steps_per_epoch } => {
                let from = if first_epoch > 1 { format!(", resuming at epoch {first_epoch}") } else { String::new() };
                eprintln!(
                    "run {run}: {} classes, {train_frames} train / {test_frames} test frames, {epochs} epochs of {steps_per_epoch} steps{from}",
                    classes.len()
                );
                let steps = (epochs.saturating_sub(first_epoch - 1)) as u64 * steps_per_epoch;
                self.new_bar(steps, "train  [{bar:40}] {pos}/{len} steps, loss {msg}, ETA {eta}");
                self.println(TABLE_HEADER.to_string());
            }
            Event::TrainStep { loss, .. } => {
                if let Some(b) = self.bar.lock().expect("bar lock").as_ref() {
                    b.inc(1);
                    b.set_message(format!("{loss:.4}"));
                }
            }
            Event::TrainEpoch { metrics, .. } => self.println(epoch_row(&metrics)),
            Event::TrainFinished { .. } => {
                if let Some(b) = self.bar.lock().expect("bar lock").take() {
                    b.finish_and_clear();
                }
            }
            Event::Note { message, .. } => self.println(format!("note: {message}")),
            _ => {}
        }
    }
}

/// `reelmatch train [--resume RUN] [--json]`.
pub fn run(
    library: &Library,
    config: &Config,
    backend: &Backend,
    resume: Option<i64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (library, config, backend) = (library.clone(), config.clone(), backend.clone());
    let summary = super::until_ctrl_c("batch", move |cancel| {
        let models = Models::configured(&config, Some(&library));
        backend.train(&library, &config, &models, resume, &TrainProgress::new(), &cancel)
    })??;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{summary}");
        for c in &summary.confused {
            println!("  confused: {} taken for {} ({} test frames)", c.actual, c.predicted, c.frames);
        }
        for l in &summary.left_out {
            println!("  left out: {l}");
        }
    }
    if summary.status == RunStatus::Stopped {
        eprintln!("stopped; `reelmatch train --resume {}` continues it", summary.run);
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

fn find_run(catalog: &mut dyn RunRecords, id: i64) -> anyhow::Result<RunRow> {
    catalog.run(id)?.ok_or_else(|| anyhow::anyhow!("there is no run {id}; `reelmatch runs` lists the runs"))
}

/// `reelmatch runs [show RUN | plot RUN -o FILE | use [RUN]]`.
pub fn runs(library: &Library, backend: &Backend, action: Option<RunsAction>, json: bool) -> anyhow::Result<ExitCode> {
    let mut records = backend.runs(library)?;
    let catalog = records.as_mut();
    match action {
        None => list(catalog, json)?,
        Some(RunsAction::Show { run, json }) => {
            let row = find_run(catalog, run)?;
            let epochs = catalog.run_epochs(run)?;
            let steps = catalog.run_steps(run)?;
            if json {
                let steps: Vec<_> =
                    steps.iter().map(|(s, e, l)| serde_json::json!({"step": s, "epoch": e, "loss": l})).collect();
                let doc = serde_json::json!({"run": row, "epochs": epochs, "steps": steps});
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                println!(
                    "run {} ({}), started {}, image model {}",
                    row.id,
                    row.status.as_str(),
                    row.started_at,
                    row.image_model
                );
                println!("settings: {}", serde_json::to_string(&row.settings)?);
                println!("{TABLE_HEADER}");
                epochs.iter().for_each(|m| println!("{}", epoch_row(m)));
                if let Some(last) = epochs.last() {
                    println!("per-class test accuracy (best first):");
                    for (i, c) in last.per_class.iter().enumerate() {
                        let mark = if i < 10 { "*" } else { " " };
                        println!("  {mark} {:>6}  {} ({} frames)", pct(Some(c.accuracy)), c.title, c.frames);
                    }
                    for c in &last.confused {
                        println!("confused: {} taken for {} ({} frames)", c.actual, c.predicted, c.frames);
                    }
                }
            }
        }
        Some(RunsAction::Plot { run, out }) => {
            plot_run(catalog, run, &out)?;
            println!("wrote {}", out.display());
        }
        Some(RunsAction::Use { run }) => {
            if let Some(id) = run {
                let row = find_run(catalog, id)?;
                if row.head_file.is_none() {
                    anyhow::bail!("run {id} has no trained head (it ended before its first epoch)");
                }
            }
            catalog.set_active_run(run)?;
            match catalog.active_run()? {
                Some(r) => println!("queries use run {} when [search] space = \"head\"", r.id),
                None => println!("no run is active"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn plot_title(row: &RunRow, last: Option<&EpochMetrics>) -> String {
    format!(
        "run {} - {} epochs, {} classes - test accuracy {}",
        row.id,
        row.epochs_done,
        row.classes.len(),
        pct(last.and_then(|m| m.test_accuracy))
    )
}

fn list(catalog: &mut dyn RunRecords, json: bool) -> anyhow::Result<()> {
    let runs = catalog.runs()?;
    let active = catalog.active_run()?.map(|r| r.id);
    let rows: Vec<(RunRow, Option<EpochMetrics>)> =
        runs.into_iter().map(|r| Ok((r.clone(), catalog.run_epochs(r.id)?.pop()))).collect::<anyhow::Result<_>>()?;
    if json {
        let doc: Vec<_> = rows
            .iter()
            .map(|(r, m)| {
                serde_json::json!({
                    "run": r.id, "started_at": r.started_at, "status": r.status, "active": Some(r.id) == active,
                    "epochs": r.epochs_done, "classes": r.classes.len(), "settings": r.settings,
                    "test_accuracy": m.as_ref().and_then(|m| m.test_accuracy),
                    "top10_class_accuracy": m.as_ref().and_then(|m| m.top10_class_accuracy),
                    "macro_accuracy": m.as_ref().and_then(|m| m.macro_accuracy),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no training runs yet; `reelmatch train` starts one");
        return Ok(());
    }
    println!(
        "{:>4}  {:<20} {:<8} {:>6} {:>7} {:<24} {:>8} {:>8} {:>8}",
        "RUN", "STARTED", "STATUS", "EPOCHS", "CLASSES", "SETTINGS", "TEST", "TOP-10", "MACRO"
    );
    for (r, m) in &rows {
        let s = &r.settings;
        let settings = format!("{} lr {} bs {}", s.optimizer, s.learning_rate, s.batch_size);
        let mark = if Some(r.id) == active { "*" } else { " " };
        println!(
            "{mark}{:>3}  {:<20} {:<8} {:>6} {:>7} {:<24} {:>8} {:>8} {:>8}",
            r.id,
            r.started_at,
            r.status.as_str(),
            r.epochs_done,
            r.classes.len(),
            settings,
            pct(m.as_ref().and_then(|m| m.test_accuracy)),
            pct(m.as_ref().and_then(|m| m.top10_class_accuracy)),
            pct(m.as_ref().and_then(|m| m.macro_accuracy)),
        );
    }
    println!("(* the run queries use)");
    Ok(())
}

/// Writes a run's loss, accuracy and per-class plot as a PNG.
fn plot_run(catalog: &mut dyn RunRecords, run: i64, out: &Path) -> anyhow::Result<()> {
    let row = find_run(catalog, run)?;
    let epochs = catalog.run_epochs(run)?;
    if epochs.is_empty() {
        anyhow::bail!("run {run} has no finished epoch to plot");
    }
    plot::save_png(out, &plot_title(&row, epochs.last()), &catalog.run_steps(run)?, &epochs)?;
    Ok(())
}
