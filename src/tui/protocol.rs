//! The job protocol: the work the dashboard's state asks the job runner for ([`Command`]), the
//! long jobs it tracks ([`JobKind`]), and what the runner reports back ([`Msg`]).

use crate::error::Error;
use crate::events::Event;
use crate::pipeline::{Inspection, Overview, QueryAnswer, QueryRequest, RunDetail};
use crate::shared::progress::Progress;

/// Work the dashboard asks the job runner for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Ingest(Vec<std::path::PathBuf>),
    Train {
        preset: String,
    },
    /// Train, computing the augmented views however long they take (asked first).
    TrainAnyway {
        preset: String,
    },
    Stop,
    Query(QueryRequest),
    Inspect(i64),
    /// Re-read the videos (and the runs when `runs`; first settling runs a dead process left
    /// `running` when `settle`).
    Reload {
        runs: bool,
        settle: bool,
    },
    /// Read one stored run's curves.
    LoadRun(i64),
    /// Complete a typed path.
    Complete(String),
    /// Hand the terminal to the player for this moment, and take it back when it ends.
    Play(crate::play::Moment),
    /// Write the ranking shown as a playlist in the library's `playlists/` folder.
    SavePlaylist {
        label: String,
        heading: String,
        entries: Vec<crate::playlist::Entry>,
    },
    /// Store that two videos are not duplicates.
    NotDuplicate(i64, i64),
}

/// Which long job is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Ingest,
    Train,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Ingest => "ingest",
            JobKind::Train => "training",
        }
    }

    /// Its errors' origin.
    pub fn origin(self) -> super::errors::Origin {
        match self {
            JobKind::Ingest => super::errors::Origin::Ingest,
            JobKind::Train => super::errors::Origin::Train,
        }
    }
}

/// What the job runner reports back.
pub enum Msg {
    Job(Event),
    /// A long job ended: its summary, or why it failed.
    JobDone {
        kind: JobKind,
        result: Result<String, Error>,
    },
    Answer(Result<Box<QueryAnswer>, Error>),
    Inspected(Result<Box<Inspection>, Error>),
    Overview(Result<Overview, Error>),
    Run(Result<Option<RunDetail>, Error>),
    Completed {
        typed: String,
        completed: String,
    },
    /// The player ended (or could not start).
    Played(Result<(), Error>),
    /// A playlist was written there.
    Saved(Result<std::path::PathBuf, Error>),
    /// A pair was stored as not duplicates.
    Decided(Result<(i64, i64), Error>),
    /// A worker of the shared catalog said what it did.
    Worker(Progress),
    /// The workers' announcements can no longer be heard, with why (heard again later).
    Unfollowed(String),
}

impl Msg {
    /// Whether the catalog may have changed, so the lists should be read again.
    pub fn changes_catalog(&self) -> bool {
        !matches!(
            self,
            Msg::Answer(_)
                | Msg::Inspected(_)
                | Msg::Overview(_)
                | Msg::Run(_)
                | Msg::Completed { .. }
                | Msg::Played(_)
                | Msg::Saved(_)
                | Msg::Decided(_)
                | Msg::Unfollowed(_)
                | Msg::Job(Event::TrainStep { .. })
        )
    }
}
