//! Exact nearest-neighbour search over L2-normalised vectors by a matrix product, behind a
//! trait so an approximate index can replace it when a library outgrows exact search.

use candle_core::{Device, Tensor};

/// A store of vectors that scores queries against all of them.
pub trait VectorIndex: Send + Sync {
    /// The vector dimension.
    fn dim(&self) -> usize;
    /// How many vectors are stored.
    fn len(&self) -> usize;
    /// Whether nothing is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Cosine similarity of each query (rows of `queries`, any norm) with every stored vector:
    /// `queries.len()` rows of `len()` scores.
    fn scores(&self, queries: &[Vec<f32>]) -> Vec<Vec<f32>>;
}

/// Every vector in one row-major matrix, normalised on insert; queries are one matrix product.
/// Optionally centred: scores are then cosines after subtracting the stored vectors' mean,
/// computed from the raw product without storing a second copy.
pub struct ExactIndex {
    dim: usize,
    data: Vec<f32>,
    center: Option<Center>,
}

/// The mean vector, each row's dot product with it, and each row's norm after centring.
struct Center {
    mean: Vec<f32>,
    row_dot: Vec<f32>,
    row_norm: Vec<f32>,
    mean_sq: f32,
}

impl ExactIndex {
    pub fn new(dim: usize) -> Self {
        ExactIndex { dim, data: Vec::new(), center: None }
    }

    /// Scores from now on are cosines of mean-centred vectors: features that every frame shares
    /// (ReLU features are all positive) stop dominating. Call after the last `push`.
    pub fn center(&mut self) {
        let n = self.len();
        if n == 0 {
            return;
        }
        let mut mean = vec![0f32; self.dim];
        for row in self.data.chunks_exact(self.dim) {
            mean.iter_mut().zip(row).for_each(|(m, x)| *m += x / n as f32);
        }
        let mean_sq: f32 = mean.iter().map(|x| x * x).sum();
        let row_dot: Vec<f32> =
            self.data.chunks_exact(self.dim).map(|r| r.iter().zip(&mean).map(|(a, b)| a * b).sum()).collect();
        let row_norm = row_dot.iter().map(|d| (1.0 - 2.0 * d + mean_sq).max(1e-12).sqrt()).collect();
        self.center = Some(Center { mean, row_dot, row_norm, mean_sq });
    }

    /// Adds a vector (normalised here); returns its row.
    pub fn push(&mut self, v: &[f32]) -> usize {
        assert_eq!(v.len(), self.dim, "vectors in one index share a dimension");
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        self.data.extend(v.iter().map(|x| x / norm));
        self.len() - 1
    }

    /// Copies of the stored (normalised) vectors at `rows`.
    pub fn rows(&self, rows: &[usize]) -> Vec<Vec<f32>> {
        rows.iter().map(|&r| self.data[r * self.dim..(r + 1) * self.dim].to_vec()).collect()
    }

    /// Bytes held by the vectors.
    pub fn bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<f32>()
    }
}

impl VectorIndex for ExactIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    fn scores(&self, queries: &[Vec<f32>]) -> Vec<Vec<f32>> {
        if queries.is_empty() || self.is_empty() {
            return vec![Vec::new(); queries.len()];
        }
        let mut q = Vec::with_capacity(queries.len() * self.dim);
        for v in queries {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
            q.extend(v.iter().map(|x| x / norm));
        }
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let qt = Tensor::from_slice(&q, (queries.len(), self.dim), &Device::Cpu)?;
            let m = Tensor::from_slice(&self.data, (self.len(), self.dim), &Device::Cpu)?;
            qt.matmul(&m.t()?)?.to_vec2()
        };
        let mut scores = run().expect("a CPU matrix product of matching shapes cannot fail");
        if let Some(c) = &self.center {
            for (row, qv) in scores.iter_mut().zip(q.chunks_exact(self.dim)) {
                let q_dot: f32 = qv.iter().zip(&c.mean).map(|(a, b)| a * b).sum();
                let q_norm = (1.0 - 2.0 * q_dot + c.mean_sq).max(1e-12).sqrt();
                for (j, s) in row.iter_mut().enumerate() {
                    *s = (*s - q_dot - c.row_dot[j] + c.mean_sq) / (q_norm * c.row_norm[j]);
                }
            }
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_cosines() {
        let mut idx = ExactIndex::new(2);
        idx.push(&[1.0, 0.0]);
        idx.push(&[0.0, 3.0]);
        idx.push(&[1.0, 1.0]);
        let s = idx.scores(&[vec![2.0, 0.0], vec![1.0, 1.0]]);
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(close(s[0][0], 1.0) && close(s[0][1], 0.0) && close(s[0][2], 0.70710677));
        assert!(close(s[1][2], 1.0));
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.bytes(), 24);
    }

    #[test]
    fn centring_equals_cosine_of_centred_vectors() {
        let rows = [[1.0f32, 0.2, 0.1], [0.9, 0.3, 0.0], [1.0, 0.0, 0.4]];
        let mut idx = ExactIndex::new(3);
        for r in &rows {
            idx.push(r);
        }
        idx.center();
        let q = vec![0.8f32, 0.4, 0.3];
        let got = idx.scores(std::slice::from_ref(&q));
        let unit = |v: &[f32]| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let stored: Vec<Vec<f32>> = rows.iter().map(|r| unit(r)).collect();
        let mean: Vec<f32> = (0..3).map(|d| stored.iter().map(|r| r[d]).sum::<f32>() / 3.0).collect();
        let centre = |v: &[f32]| v.iter().zip(&mean).map(|(a, b)| a - b).collect::<Vec<f32>>();
        for (j, r) in stored.iter().enumerate() {
            let want = crate::ml::cosine(&centre(&unit(&q)), &centre(r));
            assert!((got[0][j] - want).abs() < 1e-5, "row {j}: {} vs {want}", got[0][j]);
        }
    }
}
