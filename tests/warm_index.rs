//! The dashboard's query path keeps the library open: a second query loads nothing again (a
//! counter, not a timer, says so), answers as a cold one would, and a change in the catalog
//! (another connection committing) makes the next query load afresh. The counter is per catalog,
//! so tests running beside it in the same process do not move it.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::backend::{Backend, QueryCache};
use reelmatch::catalog::{Catalog, FrameRecord, Split};
use reelmatch::config::Config;
use reelmatch::ml::Models;
use reelmatch::pipeline::QueryRequest;
use reelmatch::search::library::loads;
use reelmatch::search::Weights;
use reelmatch::synth::{generate, Spec, MODEL};
use reelmatch::Library;
use std::path::Path;

#[test]
fn a_kept_library_answers_again_without_loading_and_reloads_after_a_change() {
    let work = tempfile::tempdir().unwrap();
    let lib = Library::open(work.path().join("lib")).unwrap();
    generate(&lib, &Spec { videos: 6, frames_per_video: 30, dim: 32, seed: 1, head: true, first_video: 0, family: 1 })
        .unwrap();
    let (config, models, weights) = (Config::default(), Models::none(), Weights::default());
    let cache = QueryCache::default();

    let loads = || loads(&lib.catalog_path());
    let before = loads();
    let first = cache.answer(&Backend::Embedded, &lib, &config, &QueryRequest::Video(1), &models, weights, 50).unwrap();
    assert_eq!(loads(), before + 1);
    assert_eq!(first.results.space, "head of run 1");
    let second =
        cache.answer(&Backend::Embedded, &lib, &config, &QueryRequest::Video(2), &models, weights, 50).unwrap();
    assert_eq!(loads(), before + 1, "the second query reuses the kept library");
    let cold = QueryCache::default()
        .answer(&Backend::Embedded, &lib, &config, &QueryRequest::Video(2), &models, weights, 50)
        .unwrap();
    let ids = |a: &reelmatch::pipeline::QueryAnswer| a.results.results.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(&second), ids(&cold), "a warm answer is the cold one");
    assert_eq!(second.results.results.len(), 5);

    // Another connection adds a video: the next query sees it.
    let cat = Catalog::open(&lib.catalog_path()).unwrap();
    let id = cat.insert_video(Path::new("/synthetic/new.mp4"), "New one", "new", 1, 0).unwrap();
    let frames: Vec<FrameRecord> = (0..30)
        .map(|i| FrameRecord {
            video_id: id,
            idx: i,
            t_s: i as f64,
            split: Split::Train,
            file: "frames/synthetic/0.jpg".into(),
        })
        .collect();
    cat.store_frames(id, &frames).unwrap();
    cat.set_audio_done(id, None).unwrap();
    let rows: Vec<(i64, Vec<f32>)> = cat
        .frames_without_embedding(id, MODEL)
        .unwrap()
        .into_iter()
        .map(|(f, _)| (f, (0..32).map(|d| ((d * 7 + f as usize) % 5) as f32).collect()))
        .collect();
    cat.store_frame_embeddings(MODEL, &rows).unwrap();
    drop(cat);
    let third = cache.answer(&Backend::Embedded, &lib, &config, &QueryRequest::Video(2), &models, weights, 50).unwrap();
    assert_eq!(loads(), before + 3, "loaded again after the change (and once for the cold answer)");
    assert_eq!(third.results.results.len(), 6);
    assert!(third.results.results.iter().any(|h| h.title == "New one"));
}
