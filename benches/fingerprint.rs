//! Audio fingerprinting against Chromaprint's own `fpcalc`, in the same run, alternated: a
//! generated 4-minute song (two voices of changing notes over a test picture). Three timings per
//! round: reelmatch fingerprinting the 16 kHz PCM it already holds after extracting the audio
//! (what ingest adds), reelmatch decoding the file and fingerprinting it (what `fpcalc` does;
//! straight to Chromaprint's 11,025 Hz, and through 16 kHz as it did before), and `fpcalc -raw
//! -length 0` on the file (the whole of it, as reelmatch: fpcalc's default is its first 120 s).
//! Reports each one's range over the rounds, and the ratio of fpcalc's time to reelmatch's
//! (above 1: reelmatch is faster).
//!
//! Run with `cargo bench --bench fingerprint` (needs `fpcalc`: `apt-get install
//! libchromaprint-tools`). `REELMATCH_BENCH_SECONDS` sets the song's length (default 240),
//! `REELMATCH_BENCH_ROUNDS` the rounds (default 5).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::events::Cancel;
use reelmatch::media::fingerprint::{of_samples, Printer, SAMPLE_RATE};
use reelmatch::media::{decode_audio, stream_audio, AUDIO_SAMPLE_RATE};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn make_song(path: &Path, seconds: u32) {
    let picture = "testsrc2=size=320x180:rate=25";
    reelmatch::demo::make_tune_video("ffmpeg", path, seconds, 220, 7.31, picture).expect("ffmpeg makes the song");
}

fn seconds(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn range(xs: &[f64]) -> String {
    let (lo, hi) = xs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    format!("{:.1}–{:.1} ms", lo * 1e3, hi * 1e3)
}

fn main() {
    let (length, rounds) = (env_or("REELMATCH_BENCH_SECONDS", 240), env_or("REELMATCH_BENCH_ROUNDS", 5));
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.mp4");
    make_song(&song, length);
    let limit = Duration::from_secs(3600);
    let pcm = decode_audio("ffmpeg", &song, limit, &Cancel::new()).unwrap();
    let (mut held, mut decoded, mut at_16k, mut fpcalc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        held.push(seconds(|| {
            of_samples(&pcm, AUDIO_SAMPLE_RATE).unwrap();
        }));
        decoded.push(seconds(|| {
            let mut printer = Printer::new(SAMPLE_RATE).unwrap();
            stream_audio("ffmpeg", &song, SAMPLE_RATE, limit, &Cancel::new(), &mut |s| {
                printer.push(s);
                Ok(())
            })
            .unwrap();
            printer.finish();
        }));
        at_16k.push(seconds(|| {
            let pcm = decode_audio("ffmpeg", &song, limit, &Cancel::new()).unwrap();
            of_samples(&pcm, AUDIO_SAMPLE_RATE).unwrap();
        }));
        fpcalc.push(seconds(|| {
            // The whole file, as reelmatch does (fpcalc's default is the first 120 s only).
            let out = Command::new("fpcalc").args(["-raw", "-length", "0"]).arg(&song).output().expect("fpcalc runs");
            assert!(String::from_utf8_lossy(&out.stdout).contains("FINGERPRINT="));
        }));
    }
    let median = |xs: &[f64]| {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("a {length} s song, {rounds} rounds alternated:");
    println!("  reelmatch, from the PCM ingest holds: {}", range(&held));
    println!(
        "  reelmatch, decoding the file:         {} (`reelmatch fingerprint FILE`: ffmpeg to 11,025 Hz, fingerprinted as it decodes)",
        range(&decoded)
    );
    println!("  the same through 16 kHz, resampled:   {} (as it did before)", range(&at_16k));
    println!("  fpcalc -raw -length 0 on the file:    {}", range(&fpcalc));
    println!("  fpcalc / reelmatch (file to fingerprint, medians): {:.2}", median(&fpcalc) / median(&decoded));
}
