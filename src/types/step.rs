//! The steps a video goes through while it is ingested, as progress reports name them.

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

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
