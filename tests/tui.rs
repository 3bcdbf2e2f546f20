//! The dashboard drawn into ratatui's `TestBackend` from scripted events, checked with insta
//! snapshots (review changes with `cargo insta review`).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use image::{DynamicImage, Rgb, RgbImage};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use ratatui_image::picker::Picker;
use reelmatch::catalog::{RunStatus, Stage, Status, VideoRow};
use reelmatch::events::Event;
use reelmatch::pipeline::{QueryAnswer, QueryRequest};
use reelmatch::search::{FrameHit, Hit, LineHit, Results, Weights};
use reelmatch::train::metrics::{ClassAccuracy, Confused, EpochMetrics};
use reelmatch::tui::app::{Action, App, Command, Msg, Pane};
use reelmatch::tui::training::RunItem;
use reelmatch::tui::view::draw;
use std::collections::HashMap;

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
        frames_embedded: frames.0 + frames.1,
        transcript_language: (status == Status::Ready && id != 2).then(|| "en".to_string()),
        // Video 1's language was detected (a multilingual checkpoint), the others' set.
        transcript_language_probability: (id == 1).then_some(0.97),
        transcript_flag: None,
        lyrics_embedded: false,
        mtime_ns: None,
    }
}

fn render(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw(f, app)).unwrap();
    terminal.backend().to_string()
}

fn library() -> Vec<VideoRow> {
    vec![
        video(1, "Starboy", Status::Ready, (191, 21), None),
        video(2, "Bikes (instrumental)", Status::Ready, (18, 2), None),
        video(3, "Can't Feel My Face", Status::Pending, (0, 0), None),
        video(4, "broken", Status::Failed, (0, 0), Some("not a readable video (ffprobe: moov atom not found)")),
    ]
}

fn ingesting() -> App {
    let mut app = App::new("/data/library".into(), library());
    app.on_event(&Event::IngestPlanned { files: 4, to_process: 2, up_to_date: 2 });
    app.on_event(&Event::VideoStarted { id: 3, title: "Can't Feel My Face".into() });
    app.on_event(&Event::VideoStage { id: 3, stage: reelmatch::types::Step::Frames });
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
    let mut app = App::new("/data/library".into(), vec![]);
    let screen = render(&mut app, 100, 12);
    assert!(screen.contains("The library is empty"));
    insta::assert_snapshot!(screen);
}

#[test]
fn ingesting_with_a_failure() {
    let screen = render(&mut ingesting(), 120, 14);
    assert!(screen.contains("frames ▰▰▱▱▱▱ 87/213") && screen.contains("ingesting: 1/2 videos"));
    assert!(screen.contains("last error: /music/broken.mp4"));
    assert!(screen.contains("✓ en") && screen.contains("no audio"), "transcript status per video");
    insta::assert_snapshot!(screen.lines().filter(|l| !l.contains("ingesting:")).collect::<Vec<_>>().join("\n"));
}

fn progress(video: i64, title: &str, status: &str, worker: &str, frames: i64) -> Msg {
    let (title, status, worker) = (title.into(), status.into(), Some(worker.into()));
    Msg::Worker(reelmatch::shared::progress::Progress { video, title, status, worker, frames, error: None })
}

/// On a shared catalog the library pane has a Worker column and the workers' log under it;
/// announcements move the rows, and the selection stays on its video when the list is read
/// again with a new video sorted first.
#[test]
fn a_shared_catalog_shows_its_workers_live() {
    let mut app = App::new("postgres://u@h/db".into(), Vec::new());
    app.library.with_workers = true;
    let screen = render(&mut app, 120, 24);
    assert!(screen.contains("Workers · 0 videos, 0 frames: none yet"), "{screen}");
    assert!(screen.contains("one of the catalog's workers"), "{screen}");
    let pending = |id, title| video(id, title, Status::Pending, (0, 0), None);
    app.set_videos(vec![pending(1, "a"), pending(2, "b")]);
    app.update(Action::Down);
    app.on_msg(progress(2, "b", "working", "nas-2:77", 0));
    assert_eq!(app.library.workers.get(&2).map(String::as_str), Some("nas-2:77"));
    assert_eq!(app.library.activity[0], "b: working by nas-2:77");
    let screen = render(&mut app, 120, 24);
    for part in ["Worker", "nas-2:77", "b: working by nas-2:77", "Workers · 2 videos, 0 frames: 1 working · 1 pending"]
    {
        assert!(screen.contains(part), "{part:?} not on screen:\n{screen}");
    }
    app.on_msg(progress(2, "b", "ready", "nas-2:77", 7));
    assert_eq!(
        (app.library.videos[1].status, app.library.workers.get(&2)),
        (Status::Ready, None),
        "done: no longer held"
    );
    assert_eq!(app.library.activity[0], "b: ready (7 frames) by nas-2:77");
    // A re-read with a new video sorted first: the selection stays on "b".
    app.on_msg(Msg::Overview(Ok(reelmatch::pipeline::Overview {
        videos: vec![pending(3, "0"), pending(1, "a"), video(2, "b", Status::Ready, (6, 1), None)],
        runs: None,
        not_duplicates: Default::default(),
        workers: HashMap::from([(3, "nas-1:5".to_string())]),
    })));
    assert_eq!(app.library.videos[app.library.selected].title, "b");
    let screen = render(&mut app, 120, 24);
    assert!(screen.contains("nas-1:5") && screen.contains("3 videos, 7 frames: 1 ready · 2 pending"), "{screen}");
}

#[test]
fn small_terminal_collapses_columns() {
    let screen = render(&mut ingesting(), 80, 24);
    assert!(screen.contains("Starboy") && !screen.contains("Length"));
    insta::assert_snapshot!(screen.lines().filter(|l| !l.contains("ingesting:")).collect::<Vec<_>>().join("\n"));
}

#[test]
fn help_overlay() {
    let mut app = ingesting();
    app.update(Action::ToggleHelp);
    let screen = render(&mut app, 100, 18);
    assert!(screen.contains("next / previous pane") && screen.contains("more visual / more lyrics weight"));
    insta::assert_snapshot!(screen.lines().filter(|l| !l.contains("ingesting:")).collect::<Vec<_>>().join("\n"));
}

fn epoch(e: u32, train: f64, test: f64) -> EpochMetrics {
    let titles = ["Starboy", "Bikes", "Blinding Lights", "Save Your Tears", "After Hours", "Sacrifice"];
    EpochMetrics {
        epoch: e,
        train_loss: 1.6 / e as f64,
        train_accuracy: train,
        test_loss: Some(1.9 / e as f64),
        test_accuracy: Some(test),
        top10_class_accuracy: Some(test),
        macro_accuracy: Some(test - 0.05),
        per_class: titles
            .iter()
            .enumerate()
            .map(|(i, t)| ClassAccuracy { title: t.to_string(), accuracy: 1.0 - i as f64 * 0.15, frames: 10 })
            .collect(),
        confused: vec![Confused { actual: "Sacrifice".into(), predicted: "Starboy".into(), frames: 3 }],
        seconds: 2.0,
    }
}

fn training_mid_run() -> App {
    let mut app = App::new("/data/library".into(), library());
    app.training.runs = vec![RunItem {
        id: 1,
        status: "done".into(),
        epochs: 5,
        classes: 6,
        settings: "sgd lr 0.0001".into(),
        test_accuracy: Some(0.41),
        top10: Some(0.41),
        macro_accuracy: Some(0.36),
        active: true,
    }];
    app.on_event(&Event::TrainStarted {
        run: 2,
        classes: (0..6).map(|i| format!("video {i}")).collect(),
        train_frames: 900,
        test_frames: 100,
        first_epoch: 1,
        epochs: 5,
        steps_per_epoch: 15,
    });
    for step in 0..38u64 {
        let epoch_no = (step / 15) as u32 + 1;
        app.on_event(&Event::TrainStep { run: 2, epoch: epoch_no, step, loss: 1.8 / (1.0 + step as f32 * 0.2) });
        if step % 15 == 14 {
            let e = epoch_no;
            app.on_event(&Event::TrainEpoch {
                run: 2,
                metrics: epoch(e, 0.5 + 0.15 * e as f64, 0.45 + 0.12 * e as f64),
            });
        }
    }
    app.update(Action::Show(Pane::Training));
    app
}

#[test]
fn training_mid_run_shows_curves_numbers_bars_and_runs() {
    let mut app = training_mid_run();
    let screen = render(&mut app, 120, 36);
    assert!(screen.contains("run 2 · running"));
    assert!(screen.contains("epoch 3/5 · step 8/15"), "{screen}");
    assert!(screen.contains("ETA 5s"), "37 steps left at 2 s per 15 steps: {screen}");
    assert!(screen.contains("Loss per step") && screen.contains("Accuracy per epoch"));
    assert!(screen.contains("Top-10") && screen.contains("Macro (all)"));
    assert!(screen.contains("Starboy") && screen.contains("*1"), "per-class bars and the active past run");
    insta::assert_snapshot!(screen);
}

#[test]
fn training_at_80_by_24_stays_usable() {
    let mut app = training_mid_run();
    let screen = render(&mut app, 80, 24);
    assert!(screen.contins_all(&["epoch 3/5", "69.0%", "Loss per step"]), "{screen}");
    insta::assert_snapshot!(screen);
}

trait ContainsAll {
    fn contins_all(&self, parts: &[&str]) -> bool;
}

impl ContainsAll for String {
    fn contins_all(&self, parts: &[&str]) -> bool {
        parts.iter().all(|p| self.contains(p))
    }
}

fn gradient(w: u32, h: u32, tint: [u8; 3]) -> DynamicImage {
    let mut img = RgbImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = Rgb([(x * 255 / w) as u8 / 2 + tint[0] / 2, (y * 255 / h) as u8 / 2 + tint[1] / 2, tint[2]]);
    }
    DynamicImage::ImageRgb8(img)
}

fn hit(rank: usize, id: i64, title: &str, visual: f32, lyrics: Option<f32>) -> Hit {
    Hit {
        rank,
        id,
        title: title.into(),
        score: 0.0,
        visual: Some(visual),
        lyrics,
        lyrics_doubt: None,
        frames: vec![FrameHit {
            query_t: 4.5,
            match_t: 61.0 + id as f64,
            similarity: visual + 0.05,
            match_file: format!("frames/{id}/000001.jpg"),
        }],
        lines: lyrics
            .map(|l| {
                vec![LineHit {
                    query_text: "I can't feel my face when I'm with you".into(),
                    match_text: "my face goes numb when you are near".into(),
                    similarity: l,
                    match_start: 12.0,
                    match_end: 15.5,
                }]
            })
            .unwrap_or_default(),
        relation: None,
        duplicate: false,
    }
}

fn answered(app: &mut App) {
    let mut results = Results {
        query: "Can't Feel My Face".into(),
        weights: Weights::default(),
        image_model: Some("resnet".into()),
        text_model: Some("bert".into()),
        space: "backbone".into(),
        run: None,
        results: vec![hit(1, 1, "Starboy", 0.81, Some(0.62)), hit(2, 2, "Bikes (instrumental)", 0.74, None)],
    };
    reelmatch::search::rerank(&mut results, Weights::default());
    let mut matches = HashMap::new();
    matches.insert("frames/1/000001.jpg".to_string(), gradient(64, 36, [200, 40, 40]));
    matches.insert("frames/2/000001.jpg".to_string(), gradient(64, 36, [40, 40, 200]));
    let answer = QueryAnswer {
        results,
        query_frames: vec![(4.5, Some(gradient(64, 36, [40, 200, 40])))],
        matches,
        note: None,
        opened: None,
    };
    app.on_msg(Msg::Answer(Ok(Box::new(answer))));
}

#[test]
fn query_results_with_previews_in_half_blocks() {
    let mut app = App::new("/data/library".into(), library());
    app.picker = Some(Picker::halfblocks());
    app.update(Action::Show(Pane::Query));
    answered(&mut app);
    let screen = render(&mut app, 120, 32);
    assert!(screen.contains("Most similar to Can't Feel My Face (backbone)"));
    assert!(screen.contains("query @ 4.5s") && screen.contains("Starboy @ 62.0s · 0.86"), "{screen}");
    assert!(screen.contains('▀') || screen.contains('▄'), "half-block images are drawn: {screen}");
    assert!(screen.contains("\"my face goes"), "the matched lyric line: {screen}");
    insta::assert_snapshot!(screen);

    // Moving the weight to lyrics re-ranks at once; the instrumental keeps its visual score.
    for _ in 0..7 {
        app.update(Action::MoreLyrics);
    }
    assert_eq!(app.query.weights, Weights { visual: 0.0, lyrics: 1.0 });
    let screen = render(&mut app, 120, 32);
    assert!(screen.contains("visual 0.0 · lyrics 1.0"));
    assert_eq!(app.query.hits()[0].title, "Bikes (instrumental)", "0.74 visual-only beats 0.62 lyrics");
}

/// `d` describes a look: the prompt, then the answer in the vision-text space, each result with
/// its best-matching frame beside the words (no query frame to show).
#[test]
fn a_description_ranks_frames_by_words() {
    let mut app = App::new("/data/library".into(), library());
    app.picker = Some(Picker::halfblocks());
    app.update(Action::Show(Pane::Query));
    app.update(Action::Describe);
    for c in "dark blue background with neon colours".chars() {
        app.update(Action::Input(c));
    }
    let screen = render(&mut app, 120, 32);
    assert!(screen.contains("describe: dark blue background with neon colours"), "{screen}");
    let text = "dark blue background with neon colours".to_string();
    assert_eq!(app.update(Action::Submit), Some(Command::Query(QueryRequest::Describe { text, lyrics: None })));
    let mut results = Results {
        query: "described as \"dark blue background with neon colours\"".into(),
        weights: Weights::default(),
        image_model: Some("vision-text:siglip2".into()),
        text_model: Some("bert".into()),
        space: "vision-text".into(),
        run: None,
        results: vec![hit(1, 2, "Bikes (instrumental)", 0.31, None), hit(2, 1, "Starboy", 0.12, None)],
    };
    for h in &mut results.results {
        h.frames[0].query_t = 0.0;
    }
    reelmatch::search::rerank(&mut results, Weights::default());
    let mut matches = HashMap::new();
    matches.insert("frames/2/000001.jpg".to_string(), gradient(64, 36, [20, 20, 160]));
    let answer = QueryAnswer { results, query_frames: vec![(0.0, None)], matches, note: None, opened: None };
    app.on_msg(Msg::Answer(Ok(Box::new(answer))));
    let screen = render(&mut app, 120, 32);
    assert!(
        screen.contains("Most similar to described as \"dark blue background with neon colours\" (vision-text)"),
        "{screen}"
    );
    assert!(screen.contains("Bikes (instrumental) @ 63.0s · 0.36"), "{screen}");
    assert!(
        screen.contains(" described as ") && screen.contains("│\"dark blue background with neon colours\""),
        "the words beside the frame: {screen}"
    );
    assert!(screen.contains('▀') || screen.contains('▄'), "the matched frame is drawn: {screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn a_training_run_that_ends_is_reported() {
    let mut app = training_mid_run();
    app.on_event(&Event::TrainFinished { run: 2, status: RunStatus::Stopped, epochs_done: 2 });
    assert!(render(&mut app, 100, 30).contains("run 2 · stopped"));
}

#[test]
fn quit_asks_first_while_work_runs() {
    let mut app = ingesting();
    app.update(Action::StartTraining);
    app.update(Action::Quit);
    let screen = render(&mut app, 100, 12);
    assert!(screen.contains("training is running. Stop it and quit? (y/n)"), "{screen}");
}

/// Any size draws without a panic and fills exactly the terminal; from 40×5 the tabs are
/// there, and from 80×24 the pane's own title too.
#[test]
fn tiny_and_resized_terminals_do_not_panic() {
    let check = |app: &mut App, title: &str| {
        for (w, h) in [(1, 1), (10, 3), (40, 5), (80, 24), (250, 60)] {
            let screen = render(app, w, h);
            let lines: Vec<&str> = screen.lines().collect();
            assert_eq!(lines.len(), h as usize, "{w}×{h}:\n{screen}");
            assert!(lines.iter().all(|l| l.chars().count() >= w as usize), "{w}×{h}: a full row each:\n{screen}");
            if w >= 40 && h >= 5 {
                assert!(lines[0].contains("Library") && lines[0].contains("Training"), "{w}×{h}:\n{screen}");
            }
            if w >= 80 && h >= 24 {
                assert!(screen.contains(title), "{w}×{h}: no {title:?}:\n{screen}");
            }
        }
    };
    check(&mut ingesting(), "Library ·");
    check(&mut training_mid_run(), "Training · run");
    let mut app = App::new("/l".into(), library());
    app.picker = Some(Picker::halfblocks());
    app.update(Action::Show(Pane::Query));
    answered(&mut app);
    check(&mut app, "Most similar to");
}

/// A long error is cut after a word in the status bar, never inside one, with `e` to read it;
/// the errors view shows it whole and closing it clears the bar; a query's error clears when a
/// query is asked again.
#[test]
fn long_errors_are_cut_at_a_word_and_read_whole_with_e() {
    let text = "the text model is not available: the text model (google-bert/bert-base-uncased) has no model.safetensors; set [models.text] path in the config";
    let mut app = App::new("/data/library".into(), library());
    app.on_msg(Msg::Answer(Err(reelmatch::error::Error::Invalid(text.into()))));
    let screen = render(&mut app, 100, 12);
    let status = screen.lines().last().unwrap().trim_matches('"');
    assert!(status.contains("e errors"), "{status}");
    let shown = status.split("last error: ").nth(1).unwrap().split('…').next().unwrap();
    assert!(status.contains('…') && shown.len() > 20, "cut, with most of the room used: {status}");
    assert!(text.starts_with(shown) && text[shown.len()..].starts_with(' '), "cut after a word: {shown:?}");

    app.update(Action::ShowErrors);
    let screen = render(&mut app, 100, 20);
    let joined: String =
        screen.lines().map(|l| l.trim_matches('"').trim_matches('│').trim()).collect::<Vec<_>>().join(" ");
    assert!(joined.contains("model.safetensors; set [models.text] path in the config"), "whole:\n{screen}");
    app.update(Action::CloseOverlay);
    assert_eq!(app.last_error(), None, "read: cleared from the status bar");
    assert_eq!(app.errors.all.len(), 1, "the view keeps it");

    app.on_msg(Msg::Answer(Err(reelmatch::error::Error::Invalid("the query failed".into()))));
    app.update(Action::Show(Pane::Query));
    assert!(app.update(Action::Select).is_some(), "a query is asked again");
    assert_eq!(app.last_error(), None, "asking again clears the query's error");
}

/// The inspector wraps a long error and the banner wraps a long warning: neither ends mid-word.
#[test]
fn the_inspector_and_banners_wrap_long_text() {
    let long = "not a readable video (ffprobe: moov atom not found; the file is cut short or still being written; copy it again and press r)";
    let mut app = App::new("/data/library".into(), library());
    app.banner = vec!["the image model is a random stand-in this run: rankings are by colour and layout, not content (set [models.image] path in the config)".into()];
    let mut video = library().remove(3);
    video.error = Some(long.into());
    let info = reelmatch::pipeline::Inspection {
        video,
        transcript: None,
        segments: Vec::new(),
        thumbnails: Vec::new(),
        set_aside: Default::default(),
    };
    app.on_msg(Msg::Inspected(Ok(Box::new(info))));
    let screen = render(&mut app, 80, 24);
    let joined: String =
        screen.lines().map(|l| l.trim_matches('"').trim_matches('│').trim()).collect::<Vec<_>>().join(" ");
    assert!(joined.contains("copy it again and press r)"), "the error's end:\n{screen}");
    assert!(joined.contains("(set [models.image] path in the config)"), "the banner's end:\n{screen}");
}

/// At 80×24 the query pane keeps its first keys whole (`o play` first), the matched frame its
/// score, and the training pane its first keys.
#[test]
fn panes_at_80_by_24_keep_their_keys_and_scores() {
    let mut app = App::new("/data/library".into(), library());
    app.picker = Some(Picker::halfblocks());
    app.update(Action::Show(Pane::Query));
    answered(&mut app);
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("o play · O play query") && screen.contains("? more"), "{screen}");
    assert!(screen.contains("Starboy @ 62.0s · 0.86"), "{screen}");
    insta::assert_snapshot!(screen);
    let mut app = training_mid_run();
    let screen = render(&mut app, 80, 24);
    let progress = screen.lines().nth(2).unwrap();
    assert!(progress.contains("t train · s stop · p preset"), "whole hints: {progress}");
}

/// A result's relation to the query video is in its row, in a column of its own: what it is and
/// where the query falls.
#[test]
fn a_results_relation_is_in_its_row() {
    let mut app = App::new("/data/library".into(), library());
    app.update(Action::Show(Pane::Query));
    answered(&mut app);
    let answer = app.query.answer.as_mut().unwrap();
    answer.results.results[0].relation = Some(reelmatch::search::relation::Related {
        relation: reelmatch::search::relation::Relation::Excerpt,
        by: reelmatch::search::relation::Evidence::Frames,
        offset_s: 17.2,
        placed: true,
        query_start_s: 0.0,
        result_start_s: 17.2,
        seconds: 11.8,
    });
    let screen = render(&mut app, 120, 32);
    // The results pane's row holding `title` (right of the video list).
    let row = |screen: &str, title: &str| {
        screen
            .lines()
            .filter_map(|l| l.split_once("││"))
            .map(|(_, r)| r)
            .find(|r| r.contains(title))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row(&screen, "Title").contains("Relation"), "{screen}");
    assert!(row(&screen, "Starboy").contains("excerpt +17s"), "{screen}");
    assert!(!row(&screen, "Bikes").contains("excerpt"), "{screen}");
    // Asked with a library video, an excerpt is a duplicate whatever its visual score (0.81
    // here, under the 0.95 threshold): the rule `similar` and `dupes` go by, on frames too.
    app.query.asked_video = Some(9);
    app.query.duplicate_threshold = 0.95;
    let screen = render(&mut app, 120, 32);
    assert!(row(&screen, "Starboy ≈dup").contains("excerpt +17s"), "{screen}");
    insta::assert_snapshot!(screen);
    assert!(!screen.contains("Bikes (instrumental) ≈dup"), "{screen}");
    app.query.decided.insert((1, 9));
    let screen = render(&mut app, 120, 32);
    assert!(!screen.contains("≈dup"), "marked not duplicates: {screen}");
    // Frames alike all along hold the one in the other without a place; the column says so.
    app.query.answer.as_mut().unwrap().results.results[0].relation.as_mut().unwrap().placed = false;
    let screen = render(&mut app, 120, 32);
    assert!(row(&screen, "Starboy").contains("excerpt (unplaced)"), "{screen}");
    // With no relation at all, no column for them.
    app.query.answer.as_mut().unwrap().results.results[0].relation = None;
    let screen = render(&mut app, 120, 32);
    assert!(!screen.contains("Relation"), "{screen}");
}
