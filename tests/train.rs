//! Training the video classifier: the trainer on synthetic features (separable classes learn,
//! random labels do not), stop and resume, bad libraries, and an end-to-end run on generated
//! videos with a random-weight ResNet-50 through the binary, ending with a saved run and a plot.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use candle_core::Device;
use common::{bin, make_video, random_resnet, test_config, Gen};
use reelmatch::catalog::{Catalog, RunStatus};
use reelmatch::events::{discard, Cancel, Event};
use reelmatch::ingest::ingest;
use reelmatch::ml::image::ImageEmbedder;
use reelmatch::ml::Models;
use reelmatch::rng::SplitMix64;
use reelmatch::train::fit::{fit, Dataset, FitSettings, Progress, Samples};
use reelmatch::train::train;
use reelmatch::{Config, Library};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn settings(epochs: u32) -> FitSettings {
    FitSettings {
        optimizer: "adamw".into(),
        learning_rate: 0.01,
        momentum: 0.9,
        weight_decay: 0.0001,
        epochs,
        batch_size: 32,
        seed: 3,
    }
}

/// `classes` clusters in `dim` dimensions; `labels` decides each sample's label from its cluster.
fn synthetic(classes: usize, per_class: usize, spread: f64, random_labels: bool) -> Dataset {
    let dim = 64;
    let mut rng = SplitMix64(11);
    let centres: Vec<Vec<f32>> =
        (0..classes).map(|_| (0..dim).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect()).collect();
    let mut make = |n: usize| {
        let mut s = Samples::default();
        for (c, centre) in centres.iter().enumerate() {
            for _ in 0..n {
                s.x.extend(centre.iter().map(|v| v + ((rng.unit() * 2.0 - 1.0) * spread) as f32));
                s.y.push(if random_labels { rng.below(classes) as u32 } else { c as u32 });
            }
        }
        s
    };
    let train = make(per_class);
    let test = make(per_class / 4);
    Dataset { dim, titles: (0..classes).map(|c| format!("video {c}")).collect(), train, test }
}

#[test]
fn separable_classes_are_learnt_and_random_labels_stay_near_chance() {
    let data = synthetic(10, 40, 0.3, false);
    let f = fit(&data, &settings(15), None, &mut |_| Ok(()), &Cancel::new()).unwrap();
    let last = f.history.last().unwrap();
    assert!(last.test_accuracy.unwrap() >= 0.98, "{last:?}");
    assert_eq!(last.top10_class_accuracy, last.macro_accuracy, "10 classes: top-10 is all of them");
    assert!(last.train_loss < f.history[0].train_loss);

    // Random labels: nothing to learn that carries over to the test frames.
    let noise = synthetic(10, 40, 0.3, true);
    let f = fit(&noise, &settings(15), None, &mut |_| Ok(()), &Cancel::new()).unwrap();
    let test = f.history.last().unwrap().test_accuracy.unwrap();
    assert!(test < 0.3, "random labels must stay near chance (0.1), got {test}");
}

#[test]
fn sgd_with_momentum_learns_too() {
    let data = synthetic(5, 40, 0.3, false);
    let s = FitSettings { optimizer: "sgd".into(), learning_rate: 0.05, ..settings(10) };
    let f = fit(&data, &s, None, &mut |_| Ok(()), &Cancel::new()).unwrap();
    assert!(f.history.last().unwrap().test_accuracy.unwrap() >= 0.95);
}

#[test]
fn a_stop_ends_the_run_at_the_next_batch_and_keeps_what_it_learnt() {
    let data = synthetic(4, 64, 0.3, false);
    let cancel = Cancel::new();
    let mut steps = 0;
    let mut on = |p: Progress| {
        if let Progress::Step { .. } = p {
            steps += 1;
            if steps == 12 {
                cancel.cancel();
            }
        }
        Ok(())
    };
    // 256 samples, batch 32: 8 steps an epoch; the stop comes in the second epoch.
    let f = fit(&data, &settings(10), None, &mut on, &cancel).unwrap();
    assert!(f.stopped);
    assert_eq!(steps, 12, "no step runs after the stop");
    assert_eq!(f.epochs_done, 1, "one whole epoch, then part of the next");
    assert_eq!(f.history.len(), 2, "the partial epoch is measured too");
    assert!(f.history[1].test_accuracy.unwrap() > 0.5, "what it learnt is kept");
}

#[test]
fn too_few_classes_or_no_frames_fail_clearly() {
    let mut one = synthetic(2, 8, 0.3, false);
    one.titles.truncate(1);
    let e = fit(&one, &settings(1), None, &mut |_| Ok(()), &Cancel::new()).err().unwrap().to_string();
    assert!(e.contains("at least two videos"), "{e}");
    let mut empty = synthetic(2, 8, 0.3, false);
    empty.train = Samples::default();
    let e = fit(&empty, &settings(1), None, &mut |_| Ok(()), &Cancel::new()).err().unwrap().to_string();
    assert!(e.contains("no train frames"), "{e}");

    // A library without frame features.
    let work = tempfile::tempdir().unwrap();
    let lib = Library::open(work.path().join("lib")).unwrap();
    let e = train(&lib, &Config::default(), None, None, &discard(), &Cancel::new()).err().unwrap().to_string();
    assert!(e.contains("no frame features") && e.contains("reelmatch ingest"), "{e}");
}

struct Fixture {
    _work: tempfile::TempDir,
    lib: Library,
    config: Config,
    weights: PathBuf,
}

/// Three short generated videos (and a 1 s one with too few frames), ingested with a random ResNet-50.
fn library(min_train_frames: usize) -> Fixture {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    for (name, source) in [("bars", "smptebars"), ("spiral", "mandelbrot"), ("pattern", "testsrc2")] {
        make_video(&media.join(format!("{name}.mp4")), Gen { source, seconds: 5.0, tone_hz: None, ..Gen::default() });
    }
    make_video(&media.join("blip.mp4"), Gen { source: "rgbtestsrc", seconds: 1.0, tone_hz: None, ..Gen::default() });
    let weights_dir = work.path().join("resnet");
    std::fs::create_dir_all(&weights_dir).unwrap();
    let weights = weights_dir.join("model.safetensors");
    random_resnet(&weights);
    let config = test_config(&format!(
        "[models]\noffline = true\n[models.image]\npath = {:?}\n[train]\nepochs = 4\nbatch_size = 8\naugmented_views = 1\nmin_train_frames = {min_train_frames}\n",
        weights_dir
    ));
    let lib = Library::open(work.path().join("lib")).unwrap();
    let models = Models::none().with_image(embedder(&config, &weights));
    let report = ingest(&lib, &config, &[media], &models, &discard(), &Cancel::new()).unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    Fixture { _work: work, lib, config, weights }
}

fn embedder(config: &Config, weights: &Path) -> ImageEmbedder {
    ImageEmbedder::load_weights(
        weights,
        &Device::Cpu,
        &config.image,
        16,
        weights.parent().unwrap().display().to_string(),
    )
    .unwrap()
}

#[test]
fn end_to_end_ingest_train_stop_resume_and_plot() {
    let fx = library(5);
    let model = embedder(&fx.config, &fx.weights);

    // A run stopped during its second epoch…
    let cancel = Cancel::new();
    let events = Mutex::new(Vec::new());
    let sink = |e: Event| {
        if matches!(e, Event::TrainStep { step: 4, .. }) {
            cancel.cancel();
        }
        events.lock().unwrap().push(e);
    };
    let stopped = train(&fx.lib, &fx.config, Some(&model), None, &sink, &cancel).unwrap();
    assert_eq!(stopped.status, RunStatus::Stopped);
    assert_eq!(stopped.classes, 3, "the 1 s video has too few train frames");
    assert!(stopped.left_out[0].contains("blip"), "{:?}", stopped.left_out);
    assert!(stopped.augmented_frames > 0 && stopped.augmented_frames == stopped.train_frames, "{stopped:?}");
    let events = events.into_inner().unwrap();
    assert!(events.iter().any(|e| matches!(e, Event::AugmentProgress { .. })), "augmented views are computed");
    assert!(events.iter().any(|e| matches!(e, Event::TrainEpoch { .. })));

    // …resumes where it stopped and finishes.
    let done = train(&fx.lib, &fx.config, Some(&model), Some(stopped.run), &discard(), &Cancel::new()).unwrap();
    assert_eq!((done.run, done.status, done.epochs), (stopped.run, RunStatus::Done, 4));
    let cat = Catalog::open(&fx.lib.catalog_path()).unwrap();
    let epochs = cat.run_epochs(done.run).unwrap();
    assert_eq!(epochs.iter().map(|m| m.epoch).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(cat.active_run().unwrap().unwrap().id, done.run, "a finished run becomes active");
    let e = train(&fx.lib, &fx.config, Some(&model), Some(done.run), &discard(), &Cancel::new()).err().unwrap();
    assert!(e.to_string().contains("already finished"), "{e}");

    // The binary: a second run with --json, the runs list, show and plot.
    let lib = fx.lib.root().to_str().unwrap();
    let image_dir = fx.weights.parent().unwrap();
    let out = bin()
        .args(["--library", lib, "--offline", "--image-model"])
        .arg(image_dir)
        .args(["train", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["run", "epochs", "test_accuracy", "top10_class_accuracy", "macro_accuracy", "classes"] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(json["classes"], 3);
    // What it prints is what the run recorded for its last epoch; three clips this far apart
    // are told apart on their test frames, and the top 10 of 3 classes are all of them.
    let second = json["run"].as_i64().unwrap();
    let recorded = cat.run_epochs(second).unwrap();
    let last = recorded.last().unwrap();
    assert_eq!(json["test_accuracy"].as_f64(), last.test_accuracy);
    assert_eq!(json["top10_class_accuracy"].as_f64(), last.top10_class_accuracy);
    assert_eq!(last.top10_class_accuracy, last.macro_accuracy, "3 classes: the top 10 are all of them");
    let acc = last.test_accuracy.unwrap();
    assert!(acc >= 0.9, "test accuracy {acc} on three unlike clips");
    let runs = bin().args(["--library", lib, "runs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["active"], true, "the newest finished run is active");
    let show = bin().args(["--library", lib, "runs", "show", "1", "--json"]).output().unwrap();
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["epochs"].as_array().unwrap().len(), 4);
    assert!(show["epochs"][3]["per_class"].as_array().unwrap().len() == 3);
    assert!(!show["steps"].as_array().unwrap().is_empty());
    let png = fx.lib.root().join("run 1.png");
    let plot = bin().args(["--library", lib, "runs", "plot", "1", "-o"]).arg(&png).output().unwrap();
    assert!(plot.status.success(), "{}", String::from_utf8_lossy(&plot.stderr));
    let img = image::open(&png).expect("a valid PNG");
    assert_eq!((img.width(), img.height()), (1200, 900));
    let missing = bin().args(["--library", lib, "runs", "show", "99"]).output().unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no run 99"));
}

#[test]
fn ctrl_c_during_augmented_views_exits_130_and_a_dead_run_shows_stopped() {
    let fx = library(5);
    let lib = fx.lib.root();
    let cfg = lib.join("more views.toml");
    std::fs::write(&cfg, "[train]\naugmented_views = 12\n").unwrap();
    let err_file = lib.join("train.err");
    let mut child = bin()
        .arg("--library")
        .arg(lib)
        .args(["--offline", "--config"])
        .arg(&cfg)
        .arg("--image-model")
        .arg(fx.weights.parent().unwrap())
        .arg("train")
        .stdin(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string(&err_file).unwrap().contains("augmented view") {
        assert!(child.try_wait().unwrap().is_none(), "{}", std::fs::read_to_string(&err_file).unwrap());
        assert!(std::time::Instant::now() < deadline, "no augmented views started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(&err_file).unwrap();
    assert_eq!(status.code(), Some(130), "a stopped train exits 130: {err}");
    assert!(err.contains("run the same command again"), "{err}");

    // A run some process left `running` and nobody holds the library: it is shown stopped.
    let cat = Catalog::open(&fx.lib.catalog_path()).unwrap();
    let settings = FitSettings { optimizer: "adamw".into(), learning_rate: 0.001, ..FitSettings::default() };
    let id = cat
        .insert_run(&reelmatch::catalog::NewRun {
            image_model: "m",
            settings: &settings,
            classes: &[],
            class_ids: &[],
            left_out: &[],
        })
        .unwrap();
    let runs = bin().arg("--library").arg(lib).args(["runs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    let dead = runs.as_array().unwrap().iter().find(|r| r["run"] == id).unwrap();
    assert_eq!(dead["status"], "stopped", "{dead}");
}

#[test]
fn one_class_library_fails_with_a_clear_message() {
    let fx = library(40);
    let e = train(&fx.lib, &fx.config, None, None, &discard(), &Cancel::new()).err().unwrap().to_string();
    assert!(e.contains("at least two videos") && e.contains("left out"), "{e}");
}

#[test]
fn a_long_computation_of_augmented_views_asks_first_and_keeps_what_it_did() {
    let fx = library(5);
    let model = embedder(&fx.config, &fx.weights);
    // A threshold so low that the pace measured on the first batch is always over it.
    let mut config = fx.config.clone();
    config.train.views_ask_over_minutes = 0.000_01;
    config.train.augmented_views = 3; // more views than one batch, so there is a pace to measure
    let e = train(&fx.lib, &config, Some(&model), None, &discard(), &Cancel::new()).err().unwrap();
    assert!(matches!(e, reelmatch::Error::NotReady { remedy: reelmatch::error::Remedy::ConfirmViews, .. }), "{e}");
    let said = e.to_string();
    assert!(said.contains("augmented views") && said.contains("train --yes") && said.contains("kept"), "{said}");
    let cat = Catalog::open(&fx.lib.catalog_path()).unwrap();
    let blip = cat.videos().unwrap().into_iter().find(|v| v.title == "blip").unwrap().id;
    let views = |cat: &Catalog| cat.frame_views(&model.model_id, 3).unwrap().len();
    let missing = cat.frames_missing_views(&model.model_id, 3).unwrap();
    assert!(missing.iter().any(|m| m.0 != blip), "it stopped before computing them all");
    assert_eq!(views(&cat), 16, "the first batch it measured is kept");
    drop(cat);

    // The binary: without --yes it stops with exit 1 and says how; with --yes it trains.
    let lib = fx.lib.root().to_str().unwrap();
    let conf = fx._work.path().join("ask.toml");
    std::fs::write(
        &conf,
        "[train]\nviews_ask_over_minutes = 0.00001\naugmented_views = 3\nepochs = 2\nbatch_size = 8\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        bin()
            .args(["--library", lib, "--offline", "--image-model"])
            .arg(fx.weights.parent().unwrap())
            .arg("--config")
            .arg(&conf)
            .arg("train")
            .args(extra)
            .output()
            .unwrap()
    };
    let asked = run(&[]);
    let err = String::from_utf8_lossy(&asked.stderr);
    assert_eq!(asked.status.code(), Some(1), "{err}");
    assert!(err.contains("reelmatch train --yes"), "{err}");
    let yes = run(&["--yes"]);
    assert!(yes.status.success(), "{}", String::from_utf8_lossy(&yes.stderr));
    let cat = Catalog::open(&fx.lib.catalog_path()).unwrap();
    let missing = cat.frames_missing_views(&model.model_id, 3).unwrap();
    assert!(missing.iter().all(|m| m.0 == blip), "every trained video's views computed with --yes: {missing:?}");
}

/// The training set reads its frames where the vector store maps them: no copy of the features
/// is held, every sample reads back as the store's raw vector, and training on it gives exactly
/// the head that training on a held copy of the same samples gives.
#[test]
fn the_dataset_streams_frames_from_the_store() {
    use reelmatch::synth::{Spec, MODEL};
    let spec = Spec { videos: 6, frames_per_video: 40, dim: 48, seed: 5, head: false, first_video: 0, family: 1 };
    let (_work, _lib, cat, frames) = common::synthetic_library(&spec);
    let loaded = reelmatch::train::dataset::load(&cat, MODEL, 1, 0).unwrap();
    let data = &loaded.data;
    assert_eq!(data.train.len() + data.test.len(), frames);
    assert_eq!(data.titles.len(), 6);
    // Labels and indexes only: 4 bytes of row index and 4 of label per sample, the row scales.
    assert!(data.train.x.is_empty(), "no features held");
    assert!(data.train.held_bytes() < frames * 48, "held {} bytes", data.train.held_bytes());

    // Every sample reads back as the store's raw vector of its frame.
    let store = reelmatch::store::FrameStore::open(&cat, MODEL).unwrap();
    let raw = store.raw_rows(0..store.len());
    let mut seen = std::collections::HashSet::new();
    for i in 0..data.train.len() {
        let mut row = Vec::new();
        data.train.row_into(i, 48, &mut row);
        let r = raw.iter().position(|v| v == &row).expect("a stored row");
        assert!(seen.insert(r), "each frame once");
    }

    // The same samples held in memory train to the same head.
    let held = |s: &Samples| {
        let mut h = Samples::default();
        (0..s.len()).for_each(|i| s.row_into(i, 48, &mut h.x));
        h.y = s.y.clone();
        h
    };
    let copy = Dataset { dim: 48, titles: data.titles.clone(), train: held(&data.train), test: held(&data.test) };
    let streamed = fit(data, &settings(5), None, &mut |_| Ok(()), &Cancel::new()).unwrap();
    let in_memory = fit(&copy, &settings(5), None, &mut |_| Ok(()), &Cancel::new()).unwrap();
    let weights = |f: &reelmatch::train::fit::Fitted| f.head.weight.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(weights(&streamed), weights(&in_memory));
    assert!(streamed.history.last().unwrap().test_accuracy.unwrap() > 0.9, "{:?}", streamed.history.last());
}
