//! Lyrics transcription: the full Whisper loop on our encoder (exact GELU) and cached decoder:
//! 30 s windows with `seek` advanced to the last timestamp, timestamp rules, greedy decoding
//! with temperature fallback, and no-speech detection.

mod attention;
mod cost;
mod decode;
mod decoder;
pub mod encoder;
mod heads;
pub mod mel;
mod proj;

pub use cost::Costs;
pub use decode::{
    compression_ratio, Segment, Transcript, COMPRESSION_RATIO_THRESHOLD, LOGPROB_THRESHOLD, NO_SPEECH_THRESHOLD,
};

use super::resolve::ModelFiles;
pub use crate::config::Precision;
use crate::error::{Error, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::Config as WhisperConfig;
use decoder::Decoder;
use encoder::Encoder;
use std::path::Path;
use tokenizers::Tokenizer;

/// Token ids the loop needs.
#[derive(Debug, Clone)]
pub(crate) struct Specials {
    pub sot: u32,
    pub eot: u32,
    pub transcribe: Option<u32>,
    pub no_timestamps: u32,
    pub timestamp_begin: u32,
    pub no_speech: Option<u32>,
    /// (code, token) of each language, for multilingual checkpoints.
    pub languages: Vec<(String, u32)>,
    pub space: Option<u32>,
}

/// A loaded Whisper checkpoint.
pub struct Transcriber {
    pub(crate) encoder: Encoder,
    pub(crate) decoder: Decoder,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) config: WhisperConfig,
    pub(crate) specials: Specials,
    pub(crate) filters: Vec<f32>,
    pub(crate) device: Device,
    /// Run the decoder with its key-value cache (default). Off recomputes every prefix:
    /// kept to measure what the cache saves.
    pub use_kv_cache: bool,
    /// Whisper's rules for a music library (default): a window whose voice is unlikely (the
    /// no-speech probability over 0.6) holds no words unless they were heard surely (−0.5 per
    /// token), and audio with no words anywhere is told no language. Off keeps the reference's
    /// rules (such a window is dropped only under −1.0 per token, which lets "you" through over
    /// the silent or instrumental breaks between verses; the last window's language is told);
    /// kept to measure what the music rules change (`cargo bench --bench languages -- music`).
    pub music_rules: bool,
    /// The model's identity, stored with every transcript.
    pub model_id: String,
}

impl Transcriber {
    /// Loads a Whisper checkpoint in Hugging Face layout, in f32.
    pub fn load(files: &ModelFiles, device: &Device) -> Result<Self> {
        Self::load_with(files, device, Precision::F32)
    }

    /// Loads a Whisper checkpoint with the decoder's weights at `precision`, and with `Int8` the
    /// encoder's linear layers in 8 bits too where the CPU runs AVX-512 VNNI (`int8::SignedWeights`:
    /// there 8 bits quadruple the arithmetic's rate; with AVX2 alone the encoder stays f32).
    pub fn load_with(files: &ModelFiles, device: &Device, precision: Precision) -> Result<Self> {
        let config_path = files.file("config.json")?;
        let bad = |path: &Path, e: &dyn std::fmt::Display| Error::BadModelFile {
            path: path.to_path_buf(),
            what: "speech model",
            reason: e.to_string(),
            expected: "is it a Whisper checkpoint?",
        };
        let text = std::fs::read_to_string(config_path).map_err(|e| Error::io(config_path, e))?;
        let config: WhisperConfig = serde_json::from_str(&text).map_err(|e| bad(config_path, &e))?;
        let tok_path = files.file("tokenizer.json")?;
        let tokenizer = Tokenizer::from_file(tok_path).map_err(|e| bad(tok_path, &e))?;
        let specials = specials(&tokenizer, config.vocab_size).map_err(|e| bad(tok_path, &e))?;
        let weights = files.file("model.safetensors")?;
        // SAFETY: the weights file is memory-mapped read-only; reelmatch never writes it while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device) }
            .map_err(|e| bad(weights, &e))?;
        let encoder = Encoder::load(
            vb.pp("model.encoder"),
            config.num_mel_bins,
            config.d_model,
            (config.encoder_attention_heads, config.encoder_layers),
            config.max_source_positions,
            precision == Precision::Int8 && device.is_cpu(),
        )
        .map_err(|e| bad(weights, &e))?;
        let decoder = Decoder::load(
            vb.pp("model.decoder"),
            config.vocab_size,
            config.d_model,
            config.decoder_attention_heads,
            config.decoder_layers,
            config.max_target_positions,
            precision == Precision::Int8 && device.is_cpu(),
        )
        .map_err(|e| bad(weights, &e))?;
        let filters = mel::mel_filters(config.num_mel_bins, mel::N_FFT, mel::SAMPLE_RATE);
        Ok(Transcriber {
            encoder,
            decoder,
            tokenizer,
            config,
            specials,
            filters,
            device: device.clone(),
            use_kv_cache: true,
            music_rules: true,
            model_id: files.id.clone(),
        })
    }

    /// Whether this checkpoint knows several languages (and so detects them).
    pub fn is_multilingual(&self) -> bool {
        !self.specials.languages.is_empty() && self.config.vocab_size >= 51865
    }
}

/// A special token a Whisper tokenizer must have.
#[derive(Debug, thiserror::Error)]
#[error("the tokenizer has no {0} token")]
struct MissingToken(&'static str);

fn specials(tok: &Tokenizer, vocab: usize) -> std::result::Result<Specials, MissingToken> {
    let id = |t: &str| tok.token_to_id(t);
    let need = |t: &'static str| id(t).ok_or(MissingToken(t));
    let sot = need("<|startoftranscript|>")?;
    let no_timestamps = need("<|notimestamps|>")?;
    let translate = id("<|translate|>");
    let languages = match translate {
        Some(tr) if vocab >= 51865 => (sot + 1..tr)
            .filter_map(|i| {
                tok.id_to_token(i).map(|t| (t.trim_start_matches("<|").trim_end_matches("|>").to_string(), i))
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Specials {
        sot,
        eot: need("<|endoftext|>")?,
        transcribe: id("<|transcribe|>"),
        no_timestamps,
        timestamp_begin: no_timestamps + 1,
        no_speech: id("<|nospeech|>").or_else(|| id("<|nocaptions|>")),
        languages,
        space: tok.encode(" ", false).ok().and_then(|e| e.get_ids().first().copied()),
    })
}
