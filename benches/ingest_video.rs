//! A whole video ingested as a user runs it: `reelmatch ingest` as a new process on a generated
//! 4-minute 1080p video with spoken lyrics (testsrc2 at 30 fps, espeak-ng speech padded with
//! silence), with a random-weight ResNet-50 (its cost does not depend on the weights), Whisper
//! tiny.en and MiniLM from the test assets: the wall time, how many times real time that is
//! (issue 13's target: at least 8×), the peak memory of reelmatch's own process and the per-stage pace the command reports.
//!
//! Each run is timed in every `[ingest] overlap` mode, alternating: one stage after another,
//! the audio side beside the frame sampling, the frames embedded as they are sampled, and both.
//!
//! `cargo bench --bench ingest_video`; `REELMATCH_BENCH_SECONDS` changes the video's length
//! (default 240), `REELMATCH_BENCH_SPEECH` the Whisper model (a folder of the test assets'
//! `models/`, default `whisper-tiny.en`; `whisper-base` has base.en's shape) and
//! `REELMATCH_BENCH_OVERLAP` keeps the overlap modes named (comma-separated, e.g. `none,frames`).
//! Median of 3 runs of each, each into a fresh library.
//! `REELMATCH_BENCH_VISION_TEXT=1` times instead the default mode with the vision-text role off
//! and on (SigLIP at google/siglip2-base-patch16-224's sizes, random weights in its layout, from
//! `tests/reference/vision_text.py --write siglip-base`): what describing adds to an ingest.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

mod common;
use common::{assets, own_peak_rss_kib};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const LYRICS: &str = "I have been waiting all night for the summer rain to fall on the city. \
    Hold me close and tell me that you will never let me go. \
    We drove along the river road with the windows down and the radio loud. \
    Nobody told us that the morning would come so soon and take the stars away.";

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap();
    assert!(status.success(), "{cmd:?} failed");
}

/// The video: `seconds` of 1080p test pattern with the lyrics sung (spoken) over and over.
fn make_video(dir: &Path, seconds: u32) -> PathBuf {
    let wav = dir.join("lyrics.wav");
    let verses = vec![LYRICS; (seconds as usize).div_ceil(20)].join(" ");
    run(Command::new("espeak-ng").args(["-s", "150", "-w"]).arg(&wav).arg(verses));
    let videos = dir.join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    let video = videos.join("Four Minutes of Rain.mp4");
    eprintln!("generating a {seconds} s 1080p video with speech (one-off, about a minute)…");
    run(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", &format!("testsrc2=size=1920x1080:rate=30:duration={seconds}")])
        .arg("-i")
        .arg(&wav)
        .args(["-filter_complex", "[1:a]apad[a]", "-map", "0:v", "-map", "[a]", "-t", &seconds.to_string()])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"])
        .arg(&video));
    videos
}

fn main() {
    let seconds: u32 = std::env::var("REELMATCH_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(240);
    let work = tempfile::tempdir().unwrap();
    let videos = make_video(work.path(), seconds);
    let resnet = work.path().join("resnet50");
    std::fs::create_dir_all(&resnet).unwrap();
    reelmatch::ml::image::write_random_weights(&resnet.join("model.safetensors")).unwrap();
    let models = assets().join("models");
    let speech = std::env::var("REELMATCH_BENCH_SPEECH").unwrap_or_else(|_| "whisper-tiny.en".into());
    let config = work.path().join("models.toml");
    std::fs::write(
        &config,
        format!(
            "[models]\noffline = true\n[models.image]\npath = {:?}\n[models.speech]\npath = {:?}\n[models.text]\npath = {:?}\n",
            resnet,
            models.join(&speech),
            models.join("all-minilm-l6-v2")
        ),
    )
    .unwrap();
    // Every `[ingest] overlap` mode, alternating in the same run (or the vision-text role off and on).
    let vision_text = std::env::var_os("REELMATCH_BENCH_VISION_TEXT").is_some();
    let siglip = work.path().join("siglip-base");
    let modes: Vec<(&str, &str, bool)> = if vision_text {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/vision_text.py");
        run(Command::new("python3").arg(script).args(["--write", "siglip-base"]).arg(&siglip));
        vec![("all, vision-text role off", "all", false), ("all, vision-text role on (SigLIP 2 base)", "all", true)]
    } else {
        vec![
            ("none (one stage after another)", "none", false),
            ("audio (beside the frame sampling)", "audio", false),
            ("frames (embedded as sampled)", "frames", false),
            ("all (both)", "all", false),
        ]
    };
    let kept = std::env::var("REELMATCH_BENCH_OVERLAP").ok();
    let modes: Vec<(&str, &str, bool)> = modes
        .into_iter()
        .filter(|(_, overlap, _)| kept.as_ref().is_none_or(|k| k.split(',').any(|o| o == *overlap)))
        .collect();
    assert!(!modes.is_empty(), "REELMATCH_BENCH_OVERLAP names none of none, audio, frames, all");
    let configs: Vec<PathBuf> = modes
        .iter()
        .enumerate()
        .map(|(m, (_, overlap, describe))| {
            let file = work.path().join(format!("ingest {m}.toml"));
            let mut text = std::fs::read_to_string(&config).unwrap();
            if *describe {
                text.push_str(&format!("[models.vision_text]\npath = {siglip:?}\n"));
            }
            std::fs::write(&file, format!("{text}[ingest]\noverlap = {overlap:?}\n")).unwrap();
            file
        })
        .collect();
    let mut walls = vec![Vec::new(); modes.len()];
    let mut pace = vec![String::new(); modes.len()];
    let mut peak_kib = 0;
    for round in 0..3 {
        for (m, file) in configs.iter().enumerate() {
            let lib = work.path().join(format!("library {round} {m}"));
            let start = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_reelmatch"))
                .arg("--library")
                .arg(&lib)
                .arg("--config")
                .arg(file)
                .arg("ingest")
                .arg(&videos)
                .env("REELMATCH_PEAK_RSS", "1")
                .output()
                .unwrap();
            walls[m].push(start.elapsed().as_secs_f64());
            peak_kib = peak_kib.max(own_peak_rss_kib(&out.stderr));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && err.contains("1 ingested"), "ingest failed:\n{err}");
            pace[m] = err.lines().find(|l| l.starts_with("pace per stage")).unwrap_or_default().to_string();
            std::fs::remove_dir_all(&lib).unwrap();
        }
    }
    println!(
        "{seconds} s 1080p video with speech, ingested in full (frames, ResNet-50, Whisper {}, MiniLM), \
         median of 3, alternating; peak RSS of reelmatch's own process {} MiB",
        speech.trim_start_matches("whisper-"),
        peak_kib / 1024
    );
    for (m, (label, _, _)) in modes.iter().enumerate() {
        let w = &mut walls[m];
        w.sort_by(f64::total_cmp);
        println!(
            "  {label}: {:.1} s ({:.1}–{:.1} s), {:.1}× real time (target ≥ 8×); {}",
            w[1],
            w[0],
            w[2],
            seconds as f64 / w[1],
            pace[m]
        );
    }
}
