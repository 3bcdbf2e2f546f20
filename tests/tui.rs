//! The dashboard drawn into ratatui's `TestBackend` from scripted events, checked with insta
//! snapshots (review changes with `cargo insta review`).

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use reelmatch::catalog::{Stage, Status, VideoRow};
use reelmatch::events::Event;
use reelmatch::tui::app::{Action, App, Pane};
use reelmatch::tui::view::draw;

fn video(id: i64, title: &str, status: Status, frames: (i64, i64), error: Option<&str>) -> VideoRow {
    VideoRow {
        id,
        title: title.into(),
        path: format!("/music/{title}.mp4").into(),
        duration_s: Some(212.0 + id as f64),
        sample_fps: Some(1.0),
        frames_train: frames.0,
        frames_test: frames.1,
        status,
        error: error.map(String::from),
        stage: if status == Status::Ready { Stage::DONE } else { Stage::New },
        content_hash: None,
        size_bytes: None,
        fps: Some(25.0),
        width: Some(1280),
        height: Some(720),
        has_audio: Some(id != 2),
        audio_samples: None,
        frames_embedded: 0,
        transcript_language: None,
        transcript_flag: None,
        lyrics_embedded: false,
        mtime_ns: None,
    }
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw(f, app)).unwrap();
    terminal.backend().to_string()
}

fn ingesting() -> App {
    let mut app = App::new(
        "/data/library".into(),
        vec![
            video(1, "Starboy", Status::Ready, (191, 21), None),
            video(2, "Bikes (instrumental)", Status::Ready, (18, 2), None),
            video(3, "Can't Feel My Face", Status::Pending, (0, 0), None),
            video(4, "broken", Status::Failed, (0, 0), Some("not a readable video (ffprobe: moov atom not found)")),
        ],
    );
    app.on_event(&Event::IngestPlanned { files: 4, to_process: 2, up_to_date: 2 });
    app.on_event(&Event::VideoStarted { id: 3, title: "Can't Feel My Face".into() });
    app.on_event(&Event::VideoStage { id: 3, stage: "frames" });
    app.on_event(&Event::VideoFrames { id: 3, done: 87, expected: 213 });
    app.on_event(&Event::VideoFailed {
        id: Some(4),
        path: "/music/broken.mp4".into(),
        reason: "not a readable video (ffprobe: moov atom not found)".into(),
    });
    app
}

#[test]
fn empty_library() {
    let app = App::new("/data/library".into(), vec![]);
    let screen = render(&app, 100, 12);
    assert!(screen.contains("The library is empty"));
    insta::assert_snapshot!(screen);
}

#[test]
fn ingesting_with_a_failure() {
    let screen = render(&ingesting(), 120, 14);
    assert!(screen.contains("frames 87/213") && screen.contains("ingesting: 1/2 videos"));
    assert!(screen.contains("last error: /music/broken.mp4"));
    insta::assert_snapshot!(screen);
}

#[test]
fn small_terminal_collapses_columns() {
    let screen = render(&ingesting(), 80, 24);
    assert!(screen.contains("Starboy") && !screen.contains("Length"));
    insta::assert_snapshot!(screen);
}

#[test]
fn help_overlay() {
    let mut app = ingesting();
    app.update(Action::ToggleHelp);
    let screen = render(&app, 100, 16);
    assert!(screen.contains("next / previous pane"));
    insta::assert_snapshot!(screen);
}

#[test]
fn other_panes_say_what_is_coming_and_quit_asks_first() {
    let mut app = ingesting();
    app.update(Action::Show(Pane::Training));
    assert!(render(&app, 100, 10).contains("No training runs yet"));
    app.update(Action::Quit);
    let screen = render(&app, 100, 10);
    assert!(screen.contains("Stop it and quit? (y/n)"));
}

#[test]
fn tiny_and_resized_terminals_do_not_panic() {
    let app = ingesting();
    for (w, h) in [(1, 1), (10, 3), (40, 5), (80, 24), (250, 60)] {
        render(&app, w, h);
    }
}
