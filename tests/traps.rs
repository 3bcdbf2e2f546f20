//! Frames that say nothing: six generated clips open with the same 5 s intro and end in 2 s of
//! black, six others don't. With `[search.traps] set_aside` on, the intro and the black make no
//! two clips alike (in `similar` and `dupes`); with it off, the trap shows.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use candle_core::Device;
use common::{random_resnet, test_config};
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
use std::path::Path;
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
    std::fs::create_dir_all(&media).unwrap();
    for (i, content) in CONTENT.iter().enumerate() {
        clip(&media.join(format!("trap{i}.mp4")), content, true);
        clip(&media.join(format!("clean{i}.mp4")), content, false);
    }
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
