//! The typed event stream every long job reports through, and cooperative cancellation.
//! The CLI renders events as progress bars or lines; the dashboard renders them as panes.

use crate::types::{EpochMetrics, ModelNote, RunStatus, StageRate, Step};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Something a job wants a person to see.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Ingestion has looked at every file under its roots.
    IngestPlanned { files: usize, to_process: usize, up_to_date: usize },
    /// Work on one video begins.
    VideoStarted { id: i64, title: String },
    /// A video enters a stage (`probe`, `frames`, `audio`).
    VideoStage { id: i64, stage: Step },
    /// Frames sampled so far out of the number the duration promises.
    VideoFrames { id: i64, done: u32, expected: u32 },
    /// A stage of one video finished: how much work it was and how long it took.
    StageRate { id: i64, rate: StageRate },
    /// Every stage of a video is done.
    VideoDone { id: i64, title: String, frames: u32 },
    /// A file failed; the rest of the library goes on.
    VideoFailed { id: Option<i64>, path: PathBuf, reason: String },
    /// Something worth knowing that is not a failure (a renamed file, a duplicate, a missing file).
    Note { path: PathBuf, message: String },
    /// A model role is missing, or a stand-in runs in its place.
    Model { note: ModelNote },
    /// Ingestion has finished (or stopped).
    IngestFinished { processed: usize, failed: usize, cancelled: bool },
    /// Augmented views of train frames run through the backbone: `done` of `total`.
    AugmentProgress { done: u32, total: u32 },
    /// A training run starts (or resumes at `first_epoch`).
    TrainStarted {
        run: i64,
        classes: Vec<String>,
        train_frames: usize,
        test_frames: usize,
        first_epoch: u32,
        epochs: u32,
        steps_per_epoch: u64,
    },
    /// One optimisation step; `step` counts from 0 over the whole run.
    TrainStep { run: i64, epoch: u32, step: u64, loss: f32 },
    /// An epoch's metrics (also sent for the part of an epoch done before a stop).
    TrainEpoch { run: i64, metrics: EpochMetrics },
    /// The run ended: done, or stopped (its head keeps what it learnt).
    TrainFinished { run: i64, status: RunStatus, epochs_done: u32 },
}

/// Where events go. Implemented for any `Fn(Event)`; must not block for long.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync> EventSink for F {
    fn emit(&self, event: Event) {
        self(event)
    }
}

/// A sink that drops everything.
pub fn discard() -> impl EventSink {
    |_: Event| {}
}

/// A cooperative stop flag shared between a job and whoever may stop it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for code that polls an `AtomicBool`.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}
