//! `scripts/gpu-check.sh` and `reelmatch models check`, run CPU against CPU: the bundle is
//! prepared, every role runs on both "devices", parity passes, and a report that differs fails.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn script(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gpu-check.sh"))
        .args(args)
        .env("REELMATCH_TEST_ASSETS", common::assets())
        .env("GPU_CHECK_BATCHES", "1,4")
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap()
}

#[test]
fn gpu_check_compares_two_devices_and_fails_on_a_difference() {
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("gpu bündle");
    let out = script(&["prepare".as_ref(), bundle.as_os_str()]);
    assert!(out.status.success(), "prepare: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(bundle.join("frames")).unwrap().count(), 16);

    let bin = env!("CARGO_BIN_EXE_reelmatch");
    let out = script(&["run".as_ref(), bin.as_ref(), bundle.as_os_str(), "cpu".as_ref(), "cpu".as_ref()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "run: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.trim_end().ends_with("PASS"), "{stdout}");
    for row in ["| image batch 1 |", "| image batch 4 |", "| text batch 4 |", "| speech (", "| WER 0.000 ok |"] {
        assert!(stdout.contains(row), "no `{row}` in:\n{stdout}");
    }

    let a: Value = serde_json::from_str(&std::fs::read_to_string(bundle.join("check-a.json")).unwrap()).unwrap();
    assert_eq!(a["device"], "cpu");
    let images = a["image"]["vectors"].as_array().unwrap();
    assert_eq!(images.len(), 16);
    assert_eq!(images[0].as_array().unwrap().len(), 2048);
    assert_eq!(a["image"]["random_weights"], true);
    assert_eq!(a["text"]["vectors"].as_array().unwrap().len(), 4);
    assert!(a["image"]["rates"][0]["per_s"].as_f64().unwrap() > 0.0);
    // The speech is espeak-ng reading the lyric lines: the transcript has their words.
    let heard = a["speech"]["text"].as_str().unwrap().to_lowercase();
    for word in ["walking", "closer", "river"] {
        assert!(heard.contains(word), "`{word}` not in {heard}");
    }
    assert!(a["speech"]["real_time_factor"].as_f64().unwrap() > 1.0);

    // One image vector turned around: parity fails, and the script says so.
    let mut b = a.clone();
    let v = b["image"]["vectors"][3].as_array_mut().unwrap();
    v.iter_mut().for_each(|x| *x = Value::from(-x.as_f64().unwrap()));
    let changed = work.path().join("b.json");
    std::fs::write(&changed, serde_json::to_string(&b).unwrap()).unwrap();
    let report = work.path().join("report.md");
    let a_path = bundle.join("check-a.json");
    let out = script(&["compare".as_ref(), a_path.as_os_str(), changed.as_os_str(), report.as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("min cosine -1.000000 FAIL") && stdout.trim_end().ends_with("FAIL"), "{stdout}");
}
