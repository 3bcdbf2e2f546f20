//! Exhaustive nearest-neighbour search over L2-normalised vectors (every stored vector scored),
//! behind a trait so an approximate index can replace it when a library outgrows a full scan.
//! Vectors are stored as IEEE half floats: a scan is bound by memory bandwidth, and halving the
//! bytes halves the time; a unit vector's components lose under 0.05% each, which moves a cosine
//! by about 10⁻⁴ (the `half_precision_scores_match_f32` test bounds it).

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

/// Every vector in one row-major matrix of half floats (their bit patterns), normalised on
/// insert; a query reads each row once. Optionally centred: scores are then cosines after
/// subtracting the stored vectors' mean, computed from the raw product without a second copy.
pub struct FlatIndex {
    dim: usize,
    data: Vec<u16>,
    center: Option<Center>,
}

fn to_half(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

fn from_half(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
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
        FlatIndex { dim, data: Vec::new(), center: None }
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
            mean.iter_mut().zip(row).for_each(|(m, &x)| *m += from_half(x) / n as f32);
        }
        let mean_sq: f32 = mean.iter().map(|x| x * x).sum();
        let row_dot = dot_all(&self.data, &mean, self.dim, 1).remove(0);
        // |r − m|² = |r|² − 2 r·m + |m|², with |r|² of the stored (rounded) row: the centred norm is
        // a small difference of numbers near 1, so assuming |r| = 1 would amplify the rounding.
        let row_norm = self
            .data
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
        self.data.extend(v.iter().map(|x| to_half(x / norm)));
        self.len() - 1
    }

    /// Copies of the stored (normalised) vectors at `rows`.
    pub fn rows(&self, rows: &[usize]) -> Vec<Vec<f32>> {
        rows.iter()
            .map(|&r| self.data[r * self.dim..(r + 1) * self.dim].iter().map(|&h| from_half(h)).collect())
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

/// Dot products of every row of `data` (half floats) with every query in `q` (both row-major,
/// `dim` wide): `n_queries` rows of scores. Rows are split across threads; each is read once.
fn dot_all(data: &[u16], q: &[f32], dim: usize, n_queries: usize) -> Vec<Vec<f32>> {
    let n = data.len() / dim;
    // Queries are scored in groups of QUERY_GROUP (zero queries pad the last group).
    let padded = n_queries.div_ceil(QUERY_GROUP) * QUERY_GROUP;
    let mut qp = q.to_vec();
    qp.resize(padded * dim, 0.0);
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(n.max(1));
    let per = n.div_ceil(threads);
    let mut by_row = vec![0f32; n * padded];
    let rows = rows_kernel();
    let qp = &qp;
    std::thread::scope(|scope| {
        for (chunk, out) in data.chunks(per * dim).zip(by_row.chunks_mut(per * padded)) {
            scope.spawn(move || rows(chunk, qp, dim, out));
        }
    });
    (0..n_queries).map(|j| (0..n).map(|i| by_row[i * padded + j]).collect()).collect()
}

/// How many queries one pass over a row scores at once (one accumulator each).
const QUERY_GROUP: usize = 5;

/// Scores rows of `chunk` against every query in `q` (a multiple of QUERY_GROUP of them), into
/// `out` (row-major, a row per data row).
type RowsKernel = fn(&[u16], &[f32], usize, &mut [f32]);

/// The fastest scoring loop this CPU runs: AVX2 with FMA and hardware half-float conversion where
/// the CPU has them, else the portable one.
fn rows_kernel() -> RowsKernel {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        return |chunk, q, dim, out| {
            // SAFETY: the CPU was just checked to support AVX2, FMA and F16C.
            unsafe { x86::score_rows(chunk, q, dim, out) }
        };
    }
    score_rows
}

fn score_rows(chunk: &[u16], q: &[f32], dim: usize, out: &mut [f32]) {
    let n_queries = q.len() / dim;
    let mut row_f32 = vec![0f32; dim];
    for (row, out) in chunk.chunks_exact(dim).zip(out.chunks_exact_mut(n_queries)) {
        row_f32.iter_mut().zip(row).for_each(|(r, &h)| *r = from_half(h));
        for (o, query) in out.iter_mut().zip(q.chunks_exact(dim)) {
            *o = row_f32.iter().zip(query).map(|(a, b)| a * b).sum();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::QUERY_GROUP;
    use std::arch::x86_64::*;

    /// Rows in blocks that stay in the L2 cache while each query group's slice of `K_BLOCK`
    /// components stays in L1: every stored row comes from memory once. Two rows at a time are
    /// converted 8 halves at a time and multiplied into 2 × QUERY_GROUP accumulators, so each
    /// query load feeds two multiply-adds.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn score_rows(chunk: &[u16], q: &[f32], dim: usize, out: &mut [f32]) {
        const ROW_BLOCK: usize = 32;
        const K_BLOCK: usize = 1024;
        let n_queries = q.len() / dim;
        let body = dim / 8 * 8;
        out.fill(0.0);
        for (rows, outs) in chunk.chunks(ROW_BLOCK * dim).zip(out.chunks_mut(ROW_BLOCK * n_queries)) {
            let n_rows = rows.len() / dim;
            for k0 in (0..body).step_by(K_BLOCK) {
                let k1 = (k0 + K_BLOCK).min(body);
                for g in (0..n_queries).step_by(QUERY_GROUP) {
                    let mut i = 0;
                    while i + 2 <= n_rows {
                        // SAFETY: this function runs only where AVX2, FMA and F16C are enabled (its
                        // caller checked), and each row slice holds a whole row from its start.
                        let sums = unsafe {
                            tile::<2>([&rows[i * dim..], &rows[(i + 1) * dim..]], &q[g * dim..], dim, k0, k1)
                        };
                        for (r, s) in sums.iter().enumerate() {
                            let o = &mut outs[(i + r) * n_queries + g..];
                            o.iter_mut().zip(s).for_each(|(o, s)| *o += s);
                        }
                        i += 2;
                    }
                    if i < n_rows {
                        // SAFETY: as above.
                        let [s] = unsafe { tile::<1>([&rows[i * dim..]], &q[g * dim..], dim, k0, k1) };
                        let o = &mut outs[i * n_queries + g..];
                        o.iter_mut().zip(&s).for_each(|(o, s)| *o += s);
                    }
                }
            }
            for (row, o) in rows.chunks_exact(dim).zip(outs.chunks_exact_mut(n_queries)) {
                for (j, o) in o.iter_mut().enumerate() {
                    *o += (body..dim).map(|i| super::from_half(row[i]) * q[j * dim + i]).sum::<f32>();
                }
            }
        }
    }

    /// Components `k0..k1` of `R` rows against the QUERY_GROUP queries starting at `q`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    #[allow(clippy::needless_range_loop)] // the indices spell out the register tile
    unsafe fn tile<const R: usize>(
        rows: [&[u16]; R],
        q: &[f32],
        dim: usize,
        k0: usize,
        k1: usize,
    ) -> [[f32; QUERY_GROUP]; R] {
        let mut acc = [[_mm256_setzero_ps(); QUERY_GROUP]; R];
        for k in (k0..k1).step_by(8) {
            // SAFETY: k + 8 <= k1 <= dim, each row slice starts at a row, and `q` holds
            // QUERY_GROUP queries of `dim` floats from its start.
            let r: [__m256; R] = std::array::from_fn(|i| {
                // SAFETY: see above; 8 halves from `k` lie inside the row.
                _mm256_cvtph_ps(unsafe { _mm_loadu_si128(rows[i].as_ptr().add(k) as *const __m128i) })
            });
            for j in 0..QUERY_GROUP {
                // SAFETY: see above; 8 floats from `j * dim + k` lie inside query `j`.
                let qv = unsafe { _mm256_loadu_ps(q.as_ptr().add(j * dim + k)) };
                for i in 0..R {
                    acc[i][j] = _mm256_fmadd_ps(r[i], qv, acc[i][j]);
                }
            }
        }
        std::array::from_fn(|i| {
            std::array::from_fn(|j| {
                let mut lanes = [0f32; 8];
                // SAFETY: `lanes` holds the 8 floats stored.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[i][j]) };
                lanes.iter().sum()
            })
        })
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

    /// The portable loop and the one this CPU runs agree (rows in tiles and blocks, tails).
    #[test]
    fn the_cpu_kernel_matches_the_portable_one() {
        let mut rng = crate::rng::SplitMix64(5);
        let dim = 1100; // more than one component block, and a tail
        let data: Vec<u16> = (0..37 * dim).map(|_| to_half(rng.unit() as f32 - 0.5)).collect();
        let q: Vec<f32> = (0..2 * QUERY_GROUP * dim).map(|_| rng.unit() as f32 - 0.5).collect();
        let (mut want, mut got) = (vec![0f32; 37 * 2 * QUERY_GROUP], vec![1f32; 37 * 2 * QUERY_GROUP]);
        score_rows(&data, &q, dim, &mut want);
        rows_kernel()(&data, &q, dim, &mut got);
        for (w, g) in want.iter().zip(&got) {
            assert!((w - g).abs() < 1e-3, "{w} vs {g}");
        }
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
