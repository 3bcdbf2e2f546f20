//! Query latency of exact search: 10 query frames against 10,000, 100,000 and 1,000,000 stored
//! 2048-d vectors (random), per-video aggregation included; memory per million vectors.
//! `cargo bench --bench search` (set `REELMATCH_BENCH_MAX` to stop earlier, e.g. 100000).

use reelmatch::rng::SplitMix64;
use reelmatch::search::index::{ExactIndex, VectorIndex};
use reelmatch::search::rank::{aggregate, VideoSpan};
use std::time::Instant;

const DIM: usize = 2048;

fn random_vec(rng: &mut SplitMix64) -> Vec<f32> {
    (0..DIM).map(|_| rng.unit() as f32 - 0.5).collect()
}

fn main() {
    reelmatch::init_threads(None);
    let max: usize = std::env::var("REELMATCH_BENCH_MAX").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut rng = SplitMix64(7);
    let queries: Vec<Vec<f32>> = (0..10).map(|_| random_vec(&mut rng)).collect();
    for n in [10_000usize, 100_000, 1_000_000].into_iter().filter(|n| *n <= max) {
        let mut index = ExactIndex::new(DIM);
        for _ in 0..n {
            index.push(&random_vec(&mut rng));
        }
        index.center();
        // ~200 frames per video, as a 4-minute video sampled at 1 fps.
        let spans: Vec<VideoSpan> =
            (0..n.div_ceil(200)).map(|v| VideoSpan { video: v, start: v * 200, end: ((v + 1) * 200).min(n) }).collect();
        let _ = aggregate(&index.scores(&queries), &spans); // warm-up
        let runs = if n >= 1_000_000 { 3 } else { 10 };
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let ranked = aggregate(&index.scores(&queries), &spans);
            std::hint::black_box(ranked);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let t = Instant::now();
        let scores = index.scores(&queries);
        let t_scores = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        std::hint::black_box(aggregate(&scores, &spans));
        eprintln!("  (scores {t_scores:.1} ms, aggregation {:.1} ms)", t.elapsed().as_secs_f64() * 1000.0);
        println!(
            "{n:>9} vectors: {:.1} ms per 10-frame query (median of {runs}); {:.0} MiB of f32 vectors ({:.2} GiB per million)",
            times[runs / 2],
            index.bytes() as f64 / (1 << 20) as f64,
            index.bytes() as f64 / n as f64 * 1e6 / (1u64 << 30) as f64
        );
    }
}
