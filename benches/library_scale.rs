//! What a user waits for at library sizes real archives have, end to end, beside faiss on the
//! same vectors in the same run:
//!
//! - `reelmatch similar TITLE --json` as a new process (cold: a fresh process, the page cache as
//!   it is), in the backbone space and through the active run's head;
//! - the dashboard's Enter → answer (`backend::QueryCache`, as its job runs it, library kept open);
//! - faiss `IndexFlatIP` on the same half-float rows: a Python process that loads them and
//!   answers the same 10 query frames (the best alternative on this machine), and its search alone.
//!
//! Libraries come from `reelmatch::synth` (400 × 250 = 100k frames; add `1m` to
//! `REELMATCH_SCALE=100k,1m` for 4000 × 250) and are kept in `target/bench-libraries`. Medians of
//! 5 runs after one run that brings the vector store up to date (timed and reported on its own).
//! Needs python3 with numpy and faiss-cpu for the faiss rows (`pip install faiss-cpu numpy`).
//! `REELMATCH_SCALE_SKIP=eval,dupes` leaves those two out (at 1M in the head space they scan
//! 4000-d projections for every video and take hours without an approximate index).
//! `REELMATCH_SCALE_PART=approximate` measures the approximate index instead (first query, cold
//! queries exact against approximate, recall@10 against the full scan, the faiss ratio), with
//! `REELMATCH_SCALE_FAMILY=8` on a library whose videos come in families of 8 look-alikes.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

mod common;
use common::own_peak_rss_kib;
use std::sync::atomic::{AtomicI64, Ordering};

use reelmatch::backend::{Backend, QueryCache};
use reelmatch::config::{Config, IndexKind};
use reelmatch::ml::Models;
use reelmatch::pipeline::QueryRequest;
use reelmatch::search::approx::IndexChoice;
use reelmatch::search::recall::recall_at_10;
use reelmatch::search::Weights;
use reelmatch::store::store_dir;
use reelmatch::synth::{generate, Spec, MODEL};
use reelmatch::Library;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_secs_f64(), out)
}

fn library(videos: usize) -> PathBuf {
    library_of(videos, 1)
}

/// A bench library whose videos come in families of `family` look-alikes (1: all apart).
fn library_of(videos: usize, family: usize) -> PathBuf {
    let name = if family > 1 { format!("{videos}x250-f{family}") } else { format!("{videos}x250") };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-libraries").join(name);
    if !dir.join("ready").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let lib = Library::open(&dir).unwrap();
        let spec = Spec { videos, frames_per_video: 250, dim: 2048, seed: 7, head: true, first_video: 0, family };
        let (s, frames) = time(|| generate(&lib, &spec).unwrap());
        eprintln!("generated {frames} frames in {s:.0}s");
        std::fs::write(dir.join("ready"), "").unwrap();
    }
    dir
}

fn similar(bin: &Path, lib: &Path, space: &str) -> f64 {
    similar_with(bin, lib, space, &[])
}

/// `similar` as a new process with `extra` arguments first (a `--config`).
fn similar_with(bin: &Path, lib: &Path, space: &str, extra: &[&str]) -> f64 {
    let (s, out) = time(|| {
        Command::new(bin)
            .arg("--library")
            .arg(lib)
            .args(extra)
            .args(["--offline", "similar", "Synthetic 00001", "--json", "--top", "10", "--space", space])
            .env("REELMATCH_PEAK_RSS", "1")
            .output()
            .unwrap()
    });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    PEAK_KIB.fetch_max(own_peak_rss_kib(&out.stderr), Ordering::Relaxed);
    s
}

/// A copy of the library grown by 10 videos (2,500 frames): how long `index update` then takes
/// (the store appends them, recomputes the row dots, the head's projection takes the new rows,
/// and the new frames are judged against every frame for those that say nothing), and how long
/// `train` (20 epochs, no augmented views) takes on it, with that training process's own peak
/// resident set (KiB).
fn grow_and_train(bin: &Path, lib: &Path, videos: usize) -> (f64, f64, i64) {
    let copy = lib.with_extension("grown");
    let _ = std::fs::remove_dir_all(&copy);
    let ok = Command::new("cp").arg("-a").arg(lib).arg(&copy).status().unwrap();
    assert!(ok.success());
    let grown = Library::open(&copy).unwrap();
    let spec =
        Spec { videos: 10, frames_per_video: 250, dim: 2048, seed: 8, head: false, first_video: videos, family: 1 };
    generate(&grown, &spec).unwrap();
    let update = run_timed(bin, &copy, &["index", "update"]);
    let conf = copy.join("no-views.toml");
    std::fs::write(&conf, "[train]\naugmented_views = 0\nepochs = 20\n").unwrap();
    take_peak_kib(); // the peak of the training run alone
    let train = run_timed(bin, &copy, &["--config", conf.to_str().unwrap(), "train", "--json"]);
    let peak = take_peak_kib();
    let _ = std::fs::remove_dir_all(&copy);
    (update, train, peak)
}

/// A command's wall time as a new process (once: these take seconds to minutes).
fn run_timed(bin: &Path, lib: &Path, args: &[&str]) -> f64 {
    let (s, out) = time(|| {
        Command::new(bin)
            .arg("--library")
            .arg(lib)
            .arg("--offline")
            .args(args)
            .env("REELMATCH_PEAK_RSS", "1")
            .output()
            .unwrap()
    });
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    PEAK_KIB.fetch_max(own_peak_rss_kib(&out.stderr), Ordering::Relaxed);
    s
}

/// The largest peak resident set of the reelmatch commands run since it was last taken, KiB
/// (each process's own, as it reports it).
static PEAK_KIB: AtomicI64 = AtomicI64::new(0);

fn take_peak_kib() -> i64 {
    PEAK_KIB.swap(0, Ordering::Relaxed)
}

/// faiss on the store's rows: (whole process, search alone) in seconds, or why not.
fn faiss(lib: &Path, frames: usize) -> Result<(f64, f64), String> {
    let vectors = store_dir(&lib.join("catalog.sqlite"), MODEL).join("vectors.f16");
    let script = format!(
        r#"
import time, sys
t0 = time.perf_counter()
import numpy as np, faiss
x = np.memmap("{}", dtype=np.float16, mode="r").reshape({frames}, 2048)
index = faiss.IndexFlatIP(2048)
for start in range(0, {frames}, 65536):
    index.add(np.ascontiguousarray(x[start:start + 65536], dtype=np.float32))
q = np.ascontiguousarray(x[250:500:25], dtype=np.float32)
t1 = time.perf_counter()
index.search(q, 250)
t2 = time.perf_counter()
print(t2 - t1)
"#,
        vectors.display()
    );
    let (s, out) = time(|| Command::new("python3").arg("-c").arg(&script).output());
    let out = out.map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("").to_string());
    }
    let search: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| format!("{e}"))?;
    Ok((s, search))
}

/// The approximate index on a library: the first query (which builds the sketches), cold
/// queries exact and approximate in both spaces, recall@10 against the full scan with 20 videos as
/// the queries, and the faiss process for the ratio.
fn approximate_row(bin: &Path, lib: &Path, scale: &str, frames: usize) -> String {
    let write = |name: &str, index: &str| {
        let path = lib.join(name);
        std::fs::write(&path, format!("[search]\nindex = \"{index}\"\n")).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (exact, approx) = (write("exact.toml", "exact"), write("approximate.toml", "approximate"));
    // The stores and the head's projection brought up to date first, then no sketch anywhere.
    similar_with(bin, lib, "head", &["--config", &exact]);
    let store = store_dir(&lib.join("catalog.sqlite"), MODEL);
    let _ = std::fs::remove_file(store.join("sketch.bin"));
    for entry in std::fs::read_dir(&store).unwrap().flatten() {
        let _ = std::fs::remove_file(entry.path().join("sketch.bin"));
    }
    let (first, _) = time(|| similar_with(bin, lib, "backbone", &["--config", &approx]));
    let (first_head, _) = time(|| similar_with(bin, lib, "head", &["--config", &approx]));
    let cold = |space: &str, conf: &str| {
        median((0..RUNS).map(|_| similar_with(bin, lib, space, &["--config", conf])).collect())
    };
    let (exact_backbone, approx_backbone) = (cold("backbone", &exact), cold("backbone", &approx));
    let (exact_head, approx_head) = (cold("head", &exact), cold("head", &approx));
    // The dashboard's Enter → answer with the library kept open (head space), both ways.
    let library = Library::open(lib).unwrap();
    let warm = |kind| {
        let mut config = Config::default();
        config.search.index = kind;
        let cache = QueryCache::default();
        let ask = |id: i64| {
            cache
                .answer(
                    &Backend::Embedded,
                    &library,
                    &config,
                    &QueryRequest::Video(id),
                    &Models::none(),
                    Weights::default(),
                    50,
                )
                .unwrap()
        };
        ask(2);
        median((0..RUNS).map(|i| time(|| ask(3 + i as i64)).0).collect()) * 1000.0
    };
    let (warm_exact, warm_approx) = (warm(IndexKind::Exact), warm(IndexKind::Approximate));
    let catalog = reelmatch::catalog::Catalog::open(&lib.join("catalog.sqlite")).unwrap();
    let head = reelmatch::train::active_head(&library, &catalog).unwrap().map(|(run, h)| (run.id, h));
    let load = |mode, head: Option<(i64, &reelmatch::train::head::Head)>| {
        let index = IndexChoice { mode, ..IndexChoice::default() };
        let model = Some(MODEL);
        reelmatch::search::SearchLibrary::load_in_space(&catalog, model, None, None, head, None, index).unwrap()
    };
    let recall = |head: Option<(i64, &reelmatch::train::head::Head)>| {
        let (full, fast) = (load(IndexKind::Exact, head), load(IndexKind::Approximate, head));
        let n = full.videos.len();
        let positions: Vec<usize> = (0..20).map(|i| i * n / 20).collect();
        time(|| recall_at_10(&full, &fast, lib, &positions).unwrap())
    };
    let (recall_s, r) = recall(None);
    // The head space too: past as many videos as features it is the compact image of the logits.
    let head_recall = match &head {
        Some((run, h)) => {
            let (_, r) = recall(Some((*run, h)));
            format!("{:.3} / {:.3}", r.videos, r.frames)
        }
        None => "no head".into(),
    };
    let faiss = (0..3).map(|_| faiss(lib, frames)).collect::<Result<Vec<_>, _>>();
    let ratio = match &faiss {
        Ok(runs) => format!("{:.2}×", approx_backbone / median(runs.iter().map(|r| r.0).collect())),
        Err(e) => format!("n/a ({e})"),
    };
    format!(
        "| {scale} ({frames} frames) | {first:.2} s / {first_head:.2} s | {exact_backbone:.2} s → {approx_backbone:.2} s | {exact_head:.2} s → {approx_head:.2} s | {warm_exact:.0} ms → {warm_approx:.0} ms | {:.3} / {:.3} ({} queries, {recall_s:.0} s) | {head_recall} | {ratio} |",
        r.videos, r.frames, r.queries
    )
}

fn main() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_reelmatch"));
    let scales = std::env::var("REELMATCH_SCALE").unwrap_or_else(|_| "100k".into());
    if std::env::var("REELMATCH_SCALE_PART").is_ok_and(|p| p == "approximate") {
        println!("| library | first query, backbone / head (builds the sketch) | `similar --json` new process, backbone: exact → approximate | same, head space | dashboard Enter → answer, head, library open: exact → approximate | recall@10 videos / frames vs the full scan | same, head space | approximate backbone / faiss process |");
        println!("|---|---|---|---|---|---|---|---|");
        let family: usize = std::env::var("REELMATCH_SCALE_FAMILY").ok().and_then(|f| f.parse().ok()).unwrap_or(1);
        for scale in scales.split(',') {
            let videos = if scale.trim() == "1m" { 4000 } else { 400 };
            let label =
                if family > 1 { format!("{} (families of {family})", scale.trim()) } else { scale.trim().to_string() };
            println!("{}", approximate_row(&bin, &library_of(videos, family), &label, videos * 250));
        }
        return;
    }
    let mut rows = Vec::new();
    for scale in scales.split(',') {
        let videos = match scale.trim() {
            "100k" => 400,
            "1m" => 4000,
            other => panic!("unknown scale {other}: use 100k or 1m"),
        };
        let frames = videos * 250;
        let lib = library(videos);
        // As ingestion leaves a library: its store, the head's projection and sketches written,
        // and its frames judged for those that say nothing (the first time, after generation).
        let catch_up = run_timed(&bin, &lib, &["index", "update"]);
        let cold_backbone = median((0..RUNS).map(|_| similar(&bin, &lib, "backbone")).collect());
        let cold_head = median((0..RUNS).map(|_| similar(&bin, &lib, "head")).collect());
        let library = Library::open(&lib).unwrap();
        let config = Config::default();
        let models = Models::none();
        let weights = Weights::default();
        // The dashboard: the library kept open between Enters (the first one opens it).
        let cache = QueryCache::default();
        let ask = |id: i64| {
            cache.answer(&Backend::Embedded, &library, &config, &QueryRequest::Video(id), &models, weights, 50).unwrap()
        };
        let (first_enter, _) = time(|| ask(2));
        let warm = median((0..RUNS).map(|i| time(|| ask(3 + i as i64)).0).collect());
        let skip = std::env::var("REELMATCH_SCALE_SKIP").unwrap_or_default();
        let timed = |what: &str| {
            if skip.split(',').any(|s| s.trim() == what) {
                "skipped".to_string()
            } else {
                format!("{:.1} s", run_timed(&bin, &lib, &[what, "--json"]))
            }
        };
        let (eval, dupes) = (timed("eval"), timed("dupes"));
        let peak_mib = take_peak_kib() as f64 / 1024.0;
        let vector_mib = (frames * 2048 * 2) as f64 / (1 << 20) as f64;
        let (grow, train, train_peak) = grow_and_train(&bin, &lib, videos);
        let train_peak_mib = train_peak as f64 / 1024.0;
        let faiss = (0..RUNS).map(|_| faiss(&lib, frames)).collect::<Result<Vec<_>, _>>();
        let (faiss_process, faiss_search) = match &faiss {
            Ok(runs) => (
                format!("{:.2} s", median(runs.iter().map(|r| r.0).collect())),
                format!("{:.0} ms", 1000.0 * median(runs.iter().map(|r| r.1).collect())),
            ),
            Err(e) => (format!("n/a ({e})"), "n/a".into()),
        };
        let ratio = match &faiss {
            Ok(runs) => format!("{:.2}×", cold_backbone / median(runs.iter().map(|r| r.0).collect())),
            Err(_) => "n/a".into(),
        };
        rows.push(format!(
            "| {scale} ({frames} frames) | {cold_backbone:.2} s | {cold_head:.2} s | {:.0} ms ({:.2} s for the first) | {faiss_process} | {faiss_search} | {ratio} | {eval} / {dupes} | {catch_up:.1} s | {grow:.2} s | {peak_mib:.0} MiB ({:.2}× the {vector_mib:.0} MiB of vectors) | {train:.0} s, peak RSS ≤ {train_peak_mib:.0} MiB |",
            warm * 1000.0,
            first_enter,
            peak_mib / vector_mib
        ));
    }
    println!("| library | `similar --json`, new process, backbone | same, head space | dashboard Enter → answer (head, library kept open) | faiss process (load + IndexFlatIP + search) | faiss search alone | reelmatch backbone / faiss process | `eval` / `dupes` (new process) | `index update` on the library as generated (store, projection, frames judged; then nothing to do) | 10 videos added: `index update` (new process) | largest peak RSS of one reelmatch process above (its own) | `train`, 20 epochs, no views (new process) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    rows.iter().for_each(|r| println!("{r}"));
}
