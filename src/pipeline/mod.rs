//! The library's jobs, as every frontend starts them: ingest, train, query and inspect, plus the
//! reads a view needs (the library's videos and runs, one run's curves, path completion). Each
//! runs to completion on the caller's thread, reports through an [`EventSink`](crate::EventSink),
//! stops at a [`Cancel`](crate::Cancel), and returns a typed result whose `Display` is the
//! summary both frontends print. The dashboard calls them on blocking threads.

mod index;
mod inspect;
mod jobs;
mod overview;
mod paths;
mod query;
mod watch;

pub use index::{
    embed_for_descriptions, refresh_index, set_aside_counts, DescribeProgress, IndexSummary, SetAsideCount,
};
pub use inspect::{inspect_video, Inspection};
pub use jobs::{ingest, train};
pub use overview::{load_overview, load_run, settle_runs, Overview, RunDetail, RunItem};
pub use paths::{complete_path, expand_home};
pub use query::{file_query, query_from_file, QueryAnswer, QueryRequest};
pub use watch::{match_moment, playlist_entries, playlist_heading, query_moment};
