//! The image and text embedders: real weights from the test assets where they exist, and tiny or
//! randomly initialised models written to safetensors here.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use common::{assets, random_resnet};
use reelmatch::config::{Config, Pooling};
use reelmatch::ml::image::{preprocess, ImageEmbedder, IMAGE_DIM};
use reelmatch::ml::text::TextEmbedder;
use reelmatch::ml::{cosine, resolve, Role};
use std::path::Path;

fn text_model(dir: &Path, pooling: Pooling, max_tokens: usize) -> TextEmbedder {
    let files = resolve(Role::Text, Some(dir), &[], Some("offline")).unwrap();
    TextEmbedder::load(&files, &Device::Cpu, pooling, max_tokens, 16).unwrap()
}

fn minilm() -> std::path::PathBuf {
    assets().join("models/all-minilm-l6-v2")
}

#[test]
fn real_text_model_ranks_a_paraphrase_above_an_unrelated_line() {
    let model = text_model(&minilm(), Pooling::Mean, 512);
    assert_eq!(model.dim(), 384);
    let v = model
        .embed_batch(&[
            "I can't feel my face when I'm with you",
            "When I am with you my face goes numb",
            "The quarterly tax report is due on Monday",
        ])
        .unwrap();
    for e in &v {
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "L2-normalised, got {norm}");
    }
    let (para, unrelated) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
    assert!(para > unrelated + 0.2, "paraphrase {para} vs unrelated {unrelated}");
}

#[test]
fn padding_in_a_batch_does_not_change_an_embedding() {
    let model = text_model(&minilm(), Pooling::Mean, 512);
    let alone = model.embed("short line").unwrap();
    let batched = model
        .embed_batch(&["short line", "a much longer line of lyrics that forces padding on the short one"])
        .unwrap();
    let diff = alone.iter().zip(&batched[0]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(diff < 1e-4, "max difference {diff}");
}

/// Windows are batched by length, not in the order given: every text still gets its own vector.
#[test]
fn a_batch_of_mixed_lengths_gives_each_text_its_own_vector() {
    let model = text_model(&minilm(), Pooling::Mean, 64);
    let long = "the river road runs past the harbour and the lights ".repeat(12);
    let texts: Vec<String> = (0..11)
        .map(|i| match i % 4 {
            0 => format!("line {i} of the chorus"),
            1 => long.clone() + &format!(" verse {i}"),
            2 => format!("rain number {i} falls on the city all night long and into the morning"),
            _ => format!("{i}"),
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batched = model.embed_batch(&refs).unwrap();
    assert_eq!(batched.len(), texts.len());
    for (text, got) in texts.iter().zip(&batched) {
        let alone = model.embed(text).unwrap();
        let diff = alone.iter().zip(got).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff < 1e-4, "{text:?}: max difference {diff}");
    }
}

#[test]
fn long_lyrics_are_embedded_in_windows_not_cut() {
    let model = text_model(&minilm(), Pooling::Mean, 64);
    let verse = "city lights are calling me tonight ";
    let start = verse.repeat(8);
    let long = format!("{start} and then the ocean rolls over the quiet harbour at dawn while gulls cry ").repeat(3);
    let cut = model.embed(&start).unwrap();
    let whole = model.embed(&long).unwrap();
    assert!(cosine(&cut, &whole) < 0.999, "the end of the text must count");
    let tail = model.embed("the ocean rolls over the quiet harbour at dawn while gulls cry").unwrap();
    assert!(cosine(&whole, &tail) > cosine(&cut, &tail), "later windows contribute");
}

#[test]
fn cls_pooling_is_available() {
    let mean = text_model(&minilm(), Pooling::Mean, 512).embed("hello world").unwrap();
    let cls = text_model(&minilm(), Pooling::Cls, 512).embed("hello world").unwrap();
    assert_eq!(cls.len(), 384);
    assert!(cosine(&mean, &cls) < 0.9999, "different pooling, different vectors");
}

#[test]
fn tiny_random_bert_loads_from_a_hugging_face_layout_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "max_position_embeddings": 512,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "model_type": "bert"
    });
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    std::fs::copy(minilm().join("tokenizer.json"), dir.path().join("tokenizer.json")).unwrap();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let cfg: candle_transformers::models::bert::Config = serde_json::from_value(config).unwrap();
    candle_transformers::models::bert::BertModel::load(vb, &cfg).unwrap();
    varmap.save(dir.path().join("model.safetensors")).unwrap();

    let model = text_model(dir.path(), Pooling::Mean, 512);
    assert_eq!(model.dim(), 32);
    let v = model.embed_batch(&["one", "two words", &"many words ".repeat(400)]).unwrap();
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|e| e.len() == 32 && e.iter().all(|x| x.is_finite())));
}

fn solid(r: u8, g: u8, b: u8, w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_pixel(w, h, image::Rgb([r, g, b]))
}

#[test]
fn preprocessing_resizes_and_normalises_with_imagenet_statistics() {
    let pre = Config::default().image;
    let t = preprocess(&solid(255, 0, 128, 640, 360), &pre, &Device::Cpu).unwrap();
    assert_eq!(t.dims(), &[3, 224, 224]);
    let v = t.to_vec3::<f32>().unwrap();
    let want = [(1.0 - 0.485) / 0.229, (0.0 - 0.456) / 0.224, (128.0 / 255.0 - 0.406) / 0.225];
    for c in 0..3 {
        assert!((v[c][100][100] - want[c]).abs() < 1e-5, "channel {c}: {} vs {}", v[c][100][100], want[c]);
    }
}

#[test]
fn random_resnet50_embeds_batches_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    random_resnet(&weights);
    let model =
        ImageEmbedder::load_weights(&weights, &Device::Cpu, &Config::default().image, 2, "random".into()).unwrap();
    let mut noisy = solid(0, 0, 0, 64, 48);
    for (x, y, p) in noisy.enumerate_pixels_mut() {
        *p = image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x * y) % 256) as u8]);
    }
    let images = [solid(200, 30, 30, 300, 200), solid(20, 20, 220, 100, 100), noisy];
    let v = model.embed(&images).unwrap();
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|e| e.len() == IMAGE_DIM && e.iter().all(|x| x.is_finite())));
    // Each image alone: the first batch of two is run in parts, one image a core, and the parts'
    // features must come back in the images' order.
    for i in [0, 2] {
        let alone = model.embed(&images[i..i + 1]).unwrap();
        let diff = alone[0].iter().zip(&v[i]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        let scale = v[i].iter().map(|x| x.abs()).fold(0.0, f32::max);
        assert!(diff <= 1e-4 * scale.max(1.0), "image {i}: batch position must not matter: {diff}");
    }
    assert!(cosine(&v[0], &v[1]) < 0.99999, "different images, different features");
}

#[test]
fn an_image_model_without_resnet_tensors_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    let varmap = VarMap::new();
    varmap.get((2, 2), "not_resnet", candle_nn::Init::Const(0.0), DType::F32, &Device::Cpu).unwrap();
    varmap.save(&weights).unwrap();
    let err =
        ImageEmbedder::load_weights(&weights, &Device::Cpu, &Config::default().image, 2, "x".into()).err().unwrap();
    assert!(err.to_string().contains("torchvision-layout tensor names"), "{err}");
}

/// Frames of the test assets' two real videos, a second apart, scaled to 320 pixels wide.
fn real_frames(dir: &Path) -> Vec<image::RgbImage> {
    let mut frames = Vec::new();
    for video in ["bigbuckbunny.mp4", "bikes.mp4"] {
        let stem = video.trim_end_matches(".mp4");
        let status = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(assets().join("videos").join(video))
            .args(["-vf", "fps=1,scale=320:-2", "-frames:v", "8"])
            .arg(dir.join(format!("{stem}-%02d.png")))
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg sampled {video}");
    }
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        frames.push(image::open(&p).unwrap().to_rgb8());
    }
    frames
}

/// `[models.image] precision = "int8"` against f32 on the same weights and real frames: each
/// frame's vector stays close to its f32 one measured against how far apart the frames are (the
/// search compares vectors centred on the library's mean), every frame's nearest other frame is
/// the same, and a frame gets the same vector in any batch.
///
/// On random weights the bounds are loose (and two of the 13 frames may find another nearest
/// frame): a randomly initialised ResNet-50's residual stream grows block after block and its
/// frames differ little around it, and it has no batch-norm statistics for the channel balance
/// to go by (0.8365 and 1.430 of the way with the 14×14 and 7×7 stages in 8-bit Winograd; 0.8470
/// and 1.316 before); a kernel that got the arithmetic wrong lands near 0. Then the
/// same on trained weights (the test assets' `models/resnet50-keras-v1`, made by
/// `scripts/trained-resnet50.sh`, or `REELMATCH_RESNET50_WEIGHTS`) with the bounds they meet
/// (docs/benchmarks.md: every frame above 0.997, within 0.2 of the way, no neighbour changed).
#[test]
fn int8_resnet50_features_stay_with_f32_on_real_frames() {
    let dir = tempfile::tempdir().unwrap();
    let frames_dir = dir.path().join("frames");
    std::fs::create_dir(&frames_dir).unwrap();
    let frames = real_frames(&frames_dir);
    assert!(frames.len() >= 12, "{} frames", frames.len());
    let weights = dir.path().join("model.safetensors");
    random_resnet(&weights);
    int8_against_f32(&weights, &frames, 0.8, 1.5, 2);
    let trained = std::env::var_os("REELMATCH_RESNET50_WEIGHTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| assets().join("models/resnet50-keras-v1/model.safetensors"));
    int8_against_f32(&trained, &frames, 0.997, 0.2, 0);
}

/// Asserts every frame's centred cosine of int8 against f32 is above `min_cosine`, that int8
/// moves it less than `max_ratio` of its distance to its nearest other frame, and that at most
/// `moved_neighbours` frames have another nearest frame in int8 than in f32.
fn int8_against_f32(
    weights: &Path,
    frames: &[image::RgbImage],
    min_cosine: f32,
    max_ratio: f32,
    moved_neighbours: usize,
) {
    let pre = Config::default().image;
    let f32_model = ImageEmbedder::load_weights(weights, &Device::Cpu, &pre, 8, "w".into()).unwrap();
    let mut int8 = ImageEmbedder::load_weights(weights, &Device::Cpu, &pre, 8, "w".into()).unwrap();
    // AVX-512 VNNI where the CPU has it, else AVX2 (every VNNI CPU has AVX2 and FMA too).
    let runs = reelmatch::kernels::exercise("8-bit ResNet-50 (tests/models.rs)", &["avx2", "fma"]);
    assert_eq!(
        int8.set_precision(reelmatch::config::Precision::Int8),
        runs,
        "int8 is refused exactly where neither kernel runs"
    );
    if !runs {
        return;
    }
    let exact = f32_model.embed(frames).unwrap();
    let eight = int8.embed(frames).unwrap();
    let dim = exact[0].len();
    let mean: Vec<f32> = (0..dim).map(|i| exact.iter().map(|v| v[i]).sum::<f32>() / exact.len() as f32).collect();
    let centred = |v: &[f32]| v.iter().zip(&mean).map(|(a, m)| a - m).collect::<Vec<f32>>();
    let dist = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
    let (mut worst, mut lowest) = (0f32, 1f32);
    for (i, (e, q)) in exact.iter().zip(&eight).enumerate() {
        let nearest_other =
            exact.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, o)| dist(e, o)).fold(f32::INFINITY, f32::min);
        let ratio = dist(e, q) / nearest_other;
        worst = worst.max(ratio);
        let c = cosine(&centred(e), &centred(q));
        lowest = lowest.min(c);
        assert!(c > min_cosine, "{}: frame {i}: centred cosine {c} of int8 against f32", weights.display());
        assert!(
            ratio < max_ratio,
            "{}: frame {i}: int8 moved it {ratio} of the way to its nearest other frame",
            weights.display()
        );
    }
    eprintln!(
        "{}: int8 against f32: centred cosine ≥ {lowest:.4}, error ≤ {worst:.3} of the distance to the nearest other frame",
        weights.display()
    );
    let nearest = |set: &[Vec<f32>], i: usize| {
        let c: Vec<Vec<f32>> = set.iter().map(|v| centred(v)).collect();
        (0..set.len())
            .filter(|&j| j != i)
            .max_by(|&a, &b| cosine(&c[i], &c[a]).total_cmp(&cosine(&c[i], &c[b])))
            .unwrap()
    };
    let changed = (0..frames.len()).filter(|&i| nearest(&exact, i) != nearest(&eight, i)).count();
    assert!(changed <= moved_neighbours, "{changed} frames have another nearest frame in int8");
    // Asked for 8 bits again (the weights quantised again; the channels, balanced once, are not
    // balanced twice), a frame alone gets the vector it got in the batch.
    assert!(int8.set_precision(reelmatch::config::Precision::Int8));
    let alone = int8.embed(&frames[3..4]).unwrap();
    let scale = eight[3].iter().map(|x| x.abs()).fold(0.0, f32::max);
    let moved = alone[0].iter().zip(&eight[3]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(
        moved <= 1e-3 * scale,
        "a frame's int8 vector does not depend on its batch or a second quantising: {moved}"
    );
}
