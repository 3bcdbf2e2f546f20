//! The decoding loop: windows, language detection, temperature fallback, timestamp rules and
//! the split of each window's tokens into timed segments.

use super::decoder::Cache;
use super::mel::{log_mel, WINDOW_FRAMES};
use super::Transcriber;
use crate::error::{Error, Result};
use crate::events::Cancel;
use crate::rng::SplitMix64;
use candle_core::{Tensor, D};

pub use crate::types::{Segment, Transcript};
use std::io::Write;

const TEMPERATURES: [f64; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
/// Whisper's own thresholds: text that compresses more than this looks like a loop, words under
/// this mean log-probability per token are unsure, and a window over this no-speech probability
/// may hold no voice.
pub const COMPRESSION_RATIO_THRESHOLD: f64 = 2.4;
pub const LOGPROB_THRESHOLD: f64 = -1.0;
pub const NO_SPEECH_THRESHOLD: f64 = 0.6;
/// Where a voice is unlikely, words heard less surely than this per token, or only once the
/// temperature was raised, are taken as made up (the music rules). What Whisper wrote over breaks
/// of silence and music came at −0.63 to −0.99 ("you", ".") or at a raised temperature (a loop of
/// "1.0%" at 0.2, −0.43); clear speech that tiny.en gave a no-speech probability of 0.70–0.81
/// came at −0.26, greedy.
const MUSIC_LOGPROB_THRESHOLD: f64 = -0.5;
/// Tokens sampled per window at most.
const SAMPLE_LEN: usize = 224;
/// Seconds per timestamp token.
const TIME_PRECISION: f64 = 0.02;
/// The first timestamp may be at most 1 s into the window.
const MAX_INITIAL_TIMESTAMP_TOKENS: u32 = 50;

/// The decoding of one window at one temperature.
struct Decoded {
    tokens: Vec<u32>,
    avg_logprob: f64,
    no_speech_prob: f64,
    temperature: f64,
    compression_ratio: f64,
}

/// What the first step of a window says: its language and how sure that is, and how likely
/// the window holds no speech at all.
#[derive(Debug, Clone, PartialEq)]
struct Heard {
    code: String,
    token: u32,
    probability: f32,
    no_speech: f64,
}

/// [`Heard`] from the logits after the start-of-transcript token.
fn heard_in(logits: &[f32], languages: &[(String, u32)], no_speech: Option<u32>) -> Heard {
    let at = |t: u32| logits.get(t as usize).copied().unwrap_or(f32::NEG_INFINITY);
    let top = languages.iter().map(|(_, t)| at(*t)).fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = languages.iter().map(|(_, t)| (at(*t) - top).exp()).sum();
    let best = languages.iter().max_by(|a, b| at(a.1).total_cmp(&at(b.1)));
    let (code, token) = best.cloned().unwrap_or_else(|| ("en".into(), 0));
    let no_speech = no_speech.map_or(0.0, |ns| {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = logits.iter().map(|l| f64::from(l - max).exp()).sum();
        f64::from(at(ns) - max).exp() / sum
    });
    Heard { code, token, probability: 1.0 / total.max(1.0), no_speech }
}

/// `len(text) / len(zlib(text))`: high for repetitive (often hallucinated) text.
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(text.as_bytes());
    let compressed = z.finish().map(|v| v.len()).unwrap_or(text.len()).max(1);
    text.len() as f64 / compressed as f64
}

/// Keeps segment times inside the audio: a window's last timestamp can point past its end (a
/// 10 s clip decoded in a 30 s window gave an end of 29.92 s).
fn clamp_to(segments: &mut [Segment], duration_s: f64) {
    for s in segments {
        s.end = s.end.min(duration_s);
        s.start = s.start.min(s.end);
    }
}

pub(super) fn failed(e: candle_core::Error) -> Error {
    Error::compute("the speech model", e)
}

impl Transcriber {
    /// Transcribes 16 kHz mono audio. `language` forces a language on multilingual checkpoints;
    /// otherwise it is detected, with its probability, from the first window where a voice is
    /// heard (a song's instrumental opening says nothing of its language: windows before the
    /// first voice, a no-speech probability over 0.6, are taken as music without words and not
    /// decoded); with no words anywhere, the music rules tell none (an empty code).
    /// English-only checkpoints say "en".
    pub fn transcribe(&mut self, pcm: &[f32], language: Option<&str>, cancel: &Cancel) -> Result<Transcript> {
        let n_mels = self.config.num_mel_bins;
        let mel = log_mel(pcm, &self.filters, n_mels, &self.device).map_err(failed)?;
        let content_frames = mel.dim(1).map_err(failed)? - WINDOW_FRAMES;
        let mut rng = SplitMix64(0x5eed);
        let mut segments: Vec<Segment> = Vec::new();
        let mut language_token = None;
        let mut language_code = if self.is_multilingual() { String::new() } else { "en".to_string() };
        let mut language_probability = None;
        let mut seek = 0usize;
        while seek < content_frames {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let size = (content_frames - seek).min(WINDOW_FRAMES);
            let window = mel.narrow(1, seek, size).map_err(failed)?;
            let window = if size < WINDOW_FRAMES {
                let pad = Tensor::zeros((n_mels, WINDOW_FRAMES - size), candle_core::DType::F32, &self.device)
                    .map_err(failed)?;
                Tensor::cat(&[&window, &pad], 1).map_err(failed)?
            } else {
                window
            };
            let features = self.encoder.forward(&window.unsqueeze(0).map_err(failed)?).map_err(failed)?;
            // The cross-attention keys and values, once per window: every decoding of it
            // (language, each temperature) starts from a fresh copy.
            let audio = self.decoder.cache(&features).map_err(failed)?;
            let last = seek + size >= content_frames;
            // The language this window sounds like, until one is told: told where a voice is
            // first heard (a song's instrumental opening says nothing of its language).
            let mut heard = None;
            if self.is_multilingual() && language_token.is_none() {
                match language {
                    Some(code) => {
                        let found = self.specials.languages.iter().find(|(c, _)| c == code);
                        let (code, token) = found.cloned().ok_or_else(|| Error::Unknown {
                            what: "language",
                            name: code.to_string(),
                            known: self.specials.languages.iter().map(|(c, _)| c.clone()).collect(),
                        })?;
                        language_code = code;
                        language_token = Some(token);
                    }
                    None => {
                        let h = self.detect_language(&audio).map_err(failed)?;
                        if h.no_speech > NO_SPEECH_THRESHOLD && !last {
                            // No voice yet, as Whisper hears it: the next window is asked, this
                            // one not decoded (the last one is, in case its voice was missed).
                            seek += size;
                            continue;
                        }
                        heard = Some(h);
                    }
                }
            }
            let token = language_token.or(heard.as_ref().map(|h| h.token));
            let d = self.decode_with_fallback(&audio, token, &mut rng).map_err(failed)?;
            let time_offset = seek as f64 * 0.01;
            let words = !self.holds_no_words(&d);
            // With no words anywhere, the music rules tell no language; the reference's, the
            // last window's.
            if let Some(h) = heard.filter(|_| words || (last && !self.music_rules)) {
                language_code = h.code;
                language_probability = Some(h.probability);
                language_token = Some(h.token);
            }
            if !words {
                seek += size; // silence or music without words
                continue;
            }
            seek += self.split_segments(&d, seek, time_offset, size, &mut segments);
        }
        clamp_to(&mut segments, pcm.len() as f64 / super::mel::SAMPLE_RATE as f64);
        Ok(Transcript { language: language_code, language_probability, segments })
    }

    /// The language of a window, as Whisper tells it: the language tokens' logits after the
    /// start-of-transcript token, the most likely one with its probability among them (a softmax
    /// over the language tokens alone), and the probability of no speech at the same step.
    fn detect_language(&self, audio: &Cache) -> candle_core::Result<Heard> {
        let mut cache = audio.fresh();
        let logits = self.decoder.forward(&[self.specials.sot], &mut cache)?.get(0)?.to_vec1::<f32>()?;
        Ok(heard_in(&logits, &self.specials.languages, self.specials.no_speech))
    }

    fn decode_with_fallback(
        &self,
        audio: &Cache,
        language: Option<u32>,
        rng: &mut SplitMix64,
    ) -> candle_core::Result<Decoded> {
        let mut last = None;
        for t in TEMPERATURES {
            let d = self.decode(audio, language, t, rng)?;
            let silent = self.holds_no_words(&d);
            let poor = d.compression_ratio > COMPRESSION_RATIO_THRESHOLD || d.avg_logprob < LOGPROB_THRESHOLD;
            if silent || !poor {
                return Ok(d);
            }
            last = Some(d);
        }
        Ok(last.expect("at least one temperature is tried"))
    }

    /// Whether a decoded window is taken as holding no words: its voice unlikely and its text
    /// unsure, under −1.0 per token by the reference's rules; by the music rules, under −0.5 or
    /// decoded only once the temperature was raised (see [`Transcriber::music_rules`]).
    fn holds_no_words(&self, d: &Decoded) -> bool {
        let unsure = match self.music_rules {
            true => d.avg_logprob < MUSIC_LOGPROB_THRESHOLD || d.temperature > 0.0,
            false => d.avg_logprob < LOGPROB_THRESHOLD,
        };
        d.no_speech_prob > NO_SPEECH_THRESHOLD && unsure
    }

    fn decode(
        &self,
        audio: &Cache,
        language: Option<u32>,
        temperature: f64,
        rng: &mut SplitMix64,
    ) -> candle_core::Result<Decoded> {
        let s = &self.specials;
        let mut prompt = vec![s.sot];
        if let Some(lang) = language {
            prompt.push(lang);
            prompt.extend(s.transcribe);
        }
        let mut cache = audio.fresh();
        let first = self.decoder.forward(&prompt, &mut cache)?;
        let no_speech_prob = match s.no_speech {
            Some(ns) => {
                let p = candle_nn::ops::softmax(&first.get(0)?, D::Minus1)?;
                p.get(ns as usize)?.to_scalar::<f32>()? as f64
            }
            None => 0.0,
        };
        let mut logits = first.get(first.dim(0)? - 1)?.to_vec1::<f32>()?;
        let mut sampled: Vec<u32> = Vec::new();
        let mut sum_logprob = 0.0f64;
        for _ in 0..SAMPLE_LEN {
            self.apply_rules(&mut logits, &sampled);
            let logprobs = log_softmax(&logits);
            let next = if temperature == 0.0 { argmax(&logits) } else { sample(&logits, temperature, rng) };
            sum_logprob += logprobs[next as usize] as f64;
            if next == s.eot {
                break;
            }
            sampled.push(next);
            if prompt.len() + sampled.len() >= self.config.max_target_positions {
                break;
            }
            let out = if self.use_kv_cache {
                self.decoder.forward(&[next], &mut cache)?
            } else {
                let mut fresh = audio.fresh();
                let all: Vec<u32> = prompt.iter().chain(&sampled).copied().collect();
                self.decoder.forward(&all, &mut fresh)?
            };
            logits = out.get(out.dim(0)? - 1)?.to_vec1::<f32>()?;
        }
        let text = self.text_of(&sampled);
        Ok(Decoded {
            avg_logprob: sum_logprob / (sampled.len() + 1) as f64,
            compression_ratio: compression_ratio(&text),
            tokens: sampled,
            no_speech_prob,
            temperature,
        })
    }

    /// Suppressed tokens and Whisper's timestamp rules, applied to the next token's logits.
    fn apply_rules(&self, logits: &mut [f32], sampled: &[u32]) {
        let s = &self.specials;
        let (tb, eot) = (s.timestamp_begin as usize, s.eot as usize);
        let ninf = f32::NEG_INFINITY;
        for &t in &self.config.suppress_tokens {
            if let Some(l) = logits.get_mut(t as usize) {
                *l = ninf;
            }
        }
        logits[s.no_timestamps as usize] = ninf;
        logits[s.sot as usize] = ninf;
        if let Some(ns) = s.no_speech {
            logits[ns as usize] = ninf;
        }
        if let Some(t) = s.transcribe {
            logits[t as usize] = ninf;
        }
        for (_, lang) in &s.languages {
            logits[*lang as usize] = ninf;
        }
        if sampled.is_empty() {
            if let Some(space) = s.space {
                logits[space as usize] = ninf;
            }
            logits[eot] = ninf;
        }
        let last_ts = sampled.last().is_some_and(|&t| t as usize >= tb);
        let penult_ts = sampled.len() < 2 || sampled[sampled.len() - 2] as usize >= tb;
        if last_ts {
            if penult_ts {
                logits[tb..].iter_mut().for_each(|l| *l = ninf);
            } else {
                logits[..eot].iter_mut().for_each(|l| *l = ninf);
            }
        }
        if let Some(&last) = sampled.iter().rev().find(|&&t| t as usize >= tb) {
            let floor = (if last_ts && !penult_ts { last } else { last + 1 } as usize).min(logits.len());
            logits[tb..floor].iter_mut().for_each(|l| *l = ninf);
        }
        if sampled.is_empty() {
            logits[..tb].iter_mut().for_each(|l| *l = ninf);
            let max_initial = tb + MAX_INITIAL_TIMESTAMP_TOKENS as usize + 1;
            if max_initial < logits.len() {
                logits[max_initial..].iter_mut().for_each(|l| *l = ninf);
            }
        }
        let logprobs = log_softmax(logits);
        let ts_mass = log_sum_exp(&logprobs[tb..]);
        let text_max = logprobs[..tb].iter().copied().fold(ninf, f32::max);
        if ts_mass > text_max {
            logits[..tb].iter_mut().for_each(|l| *l = ninf);
        }
    }

    /// Splits a window's tokens into segments at timestamp pairs; returns how far to advance
    /// `seek` (to the last complete timestamp, or the whole window).
    fn split_segments(&self, d: &Decoded, seek: usize, offset: f64, size: usize, out: &mut Vec<Segment>) -> usize {
        let tb = self.specials.timestamp_begin;
        let toks = &d.tokens;
        let is_ts: Vec<bool> = toks.iter().map(|&t| t >= tb).collect();
        let single_ending = toks.len() >= 2 && !is_ts[toks.len() - 2] && is_ts[toks.len() - 1];
        let mut cuts: Vec<usize> = (1..toks.len()).filter(|&i| is_ts[i] && is_ts[i - 1]).collect();
        let mut push = |tokens: &[u32], start: f64, end: f64| {
            let text = self.text_of(tokens);
            if !text.trim().is_empty() {
                out.push(Segment {
                    id: out.len(),
                    seek,
                    start,
                    end: end.max(start),
                    text,
                    tokens: tokens.to_vec(),
                    temperature: d.temperature,
                    avg_logprob: d.avg_logprob,
                    compression_ratio: d.compression_ratio,
                    no_speech_prob: d.no_speech_prob,
                });
            }
        };
        if cuts.is_empty() {
            let mut duration = size as f64 * 0.01;
            if let Some(&last) = toks.iter().rev().find(|&&t| t >= tb) {
                if last != tb {
                    duration = (last - tb) as f64 * TIME_PRECISION;
                }
            }
            push(toks, offset, offset + duration);
            return size;
        }
        if single_ending {
            cuts.push(toks.len());
        }
        let mut from = 0;
        for &cut in &cuts {
            let part = &toks[from..cut];
            let start = offset + part[0].saturating_sub(tb) as f64 * TIME_PRECISION;
            let end = offset + part[part.len() - 1].saturating_sub(tb) as f64 * TIME_PRECISION;
            push(part, start, end);
            from = cut;
        }
        if single_ending {
            return size;
        }
        // Advance to the last timestamp: 2 mel frames per timestamp step.
        let advance = (toks[from - 1].saturating_sub(tb) as usize) * 2;
        if advance == 0 {
            size
        } else {
            advance.min(size)
        }
    }

    fn text_of(&self, tokens: &[u32]) -> String {
        let text: Vec<u32> = tokens.iter().copied().filter(|&t| t < self.specials.eot).collect();
        self.tokenizer.decode(&text, true).unwrap_or_default()
    }
}

fn log_sum_exp(v: &[f32]) -> f32 {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + v.iter().map(|x| (x - max).exp()).sum::<f32>().ln()
}

fn log_softmax(v: &[f32]) -> Vec<f32> {
    let lse = log_sum_exp(v);
    v.iter().map(|x| x - lse).collect()
}

fn argmax(v: &[f32]) -> u32 {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32).unwrap_or(0)
}

fn sample(logits: &[f32], temperature: f64, rng: &mut SplitMix64) -> u32 {
    let scaled: Vec<f32> = logits.iter().map(|l| l / temperature as f32).collect();
    let lse = log_sum_exp(&scaled);
    let mut u = rng.unit() as f32;
    for (i, l) in scaled.iter().enumerate() {
        u -= (l - lse).exp();
        if u <= 0.0 {
            return i as u32;
        }
    }
    argmax(logits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_is_told_with_its_share_among_languages_and_no_speech_among_all_tokens() {
        let languages = vec![("en".to_string(), 3), ("de".to_string(), 4), ("fr".to_string(), 5)];
        // Token 0 and 1 are words, 2 is no-speech; the words' logits weigh in no-speech's
        // probability but not in the languages' softmax.
        let logits = [5.0, 5.0, 0.0, 1.0, 3.0, 1.0];
        let heard = heard_in(&logits, &languages, Some(2));
        assert_eq!((heard.code.as_str(), heard.token), ("de", 4));
        let e = |x: f32| x.exp();
        assert!((heard.probability - e(3.0) / (e(1.0) + e(3.0) + e(1.0))).abs() < 1e-6, "{heard:?}");
        let all: f64 = logits.iter().map(|&l| f64::from(l).exp()).sum();
        assert!((heard.no_speech - 1.0 / all).abs() < 1e-9, "{heard:?}");
        assert_eq!(heard_in(&logits, &languages, None).no_speech, 0.0);
    }

    #[test]
    fn repetitive_text_compresses_well() {
        let normal = compression_ratio("I can't feel my face when I'm with you, but I love it");
        let looped = compression_ratio(&"la la la la ".repeat(40));
        assert!(normal < 2.0, "{normal}");
        assert!(looped > COMPRESSION_RATIO_THRESHOLD, "{looped}");
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn segment_times_stay_inside_the_audio() {
        let seg = |start, end| Segment {
            id: 0,
            seek: 0,
            start,
            end,
            text: "x".into(),
            tokens: vec![],
            temperature: 0.0,
            avg_logprob: 0.0,
            compression_ratio: 1.0,
            no_speech_prob: 0.0,
        };
        let mut s = vec![seg(1.0, 4.0), seg(8.0, 29.92), seg(11.0, 12.0)];
        clamp_to(&mut s, 10.0);
        let times: Vec<(f64, f64)> = s.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(times, [(1.0, 4.0), (8.0, 10.0), (10.0, 10.0)]);
    }

    #[test]
    fn softmax_helpers() {
        let lp = log_softmax(&[0.0, 0.0]);
        assert!((lp[0] - 0.5f32.ln()).abs() < 1e-6);
        assert_eq!(argmax(&[0.1, 3.0, -1.0]), 1);
        let mut rng = SplitMix64(1);
        let picks: Vec<u32> = (0..200).map(|_| sample(&[0.0, 10.0, f32::NEG_INFINITY], 1.0, &mut rng)).collect();
        assert!(picks.iter().all(|&p| p < 2), "never a -inf token");
        assert!(picks.iter().filter(|&&p| p == 1).count() > 190, "mostly the likely token");
    }
}
