//! Frame embeddings with ResNet-50 (torchvision v1.5 tensor names) without its final layer:
//! 2048-d pooled features. Preprocessing as the seed paper: resize to 224×224 (bilinear,
//! `ml::resample`), scale to [0, 1], normalise with the ImageNet mean and std. On the CPU the
//! network runs as `resnet::ResNet50` (batch norm folded, channels-last); on other devices as
//! candle-transformers' ResNet-50.

use super::resolve::ModelFiles;
use crate::config::{ImageSettings, Precision};
use crate::error::{Error, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Func, VarBuilder};
use image::RgbImage;
use rayon::prelude::*;
use std::path::Path;

/// The embedding dimension of ResNet-50's pooled features.
pub const IMAGE_DIM: usize = 2048;

/// A loaded image embedder.
pub struct ImageEmbedder {
    model: Backbone,
    device: Device,
    pre: ImageSettings,
    batch_size: usize,
    /// The model's identity, stored with every embedding.
    pub model_id: String,
}

/// The network behind the embedder.
enum Backbone {
    Folded(Box<super::resnet::ResNet50>),
    Stock(Func<'static>),
}

/// Writes a randomly initialised ResNet-50 (torchvision layout, no final layer) as safetensors at
/// `path`, atomically: the demo's stand-in when no weights can be had, and the tests' and
/// benchmarks' model (speed and shapes do not depend on the values).
///
/// The weights are seeded (Kaiming-normal convolutions from a fixed PRNG; batch norm as
/// initialised: identity), so every run, test and benchmark sees the same network.
pub fn write_random_weights(path: &Path) -> Result<()> {
    write_seeded_weights(path, 50)
}

/// [`write_random_weights`] from another seed: another network of the same statistics.
pub fn write_seeded_weights(path: &Path, seed: u64) -> Result<()> {
    let varmap = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let fail = |e: candle_core::Error| Error::compute("making random ResNet-50 weights", e);
    candle_transformers::models::resnet::resnet50_no_final_layer(vb).map_err(fail)?;
    {
        let data = varmap.data().lock().expect("the var map is not shared yet");
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        let mut rng = crate::rng::SplitMix64(seed);
        for name in names {
            let var = &data[name];
            let dims = var.dims().to_vec();
            if dims.len() < 2 {
                continue;
            }
            let fan_in: usize = dims[1..].iter().product();
            let std = (2.0 / fan_in as f64).sqrt();
            let values: Vec<f32> = (0..var.elem_count())
                .map(|_| {
                    // Box–Muller: a standard normal from two uniforms.
                    let (u, v) = (rng.unit().max(f64::MIN_POSITIVE), rng.unit());
                    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos() * std) as f32
                })
                .collect();
            let seeded = candle_core::Tensor::from_vec(values, dims, &Device::Cpu).map_err(fail)?;
            var.set(&seeded).map_err(fail)?;
        }
    }
    let partial = path.with_extension("partial");
    varmap.save(&partial).map_err(fail)?;
    std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
}

/// An image as a normalised CHW tensor of `size`×`size`.
pub fn preprocess(img: &RgbImage, pre: &ImageSettings, device: &Device) -> candle_core::Result<Tensor> {
    let s = pre.size as usize;
    let mut hwc = vec![0f32; s * s * 3];
    normalise_hwc(img, pre, &mut hwc);
    Tensor::from_vec(hwc, (s, s, 3), device)?.permute((2, 0, 1))?.contiguous()
}

/// An image resized to `size`×`size` and normalised, channels-last (`[h, w, 3]`), into `dst`.
pub fn normalise_hwc(img: &RgbImage, pre: &ImageSettings, dst: &mut [f32]) {
    // Each channel's 256 byte values normalised once.
    let table: Vec<[f32; 3]> =
        (0..=255u8).map(|b| std::array::from_fn(|c| (b as f32 / 255.0 - pre.mean[c]) / pre.std[c])).collect();
    super::resample::resize_rgb_into(img, (pre.size, pre.size), |i, byte| dst[i] = table[byte as usize][i % 3]);
}

impl ImageEmbedder {
    /// Loads ResNet-50 weights from resolved files (`model.safetensors`).
    pub fn load(files: &ModelFiles, device: &Device, pre: &ImageSettings, batch_size: usize) -> Result<Self> {
        let weights = files.file("model.safetensors")?;
        Self::load_weights(weights, device, pre, batch_size, files.id.clone())
    }

    /// Loads ResNet-50 weights from one safetensors file.
    pub fn load_weights(
        weights: &Path,
        device: &Device,
        pre: &ImageSettings,
        batch_size: usize,
        model_id: String,
    ) -> Result<Self> {
        Self::load_backbone(weights, device, pre, batch_size, model_id, false)
    }

    /// As `load_weights`, but candle's stock ResNet-50 (what a GPU runs) on any device, the CPU
    /// too: for checking the GPU's path against the CPU's folded one without a GPU.
    pub fn load_stock_weights(weights: &Path, device: &Device, pre: &ImageSettings, batch_size: usize) -> Result<Self> {
        Self::load_backbone(weights, device, pre, batch_size, "stock-resnet50".into(), true)
    }

    fn load_backbone(
        weights: &Path,
        device: &Device,
        pre: &ImageSettings,
        batch_size: usize,
        model_id: String,
        stock: bool,
    ) -> Result<Self> {
        let bad = |e: &dyn std::fmt::Display| Error::BadModelFile {
            path: weights.to_path_buf(),
            what: "ResNet-50",
            reason: e.to_string(),
            expected: "it needs torchvision-layout tensor names (conv1, bn1, layer1…layer4)",
        };
        // SAFETY: the weights file is memory-mapped read-only; reelmatch never writes it while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device) }.map_err(|e| bad(&e))?;
        let model = if device.is_cpu() && !stock {
            Backbone::Folded(Box::new(super::resnet::ResNet50::load(vb).map_err(|e| bad(&e))?))
        } else {
            Backbone::Stock(candle_transformers::models::resnet::resnet50_no_final_layer(vb).map_err(|e| bad(&e))?)
        };
        Ok(ImageEmbedder { model, device: device.clone(), pre: pre.clone(), batch_size: batch_size.max(1), model_id })
    }

    /// Runs ResNet-50's products that read post-ReLU activations in 8 bits (`ml::int8`) when
    /// `precision` asks for it. True when they now do; false for f32, on other devices than the
    /// CPU, or when the CPU has neither AVX-512 VNNI nor AVX2 (the model then stays f32).
    pub fn set_precision(&mut self, precision: Precision) -> bool {
        match (&mut self.model, precision) {
            (Backbone::Folded(m), Precision::Int8) => {
                m.quantise(super::resnet::Pixels { mean: self.pre.mean, std: self.pre.std }).is_some()
            }
            _ => false,
        }
    }

    /// Sets how many images one forward pass takes (at least 1).
    pub fn set_batch_size(&mut self, images: usize) {
        self.batch_size = images.max(1);
    }

    /// How many images one forward pass takes (`models.image.batch_size`).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Embeds images in batches; one 2048-d vector (not normalised) per image.
    pub fn embed(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(self.batch_size) {
            let vecs = self.forward(chunk).map_err(|e| Error::compute("the image model", e))?;
            out.extend(vecs);
        }
        Ok(out)
    }

    /// Embeds image files.
    pub fn embed_files(&self, paths: &[&Path]) -> Result<Vec<Vec<f32>>> {
        let images = paths
            .iter()
            .map(|p| {
                crate::media::require_regular_file(p)?;
                image::open(p)
                    .map(|i| i.to_rgb8())
                    .map_err(|e| Error::media(*p, format!("cannot decode this image ({e}); use a JPEG or PNG file")))
            })
            .collect::<Result<Vec<_>>>()?;
        self.embed(&images)
    }

    /// The images resized and normalised on every core, straight into one channels-last batch.
    fn batch_hwc(&self, images: &[RgbImage]) -> Vec<f32> {
        let s = self.pre.size as usize;
        let mut batch = vec![0f32; images.len() * s * s * 3];
        batch.par_chunks_mut(s * s * 3).zip(images).for_each(|(dst, img)| normalise_hwc(img, &self.pre, dst));
        batch
    }

    fn forward(&self, images: &[RgbImage]) -> candle_core::Result<Vec<Vec<f32>>> {
        let s = self.pre.size as usize;
        match &self.model {
            Backbone::Folded(m) => {
                let pooled = if m.takes_bytes() {
                    // The resized bytes straight to the 16-bit stem, which works on them.
                    let mut batch = vec![0u8; images.len() * s * s * 3];
                    batch.par_chunks_mut(s * s * 3).zip(images).for_each(|(dst, img)| {
                        super::resample::resize_rgb_into(img, (self.pre.size, self.pre.size), |i, b| dst[i] = b)
                    });
                    m.forward_bytes(&batch, (images.len(), s, s))
                } else {
                    m.forward_hwc(self.batch_hwc(images), (images.len(), s, s))
                };
                Ok(pooled.chunks(IMAGE_DIM).map(<[f32]>::to_vec).collect())
            }
            Backbone::Stock(m) => {
                // One upload per batch: on a GPU the resizing, not the model, set the pace when
                // each image was resized in turn and copied on its own (40 images/s on an H100).
                let batch = Tensor::from_vec(self.batch_hwc(images), (images.len(), s, s, 3), &self.device)?
                    .permute((0, 3, 1, 2))?
                    .contiguous()?;
                m.forward(&batch)?.to_vec2()
            }
        }
    }
}
