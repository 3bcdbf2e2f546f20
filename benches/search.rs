//! Query latency of search (a full scan): 10 query frames against 10,000, 100,000 and 1,000,000 stored
//! vectors (random), per-video aggregation included, and the memory the vectors take; in the
//! backbone space (2048-d) and in a trained head's space (one dimension per video: 90 here).
//! `cargo bench --bench search` (`REELMATCH_BENCH_MAX` stops earlier, e.g. 100000).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::rng::SplitMix64;
use reelmatch::search::index::{FlatIndex, VectorIndex};
use reelmatch::search::rank::{aggregate, VideoSpan};
use std::time::Instant;

fn random_vec(rng: &mut SplitMix64, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.unit() as f32 - 0.5).collect()
}

fn measure(space: &str, dim: usize, n: usize, rng: &mut SplitMix64) {
    let queries: Vec<Vec<f32>> = (0..10).map(|_| random_vec(rng, dim)).collect();
    let mut index = FlatIndex::new(dim);
    for _ in 0..n {
        index.push(&random_vec(rng, dim));
    }
    index.center();
    // ~200 frames per video, as a 4-minute video sampled at 1 fps.
    let spans: Vec<VideoSpan> =
        (0..n.div_ceil(200)).map(|v| VideoSpan { video: v, start: v * 200, end: ((v + 1) * 200).min(n) }).collect();
    let _ = aggregate(&index.scores(&queries), &spans); // warm-up
    let runs = if n >= 1_000_000 && dim > 256 { 3 } else { 10 };
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let ranked = aggregate(&index.scores(&queries), &spans);
        std::hint::black_box(ranked);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{space:<9} {dim:>5}-d {n:>9} vectors: {:>8.1} ms per 10-frame query (median of {runs}); {:>6.0} MiB ({:.2} GiB per million)",
        times[runs / 2],
        index.bytes() as f64 / (1 << 20) as f64,
        index.bytes() as f64 / n as f64 * 1e6 / (1u64 << 30) as f64
    );
}

fn main() {
    reelmatch::init_process(None);
    let max: usize = std::env::var("REELMATCH_BENCH_MAX").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut rng = SplitMix64(7);
    for n in [10_000usize, 100_000, 1_000_000].into_iter().filter(|n| *n <= max) {
        measure("backbone", 2048, n, &mut rng);
        measure("head", 90, n, &mut rng);
    }
}
