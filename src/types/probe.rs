//! What ffprobe tells about a video, as the catalog stores it.

/// What reelmatch needs to know about a video before sampling it.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration_s: f64,
    pub fps: Option<f64>,
    /// The picture size as displayed (a 90° rotation in the display matrix swaps the coded size).
    pub width: i64,
    pub height: i64,
    pub has_audio: bool,
    pub codec: String,
    pub format: String,
}
