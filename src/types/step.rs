//! The steps a video goes through while it is ingested, as progress reports name them, and how
//! fast each went.

use serde::Serialize;

/// One step of ingesting a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Probe,
    Frames,
    Audio,
    /// Frame embeddings.
    Embed,
    Transcribe,
    /// Lyrics embeddings.
    Lyrics,
}

impl Step {
    /// The name progress displays show.
    pub fn name(self) -> &'static str {
        match self {
            Step::Probe => "probe",
            Step::Frames => "frames",
            Step::Audio => "audio",
            Step::Embed => "embed",
            Step::Transcribe => "transcribe",
            Step::Lyrics => "lyrics",
        }
    }
}

/// How much of a stage's work one video took and how long: frames for `frames` and `embed`,
/// seconds of audio for `transcribe`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StageRate {
    pub stage: Step,
    pub amount: f64,
    pub seconds: f64,
}

impl StageRate {
    /// Work per second.
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.amount / self.seconds
        } else {
            0.0
        }
    }

    /// As progress shows it: `embed 21.3 frames/s`, `transcribe 12.5× real time`.
    pub fn short(&self) -> String {
        match self.stage {
            Step::Transcribe => format!("transcribe {:.1}× real time", self.per_second()),
            stage => format!("{stage} {:.1} frames/s", self.per_second()),
        }
    }
}

/// Rates summed per stage over many videos (the whole ingest's pace per stage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageRates(Vec<StageRate>);

impl StageRates {
    /// Adds one video's rate to its stage's total.
    pub fn add(&mut self, r: StageRate) {
        match self.0.iter_mut().find(|t| t.stage == r.stage) {
            Some(t) => {
                t.amount += r.amount;
                t.seconds += r.seconds;
            }
            None => self.0.push(r),
        }
    }

    /// Each stage's pace, in the order the stages first reported: `frames 130.0 frames/s · …`.
    pub fn summary(&self) -> String {
        self.0.iter().map(StageRate::short).collect::<Vec<_>>().join(" · ")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_sum_per_stage() {
        let mut r = StageRates::default();
        r.add(StageRate { stage: Step::Embed, amount: 40.0, seconds: 2.0 });
        r.add(StageRate { stage: Step::Transcribe, amount: 30.0, seconds: 3.0 });
        r.add(StageRate { stage: Step::Embed, amount: 20.0, seconds: 1.0 });
        assert_eq!(r.summary(), "embed 20.0 frames/s · transcribe 10.0× real time");
    }
}
