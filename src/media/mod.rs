//! Media handling through ffmpeg and ffprobe processes: probing, frame sampling, audio extraction.

mod audio;
mod frames;
mod probe;
mod tools;

pub use audio::{extract_audio, read_pcm, AUDIO_SAMPLE_RATE};
pub use frames::{sample_frames, RgbFrame, SampleSpec};
pub use probe::{parse_probe, probe, Probe};
pub use tools::check_tools;
