//! Every integration test, one module per area, linked into one test binary: one link of the
//! models, the database drivers and the dashboard instead of one per file (a clean build's disk
//! and time were mostly those links).
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is the failure report

mod common;

mod approx;
mod around;
mod assets;
mod backends;
mod cli;
mod conformance;
mod corrupt;
mod dashboard;
mod describe;
mod fingerprint;
mod gpu_check;
mod ingest;
mod languages;
mod layers;
mod model_stages;
mod models;
mod parity;
mod reliability;
mod sampling;
mod search;
mod shared;
mod store;
mod tmux;
mod train;
mod transcribe;
mod traps;
mod tui;
mod warm_index;
