//! reelmatch's Candle models against independent numpy implementations of the same networks
//! (`tests/reference/`), on the same weights and the same inputs: the BERT text embedder on the
//! real MiniLM weights (the reference follows Hugging Face transformers' BertModel), ResNet-50
//! on random weights (the reference follows torchvision's resnet50), and reelmatch's CPU ResNet-50
//! against candle-transformers' stock one, and the vision-text role's SigLIP and CLIP on random
//! weights in their repos' layouts. Needs python3 with numpy and safetensors (and Pillow for the
//! image processors' resizing), which `.ci/run` installs.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use candle_core::Device;
use common::assets;
use reelmatch::config::Pooling;
use reelmatch::ml::text::TextEmbedder;
use reelmatch::ml::{resolve, Role};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs a reference script with a JSON request on stdin; returns its JSON answer.
///
/// `REELMATCH_REFERENCE=torch` runs PyTorch's own networks instead of the numpy ones
/// (`resnet_torch.py`, `bert_torch.py`, `whisper_encoder_torch.py`; torch, torchvision and
/// transformers must be installed for `REELMATCH_REFERENCE_PYTHON`, default python3). CI uses
/// the numpy ones.
fn reference(script: &str, model_dir: &Path, request: serde_json::Value) -> serde_json::Value {
    let script = match std::env::var("REELMATCH_REFERENCE").as_deref() {
        Ok("torch") => script.replace(".py", "_torch.py"),
        _ => script.to_string(),
    };
    println!("reference: {script}");
    let python = std::env::var("REELMATCH_REFERENCE_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference").join(&script);
    assert!(path.is_file(), "no reference script {} for this test", path.display());
    let mut child = Command::new(python)
        .arg(&path)
        .arg(model_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{script} failed (python3 needs numpy and safetensors: pip install numpy safetensors): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn text_embeddings_match_a_numpy_bert_within_1e_3() {
    let dir = assets().join("models/all-minilm-l6-v2");
    let texts = [
        "I can't feel my face when I'm with you",
        "Seven bars of gold and blue, standing still and waiting for you",
        "la",
    ];
    let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tokenizer.with_padding(None).with_truncation(None).unwrap();
    let ids: Vec<Vec<u32>> = texts.iter().map(|t| tokenizer.encode(*t, true).unwrap().get_ids().to_vec()).collect();
    let want: Vec<Vec<f32>> =
        serde_json::from_value(reference("bert.py", &dir, serde_json::json!({ "ids": ids }))).unwrap();

    let files = resolve(Role::Text, Some(&dir), &[], Some("offline")).unwrap();
    let model = TextEmbedder::load(&files, &Device::Cpu, Pooling::Mean, 512, 64).unwrap();
    // One batch, so the shorter texts are padded and masked: padding must not change them.
    let got = model.embed_batch(&texts).unwrap();
    for ((text, g), w) in texts.iter().zip(&got).zip(&want) {
        assert_eq!(g.len(), w.len());
        let diff = g.iter().zip(w).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        println!("{text:?}: largest difference {diff:.1e}");
        assert!(diff < 1e-3, "{text:?}: largest difference {diff}");
    }
}

/// Random ResNet-50 weights whose batch-norm statistics and affine parameters are random too, so
/// every part of the network (and the folding of batch norm into the convolutions) matters.
fn resnet_with_random_batch_norm(dir: &Path) -> std::path::PathBuf {
    use candle_core::{DType, Tensor};
    use reelmatch::rng::SplitMix64;

    let weights = dir.join("model.safetensors");
    reelmatch::ml::image::write_random_weights(&weights).unwrap();
    let mut tensors = candle_core::safetensors::load(&weights, &Device::Cpu).unwrap();
    let mut rng = SplitMix64(3);
    let mut names: Vec<String> = tensors.keys().cloned().collect();
    names.sort();
    for name in names {
        let t = tensors.get_mut(&name).unwrap();
        let (lo, hi) = match name.rsplit('.').next() {
            Some("running_mean") => (-0.2, 0.2),
            Some("running_var") => (0.5, 1.5),
            Some("weight") if t.rank() == 1 => (0.6, 1.2),
            Some("bias") => (-0.1, 0.1),
            _ => continue,
        };
        let n = t.elem_count();
        let v: Vec<f32> = (0..n).map(|_| (lo + (hi - lo) * rng.unit()) as f32).collect();
        *t = Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap().to_dtype(DType::F32).unwrap();
    }
    candle_core::safetensors::save(&tensors, &weights).unwrap();
    weights
}

fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let err: f64 = got.iter().zip(want).map(|(a, b)| (*a as f64 - b).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
    assert!(norm > 0.0, "the reference features are all zero");
    err / norm
}

#[test]
fn image_features_match_a_numpy_resnet50_within_1e_3_relative() {
    use reelmatch::config::Config;
    use reelmatch::ml::image::{preprocess, ImageEmbedder};

    let work = tempfile::tempdir().unwrap();
    let weights = resnet_with_random_batch_norm(work.path());
    let img = image::RgbImage::from_fn(320, 180, |x, y| {
        image::Rgb([(x % 256) as u8, (y * 3 % 256) as u8, ((x * y) % 251) as u8])
    });
    let pre = Config::default().image;
    let input = preprocess(&img, &pre, &Device::Cpu).unwrap();
    let want: Vec<f64> = serde_json::from_value(reference(
        "resnet.py",
        &weights,
        serde_json::json!({ "input": input.to_vec3::<f32>().unwrap() }),
    ))
    .unwrap();
    let model = ImageEmbedder::load_weights(&weights, &Device::Cpu, &pre, 1, "random".into()).unwrap();
    let got = model.embed(&[img]).unwrap().remove(0);
    let err = relative_error(&got, &want);
    println!("ResNet-50 vs the reference: relative error {err:.1e}");
    assert!(err < 1e-3, "relative error {err}");
}

/// The CPU path (batch norm folded, channels-last) against candle-transformers' stock ResNet-50 on
/// the same weights: a batch of different images at an odd size, so padding at every edge, batch
/// splitting and buffer reuse across batches are all exercised.
#[test]
fn folded_resnet50_matches_candle_transformers_on_a_mixed_batch() {
    use candle_core::{DType, Module, Tensor};
    use reelmatch::config::Config;
    use reelmatch::ml::image::{preprocess, ImageEmbedder};

    let work = tempfile::tempdir().unwrap();
    let weights = resnet_with_random_batch_norm(work.path());
    let images: Vec<image::RgbImage> = (0..3u32)
        .map(|k| {
            image::RgbImage::from_fn(200 + 40 * k, 120, |x, y| {
                image::Rgb([((x * (k + 1)) % 256) as u8, ((y * 7 + k * 50) % 256) as u8, ((x ^ y) % 256) as u8])
            })
        })
        .collect();
    let mut pre = Config::default().image;
    pre.size = 97;
    let model = ImageEmbedder::load_weights(&weights, &Device::Cpu, &pre, 2, "random".into()).unwrap();
    let got = model.embed(&images).unwrap();

    // SAFETY: the file is not written while mapped.
    let vb = unsafe { candle_nn::VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &Device::Cpu) }.unwrap();
    let stock = candle_transformers::models::resnet::resnet50_no_final_layer(vb).unwrap();
    let inputs: Vec<Tensor> = images.iter().map(|i| preprocess(i, &pre, &Device::Cpu).unwrap()).collect();
    let want: Vec<Vec<f32>> = stock.forward(&Tensor::stack(&inputs, 0).unwrap()).unwrap().to_vec2().unwrap();
    assert_eq!(got.len(), 3);
    // The GPU's path (the stock model, the batch resized together and uploaded once), on the CPU.
    let batched = ImageEmbedder::load_stock_weights(&weights, &Device::Cpu, &pre, 3).unwrap().embed(&images).unwrap();
    for (i, (b, w)) in batched.iter().zip(&want).enumerate() {
        let err = relative_error(b, &w.iter().map(|&v| v as f64).collect::<Vec<_>>());
        assert!(err < 1e-6, "image {i}: the stock path's batch differs from one image at a time ({err})");
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let w: Vec<f64> = w.iter().map(|&v| v as f64).collect();
        let err = relative_error(g, &w);
        println!("image {i}: relative error {err:.1e} against the stock ResNet-50");
        assert!(err < 1e-4, "image {i}: relative error {err}");
    }
    let spread = relative_error(&got[0], &want[1].iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert!(spread > 1e-3, "different images give different features ({spread})");
}

#[test]
fn whisper_encoder_matches_a_numpy_encoder_with_exact_gelu_within_1e_3() {
    whisper_encoder_parity("whisper-tiny.en");
}

/// The multilingual base checkpoint's encoder (6 layers of 512, 8 heads; issue 42) the same way,
/// its real weights from the test assets.
#[test]
fn multilingual_whisper_base_encoder_matches_the_numpy_encoder_within_1e_3() {
    whisper_encoder_parity("whisper-base");
}

/// The encoder of the test assets' checkpoint `name` against `whisper_encoder.py` on 6 s of a chirp.
fn whisper_encoder_parity(name: &str) {
    use reelmatch::ml::whisper::{encoder::Encoder, mel};
    let dir = assets().join("models").join(name);
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let n = |k: &str| cfg[k].as_u64().unwrap() as usize;
    // 4 s of a rising chirp over a low hum: something for every layer to work on, no files needed.
    let pcm: Vec<f32> = (0..mel::SAMPLE_RATE * 4)
        .map(|i| {
            let t = i as f32 / mel::SAMPLE_RATE as f32;
            0.3 * (2.0 * std::f32::consts::PI * (200.0 + 300.0 * t) * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 110.0 * t).sin()
        })
        .collect();
    let filters = mel::mel_filters(n("num_mel_bins"), mel::N_FFT, mel::SAMPLE_RATE);
    let full = mel::log_mel(&pcm, &filters, n("num_mel_bins"), &Device::Cpu).unwrap();
    let frames = 600; // 6 s: the speech and some of the padding, kept short for the numpy side
    let window = full.narrow(1, 0, frames).unwrap();
    // SAFETY: the test assets' weights are mapped read-only and not written while mapped.
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(
            &[dir.join("model.safetensors")],
            candle_core::DType::F32,
            &Device::Cpu,
        )
    }
    .unwrap();
    let encode = |int8: bool| -> Vec<f32> {
        let heads = (n("encoder_attention_heads"), n("encoder_layers"));
        let encoder = Encoder::load(
            vb.pp("model.encoder"),
            n("num_mel_bins"),
            n("d_model"),
            heads,
            n("max_source_positions"),
            int8,
        )
        .unwrap();
        let got = encoder.forward(&window.unsqueeze(0).unwrap()).unwrap().squeeze(0).unwrap();
        got.flatten_all().unwrap().to_vec1().unwrap()
    };
    let (got, got8) = (encode(false), encode(true));
    let mel_rows: Vec<Vec<f32>> = window.to_vec2().unwrap();
    let want = reference("whisper_encoder.py", &dir, serde_json::json!({ "mel": mel_rows }));
    let want: Vec<f64> = want["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.len(), want.len(), "{} states of {}", frames / 2, n("d_model"));
    let worst = got.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
    let largest = want.iter().map(|v| v.abs()).fold(0.0, f64::max);
    println!("{name} encoder: largest |difference| {worst:.2e} over values up to {largest:.1}");
    // 1e-3 for values up to 10 (tiny.en's reach 9.1: 6.6e-5 apart when written), a ten-thousandth
    // of the largest beyond (base's reach 22.5: 9.2e-4 apart), as f32 sums grow with the width.
    let allowed = 1e-4 * largest.max(10.0);
    assert!(worst < allowed, "largest difference {worst} over {allowed} (values up to {largest})");
    // With `precision = "int8"` (its linear layers in 8 bits where the CPU runs VNNI, else the
    // same f32), each position's state against the reference's: half within cosine 0.998, nine
    // in ten within 0.99. (A few of base's states fall further on this chirp, to 0.53 at the
    // worst; the speech bench's clip keeps its words within one.)
    let d = n("d_model");
    let mut cosines: Vec<f64> = got8
        .chunks(d)
        .zip(want.chunks(d))
        .map(|(a, b)| {
            let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
            let na = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
            dot / (na * b.iter().map(|y| y * y).sum::<f64>().sqrt())
        })
        .collect();
    cosines.sort_by(f64::total_cmp);
    let (least, tenth, median) = (cosines[0], cosines[cosines.len() / 10], cosines[cosines.len() / 2]);
    println!("{name} encoder in 8 bits: state cosines to the reference's: least {least:.4}, tenth {tenth:.4}, median {median:.5}");
    assert!(median >= 0.998 && tenth >= 0.99, "8-bit encoder states: median cosine {median}, tenth {tenth}");
}

#[test]
fn compression_ratio_is_pythons_zlib_ratio() {
    // Whisper's temperature fallback compares len(text) / len(zlib.compress(text)) with 2.4:
    // the same text must give the same ratio here, repetitive text above all.
    let texts = [
        "I can't feel my face when I'm with you, but I love it",
        &"la la la la ".repeat(40),
        &" Thank you. Thank you. Thank you.".repeat(12),
        "Seven bars of gold and blue, standing still and waiting for you",
    ];
    let script = "import json, sys, zlib\nfor t in json.load(sys.stdin):\n    b = t.encode()\n    print(len(b) / len(zlib.compress(b)))";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(serde_json::to_string(&texts).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let python: Vec<f64> = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.parse().unwrap()).collect();
    let ours: Vec<f64> = texts.iter().map(|t| reelmatch::ml::whisper::compression_ratio(t)).collect();
    assert_eq!(ours, python, "ratios of {texts:?}");
}

/// The vision-text role (issue 41) against numpy SigLIP and CLIP networks written from
/// transformers' SiglipModel and CLIPModel, on random weights in each repo's exact layout
/// (`vision_text.py --write`: google/siglip2-base-patch16-224's and openai/clip-vit-base-patch32's
/// tensor names, config.json and preprocessor_config.json, smaller): descriptions from the same
/// token ids, and images end to end, each side preparing them its own way (reelmatch's processor
/// against PIL's resize as transformers calls it), at cosine ≥ 0.9999 per input.
#[test]
fn vision_text_models_match_numpy_siglip_and_clip_on_their_layouts() {
    use reelmatch::ml::vision_text::VisionTextEmbedder;
    use reelmatch::ml::{resolve_manifest, Role};

    let work = tempfile::tempdir().unwrap();
    // Images of three shapes: wider, taller and square, so resizing and cropping both matter.
    let mut images = Vec::new();
    for (k, (w, h)) in [(320u32, 180u32), (150, 260), (224, 224)].into_iter().enumerate() {
        let path = work.path().join(format!("image {k}.png"));
        image::RgbImage::from_fn(w, h, |x, y| {
            let k = k as u32;
            image::Rgb([((x * (k + 2)) % 256) as u8, ((y * 5 + k * 40) % 256) as u8, ((x * y / 7 + k) % 253) as u8])
        })
        .save(&path)
        .unwrap();
        images.push(path);
    }
    let texts = ["dark blue background with neon colours", "a crowd at night", "la"];
    for (family, repo) in [("siglip", "google/siglip2-base-patch16-224"), ("clip", "openai/clip-vit-base-patch32")] {
        let dir = work.path().join(family);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/vision_text.py");
        let out = Command::new("python3").arg(&script).args(["--write", family]).arg(&dir).output().unwrap();
        assert!(out.status.success(), "writing the {family} layout: {}", String::from_utf8_lossy(&out.stderr));
        let manifest = Role::VisionText.manifest().for_repo(repo);
        let files = resolve_manifest(Role::VisionText, manifest, Some(&dir), &[], Some("offline")).unwrap();
        let model = VisionTextEmbedder::load(&files, &Device::Cpu, 2).unwrap();
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| model.token_ids(t).unwrap()).collect();
        if family == "siglip" {
            assert!(ids.iter().all(|i| i.len() == 64), "SigLIP pads to its 64 tokens: {:?}", ids[2]);
        }
        let want = reference("vision_text.py", &dir, serde_json::json!({ "texts": ids, "images": images }));
        let want_text: Vec<Vec<f64>> = serde_json::from_value(want["text"].clone()).unwrap();
        let want_image: Vec<Vec<f64>> = serde_json::from_value(want["image"].clone()).unwrap();
        let want_pixels: Vec<Vec<f64>> = serde_json::from_value(want["pixels"].clone()).unwrap();
        let cos = |a: &[f32], b: &[f64]| {
            let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
            let na = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            dot / (na * b.iter().map(|y| y * y).sum::<f64>().sqrt())
        };
        for (text, w) in texts.iter().zip(&want_text) {
            let got = model.embed_text(text).unwrap();
            assert_eq!(got.len(), model.dim());
            let c = cos(&got, w);
            println!("{family} text {text:?}: cosine {c:.7}");
            assert!(c >= 0.9999, "{family} text {text:?}: cosine {c}");
        }
        let paths: Vec<&Path> = images.iter().map(|p| p.as_path()).collect();
        let got = model.embed_files(&paths).unwrap();
        for (k, ((g, w), px)) in got.iter().zip(&want_image).zip(&want_pixels).enumerate() {
            let img = image::open(&images[k]).unwrap().to_rgb8();
            let (pw, ph) = model.processor().output_size(img.width(), img.height());
            let mut mine = vec![0f32; 3 * (pw * ph) as usize];
            model.processor().prepare(&img, &mut mine);
            assert_eq!(mine.len(), px.len(), "{family} image {k}: the prepared size");
            let worst = mine.iter().zip(px).map(|(a, b)| (f64::from(*a) - b).abs()).fold(0.0, f64::max);
            let mean = mine.iter().zip(px).map(|(a, b)| (f64::from(*a) - b).abs()).sum::<f64>() / px.len() as f64;
            let c = cos(g, w);
            println!(
                "{family} image {k}: cosine {c:.7}; pixels against PIL: mean difference {mean:.4}, largest {worst:.4}"
            );
            assert!(c >= 0.9999, "{family} image {k}: cosine {c}");
        }
        let apart = cos(&got[0], &want_image[1]);
        assert!(apart < 0.999, "{family}: different images give different vectors ({apart})");
    }
}
