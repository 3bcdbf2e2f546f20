//! Frames and descriptions in one space: a contrastive image-text model (SigLIP 2 or SigLIP,
//! CLIP) loaded from its Hugging Face layout (`config.json`, `tokenizer.json`,
//! `preprocessor_config.json`, `model.safetensors`) into candle-transformers' networks. Images
//! are prepared as the model's own processor says ([`processor`]); text is tokenized, truncated
//! and padded as its tokenizer says (SigLIP pads to its fixed 64 tokens and pools the last one;
//! CLIP takes the end-of-text token, unpadded). Both sides' vectors are L2-normalised, so a
//! description's cosine with a frame is their dot product.

mod clip_config;
pub mod processor;

use super::l2_normalize;
use super::resolve::ModelFiles;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{clip, siglip};
use image::DynamicImage;
use processor::Processor;
use std::path::Path;
use tokenizers::{PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Which network a checkpoint is (its `config.json`'s `model_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// SigLIP and SigLIP 2's fixed-resolution checkpoints (`google/siglip2-base-patch16-224`).
    Siglip,
    /// OpenAI's CLIP (`openai/clip-vit-base-patch32`).
    Clip,
}

enum Network {
    Siglip(Box<siglip::Model>),
    Clip(Box<clip::ClipModel>),
}

/// A loaded image-text model.
pub struct VisionTextEmbedder {
    network: Network,
    tokenizer: Tokenizer,
    processor: Processor,
    device: Device,
    /// Descriptions are lowercased first (the tokenizer config's `do_lower_case`).
    lowercase: bool,
    dim: usize,
    /// Images per forward pass.
    batch: usize,
    pub family: Family,
    /// The model's identity as its frame vectors are stored: `vision-text:` and its repo or
    /// directory (`catalog::vision_text_key`), apart from the image model's.
    pub model_id: String,
}

/// Reads a model file as text.
fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

impl VisionTextEmbedder {
    /// Loads a SigLIP or CLIP checkpoint from resolved files, `batch` images per pass.
    pub fn load(files: &ModelFiles, device: &Device, batch: usize) -> Result<Self> {
        let bad = |path: &Path, reason: String| Error::BadModelFile {
            path: path.to_path_buf(),
            what: "vision-text model",
            reason,
            expected: "is it a SigLIP 2 or CLIP checkpoint in Hugging Face layout?",
        };
        let config_path = files.file("config.json")?;
        let config: serde_json::Value =
            serde_json::from_str(&read(config_path)?).map_err(|e| bad(config_path, e.to_string()))?;
        let family = match config.get("model_type").and_then(|t| t.as_str()) {
            Some("siglip") => Family::Siglip,
            Some("clip") => Family::Clip,
            other => {
                return Err(bad(
                    config_path,
                    format!("model_type {other:?}: the vision-text role runs \"siglip\" (SigLIP 2's fixed-resolution checkpoints) or \"clip\""),
                ))
            }
        };
        let weights = files.file("model.safetensors")?;
        // SAFETY: the weights file is memory-mapped read-only; reelmatch never writes it while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device) }
            .map_err(|e| bad(weights, e.to_string()))?;
        let (network, dim, text_len) = match family {
            Family::Siglip => {
                let c: siglip::Config =
                    serde_json::from_value(config.clone()).map_err(|e| bad(config_path, e.to_string()))?;
                let net = siglip::Model::new(&c, vb).map_err(|e| bad(weights, e.to_string()))?;
                let pad = c.text_config.pad_token_id;
                (
                    Network::Siglip(Box::new(net)),
                    c.text_config.hidden_size,
                    (c.text_config.max_position_embeddings, Some(pad)),
                )
            }
            Family::Clip => {
                let c = clip_config::read(&config).map_err(|e| bad(config_path, e))?;
                let net = clip::ClipModel::new(vb, &c).map_err(|e| bad(weights, e.to_string()))?;
                (
                    Network::Clip(Box::new(net)),
                    c.text_config.projection_dim,
                    (c.text_config.max_position_embeddings, None),
                )
            }
        };
        let tok_path = files.file("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_file(tok_path).map_err(|e| bad(tok_path, e.to_string()))?;
        let (max_len, pad_id) = text_len;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() }))
            .map_err(|e| bad(tok_path, e.to_string()))?;
        match pad_id {
            // SigLIP was trained on text padded to its full length, and pools the last token:
            // the tokenizer's own padding where it has one (SigLIP 2's bakes in 64 and <pad>),
            // else the config's pad token to the position embeddings' length.
            Some(config_pad) => {
                if tokenizer.get_padding().is_none() {
                    let pad_token = tokenizer.id_to_token(config_pad).unwrap_or_default();
                    tokenizer.with_padding(Some(PaddingParams {
                        strategy: PaddingStrategy::Fixed(max_len),
                        direction: PaddingDirection::Right,
                        pad_id: config_pad,
                        pad_token,
                        ..Default::default()
                    }));
                }
            }
            // CLIP pools its end-of-text token (the largest id): one unpadded text at a time.
            None => {
                tokenizer.with_padding(None);
            }
        }
        let pre_path = files.file("preprocessor_config.json")?;
        let processor = Processor::from_json(&read(pre_path)?).map_err(|e| bad(pre_path, e))?;
        // `do_lower_case` lives in tokenizer_config.json beside the tokenizer, when there is one.
        let lowercase = tok_path
            .parent()
            .map(|d| d.join("tokenizer_config.json"))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("do_lower_case").and_then(|b| b.as_bool()))
            .unwrap_or(false);
        Ok(VisionTextEmbedder {
            network,
            tokenizer,
            processor,
            device: device.clone(),
            lowercase,
            dim,
            batch: batch.max(1),
            family,
            model_id: crate::catalog::vision_text_key(&files.id),
        })
    }

    /// The width of its vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Images per forward pass.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// How images are prepared for it.
    pub fn processor(&self) -> &Processor {
        &self.processor
    }

    /// The token ids a text becomes (truncated and padded as the model needs).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let text = if self.lowercase { text.to_lowercase() } else { text.to_string() };
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Invalid(format!("the description cannot be tokenized: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// A description's vector, L2-normalised.
    pub fn embed_text(&self, text: &str) -> Result<Vec<f32>> {
        let ids = self.token_ids(text)?;
        let input = Tensor::new(ids.as_slice(), &self.device).and_then(|t| t.unsqueeze(0)).map_err(compute)?;
        let features = match &self.network {
            Network::Siglip(m) => m.get_text_features(&input),
            Network::Clip(m) => m.get_text_features(&input),
        }
        .map_err(compute)?;
        let mut v: Vec<f32> = features.squeeze(0).and_then(|t| t.to_vec1()).map_err(compute)?;
        l2_normalize(&mut v);
        Ok(v)
    }

    /// Images' vectors, L2-normalised, in passes of its batch size (each batch prepared on every
    /// core into one buffer and uploaded once).
    pub fn embed_images(&self, images: &[DynamicImage]) -> Result<Vec<Vec<f32>>> {
        use rayon::prelude::*;
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(self.batch) {
            let rgb: Vec<image::RgbImage> = chunk.par_iter().map(|i| i.to_rgb8()).collect();
            // Every image of a batch has one size: the crop's, or the fixed resize's; a
            // shortest-edge resize without a crop gives each its own, so those go one at a time.
            let sizes: Vec<(u32, u32)> =
                rgb.iter().map(|i| self.processor.output_size(i.width(), i.height())).collect();
            let groups: Vec<Vec<usize>> = if sizes.iter().all(|s| *s == sizes[0]) {
                vec![(0..rgb.len()).collect()]
            } else {
                (0..rgb.len()).map(|i| vec![i]).collect()
            };
            for group in groups {
                let (w, h) = sizes[group[0]];
                let per = 3 * (w * h) as usize;
                let mut buffer = vec![0f32; per * group.len()];
                buffer
                    .par_chunks_mut(per)
                    .zip(group.par_iter())
                    .for_each(|(dst, &i)| self.processor.prepare(&rgb[i], dst));
                let input = Tensor::from_vec(buffer, (group.len(), 3, h as usize, w as usize), &self.device)
                    .map_err(compute)?;
                let features = match &self.network {
                    Network::Siglip(m) => m.get_image_features(&input),
                    Network::Clip(m) => m.get_image_features(&input),
                }
                .map_err(compute)?;
                let rows: Vec<Vec<f32>> = features.to_vec2().map_err(compute)?;
                for mut v in rows {
                    l2_normalize(&mut v);
                    out.push(v);
                }
            }
        }
        Ok(out)
    }

    /// Image files' vectors (see [`VisionTextEmbedder::embed_images`]).
    pub fn embed_files(&self, paths: &[&Path]) -> Result<Vec<Vec<f32>>> {
        let images = paths
            .iter()
            .map(|p| image::open(p).map_err(|e| Error::File { path: p.to_path_buf(), reason: e.to_string() }))
            .collect::<Result<Vec<_>>>()?;
        self.embed_images(&images)
    }
}

fn compute(e: candle_core::Error) -> Error {
    Error::compute("running the vision-text model", e)
}
