//! The dashboard's real event loop in ratatui's `TestBackend`, driven as a person would through
//! ingest → train → query on a generated library: keys go in, the jobs run on blocking threads
//! with real ffmpeg and Candle, and the frames that come out are checked with insta snapshots.
//! The loop runs on this test's thread, which it marks as the drawing thread: a catalog or
//! folder read there panics (see `reelmatch::blocking`), so this test also shows that none runs.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

mod common;

use common::{random_resnet, test_config, three_clips};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
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

impl Backend for Watched {
    type Error = <TestBackend as Backend>::Error;

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

    fn type_text(&self, text: &str) {
        text.chars().for_each(|c| self.press(KeyCode::Char(c)));
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

#[test]
fn the_event_loop_ingests_trains_and_answers_a_query() {
    let work = tempfile::tempdir().unwrap();
    three_clips(&work.path().join("media videos"));
    let weights = work.path().join("resnet.safetensors");
    random_resnet(&weights);
    let config = test_config("[train]\nepochs = 3\naugmented_views = 0\nmin_train_frames = 3\n");
    let image =
        ImageEmbedder::load_weights(&weights, &candle_core::Device::Cpu, &config.image, 16, "random".into()).unwrap();
    let library = Library::open(work.path().join("lib")).unwrap();
    let options = Options {
        graphics: reelmatch::images::Graphics::Halfblocks,
        presets: vec![("default".into(), config.clone())],
        models: Some(Models::none().with_image(image)),
        start: Vec::new(),
        banner: Vec::new(),
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
            let s = person
                .wait_for(&["ingest finished: 3 ingested, 0 failed, 0 up to date", "Library · 3 videos"], 120)
                .await;
            assert_eq!(s.matches("ready").count(), 3, "{s}");
            shots.push(("ingested", stable(&s, false)));

            // Training pane: start a run and watch it end.
            person.press(KeyCode::Char('2'));
            person.wait_for(&["No run yet", "t train · s stop · p preset: default"], 10).await;
            person.press(KeyCode::Char('t'));
            let s = person.wait_for(&["run 1 · done", "epoch 3/3", "*1", "Top-10", "Macro (all)"], 120).await;
            assert!(s.contains("run 1: done after 3 epoch(s)"), "the job's summary is the status line: {s}");
            shots.push(("trained", stable(&s, true)));

            // Query pane: search with the first video; the results and their frames come back.
            person.press(KeyCode::Char('3'));
            person.wait_for(&["Query: a video", "Bars"], 10).await;
            person.press(KeyCode::Enter);
            let s = person.wait_for(&["Most similar to Bars", "Spiral", "Pattern", "query @"], 60).await;
            assert!(s.contains('▀') || s.contains('▄'), "frames are drawn in half blocks: {s}");
            shots.push(("answered", stable(&s, true)));

            // The full-screen preview is drawn by the same picker; any key returns.
            person.press(KeyCode::Enter);
            let s = person.wait_for(&["Any key returns."], 10).await;
            assert!(!s.contains("Most similar to"), "the preview covers the dashboard: {s}");
            person.press(KeyCode::Char('x'));
            person.wait_for(&["Most similar to Bars"], 10).await;
            person.press(KeyCode::Char('q'));
            shots
        };
        let (ended, shots) = tokio::join!(dashboard, script);
        ended.expect("the dashboard loop ends cleanly when q is pressed");
        shots
    });
    for (name, shot) in snapshots {
        insta::assert_snapshot!(name, shot);
    }
}
