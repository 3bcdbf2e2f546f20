//! The catalog interface, checked once and run on both implementations (as object_store runs
//! one suite against every store): a run recorded through each catalog's own writer reads back
//! the same through [`RunRecords`], with the same active run, details and list rows.

use crate::common::postgres;
use reelmatch::catalog::{Catalog, NewRun, RunRecords, RunRow, VideoRecords};
use reelmatch::shared::SharedCatalog;
use reelmatch::types::{EpochMetrics, FitSettings, RunStatus};

/// What a catalog's own writer records: a run of two classes that finished two epochs with a
/// head, and a newer one that stopped before its first epoch (so it has no head).
trait Writer: RunRecords {
    fn record_done(&mut self, settings: &FitSettings, epochs: &[EpochMetrics], steps: &[(u64, u32, f32)]) -> i64;
    fn record_stopped(&mut self, settings: &FitSettings) -> i64;
}

const CLASSES: [&str; 2] = ["Blue Song", "Red Song"];

impl Writer for Catalog {
    fn record_done(&mut self, settings: &FitSettings, epochs: &[EpochMetrics], steps: &[(u64, u32, f32)]) -> i64 {
        let classes: Vec<String> = CLASSES.map(String::from).to_vec();
        let new = NewRun { image_model: "m", settings, classes: &classes, class_ids: &[1, 2], left_out: &[] };
        let id = self.insert_run(&new).unwrap();
        for (i, m) in epochs.iter().enumerate() {
            let here: Vec<_> = steps.iter().copied().filter(|s| s.1 == m.epoch).collect();
            self.store_epoch(id, &here, m, i as u32 + 1).unwrap();
        }
        self.finish_run(id, RunStatus::Done, None, Some("runs/1/head.safetensors")).unwrap();
        id
    }
    fn record_stopped(&mut self, settings: &FitSettings) -> i64 {
        let classes: Vec<String> = CLASSES.map(String::from).to_vec();
        let new = NewRun { image_model: "m", settings, classes: &classes, class_ids: &[1, 2], left_out: &[] };
        let id = self.insert_run(&new).unwrap();
        self.finish_run(id, RunStatus::Stopped, Some("stopped by the user"), None).unwrap();
        id
    }
}

impl Writer for SharedCatalog {
    fn record_done(&mut self, settings: &FitSettings, epochs: &[EpochMetrics], steps: &[(u64, u32, f32)]) -> i64 {
        let id = self.insert_run(&row(settings), &[1, 2], "conformance").unwrap();
        for (i, m) in epochs.iter().enumerate() {
            let here: Vec<_> = steps.iter().copied().filter(|s| s.1 == m.epoch).collect();
            self.store_steps(id, &here).unwrap();
            self.store_epoch(id, m, i as u32 + 1, b"head bytes").unwrap();
        }
        self.finish_run(id, RunStatus::Done, None).unwrap();
        id
    }
    fn record_stopped(&mut self, settings: &FitSettings) -> i64 {
        let id = self.insert_run(&row(settings), &[1, 2], "conformance").unwrap();
        self.finish_run(id, RunStatus::Stopped, Some("stopped by the user")).unwrap();
        id
    }
}

/// A new run's row as the shared catalog's writer takes it.
fn row(settings: &FitSettings) -> RunRow {
    RunRow {
        id: 0,
        started_at: String::new(),
        finished_at: None,
        status: RunStatus::Running,
        error: None,
        image_model: "m".into(),
        settings: settings.clone(),
        classes: CLASSES.map(String::from).to_vec(),
        class_ids: vec![1, 2],
        left_out: Vec::new(),
        epochs_done: 0,
        head_file: None,
    }
}

fn epoch(n: u32, accuracy: f64) -> EpochMetrics {
    EpochMetrics {
        epoch: n,
        train_loss: 1.0 / n as f64,
        train_accuracy: accuracy,
        test_loss: Some(1.5 / n as f64),
        test_accuracy: Some(accuracy),
        top10_class_accuracy: Some(accuracy),
        macro_accuracy: Some(accuracy - 0.1),
        per_class: Vec::new(),
        confused: Vec::new(),
        seconds: 0.25,
    }
}

/// The suite: what any catalog's run record must answer.
fn conforms(catalog: &mut dyn Writer) {
    let settings = FitSettings {
        optimizer: "adamw".into(),
        learning_rate: 0.001,
        epochs: 2,
        batch_size: 8,
        seed: 7,
        ..Default::default()
    };
    let epochs = [epoch(1, 0.5), epoch(2, 0.75)];
    let steps = [(1, 1, 2.0), (2, 1, 1.5), (3, 2, 1.0), (4, 2, 0.5)];
    assert!(catalog.runs().unwrap().is_empty() && catalog.active_run().unwrap().is_none());

    let done = catalog.record_done(&settings, &epochs, &steps);
    let stopped = catalog.record_stopped(&settings);
    let runs = catalog.runs().unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [stopped, done], "newest first");
    let (latest, first) = (&runs[0], &runs[1]);
    assert_eq!((first.status, first.epochs_done, first.head_file.is_some()), (RunStatus::Done, 2, true));
    assert_eq!((latest.status, latest.head_file.is_some()), (RunStatus::Stopped, false));
    assert_eq!(latest.error.as_deref(), Some("stopped by the user"));
    assert_eq!((first.classes.as_slice(), first.class_ids.as_slice()), (&CLASSES.map(String::from)[..], &[1, 2][..]));
    assert_eq!(first.settings, settings);
    assert_eq!(catalog.run(done).unwrap().as_ref(), Some(first));
    assert_eq!(catalog.run(done + 100).unwrap(), None);

    assert_eq!(catalog.run_epochs(done).unwrap(), epochs);
    assert_eq!(catalog.run_steps(done).unwrap(), steps);
    let detail = catalog.run_detail(done).unwrap().unwrap();
    assert_eq!((detail.run.id, detail.history.len(), detail.steps.len()), (done, 2, 4));
    assert_eq!(catalog.run_detail(done + 100).unwrap(), None);

    // The active run: the newest one with a head, whichever is chosen without one.
    assert_eq!(catalog.active_run().unwrap().map(|r| r.id), Some(done));
    catalog.set_active_run(Some(stopped)).unwrap();
    assert_eq!(catalog.active_run().unwrap().map(|r| r.id), Some(done), "a run with no head is never active");
    catalog.set_active_run(Some(done)).unwrap();
    catalog.set_active_run(None).unwrap();
    assert_eq!(catalog.active_run().unwrap().map(|r| r.id), Some(done));

    let items = catalog.run_items().unwrap();
    assert_eq!(items.len(), 2);
    let item = items.iter().find(|i| i.id == done).unwrap();
    assert!(item.active && !items.iter().find(|i| i.id == stopped).unwrap().active);
    assert_eq!((item.status.as_str(), item.epochs, item.classes), ("done", 2, 2));
    assert_eq!((item.test_accuracy, item.top10, item.macro_accuracy), (Some(0.75), Some(0.75), Some(0.65)));
    assert_eq!(item.settings, "adamw lr 0.001");
}

#[test]
fn runs_conform_on_the_embedded_catalog() {
    let dir = tempfile::tempdir().unwrap();
    conforms(&mut Catalog::open(&dir.path().join("catalog.sqlite")).unwrap());
}

#[test]
fn runs_conform_on_postgres() {
    let pg = postgres();
    let (mut catalog, _) = SharedCatalog::open_and_migrate(&pg.url()).unwrap();
    conforms(&mut catalog);
}

/// The ingest stages' records of one video, as an embedded catalog and a worker's staged video
/// keep them: every write reads back the same through [`VideoRecords`], in both.
fn video_records_conform(records: &dyn VideoRecords, id: i64) {
    use reelmatch::catalog::{FrameRecord, Split, Stage, Status, WHOLE};
    use reelmatch::types::{Fingerprint, Probe, Segment, Transcript};
    let v = records.video(id).unwrap().expect("the video's row");
    assert_eq!((v.stage, v.status, v.frames_train + v.frames_test), (Stage::New, Status::Pending, 0));
    assert_eq!(records.video(id + 1000).unwrap(), None);

    let probe = Probe {
        duration_s: 4.0,
        fps: Some(25.0),
        width: 320,
        height: 240,
        has_audio: true,
        codec: "h264".into(),
        format: "mp4".into(),
    };
    records.set_probed(id, &probe, 2.0).unwrap();
    let v = records.video(id).unwrap().unwrap();
    assert_eq!((v.duration_s, v.fps, v.width, v.height), (Some(4.0), Some(25.0), Some(320), Some(240)));
    assert_eq!((v.has_audio, v.sample_fps, v.stage), (Some(true), Some(2.0), Stage::Probed));

    let frames: Vec<FrameRecord> = (0..8)
        .map(|i| FrameRecord {
            video_id: id,
            idx: i,
            t_s: i as f64 * 0.5,
            split: if i == 3 { Split::Test } else { Split::Train },
            file: format!("frames/{id}/{i:06}.jpg"),
        })
        .collect();
    records.store_frames(id, &frames).unwrap();
    let v = records.video(id).unwrap().unwrap();
    assert_eq!((v.frames_train, v.frames_test, v.stage, v.frames_embedded), (7, 1, Stage::Frames, 0));
    let stored = records.frames(id).unwrap();
    assert_eq!(
        stored.iter().map(|f| (f.idx, f.t_s, f.split, f.file.as_str())).collect::<Vec<_>>(),
        frames.iter().map(|f| (f.idx, f.t_s, f.split, f.file.as_str())).collect::<Vec<_>>()
    );

    // Frames embedded in two goes, as the early embedding and the rest do.
    let todo = records.frames_without_embedding(id, "img").unwrap();
    assert_eq!(
        todo.iter().map(|(_, f)| f.as_str()).collect::<Vec<_>>(),
        frames.iter().map(|f| f.file.as_str()).collect::<Vec<_>>()
    );
    let vector = |k: i64| vec![k as f32, 1.0, -0.5];
    let (first, rest) = todo.split_at(3);
    records
        .store_frame_embeddings(
            "img",
            &first.iter().enumerate().map(|(k, (f, _))| (*f, vector(k as i64))).collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(records.frames_without_embedding(id, "img").unwrap(), rest.to_vec());
    records
        .store_frame_embeddings(
            "img",
            &rest.iter().enumerate().map(|(k, (f, _))| (*f, vector(k as i64 + 3))).collect::<Vec<_>>(),
        )
        .unwrap();
    assert!(records.frames_without_embedding(id, "img").unwrap().is_empty());
    let embedded = records.frame_embeddings(id, "img").unwrap();
    assert_eq!(
        embedded.iter().map(|e| (e.idx, e.split, e.vector.clone())).collect::<Vec<_>>(),
        (0..8).map(|i| (i, frames[i as usize].split, vector(i))).collect::<Vec<_>>()
    );
    assert_eq!(records.image_models().unwrap(), [("img".to_string(), 8)]);
    assert_eq!(records.video(id).unwrap().unwrap().frames_embedded, 8);

    let segment = |id: usize, text: &str| Segment {
        id,
        seek: 0,
        start: id as f64,
        end: id as f64 + 1.0,
        text: text.into(),
        tokens: vec![1, 2, id as u32],
        temperature: 0.0,
        avg_logprob: -0.3,
        compression_ratio: 1.2,
        no_speech_prob: 0.01,
    };
    let heard = Transcript {
        language: "en".into(),
        language_probability: None,
        segments: vec![segment(0, " hold me"), segment(1, " closer ")],
    };
    assert!(records.latest_transcript(id).unwrap().is_none());
    records.store_transcript(id, "whisper", &heard, Some("repeats")).unwrap();
    let t = records.transcript(id, "whisper").unwrap().unwrap();
    assert_eq!(
        (t.model.as_str(), t.language.as_str(), t.text.as_str(), t.flag.as_deref(), t.segments),
        ("whisper", "en", "hold me closer", Some("repeats"), 2)
    );
    assert_eq!(records.latest_transcript(id).unwrap(), Some(t));
    assert_eq!(records.segments(id, "whisper").unwrap(), heard.segments);
    assert!(records.transcript(id, "other").unwrap().is_none());

    assert!(!records.has_lyrics_embedding(id, "whisper", "text").unwrap());
    records
        .store_lyrics_embeddings(
            id,
            "whisper",
            "text",
            &[(WHOLE, vec![0.5, 0.5]), (0, vec![1.0, 0.0]), (1, vec![0.0, 1.0])],
        )
        .unwrap();
    assert!(records.has_lyrics_embedding(id, "whisper", "text").unwrap());
    assert_eq!(records.text_models().unwrap(), [("text".to_string(), 1)]);
    assert_eq!(
        records.lyrics_embeddings(id, "text").unwrap(),
        [(WHOLE, vec![0.5, 0.5]), (0, vec![1.0, 0.0]), (1, vec![0.0, 1.0])]
    );
    assert!(records.video(id).unwrap().unwrap().lyrics_embedded);

    let print = Fingerprint { hashes: vec![7, 8, 9], duration_s: 4 };
    assert!(!records.has_fingerprint(id).unwrap());
    records.store_fingerprint(id, &print).unwrap();
    assert_eq!(records.fingerprint(id).unwrap(), Some(print));

    records.set_audio_done(id, Some(64_000)).unwrap();
    let v = records.video(id).unwrap().unwrap();
    assert_eq!((v.status, v.stage, v.audio_samples, v.error), (Status::Ready, Stage::Audio, Some(64_000), None));
    assert_eq!((v.transcript_language.as_deref(), v.transcript_flag.as_deref()), (Some("en"), Some("repeats")));

    // A new sampling rate sends it back to be sampled; a failure keeps its reason.
    records.set_probed_rate(id, 1.0).unwrap();
    let v = records.video(id).unwrap().unwrap();
    assert_eq!((v.sample_fps, v.stage, v.status), (Some(1.0), Stage::Probed, Status::Pending));
    records.set_failed(id, "is truncated").unwrap();
    let v = records.video(id).unwrap().unwrap();
    assert_eq!((v.status, v.error.as_deref()), (Status::Failed, Some("is truncated")));
}

#[test]
fn video_records_conform_on_the_embedded_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(&dir.path().join("catalog.sqlite")).unwrap();
    let id = catalog.insert_video(&dir.path().join("a.mp4"), "a", "hash", 10, 1).unwrap();
    video_records_conform(&catalog, id);
}

#[test]
fn video_records_conform_on_a_workers_staged_video() {
    let row = reelmatch::catalog::VideoRow { id: 42, title: "a".into(), path: "/m/a.mp4".into(), ..Default::default() };
    video_records_conform(&reelmatch::ingest::Staged::new(row), 42);
}
