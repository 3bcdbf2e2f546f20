//! Writes a synthetic library for measuring scale (see `reelmatch::synth`):
//!
//! `cargo run --release --example synth_library -- --videos 400 --frames-per-video 250 --library DIR [--head] [--family N] [--first-video N]`
//!
//! 400 × 250 is 100,000 frames; `--videos 4000` makes 1,000,000. `--family 8` makes the videos in
//! families of 8 look-alikes (the libraries the approximate-index and shared benchmarks use);
//! `--first-video 4000` on a library of 4000 adds videos after them (growing it).
//! `--fingerprints 240` gives every video a synthetic 4-minute audio fingerprint, every 50th
//! holding the recording of the one before it (a copy or an excerpt): the relations' scale.
//! `--model KEY` stores the vectors under another model id (`vision-text:…`, the id `embed
//! --role vision-text --json` prints, for a description's scale at `--dim 768`).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::synth::{add_fingerprints, generate, Spec};
use reelmatch::Library;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut spec =
        Spec { videos: 400, frames_per_video: 250, dim: 2048, seed: 7, head: false, first_video: 0, family: 1 };
    let mut library: Option<PathBuf> = None;
    let mut fingerprints: Option<u32> = None;
    let mut model: Option<String> = None;
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
            "--fingerprints" => fingerprints = Some(value().parse().unwrap()),
            "--model" => model = Some(value()),
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
    if let Some(key) = model {
        let catalog = rusqlite::Connection::open(library.catalog_path()).unwrap();
        let n = catalog
            .execute("UPDATE frame_embeddings SET model = ?1 WHERE model = ?2", [key.as_str(), reelmatch::synth::MODEL])
            .unwrap();
        println!("stored the {n} vectors under {key}");
    }
    if let Some(seconds) = fingerprints {
        let related = add_fingerprints(&library, seconds, 50, spec.seed).unwrap();
        println!("and a {seconds} s fingerprint for each, {related} of them holding the one before's recording");
    }
}
