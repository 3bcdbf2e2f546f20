//! Sampling frames: ffmpeg decodes, applies `fps` and `scale`, and streams raw RGB frames over
//! a pipe; frames are handed on one at a time, never all held.

use super::child::{own_group, Ending, Watch};
use super::input::require_regular_file;
use super::tools::missing;
use crate::error::{Error, Result};
use crate::events::Cancel;
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use std::path::Path;
use std::time::Duration;

/// A stored frame's long side is at most this many times its short side: a 4000×16 video gives
/// 1024×4 frames at a short side of 256, not 64000×256.
pub const MAX_ASPECT: u32 = 4;

/// What to sample.
#[derive(Debug, Clone, Copy)]
pub struct SampleSpec {
    /// Frames per second of video time.
    pub fps: f64,
    /// Output frames are scaled so their short side is this many pixels, keeping aspect (and
    /// their long side to at most [`MAX_ASPECT`] times that).
    pub short_side: u32,
}

impl SampleSpec {
    /// How long ffmpeg may take over a video of `duration_s` seconds before it is taken to hang
    /// (it is also stopped sooner if it delivers no frame for a minute).
    pub fn time_limit(duration_s: f64) -> Duration {
        Duration::from_secs_f64(120.0 + 10.0 * duration_s.clamp(0.0, 86_400.0))
    }

    /// The ffmpeg filter chain: the sampling rate (the last frame is kept, so a video shorter
    /// than one sampling interval still gives its one frame), then the scale.
    fn filter(&self) -> String {
        let (s, l) = (self.short_side, self.short_side * MAX_ASPECT);
        format!(
            "fps=fps={}:eof_action=pass,scale=w='if(gte(iw,ih),{l},{s})':h='if(gte(iw,ih),{s},{l})':force_original_aspect_ratio=decrease:flags=bilinear",
            self.fps
        )
    }
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
/// ffmpeg, when `cancel` is set (returning [`Error::Cancelled`]) or when `on_frame` fails, and
/// reports the file when ffmpeg stalls or passes `limit`. Returns the number of frames delivered.
pub fn sample_frames(
    ffmpeg: &str,
    path: &Path,
    spec: SampleSpec,
    limit: Duration,
    cancel: &Cancel,
    mut on_frame: impl FnMut(RgbFrame) -> Result<()>,
) -> Result<u32> {
    require_regular_file(path)?;
    let mut cmd = FfmpegCommand::new_with_path(ffmpeg);
    cmd.hide_banner().input(path).args(["-map", "0:v:0", "-an", "-sn", "-dn", "-vf"]).arg(spec.filter()).rawvideo();
    own_group(cmd.as_inner_mut());
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing("ffmpeg", ffmpeg),
        _ => Error::media(path, format!("could not start ffmpeg: {e}")),
    })?;
    let watch = Watch::start(child.as_inner().id(), limit, Some(cancel));
    let events = match child.iter() {
        Ok(events) => events,
        Err(e) => {
            let _ = child.kill();
            watch.finish();
            let _ = child.wait();
            return Err(Error::media(path, format!("could not read ffmpeg's output: {e}")));
        }
    };
    let mut errors = Vec::new();
    let mut count = 0u32;
    let mut outcome = Ok(());
    for event in events {
        match event {
            FfmpegEvent::OutputFrame(f) => {
                watch.progress();
                if cancel.is_cancelled() {
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
        watch.finish();
        let _ = child.wait();
        return outcome.map(|_| count);
    }
    let ending = watch.finish();
    let status = child.wait().map_err(|e| Error::media(path, format!("ffmpeg did not finish: {e}")))?;
    match ending {
        Ending::Cancelled => return Err(Error::Cancelled),
        Ending::TimedOut => {
            return Err(Error::media(
                path,
                format!(
                    "ffmpeg stopped making progress decoding it ({count} frames in); the file may be damaged or on a stalled disk. Check it and run again."
                ),
            ))
        }
        Ending::Exited => {}
    }
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
