//! Running the remaining stages of one video: the probe, then frames (embedded as they are
//! written, or after) and audio → transcript, then lyrics embeddings; `[ingest] overlap` says
//! which of them run at once.

use super::early::{embed_alongside, Early, FrameFeed};
use super::split::{assign_splits, video_seed};
use crate::catalog::{FrameRecord, Stage, VideoRecords, VideoRow};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::{Cancel, Event, EventSink};
use crate::library::Library;
use crate::media::fingerprint::{self, Fingerprint};
use crate::media::{
    audio_time_limit, extract_audio, probe, read_pcm, sample_frames, RgbFrame, SampleSpec, AUDIO_SAMPLE_RATE,
};
use crate::ml::Models;
use crate::types::{StageRate, Step};
use image::codecs::jpeg::JpegEncoder;
use image::ExtendedColorType;
use std::path::{Path, PathBuf};

/// How one video's run ended (fatal problems are returned as errors instead).
pub enum Outcome {
    Done,
    Failed(PathBuf, String),
    Cancelled,
}

/// Runs every stage `id` still needs. Per-file problems become [`Outcome::Failed`] (recorded in
/// the catalog); only problems that stop the whole run (ffmpeg missing, catalog or disk
/// unusable) are errors.
pub fn run(
    library: &Library,
    catalog: &dyn VideoRecords,
    config: &Config,
    models: &crate::ml::Models,
    id: i64,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<Outcome> {
    let Some(video) = catalog.video(id)? else { return Ok(Outcome::Cancelled) };
    sink.emit(Event::VideoStarted { id, title: video.title.clone() });
    match stages(library, catalog, config, models, &video, sink, cancel) {
        Ok(frames) => {
            sink.emit(Event::VideoDone { id, title: video.title.clone(), frames });
            Ok(Outcome::Done)
        }
        // A stage cut short by a stop is not done, whatever error it ended with: never the file's fault.
        Err(_) if cancel.is_cancelled() => Ok(Outcome::Cancelled),
        Err(Error::Cancelled) => Ok(Outcome::Cancelled),
        Err(e) => match e.in_library(library.root()) {
            e @ (Error::ToolMissing { .. }
            | Error::Catalog { .. }
            | Error::CatalogTooNew { .. }
            | Error::Storage { .. }) => Err(e),
            e => fail(catalog, &video, e, sink),
        },
    }
}

/// Records a per-file failure in the catalog and reports it.
fn fail(catalog: &dyn VideoRecords, video: &VideoRow, e: Error, sink: &dyn EventSink) -> Result<Outcome> {
    let reason = match &e {
        Error::Media { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    catalog.set_failed(video.id, &reason)?;
    sink.emit(Event::VideoFailed { id: Some(video.id), path: video.path.clone(), reason: reason.clone() });
    Ok(Outcome::Failed(video.path.clone(), reason))
}

/// A video's stages: the probe, then its frames sampled and its audio extracted, fingerprinted
/// and transcribed, then the frames embedded (those not yet embedded while they were sampled),
/// then the fingerprint and the transcript stored and its lyrics embedded. `[ingest] overlap` says what runs beside
/// the sampling: the audio side on a thread of its own, the frames' embedding as they are
/// written, both, or neither. Returns the number of frames.
fn stages(
    library: &Library,
    catalog: &dyn VideoRecords,
    config: &Config,
    models: &Models,
    video: &VideoRow,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<u32> {
    let id = video.id;
    let (probed, fps, stage) = probe_stage(catalog, config, video, sink)?;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let has_audio = probed.has_audio == Some(true);
    let extract = has_audio && (video.stage < Stage::Audio || !library.audio_path(id).exists());
    let transcribe = super::models::needs_transcript(catalog, &probed, models)?;
    let fingerprint = has_audio && !catalog.has_fingerprint(id)?;
    let overlap = config.ingest.overlap;
    let mut early = Early::default();
    let mut frame_side = || {
        let sample = |feed: &FrameFeed| frame_side(library, catalog, config, &probed, fps, stage, feed, sink, cancel);
        if overlap.frames() && stage < Stage::Frames {
            let (frames, made) = embed_alongside(library, models, cancel, sample);
            early = made;
            frames
        } else {
            sample(&FrameFeed::none())
        }
    };
    let wanted = AudioWork { extract, fingerprint, transcribe };
    let audio_side = |stop: &Cancel| audio_side(library, config, models, &probed, wanted, stop);
    let (frames, heard) = if overlap.audio() {
        // Stops the audio side when the frame side fails or the run is stopped.
        let audio_stop = Cancel::new();
        std::thread::scope(|scope| {
            let audio = scope.spawn(|| audio_side(&audio_stop));
            let frames = frame_side();
            if frames.is_err() {
                audio_stop.cancel();
            } else if !audio.is_finished() && transcribe {
                // The progress shows the side still at work (the audio side reports no stages).
                sink.emit(Event::VideoStage { id, stage: Step::Transcribe });
            }
            while !audio.is_finished() {
                if cancel.is_cancelled() {
                    audio_stop.cancel();
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let heard = audio.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (frames, heard)
        })
    } else {
        let frames = frame_side()?;
        if transcribe {
            sink.emit(Event::VideoStage { id, stage: Step::Transcribe });
        }
        (Ok(frames), audio_side(cancel))
    };
    let frames = match frames {
        Ok(frames) => frames,
        Err(e) => {
            if extract {
                // Audio of a video that failed is not kept: a re-run extracts it again.
                let _ = std::fs::remove_file(library.audio_path(id));
            }
            return Err(e);
        }
    };
    let (samples, print, heard) = heard?;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    super::models::embed_frames(library, catalog, models, id, early, sink, cancel)?;
    super::models::embed_frames_for_descriptions(library, catalog, models, id, cancel)?;
    catalog.set_audio_done(id, samples.filter(|_| has_audio))?;
    if let Some(print) = print {
        catalog.store_fingerprint(id, &print)?;
    }
    super::models::store_and_embed_lyrics(catalog, models, id, heard, sink)?;
    Ok(frames)
}

/// Probes the video unless it was; the video as probed, its sampling rate and the stage it has
/// reached (back to probed when the sampling settings changed since its frames were taken).
fn probe_stage(
    catalog: &dyn VideoRecords,
    config: &Config,
    video: &VideoRow,
    sink: &dyn EventSink,
) -> Result<(VideoRow, f64, Stage)> {
    let id = video.id;
    let mut stage = video.stage;
    let probed = if stage < Stage::Probed || video.sample_fps.is_none() {
        sink.emit(Event::VideoStage { id, stage: Step::Probe });
        let p = probe(&config.tools.ffprobe, &video.path)?;
        catalog.set_probed(id, &p, config.sampling.fps_for(p.duration_s))?;
        stage = stage.max(Stage::Probed);
        catalog.video(id)?.expect("video row exists while it is being ingested")
    } else {
        video.clone()
    };
    let fps = config.sampling.fps_for(probed.duration_s.unwrap_or(0.0));
    if probed.sample_fps != Some(fps) {
        // The sampling settings changed since this video was sampled: sample it again.
        catalog.set_probed_rate(id, fps)?;
        stage = Stage::Probed;
    }
    Ok((probed, fps, stage))
}

/// The frame side: frames sampled and stored (unless they were).
#[allow(clippy::too_many_arguments)]
fn frame_side(
    library: &Library,
    catalog: &dyn VideoRecords,
    config: &Config,
    probed: &VideoRow,
    fps: f64,
    stage: Stage,
    feed: &FrameFeed,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<u32> {
    let id = probed.id;
    let mut frames = (probed.frames_train + probed.frames_test) as u32;
    if stage < Stage::Frames {
        sink.emit(Event::VideoStage { id, stage: Step::Frames });
        let started = std::time::Instant::now();
        // Nothing is left on disk that no row records when sampling fails or is stopped.
        frames = sample_and_store(library, catalog, config, probed, fps, feed, sink, cancel).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(library.frames_dir(id));
        })?;
        let rate = StageRate { stage: Step::Frames, amount: frames as f64, seconds: started.elapsed().as_secs_f64() };
        sink.emit(Event::StageRate { id, rate });
    }
    Ok(frames)
}

/// What the audio side has to do for a video.
#[derive(Debug, Clone, Copy)]
struct AudioWork {
    extract: bool,
    fingerprint: bool,
    transcribe: bool,
}

/// The audio side: the audio extracted (unless it was), fingerprinted (unless it was) and
/// transcribed (if the speech model has not yet); no catalog access and no progress events, so
/// it runs on its own thread. The samples extracted, the fingerprint and what was heard.
fn audio_side(
    library: &Library,
    config: &Config,
    models: &Models,
    probed: &VideoRow,
    work: AudioWork,
    cancel: &Cancel,
) -> Result<(Option<i64>, Option<Fingerprint>, Option<super::models::Heard>)> {
    let id = probed.id;
    let mut samples = probed.audio_samples;
    if work.extract {
        let limit = audio_time_limit(probed.duration_s.unwrap_or(0.0));
        samples =
            Some(extract_audio(&config.tools.ffmpeg, &probed.path, &library.audio_path(id), limit, cancel)? as i64);
    }
    // The extracted audio, read once for both.
    let pcm = match work.fingerprint || work.transcribe {
        true => read_pcm(&library.audio_path(id))?,
        false => Vec::new(),
    };
    let print = match work.fingerprint {
        // About 0.1 s for a 4-minute song.
        true => Some(fingerprint::of_samples(&pcm, AUDIO_SAMPLE_RATE)?),
        false => None,
    };
    let heard = if work.transcribe { super::models::transcribe(models, &pcm, cancel)? } else { None };
    Ok((samples, print, heard))
}

/// Samples a video's frames into JPEG files and records them (with their split) in one
/// transaction, handing each file written to `feed`. Checks that the video decoded as far as
/// its duration promises. The caller removes the frame files again when it fails or is stopped.
#[allow(clippy::too_many_arguments)]
fn sample_and_store(
    library: &Library,
    catalog: &dyn VideoRecords,
    config: &Config,
    video: &VideoRow,
    fps: f64,
    feed: &FrameFeed,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<u32> {
    let id = video.id;
    let dir = library.frames_dir(id);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let duration = video.duration_s.unwrap_or(0.0);
    let expected = (duration * fps).round().max(1.0) as u32;
    let spec = SampleSpec { fps, short_side: config.sampling.frame_short_side };
    let mut times = Vec::new();
    let quality = config.sampling.jpeg_quality;
    let limit = SampleSpec::time_limit(duration);
    let count = sample_frames(&config.tools.ffmpeg, &video.path, spec, limit, cancel, |frame: RgbFrame| {
        let file = dir.join(frame_name(frame.index));
        write_jpeg(&file, &frame, quality)?;
        feed.written(&frame_file(id, frame.index));
        times.push((frame.index, frame.t_s));
        sink.emit(Event::VideoFrames { id, done: times.len() as u32, expected });
        Ok(())
    })?;
    let least = (expected as f64 * config.ingest.min_decoded_fraction).floor() as u32;
    if count == 0 || count + 1 < least {
        return Err(Error::media(
            &video.path,
            format!(
                "is truncated or corrupt: only {count} of the {expected} frames its {duration:.1} s promise could be decoded. Re-download or re-encode it."
            ),
        ));
    }
    let hash = video.content_hash.as_deref().unwrap_or("");
    let s = &config.split;
    let splits = assign_splits(times.len(), s.test_fraction, s.method, s.test_blocks, video_seed(s.seed, hash));
    let records: Vec<FrameRecord> = times
        .iter()
        .zip(splits)
        .map(|(&(index, t_s), split)| FrameRecord {
            video_id: id,
            idx: index as i64,
            t_s,
            split,
            file: frame_file(id, index),
        })
        .collect();
    catalog.store_frames(id, &records)?;
    Ok(count)
}

fn frame_name(index: u32) -> String {
    format!("{index:06}.jpg")
}

/// A frame's file as the catalog records it (relative to the library).
fn frame_file(id: i64, index: u32) -> String {
    format!("frames/{id}/{}", frame_name(index))
}

fn write_jpeg(path: &Path, frame: &RgbFrame, quality: u8) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = std::io::BufWriter::new(file);
    JpegEncoder::new_with_quality(&mut writer, quality)
        .encode(&frame.rgb, frame.width, frame.height, ExtendedColorType::Rgb8)
        .map_err(|e| Error::io(path, std::io::Error::other(e)))
}
