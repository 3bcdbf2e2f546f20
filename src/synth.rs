//! Synthetic libraries for measuring scale: videos with frames and 2048-d frame vectors written
//! through the same catalog API as ingestion (so the vector store and search see what they
//! would after a real ingest), with a few real JPEGs reused as every frame's image. Vectors are
//! clustered per video and non-negative (as ResNet-50's pooled ReLU features are); each video's
//! last 10 % of frames are its test split, as the contiguous split does. Optionally a random
//! trained head, so the head space can be measured too.

use crate::catalog::{Catalog, FrameRecord, NewRun, RunStatus, Split};
use crate::error::{Error, Result};
use crate::library::Library;
use crate::rng::SplitMix64;
use crate::train::head::Head;
use crate::types::{FitSettings, Probe};
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub videos: usize,
    pub frames_per_video: usize,
    pub dim: usize,
    pub seed: u64,
    /// Also write an active run with a random head over the videos.
    pub head: bool,
    /// The number of the first video (a library grown in steps numbers its videos on).
    pub first_video: usize,
    /// Videos come in families of this many that look alike (their centres share a parent):
    /// a video's nearest videos are then its family, as an artist's videos are. 1: all apart.
    pub family: usize,
}

/// The model id the synthetic vectors are stored under.
pub const MODEL: &str = "synthetic-resnet50";

/// Frames written per catalog transaction.
const CHUNK: usize = 2000;

/// Writes `spec`'s videos into `library` (which should be empty); returns the number of frames.
pub fn generate(library: &Library, spec: &Spec) -> Result<usize> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let images = write_images(library)?;
    let mut rng = SplitMix64(spec.seed);
    let mut total = 0;
    let mut pending: Vec<(i64, Vec<f32>)> = Vec::new();
    let mut parent: Vec<f32> = vec![0.0; spec.dim];
    for v in spec.first_video..spec.first_video + spec.videos {
        let title = format!("Synthetic {v:05}");
        let path = Path::new("/synthetic").join(format!("{title}.mp4"));
        let id = catalog.insert_video(&path, &title, &format!("synthetic-{}-{v}", spec.seed), 1, 0)?;
        let n = spec.frames_per_video;
        let probe = Probe {
            duration_s: n as f64,
            fps: Some(25.0),
            width: 1280,
            height: 720,
            has_audio: false,
            codec: "h264".into(),
            format: "mp4".into(),
        };
        catalog.set_probed(id, &probe, 1.0)?;
        let test_from = n - (n / 10).max(1).min(n);
        let frames: Vec<FrameRecord> = (0..n)
            .map(|i| FrameRecord {
                video_id: id,
                idx: i as i64,
                t_s: i as f64 + 0.5,
                split: if i >= test_from { Split::Test } else { Split::Train },
                file: images[(v + i) % images.len()].clone(),
            })
            .collect();
        catalog.store_frames(id, &frames)?;
        catalog.set_audio_done(id, None)?;
        // A cluster per video: a non-negative centre, frames spread around it; in a family, the
        // centre is the family's parent moved a little.
        let centre: Vec<f32> = if spec.family <= 1 {
            (0..spec.dim).map(|_| (gaussian(&mut rng) as f32).max(0.0)).collect()
        } else {
            if (v - spec.first_video).is_multiple_of(spec.family) {
                parent = (0..spec.dim).map(|_| gaussian(&mut rng) as f32).collect();
            }
            parent.iter().map(|p| (0.7 * p + 0.7 * gaussian(&mut rng) as f32).max(0.0)).collect()
        };
        let ids = catalog.frames_without_embedding(id, MODEL)?;
        for (frame_id, _) in ids {
            let v: Vec<f32> = centre.iter().map(|c| (c + 0.35 * gaussian(&mut rng) as f32).max(0.0)).collect();
            pending.push((frame_id, v));
            total += 1;
        }
        if pending.len() >= CHUNK {
            catalog.store_frame_embeddings(MODEL, &pending)?;
            pending.clear();
        }
    }
    catalog.store_frame_embeddings(MODEL, &pending)?;
    if spec.head {
        write_head(library, &catalog, spec, &mut rng)?;
    }
    Ok(total)
}

/// A standard normal sample (Box–Muller).
fn gaussian(rng: &mut SplitMix64) -> f64 {
    let u = rng.unit().max(1e-12);
    let v = rng.unit();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Four small real JPEGs every frame points at; returns their paths relative to the library.
fn write_images(library: &Library) -> Result<Vec<String>> {
    let dir = library.root().join("frames/synthetic");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut out = Vec::new();
    for (i, tint) in [[200u8, 60, 60], [60, 200, 60], [60, 60, 200], [200, 200, 60]].iter().enumerate() {
        let img = image::RgbImage::from_fn(112, 64, |x, y| {
            image::Rgb([tint[0].saturating_sub((x / 2) as u8), tint[1].saturating_sub((y * 2) as u8), tint[2]])
        });
        let rel = format!("frames/synthetic/{i}.jpg");
        let path = library.resolve(&rel);
        img.save(&path).map_err(|e| Error::File { path: path.clone(), reason: e.to_string() })?;
        out.push(rel);
    }
    Ok(out)
}

/// An active, finished run whose head is random: the head space at this library's size.
fn write_head(library: &Library, catalog: &Catalog, spec: &Spec, rng: &mut SplitMix64) -> Result<()> {
    use candle_core::{Device, Tensor};
    let classes = spec.videos;
    let mut random = |n: usize, scale: f64| (0..n).map(|_| (gaussian(rng) * scale) as f32).collect::<Vec<f32>>();
    let tensor = |v: Vec<f32>, shape: &[usize]| {
        Tensor::from_vec(v, shape, &Device::Cpu).map_err(|e| Error::compute("making a random head", e))
    };
    let head = Head::new(
        tensor(random(classes * spec.dim, 0.02), &[classes, spec.dim])?,
        tensor(vec![0.0; classes], &[classes])?,
        tensor(vec![0.3; spec.dim], &[spec.dim])?,
        tensor(vec![0.4; spec.dim], &[spec.dim])?,
    );
    let videos = catalog.videos()?;
    let titles: Vec<String> = videos.iter().map(|v| v.title.clone()).collect();
    let ids: Vec<i64> = videos.iter().map(|v| v.id).collect();
    let settings = FitSettings { optimizer: "adamw".into(), learning_rate: 0.001, epochs: 1, ..FitSettings::default() };
    let run = catalog.insert_run(&NewRun {
        image_model: MODEL,
        settings: &settings,
        classes: &titles,
        class_ids: &ids,
        left_out: &[],
    })?;
    let rel = format!("runs/{run}/head.safetensors");
    head.save(&library.resolve(&rel))?;
    catalog.finish_run(run, RunStatus::Done, None, Some(&rel))?;
    catalog.set_active_run(Some(run))
}

/// Hashes per second in a fingerprint (Chromaprint's: one per 0.124 s).
const HASHES_PER_S: f64 = 1.0 / 0.124;

/// Gives every video of `library` a synthetic audio fingerprint of `seconds` (random hashes, so
/// no two recordings match by chance), except that every `related_every`-th video holds the
/// previous one's recording: alternately a copy of it and a third of it from a third of the way
/// in (an excerpt). What a scale bench needs to time finding relations among thousands of
/// videos. Returns the number of related pairs written.
pub fn add_fingerprints(library: &Library, seconds: u32, related_every: usize, seed: u64) -> Result<usize> {
    use crate::types::Fingerprint;
    let catalog = Catalog::open(&library.catalog_path())?;
    let mut rng = SplitMix64(seed);
    let n = (f64::from(seconds) * HASHES_PER_S) as usize;
    let mut previous: Option<Fingerprint> = None;
    let mut related = 0;
    for (k, video) in catalog.videos()?.iter().enumerate() {
        let print = match &previous {
            Some(before) if related_every > 0 && k % related_every == related_every - 1 => {
                related += 1;
                if (k / related_every).is_multiple_of(2) {
                    before.clone()
                } else {
                    let third = before.hashes.len() / 3;
                    Fingerprint { hashes: before.hashes[third..2 * third].to_vec(), duration_s: seconds / 3 }
                }
            }
            _ => Fingerprint { hashes: (0..n).map(|_| rng.next_u64() as u32).collect(), duration_s: seconds },
        };
        catalog.store_fingerprint(video.id, &print)?;
        previous = Some(print);
    }
    Ok(related)
}
