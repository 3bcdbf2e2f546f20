//! The library pane's state: the videos listed and the one selected, each video's live
//! ingestion progress and the whole ingest's, and on a shared catalog the workers' claims and log;
//! it applies its own events (`tui/library.rs` draws it).

use crate::catalog::{Status, VideoRow};
use crate::events::Event;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Live progress of one video being ingested.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub stage: &'static str,
    pub done: u32,
    pub expected: u32,
}

/// Progress of the running ingest: videos done of total, since when.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestProgress {
    pub total: usize,
    pub done: usize,
    pub started: Instant,
    /// Each stage's pace so far.
    pub rates: crate::types::StageRates,
}

impl IngestProgress {
    /// Videos per minute so far.
    pub fn per_minute(&self) -> Option<f64> {
        let minutes = self.started.elapsed().as_secs_f64() / 60.0;
        (self.done > 0 && minutes > 0.0).then(|| self.done as f64 / minutes)
    }

    /// Seconds left at the pace so far.
    pub fn eta_seconds(&self) -> Option<f64> {
        self.per_minute().map(|r| (self.total - self.done.min(self.total)) as f64 / r * 60.0)
    }
}

/// The most lines the workers' log keeps.
const ACTIVITY_LINES: usize = 200;

/// The library pane's state: the videos listed and the one selected, what ingestion is doing
/// to each, and on a shared catalog who holds which video and what the workers did.
#[derive(Debug, Default)]
pub struct LibraryState {
    pub videos: Vec<VideoRow>,
    pub selected: usize,
    pub live: HashMap<i64, Live>,
    pub ingest: Option<IngestProgress>,
    /// Whether the library's catalog has workers to show (a shared one): a column and a log.
    pub with_workers: bool,
    /// The worker holding each video it holds.
    pub workers: HashMap<i64, String>,
    /// What the workers did, and when search opened the library (newest first).
    pub activity: VecDeque<String>,
}

impl LibraryState {
    /// Applies an ingest event to the rows and the progress; true when the lists should be read
    /// again.
    pub fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::IngestPlanned { to_process, .. } => {
                let rates = Default::default();
                self.ingest = Some(IngestProgress { total: *to_process, done: 0, started: Instant::now(), rates });
                true
            }
            Event::VideoStarted { id, .. } => {
                self.live.insert(*id, Live { stage: "start", done: 0, expected: 0 });
                false
            }
            Event::VideoStage { id, stage } => {
                self.live.insert(*id, Live { stage: stage.name(), done: 0, expected: 0 });
                true
            }
            Event::VideoFrames { id, done, expected } => {
                let live = self.live.entry(*id).or_insert(Live { stage: "frames", done: 0, expected: 0 });
                (live.done, live.expected) = (*done, *expected);
                false
            }
            Event::StageRate { rate, .. } => {
                if let Some(p) = &mut self.ingest {
                    p.rates.add(*rate);
                }
                false
            }
            Event::VideoDone { id, .. } | Event::VideoFailed { id: Some(id), .. } => {
                self.live.remove(id);
                self.bump_ingest();
                true
            }
            Event::VideoFailed { id: None, .. } => {
                self.bump_ingest();
                true
            }
            Event::IngestFinished { .. } => {
                self.job_ended();
                true
            }
            _ => false,
        }
    }

    /// A job ended, however: no ingest is running.
    pub fn job_ended(&mut self) {
        self.ingest = None;
        self.live.clear();
    }

    fn bump_ingest(&mut self) {
        if let Some(p) = &mut self.ingest {
            p.done += 1;
        }
    }

    /// A worker's claim, upload or failure: the video's row, who holds it, and a log line.
    pub fn on_worker(&mut self, p: &crate::shared::progress::Progress) {
        let status = Status::parse(&p.status);
        if let Some(v) = self.videos.iter_mut().find(|v| v.id == p.video) {
            (v.status, v.error) = (status, p.error.clone());
        }
        match (&p.worker, status) {
            (Some(worker), Status::Working) => self.workers.insert(p.video, worker.clone()),
            _ => self.workers.remove(&p.video),
        };
        self.log(p.to_string());
    }

    /// Adds a line to the activity log.
    pub fn log(&mut self, line: String) {
        self.activity.push_front(line);
        self.activity.truncate(ACTIVITY_LINES);
    }

    /// The video the selection is on, if the list has any.
    pub fn selected_video(&self) -> Option<&VideoRow> {
        self.videos.get(self.selected)
    }

    /// Replaces the list, the selection staying on its video when others come before it
    /// (another machine's).
    pub fn set_videos(&mut self, videos: Vec<VideoRow>) {
        let kept = self.selected_video().and_then(|v| videos.iter().position(|w| w.id == v.id));
        self.videos = videos;
        self.selected = kept.unwrap_or(self.selected).min(self.videos.len().saturating_sub(1));
    }
}
