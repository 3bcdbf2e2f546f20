//! Probing a media file with `ffprobe -print_format json`.

use super::child::{own_group, Ending, Watch};
use super::input::require_regular_file;
use super::tools::missing;
use crate::error::{Error, Result};
pub use crate::types::Probe;
use serde::Deserialize;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// ffprobe reads headers only; one that takes longer than this is stuck.
const PROBE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    duration: Option<String>,
    nb_frames: Option<String>,
    disposition: Option<Disposition>,
    #[serde(default)]
    side_data_list: Vec<SideData>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
}

#[derive(Deserialize)]
struct SideData {
    rotation: Option<f64>,
}

#[derive(Deserialize)]
struct Disposition {
    #[serde(default)]
    attached_pic: i64,
}

#[derive(Deserialize)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
}

/// Runs ffprobe on `path` (a regular file; anything else is refused before it is opened).
pub fn probe(ffprobe: &str, path: &Path) -> Result<Probe> {
    require_regular_file(path)?;
    let mut cmd = Command::new(ffprobe);
    cmd.args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-i"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = own_group(&mut cmd).spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing("ffprobe", ffprobe),
        _ => Error::media(path, format!("could not run ffprobe: {e}")),
    })?;
    let watch = Watch::start(child.id(), PROBE_LIMIT, None);
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let errors = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut stdout = Vec::new();
    let _ = child.stdout.take().expect("stdout is piped").read_to_end(&mut stdout);
    let stderr = errors.join().unwrap_or_default();
    let ending = watch.finish();
    let status = child.wait().map_err(|e| Error::media(path, format!("ffprobe did not finish: {e}")))?;
    if ending == Ending::TimedOut {
        return Err(Error::media(
            path,
            format!(
                "ffprobe gave no answer within {} s; the file may be on a stalled disk or network share. Check it and run again.",
                PROBE_LIMIT.as_secs()
            ),
        ));
    }
    if !status.success() {
        let said = String::from_utf8_lossy(&stderr);
        let said = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
        return Err(Error::media(
            path,
            format!("not a readable video (ffprobe: {said}); the file may be truncated, corrupt or not a video. Re-download or re-encode it."),
        ));
    }
    parse_probe(&stdout).map_err(|reason| Error::media(path, reason.to_string()))
}

/// Why ffprobe's report makes a file no video reelmatch can ingest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAVideo {
    #[error("ffprobe gave output reelmatch cannot read: {0}")]
    Unreadable(String),
    #[error("has no video stream (audio only, an image, or not a video); only videos can be ingested")]
    NoVideoStream,
    #[error("has no duration (ffprobe reports none); the file may be damaged. Re-encode it with ffmpeg.")]
    NoDuration,
    #[error("its video stream has no picture size; the file may be damaged")]
    NoPictureSize,
}

/// Reads ffprobe's JSON.
pub fn parse_probe(json: &[u8]) -> std::result::Result<Probe, NotAVideo> {
    let doc: Doc = serde_json::from_slice(json).map_err(|e| NotAVideo::Unreadable(e.to_string()))?;
    let format = doc.format.as_ref();
    let format_name = format.and_then(|f| f.format_name.clone()).unwrap_or_default();
    // An animated GIF is a video (whatever its name says); a one-frame GIF is an image.
    let frames = |s: &Stream| s.nb_frames.as_deref().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    let is_still = |s: &Stream| {
        s.disposition.as_ref().is_some_and(|d| d.attached_pic == 1)
            || matches!(format_name.as_str(), "image2" | "png_pipe" | "jpeg_pipe" | "webp_pipe" | "bmp_pipe")
            || (format_name == "gif" && frames(s) <= 1)
    };
    let video = doc.streams.iter().find(|s| s.codec_type.as_deref() == Some("video") && !is_still(s));
    let Some(video) = video else {
        return Err(NotAVideo::NoVideoStream);
    };
    let has_audio = doc.streams.iter().any(|s| s.codec_type.as_deref() == Some("audio"));
    let duration = format
        .and_then(|f| f.duration.as_deref())
        .or(video.duration.as_deref())
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or(NotAVideo::NoDuration)?;
    let (width, height) = match (video.width, video.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(NotAVideo::NoPictureSize),
    };
    // ffmpeg turns rotated video upright when decoding, so the catalog records what is shown.
    let (width, height) = if quarter_turned(video) { (height, width) } else { (width, height) };
    let fps = [&video.avg_frame_rate, &video.r_frame_rate].into_iter().flatten().find_map(|r| parse_rate(r));
    Ok(Probe {
        duration_s: duration,
        fps,
        width,
        height,
        has_audio,
        codec: video.codec_name.clone().unwrap_or_default(),
        format: format_name,
    })
}

/// Whether the stream is shown rotated by 90° or 270° (display matrix, or the old `rotate` tag).
fn quarter_turned(s: &Stream) -> bool {
    let rotation = s
        .side_data_list
        .iter()
        .find_map(|d| d.rotation)
        .or_else(|| s.tags.get("rotate").and_then(|r| r.parse::<f64>().ok()))
        .unwrap_or(0.0);
    (rotation.round() as i64).rem_euclid(180) == 90
}

fn parse_rate(r: &str) -> Option<f64> {
    let (n, d) = r.split_once('/').unwrap_or((r, "1"));
    let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
    (d > 0.0 && n > 0.0).then(|| n / d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_video_with_audio() {
        let json = br#"{"streams":[
            {"codec_type":"video","codec_name":"h264","width":1280,"height":720,"avg_frame_rate":"30000/1001","r_frame_rate":"30/1","disposition":{"attached_pic":0}},
            {"codec_type":"audio","codec_name":"aac"}],
            "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"5.312000"}}"#;
        let p = parse_probe(json).unwrap();
        assert_eq!((p.width, p.height, p.has_audio), (1280, 720, true));
        assert!((p.duration_s - 5.312).abs() < 1e-9);
        assert!((p.fps.unwrap() - 29.97).abs() < 0.01);
        assert_eq!(p.codec, "h264");
    }

    #[test]
    fn rejects_audio_only_and_cover_art() {
        let audio = br#"{"streams":[{"codec_type":"audio"}],"format":{"duration":"3.0"}}"#;
        assert!(parse_probe(audio).unwrap_err().to_string().contains("no video stream"));
        let cover = br#"{"streams":[{"codec_type":"audio"},{"codec_type":"video","width":500,"height":500,"disposition":{"attached_pic":1}}],"format":{"duration":"3.0"}}"#;
        assert!(parse_probe(cover).unwrap_err().to_string().contains("no video stream"));
    }

    #[test]
    fn a_rotated_stream_reports_its_displayed_size() {
        let json = br#"{"streams":[{"codec_type":"video","width":96,"height":64,
            "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}],"format":{"duration":"5.0"}}"#;
        let p = parse_probe(json).unwrap();
        assert_eq!((p.width, p.height), (64, 96));
        let tagged = br#"{"streams":[{"codec_type":"video","width":96,"height":64,"tags":{"rotate":"180"}}],"format":{"duration":"5.0"}}"#;
        assert_eq!(parse_probe(tagged).map(|p| (p.width, p.height)).unwrap(), (96, 64));
    }

    #[test]
    fn an_animated_gif_is_a_video_and_a_still_one_is_not() {
        let anim = br#"{"streams":[{"codec_type":"video","width":96,"height":64,"nb_frames":"20"}],"format":{"format_name":"gif","duration":"2.0"}}"#;
        assert_eq!(parse_probe(anim).unwrap().width, 96);
        let still = br#"{"streams":[{"codec_type":"video","width":96,"height":64,"nb_frames":"1"}],"format":{"format_name":"gif","duration":"0.1"}}"#;
        assert!(parse_probe(still).unwrap_err().to_string().contains("no video stream"));
    }

    #[test]
    fn rejects_missing_duration() {
        let json = br#"{"streams":[{"codec_type":"video","width":10,"height":10}],"format":{}}"#;
        assert!(parse_probe(json).unwrap_err().to_string().contains("no duration"));
    }
}
