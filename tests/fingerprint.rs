//! Audio fingerprints through the binary: on three generated songs they equal Chromaprint's own
//! `fpcalc -raw` (Debian's `libchromaprint-tools`, the yardstick), and an excerpt is found in its
//! song at the offset it was cut from, while another song shares no stretch.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is the failure report

use crate::common::bin;
use std::path::Path;
use std::process::Command;

/// A song over a small test picture (see `reelmatch::demo::make_tune_video`).
fn song(path: &Path, seconds: u32, base_hz: u32, step: f64) {
    reelmatch::demo::make_tune_video("ffmpeg", path, seconds, base_hz, step, "testsrc2=size=96x64:rate=10").unwrap();
}

/// The hashes of `fpcalc -raw`-style output.
fn hashes(raw: &str) -> Vec<u32> {
    let line = raw.lines().find_map(|l| l.strip_prefix("FINGERPRINT=")).unwrap_or_else(|| panic!("{raw}"));
    line.split(',').map(|h| h.trim().parse::<u32>().unwrap()).collect()
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (fpcalc: apt-get install libchromaprint-tools)"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `fpcalc -raw FILE`'s output. (fpcalc 1.5.1 with a newer FFmpeg ends every file with "Error
/// decoding audio frame (End of file)" and a failing exit code after printing the whole
/// fingerprint: the output is what counts.)
fn fpcalc(file: &Path) -> String {
    let out = Command::new("fpcalc")
        .arg("-raw")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("fpcalc: {e} (install it: apt-get install libchromaprint-tools)"));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FINGERPRINT="), "fpcalc gave no fingerprint: {}", String::from_utf8_lossy(&out.stderr));
    text
}

#[test]
fn fingerprints_equal_fpcalcs_on_three_generated_songs() {
    let work = tempfile::tempdir().unwrap();
    for (i, (base, step)) in [(220, 7.31), (196, 5.17), (262, 3.93)].into_iter().enumerate() {
        let file = work.path().join(format!("song {i}.mp4"));
        song(&file, 40, base, step);
        let ours = hashes(&stdout(bin().arg("fingerprint").arg(&file)));
        let theirs = hashes(&fpcalc(&file));
        assert_eq!(ours.len(), theirs.len(), "song {i}: as many hashes");
        let differing: u32 = ours.iter().zip(&theirs).map(|(a, b)| (a ^ b).count_ones()).sum();
        let share = f64::from(differing) / (32.0 * ours.len() as f64);
        eprintln!("song {i}: {} hashes, {:.3} % of bits differ from fpcalc -raw", ours.len(), share * 100.0);
        assert!(share <= 0.02, "song {i}: {:.2} % of bits differ", share * 100.0);
    }
}

#[test]
fn an_excerpt_is_found_at_its_offset_and_another_song_is_not() {
    let work = tempfile::tempdir().unwrap();
    let (whole, other, cut) =
        (work.path().join("whole.mp4"), work.path().join("other.mp4"), work.path().join("cut.mp4"));
    song(&whole, 60, 220, 7.31);
    song(&other, 60, 196, 5.17);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-ss", "17", "-t", "12", "-i"])
        .arg(&whole)
        .arg(&cut)
        .status()
        .unwrap();
    assert!(status.success());
    let spans: serde_json::Value =
        serde_json::from_str(&stdout(bin().arg("fingerprint").arg(&cut).arg("--against").arg(&whole).arg("--json")))
            .unwrap();
    let best = &spans[0];
    assert!((best["offset_s"].as_f64().unwrap() - 17.0).abs() <= 1.0, "cut at 17 s: {spans}");
    assert!(best["seconds"].as_f64().unwrap() >= 8.0, "most of the 12 s: {spans}");
    let said = stdout(bin().arg("fingerprint").arg(&other).arg("--against").arg(&whole));
    let long = said
        .lines()
        .filter_map(|l| l.split("s; offset").next()?.rsplit('(').next()?.parse::<f64>().ok())
        .any(|s| s >= 5.0);
    assert!(!long, "another song shares no stretch of 5 s: {said}");
}
