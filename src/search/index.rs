//! Exact nearest-neighbour search over L2-normalised vectors (every stored vector scored), behind a
//! trait so an approximate index can replace it when a library outgrows exact search.

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

/// Every vector in one row-major matrix, normalised on insert; a query reads each row once.
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
        let row_dot: Vec<f32> = self.data.chunks_exact(self.dim).map(|r| dot(r, &mean)).collect();
        let row_norm = row_dot.iter().map(|d| (1.0 - 2.0 * d + mean_sq).max(1e-12).sqrt()).collect();
        self.center = Some(Center { mean, row_dot, row_norm, mean_sq });
    }

    /// Adds a vector (normalised here); returns its row.
    pub fn push(&mut self, v: &[f32]) -> usize {
        assert_eq!(v.len(), self.dim, "vectors in one index share a dimension");
        self.center = None;
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
        self.len() * self.dim * std::mem::size_of::<f32>()
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
        let mut scores = dot_all(&self.data, &q, self.dim, queries.len());
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

/// Dot products of every row of `data` with every query in `q` (both row-major, `dim` wide):
/// `n_queries` rows of scores. Rows are split across threads; each row is read once.
fn dot_all(data: &[f32], q: &[f32], dim: usize, n_queries: usize) -> Vec<Vec<f32>> {
    let n = data.len() / dim;
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(n.max(1));
    let per = n.div_ceil(threads);
    let mut by_row = vec![0f32; n * n_queries];
    let rows = rows_kernel();
    std::thread::scope(|scope| {
        for (chunk, out) in data.chunks(per * dim).zip(by_row.chunks_mut(per * n_queries)) {
            scope.spawn(move || rows(chunk, q, dim, out));
        }
    });
    (0..n_queries).map(|j| (0..n).map(|i| by_row[i * n_queries + j]).collect()).collect()
}

/// Scores rows of `chunk` against every query in `q`, into `out` (row-major, a row per data row).
type RowsKernel = fn(&[f32], &[f32], usize, &mut [f32]);

/// The fastest scoring loop this CPU runs: the same code compiled for AVX2 where the CPU has it
/// (x86-64 builds otherwise target SSE2 only, half the vector width), else the portable one.
fn rows_kernel() -> RowsKernel {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return |chunk, q, dim, out| {
            // SAFETY: the CPU was just checked to support AVX2.
            unsafe { score_rows_avx2(chunk, q, dim, out) }
        };
    }
    score_rows
}

#[inline(always)]
fn score_rows_with(chunk: &[f32], q: &[f32], dim: usize, out: &mut [f32], dot: impl Fn(&[f32], &[f32]) -> f32) {
    let n_queries = q.len() / dim;
    for (row, out) in chunk.chunks_exact(dim).zip(out.chunks_exact_mut(n_queries)) {
        for (o, query) in out.iter_mut().zip(q.chunks_exact(dim)) {
            *o = dot(row, query);
        }
    }
}

fn score_rows(chunk: &[f32], q: &[f32], dim: usize, out: &mut [f32]) {
    score_rows_with(chunk, q, dim, out, dot)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn score_rows_avx2(chunk: &[f32], q: &[f32], dim: usize, out: &mut [f32]) {
    score_rows_with(chunk, q, dim, out, dot)
}

/// A dot product with 16 independent accumulators, so the compiler can vectorise it.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..16 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
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
