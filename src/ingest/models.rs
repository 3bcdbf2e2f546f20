//! The model stages of ingestion, after the media ones: frame embeddings, the transcript (with
//! flags for a wrong language or hallucination-like output), and lyrics embeddings. Each output
//! is keyed by the model that made it, so changing a model recomputes only its own outputs.

use super::early::{embed_frame_files, Early};
use crate::catalog::{VideoRecords, VideoRow, WHOLE};
use crate::error::{Error, Result};
use crate::events::{Cancel, Event, EventSink};
use crate::library::Library;
use crate::ml::whisper::{COMPRESSION_RATIO_THRESHOLD, LOGPROB_THRESHOLD, NO_SPEECH_THRESHOLD};
use crate::ml::Models;
use crate::types::{StageRate, Step, Transcript};

/// Whether a video still needs any model stage, or its audio fingerprint.
pub fn pending(catalog: &dyn VideoRecords, video: &VideoRow, models: &Models) -> Result<bool> {
    if video.has_audio == Some(true) && !catalog.has_fingerprint(video.id)? {
        return Ok(true);
    }
    if let Some(image) = models.image() {
        if !catalog.frames_without_embedding(video.id, &image.model_id)?.is_empty() {
            return Ok(true);
        }
    }
    if let Some(model) = models.vision_text_on().then(|| models.vision_text()).flatten() {
        if !catalog.frames_without_embedding(video.id, &model.model_id)?.is_empty() {
            return Ok(true);
        }
    }
    if needs_transcript(catalog, video, models)? {
        return Ok(true);
    }
    if let Some(text) = models.text() {
        if let Some(t) = current_transcript(catalog, video.id, models)? {
            if !t.text.trim().is_empty() && !catalog.has_lyrics_embedding(video.id, &t.model, &text.model_id)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn current_transcript(
    catalog: &dyn VideoRecords,
    id: i64,
    models: &Models,
) -> Result<Option<crate::catalog::TranscriptInfo>> {
    match speech_id(models) {
        Some(m) => catalog.transcript(id, &m),
        None => catalog.latest_transcript(id),
    }
}

fn speech_id(models: &Models) -> Option<String> {
    models.lock_speech().map(|s| s.model_id.clone())
}

/// What the audio side of a video's ingestion heard: its transcript, with the model that made
/// it and how fast, ready to be stored.
pub struct Heard {
    pub model_id: String,
    pub transcript: Transcript,
    pub rate: StageRate,
}

/// Whether the speech model still has to transcribe this video (it has audio, and no transcript
/// by this model yet).
pub fn needs_transcript(catalog: &dyn VideoRecords, video: &VideoRow, models: &Models) -> Result<bool> {
    match speech_id(models) {
        Some(m) if video.has_audio == Some(true) => Ok(catalog.transcript(video.id, &m)?.is_none()),
        _ => Ok(false),
    }
}

/// Embeds the frames of a video that have no vector from the image model yet, a batch per
/// commit, storing first those `early` made while the frames were sampled.
pub fn embed_frames(
    library: &Library,
    catalog: &dyn VideoRecords,
    models: &Models,
    id: i64,
    mut early: Early,
    sink: &dyn EventSink,
    cancel: &Cancel,
) -> Result<()> {
    let Some(image) = models.image() else { return Ok(()) };
    let mut todo = catalog.frames_without_embedding(id, &image.model_id)?;
    if todo.is_empty() {
        return Ok(());
    }
    sink.emit(Event::VideoStage { id, stage: Step::Embed });
    let started = std::time::Instant::now();
    let total = todo.len() as u32;
    // The vectors made while the frames were sampled are stored as they are.
    let mut made = Vec::new();
    todo.retain(|(fid, f)| match early.vectors.remove(f) {
        Some(v) => {
            made.push((*fid, v));
            false
        }
        None => true,
    });
    let mut done = made.len() as u32;
    if !made.is_empty() {
        catalog.store_frame_embeddings(&image.model_id, &made)?;
        sink.emit(Event::VideoFrames { id, done, expected: total });
    }
    // One forward pass per commit: a stop is seen within one pass, and a crash loses at most
    // one batch of work.
    for chunk in todo.chunks(image.batch_size()) {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let vectors = embed_frame_files(library, image, chunk.iter().map(|(_, f)| f.as_str()))?;
        let rows: Vec<(i64, Vec<f32>)> = chunk.iter().map(|(fid, _)| *fid).zip(vectors).collect();
        catalog.store_frame_embeddings(&image.model_id, &rows)?;
        done += chunk.len() as u32;
        sink.emit(Event::VideoFrames { id, done, expected: total });
    }
    // The network's own time: the passes made beside the sampling and those made here.
    let seconds = (early.busy + started.elapsed()).as_secs_f64();
    sink.emit(Event::StageRate { id, rate: StageRate { stage: Step::Embed, amount: total as f64, seconds } });
    Ok(())
}

/// Embeds the frames of a video that have no vector from the vision-text model yet, when that
/// role is turned on (`[models.vision_text]`): a batch per commit, stored under the model's
/// `vision-text:` key beside the image model's vectors. Returns how many frames it embedded.
pub fn embed_frames_for_descriptions(
    library: &Library,
    catalog: &dyn VideoRecords,
    models: &Models,
    id: i64,
    cancel: &Cancel,
) -> Result<usize> {
    if !models.vision_text_on() {
        return Ok(0);
    }
    let Some(model) = models.vision_text() else { return Ok(0) };
    let todo = catalog.frames_without_embedding(id, &model.model_id)?;
    for chunk in todo.chunks(model.batch_size()) {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let paths: Vec<_> = chunk.iter().map(|(_, f)| library.resolve(f)).collect();
        let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
        let vectors = model.embed_files(&refs)?;
        let rows: Vec<(i64, Vec<f32>)> = chunk.iter().map(|(fid, _)| *fid).zip(vectors).collect();
        catalog.store_frame_embeddings(&model.model_id, &rows)?;
    }
    Ok(todo.len())
}

/// Transcribes a video's extracted audio with the speech model (no catalog access: this runs
/// beside the frame stages, on a thread of its own).
pub fn transcribe(models: &Models, pcm: &[f32], cancel: &Cancel) -> Result<Option<Heard>> {
    let Some(mut model) = models.lock_speech() else { return Ok(None) };
    let started = std::time::Instant::now();
    let transcript = model.transcribe(pcm, models.expected_language.as_deref(), cancel)?;
    let rate = StageRate {
        stage: Step::Transcribe,
        amount: pcm.len() as f64 / crate::ml::whisper::mel::SAMPLE_RATE as f64,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Some(Heard { model_id: model.model_id.clone(), transcript, rate }))
}

/// Stores what [`transcribe`] heard, then embeds the lyrics of the video's current transcript
/// if the text model has not yet.
pub fn store_and_embed_lyrics(
    catalog: &dyn VideoRecords,
    models: &Models,
    id: i64,
    heard: Option<Heard>,
    sink: &dyn EventSink,
) -> Result<()> {
    if let Some(h) = heard {
        sink.emit(Event::StageRate { id, rate: h.rate });
        let flag = transcript_flag(&h.transcript, models.expected_language.as_deref());
        catalog.store_transcript(id, &h.model_id, &h.transcript, flag.as_deref())?;
    }
    let Some(text) = models.text() else { return Ok(()) };
    let Some(t) = current_transcript(catalog, id, models)? else { return Ok(()) };
    if t.text.trim().is_empty() || catalog.has_lyrics_embedding(id, &t.model, &text.model_id)? {
        return Ok(());
    }
    sink.emit(Event::VideoStage { id, stage: Step::Lyrics });
    let segments = catalog.segments(id, &t.model)?;
    let mut texts: Vec<&str> = vec![t.text.as_str()];
    texts.extend(segments.iter().map(|s| s.text.as_str()));
    let vectors = text.embed_batch(&texts)?;
    let keys = std::iter::once(WHOLE).chain(segments.iter().map(|s| s.id as i64));
    let rows: Vec<(i64, Vec<f32>)> = keys.zip(vectors).collect();
    catalog.store_lyrics_embeddings(id, &t.model, &text.model_id, &rows)
}

/// Why a transcript should not be trusted, if it should not: another language than expected
/// (the seed's failure with auto-tuned vocals), or output that looks hallucinated (highly
/// compressible text, or the same line over and over).
pub fn transcript_flag(t: &Transcript, expected_language: Option<&str>) -> Option<String> {
    let mut reasons = Vec::new();
    if let Some(want) = expected_language {
        if !t.language.is_empty() && t.language != want {
            reasons.push(format!("language is {} but {want} was expected", t.language));
        }
    }
    let repetitive = t.segments.iter().filter(|s| s.compression_ratio > COMPRESSION_RATIO_THRESHOLD).count();
    if repetitive > 0 {
        reasons.push(format!(
            "{repetitive} segment(s) are highly repetitive (compression ratio > {COMPRESSION_RATIO_THRESHOLD})"
        ));
    }
    let longest = longest_unsure_repeat(&t.segments);
    if longest >= 3 {
        reasons.push(format!("the same line repeats {longest} times in a row, heard unsure"));
    }
    (!reasons.is_empty()).then(|| format!("possibly wrong: {}", reasons.join("; ")))
}

/// The longest run of one line said over and over where Whisper was unsure of it (a window
/// decoded only after its temperature was raised, text that compresses like a loop, unsure words
/// or a voice unlikely): how its hallucinations look. A refrain heard with confidence is a song's
/// chorus, not a loop (four "Never let me go." at temperature 0 and -0.22 per token, from
/// espeak-ng over a melody).
fn longest_unsure_repeat(segments: &[crate::types::Segment]) -> usize {
    let unsure = |s: &crate::types::Segment| {
        s.temperature > 0.0
            || s.compression_ratio > COMPRESSION_RATIO_THRESHOLD
            || s.avg_logprob < LOGPROB_THRESHOLD
            || s.no_speech_prob > NO_SPEECH_THRESHOLD
    };
    let (mut longest, mut run, mut run_unsure) = (0, 0, false);
    for (i, s) in segments.iter().enumerate() {
        let same = i > 0 && segments[i - 1].text.trim().eq_ignore_ascii_case(s.text.trim());
        (run, run_unsure) = if same { (run + 1, run_unsure || unsure(s)) } else { (1, unsure(s)) };
        if run_unsure {
            longest = longest.max(run);
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Segment;

    fn seg(id: usize, text: &str, ratio: f64) -> Segment {
        Segment {
            id,
            seek: 0,
            start: id as f64,
            end: id as f64 + 1.0,
            text: text.into(),
            tokens: vec![1],
            temperature: 0.0,
            avg_logprob: -0.2,
            compression_ratio: ratio,
            no_speech_prob: 0.01,
        }
    }

    #[test]
    fn flags_language_repetition_and_loops() {
        let good = Transcript {
            language: "en".into(),
            language_probability: None,
            segments: vec![seg(0, "hello there", 1.1), seg(1, "general", 1.0)],
        };
        assert_eq!(transcript_flag(&good, Some("en")), None);
        let wrong = Transcript { language: "ko".into(), language_probability: None, segments: good.segments.clone() };
        assert!(transcript_flag(&wrong, Some("en")).unwrap().contains("language is ko but en was expected"));
        let refrain = Transcript {
            language: "en".into(),
            language_probability: None,
            segments: (0..4).map(|i| seg(i, " Never let me go.", 1.2)).collect(),
        };
        assert_eq!(transcript_flag(&refrain, None), None, "a chorus heard with confidence is not a loop");
        let mut looped = refrain.clone();
        looped.segments.iter_mut().for_each(|s| s.text = " Thank you.".into());
        looped.segments[2].temperature = 0.4;
        assert!(transcript_flag(&looped, None).unwrap().contains("repeats 4 times in a row, heard unsure"));
        let mut twice = looped.clone();
        twice.segments[1].text = " Goodbye.".into();
        assert_eq!(transcript_flag(&twice, None), None, "two in a row is not a loop");
        let compressible =
            Transcript { language: "en".into(), language_probability: None, segments: vec![seg(0, "la la la", 3.0)] };
        assert!(transcript_flag(&compressible, None).unwrap().contains("compression ratio"));
    }
}
