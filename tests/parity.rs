//! reelmatch's Candle models against independent numpy implementations of the same networks
//! (`tests/reference/`), on the same weights and the same inputs: the BERT text embedder on the
//! real MiniLM weights (the reference follows Hugging Face transformers' BertModel). Needs
//! python3 with numpy and safetensors, which preparing the test assets installs.

mod common;

use candle_core::Device;
use common::assets;
use reelmatch::config::Pooling;
use reelmatch::ml::text::TextEmbedder;
use reelmatch::ml::{resolve, Role};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs a reference script with a JSON request on stdin; returns its JSON answer.
fn reference(script: &str, model_dir: &Path, request: serde_json::Value) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference").join(script);
    let mut child = Command::new("python3")
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

    let files = resolve(Role::Text, Some(&dir), &[], true).unwrap();
    let model = TextEmbedder::load(&files, &Device::Cpu, Pooling::Mean, 512, 64).unwrap();
    // One batch, so the shorter texts are padded and masked: padding must not change them.
    let got = model.embed_batch(&texts).unwrap();
    for ((text, g), w) in texts.iter().zip(&got).zip(&want) {
        assert_eq!(g.len(), w.len());
        let diff = g.iter().zip(w).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff < 1e-3, "{text:?}: largest difference {diff}");
    }
}

#[test]
fn image_features_match_a_numpy_resnet50_within_1e_3_relative() {
    use candle_core::{DType, Tensor};
    use reelmatch::config::Config;
    use reelmatch::ml::image::{preprocess, ImageEmbedder};
    use reelmatch::rng::SplitMix64;

    // Random weights, with batch-norm statistics and affine parameters made random too, so every
    // part of the network matters.
    let work = tempfile::tempdir().unwrap();
    let weights = work.path().join("model.safetensors");
    reelmatch::ml::image::write_random_weights(&weights).unwrap();
    let mut tensors = candle_core::safetensors::load(&weights, &Device::Cpu).unwrap();
    let mut rng = SplitMix64(3);
    for (name, t) in tensors.iter_mut() {
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
    assert_eq!(got.len(), want.len());
    let err: f64 = got.iter().zip(&want).map(|(a, b)| (*a as f64 - b).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
    assert!(norm > 0.0 && err / norm < 1e-3, "relative error {}", err / norm);
}
