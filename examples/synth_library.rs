//! Writes a synthetic library for measuring scale (see `reelmatch::synth`):
//!
//! `cargo run --release --example synth_library -- --videos 400 --frames-per-video 250 --library DIR [--head] [--family N] [--first-video N]`
//!
//! 400 × 250 is 100,000 frames; `--videos 4000` makes 1,000,000. `--family 8` makes the videos in
//! families of 8 look-alikes (the libraries the approximate-index and shared benchmarks use);
//! `--first-video 4000` on a library of 4000 adds videos after them (growing it).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::synth::{generate, Spec};
use reelmatch::Library;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut spec =
        Spec { videos: 400, frames_per_video: 250, dim: 2048, seed: 7, head: false, first_video: 0, family: 1 };
    let mut library: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--videos" => spec.videos = value().parse().unwrap(),
            "--frames-per-video" => spec.frames_per_video = value().parse().unwrap(),
            "--dim" => spec.dim = value().parse().unwrap(),
            "--seed" => spec.seed = value().parse().unwrap(),
            "--library" => library = Some(value().into()),
            "--head" => spec.head = true,
            "--family" => spec.family = value().parse().unwrap(),
            "--first-video" => spec.first_video = value().parse().unwrap(),
            other => panic!("unknown argument {other}; see the doc comment at the top of examples/synth_library.rs"),
        }
    }
    let dir = library.expect("--library DIR is required");
    let library = Library::open(&dir).unwrap();
    let started = Instant::now();
    let frames = generate(&library, &spec).unwrap();
    println!(
        "wrote {} videos, {frames} frames of {} dimensions to {} in {:.1}s",
        spec.videos,
        spec.dim,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
}
