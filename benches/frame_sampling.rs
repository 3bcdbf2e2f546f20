//! Frame sampling cost: reelmatch's frames stage (ffmpeg → raw RGB over a pipe → JPEG files →
//! catalog) against bare `ffmpeg -vf fps=…,scale=…` to null on the same 1080p, 4-minute video;
//! and peak memory of the reelmatch process for a 1-minute and then a 4-minute video (frames are
//! streamed, so it should stay flat).
//!
//! Run with `cargo bench --bench frame_sampling`. Set `REELMATCH_BENCH_SECONDS` to change the
//! long video's length (default 240).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::events::{discard, Cancel};
use reelmatch::ingest::ingest;
use reelmatch::ml::Models;
use reelmatch::{Config, Library};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn make_1080p(path: &Path, seconds: u32) {
    if path.exists() {
        return;
    }
    eprintln!("generating a {seconds} s 1080p test video at {} (one-off)…", path.display());
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25"])
        .args(["-t", &seconds.to_string(), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn time_reelmatch(video: &Path, config: &Config) -> f64 {
    let lib_dir = tempfile::tempdir().unwrap();
    let lib = Library::open(lib_dir.path()).unwrap();
    let start = Instant::now();
    let report = ingest(&lib, config, &[video.to_path_buf()], &Models::none(), &discard(), &Cancel::new()).unwrap();
    assert_eq!(report.processed, 1, "{report:?}");
    start.elapsed().as_secs_f64()
}

fn time_bare_ffmpeg(video: &Path, fps: f64, short_side: u32) -> f64 {
    let start = Instant::now();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(video)
        .args(["-an", "-vf", &format!("fps={fps},scale=-2:{short_side}"), "-f", "null", "-"])
        .status()
        .unwrap();
    assert!(status.success());
    start.elapsed().as_secs_f64()
}

fn main() {
    reelmatch::init_process(None);
    let seconds: u32 = std::env::var("REELMATCH_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(240);
    let cache = std::env::temp_dir().join("reelmatch-bench");
    std::fs::create_dir_all(&cache).unwrap();
    let short = cache.join("1080p-60s.mp4");
    let long = cache.join(format!("1080p-{seconds}s.mp4"));
    make_1080p(&short, 60);
    make_1080p(&long, seconds);
    let config = Config::default();
    let fps = config.sampling.fps_for(seconds as f64);

    let rss_before = peak_rss_kib();
    time_reelmatch(&short, &config);
    let rss_short = peak_rss_kib();

    let runs = 3;
    let mut ours = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..runs {
        bare.push(time_bare_ffmpeg(&long, fps, config.sampling.frame_short_side));
        ours.push(time_reelmatch(&long, &config));
    }
    let rss_long = peak_rss_kib();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (ours, bare) = (median(&mut ours), median(&mut bare));
    println!("frame sampling, 1080p {seconds} s video at {fps} fps, short side {}:", config.sampling.frame_short_side);
    println!("  bare ffmpeg to null:      {bare:.2} s (median of {runs})");
    println!("  reelmatch frames stage:   {ours:.2} s (median of {runs})");
    println!("  ratio:                    {:.3}x (target: within 1.15x)", ours / bare);
    println!(
        "  peak RSS: {} MiB before, {} MiB after a 60 s video, {} MiB after the {seconds} s video",
        rss_before / 1024,
        rss_short / 1024,
        rss_long / 1024
    );
}
