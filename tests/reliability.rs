//! Hostile folders and interruptions, through the binary as a user meets them: FIFOs, link
//! loops, Ctrl-C to the whole process group, two ingests at once, a full disk, an unreadable
//! folder, very short, rotated and extreme-aspect videos, and numbers out of range. Every
//! command runs under a time limit, so a hang fails the test instead of stalling the suite.
//! The ingest scenarios run on both catalogs (`NAME::embedded`, `NAME::postgres`, where
//! `ingest` is a worker ingesting into its own library folder and uploading).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use crate::on_both;
use common::{bin, make_video, Backend, Gen};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn config_file(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("test config.toml");
    std::fs::write(&path, format!("[sampling]\nframe_short_side = 64\n{extra}")).unwrap();
    path
}

/// Runs `cmd` to the end, failing the test if it takes longer than `limit`.
fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung: still running after {limit:?}; stderr: {}", std::fs::read_to_string(&err).unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: std::fs::read(&out).unwrap(), stderr: std::fs::read(&err).unwrap() }
}

fn reelmatch(b: &Backend, lib: &Path, cfg: &Path, args: &[&str]) -> Command {
    let mut cmd = b.cmd(lib);
    cmd.arg("--config").arg(cfg).args(args);
    cmd
}

fn row<'a>(rows: &'a [Value], title: &str) -> &'a Value {
    rows.iter().find(|r| r["title"] == title).unwrap_or_else(|| panic!("no row {title} in {rows:?}"))
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

on_both! {
    fn fifos_are_reported_and_never_waited_on(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        make_video(&media.join("good.mp4"), Gen { seconds: 2.0, ..Gen::default() });
        mkfifo(&media.join("pipe.mp4"));
        mkfifo(&media.join("stream"));
        let (lib, cfg) = (work.path().join("lib"), config_file(work.path(), ""));

        let out = run_within(&mut reelmatch(backend, &lib, &cfg, &["ingest", media.to_str().unwrap()]), Duration::from_secs(60));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("pipe.mp4") && err.contains("not a regular file"), "{err}");
        let rows = backend.library_json(&lib);
        assert_eq!(rows.len(), 2, "the FIFO without a video extension is skipped: {rows:?}");
        assert_eq!(row(&rows, "good")["status"], "ready");
        assert!(row(&rows, "pipe")["error"].as_str().unwrap().contains("not a regular file"));

        let file =
            run_within(reelmatch(backend, &lib, &cfg, &["similar", "--file"]).arg(media.join("stream")), Duration::from_secs(30));
        assert!(!file.status.success() && stderr(&file).contains("not a regular file"), "{}", stderr(&file));
        let image =
            run_within(reelmatch(backend, &lib, &cfg, &["similar", "--image"]).arg(media.join("pipe.mp4")), Duration::from_secs(30));
        assert!(!image.status.success() && stderr(&image).contains("not a regular file"), "{}", stderr(&image));
    }
}

on_both! {
    fn link_loops_end_and_each_video_is_found_once(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(media.join("sub")).unwrap();
        make_video(&media.join("sub/only.mp4"), Gen { seconds: 2.0, ..Gen::default() });
        std::os::unix::fs::symlink(".", media.join("a")).unwrap();
        std::os::unix::fs::symlink(".", media.join("b")).unwrap();
        std::os::unix::fs::symlink("..", media.join("sub/up")).unwrap();
        let (lib, cfg) = (work.path().join("lib"), config_file(work.path(), ""));

        let out = run_within(&mut reelmatch(backend, &lib, &cfg, &["ingest", media.to_str().unwrap()]), Duration::from_secs(60));
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = backend.library_json(&lib);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["status"], "ready");
    }
}

on_both! {
    fn ctrl_c_to_the_process_group_during_frames_blames_no_file(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        for (i, source) in ["testsrc2", "mandelbrot"].iter().enumerate() {
            make_video(
                &media.join(format!("v{i}.mp4")),
                Gen { source, seconds: 60.0, size: "480x360", rate: 25, ..Gen::default() },
            );
        }
        let (lib, cfg) = (work.path().join("lib"), config_file(work.path(), ""));
        // The ingest leads a process group of its own, as a shell makes a job; Ctrl-C in a terminal
        // signals the whole foreground group.
        let mut cmd = reelmatch(backend, &lib, &cfg, &["ingest", media.to_str().unwrap()]);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        // A library's frames, or a shared catalog's worker's, in the scratch folder of its claim.
        let frames_written = || {
            let scratch = std::fs::read_dir(&lib).into_iter().flatten().flatten().map(|e| e.path());
            std::iter::once(lib.clone()).chain(scratch).any(|dir| {
                let videos = std::fs::read_dir(dir.join("frames")).into_iter().flatten().flatten();
                videos.into_iter().any(|v| v.path().join("000003.jpg").exists())
            })
        };
        while !frames_written() {
            assert!(child.try_wait().unwrap().is_none(), "ingest finished before the Ctrl-C");
            assert!(Instant::now() < deadline, "ingest made no progress");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: kill(2) on the child's process group, which the child leads.
        assert_eq!(unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGINT) }, 0);
        let stopped = Instant::now();
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(stopped.elapsed() < Duration::from_secs(20), "a stop took {:?}", stopped.elapsed());
        assert_eq!(out.status.code(), Some(130), "{err}");
        for r in backend.library_json(&lib) {
            assert_ne!(r["status"], "failed", "a stopped stage blamed a good file: {r}");
        }
        let again = run_within(&mut reelmatch(backend, &lib, &cfg, &["ingest", media.to_str().unwrap()]), Duration::from_secs(120));
        assert!(again.status.success(), "{}", stderr(&again));
        assert!(backend.library_json(&lib).iter().all(|r| r["status"] == "ready"));
    }
}

on_both! {
    fn two_ingests_at_once_take_turns_and_report_no_false_errors(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        for (i, source) in ["testsrc2", "smptebars", "mandelbrot"].iter().enumerate() {
            make_video(&media.join(format!("v{i}.mp4")), Gen { source, seconds: 8.0, size: "320x240", ..Gen::default() });
        }
        let (lib, cfg) = (work.path().join("lib"), config_file(work.path(), ""));
        let start = || {
            reelmatch(backend, &lib, &cfg, &["ingest", media.to_str().unwrap()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (start(), start());
        for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
            let err = stderr(&out);
            assert!(out.status.success(), "{err}");
            assert!(err.contains(", 0 failed") && !err.contains("file(s) failed"), "{err}");
        }
        let rows = backend.library_json(&lib);
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r["status"] == "ready" && r["frames_train"].as_i64().unwrap() > 0), "{rows:?}");
    }
}

on_both! {
    fn a_full_disk_stops_the_run_and_blames_no_video(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        make_video(&media.join("song.mp4"), Gen { seconds: 20.0, ..Gen::default() });
        let cfg = config_file(work.path(), "");
        let disk = work.path().join("disk");
        std::fs::create_dir_all(&disk).unwrap();
        // A 600 KiB tmpfs holds the catalog and the frames but not the 1.3 MB of audio; then it is
        // grown and the same command is run again. In a mount namespace of its own (user namespace
        // too, so this needs no root).
        let script = r#"set -u
mount -t tmpfs -o size=600k tmpfs "$DISK" || exit 90
"$BIN" --library "$DISK/lib" $CATALOG --config "$CFG" ingest "$MEDIA" 2> "$WORK/first.err"; echo $? > "$WORK/first.rc"
"$BIN" --library "$DISK/lib" $CATALOG library --json > "$WORK/first.json"
mount -o remount,size=16m "$DISK" || exit 91
"$BIN" --library "$DISK/lib" $CATALOG --config "$CFG" ingest "$MEDIA" 2> "$WORK/second.err"; echo $? > "$WORK/second.rc"
"$BIN" --library "$DISK/lib" $CATALOG library --json > "$WORK/second.json"
"#;
        let mut cmd = Command::new("unshare");
        cmd.args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
            .env("BIN", env!("CARGO_BIN_EXE_reelmatch"))
            .env("DISK", &disk)
            .env("CATALOG", backend.catalog_args().join(" "))
            .env("CFG", &cfg)
            .env("MEDIA", &media)
            .env("WORK", work.path());
        let out = run_within(&mut cmd, Duration::from_secs(120));
        assert!(out.status.success(), "the tmpfs could not be set up (unshare, mount): {}", stderr(&out));
        let read = |name: &str| std::fs::read_to_string(work.path().join(name)).unwrap();
        let first_err = read("first.err");
        assert_eq!(read("first.rc").trim(), "1", "{first_err}");
        assert!(first_err.contains("disk holding the library is full"), "{first_err}");
        let first: Vec<Value> = serde_json::from_str(&read("first.json")).unwrap();
        assert_eq!(first.len(), 1);
        assert_ne!(first[0]["status"], "failed", "a full disk is not the video's fault: {first_err}");
        assert_eq!(first[0]["error"], Value::Null);
        assert_eq!(read("second.rc").trim(), "0", "{}", read("second.err"));
        let second: Vec<Value> = serde_json::from_str(&read("second.json")).unwrap();
        assert_eq!(second[0]["status"], "ready");
        assert!(second[0]["audio_samples"].as_i64().unwrap() > 16_000 * 19);
    }
}

on_both! {
    fn an_unreadable_folder_is_reported_and_the_rest_is_ingested(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let top = work.path();
        let media = top.join("media");
        std::fs::create_dir_all(media.join("locked")).unwrap();
        make_video(&media.join("open.mp4"), Gen { seconds: 2.0, ..Gen::default() });
        make_video(&media.join("locked/hidden.mp4"), Gen { seconds: 2.0, ..Gen::default() });
        let cfg = config_file(top, "");
        let lib = top.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for (path, mode) in [(top, 0o755), (&lib, 0o777), (&media.join("locked"), 0o000)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        // Permissions mean nothing to root: run as an unprivileged user then.
        // SAFETY: geteuid has no preconditions.
        let mut cmd = if unsafe { libc::geteuid() } == 0 {
            // The build may sit where that user cannot reach (a clone under /root): run a link or a
            // copy of the binary from the test's own folder.
            let exe = top.join("reelmatch");
            let built = Path::new(env!("CARGO_BIN_EXE_reelmatch"));
            if std::fs::hard_link(built, &exe).is_err() {
                std::fs::copy(built, &exe).unwrap();
            }
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&exe);
            c
        } else {
            bin()
        };
        cmd.env("HOME", top).arg("--library").arg(&lib).args(backend.catalog_args()).arg("--config").arg(&cfg).arg("ingest").arg(&media);
        let out = run_within(&mut cmd, Duration::from_secs(60));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("locked") && err.contains("cannot be read"), "{err}");
        let rows = backend.library_json(&lib);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(row(&rows, "open")["status"], "ready");
    }
}

on_both! {
    fn short_rotated_and_extreme_videos_are_stored_as_shown(backend: &Backend) {
        let work = tempfile::tempdir().unwrap();
        let media = work.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        let ffmpeg = |args: &[&str]| {
            let out =
                Command::new("ffmpeg").args(["-hide_banner", "-loglevel", "error", "-y"]).args(args).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        let m = |name: &str| media.join(name).to_str().unwrap().to_string();
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=96x64:rate=25",
            "-frames:v",
            "1",
            "-pix_fmt",
            "yuv420p",
            &m("one frame.mp4"),
        ]);
        ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25", "-t", "0.1", "-pix_fmt", "yuv420p", &m("tenth.mp4")]);
        ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-t", "2", &m("anim.gif")]);
        std::fs::rename(media.join("anim.gif"), media.join("animated.mp4")).unwrap();
        ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-t", "2", "-pix_fmt", "yuv420p", &m("upright.mp4")]);
        ffmpeg(&["-i", &m("upright.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", &m("rotated.mp4")]);
        std::fs::remove_file(media.join("upright.mp4")).unwrap();
        ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=4000x16:rate=10", "-t", "1", "-c:v", "ffv1", &m("strip.mkv")]);
        let (lib, cfg) = (work.path().join("lib"), config_file(work.path(), ""));

        let out = run_within(&mut reelmatch(backend, &lib, &cfg, &["ingest", media.to_str().unwrap()]), Duration::from_secs(60));
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = backend.library_json(&lib);
        // The frames as stored, read back through the catalog (on PostgreSQL, from the catalog).
        let exported = work.path().join("exported");
        let out = run_within(reelmatch(backend, &lib, &cfg, &["export", "frames"]).arg(&exported), Duration::from_secs(60));
        assert!(out.status.success(), "{}", stderr(&out));
        let first_frame = |title: &str| {
            let files = ["train", "test"].iter().flat_map(|split| std::fs::read_dir(exported.join(split).join(title)).into_iter().flatten());
            let file = files.map(|f| f.unwrap().path()).min().unwrap_or_else(|| panic!("no exported frame of {title}"));
            image::open(file).unwrap()
        };
        for title in ["one frame", "tenth", "animated", "rotated", "strip"] {
            let r = row(&rows, title);
            assert_eq!(r["status"], "ready", "{r}");
            assert!(r["frames_train"].as_i64().unwrap() + r["frames_test"].as_i64().unwrap() >= 1, "{r}");
        }
        let rotated = row(&rows, "rotated");
        assert_eq!((rotated["width"].as_i64(), rotated["height"].as_i64()), (Some(64), Some(96)), "displayed size");
        let f = first_frame("rotated");
        assert_eq!((f.width(), f.height()), (64, 96), "stored upright, short side 64");
        let f = first_frame("strip");
        assert!(f.width() <= 64 * reelmatch::media::MAX_ASPECT && f.height() >= 1, "{}x{}", f.width(), f.height());
    }
}

#[test]
fn numbers_out_of_range_are_refused_naming_the_setting() {
    let work = tempfile::tempdir().unwrap();
    let lib = work.path().join("lib");
    let cfg = config_file(work.path(), "");
    let refused = |args: &[&str], want: &[&str]| {
        let out = run_within(&mut reelmatch(&Backend::Embedded, &lib, &cfg, args), Duration::from_secs(30));
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} was accepted");
        for w in want {
            assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
        }
    };
    refused(&["similar", "x", "--visual=-1"], &["--visual", "-1", "from 0 to 1000"]);
    refused(&["similar", "x", "--lyrics-weight=-5"], &["--lyrics-weight", "-5"]);
    refused(&["similar", "x", "--visual=NaN"], &["--visual", "NaN"]);
    refused(&["similar", "x", "--visual", "0", "--lyrics-weight", "0"], &["both 0"]);
    refused(&["--threads", "0", "library"], &["--threads", "at least 1"]);
    refused(&["similar", "x", "--top", "0"], &["--top"]);
    refused(&["dupes", "--threshold", "2"], &["--threshold", "from -1 to 1"]);

    let bad = work.path().join("bad.toml");
    std::fs::write(&bad, "[train]\nepochs = -1\n").unwrap();
    let out = run_within(&mut reelmatch(&Backend::Embedded, &lib, &bad, &["library"]), Duration::from_secs(30));
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("bad.toml") && err.contains("train.epochs") && err.contains("-1"),
        "{err}"
    );
    std::fs::write(&bad, "[search]\nvisual_weight = -1\n").unwrap();
    let out = run_within(&mut reelmatch(&Backend::Embedded, &lib, &bad, &["library"]), Duration::from_secs(30));
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("bad.toml") && err.contains("search.visual_weight"), "{err}");

    let file = work.path().join("a file");
    std::fs::write(&file, "x").unwrap();
    let out = run_within(&mut reelmatch(&Backend::Embedded, &file, &cfg, &["library"]), Duration::from_secs(30));
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("is a file, not a folder"), "{err}");
}
