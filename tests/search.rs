//! Similarity search end to end on generated music videos (distinct visuals, espeak-ng lyrics)
//! with a random-weight ResNet-50, whisper-tiny.en and MiniLM; evaluation; bad input.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use candle_core::Device;
use common::{assets, bin, make_audio_only, make_video, random_resnet, song, test_config, Gen};
use reelmatch::catalog::Catalog;
use reelmatch::events::{discard, Cancel};
use reelmatch::ingest::ingest;
use reelmatch::ml::image::ImageEmbedder;
use reelmatch::ml::load::{load_speech, load_text};
use reelmatch::ml::Models;
use reelmatch::search::eval::evaluate;
use reelmatch::search::{find_video, search, Query, SearchLibrary, Weights};
use reelmatch::{Config, Library};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

pub(crate) const SONGS: [(&str, &str, &str); 4] = [
    ("rain", "testsrc2", "Waiting all night for the summer rain to fall on the city"),
    ("gold", "smptebars", "Seven bars of gold and blue standing still and waiting for you"),
    ("spiral", "mandelbrot", "Falling deeper into the spiral the closer I get the more I find"),
    ("cells", "cellauto", "Cells are born and cells decay the patterns change from day to day"),
];

fn config(work: &Path, weights: &Path) -> Config {
    let m = assets().join("models");
    test_config(&format!(
        "[models]\noffline = true\n[models.image]\npath = {:?}\n[models.speech]\npath = {:?}\n[models.text]\npath = {:?}\n",
        work.join("no-such-dir"),
        m.join("whisper-tiny.en"),
        m.join("all-minilm-l6-v2")
    ))
    .with_image_weights(weights)
}

trait WithWeights {
    fn with_image_weights(self, w: &Path) -> Self;
}

impl WithWeights for Config {
    fn with_image_weights(mut self, w: &Path) -> Self {
        self.models.image.path = w.parent().unwrap().to_path_buf();
        self
    }
}

fn models(config: &Config, weights: &Path) -> Models {
    Models::none()
        .with_image(ImageEmbedder::load_weights(weights, &Device::Cpu, &config.image, 16, "random".into()).unwrap())
        .with_speech(load_speech(config).unwrap())
        .with_text(load_text(config).unwrap())
}

#[test]
fn excerpts_and_other_voices_find_their_song_and_eval_is_perfect() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    for (name, source, lyrics) in SONGS {
        song(&media, name, lyrics, source, None);
    }
    let weights_dir = work.path().join("resnet");
    std::fs::create_dir_all(&weights_dir).unwrap();
    let weights = weights_dir.join("model.safetensors");
    random_resnet(&weights);
    let config = config(work.path(), &weights);
    let models = models(&config, &weights);
    let lib = Library::open(work.path().join("lib")).unwrap();
    let report = ingest(&lib, &config, std::slice::from_ref(&media), &models, &discard(), &Cancel::new()).unwrap();
    assert!(report.failed.is_empty(), "{report:#?}");
    let cat = Catalog::open(&lib.catalog_path()).unwrap();
    let sl = SearchLibrary::load(&cat, Some("random"), None, None).unwrap();
    let w = Weights { visual: 0.7, lyrics: 0.3 };

    // A re-encoded, cropped and brightened 2 s excerpt of "spiral", with no audio.
    let excerpt = work.path().join("excerpt.mp4");
    common::excerpt(&media.join("spiral.mp4"), &excerpt);
    let q = reelmatch::pipeline::query_from_file(&config, &models, &excerpt, &Cancel::new()).unwrap();
    assert!(!q.frames.is_empty() && q.lyrics.is_none());
    let r = search(&sl, &q, w, 10, false);
    assert_eq!(
        r.results[0].title,
        "spiral",
        "{:#?}",
        r.results.iter().map(|h| (&h.title, h.score)).collect::<Vec<_>>()
    );
    assert_eq!(r.results[0].lyrics, None, "no audio: lyrics missing, visual carries the score");
    assert_eq!(r.results[0].score, r.results[0].visual.unwrap());

    // The "gold" lyrics in another voice, over a visual no song has: lyrics rank "gold" first.
    let cover = song(work.path(), "cover", SONGS[1].2, "rgbtestsrc", Some("en-us+f3"));
    let q = reelmatch::pipeline::query_from_file(&config, &models, &cover, &Cancel::new()).unwrap();
    let lyrics_only = search(&sl, &q, Weights { visual: 0.0, lyrics: 1.0 }, 10, false);
    assert_eq!(lyrics_only.results[0].title, "gold", "{:#?}", lyrics_only.results);
    let line = &lyrics_only.results[0].lines[0];
    assert!(line.match_text.to_lowercase().contains("gold") && line.similarity > 0.3, "{line:?}");

    // A library video as the query: itself excluded unless asked for.
    let rain = find_video(&sl.videos, "rain").unwrap();
    let q = Query::from_library(&sl, lib.root(), rain).unwrap();
    assert_eq!(q.frames.len(), 10);
    assert!(search(&sl, &q, w, 10, false).results.iter().all(|h| h.id != rain.id));
    let with_self = search(&sl, &q, w, 10, true);
    assert_eq!(with_self.results[0].id, rain.id);
    assert!(with_self.results[0].visual.unwrap() > 0.99, "a video matches itself: {:?}", with_self.results[0].visual);

    // Evaluation: a perfect or near-perfect library.
    let text = load_text(&config).unwrap();
    let e = evaluate(&cat, Some("random"), Some(&text), w, None, None, Default::default()).unwrap();
    let visual = e.visual.unwrap();
    assert_eq!(visual.queries, 4);
    assert!(visual.recall_at_1 >= 0.75 && visual.recall_at_5 == 1.0, "{visual:?}");
    let fused = e.fused.unwrap();
    assert!(fused.recall_at_1 >= 0.75, "{fused:?}");

    // The binary: similar --json and eval --json contracts, and bad input.
    let run = |args: &[&str]| {
        let mut c = bin();
        c.env("HF_HOME", work.path().join("hf")).arg("--library").arg(lib.root());
        c.arg("--image-model").arg(&weights_dir).arg("--text-model").arg(assets().join("models/all-minilm-l6-v2"));
        c.arg("--speech-model").arg(assets().join("models/whisper-tiny.en"));
        c.args(args).output().unwrap()
    };
    let out = run(&["similar", "gold", "--top", "2", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["query"], "gold");
    let hits = doc["results"].as_array().unwrap();
    assert_eq!(hits.len(), 2);
    for key in ["rank", "id", "title", "score", "visual", "lyrics", "frames", "lines"] {
        assert!(hits[0].get(key).is_some(), "{key} missing from {}", hits[0]);
    }
    for key in ["query_t", "match_t", "similarity"] {
        assert!(hits[0]["frames"][0].get(key).is_some(), "{key}");
    }
    for key in ["query_text", "match_text", "similarity"] {
        assert!(hits[0]["lines"][0].get(key).is_some(), "{key}");
    }
    let out = run(&["eval", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    for side in ["visual", "lyrics", "fused"] {
        assert!(doc.get(side).is_some(), "{side}");
    }
    for key in ["recall_at_1", "recall_at_5", "map"] {
        assert!(doc["visual"].get(key).is_some() && doc["fused"].get(key).is_some(), "{key}");
    }

    let err = |args: &[&str]| {
        let out = run(args);
        assert_ne!(out.status.code(), Some(0), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(err(&["similar", "spirl"]).contains("did you mean \"spiral\""));
    let audio_only = work.path().join("audio only.mp4");
    make_audio_only(&audio_only, 2.0);
    assert!(err(&["similar", "--file", audio_only.to_str().unwrap()]).contains("no video stream"));
    let bad_image = work.path().join("not an image.png");
    std::fs::write(&bad_image, "nope").unwrap();
    assert!(err(&["similar", "--image", bad_image.to_str().unwrap()]).contains("cannot decode this image"));
}

#[test]
fn ambiguous_titles_and_an_empty_library_are_explained() {
    let work = tempfile::tempdir().unwrap();
    let out = bin().arg("--library").arg(work.path().join("lib")).args(["similar", "anything"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ingested videos"));

    let media = work.path().join("m");
    std::fs::create_dir_all(&media).unwrap();
    make_video(&media.join("Starboy.mp4"), Gen { seconds: 2.0, ..Gen::default() });
    make_video(&media.join("Starboy (Live).mp4"), Gen { source: "smptebars", seconds: 2.0, ..Gen::default() });
    let lib = Library::open(work.path().join("lib2")).unwrap();
    ingest(&lib, &test_config(""), &[media], &Models::none(), &discard(), &Cancel::new()).unwrap();
    let videos = Catalog::open(&lib.catalog_path()).unwrap().videos().unwrap();
    let e = find_video(&videos, "star").unwrap_err().to_string();
    assert!(e.contains("several videos") && e.contains("Starboy (Live)"), "{e}");
    assert_eq!(find_video(&videos, "Starboy").unwrap().title, "Starboy");
}

#[test]
fn a_re_encoded_copy_is_a_near_duplicate() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("m");
    std::fs::create_dir_all(&media).unwrap();
    make_video(
        &media.join("original.mp4"),
        Gen { source: "mandelbrot", seconds: 4.0, tone_hz: None, ..Gen::default() },
    );
    make_video(&media.join("other.mp4"), Gen { source: "smptebars", seconds: 4.0, tone_hz: None, ..Gen::default() });
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(media.join("original.mp4"))
        .args(["-c:v", "libx264", "-crf", "35", "-vf", "scale=80:-2"])
        .arg(media.join("copy.mkv"))
        .status()
        .unwrap();
    assert!(status.success());
    let weights = work.path().join("w.safetensors");
    random_resnet(&weights);
    let config = test_config("");
    let image = ImageEmbedder::load_weights(&weights, &Device::Cpu, &config.image, 16, "random".into()).unwrap();
    let models = Models::none().with_image(image);
    let lib = Library::open(work.path().join("lib")).unwrap();
    ingest(&lib, &config, &[media], &models, &discard(), &Cancel::new()).unwrap();
    let cat = Catalog::open(&lib.catalog_path()).unwrap();
    let sl = SearchLibrary::load(&cat, Some("random"), None, None).unwrap();
    let pairs = reelmatch::search::eval::near_duplicates(&sl, 0.5);
    let title = |id: i64| sl.videos.iter().find(|v| v.id == id).unwrap().title.clone();
    let named: Vec<(String, String)> = pairs.iter().map(|(a, b, _)| (title(*a), title(*b))).collect();
    assert_eq!(pairs.len(), 1, "{named:?} {pairs:?}");
    let mut pair = [named[0].0.clone(), named[0].1.clone()];
    pair.sort();
    assert_eq!(pair, ["copy".to_string(), "original".to_string()]);
}
