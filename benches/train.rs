//! Training speed: seconds per epoch of the linear head over 27,000 × 2048 features and 90
//! classes (synthetic clustered features: speed does not depend on their values), with the
//! default settings and the paper's; and the one-off cost of one augmented view of a frame
//! (augmentation on a 455×256 frame, then a ResNet-50 forward pass with random weights).
//!
//! `cargo bench --bench train`; `REELMATCH_TRAIN_SHAPE=90000x400` times the 100k-frame library's
//! train split (90,000 frames, 400 videos) instead, without the augmented view.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use candle_core::Device;
use reelmatch::config::{Config, Layer};
use reelmatch::events::Cancel;
use reelmatch::ml::image::ImageEmbedder;
use reelmatch::rng::SplitMix64;
use reelmatch::train::augment::Augmentation;
use reelmatch::train::fit::{fit, Dataset, FitSettings, Samples};
use std::time::Instant;

const DIM: usize = 2048;

/// Train frames and classes: 27,000 and 90 (the seed's library), or `REELMATCH_TRAIN_SHAPE=FRAMESxCLASSES`
/// (`90000x400` is the 100k-frame library's train split).
fn shape() -> (usize, usize) {
    let raw = std::env::var("REELMATCH_TRAIN_SHAPE").unwrap_or_else(|_| "27000x90".into());
    let (f, c) = raw.split_once('x').expect("REELMATCH_TRAIN_SHAPE is FRAMESxCLASSES");
    (f.parse().unwrap(), c.parse().unwrap())
}

fn dataset(frames: usize, classes: usize) -> Dataset {
    let mut rng = SplitMix64(5);
    let centres: Vec<Vec<f32>> = (0..classes).map(|_| (0..DIM).map(|_| rng.unit() as f32).collect()).collect();
    let mut make = |n: usize| {
        let mut s = Samples::default();
        for i in 0..n {
            let c = i % classes;
            s.x.extend(centres[c].iter().map(|v| v + (rng.unit() as f32 - 0.5) * 0.5));
            s.y.push(c as u32);
        }
        s
    };
    let train = make(frames);
    let test = make(frames / 9);
    Dataset { dim: DIM, titles: (0..classes).map(|c| format!("video {c}")).collect(), train, test }
}

fn epochs(data: &Dataset, name: &str, config: &Config) {
    let s = FitSettings { epochs: 3, ..FitSettings::from_config(&config.train, 1) };
    let (frames, classes) = (data.train.len(), data.titles.len());
    let f = fit(data, &s, None, &mut |_| Ok(()), &Cancel::new()).unwrap();
    let mut secs: Vec<f64> = f.history.iter().map(|m| m.seconds).collect();
    secs.sort_by(f64::total_cmp);
    println!(
        "{name:<8} ({} lr {} batch {}): {:.2} s per epoch of {frames} × {DIM} features, {classes} classes (median of 3; incl. test pass)",
        s.optimizer, s.learning_rate, s.batch_size, secs[1]
    );
}

fn augmented_view() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    reelmatch::ml::image::write_random_weights(&weights).unwrap();
    let model =
        ImageEmbedder::load_weights(&weights, &Device::Cpu, &Config::default().image, 16, "random".into()).unwrap();
    let frame = image::RgbImage::from_fn(455, 256, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
    });
    let n = 16;
    let t = Instant::now();
    let views: Vec<_> = (0..n).map(|i| Augmentation::for_view(7, i, 0).apply(&frame)).collect();
    let augment = t.elapsed().as_secs_f64() / n as f64;
    model.embed(&views[..2]).unwrap(); // warm-up
    let t = Instant::now();
    model.embed(&views).unwrap();
    let forward = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "augmented view: {:.1} ms to augment + {:.0} ms ResNet-50 forward = {:.0} ms per view ({:.1} views/s)",
        augment * 1000.0,
        forward * 1000.0,
        (augment + forward) * 1000.0,
        1.0 / (augment + forward)
    );
}

fn main() {
    reelmatch::init_process(None);
    let (frames, classes) = shape();
    let data = dataset(frames, classes);
    let default = Config::default();
    epochs(&data, "default", &default);
    let paper = Config::from_layers(&[Layer::preset("paper").unwrap()]).unwrap();
    epochs(&data, "paper", &paper);
    if std::env::var_os("REELMATCH_TRAIN_SHAPE").is_none() {
        augmented_view();
    }
}
