//! Exhaustive nearest-neighbour search over L2-normalised vectors (every stored vector scored),
//! behind a trait that the approximate index (`approx.rs`) also implements for large libraries.
//! Vectors are stored as IEEE half floats: a scan is bound by memory bandwidth, and halving the
//! bytes halves the time; a unit vector's components lose under 0.05% each, which moves a cosine
//! by about 10⁻⁴ (the `half_precision_scores_match_f32` test bounds it).

use crate::scan::{dot_all, from_half, to_half};
use crate::store::{FrameStore, Rows};
use std::sync::Arc;

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
    /// `queries.len()` rows of `len()` scores. An approximate index scores only the rows it
    /// takes for candidates; the others get minus infinity (they match nothing).
    fn scores(&self, queries: &[Vec<f32>]) -> Vec<Vec<f32>>;
    /// [`VectorIndex::scores`] for one search whose own video (catalog id) is left out of the
    /// results: an index that picks candidates may skip it (the shared catalog's HNSW k-NN,
    /// which the query's own frames would otherwise fill). Scores are the same either way.
    fn scores_leaving_out(&self, queries: &[Vec<f32>], _own_video: Option<i64>) -> Vec<Vec<f32>> {
        self.scores(queries)
    }
    /// Copies of the stored (normalised) vectors at `rows`.
    fn rows(&self, rows: &[usize]) -> Vec<Vec<f32>>;
    /// "exact" or "approximate", for reports.
    fn kind(&self) -> &'static str;
    /// Whether queries of several searches may share one `scores` call (the full scan reads
    /// the store once for all of them); the approximate index picks its candidates for one
    /// search's frames at a time.
    fn scores_queries_together(&self) -> bool {
        true
    }
}

/// Every vector in one row-major matrix of half floats (their bit patterns), normalised on
/// insert; a query reads each row once. Optionally centred: scores are then cosines after
/// subtracting the stored vectors' mean, computed from the raw product without a second copy.
pub struct FlatIndex {
    dim: usize,
    data: Rows,
    center: Option<Center>,
}

/// The mean vector, each row's dot product with it, and each row's norm after centring.
struct Center {
    mean: Vec<f32>,
    row_dot: Vec<f32>,
    row_norm: Vec<f32>,
    mean_sq: f32,
}

impl FlatIndex {
    pub fn new(dim: usize) -> Self {
        FlatIndex { dim, data: Rows::Owned(Arc::new(Vec::new())), center: None }
    }

    /// Every row of a vector store as it lies on disk (mapped, not copied), centred with the
    /// mean and row figures the store keeps.
    pub fn from_store(store: &FrameStore) -> Self {
        let c = store.centre();
        let mean_sq: f32 = c.mean.iter().map(|x| x * x).sum();
        let row_norm =
            c.row_sq.iter().zip(&c.row_dot).map(|(sq, d)| (sq - 2.0 * d + mean_sq).max(1e-12).sqrt()).collect();
        let center =
            (!store.is_empty()).then(|| Center { mean: c.mean.clone(), row_dot: c.row_dot.clone(), row_norm, mean_sq });
        FlatIndex { dim: store.dim().max(1), data: store.rows().clone(), center }
    }

    fn slice(&self) -> &[u16] {
        self.data.as_slice()
    }

    /// Scores from now on are cosines of mean-centred vectors: features that every frame shares
    /// (ReLU features are all positive) stop dominating. Call after the last `push`.
    pub fn center(&mut self) {
        let n = self.len();
        if n == 0 {
            return;
        }
        let mut mean = vec![0f32; self.dim];
        for row in self.slice().chunks_exact(self.dim) {
            mean.iter_mut().zip(row).for_each(|(m, &x)| *m += from_half(x) / n as f32);
        }
        let mean_sq: f32 = mean.iter().map(|x| x * x).sum();
        let row_dot = dot_all(self.slice(), &mean, self.dim, 1).remove(0);
        // |r − m|² = |r|² − 2 r·m + |m|², with |r|² of the stored (rounded) row: the centred norm is
        // a small difference of numbers near 1, so assuming |r| = 1 would amplify the rounding.
        let row_norm = self
            .slice()
            .chunks_exact(self.dim)
            .zip(&row_dot)
            .map(|(r, d)| {
                let sq: f32 = r.iter().map(|&h| from_half(h).powi(2)).sum();
                (sq - 2.0 * d + mean_sq).max(1e-12).sqrt()
            })
            .collect();
        self.center = Some(Center { mean, row_dot, row_norm, mean_sq });
    }

    /// Adds a vector (normalised here); returns its row.
    pub fn push(&mut self, v: &[f32]) -> usize {
        assert_eq!(v.len(), self.dim, "vectors in one index share a dimension");
        self.center = None;
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        let halves = v.iter().map(|x| to_half(x / norm));
        match &mut self.data {
            Rows::Owned(data) => Arc::make_mut(data).extend(halves),
            Rows::Mapped { .. } => {
                let mut data = self.data.as_slice().to_vec();
                data.extend(halves);
                self.data = Rows::Owned(Arc::new(data));
            }
        }
        self.len() - 1
    }

    /// Copies of the stored (normalised) vectors at `rows`.
    pub fn rows(&self, rows: &[usize]) -> Vec<Vec<f32>> {
        rows.iter()
            .map(|&r| self.slice()[r * self.dim..(r + 1) * self.dim].iter().map(|&h| from_half(h)).collect())
            .collect()
    }

    /// Bytes held by the vectors.
    pub fn bytes(&self) -> usize {
        self.len() * self.dim * std::mem::size_of::<u16>()
    }
}

impl VectorIndex for FlatIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.slice().len() / self.dim.max(1)
    }

    fn scores(&self, queries: &[Vec<f32>]) -> Vec<Vec<f32>> {
        self.scores_in(queries, 0..self.len())
    }

    fn rows(&self, rows: &[usize]) -> Vec<Vec<f32>> {
        FlatIndex::rows(self, rows)
    }

    fn kind(&self) -> &'static str {
        "exact"
    }
}

impl FlatIndex {
    /// Cosine similarity of each query with the stored vectors `range`: `queries.len()` rows of
    /// `range.len()` scores.
    pub fn scores_in(&self, queries: &[Vec<f32>], range: std::ops::Range<usize>) -> Vec<Vec<f32>> {
        let data = &self.slice()[range.start * self.dim..range.end * self.dim];
        self.score_data(queries, data, range)
    }

    /// Cosine similarity of each query with the stored vectors at `rows` (gathered first, so
    /// the scan kernel reads them as one block): `queries.len()` rows of `rows.len()` scores.
    pub fn scores_at(&self, queries: &[Vec<f32>], rows: &[usize]) -> Vec<Vec<f32>> {
        let mut data = Vec::with_capacity(rows.len() * self.dim);
        for &r in rows {
            data.extend_from_slice(&self.slice()[r * self.dim..(r + 1) * self.dim]);
        }
        self.score_data(queries, &data, rows.iter().copied())
    }

    /// Scores of `queries` against `data` (rows of this index, in the order `rows` names them).
    fn score_data(
        &self,
        queries: &[Vec<f32>],
        data: &[u16],
        rows: impl Iterator<Item = usize> + Clone,
    ) -> Vec<Vec<f32>> {
        if queries.is_empty() || data.is_empty() {
            return vec![Vec::new(); queries.len()];
        }
        let mut q = Vec::with_capacity(queries.len() * self.dim);
        for v in queries {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
            q.extend(v.iter().map(|x| x / norm));
        }
        let mut scores = dot_all(data, &q, self.dim, queries.len());
        if let Some(c) = &self.center {
            for (row, qv) in scores.iter_mut().zip(q.chunks_exact(self.dim)) {
                let q_dot: f32 = qv.iter().zip(&c.mean).map(|(a, b)| a * b).sum();
                let q_norm = (1.0 - 2.0 * q_dot + c.mean_sq).max(1e-12).sqrt();
                for (s, j) in row.iter_mut().zip(rows.clone()) {
                    *s = (*s - q_dot - c.row_dot[j] + c.mean_sq) / (q_norm * c.row_norm[j]);
                }
            }
        }
        scores
    }

    /// The stored (normalised) rows, half floats, row-major.
    pub fn halves(&self) -> &[u16] {
        self.slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_cosines() {
        let mut idx = FlatIndex::new(2);
        idx.push(&[1.0, 0.0]);
        idx.push(&[0.0, 3.0]);
        idx.push(&[1.0, 1.0]);
        let s = idx.scores(&[vec![2.0, 0.0], vec![1.0, 1.0]]);
        let close = |a: f32, b: f32| (a - b).abs() < 5e-4;
        assert!(close(s[0][0], 1.0) && close(s[0][1], 0.0) && close(s[0][2], 0.70710677));
        assert!(close(s[1][2], 1.0));
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.bytes(), 12, "two bytes per component");
    }

    /// Half-float storage against f32 cosines, with a width that is not a multiple of 8 (the
    /// kernel's tail) and a query count that is not a multiple of the query group (padding).
    #[test]
    fn half_precision_scores_match_f32() {
        let mut rng = crate::rng::SplitMix64(11);
        let mut random = |dim: usize| (0..dim).map(|_| rng.unit() as f32 - 0.3).collect::<Vec<f32>>();
        let dim = 300;
        let stored: Vec<Vec<f32>> = (0..50).map(|_| random(dim)).collect();
        let queries: Vec<Vec<f32>> = (0..7).map(|_| random(dim)).collect();
        let mut idx = FlatIndex::new(dim);
        for v in &stored {
            idx.push(v);
        }
        let got = idx.scores(&queries);
        let mut worst = 0f32;
        for (q, row) in queries.iter().zip(&got) {
            assert_eq!(row.len(), stored.len());
            for (v, s) in stored.iter().zip(row) {
                worst = worst.max((s - crate::ml::cosine(q, v)).abs());
            }
        }
        assert!(worst < 5e-4, "largest difference {worst}");
        assert!(worst > 0.0, "half floats round: the scores cannot all be exact");
    }

    #[test]
    fn centring_equals_cosine_of_centred_vectors() {
        let rows = [[1.0f32, 0.2, 0.1], [0.9, 0.3, 0.0], [1.0, 0.0, 0.4]];
        let mut idx = FlatIndex::new(3);
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
            assert!((got[0][j] - want).abs() < 5e-4, "row {j}: {} vs {want}", got[0][j]);
        }
    }
}
