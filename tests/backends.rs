//! What a user does through the binary, run on both catalogs (`NAME::embedded`,
//! `NAME::postgres`): ingest with bad files beside good ones, list, export and re-run; search by
//! title, file, image and lyrics, evaluate, train and search the head space; the errors a person
//! meets on an empty library, a typo and a file with no video.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is the failure report

use crate::common::{assets, expect, json, make_audio_only, make_video, random_resnet, song, Backend, Gen};
use crate::on_both;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `library --json`'s rows by title.
fn rows(b: &Backend, lib: &Path) -> Vec<Value> {
    let mut rows = b.library_json(lib);
    rows.sort_by_key(|r| r["title"].as_str().unwrap().to_string());
    rows
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

on_both! {
    /// Good and bad files side by side in a folder with spaces and accents: the bad ones fail
    /// naming the file and why, the rest is listed, exported and, on a re-run, left as it was.
    fn ingest_lists_exports_and_runs_again(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("my vidéos");
        crate::common::two_videos_and_a_broken_file(&media);
        make_audio_only(&media.join("audio only.mp4"), 2.0);
        let fifo = media.join("pipe.mp4");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let config = work.path().join("small.toml");
        std::fs::write(&config, "[sampling]\nframe_short_side = 64\n").unwrap();
        let lib = work.path().join("lib");
        let ingest = || {
            let mut c = backend.cmd(&lib);
            c.arg("--config").arg(&config).arg("ingest").arg(&media);
            c
        };

        let out = expect(&mut ingest(), 2);
        let err = stderr(&out);
        for (file, why) in [("broken.mp4", "not a readable video"), ("audio only.mp4", "no video stream"), ("pipe.mp4", "FIFO")] {
            assert!(err.lines().any(|l| l.contains(file) && l.contains(why)), "{file}: {why}?\n{err}");
        }

        let listed = rows(backend, &lib);
        let titles: Vec<&str> = listed.iter().map(|r| r["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["audio only", "broken", "one", "pipe", "two"]);
        for row in &listed {
            for key in ["id", "title", "path", "duration_s", "sample_fps", "frames_train", "frames_test", "status", "error"] {
                assert!(row.get(key).is_some(), "{key} missing from {row}");
            }
        }
        let row = |t: &str| listed.iter().find(|r| r["title"] == t).unwrap().clone();
        for (title, frames) in [("one", 10), ("two", 6)] {
            let r = row(title);
            assert_eq!(r["status"], "ready", "{r}");
            assert_eq!(r["sample_fps"], 2.0, "{r}");
            assert_eq!(r["frames_train"].as_i64().unwrap() + r["frames_test"].as_i64().unwrap(), frames, "{r}");
            assert_eq!(r["error"], Value::Null);
        }
        assert_eq!(row("one")["frames_train"], 9);
        for title in ["audio only", "broken", "pipe"] {
            let r = row(title);
            assert_eq!(r["status"], "failed", "{r}");
            assert!(!r["error"].as_str().unwrap().is_empty(), "{r}");
        }
        let table = expect(backend.cmd(&lib).arg("--config").arg(&config).arg("library"), 0);
        let table = String::from_utf8_lossy(&table.stdout);
        assert!(table.contains("TRAIN/TEST") && table.contains("9/1") && table.contains("failed"), "{table}");

        let out_dir = work.path().join("export out");
        expect(backend.cmd(&lib).arg("--config").arg(&config).args(["export", "frames"]).arg(&out_dir), 0);
        assert_eq!(files_in(&out_dir.join("train/one")), 9);
        assert_eq!(files_in(&out_dir.join("test/one")), 1);
        assert_eq!(files_in(&out_dir.join("train/two")) + files_in(&out_dir.join("test/two")), 6);
        assert!(!out_dir.join("train/broken").exists());

        // Again: the bad files are tried again and fail again; nothing good is redone or lost.
        let out = expect(&mut ingest(), 2);
        assert!(stderr(&out).contains("broken.mp4"), "{}", stderr(&out));
        let again = rows(backend, &lib);
        for title in ["one", "two"] {
            let (before, after) = (row(title), again.iter().find(|r| r["title"] == title).unwrap().clone());
            assert_eq!(before, after, "{title} is as it was");
        }
        assert_eq!(again.len(), listed.len());
    }
}

/// The flags that point the binary at the test models and a small config.
fn with_models(cmd: &mut Command, resnet: &Path, config: &Path) {
    let m = assets().join("models");
    cmd.arg("--config").arg(config).arg("--image-model").arg(resnet);
    cmd.arg("--speech-model").arg(m.join("whisper-tiny.en")).arg("--text-model").arg(m.join("all-minilm-l6-v2"));
}

/// A work folder for the scenarios that use the models: random ResNet-50 weights, a config of
/// small frames, offline models and `settings`, and the library folder `lib` in it.
struct Setup {
    work: tempfile::TempDir,
    lib: PathBuf,
    resnet: PathBuf,
    config: PathBuf,
}

impl Setup {
    fn new(lib: &str, settings: &str) -> Setup {
        let work = tempfile::tempdir().unwrap();
        let (lib, resnet, config) =
            (work.path().join(lib), work.path().join("resnet"), work.path().join("config.toml"));
        std::fs::create_dir_all(&resnet).unwrap();
        random_resnet(&resnet.join("model.safetensors"));
        let text = format!("[sampling]\nframe_short_side = 64\n[models]\noffline = true\n{settings}");
        std::fs::write(&config, text).unwrap();
        Setup { work, lib, resnet, config }
    }

    /// The binary on the library with `backend`'s catalog and the models.
    fn cmd(&self, backend: &Backend) -> Command {
        let mut c = backend.cmd(&self.lib);
        c.env("HF_HOME", self.work.path().join("hf"));
        with_models(&mut c, &self.resnet, &self.config);
        c
    }
}

/// Runs `cmd` (a `train`), sends it Ctrl-C once its table has a first epoch's row, and returns
/// its output.
fn stop_after_first_epoch(cmd: &mut Command) -> Output {
    use std::io::BufRead;
    let mut child = cmd.stderr(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let first_epoch =
            line.split_whitespace().next() == Some("1") && seen.iter().any(|l: &String| l.starts_with("EPOCH"));
        seen.push(line);
        if first_epoch {
            // SAFETY: a signal to the child this test started and has not yet waited on.
            assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
            break;
        }
    }
    seen.extend(lines.map(Result::unwrap));
    let mut out = child.wait_with_output().unwrap();
    out.stderr = seen.join("\n").into_bytes();
    out
}

/// The titles `similar … --json` ranks, best first.
fn titles(doc: &Value) -> Vec<String> {
    doc["results"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap().to_string()).collect()
}

on_both! {
    /// Four generated songs ingested with the models: each way of asking finds the right song,
    /// `eval` finds the library near-perfect, a trained run's head space answers, and bad
    /// queries are explained.
    fn searches_evaluates_and_trains(backend: &Backend) {
        let setup = Setup::new("lib", "[search.traps]\nset_aside = false\n[train]\nepochs = 200\naugmented_views = 0\n");
        let (work, run) = (&setup.work, || setup.cmd(backend));

        // An empty library is explained, and says how to fill it.
        let err = stderr(&expect(run().args(["similar", "anything"]), 1));
        assert!(err.contains("no ingested videos") && err.contains("ingest"), "{err}");

        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        for (name, source, lyrics) in crate::search::SONGS {
            song(&media, name, lyrics, source, None);
        }
        expect(run().arg("ingest").arg(&media), 0);

        // By title: the other three, with the JSON contract.
        let doc = json(run().args(["similar", "gold", "--json"]));
        assert_eq!(doc["query"], "gold");
        let hits = doc["results"].as_array().unwrap();
        assert_eq!(hits.len(), 3, "{doc}");
        for key in ["rank", "id", "title", "score", "visual", "lyrics", "frames", "lines"] {
            assert!(hits[0].get(key).is_some(), "{key} missing from {}", hits[0]);
        }
        assert!(!titles(&doc).contains(&"gold".to_string()));
        // A video that failed is named with why it cannot be searched with, by title and by id.
        std::fs::write(media.join("broken.mp4"), "garbage").unwrap();
        expect(run().arg("ingest").arg(&media), 2);
        let broken = rows(backend, &setup.lib).into_iter().find(|r| r["title"] == "broken").unwrap();
        for what in ["broken".to_string(), broken["id"].to_string()] {
            let err = stderr(&expect(run().args(["similar", &what]), 1));
            assert!(err.contains("cannot be searched with: its ingestion failed: ") && err.contains("not a readable video"), "{err}");
        }
        std::fs::remove_file(media.join("broken.mp4")).unwrap();
        // Previews into a file: no terminal escapes in it, and a word on why; asked for by
        // name, they are drawn.
        let out = expect(run().args(["similar", "gold", "--preview"]), 0);
        assert!(!out.stdout.contains(&0x1b) && String::from_utf8_lossy(&out.stdout).contains("most similar to gold"));
        assert!(stderr(&out).contains("--preview draws images on a terminal"), "{}", stderr(&out));
        let out = expect(run().args(["--graphics", "halfblocks", "similar", "gold", "--preview"]), 0);
        assert!(out.stdout.contains(&0x1b), "half blocks drawn when asked for by name");

        // By a re-encoded, cropped and brightened excerpt with no audio.
        let excerpt = work.path().join("excerpt.mp4");
        crate::common::excerpt(&media.join("spiral.mp4"), &excerpt);
        let doc = json(run().args(["similar", "--json", "--file"]).arg(&excerpt));
        assert_eq!(titles(&doc)[0], "spiral", "{doc}");

        // By one of a song's own frames, exported.
        let frames = work.path().join("frames");
        expect(run().args(["export", "frames"]).arg(&frames), 0);
        let still: PathBuf = std::fs::read_dir(frames.join("train/cells")).unwrap().next().unwrap().unwrap().path();
        let doc = json(run().args(["similar", "--json", "--image"]).arg(&still));
        assert_eq!(titles(&doc)[0], "cells", "{doc}");

        // By lyrics alone.
        let doc = json(run().args(["similar", "--json", "--visual", "0", "--lyrics-weight", "1", "--lyrics"]).arg(crate::search::SONGS[1].2));
        assert_eq!(titles(&doc)[0], "gold", "{doc}");

        // Evaluation: every song finds itself in the top 5 by its test frames.
        let e = json(run().args(["eval", "--json"]));
        assert_eq!(e["visual"]["queries"], 4, "{e}");
        assert_eq!(e["visual"]["recall_at_5"], 1.0, "{e}");
        assert!(e["fused"]["recall_at_1"].as_f64().unwrap() >= 0.75, "{e}");

        // A run stopped with Ctrl-C after its first epoch, then resumed: listed once, finished,
        // and its head space answers by title.
        let stopped = stop_after_first_epoch(run().args(["train", "--yes"]));
        let err = stderr(&stopped);
        assert_eq!(stopped.status.code(), Some(130), "{err}");
        let id: i64 = err.split("train --resume ").nth(1).map(|t| t.chars().take_while(char::is_ascii_digit).collect::<String>()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{err}"));
        let runs = json(run().args(["runs", "--json"]));
        assert_eq!((runs[0]["run"].as_i64(), runs[0]["status"].as_str()), (Some(id), Some("stopped")), "{runs}");
        let trained = json(run().args(["train", "--resume", &id.to_string(), "--json"]));
        assert_eq!((trained["run"].as_i64(), trained["status"].as_str()), (Some(id), Some("done")), "{trained}");
        assert_eq!((trained["epochs"].as_i64(), trained["classes"].as_i64()), (Some(200), Some(4)), "{trained}");
        let err = stderr(&expect(run().args(["train", "--resume", &id.to_string()]), 1));
        assert!(err.contains("finished"), "{err}");
        let runs = json(run().args(["runs", "--json"]));
        assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
        assert_eq!(runs[0]["run"], trained["run"], "{runs}");
        assert_eq!(runs[0]["status"], "done", "{runs}");
        assert_eq!(runs[0]["active"], true, "{runs}");
        let shown = json(run().args(["runs", "show", &id.to_string(), "--json"]));
        assert_eq!(shown["epochs"].as_array().unwrap().len(), 200, "every epoch's metrics");
        assert!(!shown["steps"].as_array().unwrap().is_empty(), "step losses");
        let png = work.path().join("run.png");
        expect(run().args(["runs", "plot", &id.to_string(), "-o"]).arg(&png), 0);
        let img = image::open(&png).expect("a valid PNG");
        assert_eq!((img.width(), img.height()), (1200, 900));
        let err = stderr(&expect(run().args(["runs", "show", "99"]), 1));
        assert!(err.contains("no run 99"), "{err}");
        let doc = json(run().args(["similar", "rain", "--space", "head", "--json"]));
        assert!(doc["space"].as_str().unwrap().contains("head"), "{doc}");
        assert_eq!(titles(&doc).len(), 3, "{doc}");
        assert_eq!(doc["run"].as_i64(), Some(id), "the run, as a number: {doc}");
        let doc = json(run().args(["similar", "rain", "--space", "backbone", "--json"]));
        assert_eq!((doc["space"].as_str(), &doc["run"]), (Some("backbone"), &Value::Null), "{doc}");

        // What a person gets wrong: a typo, a file with no video, a file that is not an image.
        let err = stderr(&expect(run().args(["similar", "spirl"]), 1));
        assert!(err.contains("did you mean \"spiral\""), "{err}");
        let audio_only = work.path().join("audio only.mp4");
        make_audio_only(&audio_only, 2.0);
        let err = stderr(&expect(run().args(["similar", "--file"]).arg(&audio_only), 1));
        assert!(err.contains("no video stream") && err.contains("audio only.mp4"), "{err}");
        let bad_image = work.path().join("not an image.png");
        std::fs::write(&bad_image, "nope").unwrap();
        let err = stderr(&expect(run().args(["similar", "--image"]).arg(&bad_image), 1));
        assert!(err.contains("cannot decode this image"), "{err}");
    }
}

on_both! {
    /// `demo` headless: the demo clips made, ingested with the models, listed and trained on;
    /// the library it leaves answers in the head space.
    fn demo_makes_a_library_that_answers(backend: &Backend) {
        let setup = Setup::new("démo lib", "[train]\nepochs = 5\naugmented_views = 0\n");
        let (lib, run) = (&setup.lib, || setup.cmd(backend));
        let out = expect(run().arg("demo"), 0);
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(said.contains("making demo clips in") && said.contains("Bars of Gold"), "{said}");
        assert_eq!(files_in(&lib.join("media")), 5, "{said}");
        let runs = json(run().args(["runs", "--json"]));
        assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
        assert_eq!((runs[0]["status"].as_str(), runs[0]["epochs"].as_i64()), (Some("done"), Some(5)), "{runs}");
        let doc = json(run().args(["similar", "Bars of Gold", "--json"]));
        assert!(doc["space"].as_str().unwrap().contains("head"), "{doc}");
        let found = titles(&doc);
        assert_eq!(found.len(), 4, "the other demo songs: {doc}");
        assert!(found.iter().all(|t| t != "Bars of Gold"), "{doc}");
        if backend.is_postgres() {
            assert!(said.contains("demo catalog: "), "{said}");
        }
    }
}

on_both! {
    /// Augmented views through the binary: a computation longer than the set limit asks first
    /// (exit 1, naming `train --yes`), Ctrl-C while the views are computed exits 130 and says how
    /// to go on, and `train --yes` then trains.
    fn augmented_views_ask_first_and_a_ctrl_c_stops_them(backend: &Backend) {
        let setup = Setup::new(
            "lib",
            "[train]\nepochs = 2\nbatch_size = 8\naugmented_views = 3\nviews_ask_over_minutes = 0.00001\n",
        );
        let (work, run) = (&setup.work, || setup.cmd(backend));
        let media = work.path().join("media");
        crate::common::three_clips(&media);
        expect(run().arg("ingest").arg(&media), 0);

        let err = stderr(&expect(run().arg("train").stdin(std::process::Stdio::null()), 1));
        assert!(err.contains("augmented views") && err.contains("reelmatch train --yes"), "{err}");

        // More views than the three clips' frames take in a moment; stopped once they started.
        let settings = std::fs::read_to_string(&setup.config).unwrap().replace("augmented_views = 3", "augmented_views = 12");
        std::fs::write(&setup.config, settings).unwrap();
        let err_file = work.path().join("train.err");
        let mut child = run()
            .args(["train", "--yes"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err_file).unwrap())
            .spawn()
            .unwrap();
        let read = || std::fs::read_to_string(&err_file).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !read().contains("augmented view") {
            assert!(child.try_wait().unwrap().is_none(), "{}", read());
            assert!(std::time::Instant::now() < deadline, "no augmented views started: {}", read());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: kill(2) on our own child, not yet waited on.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "a stopped train exits 130: {}", read());
        assert!(read().contains("run the same command again"), "{}", read());

        let trained = json(run().args(["train", "--yes", "--json"]));
        assert_eq!((trained["status"].as_str(), trained["classes"].as_i64()), (Some("done"), Some(3)), "{trained}");
        assert!(trained["augmented_frames"].as_i64().unwrap() > 0, "{trained}");
        let runs = json(run().args(["runs", "--json"]));
        assert!(runs.as_array().unwrap().iter().any(|r| r["run"] == trained["run"] && r["status"] == "done"), "{runs}");
    }
}

on_both! {
    /// A second ingest after files were renamed, changed and deleted: the renamed one keeps its
    /// id and frames (not ingested again), the changed one is ingested again under its id, and
    /// the deleted one is marked missing with its frames kept (and exported).
    fn renamed_changed_and_missing_files(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let m = work.path().join("media");
        std::fs::create_dir_all(&m).unwrap();
        make_video(&m.join("a.mp4"), Gen { seconds: 5.0, ..Gen::default() });
        make_video(&m.join("b.mp4"), Gen { source: "mandelbrot", seconds: 3.0, ..Gen::default() });
        make_video(&m.join("c.mp4"), Gen { source: "smptebars", seconds: 3.0, ..Gen::default() });
        let lib = work.path().join("lib");
        let ingest = || expect(backend.cmd(&lib).arg("ingest").arg(&m), 0);
        ingest();
        let before = rows(backend, &lib);
        let row = |rows: &[Value], title: &str| rows.iter().find(|r| r["title"] == title).unwrap_or_else(|| panic!("no {title} in {rows:?}")).clone();
        let (a, b, c) = (row(&before, "a"), row(&before, "b"), row(&before, "c"));

        std::fs::create_dir_all(m.join("moved")).unwrap();
        std::fs::rename(m.join("a.mp4"), m.join("moved/a renamed.mp4")).unwrap();
        make_video(&m.join("b.mp4"), Gen { source: "testsrc2", seconds: 7.0, ..Gen::default() });
        std::fs::remove_file(m.join("c.mp4")).unwrap();
        let err = stderr(&ingest());

        let after = rows(backend, &lib);
        assert_eq!(after.len(), 3, "no video added twice: {after:#?}\n{err}");
        let frames = |r: &Value| r["frames_train"].as_i64().unwrap() + r["frames_test"].as_i64().unwrap();
        let a2 = row(&after, "a renamed");
        assert_eq!((&a2["id"], frames(&a2), a2["status"].as_str()), (&a["id"], frames(&a), Some("ready")), "{a2}");
        assert!(a2["path"].as_str().unwrap().ends_with("moved/a renamed.mp4"), "{a2}");
        let b2 = row(&after, "b");
        assert_eq!(b2["id"], b["id"]);
        assert_ne!(b2["content_hash"], b["content_hash"], "{b2}");
        assert_eq!((frames(&b2), b2["status"].as_str()), (14, Some("ready")), "7 s at 2 fps after the change: {b2}");
        let c2 = row(&after, "c");
        assert_eq!((c2["status"].as_str(), frames(&c2)), (Some("missing"), frames(&c)), "nothing deleted: {c2}");
        for (file, said) in [("a renamed.mp4", "renamed"), ("b.mp4", "changed"), ("c.mp4", "missing")] {
            assert!(err.lines().any(|l| l.contains(file) && l.contains(said)), "{file}: {said}?\n{err}");
        }
        // Its frames are still exported (on PostgreSQL from this machine's copy, which takes
        // the missing video too).
        let out = work.path().join("frames out");
        expect(backend.cmd(&lib).args(["export", "frames"]).arg(&out), 0);
        let exported = files_in(&out.join("train/c")) + files_in(&out.join("test/c"));
        assert_eq!(exported as i64, frames(&c), "the missing video's frames are kept and exported");

        // The deleted file comes back (the same bytes, made again): ready again under its id.
        make_video(&m.join("c.mp4"), Gen { source: "smptebars", seconds: 3.0, ..Gen::default() });
        ingest();
        let c3 = row(&rows(backend, &lib), "c");
        assert_eq!((&c3["id"], c3["status"].as_str(), frames(&c3)), (&c["id"], Some("ready"), frames(&c)), "{c3}");
    }
}

on_both! {
    /// The train/test split follows `[split]`: two contiguous test blocks of a tenth, the same
    /// on another ingest, and a random tenth with `method = "random"` (read back from the frames
    /// `export frames` writes, named by their index).
    fn splits_follow_the_config(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        make_video(&media.join("long.mp4"), Gen { seconds: 50.0, size: "32x32", tone_hz: None, ..Gen::default() });
        let test_frames = |name: &str, split: &str| -> Vec<usize> {
            let (lib, config, out) = (work.path().join(name), work.path().join(format!("{name}.toml")), work.path().join(format!("{name}.out")));
            std::fs::write(&config, format!("[split]\n{split}\n")).unwrap();
            // Each its own catalog: on PostgreSQL the same file would be the one video of a
            // shared catalog, ingested once.
            let catalog = backend.new_catalog(name);
            let cmd = || {
                let mut c = crate::common::bin();
                c.arg("--library").arg(&lib).args(&catalog);
                c
            };
            expect(cmd().arg("--config").arg(&config).arg("ingest").arg(&media), 0);
            expect(cmd().args(["export", "frames"]).arg(&out), 0);
            let index = |split: &str| -> Vec<usize> {
                let files = std::fs::read_dir(out.join(split).join("long")).unwrap();
                let mut idx: Vec<usize> = files.map(|f| f.unwrap().path().file_stem().unwrap().to_str().unwrap().parse().unwrap()).collect();
                idx.sort();
                idx
            };
            assert_eq!(index("train").len() + index("test").len(), 100, "50 s at 2 fps");
            index("test")
        };
        let blocks = test_frames("blocks", "method = \"blocks\"\ntest_blocks = 2");
        assert_eq!(blocks.len(), 10, "{blocks:?}");
        let starts = blocks.windows(2).filter(|w| w[1] != w[0] + 1).count() + 1;
        assert!(starts <= 2, "two contiguous test blocks: {blocks:?}");
        assert_eq!(blocks, test_frames("again", "method = \"blocks\"\ntest_blocks = 2"), "deterministic");
        let random = test_frames("random", "method = \"random\"");
        assert_eq!(random.len(), 10, "{random:?}");
        assert_ne!(random, blocks);
    }
}

on_both! {
    /// A library folder inside the folder it ingests is not ingested itself (a worker's own
    /// folder too): a second run finds one video, up to date.
    fn a_library_inside_the_scanned_folder_is_left_out(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        make_video(&media.join("x.mp4"), Gen { seconds: 2.0, ..Gen::default() });
        let lib = media.join("lib");
        for _ in 0..2 {
            expect(backend.cmd(&lib).arg("ingest").arg(&media), 0);
            let listed = rows(backend, &lib);
            assert_eq!(listed.len(), 1, "{listed:?}");
            assert_eq!(listed[0]["status"], "ready");
        }
    }
}

on_both! {
    /// A title that fits two videos is refused naming both; the exact one answers.
    fn ambiguous_titles_are_explained(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("m");
        std::fs::create_dir_all(&media).unwrap();
        make_video(&media.join("Starboy.mp4"), Gen { seconds: 2.0, ..Gen::default() });
        make_video(&media.join("Starboy (Live).mp4"), Gen { source: "smptebars", seconds: 2.0, ..Gen::default() });
        let setup = Setup::new("lib", "");
        expect(setup.cmd(backend).arg("ingest").arg(&media), 0);
        let err = stderr(&expect(setup.cmd(backend).args(["similar", "star"]), 1));
        assert!(err.contains("several videos") && err.contains("Starboy (Live)"), "{err}");
        let doc = json(setup.cmd(backend).args(["similar", "Starboy", "--json"]));
        assert_eq!(titles(&doc), ["Starboy (Live)"], "{doc}");
    }
}

on_both! {
    /// A file whose name is not UTF-8 (Latin-1 `Café.mp4` from an old system: Linux paths are
    /// bytes) is ingested, listed with its path escaped, searched like any other, and a re-run
    /// finds it where it is (never "missing" or "renamed").
    fn a_file_name_that_is_not_utf8_is_ingested_listed_and_searched(backend: &Backend) {
        use std::os::unix::ffi::OsStringExt;
        let setup = Setup::new("lib", "");
        let media = setup.work.path().join("old disk");
        std::fs::create_dir_all(&media).unwrap();
        let latin1 = media.join(std::ffi::OsString::from_vec(b"Caf\xe9.mp4".to_vec()));
        make_video(&latin1, Gen { source: "mandelbrot", ..Gen::default() });
        make_video(&media.join("plain.mp4"), Gen { source: "smptebars", ..Gen::default() });
        expect(setup.cmd(backend).arg("ingest").arg(&media), 0);
        let listed = rows(backend, &setup.lib);
        assert_eq!(listed.len(), 2, "{listed:?}");
        let cafe = listed.iter().find(|r| r["path"].as_str().unwrap().ends_with("Caf\\xe9.mp4")).unwrap_or_else(|| panic!("{listed:?}"));
        assert!(cafe["path"].as_str().unwrap().starts_with("bytes:/"), "{cafe}");
        assert_eq!(cafe["status"], "ready", "{cafe}");
        let found = json(setup.cmd(backend).args(["similar", "plain", "--json"]));
        assert_eq!(titles(&found), [cafe["title"].as_str().unwrap()], "{found}");
        let again = expect(setup.cmd(backend).arg("ingest").arg(&media), 0);
        assert!(!stderr(&again).contains("renamed") && !stderr(&again).contains("missing"), "{}", stderr(&again));
        assert_eq!(rows(backend, &setup.lib), listed, "as it was");
    }
}

/// A song over `picture` (a lavfi source), see `reelmatch::demo::make_tune_video`.
fn tune_video(path: &Path, seconds: u32, base_hz: u32, step: f64, picture: &str) {
    let picture = format!("{picture}=size=96x64:rate=10");
    reelmatch::demo::make_tune_video("ffmpeg", path, seconds, base_hz, step, &picture).unwrap();
}

/// A folder of a 60 s song over `testsrc2` (`Whole`), another song (`Other`), and `cut`: 12 s of
/// the first taken at 17 s, with ffmpeg's output options `extra` (`-an`: without its sound).
fn song_other_and_cut(setup: &Setup, cut: &str, extra: &[&str]) -> PathBuf {
    let media = setup.work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    tune_video(&media.join("Whole.mp4"), 60, 220, 7.31, "testsrc2");
    tune_video(&media.join("Other.mp4"), 40, 196, 5.17, "smptebars");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-ss", "17", "-t", "12", "-i"])
        .arg(media.join("Whole.mp4"))
        .args(extra)
        .arg(media.join(format!("{cut}.mp4")))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    media
}

on_both! {
    /// A 12-second cut of a song, ingested beside it: `similar` on the cut says the song holds it
    /// as an excerpt 17 s in, and the other way round that the cut starts 17 s into the song, by
    /// their audio fingerprints (made at ingest and kept in the catalog); an unrelated song has
    /// no relation.
    fn similar_says_an_excerpt_is_cut_from_its_song_at_its_offset(backend: &Backend) {
        let setup = Setup::new("lib", "");
        let media = song_other_and_cut(&setup, "Cut", &[]);
        expect(setup.cmd(backend).arg("ingest").arg(&media), 0);
        let found = json(setup.cmd(backend).args(["similar", "Cut", "--json"]));
        let hit = |doc: &Value, title: &str| {
            doc["results"].as_array().unwrap().iter().find(|h| h["title"] == title).cloned().unwrap_or_else(|| panic!("{doc}"))
        };
        let whole = hit(&found, "Whole");
        assert_eq!(whole["relation"]["relation"], "excerpt", "{whole}");
        assert_eq!(whole["relation"]["placed"], true, "{whole}");
        assert!((whole["relation"]["offset_s"].as_f64().unwrap() - 17.0).abs() <= 1.0, "{whole}");
        assert_eq!(hit(&found, "Other")["relation"], Value::Null, "{found}");
        let back = json(setup.cmd(backend).args(["similar", "Whole", "--json"]));
        let cut = hit(&back, "Cut");
        assert_eq!(cut["relation"]["relation"], "excerpt", "{cut}");
        assert!((cut["relation"]["offset_s"].as_f64().unwrap() + 17.0).abs() <= 1.0, "{cut}");
        let table = String::from_utf8(expect(setup.cmd(backend).args(["similar", "Cut"]), 0).stdout).unwrap();
        assert!(table.contains("excerpt: the query is 1") && table.contains(" s into it"), "{table}");
        // dupes lists the pair as an excerpt, whatever their frames' averaged score, and says
        // which is in which; --relation same_song lists none here.
        let pairs = json(setup.cmd(backend).args(["dupes", "--json"]));
        let pair = pairs
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["relation"]["relation"] == "excerpt")
            .unwrap_or_else(|| panic!("{pairs}"));
        let sign = if pair["a_title"] == "Cut" { 1.0 } else { -1.0 };
        assert_eq!([&pair["a_title"], &pair["b_title"]].iter().filter(|t| **t == "Cut" || **t == "Whole").count(), 2, "{pair}");
        assert!((pair["relation"]["offset_s"].as_f64().unwrap() - sign * 17.0).abs() <= 1.0, "{pair}");
        assert_eq!(json(setup.cmd(backend).args(["dupes", "--relation", "same_song", "--json"])), serde_json::json!([]));
        let table = String::from_utf8(expect(setup.cmd(backend).args(["dupes"]), 0).stdout).unwrap();
        assert!(table.contains("[excerpt: Cut is 1") && table.contains(" s into Whole]"), "{table}");
        // A clip file outside the library is found in the video it was cut from, as far in.
        let clip = setup.work.path().join("clip from elsewhere.mp4");
        std::fs::copy(media.join("Cut.mp4"), &clip).unwrap();
        let from_file = json(setup.cmd(backend).arg("similar").arg("--file").arg(&clip).arg("--json"));
        let whole = hit(&from_file, "Whole");
        assert_eq!(whole["relation"]["relation"], "excerpt", "{from_file}");
        assert!((whole["relation"]["offset_s"].as_f64().unwrap() - 17.0).abs() <= 1.0, "{whole}");
    }
}

on_both! {
    /// One notion of a duplicate, on a silent cut: 12 s of a song's video without its sound, so
    /// only its frames can tell. `similar` either way finds the cut in the song along one time
    /// line (an excerpt 17 s in, by frames) and flags it a duplicate; `dupes` lists the same
    /// pair with the same relation; an unrelated song is neither. Once the pair is marked not
    /// duplicates, neither `dupes` nor `similar`'s flag calls it one.
    fn a_silent_cut_is_a_duplicate_by_its_frames_for_similar_and_dupes(backend: &Backend) {
        let setup = Setup::new("lib", "");
        let media = song_other_and_cut(&setup, "Silent cut", &["-an"]);
        expect(setup.cmd(backend).arg("ingest").arg(&media), 0);
        let hit = |doc: &Value, title: &str| {
            doc["results"].as_array().unwrap().iter().find(|h| h["title"] == title).cloned().unwrap_or_else(|| panic!("{doc}"))
        };
        let found = json(setup.cmd(backend).args(["similar", "Silent cut", "--json"]));
        let whole = hit(&found, "Whole");
        assert_eq!((&whole["relation"]["relation"], &whole["relation"]["by"]), (&serde_json::json!("excerpt"), &serde_json::json!("frames")), "{whole}");
        assert!((whole["relation"]["offset_s"].as_f64().unwrap() - 17.0).abs() <= 1.0, "{whole}");
        assert_eq!(whole["duplicate"], true, "{whole}");
        assert_eq!(hit(&found, "Other")["duplicate"], false, "{found}");
        let back = json(setup.cmd(backend).args(["similar", "Whole", "--json"]));
        let cut = hit(&back, "Silent cut");
        assert_eq!((&cut["relation"]["relation"], &cut["duplicate"]), (&serde_json::json!("excerpt"), &serde_json::json!(true)), "{cut}");
        assert!((cut["relation"]["offset_s"].as_f64().unwrap() + 17.0).abs() <= 1.0, "{cut}");
        let table = String::from_utf8(expect(setup.cmd(backend).args(["similar", "Silent cut"]), 0).stdout).unwrap();
        assert!(table.contains("(the same frames for "), "{table}");
        // dupes: the same pair, the same relation, and nothing with the other song.
        let pairs = json(setup.cmd(backend).args(["dupes", "--json"]));
        let listed: Vec<_> = pairs.as_array().unwrap().iter().collect();
        assert_eq!(listed.len(), 1, "{pairs}");
        let names = [listed[0]["a_title"].as_str().unwrap(), listed[0]["b_title"].as_str().unwrap()];
        assert!(names.contains(&"Whole") && names.contains(&"Silent cut"), "{pairs}");
        assert_eq!((&listed[0]["relation"]["relation"], &listed[0]["relation"]["by"]), (&serde_json::json!("excerpt"), &serde_json::json!("frames")));
        // Marked not duplicates (the dashboard's `x` makes the same decision): no longer one.
        expect(setup.cmd(backend).args(["dupes", "--not-duplicate", "Whole", "Silent cut"]), 0);
        assert_eq!(json(setup.cmd(backend).args(["dupes", "--json"])), serde_json::json!([]));
        let found = json(setup.cmd(backend).args(["similar", "Silent cut", "--json"]));
        assert_eq!(hit(&found, "Whole")["duplicate"], false, "{found}");
        assert_eq!(hit(&found, "Whole")["relation"]["relation"], "excerpt", "the relation stays: only the flag follows the decision");
    }
}
