//! The real binary's dashboard in tmux, driven as a person would: switch panes, start training,
//! run a query, read the screen with `capture-pane`, quit.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use common::{bin, random_resnet, three_clips};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of the test's own (one per instance: tests share this process), so a person's
/// sessions are never touched.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn new(cmd: &str, width: u16, height: u16) -> Tmux {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let t = Tmux { socket: format!("reelmatch-test-{}-{n}", std::process::id()) };
        let ok = t
            .cmd()
            .args(["new-session", "-d", "-s", "dash", "-x", &width.to_string(), "-y", &height.to_string(), cmd])
            .status()
            .expect("tmux runs (install it: apt-get install tmux)");
        assert!(ok.success(), "tmux could not start the dashboard");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut c = self.cmd();
        c.args(["send-keys", "-t", "dash"]).args(keys);
        assert!(c.status().unwrap().success());
    }

    pub fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-t", "dash"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows every one of `parts`; panics with the screen after `secs`.
    pub fn wait_for(&self, parts: &[&str], secs: u64) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if parts.iter().all(|p| s.contains(p)) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                panic!("waited {secs}s for {parts:?}; the screen shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the screen no longer shows `part`; panics with the screen after `secs`.
    pub fn wait_gone(&self, part: &str, secs: u64) {
        let start = Instant::now();
        while self.screen().contains(part) {
            if start.elapsed() > Duration::from_secs(secs) {
                panic!("waited {secs}s for {part:?} to go; the screen shows:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn alive(&self) -> bool {
        self.cmd().args(["has-session", "-t", "dash"]).output().is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

pub fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn dashboard_in_tmux_trains_and_answers_a_query() {
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    three_clips(&media);
    let weights = work.path().join("resnet");
    std::fs::create_dir_all(&weights).unwrap();
    random_resnet(&weights.join("model.safetensors"));
    let config = work.path().join("fast.toml");
    std::fs::write(
        &config,
        "[sampling]\nframe_short_side = 64\n[train]\nepochs = 3\naugmented_views = 0\nmin_train_frames = 3\n",
    )
    .unwrap();
    let lib = work.path().join("lib");
    let out = bin()
        .arg("--library")
        .arg(&lib)
        .arg("--config")
        .arg(&config)
        .args(["--offline", "--image-model"])
        .arg(&weights)
        .arg("ingest")
        .arg(&media)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A stand-in `mpv` on PATH: writes down how it was started, reads a line from the terminal
    // it was lent, writes that down too.
    let stub = work.path().join("stub bin");
    std::fs::create_dir_all(&stub).unwrap();
    let played = work.path().join("played.txt");
    std::fs::write(
        stub.join("mpv"),
        format!("#!/bin/sh\necho \"$*\" >> {0}\nread -r line\necho \"player got: $line\" >> {0}\n", quote(&played)),
    )
    .unwrap();
    std::fs::set_permissions(stub.join("mpv"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dashboard = format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY PATH={}:\"$PATH\" {} --library {} --config {} --offline --image-model {} --graphics halfblocks",
        quote(&stub),
        quote(Path::new(env!("CARGO_BIN_EXE_reelmatch"))),
        quote(&lib),
        quote(&config),
        quote(&weights)
    );
    let tmux = Tmux::new(&dashboard, 120, 36);
    let s = tmux.wait_for(&["Library · 3 videos", "Bars", "Spiral", "Pattern"], 30);
    assert!(s.contains("ready"), "{s}");

    tmux.keys(&["2"]);
    tmux.wait_for(&["No run yet", "t train"], 10);
    tmux.keys(&["t"]);
    // The runs table is re-read from the catalog at most every 250 ms, so it may trail the status
    // line: wait until the finished run is listed as active too.
    let s = tmux.wait_for(&["run 1 · done", "Top-10", "Macro (all)", "*1"], 120);
    assert!(s.contains("epoch 3/3"), "{s}");

    tmux.keys(&["3"]);
    tmux.wait_for(&["Query: a video", "Bars"], 10);
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for(&["Most similar to Bars", "Spiral", "Pattern", "query @"], 60);
    assert!(s.contains('▀') || s.contains('▄'), "frames are drawn in half blocks: {s}");
    tmux.keys(&["-"]);
    tmux.wait_for(&["visual 0.6 · lyrics 0.4"], 10);

    // o lends the terminal to the player: what is typed meanwhile goes to the player, none of it
    // to the dashboard ("l" would open the lyrics prompt), and the dashboard comes back.
    tmux.keys(&["o"]);
    let log = || std::fs::read_to_string(&played).unwrap_or_default();
    let start = Instant::now();
    while !log().contains("--vo=tct") && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(log().contains("--start=") && log().contains("--vo=tct"), "the player's arguments: {}", log());
    tmux.keys(&["hello", "Enter"]);
    let s = tmux.wait_for(&["back from the player", "Most similar to Bars", "visual 0.6 · lyrics 0.4"], 20);
    assert!(log().contains("player got: hello"), "{}", log());
    assert!(!s.contains("lyrics: "), "no key reached the dashboard: {s}");

    tmux.keys(&["?"]);
    tmux.wait_for(&["Keys · any key closes"], 10);
    tmux.keys(&["Escape"]);
    // An Escape and a q read together are one Alt+q, as in any terminal: let the first land.
    tmux.wait_gone("Keys · any key closes", 10);
    tmux.keys(&["q"]);
    let start = Instant::now();
    while tmux.alive() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!tmux.alive(), "q quits the dashboard when nothing runs; the screen shows:\n{}", tmux.screen());
}
