//! Around a result from the command line: `similar --in` (a folder), `--m3u` (a playlist),
//! `--play N` (a stand-in player on PATH records how it was started), `dupes` decisions kept
//! in the catalog, and `library` saying which frames search sets aside; on both catalogs.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use crate::on_both;
use common::{bin, make_video, random_resnet, Backend, Gen};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

struct Fixture {
    _work: tempfile::TempDir,
    /// `--catalog URL` on PostgreSQL; nothing on the embedded catalog.
    catalog: Vec<String>,
    lib: PathBuf,
    config: PathBuf,
    media: PathBuf,
    work: PathBuf,
}

fn fixture(backend: &Backend) -> Fixture {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("my media");
    std::fs::create_dir_all(media.join("sub")).unwrap();
    let clip = |path: PathBuf, source| make_video(&path, Gen { source, seconds: 4.0, tone_hz: None, ..Gen::default() });
    clip(media.join("Bars.mp4"), "smptebars");
    clip(media.join("sub/Spiral.mp4"), "mandelbrot");
    clip(media.join("sub/Pattern.mp4"), "testsrc2");
    clip(media.join("Dark.mp4"), "color"); // black: the source's default colour
    let weights = work.path().join("resnet");
    std::fs::create_dir_all(&weights).unwrap();
    random_resnet(&weights.join("model.safetensors"));
    let config = work.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[sampling]\nframe_short_side = 64\n[models]\noffline = true\n[models.image]\npath = {:?}\n", weights),
    )
    .unwrap();
    let lib = work.path().join("lib");
    let f = Fixture {
        lib,
        config,
        catalog: backend.catalog_args(),
        media: media.canonicalize().unwrap(),
        work: work.path().to_path_buf(),
        _work: work,
    };
    let out = f.run(&["ingest", &f.media.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    f
}

impl Fixture {
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = bin();
        cmd.arg("--library").arg(&self.lib).args(&self.catalog).arg("--config").arg(&self.config).args(args);
        cmd.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn titles(results: &Value) -> Vec<String> {
    results["results"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap().to_string()).collect()
}

/// A stand-in `mpv` in its own folder, writing its arguments (one per line) to `log`.
fn stub_player(dir: &Path, log: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("mpv");
    std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n", log.display())).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir.to_path_buf()
}

on_both! {
    /// Each way around a result, and the frames set aside, through the binary.
    fn scope_playlist_player_decisions_and_set_aside_frames(backend: &Backend) {
        let f = fixture(backend);

        // --in: only videos under the folder are ranked; the black clip's frames say nothing at all.
        let all = f.json(&["similar", "Spiral", "--json"]);
        let mut got = titles(&all);
        got.sort();
        assert_eq!(got, ["Bars", "Pattern"], "Dark has no frame left to match");
        let sub = f.media.join("sub").display().to_string();
        assert_eq!(titles(&f.json(&["similar", "Spiral", "--in", &sub, "--json"])), ["Pattern"]);
        let out = f.run(&["similar", "Spiral", "--in", "/no/such/folder"]);
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no such folder"));
        let out = f.run(&["similar", "Dark"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("set aside"), "{stderr}");
        let table = String::from_utf8_lossy(&f.run(&["library"]).stdout).into_owned();
        let dark = table.lines().find(|l| l.contains("Dark")).unwrap();
        assert!(dark.contains("frame(s) set aside") && dark.contains("flat or black"), "{table}");
        let rows: Value = f.json(&["library", "--json"]);
        let dark = rows.as_array().unwrap().iter().find(|r| r["title"] == "Dark").unwrap();
        assert_eq!(dark["set_aside"]["flat"], dark["frames_embedded"], "{dark}");

        // --m3u: the ranking as extended M3U, in rank order, with absolute paths.
        let list = f.work.join("lists/spiral.m3u");
        let ranked = f.json(&["similar", "Spiral", "--m3u", &list.display().to_string(), "--json"]);
        let m3u = std::fs::read_to_string(&list).unwrap();
        let mut expected = String::from("#EXTM3U\n#PLAYLIST:reelmatch: most similar to Spiral\n");
        for t in titles(&ranked) {
            let path = if t == "Pattern" { f.media.join("sub/Pattern.mp4") } else { f.media.join(format!("{t}.mp4")) };
            expected.push_str(&format!("#EXTINF:4,{t}\n{}\n", path.display()));
        }
        assert_eq!(m3u, expected);

        // --play N: the player on PATH, started at the matched moment, in the terminal (no display).
        let log = f.work.join("played.txt");
        let bin_dir = stub_player(&f.work.join("stub bin"), &log);
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
        let out =
            f.command(&["--graphics", "kitty", "similar", "Spiral", "--play", "1"]).env("PATH", &path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let args: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
        let best = &ranked["results"][0];
        let start = best["frames"]
            .as_array()
            .unwrap()
            .iter()
            .max_by(|a, b| a["similarity"].as_f64().unwrap().total_cmp(&b["similarity"].as_f64().unwrap()));
        let start = start.unwrap()["match_t"].as_f64().unwrap();
        assert_eq!(args[0], format!("--start={start:.2}"));
        assert!(args[1].starts_with(&format!("--title=reelmatch: {}", best["title"].as_str().unwrap())), "{args:?}");
        assert_eq!(args[2..4], ["--vo=kitty", "--really-quiet"]);
        assert_eq!(args[4], "--");
        assert!(args[5].ends_with(&format!("{}.mp4", best["title"].as_str().unwrap())), "{args:?}");
        let out = f.command(&["similar", "Spiral", "--play", "1"]).env("PATH", f.work.join("empty")).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("no video player") && stderr.contains("install mpv"), "{stderr}");
        let out = f.command(&["similar", "Spiral", "--play", "9"]).env("PATH", &path).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("there are only 2 result(s)"));

        // dupes: a pair marked not duplicates is hidden from then on, until the mark is undone.
        let pairs = |extra: &[&str]| {
            let mut args = vec!["dupes", "--threshold", "-1", "--json"];
            args.extend_from_slice(extra);
            f.json(&args).as_array().unwrap().clone()
        };
        assert_eq!(pairs(&[]).len(), 3, "three videos with frames left: three pairs");
        let out = f.run(&["dupes", "--not-duplicate", "Bars", "Spiral"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("not duplicates"), "{out:?}");
        let left = pairs(&[]);
        assert_eq!(left.len(), 2);
        let pair = |p: &Value| [p["a_title"].as_str().unwrap().to_string(), p["b_title"].as_str().unwrap().to_string()];
        assert!(left.iter().all(|p| pair(p) != ["Bars", "Spiral"] && pair(p) != ["Spiral", "Bars"]), "{left:?}");
        let text = String::from_utf8_lossy(&f.run(&["dupes", "--threshold", "-1"]).stdout).into_owned();
        assert!(text.contains("1 pair(s) marked not duplicates are hidden"), "{text}");
        let every = pairs(&["--all"]);
        assert_eq!(every.iter().filter(|p| p["not_duplicate"] == true).count(), 1);
        f.run(&["dupes", "--undo", "Spiral", "Bars"]);
        assert_eq!(pairs(&[]).len(), 3, "undone");
    }
}
