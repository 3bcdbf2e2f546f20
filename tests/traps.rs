//! Frames that say nothing: six generated clips open with the same 5 s intro and end in 2 s of
//! black, six others don't. With `[search.traps] set_aside` on, the intro and the black make no
//! two clips alike (in `similar` and `dupes`); with it off, the trap shows. Through the library
//! API on the embedded catalog, and through the binary on both catalogs.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use crate::on_both;
use candle_core::Device;
use common::{assets, random_resnet, test_config, Backend};
use reelmatch::catalog::Catalog;
use reelmatch::config::SearchSpace;
use reelmatch::events::{discard, Cancel};
use reelmatch::ingest::ingest;
use reelmatch::ml::image::ImageEmbedder;
use reelmatch::ml::Models;
use reelmatch::search::eval::near_duplicates;
use reelmatch::search::space::Space;
use reelmatch::search::{search, Query, SearchLibrary, Weights};
use reelmatch::{Config, Library};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The clips' own pictures: each is the content of one clip with the intro and the black, and
/// of one without (the control: how alike the contents are by themselves).
/// (Sources with a random pattern get a fixed seed, so both clips of a content show the same.)
const CONTENT: [&str; 6] = ["mandelbrot=", "cellauto=seed=3:", "life=seed=7:", "rgbtestsrc=", "smptebars=", "testsrc="];

fn clip(path: &Path, content: &str, trapped: bool) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y"]);
    let mut part = |source: &str, seconds: f64| {
        cmd.arg("-t").arg(seconds.to_string()).args(["-f", "lavfi", "-i"]).arg(format!("{source}size=96x64:rate=10"));
    };
    if trapped {
        part("testsrc2=", 5.0);
        part(content, 4.0);
        part("color=c=black:", 2.0);
        cmd.args(["-filter_complex", "[0][1][2]concat=n=3:v=1:a=0"]);
    } else {
        part(content, 4.0);
    }
    cmd.args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]).arg(path);
    let out = cmd.output().expect("ffmpeg runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn config(set_aside: bool) -> Config {
    test_config(&format!("[search.traps]\nset_aside = {set_aside}\n"))
}

fn load(lib: &Library, cat: &Catalog, config: &Config) -> SearchLibrary {
    Space::choose(lib, cat, config, Some(SearchSpace::Backbone)).unwrap().load(cat, None).unwrap()
}

/// Every pair's visual score in both directions averaged (`dupes` at threshold -1), by title.
fn pair_scores(sl: &SearchLibrary) -> HashMap<(String, String), f32> {
    let title = |id: i64| sl.videos.iter().find(|v| v.id == id).unwrap().title.clone();
    near_duplicates(sl, -1.0)
        .into_iter()
        .flat_map(|(a, b, s)| [((title(a), title(b)), s), ((title(b), title(a)), s)])
        .collect()
}

/// Each trapped clip's nearest clip.
fn nearest(lib: &Library, sl: &SearchLibrary) -> Vec<String> {
    let visual = Weights { visual: 1.0, lyrics: 0.0 };
    (0..CONTENT.len())
        .map(|i| {
            let v = sl.videos.iter().find(|v| v.title == format!("trap{i}")).unwrap();
            let r = search(sl, &Query::from_library(sl, lib.root(), v).unwrap(), visual, 1, false);
            r.results[0].title.clone()
        })
        .collect()
}

/// How much more alike each pair of trapped clips is than the same two contents without the
/// intro and the black.
fn excess(scores: &HashMap<(String, String), f32>) -> Vec<f32> {
    let mut out = Vec::new();
    for i in 0..CONTENT.len() {
        for j in i + 1..CONTENT.len() {
            let trapped = scores[&(format!("trap{i}"), format!("trap{j}"))];
            let clean = scores[&(format!("clean{i}"), format!("clean{j}"))];
            out.push(trapped - clean);
        }
    }
    out
}

#[test]
fn a_shared_intro_and_black_frames_make_no_two_clips_alike() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    clips(&media);
    let weights = work.path().join("w.safetensors");
    random_resnet(&weights);
    let on = config(true);
    let image = ImageEmbedder::load_weights(&weights, &Device::Cpu, &on.image, 16, "random".into()).unwrap();
    let black = work.path().join("black.png");
    image::RgbImage::new(96, 64).save(&black).unwrap();
    let black_query = Query::from_image(&image, &black).unwrap();
    let models = Models::none().with_image(image);
    let lib = Library::open(work.path().join("lib")).unwrap();
    let report = ingest(&lib, &on, &[media], &models, &discard(), &Cancel::new()).unwrap();
    assert!(report.failed.is_empty(), "{report:#?}");
    let cat = Catalog::open(&lib.catalog_path()).unwrap();
    let trap_pairs = |scores: &HashMap<(String, String), f32>, at: f32| {
        scores.iter().filter(|((a, b), s)| a < b && a.starts_with("trap") && b.starts_with("trap") && **s >= at).count()
    };

    // Off: the intro and the black carry the trapped clips to each other.
    let off = load(&lib, &cat, &config(false));
    assert!(off.set_aside.is_empty());
    let (near, scores) = (nearest(&lib, &off), pair_scores(&off));
    let extra = excess(&scores);
    eprintln!("off: nearest {near:?}, excess {extra:?}");
    assert!(near.iter().all(|t| t.starts_with("trap")), "each trapped clip's nearest is another trapped one: {near:?}");
    assert!(extra.iter().all(|&e| e > 0.1), "every trapped pair looks more alike than its contents: {extra:?}");
    let threshold = 0.6;
    assert!(trap_pairs(&scores, threshold) >= 10, "and most are called duplicates at {threshold}");
    let visual = Weights { visual: 1.0, lyrics: 0.0 };
    let r = search(&off, &black_query, visual, 3, false);
    assert!(r.results.iter().all(|h| h.title.starts_with("trap")), "a black picture finds the black endings: {r:?}");

    // On: the same library, and each trapped clip is judged by what is its own.
    let sl = load(&lib, &cat, &on);
    let counts = reelmatch::pipeline::set_aside_counts(&cat, &lib, &on).unwrap();
    for v in &sl.videos {
        let c = counts.get(&v.id).copied().unwrap_or_default();
        if v.title.starts_with("trap") {
            assert!(c.shared >= 8 && c.flat >= 3, "{}: the intro is shared and the end is black: {c}", v.title);
        } else {
            assert_eq!(c.total(), 0, "{}: nothing of a clean clip is set aside: {c}", v.title);
        }
    }
    let (near, scores) = (nearest(&lib, &sl), pair_scores(&sl));
    let extra = excess(&scores);
    eprintln!("on: nearest {near:?}, excess {extra:?}");
    let own: Vec<String> = (0..CONTENT.len()).map(|i| format!("clean{i}")).collect();
    assert_eq!(near, own, "each trapped clip's nearest is the clip with its own content");
    assert!(extra.iter().all(|&e| e.abs() < 0.02), "trapped pairs are as alike as their contents, no more: {extra:?}");
    let r = search(&sl, &black_query, visual, 3, false);
    assert!(r.results.is_empty(), "a black picture says nothing, so nothing is like it: {r:?}");
    let clean_max =
        scores.iter().filter(|((a, b), _)| a.starts_with("clean") && b.starts_with("clean")).map(|(_, s)| *s);
    let above = clean_max.fold(f32::NEG_INFINITY, f32::max) + 0.05;
    assert_eq!(trap_pairs(&scores, above), 0, "no trapped pair is a duplicate where no clean pair is");
}

/// The six trapped and six clean clips in `media`.
fn clips(media: &Path) {
    std::fs::create_dir_all(media).unwrap();
    for (i, content) in CONTENT.iter().enumerate() {
        clip(&media.join(format!("trap{i}.mp4")), content, true);
        clip(&media.join(format!("clean{i}.mp4")), content, false);
    }
}

/// The binary on `lib` with `backend`'s catalog, the random image model and the config `config`.
fn binary(backend: &Backend, lib: &Path, resnet: &Path, config: &Path) -> Command {
    let mut c = backend.cmd(lib);
    let m = assets().join("models");
    c.arg("--config").arg(config).arg("--image-model").arg(resnet);
    c.arg("--speech-model").arg(m.join("whisper-tiny.en")).arg("--text-model").arg(m.join("all-minilm-l6-v2"));
    c
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The titles `similar … --json` ranks, best first.
fn ranked(cmd: &mut Command) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(cmd)).unwrap();
    doc["results"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap().to_string()).collect()
}

on_both! {
    /// The same clips through the binary, the trapped ones in two ingests: `library` counts
    /// each trapped clip's intro and black as set aside (the first ones' intro once the others
    /// share it) and nothing of a clean clip, `index update` reports them, each trapped clip's
    /// nearest is the clean clip with its own content and a black picture finds nothing; with
    /// `set_aside = false` the intro carries a trapped clip to another trapped one.
    fn set_aside_through_the_binary(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        clips(&media);
        let resnet: PathBuf = work.path().join("resnet");
        std::fs::create_dir_all(&resnet).unwrap();
        random_resnet(&resnet.join("model.safetensors"));
        let settings = |on: bool| {
            let path = work.path().join(format!("set_aside_{on}.toml"));
            let text = format!("[sampling]\nframe_short_side = 64\n[models]\noffline = true\n[search.traps]\nset_aside = {on}\n");
            std::fs::write(&path, text).unwrap();
            path
        };
        let (on, off) = (settings(true), settings(false));
        let lib = work.path().join("lib");
        let run = |config: &Path| binary(backend, &lib, &resnet, config);
        let listed = |config: &Path| -> Vec<serde_json::Value> {
            serde_json::from_str(&stdout_of(run(config).args(["library", "--json"]))).unwrap()
        };
        // First two trapped clips only: their intro is shared with one other video, too few.
        let held = work.path().join("held");
        std::fs::create_dir_all(&held).unwrap();
        let later: Vec<String> = (2..CONTENT.len()).map(|i| format!("trap{i}.mp4")).collect();
        later.iter().for_each(|f| std::fs::rename(media.join(f), held.join(f)).unwrap());
        stdout_of(run(&on).arg("ingest").arg(&media));
        for row in listed(&on).iter().filter(|r| r["title"].as_str().unwrap().starts_with("trap")) {
            assert_eq!(row["set_aside"]["shared"], 0, "one other video is a match, not a trap: {row}");
            assert!(row["set_aside"]["flat"].as_u64().unwrap() >= 3, "the black end is flat: {row}");
        }
        // The other four come: the first two's intro frames are now shared with five videos.
        later.iter().for_each(|f| std::fs::rename(held.join(f), media.join(f)).unwrap());
        stdout_of(run(&on).arg("ingest").arg(&media));

        let rows = listed(&on);
        assert_eq!(rows.len(), 12);
        for row in &rows {
            let (shared, flat) = (row["set_aside"]["shared"].as_u64().unwrap(), row["set_aside"]["flat"].as_u64().unwrap());
            if row["title"].as_str().unwrap().starts_with("trap") {
                assert!(shared >= 8 && flat >= 3, "the intro is shared and the end is black: {row}");
            } else {
                assert_eq!(shared + flat, 0, "nothing of a clean clip is set aside: {row}");
            }
        }
        let update = stdout_of(run(&on).args(["index", "update"]));
        assert!(update.contains("set aside"), "{update}");

        let similar = |config: &Path, what: &str| {
            ranked(run(config).args(["similar", what, "--json", "--space", "backbone", "--visual", "1", "--lyrics-weight", "0"]))
        };
        for i in 0..CONTENT.len() {
            let near = similar(&on, &format!("trap{i}"));
            assert_eq!(near[0], format!("clean{i}"), "trap{i}'s nearest is the clip with its own content: {near:?}");
        }
        let black = work.path().join("black.png");
        image::RgbImage::new(96, 64).save(&black).unwrap();
        let found = ranked(run(&on).args(["similar", "--json", "--space", "backbone", "--visual", "1", "--lyrics-weight", "0", "--image"]).arg(&black));
        assert!(found.is_empty(), "a black picture says nothing, so nothing is like it: {found:?}");

        let near: Vec<String> = (0..CONTENT.len()).map(|i| similar(&off, &format!("trap{i}"))[0].clone()).collect();
        assert!(near.iter().all(|t| t.starts_with("trap")), "off: each trapped clip's nearest is another trapped one: {near:?}");
        assert!(listed(&off).iter().all(|r| r["set_aside"]["shared"] == 0 && r["set_aside"]["flat"] == 0), "off: nothing set aside");
    }
}
