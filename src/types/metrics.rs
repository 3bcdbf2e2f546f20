//! What a training epoch measured, as training reports it, the catalog stores it and the
//! frontends show it.

use serde::{Deserialize, Serialize};

/// A fraction as a percentage with one decimal (`92.3%`), or `-` when there is none.
pub fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "-".into())
}

/// One class's test accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    pub title: String,
    pub accuracy: f64,
    /// Test frames of this class.
    pub frames: u32,
}

/// Frames of one video taken for another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confused {
    pub actual: String,
    pub predicted: String,
    pub frames: u32,
}

/// What one epoch measured. Test figures are `None` when there are no test frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: u32,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// Mean test accuracy of the 10 best classes: the seed paper's headline figure.
    pub top10_class_accuracy: Option<f64>,
    /// Mean test accuracy over all classes: the honest figure.
    pub macro_accuracy: Option<f64>,
    /// Per-class test accuracy, best first.
    pub per_class: Vec<ClassAccuracy>,
    /// The most-confused pairs of videos on the test frames.
    pub confused: Vec<Confused>,
    /// Wall-clock seconds the epoch took.
    pub seconds: f64,
}

/// How a run trains (stored with it, so a resume trains the same way): the `[train]` settings and a seed for initialisation and shuffling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FitSettings {
    pub optimizer: String,
    pub learning_rate: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub epochs: u32,
    pub batch_size: usize,
    pub seed: u64,
}
