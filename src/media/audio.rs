//! Extracting a video's audio as 16 kHz mono f32 PCM (downmixed), the input Whisper expects.

use super::tools::missing;
use crate::error::{Error, Result};
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use std::path::Path;

/// The sample rate of extracted audio.
pub const AUDIO_SAMPLE_RATE: u32 = 16_000;

/// Writes the first audio stream of `path` to `out` as raw little-endian f32 mono samples at
/// [`AUDIO_SAMPLE_RATE`]. The file appears whole or not at all. Returns the number of samples.
pub fn extract_audio(ffmpeg: &str, path: &Path, out: &Path) -> Result<u64> {
    let tmp = out.with_extension("f32.partial");
    let mut cmd = FfmpegCommand::new_with_path(ffmpeg);
    cmd.hide_banner()
        .input(path)
        .args(["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar"])
        .arg(AUDIO_SAMPLE_RATE.to_string())
        .args(["-f", "f32le"])
        .overwrite()
        .output(&tmp);
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing("ffmpeg", ffmpeg),
        _ => Error::media(path, format!("could not start ffmpeg: {e}")),
    })?;
    let mut errors = Vec::new();
    let events = child.iter().map_err(|e| Error::media(path, format!("could not read ffmpeg's output: {e}")))?;
    for event in events {
        match event {
            FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, msg) | FfmpegEvent::Error(msg) => errors.push(msg),
            _ => {}
        }
    }
    let status = child.wait().map_err(|e| Error::media(path, format!("ffmpeg did not finish: {e}")))?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        let said = errors.last().map(String::as_str).unwrap_or("no message");
        return Err(Error::media(
            path,
            format!("ffmpeg could not extract its audio (ffmpeg: {}); re-encode the file.", said.trim()),
        ));
    }
    std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
    let bytes = std::fs::metadata(out).map_err(|e| Error::io(out, e))?.len();
    Ok(bytes / 4)
}

/// Reads a PCM file written by [`extract_audio`].
pub fn read_pcm(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}
