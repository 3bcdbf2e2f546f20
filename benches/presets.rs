//! How the training settings compare on a held-out split: a library of generated clips (twelve
//! lavfi visuals, several of them variants of the same source, and four medleys made of 5 s of
//! four of those sources each, so parts of some classes look exactly like others),
//! embedded with a randomly initialised ResNet-50 (no pretrained weights can be had here), then
//! one run per setting. Prints test, top-10 class and macro accuracy for each: the measurement
//! behind the default `[train]` settings.
//!
//! Then compares `eval` in the backbone and head spaces with the default settings' run.
//!
//! `cargo bench --bench presets` (about ten minutes the first time, most of it ResNet-50 forward
//! passes; the library is kept in `target/presets-library`, so later runs reuse its features).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use candle_core::Device;
use reelmatch::catalog::Catalog;
use reelmatch::config::{Config, Layer};
use reelmatch::events::{discard, Cancel};
use reelmatch::ingest::ingest;
use reelmatch::ml::image::ImageEmbedder;
use reelmatch::ml::Models;
use reelmatch::search::eval::evaluate;
use reelmatch::search::Weights;
use reelmatch::train::{active_head, train};
use reelmatch::Library;
use std::process::Command;

const CLIPS: &[(&str, &str)] = &[
    ("testsrc2", "testsrc2=size=320x180:rate=25"),
    ("smptebars", "smptebars=size=320x180:rate=25"),
    ("mandelbrot-a", "mandelbrot=size=320x180:rate=25"),
    ("mandelbrot-b", "mandelbrot=size=320x180:rate=25:start_x=-0.5:start_y=0.6:start_scale=2"),
    ("life-a", "life=size=320x180:rate=25:seed=1:ratio=0.1"),
    ("life-b", "life=size=320x180:rate=25:seed=2:ratio=0.3:life_color=#ff8800"),
    ("cellauto-110", "cellauto=size=320x180:rate=25:rule=110"),
    ("cellauto-30", "cellauto=size=320x180:rate=25:rule=30"),
    ("rgbtestsrc", "rgbtestsrc=size=320x180:rate=25"),
    ("gradients-a", "gradients=size=320x180:rate=25:seed=1:speed=0.02"),
    ("gradients-b", "gradients=size=320x180:rate=25:seed=7:speed=0.02"),
    ("noise", "color=c=gray:size=320x180:rate=25,noise=alls=60:allf=t+u"),
];

fn main() {
    reelmatch::init_process(None);
    let work = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("presets-library");
    let media = work.join("media");
    std::fs::create_dir_all(&media).unwrap();
    let clips = CLIPS.iter().map(|(name, source)| (name.to_string(), vec![*source]));
    // Medleys: 5 s from each of four clips' sources, so parts of them look exactly like other classes.
    let medleys = (0..4).map(|m| {
        let parts: Vec<&str> = (0..4).map(|k| CLIPS[(m * 3 + k * 5) % CLIPS.len()].1).collect();
        (format!("medley-{m}"), parts)
    });
    for (name, sources) in clips.chain(medleys) {
        let out = media.join(format!("{name}.mp4"));
        if out.exists() {
            continue;
        }
        let seconds = if sources.len() == 1 { 20 } else { 5 };
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-loglevel", "error", "-y"]);
        for source in &sources {
            cmd.args(["-f", "lavfi", "-t", &seconds.to_string(), "-i", source]);
        }
        let inputs: String = (0..sources.len()).map(|i| format!("[{i}:v]")).collect();
        cmd.args(["-filter_complex", &format!("{inputs}concat=n={}:v=1[v]", sources.len()), "-map", "[v]"]);
        let ok =
            cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]).arg(&out).status().unwrap();
        assert!(ok.success(), "ffmpeg could not make {name}");
    }
    let weights = work.join("model.safetensors");
    if !weights.exists() {
        reelmatch::ml::image::write_random_weights(&weights).unwrap();
    }
    let base = Config::default();
    let embedder = || ImageEmbedder::load_weights(&weights, &Device::Cpu, &base.image, 16, "random".into()).unwrap();
    let lib = Library::open(work.join("lib")).unwrap();
    let models = Models::none().with_image(embedder());
    let report = ingest(&lib, &base, &[media], &models, &discard(), &Cancel::new()).unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    let image = embedder();

    println!("{:<44} {:>6} {:>8} {:>8} {:>8}", "settings", "views", "test", "top-10", "macro");
    let settings = [
        ("paper: sgd lr 0.0001, 5 epochs, batch 32", "optimizer = \"sgd\"\nlearning_rate = 0.0001\nmomentum = 0.0\nweight_decay = 0.0\nepochs = 5\nbatch_size = 32"),
        ("sgd momentum 0.9, lr 0.01, 20 epochs", "optimizer = \"sgd\"\nlearning_rate = 0.01\nmomentum = 0.9\nepochs = 20"),
        ("adamw lr 0.001, 5 epochs", "optimizer = \"adamw\"\nlearning_rate = 0.001\nepochs = 5"),
        ("adamw lr 0.001, 20 epochs", "optimizer = \"adamw\"\nlearning_rate = 0.001\nepochs = 20"),
        ("adamw lr 0.01, 20 epochs", "optimizer = \"adamw\"\nlearning_rate = 0.01\nepochs = 20"),
    ];
    for views in [0u32, 1, 2] {
        for (name, toml) in settings {
            let text = format!("[train]\n{toml}\naugmented_views = {views}\n");
            let config = Config::from_layers(&[Layer { name: name.into(), text }]).unwrap();
            let s = train(&lib, &config, Some(&image), None, &discard(), &Cancel::new()).unwrap();
            let pct = |v: Option<f64>| v.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_default();
            println!(
                "{name:<44} {views:>6} {:>8} {:>8} {:>8}",
                pct(s.test_accuracy),
                pct(s.top10_class_accuracy),
                pct(s.macro_accuracy)
            );
        }
    }

    // Search in the backbone space and through the default settings' head.
    let run = train(&lib, &base, Some(&image), None, &discard(), &Cancel::new()).unwrap();
    let catalog = Catalog::open(&lib.catalog_path()).unwrap();
    let (_, head) = active_head(&lib, &catalog).unwrap().expect("the run just trained is active");
    println!("\neval (visual; {} videos, 10 test frames each against the train frames):", CLIPS.len() + 4);
    println!("{:<24} {:>9} {:>9} {:>7}", "space", "recall@1", "recall@5", "mAP");
    for (name, h) in [("backbone", None), ("head (default run)", Some((run.run, &head)))] {
        let e = evaluate(&catalog, Some("random"), None, Weights::default(), h, None, Default::default()).unwrap();
        let m = e.visual.expect("visual side evaluated");
        println!("{name:<24} {:>9.3} {:>9.3} {:>7.3}", m.recall_at_1, m.recall_at_5, m.map);
    }
}
