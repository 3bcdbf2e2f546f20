//! A folder of damaged copies of a real clip (truncations, bit flips, header damage), ingested
//! together with good clips: no panic, no hang, every failed file named with a reason, every
//! good file ready; on both catalogs.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use crate::on_both;
use common::{make_video, Gen};
use reelmatch::rng::SplitMix64;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Damaged variants of `good`, by name.
fn variants(good: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rng = SplitMix64(2026);
    for (i, f) in [0.005, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99].iter().enumerate() {
        out.push((format!("cut {i:02}"), good[..(good.len() as f64 * f) as usize].to_vec()));
    }
    for i in 0..20 {
        let mut bytes = good.to_vec();
        for _ in 0..(1 + i * 3) {
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
        }
        out.push((format!("flip {i:02}"), bytes));
    }
    for (i, n) in [4usize, 8, 16, 32, 64, 256].iter().enumerate() {
        let mut bytes = good.to_vec();
        bytes[..*n].fill(0);
        out.push((format!("head {i:02}"), bytes));
    }
    for (i, atom) in [&b"ftyp"[..], b"moov", b"mdat", b"trak", b"stsz", b"stco"].iter().enumerate() {
        let mut bytes = good.to_vec();
        let Some(at) = bytes.windows(4).position(|w| w == *atom).filter(|at| *at >= 4) else { continue };
        // The atom's name, and its size field before it.
        bytes[at..at + 4].copy_from_slice(b"junk");
        bytes[at - 4..at].copy_from_slice(&[0xff, 0xff, 0xff, 0xf0]);
        out.push((format!("atom {i:02}"), bytes));
    }
    let mid = good.len() / 2;
    let mut zeroed = good.to_vec();
    zeroed[mid / 2..mid].fill(0);
    out.push(("zero block".into(), zeroed));
    out.push(("all zeros".into(), vec![0; good.len()]));
    out.push(("noise".into(), (0..good.len()).map(|_| rng.below(256) as u8).collect()));
    out.push(("twice".into(), [good, good].concat()));
    out.push(("swapped".into(), [&good[mid..], &good[..mid]].concat()));
    out.push(("one byte".into(), good[..1].to_vec()));
    out
}

on_both! {
    /// The damaged folder ingested through the binary.
    fn damaged_copies_fail_with_reasons_and_good_clips_are_ready(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        let source = work.path().join("source.mp4");
        make_video(&source, Gen { seconds: 3.0, ..Gen::default() });
        make_video(&media.join("good one.mp4"), Gen { source: "smptebars", seconds: 3.0, ..Gen::default() });
        make_video(
            &media.join("good two.mkv"),
            Gen { source: "mandelbrot", seconds: 3.0, tone_hz: None, ..Gen::default() },
        );
        let good = std::fs::read(&source).unwrap();
        let bad = variants(&good);
        assert!(bad.len() >= 50, "{} variants", bad.len());
        for (name, bytes) in &bad {
            std::fs::write(media.join(format!("{name}.mp4")), bytes).unwrap();
        }
        let cfg = work.path().join("config.toml");
        std::fs::write(&cfg, "[sampling]\nframe_short_side = 64\n").unwrap();
        let lib = work.path().join("lib");

        let mut child = backend
            .cmd(&lib)
            .arg("--config")
            .arg(&cfg)
            .arg("ingest")
            .arg(&media)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.path().join("err")).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("ingest of the damaged folder hung");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let err = std::fs::read_to_string(work.path().join("err")).unwrap();
        assert!(!err.contains("panicked"), "{err}");
        assert!(matches!(status.code(), Some(0) | Some(2)), "exit {status:?}: {err}");

        let rows: Vec<Value> = backend.library_json(&lib);
        assert_eq!(rows.len(), bad.len() + 2, "every file has a row");
        for title in ["good one", "good two"] {
            let r = rows.iter().find(|r| r["title"] == title).unwrap();
            assert_eq!(r["status"], "ready", "{r}");
        }
        let mut failed = 0;
        for r in &rows {
            match r["status"].as_str() {
                Some("ready") => assert!(r["frames_train"].as_i64().unwrap() > 0, "{r}"),
                Some("failed") => {
                    failed += 1;
                    let reason = r["error"].as_str().unwrap_or("");
                    assert!(reason.len() > 20, "a failure needs a reason: {r}");
                    let name = Path::new(r["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
                    assert!(err.contains(&name), "{name} is not named in the ingest's report: {err}");
                }
                other => panic!("{other:?} is not a final status: {r}"),
            }
        }
        for name in ["cut 00", "cut 01", "all zeros", "noise", "one byte", "head 05"] {
            let r = rows.iter().find(|r| r["title"] == name).unwrap();
            assert_eq!(r["status"], "failed", "{r}");
        }
        assert!(failed >= 10, "only {failed} of {} damaged copies failed", bad.len());
    }
}
