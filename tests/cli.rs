//! The `reelmatch` binary as a user or a script drives it: exit codes, JSON contract, config
//! errors, export, and resuming after the process is killed mid-ingest.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use crate::on_both;
use common::{bin, library_json, make_video, Gen};
use reelmatch::catalog::Catalog;
use reelmatch::Library;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn small_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("test config.toml");
    std::fs::write(&path, format!("[sampling]\nframe_short_side = 64\n{extra}")).unwrap();
    path
}

#[test]
fn ingest_library_json_and_export() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("my vidéos");
    common::two_videos_and_a_broken_file(&media);
    let lib = work.path().join("lib");
    let cfg = small_config(work.path(), "");

    let out = bin().arg("--library").arg(&lib).arg("--config").arg(&cfg).arg("ingest").arg(&media).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "some files failed → exit 2: {stderr}");
    assert!(stderr.contains("broken.mp4") && stderr.contains("not a readable video"), "{stderr}");
    // Each stage's pace, per video and for the whole ingest (no image model here: sampling only).
    assert!(stderr.contains("] frames ") && stderr.contains(" frames/s"), "{stderr}");
    assert!(stderr.contains("pace per stage: frames "), "{stderr}");

    let rows = library_json(&lib);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        for key in ["id", "title", "path", "duration_s", "sample_fps", "frames_train", "frames_test", "status", "error"]
        {
            assert!(row.get(key).is_some(), "field {key} missing from {row}");
        }
    }
    let one = rows.iter().find(|r| r["title"] == "one").unwrap();
    assert_eq!(one["status"], "ready");
    assert_eq!(one["error"], Value::Null);
    assert_eq!(one["sample_fps"], 2.0);
    assert_eq!(one["frames_train"].as_i64().unwrap() + one["frames_test"].as_i64().unwrap(), 10);
    let broken = rows.iter().find(|r| r["title"] == "broken").unwrap();
    assert_eq!(broken["status"], "failed");
    assert!(broken["error"].as_str().unwrap().contains("not a readable video"));

    let table = bin().arg("--library").arg(&lib).arg("library").output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("TRAIN/TEST") && table.contains("9/1") && table.contains("failed"), "{table}");

    let out_dir = work.path().join("export out");
    let out = bin()
        .arg("--library")
        .arg(&lib)
        .args(["export", "frames", "--layout", "imagefolder"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let count = |p: &Path| std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0);
    assert_eq!(count(&out_dir.join("train/one")), 9);
    assert_eq!(count(&out_dir.join("test/one")), 1);
    assert_eq!(count(&out_dir.join("train/two")) + count(&out_dir.join("test/two")), 6);
}

#[test]
fn config_errors_quote_the_key_and_value() {
    let work = tempfile::tempdir().unwrap();
    let lib = work.path().join("lib");
    for (text, words) in [
        ("[sampling]\nshort_fsp = 2.0\n", "unknown key `sampling.short_fsp` (= 2.0)"),
        ("[sampling]\nshort_fps = -1\n", "`sampling.short_fps` = -1"),
        ("[split]\nmethod = \"stripes\"\n", "`split.method` = \"stripes\" should be one of: blocks, random"),
    ] {
        let cfg = work.path().join("bad.toml");
        std::fs::write(&cfg, text).unwrap();
        let out = bin().arg("--library").arg(&lib).arg("--config").arg(&cfg).arg("library").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(words) && stderr.contains("bad.toml"), "{stderr}");
    }
    let out = bin().arg("--library").arg(&lib).args(["--preset", "nope", "library"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown preset `nope`; known presets: paper"));
}

on_both! {
    /// Without ffmpeg on the PATH, ingest stops before it starts, says how to install it and
    /// blames no video (on a shared catalog, no video is failed for every machine); with it,
    /// the same command ingests.
    fn missing_ffmpeg_on_path_is_explained(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        make_video(&media.join("song.mp4"), Gen { seconds: 2.0, ..Gen::default() });
        let (lib, empty) = (work.path().join("lib"), work.path().join("no tools"));
        std::fs::create_dir_all(&empty).unwrap();
        let out = backend.cmd(&lib).env("PATH", &empty).arg("ingest").arg(&media).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("was not found") && stderr.contains("apt-get install ffmpeg"), "{stderr}");
        let rows = backend.library_json(&lib);
        assert!(rows.iter().all(|r| r["status"] != "failed"), "no video is to blame: {rows:?}");

        let out = backend.cmd(&lib).arg("ingest").arg(&media).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rows = backend.library_json(&lib);
        assert_eq!((rows.len(), rows[0]["status"].as_str()), (1, Some("ready")), "{rows:?}");
    }
}

#[test]
fn killed_mid_ingest_resumes_with_each_frame_once() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    for (i, source) in ["testsrc2", "smptebars", "mandelbrot"].iter().enumerate() {
        make_video(
            &media.join(format!("v{i}.mp4")),
            Gen { source, seconds: 90.0, size: "320x240", rate: 5, ..Gen::default() },
        );
    }
    let lib_dir = work.path().join("lib");
    let cfg = small_config(work.path(), "[ingest]\nconcurrency = 1\n");
    let mut child = bin()
        .arg("--library")
        .arg(&lib_dir)
        .arg("--config")
        .arg(&cfg)
        .arg("ingest")
        .arg(&media)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the second video is part-way through its frames.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = std::fs::read_dir(lib_dir.join("frames/2")).map(|d| d.count()).unwrap_or(0);
        if n >= 20 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "ingest finished before it could be interrupted");
        assert!(Instant::now() < deadline, "ingest made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The catalog is consistent: complete videos have all their frames, the interrupted one none.
    let lib = Library::open(&lib_dir).unwrap();
    let cat = Catalog::open(&lib.catalog_path()).unwrap();
    let interrupted: Vec<_> = cat.videos().unwrap();
    for v in &interrupted {
        let n = v.frames_train + v.frames_test;
        assert!(n == 0 || n == 180, "{}: {n} frames is a partial set", v.title);
    }
    assert!(interrupted.iter().any(|v| v.frames_train + v.frames_test == 0), "the kill landed mid-video");

    let out =
        bin().arg("--library").arg(&lib_dir).arg("--config").arg(&cfg).arg("ingest").arg(&media).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("up to date"), "{stderr}");
    for v in cat.videos().unwrap() {
        let frames = cat.frames(v.id).unwrap();
        assert_eq!(frames.len(), 180, "{}", v.title);
        let idx: Vec<i64> = frames.iter().map(|f| f.idx).collect();
        assert_eq!(idx, (0..180).collect::<Vec<_>>(), "each frame exactly once, in order");
        let on_disk = std::fs::read_dir(lib.frames_dir(v.id)).unwrap().count();
        assert_eq!(on_disk, 180, "no stray frame files for {}", v.title);
        assert_eq!(v.status, reelmatch::catalog::Status::Ready);
    }
}

#[test]
fn transcribe_and_embed_print_their_json_contracts() {
    let models = common::assets().join("models");
    let work = tempfile::tempdir().unwrap();
    let wav = work.path().join("sung line.wav");
    let status = std::process::Command::new("espeak-ng")
        .args(["-w"])
        .arg(&wav)
        .arg("Hold me close and never let me go")
        .status()
        .unwrap();
    assert!(status.success());
    let lib = work.path().join("lib");
    let out = bin()
        .arg("--library")
        .arg(&lib)
        .arg("--speech-model")
        .arg(models.join("whisper-tiny.en"))
        .arg("transcribe")
        .arg(&wav)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["language"], "en");
    let seg = &doc["segments"][0];
    for key in [
        "id",
        "seek",
        "start",
        "end",
        "text",
        "tokens",
        "temperature",
        "avg_logprob",
        "compression_ratio",
        "no_speech_prob",
    ] {
        assert!(seg.get(key).is_some(), "segment field {key} missing: {seg}");
    }
    assert!(seg["text"].as_str().unwrap().to_lowercase().contains("close"), "{seg}");

    let out = bin()
        .arg("--library")
        .arg(&lib)
        .arg("--text-model")
        .arg(models.join("all-minilm-l6-v2"))
        .args(["embed", "text", "I can't feel my face", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["dim"], 384);
    assert_eq!(doc["vector"].as_array().unwrap().len(), 384);
    assert!(doc["model"].as_str().unwrap().contains("all-minilm-l6-v2"));

    // Offline with no image weights anywhere: a clear error naming the role and the three ways.
    let out = bin()
        .env("HF_HOME", work.path().join("empty-hf"))
        .current_dir(work.path())
        .arg("--library")
        .arg(&lib)
        .args(["--offline", "embed", "image"])
        .arg(&wav)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("image model") && stderr.contains("--image-model") && stderr.contains("models fetch"),
        "{stderr}"
    );
}

/// A reader that goes away (`reelmatch library | head -1`): the command ends quietly with 141,
/// never a panic. The pipe's read end is closed before the command starts, so its first line
/// meets the closed pipe whatever the timing.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let work = tempfile::tempdir().unwrap();
    for args in [&["library"][..], &["library", "--json"], &["runs"], &["completions", "bash"], &["manpage"]] {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: pipe() just opened both; each is owned once here.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let out = bin()
            .arg("--library")
            .arg(work.path())
            .args(args)
            .stdout(std::process::Stdio::from(write))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(reelmatch::cli::EXIT_CLOSED_PIPE), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A password in `REELMATCH_CATALOG` is never shown by `--help` (clap would print the value of
/// every environment variable an option reads).
#[test]
fn help_never_prints_the_catalogs_password() {
    for args in [&["--help"][..], &["similar", "--help"], &["library", "--help"]] {
        let out = bin().args(args).env("REELMATCH_CATALOG", "postgres://me:SECRET@127.0.0.1:1/lib").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("REELMATCH_CATALOG") && !text.contains("SECRET"), "{args:?}: {text}");
    }
}

/// File names that carry terminal escapes (`ESC ] 0 ; … BEL` sets a terminal's title, `ESC [ 2 J`
/// clears its screen) are printed with the escapes made visible by ingest, `library`, `similar`
/// and the errors they give, never sent to the terminal.
#[test]
fn escapes_in_file_names_never_reach_the_terminal() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let title = "\u{1b}]0;PWNED\u{7}clip";
    make_video(&media.join(format!("{title}.mp4")), Gen { seconds: 2.0, ..Gen::default() });
    make_video(&media.join("\u{1b}[2Jother.mp4"), Gen { seconds: 2.0, ..Gen::default() });
    let lib = work.path().join("lib");
    let cfg = small_config(work.path(), "");
    let run = |args: &[&str]| {
        let out = bin().arg("--library").arg(&lib).arg("--config").arg(&cfg).args(args).output().unwrap();
        (out.status.code(), [out.stdout, out.stderr].concat())
    };
    let media_arg = media.to_str().unwrap();
    for (args, expect) in [
        (&["ingest", media_arg][..], "\\u{1b}]0;PWNED\\u{7}clip"),
        (&["library"], "\\u{1b}[2Jother"),
        (&["similar", title], "\\u{1b}]0;PWNED"),
    ] {
        let (code, said) = run(args);
        let text = String::from_utf8_lossy(&said);
        assert!(!said.contains(&0x1b) && !said.contains(&0x07), "{args:?} sent an escape: {text:?}");
        assert!(text.contains(expect), "{args:?} ({code:?}) names the file with its escapes shown: {text}");
    }
}

/// A command that reads a library, given a folder that is not there (a mistyped `--library`),
/// says so and leaves nothing behind; model commands make no library at all.
#[test]
fn a_mistyped_library_path_is_refused_and_nothing_is_made() {
    let work = tempfile::tempdir().unwrap();
    let typo = work.path().join("libary");
    for args in
        [&["library"][..], &["similar", "anything"], &["runs"], &["dupes"], &["eval"], &["train"], &["index", "update"]]
    {
        let out = bin().arg("--library").arg(&typo).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("there is no library at") && stderr.contains("libary"), "{args:?}: {stderr}");
        assert!(!typo.exists(), "{args:?} made {}", typo.display());
    }
    let out = bin().arg("--library").arg(&typo).args(["models", "--offline", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!typo.exists(), "models made {}", typo.display());
}

/// `--version` says which build it is: the version, the commit it was built from, its features.
#[test]
fn the_version_names_the_commit_and_the_build() {
    let out = bin().arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("reelmatch {} (", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains("CPU build") || text.contains("features: cuda"), "{text}");
    let head = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(!head.is_empty() && text.contains(&head), "built from {head}: {text}");
}

/// The models' notes are said in full where an ingest has work they would have done, and in a
/// line on a re-run with nothing to do.
#[test]
fn a_rerun_with_nothing_to_do_says_the_model_notes_in_a_line() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    make_video(&media.join("one.mp4"), Gen { seconds: 2.0, ..Gen::default() });
    let lib = work.path().join("lib");
    let cfg = small_config(work.path(), "[models]\noffline = true\n[models.image]\npath = \"/nonexistent/model\"\n");
    let ingest = || {
        let out =
            bin().arg("--library").arg(&lib).arg("--config").arg(&cfg).arg("ingest").arg(&media).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let first = ingest();
    assert!(first.contains("/nonexistent/model"), "the first run explains the missing model: {first}");
    let again = ingest();
    assert!(!again.contains("/nonexistent/model"), "{again}");
    assert!(again.contains("nothing new to ingest") && again.contains("reelmatch models"), "{again}");
}

/// A mistyped catalog URL is refused without printing its password, from the command line or
/// from a config file.
#[test]
fn a_mistyped_catalog_url_never_prints_its_password() {
    let work = tempfile::tempdir().unwrap();
    let cfg = work.path().join("bad.toml");
    std::fs::write(&cfg, "[catalog]\nurl = \"postgress://me:SECRET@db/lib\"\n").unwrap();
    for args in [
        vec!["--catalog", "postgress://me:SECRET@db/lib", "library"],
        vec!["--catalog", "host=db password=SECRET", "library"],
        vec!["--config", cfg.to_str().unwrap(), "library"],
    ] {
        let out = bin().arg("--library").arg(work.path()).args(&args).output().unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(said.contains("***") && !said.contains("SECRET"), "{args:?}: {said}");
    }
}

/// `models` lists without downloading, and says so in those words (not "offline mode is on"
/// when it was not asked for); with `--offline` it says that.
#[test]
fn models_says_why_a_model_is_missing_in_the_right_words() {
    let home = tempfile::tempdir().unwrap();
    let run = |offline: bool| {
        let mut cmd = bin();
        cmd.current_dir(home.path())
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("HF_HUB_CACHE", home.path().join("hub"))
            .arg("models");
        if offline {
            cmd.arg("--offline");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = run(false);
    assert!(listed.matches("missing ").count() == 3, "{listed}");
    assert!(listed.contains("not downloaded yet") && !listed.contains("offline mode is on"), "{listed}");
    let offline = run(true);
    assert!(offline.contains("offline mode is on") && !offline.contains("not downloaded yet"), "{offline}");
}

/// A command line that cannot be parsed exits 64, never 2 (which means "some files failed");
/// `--help` exits 0.
#[test]
fn a_usage_error_has_its_own_exit_code() {
    for args in [&["--no-such-flag"][..], &["ingest"], &["similar", "x", "--top", "many"]] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(reelmatch::cli::EXIT_USAGE),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
    assert_eq!(bin().arg("--help").output().unwrap().status.code(), Some(0));
}

/// `similar --help` says what a score is and which side of `frame A ≈ B` is the query's.
#[test]
fn similar_help_explains_the_scores() {
    let out = bin().args(["similar", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for part in
        ["cosine similarities, from -1 to 1", "an unrelated video scores near 0", "the first time is the query's"]
    {
        assert!(help.contains(part), "{part:?} not in:\n{help}");
    }
}

/// `reelmatch` with no command and no terminal says the dashboard needs one, and what to run
/// from a script instead, on the embedded catalog as on a shared one.
#[test]
fn the_dashboard_without_a_terminal_says_what_to_run_instead() {
    let work = tempfile::tempdir().unwrap();
    let out = bin().arg("--library").arg(work.path()).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("the dashboard needs a terminal") && said.contains("reelmatch library"),
        "{said}"
    );
}

/// Shell completions and the manual page come from the binary itself, and make no library.
#[test]
fn completions_and_the_manual_page_are_printed() {
    let work = tempfile::tempdir().unwrap();
    let none = work.path().join("no library");
    let text = |args: &[&str]| {
        let out = bin().arg("--library").arg(&none).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bash = text(&["completions", "bash"]);
    assert!(bash.contains("_reelmatch") && bash.contains("similar") && bash.contains("--catalog"), "{bash}");
    assert!(text(&["completions", "zsh"]).contains("#compdef reelmatch"));
    let man = text(&["manpage"]);
    assert!(man.contains(".TH reelmatch") && man.contains("similar"), "{man}");
    assert!(!none.exists(), "a library was made");
}

/// `--quiet` prints no progress, and still names a file that failed and the summary.
#[test]
fn quiet_says_only_failures_errors_and_results() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    common::two_videos_and_a_broken_file(&media);
    let cfg = small_config(work.path(), "");
    let lib = work.path().join("lib");
    let mut ingest = bin();
    ingest.arg("--library").arg(&lib).arg("--config").arg(&cfg).args(["--quiet", "ingest"]).arg(&media);
    let out = ingest.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("broken.mp4") && said.contains("not a readable video"), "{said}");
    assert!(said.contains("ingest finished"), "the summary: {said}");
    assert!(!said.contains("] frames") && !said.contains("pace per stage") && !said.contains(" to ingest, "), "{said}");
}

/// `reelmatch config` prints the settings in force, each one a file set marked with that file,
/// with a catalog password hidden.
#[test]
fn config_prints_the_settings_in_force_and_where_they_came_from() {
    let work = tempfile::tempdir().unwrap();
    let cfg = work.path().join("mine.toml");
    std::fs::write(&cfg, "[search]\ntop = 7\n[catalog]\nurl = \"postgres://me:SECRET@db/lib\"\n").unwrap();
    let out =
        bin().arg("--library").arg(work.path().join("none")).arg("--config").arg(&cfg).arg("config").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let from = format!("# from {}", cfg.display());
    assert!(text.contains("[search]") && text.contains(&format!("top = 7  {from}")), "{text}");
    assert!(text.contains("url = \"postgres://me:***@db/lib\"") && !text.contains("SECRET"), "{text}");
    assert!(
        text.contains("epochs = ") && !text.lines().any(|l| l.starts_with("epochs") && l.contains("# from")),
        "{text}"
    );
    // What it prints loads as a config of its own.
    let again = work.path().join("again.toml");
    std::fs::write(&again, text.replace("postgres://me:***@db/lib", "")).unwrap();
    let out = bin()
        .arg("--library")
        .arg(work.path().join("none"))
        .arg("--config")
        .arg(&again)
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
