//! Ingestion with models: frame embeddings (random-weight ResNet-50), transcripts (whisper-tiny.en
//! on espeak-ng lyrics) and lyrics embeddings (MiniLM); re-runs do nothing; changing one model
//! recomputes only its outputs; an instrumental video is fine.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use candle_core::Device;
use common::{assets, make_video, random_resnet, seeded_resnet, song, test_config, Gen};
use reelmatch::catalog::Catalog;
use reelmatch::events::{Cancel, Event};
use reelmatch::ingest::ingest;
use reelmatch::ml::image::ImageEmbedder;
use reelmatch::ml::load::{load_speech, load_text};
use reelmatch::ml::Models;
use reelmatch::Library;
use std::path::Path;
use std::sync::Mutex;

fn stages(events: &Mutex<Vec<Event>>) -> Vec<&'static str> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| if let Event::VideoStage { stage, .. } = e { Some(stage.name()) } else { None })
        .collect()
}

/// With `[ingest] overlap = "all"`: the audio side and the frames' embedding both beside the
/// frame sampling (the default, "frames", is the second of these alone).
#[test]
fn ingest_embeds_transcribes_and_recomputes_only_what_changed() {
    ingest_with("all");
}

/// The same with one stage after another (`[ingest] overlap = "none"`).
#[test]
fn ingest_one_stage_after_another_does_the_same() {
    ingest_with("none");
}

fn ingest_with(overlap: &str) {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    song(&media, "rain", "Waiting all night for the summer rain to fall on the city.", "testsrc2", None);
    make_video(
        &media.join("instrumental.mp4"),
        Gen { source: "smptebars", seconds: 3.0, tone_hz: None, ..Gen::default() },
    );
    let weights_a = work.path().join("a.safetensors");
    random_resnet(&weights_a);

    let models = assets().join("models");
    let extra = format!(
        "[models]\noffline = true\n[models.speech]\npath = {:?}\n[models.text]\npath = {:?}\n[ingest]\noverlap = {overlap:?}\n",
        models.join("whisper-tiny.en"),
        models.join("all-minilm-l6-v2")
    );
    let config = test_config(&extra);
    assert_eq!(format!("{:?}", config.ingest.overlap).to_lowercase(), overlap);
    let pre = &config.image;
    let load = |w: &Path, id: &str| {
        Models::none()
            .with_image(ImageEmbedder::load_weights(w, &Device::Cpu, pre, 8, id.into()).unwrap())
            .with_speech(load_speech(&config).unwrap())
            .with_text(load_text(&config).unwrap())
            .expecting("en")
    };
    let lib = Library::open(work.path().join("lib")).unwrap();
    let events = Mutex::new(Vec::new());
    let sink = |e: Event| events.lock().unwrap().push(e);
    let report =
        ingest(&lib, &config, std::slice::from_ref(&media), &load(&weights_a, "resnet-a"), &sink, &Cancel::new())
            .unwrap();
    assert!(report.failed.is_empty(), "{report:#?}");

    let cat = Catalog::open(&lib.catalog_path()).unwrap();
    let videos = cat.videos().unwrap();
    let rain = videos.iter().find(|v| v.title == "rain").unwrap();
    let inst = videos.iter().find(|v| v.title == "instrumental").unwrap();
    assert_eq!(rain.frames_embedded, rain.frames_train + rain.frames_test);
    assert_eq!(inst.frames_embedded, inst.frames_train + inst.frames_test);
    let emb = cat.frame_embeddings(rain.id, "resnet-a").unwrap();
    assert!(emb.iter().all(|e| e.vector.len() == 2048));
    // Each frame's vector is its own file's, however it was made (beside the sampling or after).
    let embedder = ImageEmbedder::load_weights(&weights_a, &Device::Cpu, pre, 8, "resnet-a".into()).unwrap();
    let files: Vec<_> = cat.frames(rain.id).unwrap().iter().map(|f| lib.resolve(&f.file)).collect();
    let again = embedder.embed_files(&files.iter().map(|f| f.as_path()).collect::<Vec<_>>()).unwrap();
    assert_eq!(again.len(), emb.len());
    let apart = again[0].iter().zip(again.last().unwrap()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(apart > 1e-2, "the first and last frames must embed apart for this check to mean anything");
    for (stored, fresh) in emb.iter().zip(&again) {
        let worst = stored.vector.iter().zip(fresh).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-3, "frame {} holds another frame's vector (differs by {worst})", stored.idx);
    }

    let t = cat.transcript(rain.id, &load_speech(&config).unwrap().model_id).unwrap().expect("transcribed");
    assert_eq!(t.language, "en");
    assert!(t.text.to_lowercase().contains("rain"), "{t:?}");
    assert_eq!(rain.transcript_flag, None);
    assert!(rain.lyrics_embedded);
    let lyrics = cat.lyrics_embeddings(rain.id, &load_text(&config).unwrap().model_id).unwrap();
    assert_eq!(lyrics.len() as i64, 1 + t.segments, "one for the whole text and one per segment");
    assert!(lyrics.iter().all(|(_, v)| v.len() == 384));

    assert_eq!((inst.has_audio, inst.transcript_language.as_deref(), inst.lyrics_embedded), (Some(false), None, false));
    assert!(inst.error.is_none(), "an instrumental is not an error");

    // A second run has nothing to do.
    events.lock().unwrap().clear();
    let again =
        ingest(&lib, &config, std::slice::from_ref(&media), &load(&weights_a, "resnet-a"), &sink, &Cancel::new())
            .unwrap();
    assert_eq!((again.processed, again.up_to_date), (0, 2));
    assert!(stages(&events).is_empty());

    // Another image model: only frame embeddings are computed again.
    let weights_b = work.path().join("b.safetensors");
    seeded_resnet(&weights_b, 51);
    events.lock().unwrap().clear();
    let changed = ingest(&lib, &config, &[media], &load(&weights_b, "resnet-b"), &sink, &Cancel::new()).unwrap();
    assert_eq!(changed.processed, 2);
    let ran = stages(&events);
    assert_eq!(ran.iter().filter(|s| **s == "embed").count(), 2, "{ran:?}");
    assert!(!ran.contains(&"transcribe") && !ran.contains(&"lyrics") && !ran.contains(&"frames"), "{ran:?}");
    // Model b is another network: its vectors are new ones, not model a's stored again.
    let by_b = cat.frame_embeddings(rain.id, "resnet-b").unwrap();
    assert_eq!(by_b.len(), emb.len());
    for (a, b) in emb.iter().zip(&by_b) {
        assert_eq!(a.idx, b.idx);
        let apart = a.vector.iter().zip(&b.vector).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(apart > 1e-2, "frame {}: model b's vector is model a's (differs by {apart})", a.idx);
    }
    let fresh_b = ImageEmbedder::load_weights(&weights_b, &Device::Cpu, pre, 8, "b".into()).unwrap();
    let again_b = fresh_b.embed_files(&files.iter().map(|f| f.as_path()).collect::<Vec<_>>()).unwrap();
    for (stored, fresh) in by_b.iter().zip(&again_b) {
        let worst = stored.vector.iter().zip(fresh).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-3, "frame {}: model b's stored vector is not model b's (differs by {worst})", stored.idx);
    }
}
