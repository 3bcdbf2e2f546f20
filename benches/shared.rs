//! The shared catalog on PostgreSQL + pgvector beside the embedded one, end to end, on one
//! machine, with a throwaway PostgreSQL 18 cluster from the test assets:
//!
//! - **query**: `reelmatch similar TITLE --json` as a new process on the 100k-frame synthetic
//!   library whose videos come in families of 8 look-alikes (`target/bench-libraries/400x250-f8`,
//!   as `REELMATCH_SCALE_PART=approximate REELMATCH_SCALE_FAMILY=8` of `library_scale` makes
//!   it: a video's true neighbours are its family, so recall means something): embedded, on
//!   PostgreSQL with exact SQL scoring, and with HNSW candidates; recall@10 of HNSW against
//!   exact; what the export to PostgreSQL and the HNSW build took; `index update` judging every
//!   frame for saying nothing, and `similar` and Enter with those judgements read.
//! - **ingest**: real ingestion (ffprobe, ffmpeg sampling, random-weight ResNet-50 embedding) of
//!   generated clips, embedded (one process) against 1, 2 and 3 `ingest --worker` processes.
//!
//! `REELMATCH_SHARED_PART=query` or `ingest` runs one part. `REELMATCH_SHARED_BASELINE=BINARY`
//! (with `ingest`) runs one worker of this build and one of another build in turn, three times each. Medians of 5 runs for queries.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::catalog::Status;
use reelmatch::config::IndexKind;
use reelmatch::search::approx::IndexChoice;
use reelmatch::search::{search, Query, SearchLibrary, Weights};
use reelmatch::shared::cluster::LocalCluster;
use reelmatch::shared::search::{load, SharedSearch};
use reelmatch::shared::SharedCatalog;
use reelmatch::synth::MODEL;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const RUNS: usize = 5;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_reelmatch"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    t.elapsed().as_secs_f64()
}

fn cluster() -> LocalCluster {
    let assets = std::env::var_os("REELMATCH_TEST_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/reelmatch-test-assets"));
    LocalCluster::start(&assets.join("postgres/pgserver/pginstall")).unwrap()
}

fn config_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn query_part(work: &Path) {
    let lib_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-libraries/400x250-f8");
    assert!(
        lib_dir.join("ready").exists(),
        "run `REELMATCH_SCALE_PART=approximate REELMATCH_SCALE_FAMILY=8 cargo bench --bench library_scale` first: it makes {}",
        lib_dir.display()
    );
    let lib = reelmatch::Library::open(&lib_dir).unwrap();
    let pg = cluster();
    let t = Instant::now();
    let report =
        reelmatch::shared::export::export_library(&lib, &pg.url(), &Default::default(), usize::MAX, &|_, _, _| {})
            .unwrap();
    let export_s = t.elapsed().as_secs_f64();
    println!(
        "export to PostgreSQL: {} videos, {} frames in {export_s:.0} s ({:.0} frames/s)",
        report.uploaded,
        report.frames,
        report.frames as f64 / export_s
    );
    let t = Instant::now();
    let mut catalog = SharedCatalog::open(&pg.url()).unwrap();
    reelmatch::shared::hnsw::ensure_hnsw(&mut catalog, MODEL).unwrap();
    println!("HNSW index built in {:.0} s", t.elapsed().as_secs_f64());
    rebuild_beside_writes(&pg.url(), &mut catalog);
    let exact = config_file(work, "exact.toml", "[search]\nindex = \"exact\"\n[search.traps]\nset_aside = false\n");
    let approx =
        config_file(work, "approx.toml", "[search]\nindex = \"approximate\"\n[search.traps]\nset_aside = false\n");
    let title = "Synthetic 00013";
    let similar = |config: &Path, catalog: Option<&str>| {
        let mut c = Command::new(bin());
        c.arg("--library").arg(&lib_dir).arg("--config").arg(config);
        if let Some(url) = catalog {
            c.args(["--catalog", url]);
        }
        c.args(["similar", title, "--json", "--space", "backbone"]);
        c
    };
    let mut rows = Vec::new();
    for (label, config, catalog) in [
        ("embedded (SQLite + vector store), exact", &exact, None),
        ("PostgreSQL, exact SQL scoring", &exact, Some(pg.url())),
        ("PostgreSQL, HNSW candidates", &approx, Some(pg.url())),
    ] {
        timed(&mut similar(config, catalog.as_deref())); // warm the page cache once
        let s = median((0..RUNS).map(|_| timed(&mut similar(config, catalog.as_deref()))).collect());
        rows.push((label, s));
    }
    let base = rows[0].1;
    println!("\n| `similar` at 100k frames, new process | median s | × embedded |\n|---|---|---|");
    for (label, s) in &rows {
        println!("| {label} | {s:.2} | {:.2} |", s / base);
    }
    // The dashboard's Enter: the first query opens the library, five more on other videos.
    println!("\n| dashboard Enter → answer at 100k frames (library kept open) | first (opens) s | then, median ms |\n|---|---|---|");
    for (label, kind) in
        [("PostgreSQL, exact SQL scoring", IndexKind::Exact), ("PostgreSQL, HNSW candidates", IndexKind::Approximate)]
    {
        let (first, then) = enter_times(&pg.url(), kind, false);
        println!("| {label} | {first:.2} | {then:.0} |");
    }
    // Recall@10 of HNSW candidates against exact SQL scoring, over 20 query videos.
    let open = || SharedCatalog::open(&pg.url()).unwrap();
    let x = load(
        open(),
        Some(MODEL),
        None,
        SharedSearch { index: IndexChoice { mode: IndexKind::Exact, ..Default::default() }, ..Default::default() },
        None,
    )
    .unwrap();
    let h = load(
        open(),
        Some(MODEL),
        None,
        SharedSearch {
            index: IndexChoice { mode: IndexKind::Approximate, ..Default::default() },
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let w = Weights { visual: 1.0, lyrics: 0.0 };
    let (mut found, mut wanted) = (0, 0);
    let top = |l: &SearchLibrary, title: &str| -> Vec<i64> {
        let v = l.videos.iter().find(|v| v.title == title).unwrap();
        search(l, &Query::from_library(l, lib.root(), v).unwrap(), w, 10, false).results.iter().map(|r| r.id).collect()
    };
    for v in x.videos.iter().step_by(20) {
        let (a, b) = (top(&x, &v.title), top(&h, &v.title));
        wanted += a.len();
        found += b.iter().filter(|id| a.contains(id)).count();
    }
    println!("\nrecall@10 of HNSW candidates against exact SQL scoring: {:.3}", found as f64 / wanted as f64);
    set_aside_on_the_catalog(work, &lib_dir, &pg.url(), title);
}

/// Frames that say nothing (`[search.traps]`, the default) on the catalog: `index update`
/// judging every frame once (a new process), then `similar` and the dashboard's Enter with the
/// judgements read, beside the same with the switch off.
fn set_aside_on_the_catalog(work: &Path, lib_dir: &Path, url: &str, title: &str) {
    let config = |on: bool| {
        let text = format!("[search]\nindex = \"approximate\"\n[search.traps]\nset_aside = {on}\n");
        config_file(work, &format!("traps-{on}.toml"), &text)
    };
    let (on, off) = (config(true), config(false));
    let run = |config: &Path| {
        let mut c = Command::new(bin());
        c.arg("--library").arg(lib_dir).arg("--config").arg(config).args(["--catalog", url]);
        c
    };
    let t = Instant::now();
    let out = run(&on).args(["index", "update"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    println!(
        "\n`index update` judging every frame for saying nothing (new process): {:.0} s\n{}",
        t.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    println!("\n| at 100k frames, PostgreSQL, HNSW candidates | `similar --json`, new process, median s | dashboard Enter, then median ms |\n|---|---|---|");
    for (label, config, set_aside) in [("frames set aside (judged)", &on, true), ("switch off", &off, false)] {
        let similar = || {
            let mut c = run(config);
            c.args(["similar", title, "--json", "--space", "backbone"]);
            c
        };
        timed(&mut similar());
        let cold = median((0..RUNS).map(|_| timed(&mut similar())).collect());
        let (_, then) = enter_times(url, IndexKind::Approximate, set_aside);
        println!("| {label} | {cold:.2} | {then:.0} |");
    }
}

/// The dashboard's Enter on the catalog at `url`: the library kept open between queries
/// (`backend::QueryCache` in the backbone space, searched in SQL, with the one pair of frames the
/// view shows). The first query's seconds (it opens the library), then the median milliseconds
/// of five more on other videos.
fn enter_times(url: &str, index: IndexKind, set_aside: bool) -> (f64, f64) {
    let mut config = reelmatch::config::Config::default();
    config.search.index = index;
    config.search.traps.set_aside = set_aside;
    config.search.space = reelmatch::config::SearchSpace::Backbone;
    let warm = reelmatch::backend::QueryCache::default();
    let backend = reelmatch::backend::Backend::Shared(url.to_string());
    let local = reelmatch::Library::at(std::path::Path::new("unused: the backbone space has no copy"));
    let models = reelmatch::ml::Models::configured(&config, None);
    let weights =
        reelmatch::search::Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
    let similar_to = |id: i64| {
        let request = reelmatch::pipeline::QueryRequest::Video(id);
        warm.answer(&backend, &local, &config, &request, &models, weights, 1).unwrap()
    };
    let queue = reelmatch::shared::listing::queue(&mut SharedCatalog::open(url).unwrap()).unwrap();
    let ids: Vec<i64> =
        queue.iter().filter(|r| r.video.status == Status::Ready).step_by(40).map(|r| r.video.id).collect();
    let t = Instant::now();
    assert!(similar_to(ids[0]).opened.is_some());
    let first = t.elapsed().as_secs_f64();
    let then = median(
        ids[1..=RUNS]
            .iter()
            .map(|&id| {
                let t = Instant::now();
                assert!(similar_to(id).opened.is_none(), "the library stays open");
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    (first, then)
}

/// The index built again while another session writes to the frames table every 100 ms (one
/// row, as an upload writes rows): how long the build took and the longest a write waited. The
/// build is concurrent, so no write waits for it.
fn rebuild_beside_writes(url: &str, catalog: &mut SharedCatalog) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (url, stop) = (url.to_string(), stop.clone());
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let sql = "UPDATE frame_embeddings SET scale = scale WHERE frame_id = (SELECT min(frame_id) FROM frame_embeddings)";
            let (mut worst, mut writes) = (0.0f64, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                client.execute(sql, &[]).unwrap();
                worst = worst.max(t.elapsed().as_secs_f64());
                writes += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            (worst, writes)
        })
    };
    let t = Instant::now();
    reelmatch::shared::hnsw::rebuild_hnsw(catalog, MODEL).unwrap();
    let build_s = t.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (worst, writes) = writer.join().unwrap();
    println!(
        "HNSW index built again in {build_s:.0} s beside {writes} writes to the frames table; the longest write took {:.0} ms",
        worst * 1000.0
    );
}

fn ingest_part(work: &Path) {
    let media = work.join("media");
    std::fs::create_dir_all(&media).unwrap();
    let sources = ["testsrc2", "smptebars", "mandelbrot", "rgbtestsrc", "cellauto", "life"];
    for i in 0..24 {
        let out = media.join(format!("clip {i:02}.mp4"));
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("{}=size=320x240:rate=25", sources[i % sources.len()]))
            .args([
                "-t",
                &format!("{}", 10.0 + i as f64 * 0.1),
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let resnet = work.join("resnet");
    std::fs::create_dir_all(&resnet).unwrap();
    reelmatch::ml::image::write_random_weights(&resnet.join("model.safetensors")).unwrap();
    let none = work.join("none");
    let config = config_file(
        work,
        "ingest.toml",
        &format!(
            "[models]\noffline = true\n[models.image]\npath = {resnet:?}\n[models.speech]\npath = {none:?}\n[models.text]\npath = {none:?}\n"
        ),
    );
    let frames = |lib: &Path| -> i64 {
        let cat = reelmatch::catalog::Catalog::open(&lib.join("catalog.sqlite")).unwrap();
        cat.videos().unwrap().iter().map(|v| v.frames_train + v.frames_test).sum()
    };
    let embedded = work.join("embedded");
    let s = timed(
        Command::new(bin()).arg("--library").arg(&embedded).arg("--config").arg(&config).arg("ingest").arg(&media),
    );
    let n = frames(&embedded);
    let mut rows = vec![("embedded, one process".to_string(), s, n)];
    let pg = cluster();
    let workers_run = |binary: &Path, name: &str, workers: usize| -> (f64, i64) {
        let url = pg.create_database(name).unwrap();
        let t = Instant::now();
        assert!(Command::new(binary).args(["--catalog", &url, "migrate"]).output().unwrap().status.success());
        let children: Vec<_> = (0..workers)
            .map(|i| {
                Command::new(binary)
                    .arg("--library")
                    .arg(work.join(format!("{name}-{i}")))
                    .arg("--config")
                    .arg(&config)
                    .args(["--catalog", &url, "ingest", "--worker"])
                    .arg(&media)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let s = t.elapsed().as_secs_f64();
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let n: i64 = client.query_one("SELECT count(*) FROM frame_embeddings", &[]).unwrap().get(0);
        (s, n)
    };
    // Another build's worker beside this one's, alternated in the same run (one worker each).
    if let Some(baseline) = std::env::var_os("REELMATCH_SHARED_BASELINE").map(PathBuf::from) {
        let mut times: [Vec<f64>; 2] = Default::default();
        for round in 0..3 {
            for (k, binary) in [bin(), baseline.clone()].iter().enumerate() {
                let (s, _) = workers_run(binary, &format!("b{round}{k}"), 1);
                times[k].push(s);
            }
        }
        let range = |v: &[f64]| {
            format!("{:.1}–{:.1}", v.iter().cloned().fold(f64::MAX, f64::min), v.iter().cloned().fold(0.0, f64::max))
        };
        println!("\n| one worker, 24 clips, 3 runs alternated | wall s |\n|---|---|");
        println!("| this build | {} |\n| {} | {} |", range(&times[0]), baseline.display(), range(&times[1]));
        return;
    }
    for workers in 1..=3 {
        let (s, n) = workers_run(&bin(), &format!("w{workers}"), workers);
        rows.push((format!("PostgreSQL, {workers} worker(s)"), s, n));
    }
    println!("\n| ingest 24 clips (10–12 s, 320×240) with ResNet-50 | wall s | frames embedded | frames/s |\n|---|---|---|---|");
    for (label, s, n) in &rows {
        println!("| {label} | {s:.1} | {n} | {:.1} |", *n as f64 / s);
    }
}

fn main() {
    let work = tempfile::tempdir().unwrap();
    let part = std::env::var("REELMATCH_SHARED_PART").unwrap_or_default();
    if part.is_empty() || part == "query" {
        query_part(work.path());
    }
    if part.is_empty() || part == "ingest" {
        ingest_part(work.path());
    }
}
