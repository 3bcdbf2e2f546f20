//! Model throughput on CPU, beside the yardsticks in the same run: ResNet-50 images/s at batch
//! 1, 8 and 32 in f32 and with `precision = "int8"` (random weights: speed does not depend on
//! their values) and ONNX Runtime's on the same weights, f32 and statically quantised to 8 bits
//! (`benches/onnx_resnet50.py`), taking turns round by round, both from 224×224 inputs (what
//! resizing 320×180 frames adds to reelmatch's is timed after); Whisper on a 60 s clip (f32 and int8 decoders, with
//! and without the key-value cache) and faster-whisper on the same weights
//! (`benches/whisper_yardstick.py`); text-encoder documents/s at 512 tokens.
//!
//! SigLIP 2 base's vision and text towers beside ONNX Runtime on the same weights
//! (`benches/onnx_siglip.py`).
//!
//! After the ResNet-50 rounds, how far 8 bits move trained weights' features from f32 on real
//! frames, reelmatch's and ONNX Runtime's, and how much they change the frames' rankings
//! (recall@10 against f32's; `-- resnet-fidelity` alone).
//!
//! `cargo bench --bench models [-- resnet|resnet-fidelity|whisper|whisper-base|whisper-costs|text|vision-text]`;
//! `whisper` runs tiny.en and base (the test assets' multilingual base: base.en's shape, one
//! vocabulary row more; English forced on both sides), `whisper-base` base alone, `whisper-costs`
//! times a window and a token of tiny.en and of a base.en-shaped checkpoint (random weights) alone. Needs the test assets (`REELMATCH_TEST_ASSETS`) for Whisper and
//! the text model; `REELMATCH_BENCH_WHISPER=DIR` adds another Whisper checkpoint (e.g. base.en).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

mod common;
use common::assets;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use reelmatch::config::{Config, Pooling};
use reelmatch::events::Cancel;
use reelmatch::ml::image::{normalise_hwc, preprocess, ImageEmbedder};
use reelmatch::ml::text::TextEmbedder;
use reelmatch::ml::whisper::{Precision, Transcriber};
use reelmatch::ml::{resolve, Role};
use std::path::Path;
use std::time::Instant;

fn resnet() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    reelmatch::ml::image::write_random_weights(&weights).unwrap();
    let pre = Config::default().image;
    let frame = |w: u32, h: u32| {
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]))
    };
    // The timed rounds start from images at the network's input size (224×224), as ONNX
    // Runtime's start from its input tensors: neither side's rounds resize. What resizing a
    // sampled 320×180 frame adds to reelmatch's is timed apart, after the rounds.
    let img = frame(pre.size, pre.size);
    let sampled = vec![frame(320, 180); 32];
    // candle-transformers' stock ResNet-50 on the same weights: the "before".
    // SAFETY: the file is not written while mapped.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &Device::Cpu) }.unwrap();
    let stock = candle_transformers::models::resnet::resnet50_no_final_layer(vb).unwrap();
    // ONNX Runtime on the same weights, f32 and 8 bits, in a process that answers one timed round
    // per request: this machine's speed drifts (shared cores), so every round times reelmatch,
    // the stock model and ONNX Runtime in turn, and each ratio is taken within its round.
    let mut onnx = OnnxRuntime::start(&weights);
    if onnx.is_none() {
        println!("(ONNX Runtime was not run: `pip install onnx onnxruntime` adds it, see benches/onnx_resnet50.py)");
    }
    for batch in [1usize, 8, 32] {
        let model = ImageEmbedder::load_weights(&weights, &Device::Cpu, &pre, batch, "random".into()).unwrap();
        let mut int8 = ImageEmbedder::load_weights(&weights, &Device::Cpu, &pre, batch, "random".into()).unwrap();
        let has_int8 = int8.set_precision(reelmatch::config::Precision::Int8);
        // Each timed round covers at least 32 images (four batches of 8, one of 32) on both sides:
        // a round of one batch of 8 (about 95 ms in 8 bits) measured a moment of a machine whose
        // speed moves within the second.
        let n = if batch == 1 { 8 } else { batch.max(32) };
        let images = vec![img.clone(); n];
        let tensors: Vec<_> = images.iter().map(|i| preprocess(i, &pre, &Device::Cpu).unwrap()).collect();
        // Each round starts warm on both sides: the same work once, untimed, right before the
        // timed pass (ONNX Runtime's `--serve` runs a batch first as well). Timed straight after
        // `settle`'s sleep, reelmatch's first batch of 8 measured 3–4 % slower than the next
        // (medians 81.4 against 84.4 images/s over 8 pairs), while ONNX Runtime's round had
        // followed its own input generation: the rounds would have compared a cold start with
        // a warm one.
        let rate = |f: &mut dyn FnMut(&[image::RgbImage])| {
            settle();
            f(&images[..batch]);
            let t = Instant::now();
            f(&images);
            n as f64 / t.elapsed().as_secs_f64()
        };
        // Per precision: reelmatch's rates, ONNX Runtime's, and their ratio in each round.
        let mut rows: Vec<(&str, Rates)> = Vec::new();
        let precisions: &[&str] = if has_int8 { &["f32", "int8"] } else { &["f32"] };
        let mut before = Vec::new();
        for round in 0..7 {
            for (i, &precision) in precisions.iter().enumerate() {
                let ours = || {
                    rate(&mut |images| {
                        if precision == "int8" { int8.embed(images) } else { model.embed(images) }.unwrap();
                    })
                };
                // The sides take turns going first (ours, theirs; then theirs, ours): whatever
                // the first of a pair gains or loses from the pause before it, both get alike.
                let (ours, theirs) = match onnx.as_mut().filter(|_| batch >= 8) {
                    None => (ours(), None),
                    Some(o) if round % 2 == 0 => (ours(), Some(o.round(precision, batch, n))),
                    Some(o) => {
                        let theirs = o.round(precision, batch, n);
                        (ours(), Some(theirs))
                    }
                };
                if round == 0 {
                    rows.push((precision, Rates::default()));
                }
                let row = &mut rows[i].1;
                row.ours.push(ours);
                if let Some(theirs) = theirs {
                    row.theirs.push(theirs);
                    row.ratios.push(ours / theirs);
                }
            }
            if round < 3 {
                before.push(rate(&mut |images| {
                    for chunk in tensors[..images.len()].chunks(batch) {
                        stock.forward(&Tensor::stack(chunk, 0).unwrap()).unwrap();
                    }
                }));
            }
        }
        println!("resnet50 batch {batch:>2}: candle-transformers' stock ResNet-50 {} images/s", spread(&mut before));
        if batch == 8 {
            // Resizing's share: the 8-bit model on 320×180 frames against the same at 224×224.
            let (mut framed, mut square) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                framed.push(rate(&mut |images| drop(int8.embed(&sampled[..images.len()]).unwrap())));
                square.push(rate(&mut |images| drop(int8.embed(images).unwrap())));
            }
            println!(
                "resnet50 batch  8 ({}): from 320×180 frames, resized by reelmatch, {} images/s against {} from 224×224",
                if has_int8 { "int8" } else { "f32" },
                spread(&mut framed),
                spread(&mut square)
            );
        }
        for (precision, Rates { ours, theirs, ratios }) in &mut rows {
            let yardstick = if theirs.is_empty() {
                String::new()
            } else {
                // The rounds where reelmatch went first (even) and second (odd), apart: whether
                // the order leans either way.
                let order = |parity: usize| -> Vec<f64> { ratios.iter().copied().skip(parity).step_by(2).collect() };
                format!(
                    "; ONNX Runtime ({precision}) {} images/s; reelmatch / ONNX Runtime = {:.2} ({:.2}–{:.2}) over {} alternated rounds (reelmatch first {:.2}, second {:.2})",
                    spread(theirs),
                    median(ratios),
                    ratios.iter().copied().fold(f64::INFINITY, f64::min),
                    ratios.iter().copied().fold(0.0, f64::max),
                    ratios.len(),
                    median(&order(0)),
                    median(&order(1))
                )
            };
            println!("resnet50 batch {batch:>2}: reelmatch ({precision}) {} images/s{yardstick}", spread(ours));
        }
        // Where reelmatch has no 8-bit path on this CPU, ONNX Runtime's 8 bits still as a yardstick.
        if let (false, Some(o)) = (has_int8, onnx.as_mut().filter(|_| batch >= 8)) {
            let mut theirs: Vec<f64> = (0..3).map(|_| o.round("int8", batch, n)).collect();
            println!(
                "resnet50 batch {batch:>2}: ONNX Runtime (int8) {} images/s (reelmatch's 8 bits need AVX-512 VNNI, which this CPU lacks)",
                spread(&mut theirs)
            );
        }
    }
    if let Some(o) = &onnx {
        println!("(ONNX Runtime {})", o.version);
    }
}

/// `-- resnet-profile`: reelmatch's ResNet-50 alone, in the precision of
/// `REELMATCH_BENCH_PRECISION` (int8 unless `f32`), batch `REELMATCH_BENCH_BATCH` (8 unless set),
/// for about 20 s: a steady load to run under `scripts/profile.sh`, with no yardstick in the
/// profile.
fn resnet_profile() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    reelmatch::ml::image::write_random_weights(&weights).unwrap();
    let img = image::RgbImage::from_fn(320, 180, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
    let mut model =
        ImageEmbedder::load_weights(&weights, &Device::Cpu, &Config::default().image, 8, "random".into()).unwrap();
    let f32_only = std::env::var("REELMATCH_BENCH_PRECISION").is_ok_and(|p| p == "f32");
    if !f32_only {
        model.set_precision(reelmatch::config::Precision::Int8);
    }
    let batch = std::env::var("REELMATCH_BENCH_BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(8);
    let images = vec![img; batch];
    let (start, mut done) = (Instant::now(), 0usize);
    while start.elapsed().as_secs() < 20 {
        model.embed(&images).unwrap();
        done += images.len();
    }
    let precision = if f32_only { "f32" } else { "int8" };
    println!(
        "resnet50 ({precision}, batch {batch}) alone: {:.1} images/s",
        done as f64 / start.elapsed().as_secs_f64()
    );
}

/// `-- resnet-fidelity` (and after `-- resnet`'s rounds): how far 8 bits move trained ResNet-50's
/// features (the test assets' `models/resnet50-keras-v1`) from f32 on real frames (the test
/// videos sampled as ingest samples them, a frame a second), reelmatch's int8 against its f32 and
/// ONNX Runtime's int8 against its f32, on the same images normalised by reelmatch: the 8-bit
/// model the speed rounds time (calibrated on random inputs), and one calibrated on these frames
/// themselves, the best its static scales can do on them. Each line gives the lowest centred
/// cosine (centred on the f32 features' mean, as the search compares vectors) and the largest
/// move against the distance to the nearest other frame; reelmatch's f32 against ONNX Runtime's
/// checks that both sides run the same network.
fn resnet_fidelity() {
    let weights = assets().join("models/resnet50-keras-v1/model.safetensors");
    if !weights.exists() {
        println!("(fidelity not measured: {} is missing; scripts/prepare-test-assets.sh makes it)", weights.display());
        return;
    }
    // The fidelity frames: 8 a video at 1 fps. The recall library: every frame at 6 fps, each
    // also mirrored and cropped to its centre (look-alikes a ranking must order finely).
    let mut frames = Vec::new();
    let mut library = Vec::new();
    for video in ["bigbuckbunny.mp4", "bikes.mp4"] {
        frames.extend(sampled(video, 1.0).into_iter().take(8));
        for frame in sampled(video, 6.0) {
            let (w, h) = frame.dimensions();
            library.push(image::imageops::flip_horizontal(&frame));
            library.push(image::imageops::crop_imm(&frame, w / 6, h / 6, w * 2 / 3, h * 2 / 3).to_image());
            library.push(frame);
        }
    }
    let pre = Config::default().image;
    let f32_model = ImageEmbedder::load_weights(&weights, &Device::Cpu, &pre, 8, "trained".into()).unwrap();
    let mut int8 = ImageEmbedder::load_weights(&weights, &Device::Cpu, &pre, 8, "trained".into()).unwrap();
    let exact = f32_model.embed(&frames).unwrap();
    let exact_library = f32_model.embed(&library).unwrap();
    if int8.set_precision(reelmatch::config::Precision::Int8) {
        let eight = int8.embed(&frames).unwrap();
        println!(
            "resnet50 fidelity, {} real frames: reelmatch int8 against its f32: {}",
            frames.len(),
            drift(&exact, &eight)
        );
        let eight_library = int8.embed(&library).unwrap();
        println!(
            "resnet50 rankings, {} real frames, mirrored and cropped, each the query: reelmatch int8 against its f32: {}; {}",
            library.len(),
            recall_at_10(&exact_library, &eight_library),
            drift(&exact_library, &eight_library)
        );
    }
    // The same normalised images for ONNX Runtime, channels-last f32.
    let s = pre.size as usize;
    let all: Vec<&image::RgbImage> = frames.iter().chain(&library).collect();
    let mut inputs = vec![0f32; all.len() * s * s * 3];
    for (frame, dst) in all.iter().zip(inputs.chunks_exact_mut(s * s * 3)) {
        normalise_hwc(frame, &pre, dst);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.f32");
    std::fs::write(&file, inputs.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "2".into());
    let out = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/onnx_resnet50.py"))
        .arg(&weights)
        .args([threads.as_str(), "--features"])
        .arg(&file)
        .arg(all.len().to_string())
        .output();
    let Some(theirs) = out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<std::collections::HashMap<String, Vec<Vec<f32>>>>(&o.stdout).ok())
    else {
        println!("(ONNX Runtime's fidelity was not measured: `pip install onnx onnxruntime` adds it)");
        return;
    };
    let n = frames.len();
    let (their_f32, their_f32_library) = theirs["f32"].split_at(n);
    println!("resnet50 fidelity: reelmatch f32 against ONNX Runtime f32: {}", drift(their_f32, &exact));
    // How much of a ranking's change rounding alone makes: two f32 implementations.
    println!(
        "resnet50 rankings: reelmatch f32 against ONNX Runtime f32: {}",
        recall_at_10(their_f32_library, &exact_library)
    );
    for (name, what) in [("int8", "(as timed)"), ("int8_calibrated_on_inputs", "calibrated on these frames")] {
        let (moved, moved_library) = theirs[name].split_at(n);
        println!("resnet50 fidelity: ONNX Runtime int8 {what} against its f32: {}", drift(their_f32, moved));
        println!(
            "resnet50 rankings: ONNX Runtime int8 {what} against its f32: {}",
            recall_at_10(their_f32_library, moved_library)
        );
    }
}

/// A video's frames at `fps`, 180 pixels high.
fn sampled(video: &str, fps: f64) -> Vec<image::RgbImage> {
    let spec = reelmatch::media::SampleSpec { fps, short_side: 180 };
    let path = assets().join("videos").join(video);
    let mut frames = Vec::new();
    reelmatch::media::sample_frames(
        "ffmpeg",
        &path,
        spec,
        std::time::Duration::from_secs(120),
        &Cancel::default(),
        |f| {
            frames.push(image::RgbImage::from_raw(f.width, f.height, f.rgb).unwrap());
            Ok(())
        },
    )
    .unwrap();
    frames
}

/// How alike `moved`'s rankings are to `reference`'s, each vector the query and the others
/// ranked by cosine: the share of the reference's 10 nearest that `moved`'s 10 nearest hold
/// (recall@10: the mean and the lowest), and how many queries keep the same nearest.
fn recall_at_10(reference: &[Vec<f32>], moved: &[Vec<f32>]) -> String {
    let unit = |set: &[Vec<f32>]| -> Vec<Vec<f32>> {
        set.iter()
            .map(|v| {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect()
    };
    let nearest = |set: &[Vec<f32>], q: usize| -> Vec<usize> {
        let mut scored: Vec<(f32, usize)> = (0..set.len())
            .filter(|&j| j != q)
            .map(|j| (set[q].iter().zip(&set[j]).map(|(a, b)| a * b).sum::<f32>(), j))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(10).map(|(_, j)| j).collect()
    };
    let (reference, moved) = (unit(reference), unit(moved));
    let (mut found, mut lowest, mut same_first) = (0usize, 10usize, 0usize);
    for q in 0..reference.len() {
        let (want, got) = (nearest(&reference, q), nearest(&moved, q));
        let hits = got.iter().filter(|j| want.contains(j)).count();
        found += hits;
        lowest = lowest.min(hits);
        same_first += usize::from(want[0] == got[0]);
    }
    let n = reference.len();
    format!(
        "recall@10 {:.3} (lowest {:.1}), the same nearest for {same_first} of {n} queries",
        found as f64 / (10 * n) as f64,
        lowest as f64 / 10.0
    )
}

/// How far `moved` lies from `reference`, vector by vector: the lowest centred cosine (centred
/// on the reference's mean) and the largest distance against the reference vector's distance to
/// its nearest other one.
fn drift(reference: &[Vec<f32>], moved: &[Vec<f32>]) -> String {
    let dim = reference[0].len();
    let mean: Vec<f32> =
        (0..dim).map(|i| reference.iter().map(|v| v[i]).sum::<f32>() / reference.len() as f32).collect();
    let centred = |v: &[f32]| v.iter().zip(&mean).map(|(a, m)| a - m).collect::<Vec<f32>>();
    let dist = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let cosine = |a: &[f32], b: &[f32]| dot(a, b) / (dot(a, a) * dot(b, b)).sqrt();
    let (mut lowest, mut worst) = (1f32, 0f32);
    for (i, (r, m)) in reference.iter().zip(moved).enumerate() {
        lowest = lowest.min(cosine(&centred(r), &centred(m)));
        let nearest = reference
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, o)| dist(r, o))
            .fold(f32::INFINITY, f32::min);
        worst = worst.max(dist(r, m) / nearest);
    }
    format!("centred cosine ≥ {lowest:.4}, moved ≤ {worst:.3} of the distance to the nearest other frame")
}

/// One precision's images/s, round by round: reelmatch's, ONNX Runtime's and their ratio.
#[derive(Default)]
struct Rates {
    ours: Vec<f64>,
    theirs: Vec<f64>,
    ratios: Vec<f64>,
}

/// `benches/onnx_resnet50.py --serve`: ONNX Runtime's f32 and 8-bit sessions on the bench's
/// weights, answering one timed round per request.
struct OnnxRuntime {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    version: String,
}

impl OnnxRuntime {
    fn start(weights: &Path) -> Option<OnnxRuntime> {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/onnx_resnet50.py");
        let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "2".into());
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(weights)
            .args([threads.as_str(), "--serve"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let mut lines = std::io::BufReader::new(child.stdout.take()?).lines();
        let first: serde_json::Value = serde_json::from_str(&lines.next()?.ok()?).ok()?;
        let version = first["onnxruntime"].as_str()?.to_string();
        Some(OnnxRuntime { child, lines, version })
    }

    /// Images/s of one round of `precision` ("f32" or "int8") at `batch`.
    fn round(&mut self, precision: &str, batch: usize, images: usize) -> f64 {
        use std::io::Write;
        settle();
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{precision} {batch} {images}").unwrap();
        stdin.flush().unwrap();
        let line = self.lines.next().unwrap().unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()["images_per_second"].as_f64().unwrap()
    }
}

impl Drop for OnnxRuntime {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A pause before each timed round: the side that ran before may still have worker threads
/// spinning for work (ONNX Runtime's pool spins by default, rayon's briefly), which took cores
/// from the side timed next.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(300));
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The vision-text role (SigLIP at google/siglip2-base-patch16-224's sizes, random weights in its
/// exact layout: speed does not depend on their values) beside ONNX Runtime running the same
/// weights (`benches/onnx_siglip.py`), taking turns in two rounds: images/s at batch 8 and 32
/// (reelmatch's include preparing 320×180 frames, a few milliseconds), and one description's
/// milliseconds. The two agree on a 224×224 image and a description (cosines printed).
fn vision_text() {
    use reelmatch::ml::resolve_manifest;
    use reelmatch::ml::vision_text::VisionTextEmbedder;
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("siglip-base");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/vision_text.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(["--write", "siglip-base"])
        .arg(&model_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "python3 with numpy and safetensors: {}", String::from_utf8_lossy(&out.stderr));
    let files = resolve_manifest(Role::VisionText, Role::VisionText.manifest(), Some(&model_dir), &[], Some("offline"))
        .unwrap();
    let frame = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(320, 180, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * 3 + y) % 256) as u8])
    }));
    let square = dir.path().join("square.png");
    image::RgbImage::from_fn(224, 224, |x, y| {
        image::Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, ((x ^ y) % 256) as u8])
    })
    .save(&square)
    .unwrap();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "2".into());
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/onnx_siglip.py");
    let images = vec![frame; 32];
    // (batch, images/s) per round, each side.
    let mut ours: Vec<(usize, f64)> = Vec::new();
    let mut theirs: Vec<(usize, f64)> = Vec::new();
    let (mut our_text, mut their_text) = (Vec::new(), Vec::new());
    for round in 0..2 {
        for batch in [8usize, 32] {
            let model = VisionTextEmbedder::load(&files, &Device::Cpu, batch).unwrap();
            model.embed_images(&images[..batch]).unwrap(); // warm-up
            let mut rates: Vec<f64> = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    model.embed_images(&images).unwrap();
                    images.len() as f64 / t.elapsed().as_secs_f64()
                })
                .collect();
            rates.sort_by(f64::total_cmp);
            ours.push((batch, rates[1]));
            if batch == 8 {
                let text = "blue background with";
                model.embed_text(text).unwrap();
                let mut ms: Vec<f64> = (0..5)
                    .map(|_| {
                        let t = Instant::now();
                        model.embed_text(text).unwrap();
                        t.elapsed().as_secs_f64() * 1000.0
                    })
                    .collect();
                ms.sort_by(f64::total_cmp);
                our_text.push(ms[2]);
                if round == 0 {
                    // The same image and words through both: one network.
                    let out = std::process::Command::new("python3")
                        .arg(&onnx)
                        .arg(&model_dir)
                        .args([threads.as_str(), "1", "--image"])
                        .arg(&square)
                        .output()
                        .unwrap();
                    let v: serde_json::Value = match serde_json::from_slice(&out.stdout) {
                        Ok(v) => v,
                        Err(_) => {
                            println!(
                                "(ONNX Runtime was not run: `pip install onnx onnxruntime pillow` adds it; {})",
                                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
                            );
                            return;
                        }
                    };
                    let cos = |a: &[f32], b: &serde_json::Value| -> f64 {
                        a.iter().zip(b.as_array().unwrap()).map(|(x, y)| f64::from(*x) * y.as_f64().unwrap()).sum()
                    };
                    let mine = model.embed_files(&[square.as_path()]).unwrap().remove(0);
                    let ids: Vec<u64> = model.token_ids(text).unwrap().iter().map(|&i| u64::from(i)).collect();
                    let same_ids = v["text"]["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap()).eq(ids);
                    println!(
                        "vision-text parity with ONNX Runtime: image cosine {:.7}; text cosine {:.7} (same token ids: {same_ids})",
                        cos(&mine, &v["image"]),
                        cos(&model.embed_text(text).unwrap(), &v["text"]["vector"])
                    );
                }
            }
        }
        let out = std::process::Command::new("python3")
            .arg(&onnx)
            .arg(&model_dir)
            .args([threads.as_str(), "8", "32"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for batch in [8usize, 32] {
            theirs.push((batch, v["batches"][batch.to_string()].as_f64().unwrap()));
        }
        their_text.push(v["text_ms"].as_f64().unwrap());
        if round == 0 {
            println!("ONNX Runtime {}", v["onnxruntime"].as_str().unwrap_or("?"));
        }
    }
    let range = |xs: Vec<f64>| {
        let (lo, hi) = xs.iter().fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        format!("{lo:.2}–{hi:.2}")
    };
    for batch in [8usize, 32] {
        let of = |v: &[(usize, f64)]| v.iter().filter(|(b, _)| *b == batch).map(|(_, r)| *r).collect::<Vec<_>>();
        let (a, b) = (of(&ours), of(&theirs));
        let ratios = a.iter().zip(&b).map(|(x, y)| x / y).collect();
        println!(
            "siglip2-base vision batch {batch:>2}: reelmatch {} images/s, ONNX Runtime {} images/s; ratio per round {}",
            range(a.clone()),
            range(b.clone()),
            range(ratios)
        );
    }
    println!(
        "siglip2-base text, one description: reelmatch {} ms, ONNX Runtime {} ms",
        range(our_text),
        range(their_text)
    );
}

/// "median (min–max)" of some rates.
fn spread(rates: &mut [f64]) -> String {
    rates.sort_by(f64::total_cmp);
    format!("{:.1} ({:.1}–{:.1})", rates[rates.len() / 2], rates[0], rates[rates.len() - 1])
}

fn speech_clip() -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("s.wav");
    std::process::Command::new("espeak-ng").args(["-s", "150", "-w"]).arg(&wav).arg(SPOKEN).status().unwrap();
    read_clip(dir.path(), &wav)
}

/// The bench clip's words. Varied lines: repeated ones would trip the compression-ratio
/// fallback and time that instead.
const SPOKEN: &str = "I have been waiting all night for the summer rain to fall on the city. \
        Hold me close and tell me that you will never let me go. \
        Every colour on the screen, every line I have never seen, you are the signal in the noise. \
        Seven bars of gold and blue, standing still and waiting for you, tune me in tonight. \
        Falling deeper into the spiral, the closer I get the more I find, endless shores of you. \
        Cells are born and cells decay, the patterns change from day to day, but I stay alive. \
        Rule one hundred and ten, starting over again, a simple rule that grows forever. \
        We drove along the river road with the windows down and the radio loud. \
        Nobody told us that the morning would come so soon and take the stars away.";

/// Runs `benches/whisper_yardstick.py` (faster-whisper) on `wav` with its copy of `checkpoint`
/// (`tiny.en` or `base`): (transcription seconds, WER), or `None` when python3 or faster-whisper
/// is missing.
fn faster_whisper(wav: &Path, compute: &str, threads: &str, checkpoint: &str) -> Option<(f64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/whisper_yardstick.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(wav)
        .args([SPOKEN, compute, threads, checkpoint])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("faster-whisper: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default());
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((v["seconds"].as_f64()?, v["wer"].as_f64()?))
}

/// 16 kHz mono `pcm` as a 16-bit PCM WAV file.
fn write_wav(path: &Path, pcm: &[f32]) {
    let data: Vec<u8> = pcm.iter().flat_map(|x| ((x.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes()).collect();
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend(b"RIFF");
    out.extend((36 + data.len() as u32).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes()); // PCM
    out.extend(1u16.to_le_bytes()); // mono
    out.extend(16_000u32.to_le_bytes());
    out.extend(32_000u32.to_le_bytes()); // bytes per second
    out.extend(2u16.to_le_bytes()); // bytes per frame
    out.extend(16u16.to_le_bytes()); // bits per sample
    out.extend(b"data");
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    std::fs::write(path, out).unwrap();
}

fn read_clip(dir: &Path, wav: &Path) -> Vec<f32> {
    let pcm = dir.join("s.f32");
    reelmatch::media::extract_audio(
        "ffmpeg",
        wav,
        &pcm,
        std::time::Duration::from_secs(600),
        &reelmatch::Cancel::new(),
    )
    .unwrap();
    let mut samples = reelmatch::media::read_pcm(&pcm).unwrap();
    samples.resize(16_000 * 60, 0.0);
    samples
}

fn whisper(dir: &Path, clip: &[f32]) {
    let files = resolve(Role::Speech, Some(dir), &[], Some("offline")).unwrap();
    // The decoder's weights in f32 and in 8 bits, and faster-whisper (int8 and float32) on the
    // same clip and weights, in turns (this machine's speed drifts): transcription time with the
    // model loaded, and each transcript's word error rate against the spoken text.
    let wav = tempfile::Builder::new().suffix(".wav").tempfile().unwrap();
    write_wav(wav.path(), clip);
    let mut ours = [Precision::F32, Precision::Int8].map(|p| {
        (format!("reelmatch {p:?}"), Some(Transcriber::load_with(&files, &Device::Cpu, p).unwrap()), Vec::new(), 0.0)
    });
    let mut theirs = ["int8", "float32"].map(|c| (format!("faster-whisper {c}"), None, Vec::new(), 0.0));
    // The yardstick's CTranslate2 copy of the same weights: tiny.en's, or base's.
    let checkpoint = dir.file_name().unwrap().to_string_lossy().trim_start_matches("whisper-").to_string();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "2".into());
    let mut yardstick = true;
    for _ in 0..3 {
        for (_, model, times, wer) in &mut ours {
            let model = model.as_mut().unwrap();
            let t = Instant::now();
            let english = model.is_multilingual().then_some("en");
            let out = model.transcribe(clip, english, &Cancel::new()).unwrap();
            times.push(t.elapsed().as_secs_f64());
            *wer = reelmatch::types::word_error_rate(SPOKEN, &out.text());
        }
        for (name, _, times, wer) in &mut theirs {
            if !yardstick {
                break;
            }
            let compute = name.rsplit(' ').next().unwrap();
            match faster_whisper(wav.path(), compute, &threads, &checkpoint) {
                Some((secs, w)) => {
                    times.push(secs);
                    *wer = w;
                }
                None => yardstick = false,
            }
        }
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times.get(times.len() / 2).copied()
    };
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    for (name, _, times, wer) in ours.iter_mut().chain(theirs.iter_mut()) {
        if let Some(secs) = median(times) {
            rows.push((name.clone(), secs, *wer));
        }
    }
    let anchor = rows.iter().find(|r| r.0 == "faster-whisper int8").map(|r| r.1);
    for (name, secs, wer) in &rows {
        let ratio = anchor.map(|a| format!(", {:.2}× faster-whisper int8's time", secs / a)).unwrap_or_default();
        println!(
            "whisper {} {name}: 60 s of audio in {secs:.2} s (median of 3), real-time factor {:.1}x, WER {wer:.3}{ratio}",
            dir.file_name().unwrap().to_string_lossy(),
            60.0 / secs
        );
    }
    if !yardstick {
        println!(
            "(faster-whisper was not run: `pip install faster-whisper` adds it, see benches/whisper_yardstick.py)"
        );
    }
    let mut model = Transcriber::load(&files, &Device::Cpu).unwrap();
    for cache in [true, false] {
        model.use_kv_cache = cache;
        let t = Instant::now();
        let out = model.transcribe(clip, None, &Cancel::new()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "whisper {} (kv cache {}): 60 s of audio in {secs:.1} s, real-time factor {:.1}x ({} segments)",
            dir.file_name().unwrap().to_string_lossy(),
            if cache { "on " } else { "off" },
            60.0 / secs,
            out.segments.len()
        );
    }
}

/// What a window and a token cost tiny.en and a base.en-shaped checkpoint (tiny.en's tensors
/// grown to base.en's sizes, random weights: the cost does not depend on their values), and the
/// real-time factor that implies at 3 tokens per second of lyrics; tiny.en's estimate sits beside
/// its measured transcription above as a check of the method.
fn costs(tiny: &Path) {
    let dir = tempfile::tempdir().unwrap();
    base_en_shaped(tiny, dir.path());
    for (name, path) in [("tiny.en", tiny), ("base.en-shaped (random weights)", dir.path())] {
        let files = resolve(Role::Speech, Some(path), &[], Some("offline")).unwrap();
        for p in [Precision::Int8, Precision::F32] {
            let model = Transcriber::load_with(&files, &Device::Cpu, p).unwrap();
            model.costs(1, 4).unwrap(); // warm-up
            let c = model.costs(3, 60).unwrap();
            println!(
                "whisper {name} {p:?}: encoder {:.2} s per 30 s window, decoder {:.1} ms per token: real-time factor {:.1}x at 3 tokens/s",
                c.encoder_seconds_per_window,
                c.decoder_ms_per_token,
                c.real_time_factor(3.0)
            );
        }
    }
}

/// Writes a checkpoint shaped like openai/whisper-base.en (d_model 512, 6 + 6 layers, 8 heads,
/// MLP 2048) into `out`: tiny.en's config, tokenizer and tensor names, random normal weights.
fn base_en_shaped(tiny: &Path, out: &Path) {
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tiny.join("config.json")).unwrap()).unwrap();
    for (key, value) in [
        ("d_model", 512),
        ("encoder_layers", 6),
        ("decoder_layers", 6),
        ("encoder_attention_heads", 8),
        ("decoder_attention_heads", 8),
        ("encoder_ffn_dim", 2048),
        ("decoder_ffn_dim", 2048),
    ] {
        config[key] = value.into();
    }
    std::fs::write(out.join("config.json"), config.to_string()).unwrap();
    std::fs::copy(tiny.join("tokenizer.json"), out.join("tokenizer.json")).unwrap();
    let grow = |d: usize| match d {
        384 => 512,
        1536 => 2048,
        d => d,
    };
    let mut tensors = std::collections::HashMap::new();
    let mut params = 0;
    for (name, t) in candle_core::safetensors::load(tiny.join("model.safetensors"), &Device::Cpu).unwrap() {
        let names: Vec<String> = if name.contains(".layers.0.") {
            (0..6).map(|i| name.replace(".layers.0.", &format!(".layers.{i}."))).collect()
        } else if name.contains(".layers.") {
            continue;
        } else {
            vec![name]
        };
        let shape: Vec<usize> = t.dims().iter().map(|&d| grow(d)).collect();
        for n in names {
            params += shape.iter().product::<usize>();
            tensors.insert(n, Tensor::randn(0f32, 0.02, shape.as_slice(), &Device::Cpu).unwrap());
        }
    }
    // The Whisper paper gives base as 74M parameters.
    println!("base.en-shaped checkpoint: {:.1}M parameters", params as f64 / 1e6);
    candle_core::safetensors::save(&tensors, out.join("model.safetensors")).unwrap();
}

/// `-- preprocess`: ResNet-50's input from one frame (resized to 224×224, normalised,
/// channels-last) on one core: reelmatch's `normalise_hwc` against the `image` crate's triangle
/// resize (what it used before, and gives the same bytes) plus the same normalising, alternated
/// over 7 rounds, for a 320×180 and a 1280×720 frame.
fn preprocess_frames() {
    let pre = Config::default().image;
    let s = pre.size as usize;
    for (w, h) in [(320u32, 180u32), (1280, 720)] {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
        });
        let mut dst = vec![0f32; s * s * 3];
        let crate_resize = |dst: &mut [f32]| {
            let resized = image::imageops::resize(&img, pre.size, pre.size, image::imageops::FilterType::Triangle);
            for (i, &b) in resized.as_raw().iter().enumerate() {
                dst[i] = (b as f32 / 255.0 - pre.mean[i % 3]) / pre.std[i % 3];
            }
        };
        let reps = 2_000_000 / (w * h) as usize + 5;
        let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..7 {
            let t = Instant::now();
            (0..reps).for_each(|_| normalise_hwc(&img, &pre, &mut dst));
            let a = reps as f64 / t.elapsed().as_secs_f64();
            let t = Instant::now();
            (0..reps).for_each(|_| crate_resize(&mut dst));
            let b = reps as f64 / t.elapsed().as_secs_f64();
            ours.push(a);
            theirs.push(b);
            ratios.push(a / b);
        }
        println!(
            "preprocess {w}×{h} → {s}×{s}, one core: reelmatch {} frames/s; image crate's resize {} frames/s; ratio {}",
            spread(&mut ours),
            spread(&mut theirs),
            spread(&mut ratios)
        );
    }
}

fn text(dir: &Path) {
    let files = resolve(Role::Text, Some(dir), &[], Some("offline")).unwrap();
    let model = TextEmbedder::load(&files, &Device::Cpu, Pooling::Mean, 512, 64).unwrap();
    let doc = "la ".repeat(505); // 510 tokens + [CLS] + [SEP] = one full 512-token window
    let docs: Vec<&str> = vec![doc.as_str(); 16];
    model.embed_batch(&docs[..2]).unwrap();
    let t = Instant::now();
    model.embed_batch(&docs).unwrap();
    println!(
        "text {} at 512 tokens: {:.1} documents/s",
        dir.file_name().unwrap().to_string_lossy(),
        16.0 / t.elapsed().as_secs_f64()
    );
}

fn main() {
    reelmatch::init_process(None);
    println!("threads: {}", std::env::var("RAYON_NUM_THREADS").unwrap_or_default());
    // `cargo bench --bench models -- resnet` (or whisper, text) runs one part.
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if run("resnet") {
        resnet();
    }
    if run("resnet") || only.as_deref() == Some("resnet-fidelity") {
        resnet_fidelity();
    }
    if run("preprocess") {
        preprocess_frames();
    }
    if only.as_deref() == Some("resnet-profile") {
        resnet_profile();
    }
    if run("whisper") {
        let clip = speech_clip();
        whisper(&assets().join("models/whisper-tiny.en"), &clip);
        whisper(&assets().join("models/whisper-base"), &clip);
        if let Some(extra) = std::env::var_os("REELMATCH_BENCH_WHISPER") {
            whisper(Path::new(&extra), &clip);
        }
        costs(&assets().join("models/whisper-tiny.en"));
    }
    if only.as_deref() == Some("whisper-base") {
        whisper(&assets().join("models/whisper-base"), &speech_clip());
    }
    if only.as_deref() == Some("whisper-costs") {
        costs(&assets().join("models/whisper-tiny.en"));
    }
    if run("text") {
        text(&assets().join("models/all-minilm-l6-v2"));
    }
    if run("vision-text") {
        vision_text();
    }
}
