//! Whisper transcription with the real tiny.en weights from the test assets, on speech made
//! by espeak-ng.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use candle_core::Device;
use common::assets;
use reelmatch::events::Cancel;
use reelmatch::media::{extract_audio, read_pcm};
use reelmatch::ml::whisper::Transcriber;
use reelmatch::ml::{resolve, Role};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn speak(text: &str, dir: &Path, name: &str) -> Vec<f32> {
    let wav = dir.join(format!("{name}.wav"));
    let status = Command::new("espeak-ng")
        .args(["-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng runs (apt-get install espeak-ng)");
    assert!(status.success());
    let pcm = dir.join(format!("{name}.f32"));
    extract_audio("ffmpeg", &wav, &pcm, Duration::from_secs(120), &Cancel::new()).unwrap();
    read_pcm(&pcm).unwrap()
}

use reelmatch::types::word_error_rate as wer;

fn tiny() -> Transcriber {
    let files = resolve(Role::Speech, Some(&assets().join("models/whisper-tiny.en")), &[], Some("offline")).unwrap();
    Transcriber::load(&files, &Device::Cpu).unwrap()
}

#[test]
fn espeak_sentence_comes_back_with_a_low_word_error_rate() {
    let dir = tempfile::tempdir().unwrap();
    let sentence = "I have been waiting all night for the summer rain to fall on the city. \
                    Hold me close and tell me that you will never let me go.";
    let pcm = speak(sentence, dir.path(), "s");
    let mut model = tiny();
    assert!(!model.is_multilingual());
    let t = model.transcribe(&pcm, None, &Cancel::new()).unwrap();
    let text = t.text();
    let rate = wer(sentence, &text);
    eprintln!("whisper-tiny.en heard: {text:?} (WER {rate:.2})");
    assert_eq!(t.language, "en");
    assert!(rate <= 0.15, "word error rate {rate:.2} > 0.15 (measured 0.04 when written): {text:?}");

    // The decoder in 8 bits (quantised from the same file), and the encoder's linear layers where
    // the CPU runs AVX-512 VNNI, keep the words.
    let files = resolve(Role::Speech, Some(&assets().join("models/whisper-tiny.en")), &[], Some("offline")).unwrap();
    let mut int8 = Transcriber::load_with(&files, &Device::Cpu, reelmatch::ml::whisper::Precision::Int8).unwrap();
    let heard = int8.transcribe(&pcm, None, &Cancel::new()).unwrap().text();
    let int8_rate = wer(sentence, &heard);
    eprintln!("int8 heard: {heard:?} (WER {int8_rate:.2})");
    assert!(int8_rate <= rate + 0.05, "int8 WER {int8_rate:.2} against f32's {rate:.2}: {heard:?}");

    let audio_s = pcm.len() as f64 / 16_000.0;
    let mut prev_start = -1.0;
    for (i, s) in t.segments.iter().enumerate() {
        assert_eq!(s.id, i);
        assert!(s.start < s.end && s.end <= audio_s + 0.5, "{s:?}");
        assert!(s.start >= prev_start, "segments in order");
        prev_start = s.start;
        assert!((0.0..=1.0).contains(&s.no_speech_prob) && s.avg_logprob <= 0.0 && s.compression_ratio > 0.0);
        assert!(!s.tokens.is_empty() && s.temperature >= 0.0);
    }
}

#[test]
fn the_key_value_cache_changes_speed_not_words() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = speak("Hello world, this is a test of the cache.", dir.path(), "c");
    let mut model = tiny();
    let cached = model.transcribe(&pcm, None, &Cancel::new()).unwrap();
    model.use_kv_cache = false;
    let naive = model.transcribe(&pcm, None, &Cancel::new()).unwrap();
    assert_eq!(cached.text(), naive.text());
    assert_eq!(cached.segments.len(), naive.segments.len());
    for (a, b) in cached.segments.iter().zip(&naive.segments) {
        assert_eq!(a.tokens, b.tokens);
        assert!((a.avg_logprob - b.avg_logprob).abs() < 1e-3);
    }
}

#[test]
fn silence_gives_no_segments_and_long_audio_advances_window_by_window() {
    let mut model = tiny();
    let silent = model.transcribe(&vec![0.0; 16_000 * 5], None, &Cancel::new()).unwrap();
    assert!(silent.segments.is_empty(), "{:?}", silent.segments);

    let dir = tempfile::tempdir().unwrap();
    let first = speak("Every colour on the screen, every line I have never seen.", dir.path(), "a");
    let second = speak("Seven bars of gold and blue, standing still and waiting for you.", dir.path(), "b");
    let mut pcm = first.clone();
    pcm.extend(std::iter::repeat_n(0.0, 16_000 * 30 - first.len()));
    pcm.extend(&second);
    let t = model.transcribe(&pcm, None, &Cancel::new()).unwrap();
    let text = t.text().to_lowercase();
    assert!(text.contains("colour") || text.contains("color"), "{text}");
    assert!(text.contains("gold"), "{text}");
    let gold = t.segments.iter().find(|s| s.text.to_lowercase().contains("gold")).unwrap();
    assert!(gold.start >= 29.0, "the second sentence is timed in the second window: {gold:?}");
    assert!(gold.seek >= 2900, "{gold:?}");
}
