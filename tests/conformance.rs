//! The catalog interface, checked once and run on both implementations (as object_store runs
//! one suite against every store): a run recorded through each catalog's own writer reads back
//! the same through [`RunRecords`], with the same active run, details and list rows.

use crate::common::postgres;
use reelmatch::catalog::{Catalog, NewRun, RunRecords, RunRow};
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
