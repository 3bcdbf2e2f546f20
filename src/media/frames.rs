//! Sampling frames: ffmpeg decodes, applies `fps` and `scale`, and streams raw RGB frames over
//! a pipe; frames are handed on one at a time, never all held.

use super::tools::missing;
use crate::error::{Error, Result};
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// What to sample.
#[derive(Debug, Clone, Copy)]
pub struct SampleSpec {
    /// Frames per second of video time.
    pub fps: f64,
    /// Output frames are scaled so their short side is this many pixels, keeping aspect.
    pub short_side: u32,
}

/// One sampled frame, RGB 8-bit, row-major.
pub struct RgbFrame {
    /// Position in the sampled sequence, from 0.
    pub index: u32,
    /// Time in the video, seconds.
    pub t_s: f64,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// Streams the frames of `path` sampled as `spec` to `on_frame`, in order. Stops early, killing
/// ffmpeg, when `cancel` is set (returning [`Error::Cancelled`]) or when `on_frame` fails.
/// Returns the number of frames delivered.
pub fn sample_frames(
    ffmpeg: &str,
    path: &Path,
    spec: SampleSpec,
    cancel: &AtomicBool,
    mut on_frame: impl FnMut(RgbFrame) -> Result<()>,
) -> Result<u32> {
    let s = spec.short_side;
    let filter = format!("fps={},scale=w='if(gte(iw,ih),-2,{s})':h='if(gte(iw,ih),{s},-2)':flags=bilinear", spec.fps);
    let mut cmd = FfmpegCommand::new_with_path(ffmpeg);
    cmd.hide_banner().input(path).args(["-map", "0:v:0", "-an", "-sn", "-dn", "-vf"]).arg(&filter).rawvideo();
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing("ffmpeg", ffmpeg),
        _ => Error::media(path, format!("could not start ffmpeg: {e}")),
    })?;
    let events = child.iter().map_err(|e| Error::media(path, format!("could not read ffmpeg's output: {e}")))?;
    let mut errors = Vec::new();
    let mut count = 0u32;
    let mut outcome = Ok(());
    for event in events {
        match event {
            FfmpegEvent::OutputFrame(f) => {
                if cancel.load(Ordering::Relaxed) {
                    outcome = Err(Error::Cancelled);
                    break;
                }
                let frame = RgbFrame {
                    index: f.frame_num,
                    t_s: f.frame_num as f64 / spec.fps,
                    width: f.width,
                    height: f.height,
                    rgb: f.data,
                };
                if let Err(e) = on_frame(frame) {
                    outcome = Err(e);
                    break;
                }
                count += 1;
            }
            FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, msg) => errors.push(msg),
            FfmpegEvent::Error(msg) => errors.push(msg),
            _ => {}
        }
    }
    if outcome.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return outcome.map(|_| count);
    }
    let status = child.wait().map_err(|e| Error::media(path, format!("ffmpeg did not finish: {e}")))?;
    if !status.success() && count == 0 {
        let said = errors.last().map(String::as_str).unwrap_or("no message");
        return Err(Error::media(
            path,
            format!(
                "ffmpeg could not decode its video (ffmpeg: {}); the file may be corrupt. Re-encode it.",
                said.trim()
            ),
        ));
    }
    Ok(count)
}
