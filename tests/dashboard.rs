//! The dashboard's real event loop in ratatui's `TestBackend`, driven as a person would through
//! ingest → train → query on a generated library, on both catalogs (the embedded one, and a
//! PostgreSQL one that this machine ingests into as a worker): keys go in, the jobs run on
//! blocking threads with real ffmpeg and Candle, and the embedded run's frames are checked with
//! insta snapshots.
//! The loop runs on this test's thread, which it marks as the drawing thread: a catalog or
//! folder read there panics (see `reelmatch::blocking`), so this test also shows that none runs.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;
use crate::on_both;

use common::{random_resnet, test_config, three_clips, Backend};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::backend::{Backend as Drawn, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::Terminal;
use ratatui_image::picker::Picker;
use reelmatch::ml::image::ImageEmbedder;
use reelmatch::ml::Models;
use reelmatch::tui::{event_loop, Options};
use reelmatch::Library;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// A `TestBackend` that publishes each flushed screen, so the test can read what the loop drew
/// while the loop owns the terminal.
struct Watched {
    inner: TestBackend,
    screen: Arc<Mutex<String>>,
}

impl Drawn for Watched {
    type Error = <TestBackend as Drawn>::Error;

    fn draw<'a, I: Iterator<Item = (u16, u16, &'a Cell)>>(&mut self, content: I) -> Result<(), Self::Error> {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        *self.screen.lock().unwrap() = self.inner.to_string();
        Ok(())
    }
}

/// The person at the keyboard: presses keys and waits for what the screen should show.
struct Person {
    keys: UnboundedSender<std::io::Result<TermEvent>>,
    screen: Arc<Mutex<String>>,
}

impl Person {
    fn press(&self, code: KeyCode) {
        self.keys.send(Ok(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))).unwrap();
    }

    fn click(&self, kind: MouseEventKind, column: u16, row: u16) {
        let ev = MouseEvent { kind, column, row, modifiers: KeyModifiers::NONE };
        self.keys.send(Ok(TermEvent::Mouse(ev))).unwrap();
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// Waits until the stand-in player was started `n` times; returns each start's arguments.
    async fn played(&self, log: &std::path::Path, n: usize, seconds: u64) -> Vec<String> {
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let calls: Vec<String> = text.lines().map(str::to_string).collect();
            if calls.len() >= n {
                return calls;
            }
            assert!(
                start.elapsed() < Duration::from_secs(seconds),
                "the player was not started {n} time(s): {calls:?}\n{}",
                self.screen()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn type_text(&self, text: &str) {
        text.chars().for_each(|c| self.press(KeyCode::Char(c)));
    }

    /// Waits until the screen no longer shows `gone`; returns it.
    async fn wait_without(&self, gone: &str, seconds: u64) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if !screen.contains(gone) {
                return screen;
            }
            assert!(start.elapsed() < Duration::from_secs(seconds), "waited {seconds}s for {gone:?} to go:\n{screen}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the screen shows every one of `parts`; returns it.
    async fn wait_for(&self, parts: &[&str], seconds: u64) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen.lock().unwrap().clone();
            if parts.iter().all(|p| screen.contains(p)) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(seconds),
                "waited {seconds}s for {parts:?}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The screen without what changes from run to run: the header's library path, and (with
/// `numbers`) every digit and every drawn cell (curves, big numbers, bars, frames), for panes
/// whose figures come from training on random weights. What is left is the layout and the words.
fn stable(screen: &str, numbers: bool) -> String {
    let lines: Vec<String> = screen
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let l =
                if i == 0 { l.split("reelmatch ·").next().unwrap_or(l).trim_end().to_string() } else { l.to_string() };
            if numbers {
                l.chars()
                    .map(|c| match c {
                        '0'..='9' => '#',
                        '\u{2801}'..='\u{28ff}' | '\u{2580}'..='\u{259f}' => '▒',
                        c => c,
                    })
                    .collect()
            } else {
                l
            }
        })
        .collect();
    lines.join("\n")
}

on_both! {
/// Add a folder, ingest, train, query by a video, preview, play, save a playlist, scope to a
/// folder, mark a pair not duplicates, and the mouse: every pane and key on either catalog.
fn the_event_loop_ingests_trains_and_answers_a_query(backend: &Backend) {
    let shared = backend.is_postgres();
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media videos");
    three_clips(&media);
    std::fs::create_dir_all(media.join("sub")).unwrap();
    std::fs::rename(media.join("Pattern.mp4"), media.join("sub/Pattern.mp4")).unwrap();
    let weights = work.path().join("resnet.safetensors");
    random_resnet(&weights);
    // A stand-in player that writes down how it was started.
    let played = work.path().join("played.txt");
    let player = work.path().join("stub mpv");
    std::fs::write(
        &player,
        format!("#!/bin/sh\nprintf '%s|' \"$@\" >> '{}'\necho >> '{}'\n", played.display(), played.display()),
    )
    .unwrap();
    std::fs::set_permissions(&player, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = test_config(&format!(
        "[train]\nepochs = 3\naugmented_views = 0\nmin_train_frames = 3\n[search]\nduplicate_threshold = -1.0\n[player]\ncommand = {:?}\n{}",
        player.display().to_string(),
        backend.catalog_toml()
    ));
    let image =
        ImageEmbedder::load_weights(&weights, &candle_core::Device::Cpu, &config.image, 16, "random".into()).unwrap();
    let library = Library::open(work.path().join("lib")).unwrap();
    let lib_root = library.root().to_path_buf();
    let options = Options {
        graphics: reelmatch::images::Graphics::Halfblocks,
        presets: vec![("default".into(), config.clone())],
        models: Some(Models::none().with_image(image)),
        start: Vec::new(),
        banner: Vec::new(),
        handover: None,
    };

    let screen = Arc::new(Mutex::new(String::new()));
    let mut terminal = Terminal::new(Watched { inner: TestBackend::new(110, 34), screen: screen.clone() }).unwrap();
    let (keys, rx) = tokio::sync::mpsc::unbounded_channel();
    let events = Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) }));
    let person = Person { keys, screen };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let snapshots = runtime.block_on(async {
        let dashboard = event_loop(&mut terminal, events, library, config, options, Some(Picker::halfblocks()));
        let script = async {
            let mut shots = Vec::new();
            person.wait_for(&["The library is empty"], 20).await;

            // Library pane: add the folder (Tab completes its name) and ingest it.
            person.press(KeyCode::Char('a'));
            person.type_text(&format!("{}/media v", work.path().display()));
            person.press(KeyCode::Tab);
            person.wait_for(&["media videos/"], 10).await;
            person.press(KeyCode::Enter);
            let finished = match shared {
                false => "ingest finished: 3 ingested, 0 failed, 0 up to date",
                true => "worker finished: 3 registered, 3 ingested",
            };
            person.wait_for(&[finished, "Library · 3 videos"], 120).await;
            // The lists are read again at most every 250 ms: the last video's row follows.
            let s = person.wait_without("pending", 5).await;
            if shared {
                // Each video's announcement in the workers' log, the counts over it.
                let s = person.wait_for(&["Workers · 3 videos", ": 3 ready "], 10).await;
                for title in ["Bars", "Spiral", "Pattern"] {
                    assert!(s.contains(&format!("{title}: working by ")), "{title} claimed: {s}");
                    assert!(s.contains(&format!("{title}: ready (")), "{title} uploaded: {s}");
                }
            } else {
                assert_eq!(s.matches("ready").count(), 3, "{s}");
                shots.push(("ingested", stable(&s, false)));
            }

            // Training pane: start a run and watch it end.
            person.press(KeyCode::Char('2'));
            person.wait_for(&["No run yet", "t train · s stop · p preset: default"], 10).await;
            person.press(KeyCode::Char('t'));
            let s = person.wait_for(&["run 1 · done", "epoch 3/3", "*1", "Top-10", "Macro (all)"], 120).await;
            assert!(s.contains("run 1: done after 3 epoch(s)"), "the job's summary is the status line: {s}");
            if !shared {
                shots.push(("trained", stable(&s, true)));
            }
            let trained = s.clone();

            // Query pane: search with the first video; the results and their frames come back.
            person.press(KeyCode::Char('3'));
            person.wait_for(&["Query: a video", "Bars"], 10).await;
            person.press(KeyCode::Enter);
            let s = person.wait_for(&["Most similar to Bars", "Spiral", "Pattern", "query @"], 60).await;
            assert!(s.contains('▀') || s.contains('▄'), "frames are drawn in half blocks: {s}");
            if !shared {
                shots.push(("answered", stable(&s, true)));
            }
            let answered = s.clone();

            // The full-screen preview is drawn by the same picker; any key returns.
            person.press(KeyCode::Enter);
            let s = person.wait_for(&["Any key returns."], 10).await;
            assert!(!s.contains("Most similar to"), "the preview covers the dashboard: {s}");
            person.press(KeyCode::Char('x'));
            person.wait_for(&["Most similar to Bars"], 10).await;

            // Around a result: o plays the match from its moment, O the query from its frame.
            let first = answered
                .lines()
                .nth(3)
                .unwrap()
                .split('│')
                .nth(3)
                .unwrap()
                .split_whitespace()
                .nth(1)
                .unwrap()
                .to_string();
            person.press(KeyCode::Char('o'));
            let calls = person.played(&played, 1, 20).await;
            let args: Vec<&str> = calls[0].split('|').collect();
            assert!(args[0].starts_with("--start="), "{args:?}");
            assert!(
                args.contains(&"--") && args.iter().any(|a| a.ends_with(&format!("{first}.mp4"))),
                "{first}: {args:?}"
            );
            if !reelmatch::play::has_display() {
                assert!(args.contains(&"--vo=tct"), "no display: the player draws in the terminal: {args:?}");
            }
            person.press(KeyCode::Char('O'));
            let calls = person.played(&played, 2, 20).await;
            assert!(calls[1].contains("Bars.mp4"), "{calls:?}");
            person.wait_for(&["back from the player"], 10).await;

            // s saves the ranking as a playlist in the library.
            person.press(KeyCode::Char('s'));
            person.wait_for(&["playlist saved:"], 10).await;
            let m3u = std::fs::read_to_string(lib_root.join("playlists/similar-to-bars.m3u")).unwrap();
            assert!(m3u.starts_with("#EXTM3U\n") && m3u.matches("#EXTINF:4,").count() == 2, "{m3u}");
            assert!(m3u.contains(&format!("{}/sub/Pattern.mp4", media.canonicalize().unwrap().display())), "{m3u}");

            // i keeps the results under a folder; x says the one there is not a duplicate.
            assert_eq!(person.screen().matches("≈dup").count(), 2, "every result is over a threshold of -1");
            person.press(KeyCode::Char('i'));
            person.type_text(&format!("{}/su", media.canonicalize().unwrap().display()));
            person.press(KeyCode::Tab);
            person.wait_for(&["/sub/"], 10).await;
            person.press(KeyCode::Enter);
            let s = person.wait_for(&["Pattern ≈dup"], 10).await;
            assert_eq!(s.matches("≈dup").count(), 1, "only the video under sub/ is shown: {s}");
            person.press(KeyCode::Char('x'));
            let s = person.wait_for(&["marked not a duplicate"], 10).await;
            assert_eq!(s.matches("≈dup").count(), 0, "{s}");
            person.press(KeyCode::Char('i'));
            (0..200).for_each(|_| person.press(KeyCode::Backspace));
            person.press(KeyCode::Enter);
            let s = person.wait_for(&["Spiral ≈dup"], 10).await;
            assert_eq!(s.matches("≈dup").count(), 1, "the decision is kept for Pattern only: {s}");

            // The mouse: a tab, a row clicked twice (inspect), the wheel, another tab.
            person.click(MouseEventKind::Down(MouseButton::Left), 3, 0);
            let s = person.wait_for(&["Library · 3 videos"], 10).await;
            let row = |s: &str, title: &str| s.lines().position(|l| l.contains(&format!("│{title} "))).unwrap() as u16;
            let spiral = row(&s, "Spiral");
            person.click(MouseEventKind::Down(MouseButton::Left), 5, spiral);
            person.click(MouseEventKind::Down(MouseButton::Left), 5, spiral);
            person.wait_for(&["Spiral · any key closes"], 20).await;
            person.click(MouseEventKind::Down(MouseButton::Left), 5, spiral);
            let s = person.wait_without("any key closes", 10).await; // a click closes the inspector
                                                                     // Spiral is the last row (titles in order): the wheel moves up to the one above.
            let above = s.lines().nth(spiral as usize - 1).unwrap().to_string();
            person.click(MouseEventKind::ScrollUp, 5, spiral);
            person.press(KeyCode::Enter);
            let next = ["Bars", "Pattern"].into_iter().find(|t| above.contains(&format!("│{t} "))).unwrap();
            person.wait_for(&[&format!("{next} · any key closes")], 20).await;
            person.press(KeyCode::Esc);
            person.click(MouseEventKind::Down(MouseButton::Left), 14, 0);
            person.wait_for(&["Runs (* active"], 10).await;
            person.press(KeyCode::Char('q'));
            (shots, trained, answered)
        };
        let (ended, shots) = tokio::join!(dashboard, script);
        ended.expect("the dashboard loop ends cleanly when q is pressed");
        shots
    });
    let (snapshots, trained, answered) = snapshots;
    // The snapshots keep the layout; the figures that matter are checked against the catalog
    // and the command line's answer here.
    trained_figures_are_the_runs(backend, &lib_root, &trained);
    answered_scores_are_the_command_lines(backend, &lib_root, &answered);
    layout_is_kept(snapshots);
}
}

/// The screens match their snapshots (named from this module, the same for either catalog).
fn layout_is_kept(snapshots: Vec<(&str, String)>) {
    for (name, shot) in snapshots {
        insta::assert_snapshot!(name, shot);
    }
}

/// The training pane's figures are the run's recorded ones: its row in the runs table and the
/// status line give the last epoch's test, top-10 and macro accuracies as the catalog holds them.
fn trained_figures_are_the_runs(backend: &Backend, lib: &std::path::Path, screen: &str) {
    use reelmatch::types::pct;
    let config = test_config(&backend.catalog_toml());
    let library = Library::open(lib).unwrap();
    let mut cat = reelmatch::backend::Backend::of(&config).runs(&library).unwrap();
    let runs = cat.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].id, runs[0].epochs_done, runs[0].classes.len()), (1, 3, 3));
    let epochs = cat.run_epochs(1).unwrap();
    let last = epochs.last().unwrap();
    let row = screen.lines().find(|l| l.contains("│*1 ")).unwrap_or_else(|| panic!("no row for run 1:\n{screen}"));
    let cells: Vec<&str> = row.trim_matches(|c| c == '"' || c == '│').split_whitespace().collect();
    assert_eq!(&cells[..4], ["*1", "done", "3", "3"], "{row}");
    let figures = [last.test_accuracy, last.top10_class_accuracy, last.macro_accuracy].map(pct);
    assert_eq!(cells[cells.len() - 3..], figures, "{row}");
    assert!(screen.contains(&format!("test accuracy {}", figures[0])), "{screen}");
    assert_eq!(last.top10_class_accuracy, last.macro_accuracy, "3 classes: the top 10 are all of them");
    assert!(last.test_accuracy.unwrap() >= 0.9, "three unlike clips are told apart: {figures:?}");
}

/// The query pane's ranks and scores are those `similar --json` gives for the same query (in
/// the same space, the active run's head), to the three decimals shown.
fn answered_scores_are_the_command_lines(backend: &Backend, lib: &std::path::Path, screen: &str) {
    let out = backend.cmd(lib).args(["--offline", "similar", "Bars", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = json["results"].as_array().unwrap_or_else(|| panic!("{json}"));
    assert_eq!(results.len(), 2, "{json}");
    for (rank, r) in results.iter().enumerate() {
        let title = r["title"].as_str().unwrap();
        let row = screen
            .lines()
            .find(|l| l.contains(&format!(" {title} ≈dup")))
            .unwrap_or_else(|| panic!("no row for {title}:\n{screen}"));
        let cells: Vec<&str> = row.split('│').nth(3).unwrap().split_whitespace().collect();
        assert_eq!(cells[0], (rank + 1).to_string(), "{title}'s rank: {row}");
        let shown = |i: usize| cells[i].parse::<f64>().unwrap();
        assert_eq!(r["rank"].as_u64(), Some(rank as u64 + 1), "{r}");
        let (fused, visual) = (r["score"].as_f64().unwrap(), r["visual"].as_f64().unwrap());
        assert!((shown(cells.len() - 3) - fused).abs() <= 0.0005 + 1e-9, "{title}: fused {fused}: {row}");
        assert!((shown(cells.len() - 2) - visual).abs() <= 0.0005 + 1e-9, "{title}: visual {visual}: {row}");
    }
}
