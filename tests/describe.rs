//! Describing a look in words (issue 41) through the binary: the vision-text role on random
//! SigLIP weights in google/siglip2-base-patch16-224's layout (`tests/reference/vision_text.py
//! --write`). Off by default, it costs nothing and a description says how to turn it on;
//! `index update` embeds a library ingested before; `similar --describe` then ranks the videos by
//! their best frame, each score the plain cosine of the description's and the frame's vectors
//! (`embed … --role vision-text`), and fuses with lyrics; the dashboard's `d` (in tmux) ranks the same;
//! a shared catalog (PostgreSQL) answers as the embedded one does.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is the failure report

use crate::common::{assets, bin, expect, json, make_video, random_resnet, Gen};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Random SigLIP weights in the SigLIP 2 layout, in `dir`.
fn random_siglip(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/vision_text.py");
    let out = Command::new("python3").arg(script).args(["--write", "siglip"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "python3 with numpy and safetensors: {}", String::from_utf8_lossy(&out.stderr));
}

struct Work {
    dir: tempfile::TempDir,
    lib: PathBuf,
    siglip: PathBuf,
    /// `--catalog URL` for a shared catalog; none for the embedded one.
    catalog: Vec<String>,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().unwrap();
        let (lib, resnet, siglip) = (dir.path().join("lib"), dir.path().join("resnet"), dir.path().join("siglip"));
        std::fs::create_dir_all(&resnet).unwrap();
        random_resnet(&resnet.join("model.safetensors"));
        random_siglip(&siglip);
        let config = dir.path().join("config.toml");
        std::fs::write(&config, "[sampling]\nframe_short_side = 64\n[models]\noffline = true\n").unwrap();
        Work { dir, lib, siglip, catalog: Vec::new() }
    }

    /// The binary on the library with the test models (the vision-text one only when `describe`).
    fn cmd(&self, describe: bool) -> Command {
        let m = assets().join("models");
        let mut c = bin();
        c.arg("--library").arg(&self.lib).args(&self.catalog).arg("--config").arg(self.dir.path().join("config.toml"));
        c.arg("--image-model").arg(self.dir.path().join("resnet"));
        c.arg("--speech-model").arg(m.join("whisper-tiny.en")).arg("--text-model").arg(m.join("all-minilm-l6-v2"));
        c.env("HF_HOME", self.dir.path().join("hf"));
        if describe {
            c.arg("--vision-text-model").arg(&self.siglip);
        }
        c
    }

    fn vector(&self, what: &str, arg: &str) -> Vec<f32> {
        let doc = json(self.cmd(true).args(["embed", what, arg, "--role", "vision-text", "--json"]));
        serde_json::from_value(doc["vector"].clone()).unwrap()
    }
}

#[test]
fn a_description_finds_frames_once_the_role_is_on_and_the_library_embedded() {
    let w = Work::new();
    let media = three_looks(&w);
    // Off by default: ingest embeds nothing for descriptions, and a description says how to
    // turn the role on.
    expect(w.cmd(false).arg("ingest").arg(&media), 0);
    let out = expect(w.cmd(true).args(["similar", "--describe", "dark blue background with neon colours"]), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not embedded with the vision-text model") && err.contains("index update"), "{err}");

    // `index update` with the role on embeds the frames ingested before, saying how far it is.
    let out = expect(w.cmd(true).args(["index", "update"]), 0);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("(for descriptions)") && said.contains("frames/s, about"), "{said}");
    assert!(said.contains("vision-text:"), "the store of the description space is listed: {said}");

    let text = "dark blue background with neon colours";
    let found = json(w.cmd(true).args(["similar", "--describe", text, "--json"]));
    assert_eq!(found["space"], "vision-text", "{found}");
    let hits = found["results"].as_array().unwrap();
    assert_eq!(hits.len(), 3, "every video ranked by its best frame: {found}");
    let asked = w.vector("text", text);
    for hit in hits {
        let best = &hit["frames"][0];
        assert!((0.0..=4.0).contains(&best["match_t"].as_f64().unwrap()), "the frame's time: {hit}");
        // The score is the plain cosine of the description and that frame (half floats in the store).
        let frame = w.vector("image", w.lib.join(best["match_file"].as_str().unwrap()).to_str().unwrap());
        let cosine: f32 = asked.iter().zip(&frame).map(|(a, b)| a * b).sum();
        let score = hit["score"].as_f64().unwrap() as f32;
        assert!((cosine - score).abs() < 2e-3, "{}: score {score}, cosine {cosine}", hit["title"]);
    }
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|p| p[0] >= p[1]), "best first: {scores:?}");
    // The table names each video's best frame.
    let table = String::from_utf8(expect(w.cmd(true).args(["similar", "--describe", text]), 0).stdout).unwrap();
    assert!(table.contains("vision-text") && table.contains("best frame at "), "{table}");

    // Fused with lyrics typed beside it: the silent clips have none, so the frames carry the score.
    let fused = json(w.cmd(true).args(["similar", "--describe", text, "--lyrics", "neon lights", "--json"]));
    assert_eq!(fused["results"][0]["title"], hits[0]["title"], "{fused}");

    // The dashboard, as a person uses it: d in the query pane, the words, Enter; the same ranking.
    dashboard_describes(&w, text, &found);

    // With the role on, ingest embeds a new video's frames for descriptions as it goes.
    make_video(&media.join("Cells.mp4"), Gen { source: "cellauto", seconds: 4.0, tone_hz: None, ..Gen::default() });
    expect(w.cmd(true).arg("ingest").arg(&media), 0);
    let found = json(w.cmd(true).args(["similar", "--describe", text, "--json"]));
    assert_eq!(found["results"].as_array().unwrap().len(), 4, "{found}");
}

/// Three silent 4-second clips of different looks in `w`'s folder `media`, which it returns.
fn three_looks(w: &Work) -> PathBuf {
    let media = w.dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    for (name, source) in [("Bars", "smptebars"), ("Spiral", "mandelbrot"), ("Pattern", "testsrc2")] {
        make_video(&media.join(format!("{name}.mp4")), Gen { source, seconds: 4.0, tone_hz: None, ..Gen::default() });
    }
    media
}

/// A shared catalog answers a description as the embedded one does. `index update` embeds the
/// frames of a catalog ingested before the role was on, from their JPEG bytes in the database;
/// `similar --describe` then ranks the videos with the embedded library's scores (half floats on
/// both sides) and each video's best frame at the same time; the dashboard's `d` ranks as the
/// command line does, the frame drawn from the database; a worker with the role on uploads the
/// vectors of what it ingests.
#[test]
fn a_shared_catalog_answers_a_description_as_the_embedded_one_does() {
    let text = "dark blue background with neon colours";
    let embedded = Work::new();
    let media = three_looks(&embedded);
    expect(embedded.cmd(true).arg("ingest").arg(&media), 0);
    let want = json(embedded.cmd(true).args(["similar", "--describe", text, "--json"]));

    let pg = crate::common::postgres();
    expect(bin().args(["--catalog", &pg.url(), "migrate"]), 0);
    let shared =
        Work { lib: embedded.dir.path().join("worker cache"), catalog: vec!["--catalog".into(), pg.url()], ..embedded };
    expect(shared.cmd(false).arg("ingest").arg(&media), 0);
    let out = expect(shared.cmd(true).args(["similar", "--describe", text]), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not embedded with the vision-text model") && err.contains("index update"), "{err}");

    let out = expect(shared.cmd(true).args(["index", "update"]), 0);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("embedding 24 frames of 3 videos") && said.contains("frames/s, about"), "{said}");
    assert!(said.contains("vision-text:") && said.contains("exact search (for descriptions)"), "{said}");
    let out = expect(shared.cmd(true).args(["index", "update"]), 0);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("embedding "), "nothing is left to embed");

    let got = json(shared.cmd(true).args(["similar", "--describe", text, "--json"]));
    assert_eq!(got["space"], "vision-text", "{got}");
    let (hits, wanted) = (got["results"].as_array().unwrap(), want["results"].as_array().unwrap());
    assert_eq!(hits.len(), 3, "{got}");
    for hit in hits {
        let twin = wanted.iter().find(|w| w["title"] == hit["title"]).unwrap();
        let (a, b) = (hit["score"].as_f64().unwrap(), twin["score"].as_f64().unwrap());
        assert!((a - b).abs() < 2e-3, "{}: {a} on the catalog, {b} embedded", hit["title"]);
        assert_eq!(hit["frames"][0]["match_t"], twin["frames"][0]["match_t"], "the same best frame: {hit}");
        assert!(hit["frames"][0]["match_file"].as_str().unwrap().starts_with("frame:"), "read from the catalog: {hit}");
    }
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|p| p[0] >= p[1]), "best first: {scores:?}");

    dashboard_describes(&shared, text, &got);

    // A worker with the role on uploads a new video's vectors for descriptions as it ingests.
    make_video(&media.join("Cells.mp4"), Gen { source: "cellauto", seconds: 4.0, tone_hz: None, ..Gen::default() });
    expect(shared.cmd(true).arg("ingest").arg(&media), 0);
    let found = json(shared.cmd(true).args(["similar", "--describe", text, "--json"]));
    assert_eq!(found["results"].as_array().unwrap().len(), 4, "{found}");
}

/// The real dashboard in tmux: `d` types a description, Enter ranks the library as `similar
/// --describe` does (`found`, its JSON), the matched frame drawn; `l` then fuses lyrics with it.
fn dashboard_describes(w: &Work, text: &str, found: &serde_json::Value) {
    use crate::tmux::{quote, Tmux};
    let m = assets().join("models");
    let dashboard = format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY HF_HOME={} {} --library {}{} --config {} --image-model {} --speech-model {} --text-model {} --vision-text-model {} --graphics halfblocks",
        quote(&w.dir.path().join("hf")),
        quote(Path::new(env!("CARGO_BIN_EXE_reelmatch"))),
        quote(&w.lib),
        w.catalog.iter().map(|a| format!(" '{a}'")).collect::<String>(),
        quote(&w.dir.path().join("config.toml")),
        quote(&w.dir.path().join("resnet")),
        quote(&m.join("whisper-tiny.en")),
        quote(&m.join("all-minilm-l6-v2")),
        quote(&w.siglip),
    );
    let tmux = Tmux::new(&dashboard, 120, 36);
    tmux.wait_for(&["Library · 3 videos"], 30);
    tmux.keys(&["3"]);
    tmux.wait_for(&["Query: a video", "d describes a look"], 10);
    tmux.keys(&["d"]);
    tmux.wait_for(&["describe: "], 10);
    tmux.keys(&["-l", text]);
    tmux.keys(&["Enter"]);
    let s =
        tmux.wait_for(&[&format!("Most similar to described as \"{text}\""), "(vision-text)", " described as "], 60);
    let titles: Vec<&str> = found["results"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap()).collect();
    // The results in `similar --describe`'s order, each row "rank title score".
    let rows: Vec<usize> = titles
        .iter()
        .map(|t| s.lines().position(|l| l.contains(&format!(" {t} "))).unwrap_or_else(|| panic!("{t} listed: {s}")))
        .collect();
    assert!(rows.windows(2).all(|p| p[0] < p[1]), "ranked as the command line ranks {titles:?}: {s}");
    assert!(
        s.contains(&format!("{} @ ", titles[0])) && (s.contains('▀') || s.contains('▄')),
        "its best frame drawn: {s}"
    );
    tmux.keys(&["l"]);
    tmux.keys(&["-l", "neon lights"]);
    tmux.keys(&["Enter"]);
    // The title cut at a word to fit, the space kept; the words asked beside the frame.
    tmux.wait_for(
        &[
            "Most similar to described as \"dark blue background with neon… (vision-text)",
            "with lyrics \"neon lights\"",
        ],
        60,
    );
    tmux.keys(&["q"]);
}
