//! The trained classifier: a linear layer over standardised backbone features
//! (2048 → one logit per video), saved as safetensors with its run.

use crate::error::{Error, Remedy, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

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
}

/// Standardises row-major `x` in place with `mean` and `std`.
pub fn standardise(x: &mut [f32], mean: &[f32], std: &[f32]) {
    for row in x.chunks_exact_mut(mean.len()) {
        row.iter_mut().zip(mean).zip(std).for_each(|((v, m), s)| *v = (*v - m) / s);
    }
}

impl Head {
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
        let mut hasher = blake3::Hasher::new();
        for t in [&self.weight, &self.bias, &self.mean, &self.std] {
            let values: Vec<f32> =
                t.flatten_all().and_then(|t| t.to_vec1()).map_err(|e| Error::compute("the trained head", e))?;
            values.iter().for_each(|v| {
                hasher.update(&v.to_le_bytes());
            });
        }
        Ok(hasher.finalize().to_hex()[..16].to_string())
    }

    /// Logits for raw (unstandardised) features, `n × dim` → `n × classes`.
    pub fn logits(&self, features: &Tensor) -> candle_core::Result<Tensor> {
        let x = features.broadcast_sub(&self.mean)?.broadcast_div(&self.std)?;
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }

    /// Logits for rows of raw features, as vectors (the head's output as an embedding space).
    pub fn project(&self, rows: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let x = Tensor::from_vec(flat, (rows.len(), self.dim()), self.weight.device())?;
            self.logits(&x)?.to_vec2()
        };
        run().map_err(|e| Error::compute("the trained head", e))
    }

    /// Writes the head as safetensors (`weight`, `bias`, `feature_mean`, `feature_std`).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let tensors: HashMap<String, Tensor> =
            [("weight", &self.weight), ("bias", &self.bias), ("feature_mean", &self.mean), ("feature_std", &self.std)]
                .into_iter()
                .map(|(k, t)| (k.to_string(), t.clone()))
                .collect();
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
        let head = Head {
            weight: take("weight")?,
            bias: take("bias")?,
            mean: take("feature_mean")?,
            std: take("feature_std")?,
        };
        let (c, d) = head.weight.dims2().map_err(|e| bad(e.to_string()))?;
        if head.bias.dims() != [c] || head.mean.dims() != [d] || head.std.dims() != [d] {
            return Err(bad("tensor shapes do not agree".into()));
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
        let head = Head {
            weight: Tensor::new(&[[1f32, 0.0], [0.0, 2.0], [1.0, 1.0]], &d).unwrap(),
            bias: Tensor::new(&[0f32, 0.5, -1.0], &d).unwrap(),
            mean: Tensor::new(&[1f32, 1.0], &d).unwrap(),
            std: Tensor::new(&[2f32, 1.0], &d).unwrap(),
        };
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
