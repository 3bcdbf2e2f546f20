//! What a search starts from: a library video, a video file outside the library, an image, or
//! lyrics. Each becomes query frames (up to 10, evenly spread) and/or lyrics embeddings.

use super::library::{spread, Line, Lyrics, SearchLibrary};
use crate::catalog::VideoRow;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::Cancel;
use crate::ingest::Models;
use crate::media::{audio_time_limit, decode_audio, probe, sample_frames, SampleSpec};
use image::RgbImage;
use std::path::{Path, PathBuf};

/// Frames taken from a query video (the seed's 10).
pub const QUERY_FRAMES: usize = 10;

/// One query frame.
#[derive(Debug, Clone)]
pub struct QueryFrame {
    pub t_s: f64,
    pub vector: Vec<f32>,
    /// The frame's image file, when it has one (library frames).
    pub file: Option<PathBuf>,
    /// The frame itself, when it was made for this query.
    pub image: Option<RgbImage>,
    /// Whether `vector` came from the library's index (already in its space) rather than
    /// straight from the backbone.
    pub from_index: bool,
}

impl QueryFrame {
    /// A frame taken from the library's index.
    pub fn indexed(t_s: f64, vector: Vec<f32>, file: Option<PathBuf>) -> Self {
        QueryFrame { t_s, vector, file, image: None, from_index: true }
    }
}

/// A search's starting point.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// How the query is described in results.
    pub label: String,
    /// A library video to leave out of the results (the query itself).
    pub exclude: Option<i64>,
    pub frames: Vec<QueryFrame>,
    pub lyrics: Option<Lyrics>,
}

/// Finds a library video by id, path or title (exact, then unique part). An unknown title gets
/// near matches suggested; an ambiguous one lists the candidates.
pub fn find_video<'a>(videos: &'a [VideoRow], what: &str) -> Result<&'a VideoRow> {
    if videos.is_empty() {
        return Err(Error::Invalid("the library has no ingested videos yet; run `reelmatch ingest DIR` first".into()));
    }
    if let Ok(id) = what.parse::<i64>() {
        if let Some(v) = videos.iter().find(|v| v.id == id) {
            return Ok(v);
        }
    }
    let path = Path::new(what).canonicalize().ok();
    if let Some(v) = videos.iter().find(|v| Some(&v.path) == path.as_ref()) {
        return Ok(v);
    }
    let lower = what.to_lowercase();
    let exact: Vec<_> = videos.iter().filter(|v| v.title.to_lowercase() == lower).collect();
    let partial: Vec<_> = videos.iter().filter(|v| v.title.to_lowercase().contains(&lower)).collect();
    let candidates = if exact.is_empty() { partial } else { exact };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => {
            let mut near: Vec<_> =
                videos.iter().map(|v| (edit_distance(&v.title.to_lowercase(), &lower), &v.title)).collect();
            near.sort();
            let names: Vec<String> = near.iter().take(3).map(|(_, t)| format!("\"{t}\"")).collect();
            Err(Error::Invalid(format!(
                "no video in the library is called \"{what}\"; did you mean {}?",
                names.join(", ")
            )))
        }
        many => {
            let names: Vec<String> = many.iter().map(|v| format!("{} (id {})", v.title, v.id)).collect();
            Err(Error::Invalid(format!(
                "\"{what}\" matches several videos: {}; give the id or the full title",
                names.join(", ")
            )))
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 1..=b.len() {
            let cur = row[j];
            row[j] = if ca == b[j - 1] { prev } else { 1 + prev.min(row[j]).min(row[j - 1]) };
            prev = cur;
        }
    }
    row[b.len()]
}

impl Query {
    /// A library video: 10 of its indexed frames, evenly spread, and its lyrics.
    pub fn from_library(lib: &SearchLibrary, library_root: &Path, video: &VideoRow) -> Result<Query> {
        let pos = lib.position(video.id).ok_or_else(|| {
            Error::Invalid(format!("\"{}\" has no frames to search with; run `reelmatch ingest` on it", video.title))
        })?;
        let frames = lib
            .spread_frames(pos, QUERY_FRAMES)
            .into_iter()
            .map(|(t_s, vector, file)| QueryFrame::indexed(t_s, vector, Some(library_root.join(file))))
            .collect();
        Ok(Query { label: video.title.clone(), exclude: Some(video.id), frames, lyrics: lib.lyrics[pos].clone() })
    }

    /// A video file outside the library: probed, 10 frames sampled and embedded, its audio
    /// transcribed and embedded, without adding it to the library.
    pub fn from_file(config: &Config, models: &Models, path: &Path, cancel: &Cancel) -> Result<Query> {
        let p = probe(&config.tools.ffprobe, path)?;
        let mut frames = Vec::new();
        if let Some(image) = &models.image {
            let fps = (QUERY_FRAMES as f64 + 0.5) / p.duration_s;
            let spec = SampleSpec { fps, short_side: config.sampling.frame_short_side };
            let mut sampled = Vec::new();
            sample_frames(&config.tools.ffmpeg, path, spec, SampleSpec::time_limit(p.duration_s), cancel, |f| {
                if let Some(img) = RgbImage::from_raw(f.width, f.height, f.rgb) {
                    sampled.push((f.t_s, img));
                }
                Ok(())
            })?;
            let keep: Vec<_> = spread(sampled.len(), QUERY_FRAMES).into_iter().map(|i| sampled[i].clone()).collect();
            let images: Vec<RgbImage> = keep.iter().map(|(_, i)| i.clone()).collect();
            let vectors = image.embed(&images)?;
            frames = keep
                .into_iter()
                .zip(vectors)
                .map(|((t_s, img), vector)| QueryFrame { t_s, vector, file: None, image: Some(img), from_index: false })
                .collect();
        }
        let mut lyrics = None;
        if let (Some(speech), Some(text), true) = (&models.speech, &models.text, p.has_audio) {
            let pcm = decode_audio(&config.tools.ffmpeg, path, audio_time_limit(p.duration_s), cancel);
            let t = speech.lock().expect("speech model lock").transcribe(
                &pcm?,
                models.expected_language.as_deref(),
                cancel,
            )?;
            if !t.text().trim().is_empty() {
                let lines: Vec<(String, f64, f64)> =
                    t.segments.iter().map(|s| (s.text.trim().to_string(), s.start, s.end)).collect();
                lyrics = Some(embed_lyrics(text, &t.text(), &lines)?);
            }
        }
        let label = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Query { label, exclude: None, frames, lyrics })
    }

    /// One image.
    pub fn from_image(models: &Models, path: &Path) -> Result<Query> {
        let image =
            models.image.as_ref().ok_or_else(|| Error::Invalid("an image query needs the image model".into()))?;
        crate::media::require_regular_file(path)?;
        let img = image::open(path)
            .map_err(|e| Error::media(path, format!("cannot decode this image ({e}); use a JPEG or PNG file")))?
            .to_rgb8();
        let vector = image.embed(std::slice::from_ref(&img))?.remove(0);
        let label = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Query {
            label,
            exclude: None,
            frames: vec![QueryFrame {
                t_s: 0.0,
                vector,
                file: Some(path.to_path_buf()),
                image: None,
                from_index: false,
            }],
            lyrics: None,
        })
    }

    /// Lyrics typed by the user (each non-empty line is a line of the query).
    pub fn from_lyrics(model: &crate::ml::text::TextEmbedder, text: &str) -> Result<Query> {
        let lines: Vec<(String, f64, f64)> =
            text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| (l.to_string(), 0.0, 0.0)).collect();
        if lines.is_empty() {
            return Err(Error::Invalid("the lyrics query is empty".into()));
        }
        Ok(Query {
            label: format!("lyrics \"{}\"", text.trim()),
            exclude: None,
            frames: Vec::new(),
            lyrics: Some(embed_lyrics(model, text, &lines)?),
        })
    }
}

fn embed_lyrics(model: &crate::ml::text::TextEmbedder, whole: &str, lines: &[(String, f64, f64)]) -> Result<Lyrics> {
    let mut texts = vec![whole];
    texts.extend(lines.iter().map(|(t, _, _)| t.as_str()));
    let mut vectors = model.embed_batch(&texts)?.into_iter();
    let whole = vectors.next().expect("one vector per text");
    let lines = lines
        .iter()
        .zip(vectors)
        .map(|((text, start, end), vector)| Line { text: text.clone(), start: *start, end: *end, vector })
        .collect();
    Ok(Lyrics { whole, lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, title: &str) -> VideoRow {
        VideoRow {
            id,
            title: title.into(),
            path: format!("/m/{title}.mp4").into(),
            duration_s: None,
            sample_fps: None,
            frames_train: 1,
            frames_test: 0,
            status: crate::catalog::Status::Ready,
            error: None,
            stage: crate::catalog::Stage::DONE,
            content_hash: None,
            size_bytes: None,
            fps: None,
            width: None,
            height: None,
            has_audio: None,
            audio_samples: None,
            frames_embedded: 0,
            transcript_language: None,
            transcript_flag: None,
            lyrics_embedded: false,
            mtime_ns: None,
        }
    }

    #[test]
    fn finds_by_id_title_and_unique_part() {
        let v = vec![row(1, "Starboy"), row(2, "Blinding Lights"), row(3, "Starboy (Live)")];
        assert_eq!(find_video(&v, "2").unwrap().id, 2);
        assert_eq!(find_video(&v, "starboy").unwrap().id, 1, "an exact title beats partial ones");
        assert_eq!(find_video(&v, "blinding").unwrap().id, 2);
        let e = find_video(&v, "star").unwrap_err().to_string();
        assert!(e.contains("several videos") && e.contains("Starboy (id 1)"), "{e}");
        let e = find_video(&v, "Starbouy").unwrap_err().to_string();
        assert!(e.contains("did you mean \"Starboy\""), "{e}");
        assert!(find_video(&[], "x").unwrap_err().to_string().contains("no ingested videos"));
    }
}
