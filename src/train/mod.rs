//! Training the video classifier: a linear head (one class per video) over the frozen ResNet-50
//! features cached in the catalog, plus the features of augmented train frames; every step and
//! epoch reported as events, every epoch stored, the head saved with its run.

pub mod augment;
pub mod dataset;
pub mod fit;
pub mod head;
mod isometry;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod samples;
pub mod views;

use crate::catalog::{Catalog, NewRun, RunRow, RunStatus};
use crate::config::Config;
use crate::error::{Error, Remedy, Result};
use crate::events::{Cancel, Event, EventSink};
use crate::library::Library;
use crate::ml::image::ImageEmbedder;
use crate::types::pct;
use fit::{fit_on, steps_per_epoch, FitSettings, Progress, Resume, GPU_TRAINING_FROM};
use head::Head;
use metrics::{Confused, EpochMetrics};
use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;

/// What `reelmatch train --json` prints. Accuracies are fractions in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run: i64,
    pub status: RunStatus,
    /// Complete epochs.
    pub epochs: u32,
    pub test_accuracy: Option<f64>,
    pub top10_class_accuracy: Option<f64>,
    pub macro_accuracy: Option<f64>,
    /// How many classes (videos) the head tells apart.
    pub classes: usize,
    pub class_titles: Vec<String>,
    pub left_out: Vec<String>,
    pub confused: Vec<Confused>,
    pub train_frames: usize,
    pub augmented_frames: usize,
    pub test_frames: usize,
    pub seconds: f64,
    /// The head's safetensors file.
    pub head: Option<String>,
}

impl std::fmt::Display for RunSummary {
    /// The one-line summary every frontend shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {}: {} after {} epoch(s) in {:.1}s — test accuracy {}, top-10 class accuracy {}, macro accuracy {} ({} classes)",
            self.run,
            self.status.as_str(),
            self.epochs,
            self.seconds,
            pct(self.test_accuracy),
            pct(self.top10_class_accuracy),
            pct(self.macro_accuracy),
            self.classes
        )
    }
}

/// The image model to train on: the embedder's if the catalog has its features, else the most used.
fn image_model(catalog: &Catalog, embedder: Option<&ImageEmbedder>) -> Result<String> {
    let preferred = embedder.map(|e| e.model_id.as_str());
    crate::catalog::preferred_model(catalog.image_models()?, preferred)
        .ok_or_else(|| Error::not_ready("the library has no frame features to train on", Remedy::IngestWithImageModel))
}

/// Marks runs left `running` by a process that died as stopped, when no process (this one
/// included) is writing the library; a run that is really going on is left alone. For views.
pub fn settle_dead_runs(library: &Library, catalog: &Catalog) -> Result<()> {
    if let Some(_alone) = crate::lock::WriterLock::try_acquire(library, "checking runs", false)? {
        catalog.mark_interrupted_runs()?;
    }
    Ok(())
}

/// Trains a head on the library (a new run, or `resume`s a stopped one), reporting through `sink`.
/// `embedder` computes augmented views when `[train] augmented_views` > 0 (skipped without one).
/// A stop through `cancel` ends the run after the current batch, keeping what it learnt.
pub fn train(
    library: &Library,
    config: &Config,
    embedder: Option<&ImageEmbedder>,
    resume: Option<i64>,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<RunSummary> {
    let started = Instant::now();
    let _writer = crate::lock::WriterLock::acquire(library, "training", cancel, |holder| {
        let message = format!("{holder}; waiting for it to finish (stop with Ctrl-C or s)");
        sink.emit(Event::Note { path: library.root().to_path_buf(), message });
    })?;
    let catalog = Catalog::open(&library.catalog_path())?;
    catalog.mark_interrupted_runs()?;
    let previous = resume.map(|id| resumable(library, &catalog, id)).transpose()?;
    let model = match &previous {
        Some((run, _)) => run.image_model.clone(),
        None => image_model(&catalog, embedder)?,
    };
    let settings = match &previous {
        Some((run, _)) => run.settings.clone(),
        None => FitSettings::from_config(&config.train, config.train.seed),
    };
    let views = config.train.augmented_views;
    let class_ids = dataset::class_ids(&catalog, &model, config.train.min_train_frames)?;
    if views > 0 {
        match embedder.filter(|e| e.model_id == model) {
            Some(e) => {
                let videos: HashSet<i64> = class_ids.iter().copied().collect();
                views::ensure_views(library, &catalog, e, &config.train, &videos, sink, cancel)?;
            }
            None => sink.emit(Event::Note {
                path: library.root().to_path_buf(),
                message: format!("augmented views skipped: the image model {model} is not loaded"),
            }),
        }
    }
    let loaded = dataset::load(&catalog, &model, config.train.min_train_frames, views)?;
    let data = &loaded.data;
    let (run, head_before) = match previous {
        Some((run, head)) => {
            if run.class_ids != loaded.class_ids {
                return Err(Error::not_ready(
                    format!("the library's videos changed since run {} (its classes differ)", run.id),
                    Remedy::NewRun,
                ));
            }
            catalog.reopen_run(run.id)?;
            (run, Some(head))
        }
        None => {
            if data.titles.len() < 2 {
                return Err(Error::not_ready(
                    format!(
                        "training needs at least two videos with {} or more train frames; this library has {}{}",
                        config.train.min_train_frames,
                        data.titles.len(),
                        if loaded.left_out.is_empty() {
                            String::new()
                        } else {
                            format!(" (left out: {})", loaded.left_out.join("; "))
                        }
                    ),
                    Remedy::IngestMore,
                ));
            }
            let id = catalog.insert_run(&NewRun {
                image_model: &model,
                settings: &settings,
                classes: &data.titles,
                class_ids: &loaded.class_ids,
                left_out: &loaded.left_out,
            })?;
            (catalog.run(id)?.expect("the run was just inserted"), None)
        }
    };
    let head_rel = format!("runs/{}/head.safetensors", run.id);
    let head_path = library.resolve(&head_rel);
    sink.emit(Event::TrainStarted {
        run: run.id,
        classes: data.titles.clone(),
        train_frames: data.train.len(),
        test_frames: data.test.len(),
        first_epoch: run.epochs_done + 1,
        epochs: settings.epochs,
        steps_per_epoch: steps_per_epoch(data.train.len(), settings.batch_size),
    });
    let mut steps: Vec<(u64, u32, f32)> = Vec::new();
    let mut on = |p: Progress| -> Result<()> {
        match p {
            Progress::Step { epoch, step, loss } => {
                steps.push((step, epoch, loss));
                sink.emit(Event::TrainStep { run: run.id, epoch, step, loss });
            }
            Progress::Epoch { metrics, head, complete } => {
                head.save(&head_path)?;
                let done = if complete { metrics.epoch } else { metrics.epoch - 1 };
                catalog.store_epoch(run.id, &steps, metrics, done)?;
                catalog.finish_run(run.id, RunStatus::Running, None, Some(&head_rel))?;
                steps.clear();
                sink.emit(Event::TrainEpoch { run: run.id, metrics: metrics.clone() });
            }
        }
        Ok(())
    };
    let resume = head_before.as_ref().map(|h| Resume { head: h, epochs_done: run.epochs_done });
    let device = training_device(config, data);
    let outcome = fit_on(&device, data, &settings, resume, &mut on, cancel);
    let fitted = match outcome {
        Ok(f) => f,
        Err(e) => {
            catalog.finish_run(run.id, RunStatus::Failed, Some(&e.to_string()), None)?;
            return Err(e);
        }
    };
    fitted.head.save(&head_path)?;
    let status = if fitted.stopped { RunStatus::Stopped } else { RunStatus::Done };
    catalog.finish_run(run.id, status, None, Some(&head_rel))?;
    sink.emit(Event::TrainFinished { run: run.id, status, epochs_done: fitted.epochs_done });
    let last: Option<EpochMetrics> = catalog.run_epochs(run.id)?.pop();
    Ok(RunSummary {
        run: run.id,
        status,
        epochs: fitted.epochs_done,
        test_accuracy: last.as_ref().and_then(|m| m.test_accuracy),
        top10_class_accuracy: last.as_ref().and_then(|m| m.top10_class_accuracy),
        macro_accuracy: last.as_ref().and_then(|m| m.macro_accuracy),
        classes: data.titles.len(),
        class_titles: data.titles.clone(),
        left_out: loaded.left_out.clone(),
        confused: last.map(|m| m.confused).unwrap_or_default(),
        train_frames: data.train.len() - loaded.augmented,
        augmented_frames: loaded.augmented,
        test_frames: data.test.len(),
        seconds: started.elapsed().as_secs_f64(),
        head: Some(head_path.display().to_string()),
    })
}

/// A run that can be continued, with its head.
fn resumable(library: &Library, catalog: &Catalog, id: i64) -> Result<(RunRow, Head)> {
    let run = catalog.run(id)?.ok_or_else(|| Error::not_ready(format!("there is no run {id}"), Remedy::ListRuns))?;
    let epochs = run.settings.epochs;
    if run.status == RunStatus::Done && run.epochs_done >= epochs {
        return Err(Error::not_ready(format!("run {id} already finished its {epochs} epochs"), Remedy::NewRun));
    }
    let Some(file) = &run.head_file else {
        return Err(Error::not_ready(
            format!("run {id} stopped before its first epoch ended, so it has nothing to resume"),
            Remedy::NewRun,
        ));
    };
    let head = Head::load(&library.resolve(file), &candle_core::Device::Cpu)?;
    Ok((run, head))
}

/// The head of the run queries use, if there is one: (run, head).
pub fn active_head(library: &Library, catalog: &Catalog) -> Result<Option<(RunRow, Head)>> {
    let Some(run) = catalog.active_run()? else { return Ok(None) };
    let Some(file) = &run.head_file else { return Ok(None) };
    let head = Head::load(&library.resolve(file), &candle_core::Device::Cpu)?;
    Ok(Some((run, head)))
}

/// Where training's products run: the configured CUDA device for a large enough dataset, else
/// the CPU (a device that cannot be opened is the CPU, with a note in the log).
fn training_device(config: &Config, data: &fit::Dataset) -> candle_core::Device {
    if data.train.len() * data.dim < GPU_TRAINING_FROM {
        return candle_core::Device::Cpu;
    }
    match crate::ml::load::configured_device(config) {
        Ok(d) if d.is_cuda() => {
            tracing::info!("training on {d:?}: {} train frames", data.train.len());
            d
        }
        Ok(_) => candle_core::Device::Cpu,
        Err(e) => {
            tracing::warn!("training on the CPU: {e}");
            candle_core::Device::Cpu
        }
    }
}
