//! What the vector store's checksums cost a query: a synthetic library of 100k frames (400 × 250,
//! 2048-d, as `benches/library_scale.rs` makes), then five opens of its store (each checks the
//! per-row files whole and a sample of the vector blocks), the sampled check alone, and the full
//! check `index update` makes, in milliseconds, three rounds.
//!
//! `cargo run --example store_check [-- LIBRARY_DIR]` (default: `target/store-check`, kept)
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::catalog::Catalog;
use reelmatch::store::{Depth, FrameStore};
use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "target/store-check".into());
    let lib = reelmatch::Library::open(&dir).unwrap();
    if Catalog::open(&lib.catalog_path()).unwrap().videos().unwrap().is_empty() {
        let spec = reelmatch::synth::Spec {
            videos: 400,
            frames_per_video: 250,
            dim: 2048,
            seed: 1,
            head: false,
            first_video: 0,
            family: 1,
        };
        reelmatch::synth::generate(&lib, &spec).unwrap();
    }
    let cat = Catalog::open(&lib.catalog_path()).unwrap();
    let store = FrameStore::open(&cat, reelmatch::synth::MODEL).unwrap();
    println!("{} rows of {} dimensions", store.len(), store.dim());
    drop(store);
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    for round in 1..=3 {
        let (mut opens, mut sampled, mut full) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            let t = Instant::now();
            let store = FrameStore::open(&cat, reelmatch::synth::MODEL).unwrap();
            opens.push(ms(t));
            let t = Instant::now();
            store.verify(Depth::Sampled).unwrap();
            sampled.push(ms(t));
            let t = Instant::now();
            store.verify(Depth::Full).unwrap();
            full.push(ms(t));
        }
        println!(
            "round {round}: open {opens:.1?} ms; its sampled check alone {sampled:.1?} ms; full check {full:.0?} ms"
        );
    }
}
