//! Ingestion through the library API: good and bad files side by side, re-runs, renames,
//! changed files and missing files.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use common::{make_audio_only, make_video, test_config, Gen};
use reelmatch::catalog::{Catalog, Split, Stage, Status, VideoRow};
use reelmatch::events::{discard, Cancel};
use reelmatch::ingest::ingest;
use reelmatch::ml::Models;
use reelmatch::Library;
use std::path::Path;

fn videos(lib: &Library) -> Vec<VideoRow> {
    Catalog::open(&lib.catalog_path()).unwrap().videos().unwrap()
}

fn by_title<'a>(v: &'a [VideoRow], title: &str) -> &'a VideoRow {
    v.iter().find(|v| v.title == title).unwrap_or_else(|| panic!("no video titled {title:?} in {v:#?}"))
}

fn frame_files(lib: &Library, id: i64) -> usize {
    std::fs::read_dir(lib.frames_dir(id)).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn good_and_bad_files_side_by_side() {
    let media = tempfile::tempdir().unwrap();
    let m = media.path();
    let good_a = m.join("clip one.mp4");
    let good_b = m.join("sub dir/ünïcødé 'q\"uote'.mkv");
    std::fs::create_dir_all(good_b.parent().unwrap()).unwrap();
    make_video(&good_a, Gen { seconds: 6.0, ..Gen::default() });
    make_video(&good_b, Gen { source: "smptebars", seconds: 4.0, tone_hz: None, ..Gen::default() });
    std::fs::write(m.join("notes.mp4"), "these are not the frames you are looking for").unwrap();
    std::fs::write(m.join("empty.mp4"), b"").unwrap();
    make_audio_only(&m.join("audio only.mp4"), 2.0);
    let scratch = tempfile::tempdir().unwrap();
    let full = scratch.path().join("full.mp4");
    make_video(&full, Gen { seconds: 10.0, ..Gen::default() });
    let bytes = std::fs::read(&full).unwrap();
    std::fs::write(m.join("truncated.mp4"), &bytes[..bytes.len() * 3 / 10]).unwrap();
    std::os::unix::fs::symlink(m.join("nowhere.mp4"), m.join("dangling.mp4")).unwrap();
    std::fs::write(m.join("readme.txt"), "not a video").unwrap();
    std::fs::write(m.join("data.bin"), "not a video either").unwrap();

    let lib_dir = tempfile::tempdir().unwrap();
    let lib = Library::open(lib_dir.path()).unwrap();
    let config = test_config("");
    let report = ingest(&lib, &config, &[m.to_path_buf()], &Models::none(), &discard(), &Cancel::new()).unwrap();

    assert_eq!(report.found, 7, "the two .txt/.bin files are not videos: {report:#?}");
    assert_eq!(report.processed, 2);
    let failed: Vec<String> =
        report.failed.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into()).collect();
    let mut failed_sorted = failed.clone();
    failed_sorted.sort();
    assert_eq!(failed_sorted, ["audio only.mp4", "dangling.mp4", "empty.mp4", "notes.mp4", "truncated.mp4"]);

    let v = videos(&lib);
    let a = by_title(&v, "clip one");
    assert_eq!((a.status, a.stage, a.has_audio), (Status::Ready, Stage::DONE, Some(true)));
    assert_eq!(a.sample_fps, Some(2.0));
    assert_eq!(a.frames_train + a.frames_test, 12);
    assert_eq!((a.frames_train, a.frames_test), (11, 1));
    let samples = a.audio_samples.unwrap();
    assert!((samples - 6 * 16_000).abs() < 1_600, "6 s of 16 kHz audio, got {samples} samples");
    let pcm = reelmatch::media::read_pcm(&lib.audio_path(a.id)).unwrap();
    assert_eq!(pcm.len() as i64, samples);
    assert!(pcm.iter().map(|s| s.abs()).fold(0.0, f32::max) > 0.1, "the tone is audible");
    assert_eq!(frame_files(&lib, a.id), 12);

    let b = by_title(&v, "ünïcødé 'q\"uote'");
    assert_eq!((b.status, b.has_audio, b.audio_samples), (Status::Ready, Some(false), None));
    assert_eq!(b.frames_train + b.frames_test, 8);
    assert!(b.error.is_none());

    let reason = |title: &str| by_title(&v, title).error.clone().unwrap_or_default();
    for (title, words) in [
        ("notes", "not a readable video"),
        ("empty", "is empty (0 bytes)"),
        ("audio only", "no video stream"),
        ("truncated", "truncated or corrupt"),
        ("dangling", "link to a file that does not exist"),
    ] {
        assert_eq!(by_title(&v, title).status, Status::Failed, "{title}");
        assert!(reason(title).contains(words), "{title}: {}", reason(title));
    }

    // A second run has nothing to do for the good files and loses nothing.
    let again = ingest(&lib, &config, &[m.to_path_buf()], &Models::none(), &discard(), &Cancel::new()).unwrap();
    assert_eq!((again.processed, again.up_to_date, again.failed.len()), (0, 2, 5));
    let v2 = videos(&lib);
    assert_eq!(by_title(&v2, "clip one"), a);
}

#[test]
fn renamed_changed_and_missing_files() {
    let media = tempfile::tempdir().unwrap();
    let m = media.path();
    make_video(&m.join("a.mp4"), Gen { seconds: 5.0, ..Gen::default() });
    make_video(&m.join("b.mp4"), Gen { source: "mandelbrot", seconds: 3.0, ..Gen::default() });
    make_video(&m.join("c.mp4"), Gen { source: "smptebars", seconds: 3.0, ..Gen::default() });
    let lib_dir = tempfile::tempdir().unwrap();
    let lib = Library::open(lib_dir.path()).unwrap();
    let config = test_config("");
    let run = || ingest(&lib, &config, &[m.to_path_buf()], &Models::none(), &discard(), &Cancel::new()).unwrap();
    run();
    let before = videos(&lib);
    let a = by_title(&before, "a").clone();
    let b = by_title(&before, "b").clone();
    let c = by_title(&before, "c").clone();

    // Rename a (into a new folder), overwrite b with other content, delete c.
    std::fs::create_dir_all(m.join("moved")).unwrap();
    std::fs::rename(m.join("a.mp4"), m.join("moved/a renamed.mp4")).unwrap();
    make_video(&m.join("b.mp4"), Gen { source: "testsrc2", seconds: 7.0, ..Gen::default() });
    std::fs::remove_file(m.join("c.mp4")).unwrap();
    let report = run();
    assert_eq!(report.processed, 1, "only the changed file is ingested again: {report:#?}");

    let after = videos(&lib);
    assert_eq!(after.len(), 3, "no video added twice: {after:#?}");
    let a2 = by_title(&after, "a renamed");
    assert_eq!(a2.id, a.id);
    assert_eq!(a2.path, m.join("moved/a renamed.mp4").canonicalize().unwrap());
    assert_eq!((a2.frames_train, a2.frames_test, a2.status), (a.frames_train, a.frames_test, Status::Ready));

    let b2 = by_title(&after, "b");
    assert_eq!(b2.id, b.id);
    assert_ne!(b2.content_hash, b.content_hash);
    assert_eq!(b2.frames_train + b2.frames_test, 14, "7 s at 2 fps after the change");
    assert_eq!(frame_files(&lib, b.id), 14, "old frame files are gone");

    let c2 = by_title(&after, "c");
    assert_eq!(c2.status, Status::Missing);
    assert_eq!(c2.frames_train + c2.frames_test, c.frames_train + c.frames_test, "nothing deleted");
}

#[test]
fn split_method_and_seed_come_from_config() {
    let media = tempfile::tempdir().unwrap();
    let path = media.path().join("long.mp4");
    make_video(&path, Gen { seconds: 50.0, size: "32x32", tone_hz: None, ..Gen::default() });
    let splits = |extra: &str| {
        let lib_dir = tempfile::tempdir().unwrap();
        let lib = Library::open(lib_dir.path()).unwrap();
        ingest(&lib, &test_config(extra), std::slice::from_ref(&path), &Models::none(), &discard(), &Cancel::new())
            .unwrap();
        let cat = Catalog::open(&lib.catalog_path()).unwrap();
        let frames = cat.frames(cat.videos().unwrap()[0].id).unwrap();
        frames.iter().map(|f| f.split).collect::<Vec<_>>()
    };
    let blocks = splits("[split]\nmethod = \"blocks\"\ntest_blocks = 2");
    assert_eq!(blocks.len(), 100);
    assert_eq!(blocks.iter().filter(|s| **s == Split::Test).count(), 10);
    let runs = blocks.windows(2).filter(|w| w[0] != Split::Test && w[1] == Split::Test).count()
        + usize::from(blocks[0] == Split::Test);
    assert!(runs <= 2, "two contiguous test blocks, got {runs}");
    assert_eq!(blocks, splits("[split]\nmethod = \"blocks\"\ntest_blocks = 2"), "deterministic");
    let random = splits("[split]\nmethod = \"random\"");
    assert_eq!(random.iter().filter(|s| **s == Split::Test).count(), 10);
    assert_ne!(random, blocks);
}

#[test]
fn missing_ffmpeg_says_how_to_install_it() {
    let lib_dir = tempfile::tempdir().unwrap();
    let lib = Library::open(lib_dir.path()).unwrap();
    let config = test_config("[tools]\nffmpeg = \"/nonexistent/ffmpeg\"\nffprobe = \"/nonexistent/ffprobe\"");
    let e = ingest(&lib, &config, &[lib_dir.path().to_path_buf()], &Models::none(), &discard(), &Cancel::new())
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("ffprobe was not found") && msg.contains("apt-get install ffmpeg"), "{msg}");
}

#[test]
fn a_library_inside_the_scanned_folder_does_not_ingest_itself() {
    let media = tempfile::tempdir().unwrap();
    make_video(&media.path().join("x.mp4"), Gen { seconds: 2.0, ..Gen::default() });
    let lib = Library::open(media.path().join("lib")).unwrap();
    let report =
        ingest(&lib, &test_config(""), &[media.path().to_path_buf()], &Models::none(), &discard(), &Cancel::new())
            .unwrap();
    assert_eq!(report.found, 1);
    assert_eq!(report.processed, 1);
    assert!(Path::new(&lib.catalog_path()).exists());
    let again =
        ingest(&lib, &test_config(""), &[media.path().to_path_buf()], &Models::none(), &discard(), &Cancel::new())
            .unwrap();
    assert_eq!((again.found, again.up_to_date, again.processed), (1, 1, 0), "its own files are not scanned");
}
