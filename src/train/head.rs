//! The trained classifier: a linear layer over standardised backbone features
//! (2048 → one logit per video), saved as safetensors with its run. As a search space it is the
//! logits, or, once there are more videos than features, an image of them with one dimension
//! more than the features and the same lengths and inner products (`isometry.rs`).

use super::isometry::Isometry;
use crate::error::{Error, Remedy, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// A linear head with the feature standardisation it was trained with.
#[derive(Debug, Clone)]
pub struct Head {
    /// Classes × features.
    pub weight: Tensor,
    /// One per class.
    pub bias: Tensor,
    /// Per-feature mean and standard deviation of the training features.
    pub mean: Tensor,
    pub std: Tensor,
    /// The compact image of the logits, when there are more classes than features (computed
    /// once, kept in the head's file).
    isometry: OnceLock<Arc<Isometry>>,
    /// [`Head::fingerprint`], once computed.
    fingerprint: OnceLock<String>,
}

/// Standardises row-major `x` in place with `mean` and `std`.
pub fn standardise(x: &mut [f32], mean: &[f32], std: &[f32]) {
    for row in x.chunks_exact_mut(mean.len()) {
        row.iter_mut().zip(mean).zip(std).for_each(|((v, m), s)| *v = (*v - m) / s);
    }
}

/// Feeds `values` to `hasher` as little-endian bytes (as one slice on little-endian machines).
fn hash_f32s(hasher: &mut blake3::Hasher, values: &[f32]) {
    if cfg!(target_endian = "little") {
        // SAFETY: any f32 is 4 initialised bytes and u8 has no alignment; on a little-endian
        // machine they are the value's little-endian bytes.
        let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values)) };
        hasher.update(bytes);
    } else {
        values.iter().for_each(|v| {
            hasher.update(&v.to_le_bytes());
        });
    }
}

impl Head {
    /// A head of these parameters.
    pub fn new(weight: Tensor, bias: Tensor, mean: Tensor, std: Tensor) -> Head {
        Head { weight, bias, mean, std, isometry: OnceLock::new(), fingerprint: OnceLock::new() }
    }

    /// Classes the head predicts.
    pub fn classes(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Feature dimension the head takes.
    pub fn dim(&self) -> usize {
        self.weight.dims()[1]
    }

    /// A short hash of the head's parameters: two heads with the same fingerprint project alike
    /// (the vector store keeps one projection of the library per fingerprint).
    pub fn fingerprint(&self) -> Result<String> {
        if let Some(f) = self.fingerprint.get() {
            return Ok(f.clone());
        }
        let mut hasher = blake3::Hasher::new();
        for t in [&self.weight, &self.bias, &self.mean, &self.std] {
            let values: Vec<f32> =
                t.flatten_all().and_then(|t| t.to_vec1()).map_err(|e| Error::compute("the trained head", e))?;
            hash_f32s(&mut hasher, &values);
        }
        Ok(self.fingerprint.get_or_init(|| hasher.finalize().to_hex()[..16].to_string()).clone())
    }

    /// Logits for raw (unstandardised) features, `n × dim` → `n × classes`.
    pub fn logits(&self, features: &Tensor) -> candle_core::Result<Tensor> {
        self.standardised(features)?.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }

    fn standardised(&self, features: &Tensor) -> candle_core::Result<Tensor> {
        features.broadcast_sub(&self.mean)?.broadcast_div(&self.std)
    }

    /// Whether the head's search space is the compact image of its logits rather than the
    /// logits themselves: when there are more classes than the image has dimensions (at most
    /// one more than the features).
    pub fn compact(&self) -> bool {
        self.classes() > self.dim() + 1
    }

    /// The isometry of the logits (computed on first use unless the file had it).
    fn isometry(&self) -> Result<&Arc<Isometry>> {
        if let Some(iso) = self.isometry.get() {
            return Ok(iso);
        }
        let iso = Isometry::of_head(&self.weight, &self.bias)?;
        Ok(self.isometry.get_or_init(|| Arc::new(iso)))
    }

    /// Rows of raw features in the head's output space, as vectors (its embedding space): the
    /// logits, or with more classes than features their compact image, whose lengths and inner
    /// products (and so every cosine, centred or not) are the logits'.
    pub fn project(&self, rows: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let iso = if self.compact() { Some(self.isometry()?) } else { None };
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let x = Tensor::from_vec(flat, (rows.len(), self.dim()), self.weight.device())?;
            match iso {
                Some(iso) => iso.apply(&self.standardised(&x)?)?.to_vec2(),
                None => self.logits(&x)?.to_vec2(),
            }
        };
        run().map_err(|e| Error::compute("the trained head", e))
    }

    /// Writes the head as safetensors (`weight`, `bias`, `feature_mean`, `feature_std`, and
    /// for a compact search space the isometry's tensors).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut tensors: HashMap<String, Tensor> =
            [("weight", &self.weight), ("bias", &self.bias), ("feature_mean", &self.mean), ("feature_std", &self.std)]
                .into_iter()
                .map(|(k, t)| (k.to_string(), t.clone()))
                .collect();
        if self.compact() {
            tensors.extend(self.isometry()?.tensors()?);
        }
        let partial = path.with_extension("partial");
        candle_core::safetensors::save(&tensors, &partial)
            .map_err(|e| Error::File { path: path.to_path_buf(), reason: format!("cannot save the head: {e}") })?;
        std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
    }

    /// Reads a head written by [`Head::save`].
    pub fn load(path: &Path, device: &Device) -> Result<Head> {
        let bad = |why: String| {
            Error::not_ready(format!("{}: not a reelmatch head ({why})", path.display()), Remedy::TrainAgain)
        };
        let mut t = candle_core::safetensors::load(path, device).map_err(|e| bad(e.to_string()))?;
        let mut take = |name: &str| {
            t.remove(name)
                .ok_or_else(|| bad(format!("no `{name}` tensor")))
                .and_then(|x| x.to_dtype(DType::F32).map_err(|e| bad(e.to_string())))
        };
        let head = Head::new(take("weight")?, take("bias")?, take("feature_mean")?, take("feature_std")?);
        let (c, d) = head.weight.dims2().map_err(|e| bad(e.to_string()))?;
        if head.bias.dims() != [c] || head.mean.dims() != [d] || head.std.dims() != [d] {
            return Err(bad("tensor shapes do not agree".into()));
        }
        // A file written with the isometry saves computing it again; one without (or with one
        // of the wrong shape) gets it computed when first needed.
        if head.compact() {
            if let Some(iso) = Isometry::from_tensors(&mut t, d) {
                let _ = head.isometry.set(Arc::new(iso));
            }
        }
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_standardise_and_constant_dimensions_pass_as_zero() {
        let x = vec![1.0, 5.0, 3.0, 5.0];
        let mut samples = crate::train::samples::Samples::default();
        samples.x = x.clone();
        samples.y = vec![0, 0];
        let (mean, std) = samples.feature_stats(2);
        assert_eq!(mean, vec![2.0, 5.0]);
        assert_eq!(std, vec![1.0, 1.0]);
        let mut y = x.clone();
        standardise(&mut y, &mean, &std);
        assert_eq!(y, vec![-1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn save_load_round_trip_and_logits() {
        let d = Device::Cpu;
        let head = Head::new(
            Tensor::new(&[[1f32, 0.0], [0.0, 2.0], [1.0, 1.0]], &d).unwrap(),
            Tensor::new(&[0f32, 0.5, -1.0], &d).unwrap(),
            Tensor::new(&[1f32, 1.0], &d).unwrap(),
            Tensor::new(&[2f32, 1.0], &d).unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/head.safetensors");
        head.save(&path).unwrap();
        let back = Head::load(&path, &d).unwrap();
        assert_eq!((back.classes(), back.dim()), (3, 2));
        // x = (3, 2) → standardised (1, 1) → logits (1, 2.5, 1).
        assert_eq!(back.project(&[vec![3.0, 2.0]]).unwrap(), vec![vec![1.0, 2.5, 1.0]]);
        std::fs::write(dir.path().join("bad"), b"nope").unwrap();
        assert!(Head::load(&dir.path().join("bad"), &d).unwrap_err().to_string().contains("not a reelmatch head"));
    }
}
