//! `reelmatch models check`: every role run on the configured device, with its outputs (for
//! comparing devices) and its pace at several batch sizes, written as one JSON report.

use crate::config::Config;
use crate::events::Cancel;
use crate::ml::device;
use crate::ml::image::{write_random_weights, ImageEmbedder};
use crate::ml::load::{configured_device, load_image, load_speech, load_text};
use anyhow::Context;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What to run the models on.
pub struct Inputs {
    pub images: Vec<PathBuf>,
    pub text: Vec<String>,
    pub audio: Option<PathBuf>,
    pub batches: Vec<usize>,
}

/// Image vectors kept in the report (enough to compare devices, small enough to read).
const KEPT: usize = 16;

pub fn run(config: &Config, inputs: &Inputs, out: &Path) -> anyhow::Result<ExitCode> {
    let chosen = device::describe_configured(&config.models.device)?;
    eprintln!("models check on {chosen}");
    let mut report = json!({ "device": chosen.name, "chosen": chosen.to_string() });
    if !inputs.images.is_empty() {
        report["image"] = image_role(config, inputs)?;
    }
    if !inputs.text.is_empty() {
        report["text"] = text_role(config, inputs)?;
    }
    if let Some(audio) = &inputs.audio {
        report["speech"] = speech_role(config, audio)?;
    }
    crate::save::atomically(out, serde_json::to_string_pretty(&report)?.as_bytes())
        .with_context(|| format!("writing the report {}", out.display()))?;
    eprintln!("report: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// The configured image model, or (as the demo does) the seeded random ResNet-50: the same
/// weights on every machine, so devices can be compared without downloading any.
fn image_model(config: &Config) -> anyhow::Result<(ImageEmbedder, bool)> {
    match load_image(config) {
        Ok(m) => Ok((m, false)),
        Err(configured) => {
            let weights =
                std::env::temp_dir().join(format!("reelmatch-check-{}/model.safetensors", std::process::id()));
            std::fs::create_dir_all(weights.parent().expect("a file in a folder"))?;
            write_random_weights(&weights)?;
            eprintln!("image: {configured}; using the seeded random ResNet-50");
            let dev = configured_device(config)?;
            let m = ImageEmbedder::load_weights(&weights, &dev, &config.image, 1, "random-resnet50".into());
            let _ = std::fs::remove_dir_all(weights.parent().expect("a file in a folder"));
            Ok((m?, true))
        }
    }
}

fn image_role(config: &Config, inputs: &Inputs) -> anyhow::Result<Value> {
    let (mut model, random) = image_model(config)?;
    let decoded = inputs
        .images
        .iter()
        .map(|p| image::open(p).map(|i| i.to_rgb8()).with_context(|| format!("decoding {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = decoded.len().min(KEPT);
    model.set_batch_size(first.max(1));
    let vectors = model.embed(&decoded[..first])?;
    let count = inputs.batches.iter().max().copied().unwrap_or(1) * 2;
    let many: Vec<_> = decoded.iter().cycle().take(count.max(decoded.len())).cloned().collect();
    let mut rates = Vec::new();
    for &b in &inputs.batches {
        model.set_batch_size(b);
        model.embed(&many[..b.min(many.len())])?; // a warm-up pass at this size
        let started = Instant::now();
        model.embed(&many)?;
        let seconds = started.elapsed().as_secs_f64();
        let per_s = many.len() as f64 / seconds;
        eprintln!("image batch {b:>4}: {per_s:8.1} images/s");
        rates.push(json!({ "batch": b, "per_s": per_s, "count": many.len(), "seconds": seconds }));
    }
    Ok(json!({ "model": model.model_id, "random_weights": random, "vectors": vectors, "rates": rates }))
}

fn text_role(config: &Config, inputs: &Inputs) -> anyhow::Result<Value> {
    let mut model = load_text(config)?;
    let texts: Vec<&str> = inputs.text.iter().map(String::as_str).collect();
    let vectors = model.embed_batch(&texts)?;
    let count = inputs.batches.iter().max().copied().unwrap_or(1) * 2;
    let many: Vec<&str> = texts.iter().cycle().take(count.max(texts.len())).copied().collect();
    let mut rates = Vec::new();
    for &b in &inputs.batches {
        model.set_batch(b);
        model.embed_batch(&many[..b.min(many.len())])?;
        let started = Instant::now();
        model.embed_batch(&many)?;
        let seconds = started.elapsed().as_secs_f64();
        let per_s = many.len() as f64 / seconds;
        eprintln!("text  batch {b:>4}: {per_s:8.1} documents/s");
        rates.push(json!({ "batch": b, "per_s": per_s, "count": many.len(), "seconds": seconds }));
    }
    Ok(json!({ "model": model.model_id, "vectors": vectors, "rates": rates }))
}

fn speech_role(config: &Config, audio: &Path) -> anyhow::Result<Value> {
    let pcm = if audio.extension().is_some_and(|e| e == "pcm") {
        crate::media::read_pcm(audio)?
    } else {
        crate::media::decode_audio(&config.tools.ffmpeg, audio, Duration::from_secs(3600), &Cancel::new())?
    };
    let seconds_of_audio = pcm.len() as f64 / 16_000.0;
    let mut model = load_speech(config)?;
    let started = Instant::now();
    let transcript = model.transcribe(&pcm, None, &Cancel::new())?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "speech: {seconds_of_audio:.1} s of audio in {seconds:.2} s ({:.1}× real time)",
        seconds_of_audio / seconds
    );
    Ok(json!({
        "model": model.model_id,
        "audio_seconds": seconds_of_audio,
        "seconds": seconds,
        "real_time_factor": seconds_of_audio / seconds,
        "text": transcript.text(),
    }))
}
