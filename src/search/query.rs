//! What a search starts from: a library video, a video file outside the library, an image, or
//! lyrics. Each becomes query frames (up to 10, evenly spread) and/or lyrics embeddings.

pub use super::library::QueryFrame;
use super::library::{Line, Lyrics, SearchLibrary};
use crate::catalog::VideoRow;
use crate::error::{Error, Remedy, Result};
use crate::ml::image::ImageEmbedder;
use crate::ml::text::TextEmbedder;
use crate::ml::vision_text::VisionTextEmbedder;

use std::path::Path;

/// Frames taken from a query video (the seed's 10).
pub use super::library::QUERY_FRAMES;

/// A search's starting point.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// How the query is described in results.
    pub label: String,
    /// A library video to leave out of the results (the query itself).
    pub exclude: Option<i64>,
    pub frames: Vec<QueryFrame>,
    pub lyrics: Option<Lyrics>,
    /// Only videos under this folder are ranked (`similar --in FOLDER`).
    pub within: Option<std::path::PathBuf>,
}

/// Finds a library video by id, path or title (exact, then unique part). An unknown title gets
/// near matches suggested; an ambiguous one lists the candidates.
pub fn find_video<'a>(videos: &'a [VideoRow], what: &str) -> Result<&'a VideoRow> {
    if videos.is_empty() {
        return Err(Error::not_ready("the library has no ingested videos yet", Remedy::Ingest));
    }
    if let Ok(id) = what.parse::<i64>() {
        if let Some(v) = videos.iter().find(|v| v.id == id) {
            // A video titled with the number too: which one is meant cannot be told.
            if let Some(titled) = videos.iter().find(|t| t.id != id && t.title.to_lowercase() == what.to_lowercase()) {
                return Err(Error::IdOrTitle { asked: what.to_string(), by_id: v.title.clone(), titled_id: titled.id });
            }
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
            Err(Error::NoSuchVideo {
                asked: what.to_string(),
                near: near.iter().take(3).map(|(_, t)| t.to_string()).collect(),
            })
        }
        many => {
            let names: Vec<String> = many.iter().map(|v| format!("{} (id {})", v.title, v.id)).collect();
            Err(Error::AmbiguousVideo { asked: what.to_string(), matches: names })
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
    /// The query frame closest in time to `t_s`.
    pub fn frame_near(&self, t_s: f64) -> Option<&QueryFrame> {
        self.frames.iter().min_by(|a, b| (a.t_s - t_s).abs().total_cmp(&(b.t_s - t_s).abs()))
    }

    /// A library video: 10 of its indexed frames, evenly spread, and its lyrics.
    pub fn from_library(lib: &SearchLibrary, library_root: &Path, video: &VideoRow) -> Result<Query> {
        let pos = lib.position(video.id).ok_or_else(|| {
            Error::not_ready(format!("\"{}\" has no frames to search with", video.title), Remedy::WaitForIngest)
        })?;
        let frames = lib
            .spread_frames(pos, QUERY_FRAMES)
            .into_iter()
            .map(|(t_s, vector, file)| QueryFrame::indexed(t_s, vector, Some(library_root.join(file))))
            .collect();
        Ok(Query {
            label: video.title.clone(),
            exclude: Some(video.id),
            frames,
            lyrics: lib.lyrics[pos].clone(),
            within: None,
        })
    }

    /// One image.
    pub fn from_image(image: &ImageEmbedder, path: &Path) -> Result<Query> {
        Query::from_image_by(path, |img| Ok(image.embed(std::slice::from_ref(img))?.remove(0)))
    }

    /// One image in the vision-text model's space (`similar --image … --space vision-text`).
    pub fn from_image_vision_text(model: &VisionTextEmbedder, path: &Path) -> Result<Query> {
        Query::from_image_by(path, |img| {
            Ok(model.embed_images(&[image::DynamicImage::ImageRgb8(img.clone())])?.remove(0))
        })
    }

    /// A description of a look ("dark blue background with neon colours"), in the vision-text
    /// model's space: one query vector, so each video scores by its best-matching frame.
    pub fn from_description(model: &VisionTextEmbedder, text: &str) -> Result<Query> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::Invalid("the description is empty".into()));
        }
        Ok(Query {
            label: description_label(text, None),
            exclude: None,
            frames: vec![QueryFrame::indexed(0.0, model.embed_text(text)?, None)],
            lyrics: None,
            within: None,
        })
    }

    /// One image, its vector made by `embed`.
    fn from_image_by(path: &Path, embed: impl FnOnce(&image::RgbImage) -> Result<Vec<f32>>) -> Result<Query> {
        crate::media::require_regular_file(path)?;
        let img = image::open(path)
            .map_err(|e| Error::media(path, format!("cannot decode this image ({e}); use a JPEG or PNG file")))?
            .to_rgb8();
        let vector = embed(&img)?;
        // Kept, so search can tell a flat picture (a black frame) from one that says something.
        let label = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Query {
            label,
            exclude: None,
            frames: vec![QueryFrame {
                t_s: 0.0,
                vector,
                file: Some(path.to_path_buf()),
                image: Some(img),
                from_index: false,
            }],
            lyrics: None,
            within: None,
        })
    }

    /// Lyrics typed by the user (each non-empty line is a line of the query).
    pub fn from_lyrics(model: &TextEmbedder, text: &str) -> Result<Query> {
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
            within: None,
        })
    }
}

pub(crate) fn embed_lyrics(model: &TextEmbedder, whole: &str, lines: &[(String, f64, f64)]) -> Result<Lyrics> {
    let mut texts = vec![whole];
    texts.extend(lines.iter().map(|(t, _, _)| t.as_str()));
    let mut vectors = model.embed_batch(&texts)?.into_iter();
    let whole = vectors.next().expect("one vector per text");
    let lines = lines
        .iter()
        .zip(vectors)
        .map(|((text, start, end), vector)| Line { text: text.clone(), start: *start, end: *end, vector })
        .collect();
    Ok(Lyrics { whole, lines, doubt: None })
}

/// How a description query (with lyrics typed beside it, if any) is named in results and
/// while it runs.
pub fn description_label(text: &str, lyrics: Option<&str>) -> String {
    let words = lyrics.map(|l| format!(" with lyrics \"{}\"", l.trim())).unwrap_or_default();
    format!("described as \"{}\"{words}", text.trim())
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
            transcript_language_probability: None,
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

    #[test]
    fn a_number_that_is_an_id_and_a_title_is_reported_not_guessed() {
        let v = vec![row(5, "Blue Song"), row(9, "5"), row(11, "1999")];
        let e = find_video(&v, "5").unwrap_err().to_string();
        assert!(
            e.contains("id of \"Blue Song\"") && e.contains("give 9") && e.contains("\"Blue Song\" for video 5"),
            "{e}"
        );
        assert_eq!(find_video(&v, "9").unwrap().id, 9);
        assert_eq!(find_video(&v, "Blue Song").unwrap().id, 5);
        assert_eq!(find_video(&v, "1999").unwrap().id, 11, "a number that is no id is a title");
    }
}
