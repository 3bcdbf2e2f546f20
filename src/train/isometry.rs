//! A head's logits in fewer dimensions when it has more classes than features: for logits
//! `W·x + b` (`W` classes × features, `x` standardised) and the Cholesky factor `L·Lᵀ = Wᵀ·W`,
//! `z = [Lᵀ·x + c, e]` with `L·c = Wᵀ·b` and `e² = |b|² − |c|²` has `|z| = |W·x + b|` and
//! `z(x)·z(y) = (W·x + b)·(W·y + b)` for every pair: every cosine search takes, centred or not,
//! is the same in features + 1 dimensions as in one per class (at 4000 videos, 2049 instead of
//! 4000 per stored frame). When the bias lies in the weight's column space (a zero bias, say),
//! `e` is zero and left out: as many dimensions as features.

use crate::error::{Error, Result};
use crate::ml::linalg::{cholesky_semidefinite, matmul, Strided};
use candle_core::{Tensor, D};
use std::collections::HashMap;

/// Pivots below this share of the largest are directions the weight does not reach.
const TOLERANCE: f64 = 1e-10;

/// `z = [x·L + c, e]` for rows `x` of standardised features.
#[derive(Debug)]
pub struct Isometry {
    /// Features × features, lower triangular.
    lower: Tensor,
    /// Features.
    offset: Tensor,
    /// The constant last component (none when it is zero).
    extra: f32,
}

impl Isometry {
    /// The isometry of the logits of `weight` (classes × features) and `bias`.
    pub fn of_head(weight: &Tensor, bias: &Tensor) -> Result<Isometry> {
        let fail = |e| Error::compute("the trained head's compact space", e);
        let (classes, dim) = weight.dims2().map_err(fail)?;
        let w: Vec<f32> = weight.flatten_all().and_then(|t| t.to_vec1()).map_err(fail)?;
        let b: Vec<f32> = bias.to_vec1().map_err(fail)?;
        // Wᵀ·W on gemm in f32, then factored in f64.
        let mut gram = vec![0f32; dim * dim];
        let wm = Strided::row_major(&w, classes, dim);
        matmul(&mut gram, wm.t(), wm, false);
        let mut l: Vec<f64> = gram.iter().map(|&g| g as f64).collect();
        cholesky_semidefinite(&mut l, dim, TOLERANCE);
        // Wᵀ·b, then L·c = Wᵀ·b by forward substitution (zero where L has no pivot).
        let mut wtb = vec![0f64; dim];
        for (row, &bc) in w.chunks_exact(dim).zip(&b) {
            wtb.iter_mut().zip(row).for_each(|(acc, &x)| *acc += x as f64 * bc as f64);
        }
        let mut c = vec![0f64; dim];
        for i in 0..dim {
            let pivot = l[i * dim + i];
            if pivot != 0.0 {
                let known: f64 = (0..i).map(|k| l[i * dim + k] * c[k]).sum();
                c[i] = (wtb[i] - known) / pivot;
            }
        }
        let b_sq: f64 = b.iter().map(|&x| x as f64 * x as f64).sum();
        let left = (b_sq - c.iter().map(|x| x * x).sum::<f64>()).max(0.0);
        // What rounding leaves of a bias the weight's columns reach is no dimension of its own.
        let extra = if left > 1e-10 * b_sq { left.sqrt() as f32 } else { 0.0 };
        let device = weight.device();
        let lower = Tensor::from_vec(l.iter().map(|&x| x as f32).collect::<Vec<f32>>(), (dim, dim), device);
        let offset = Tensor::from_vec(c.iter().map(|&x| x as f32).collect::<Vec<f32>>(), dim, device);
        Ok(Isometry { lower: lower.map_err(fail)?, offset: offset.map_err(fail)?, extra })
    }

    /// Rows of standardised features (`n × dim`) in the compact space (`n ×` [`Isometry::dim`]).
    pub fn apply(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let z = x.matmul(&self.lower)?.broadcast_add(&self.offset)?;
        if self.extra == 0.0 {
            return Ok(z);
        }
        let extra = Tensor::full(self.extra, (z.dims()[0], 1), z.device())?;
        Tensor::cat(&[&z, &extra], D::Minus1)
    }

    /// The tensors a head's file keeps it in.
    pub fn tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let extra = Tensor::new(&[self.extra], self.lower.device())
            .map_err(|e| Error::compute("the trained head's compact space", e))?;
        Ok(vec![
            ("isometry_lower".into(), self.lower.clone()),
            ("isometry_offset".into(), self.offset.clone()),
            ("isometry_extra".into(), extra),
        ])
    }

    /// The isometry a head's file kept, when it has one of features × features.
    pub fn from_tensors(t: &mut HashMap<String, Tensor>, dim: usize) -> Option<Isometry> {
        let lower = t.remove("isometry_lower")?;
        let offset = t.remove("isometry_offset")?;
        let extra = t.remove("isometry_extra")?.to_vec1::<f32>().ok()?;
        (lower.dims() == [dim, dim] && offset.dims() == [dim] && extra.len() == 1).then(|| Isometry {
            lower,
            offset,
            extra: extra[0],
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::train::head::Head;
    use candle_core::{Device, Tensor};

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    /// A head of `classes` over `dim` features whose weight has rank `rank`, and its logits and
    /// compact images of a few rows.
    fn check(classes: usize, dim: usize, rank: usize) {
        let mut rng = crate::rng::SplitMix64(classes as u64 * 31 + rank as u64);
        let mut r = |n: usize| (0..n).map(|_| rng.unit() as f32 - 0.5).collect::<Vec<f32>>();
        let (a, b) = (r(classes * rank), r(rank * dim));
        let mut w = vec![0f32; classes * dim];
        for i in 0..classes {
            for j in 0..dim {
                w[i * dim + j] = (0..rank).map(|k| a[i * rank + k] * b[k * dim + j]).sum();
            }
        }
        let d = Device::Cpu;
        let head = Head::new(
            Tensor::from_vec(w, (classes, dim), &d).unwrap(),
            Tensor::from_vec(r(classes), classes, &d).unwrap(),
            Tensor::from_vec(r(dim), dim, &d).unwrap(),
            Tensor::from_vec(r(dim).iter().map(|x| x + 1.0).collect::<Vec<f32>>(), dim, &d).unwrap(),
        );
        assert!(head.compact());
        let rows: Vec<Vec<f32>> = (0..6).map(|_| r(dim)).collect();
        let z = head.project(&rows).unwrap();
        // A random bias is outside the weight's columns: one dimension more than the features.
        assert_eq!(z[0].len(), dim + 1);
        let x = Tensor::from_vec(rows.iter().flatten().copied().collect::<Vec<f32>>(), (6, dim), &d).unwrap();
        let logits: Vec<Vec<f32>> = head.logits(&x).unwrap().to_vec2().unwrap();
        for i in 0..6 {
            for j in 0..6 {
                let (want, got) = (dot(&logits[i], &logits[j]), dot(&z[i], &z[j]));
                let scale = dot(&logits[i], &logits[i]).sqrt() * dot(&logits[j], &logits[j]).sqrt();
                assert!((want - got).abs() < 1e-4 * scale, "rank {rank}, rows {i}·{j}: {got} against {want}");
            }
        }
    }

    #[test]
    fn compact_space_keeps_every_length_and_inner_product() {
        check(50, 12, 12);
        // A weight that reaches only 5 of the 12 feature directions.
        check(50, 12, 5);
    }

    /// A head of `weight` (classes × `dim`) and `bias` over features standardised as they are.
    fn plain_head(weight: Vec<f32>, bias: Vec<f32>, dim: usize) -> Head {
        let (d, classes) = (Device::Cpu, bias.len());
        Head::new(
            Tensor::from_vec(weight, (classes, dim), &d).unwrap(),
            Tensor::from_vec(bias, classes, &d).unwrap(),
            Tensor::zeros(dim, candle_core::DType::F32, &d).unwrap(),
            Tensor::ones(dim, candle_core::DType::F32, &d).unwrap(),
        )
    }

    #[test]
    fn a_bias_the_weight_reaches_takes_no_dimension() {
        let d = Device::Cpu;
        let mut rng = crate::rng::SplitMix64(4);
        let mut r = |n: usize| (0..n).map(|_| rng.unit() as f32 - 0.5).collect::<Vec<f32>>();
        let head = plain_head(r(30 * 6), vec![0.0; 30], 6);
        let rows = vec![r(6), r(6)];
        let z = head.project(&rows).unwrap();
        assert_eq!(z[0].len(), 6);
        let x = Tensor::from_vec(rows.concat(), (2, 6), &d).unwrap();
        let logits: Vec<Vec<f32>> = head.logits(&x).unwrap().to_vec2().unwrap();
        let (want, got) = (dot(&logits[0], &logits[1]), dot(&z[0], &z[1]));
        assert!((want - got).abs() < 1e-4 * want.abs().max(1.0), "{got} against {want}");
    }

    #[test]
    fn the_isometry_is_kept_in_the_heads_file() {
        let d = Device::Cpu;
        let mut rng = crate::rng::SplitMix64(9);
        let mut r = |n: usize| (0..n).map(|_| rng.unit() as f32 - 0.5).collect::<Vec<f32>>();
        let head = plain_head(r(40 * 8), r(40), 8);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.safetensors");
        head.save(&path).unwrap();
        let names = candle_core::safetensors::load(&path, &d).unwrap();
        assert!(names.contains_key("isometry_lower"), "{:?}", names.keys());
        let back = Head::load(&path, &d).unwrap();
        let row = vec![r(8)];
        assert_eq!(back.project(&row).unwrap(), head.project(&row).unwrap());
    }
}
