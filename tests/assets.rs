//! The real sample videos from the test assets: one with audio, one without.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use common::{assets, test_config};
use reelmatch::catalog::{Catalog, Status};
use reelmatch::events::{discard, Cancel};
use reelmatch::ingest::ingest;
use reelmatch::ml::Models;
use reelmatch::Library;

#[test]
fn bigbuckbunny_has_audio_and_bikes_has_none() {
    let videos = assets().join("videos");
    let lib_dir = tempfile::tempdir().unwrap();
    let lib = Library::open(lib_dir.path()).unwrap();
    let roots = [videos.join("bigbuckbunny.mp4"), videos.join("bikes.mp4")];
    let report = ingest(&lib, &test_config(""), &roots, &Models::none(), &discard(), &Cancel::new()).unwrap();
    assert!(report.failed.is_empty(), "{report:#?}");
    let cat = Catalog::open(&lib.catalog_path()).unwrap();
    let all = cat.videos().unwrap();
    let bunny = all.iter().find(|v| v.title == "bigbuckbunny").unwrap();
    let bikes = all.iter().find(|v| v.title == "bikes").unwrap();

    assert_eq!(
        (bunny.status, bunny.has_audio, bunny.width, bunny.height),
        (Status::Ready, Some(true), Some(1280), Some(720))
    );
    let d = bunny.duration_s.unwrap();
    assert!((d - 5.3).abs() < 0.2, "bigbuckbunny lasts about 5.3 s, got {d}");
    let frames = bunny.frames_train + bunny.frames_test;
    assert!((frames as f64 - d * 2.0).abs() <= 1.0, "{frames} frames for {d} s at 2 fps");
    let samples = bunny.audio_samples.unwrap() as f64;
    assert!((samples / 16_000.0 - d).abs() < 0.3, "{samples} samples for {d} s of audio");

    assert_eq!((bikes.status, bikes.has_audio, bikes.audio_samples), (Status::Ready, Some(false), None));
    assert!(bikes.error.is_none(), "no audio is not an error");
    assert_eq!(bikes.frames_train + bikes.frames_test, 20);
    assert!(!lib.audio_path(bikes.id).exists());

    // Frames keep the aspect ratio with the configured short side.
    let first = cat.frames(bunny.id).unwrap()[0].clone();
    let img = image::open(lib.resolve(&first.file)).unwrap();
    assert_eq!((img.width(), img.height()), (114, 64));
}
