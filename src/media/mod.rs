//! Media handling through ffmpeg and ffprobe processes: probing, frame sampling, audio extraction;
//! and audio fingerprints of the extracted audio.

mod audio;
pub mod child;
pub mod fingerprint;
mod frames;
mod input;
mod probe;
mod tools;

pub use audio::{decode_audio, extract_audio, read_pcm, stream_audio, AUDIO_SAMPLE_RATE};
pub use frames::{sample_frames, RgbFrame, SampleSpec, MAX_ASPECT};
pub use input::{not_regular_reason, require_regular_file, special_kind};
pub use probe::{parse_probe, probe, NotAVideo, Probe};
pub use tools::check_tools;

/// How long audio extraction may take for a video of `duration_s` seconds before it is taken
/// to hang (it is also stopped sooner if it makes no progress for a minute).
pub fn audio_time_limit(duration_s: f64) -> std::time::Duration {
    SampleSpec::time_limit(duration_s)
}
