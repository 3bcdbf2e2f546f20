//! The approximate index against the full scan on the same library: a synthetic library of
//! families of look-alike videos (an artist's videos look alike), searched both ways with every
//! video as the query. Recall@10 (of the ten videos the full scan ranks first, and of each query
//! frame's ten nearest frames) must be at least 0.95 while the sketch hands over a small part
//! of the library; the sketch kept beside the store is reused and extended, never stale.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use reelmatch::catalog::Catalog;
use reelmatch::search::approx::{IndexChoice, IndexKind};
use reelmatch::search::recall::recall_at_10;
use reelmatch::search::SearchLibrary;
use reelmatch::synth::{generate, Spec, MODEL};

fn choice(mode: IndexKind, candidates: usize) -> IndexChoice {
    IndexChoice { mode, approximate_from: usize::MAX, candidates }
}

fn load(cat: &Catalog, index: IndexChoice) -> SearchLibrary {
    SearchLibrary::load_in_space(cat, Some(MODEL), None, None, None, None, index).unwrap()
}

/// Recall@10 of videos and of frames, with every video of the library as the query.
fn recall(exact: &SearchLibrary, approx: &SearchLibrary, root: &std::path::Path) -> (f64, f64) {
    let all: Vec<usize> = (0..exact.videos.len()).collect();
    let r = recall_at_10(exact, approx, root, &all).unwrap();
    assert_eq!(r.queries, exact.videos.len());
    (r.videos, r.frames)
}

#[test]
fn approximate_search_finds_what_the_full_scan_finds() {
    let spec = Spec { videos: 96, frames_per_video: 60, dim: 256, seed: 3, head: false, first_video: 0, family: 8 };
    let (_work, lib, cat, rows) = common::synthetic_library(&spec);
    let exact = load(&cat, choice(IndexKind::Exact, 1));
    assert_eq!(exact.frames.kind(), "exact");
    // 16 candidate videos of 96 scored exactly.
    let approx = load(&cat, choice(IndexKind::Approximate, 16));
    assert_eq!(approx.frames.kind(), "approximate");
    assert_eq!(approx.frames.len(), rows);
    let (videos, frames) = recall(&exact, &approx, lib.root());
    eprintln!("recall@10 with 16 candidate videos of 96 ({rows} frames): videos {videos:.3}, frames {frames:.3}");
    assert!(videos >= 0.95, "video recall@10 {videos}");
    assert!(frames >= 0.95, "frame recall@10 {frames}");

    // Fewer candidates than the ten results: recall falls, so the measurement can fail.
    let starved = load(&cat, choice(IndexKind::Approximate, 4));
    let (videos_starved, _) = recall(&exact, &starved, lib.root());
    assert!(videos_starved < 0.9, "4 candidates {videos_starved} vs 16 {videos}");

    // The sketch is kept beside the store and reused.
    let sketch = reelmatch::store::store_dir(&lib.catalog_path(), MODEL).join("sketch.bin");
    let kept = std::fs::metadata(&sketch).unwrap().modified().unwrap();
    drop(load(&cat, choice(IndexKind::Approximate, 16)));
    assert_eq!(std::fs::metadata(&sketch).unwrap().modified().unwrap(), kept, "an unchanged library reuses it");

    // Damaged in place (the same length, other bytes): its checksums find it, and it is built
    // again as it was before any search uses it.
    let original = std::fs::read(&sketch).unwrap();
    let mut damaged = original.clone();
    let at = damaged.len() - 100;
    damaged[at..at + 64].iter_mut().for_each(|b| *b = !*b);
    std::fs::write(&sketch, &damaged).unwrap();
    let rebuilt = load(&cat, choice(IndexKind::Approximate, 16));
    assert_eq!(std::fs::read(&sketch).unwrap(), original, "built again, byte for byte");
    let (videos_rebuilt, _) = recall(&exact, &rebuilt, lib.root());
    assert!(videos_rebuilt >= 0.95, "{videos_rebuilt}");

    // Ten more videos (one family more and a bit): added to the sketch, not rebuilt, and found.
    let more = Spec { videos: 10, first_video: 96, seed: 4, ..spec };
    generate(&lib, &more).unwrap();
    let approx = load(&cat, choice(IndexKind::Approximate, 16));
    let exact = load(&cat, choice(IndexKind::Exact, 1));
    assert_eq!(approx.frames.len(), rows + 600);
    let (videos, frames) = recall(&exact, &approx, lib.root());
    assert!(videos >= 0.95 && frames >= 0.95, "after adding: videos {videos}, frames {frames}");
    let header = std::fs::read(&sketch).unwrap();
    assert_eq!(u64::from_le_bytes(header[24..32].try_into().unwrap()) as usize, rows + 600, "rows in the header");
    assert_eq!(
        u64::from_le_bytes(header[40..48].try_into().unwrap()) as usize,
        rows,
        "the mean is still the first build's: the sketch was extended"
    );

    // `auto` is exact below its threshold and approximate from it on.
    let auto = |from| load(&cat, IndexChoice { mode: IndexKind::Auto, approximate_from: from, candidates: 16 });
    assert_eq!(auto(rows + 601).frames.kind(), "exact");
    assert_eq!(auto(rows + 600).frames.kind(), "approximate");
}
