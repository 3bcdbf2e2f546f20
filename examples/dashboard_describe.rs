//! The dashboard's Enter on a description at scale (issue 41), as its query job runs it
//! (`backend::QueryCache`, the library kept open between Enters): the first Enter (opening the
//! library in the vision-text space and loading nothing else), then warm Enters alternated with a
//! video's query in the same space, the yardstick. Run by `scripts/describe-scale.sh`:
//!
//! `dashboard_describe LIBRARY VISION_TEXT_MODEL_DIR [ROUNDS]`
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::backend::{Backend, QueryCache};
use reelmatch::config::{Config, SearchSpace};
use reelmatch::ml::Models;
use reelmatch::pipeline::QueryRequest;
use reelmatch::search::Weights;
use reelmatch::Library;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(lib), Some(model)) = (args.next(), args.next()) else {
        panic!("usage: dashboard_describe LIBRARY VISION_TEXT_MODEL_DIR [ROUNDS]")
    };
    let rounds: usize = args.next().map(|r| r.parse().unwrap()).unwrap_or(5);
    let library = Library::open(lib).unwrap();
    let mut config = Config::default();
    config.models.offline = true;
    config.models.vision_text.path = model.into();
    let started = Instant::now();
    let models = Models::none().with_vision_text(reelmatch::ml::load::load_vision_text(&config).unwrap());
    let load = started.elapsed().as_secs_f64();
    let describe = QueryRequest::Describe { text: "dark blue background with neon colours".into(), lyrics: None };
    let cache = QueryCache::default();
    let ask = |cache: &QueryCache, config: &Config, request: &QueryRequest| {
        let t = Instant::now();
        let answer =
            cache.answer(&Backend::Embedded, &library, config, request, &models, Weights::default(), 10).unwrap();
        assert_eq!(answer.results.space, "vision-text");
        assert!(!answer.results.results.is_empty());
        t.elapsed().as_secs_f64()
    };
    let first = ask(&cache, &config, &describe);
    // The yardstick: a video's Enter in the same space, from its own kept library.
    let mut in_space = config.clone();
    in_space.search.space = SearchSpace::VisionText;
    let videos = QueryCache::default();
    let first_video = ask(&videos, &in_space, &QueryRequest::Video(1));
    let (mut warm, mut warm_video) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        warm.push(ask(&cache, &config, &describe));
        warm_video.push(ask(&videos, &in_space, &QueryRequest::Video(2 + round as i64)));
    }
    let range = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((f64::MAX, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        format!("{:.0}–{:.0} ms", lo * 1000.0, hi * 1000.0)
    };
    println!("the dashboard's Enter ({rounds} warm rounds alternated; the model loaded once in {load:.2} s):");
    println!("  a description: first {:.2} s, then {}", first, range(&warm));
    println!("  a video in the vision-text space: first {:.2} s, then {}", first_video, range(&warm_video));
}
