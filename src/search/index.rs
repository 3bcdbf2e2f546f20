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
    /// For each query, each video's best score over its rows: `best[q][v]` is the highest of
    /// query `q`'s [`VectorIndex::scores_leaving_out`] over the rows whose `row_video` is `v`
    /// (minus infinity where none scores; rows marked `u32::MAX` belong to no video). What
    /// `dupes` asks of every video, without a row of scores per query frame. (This default
    /// scores every row and folds them.)
    fn best_per_video(
        &self,
        queries: &[Vec<f32>],
        own_video: Option<i64>,
        row_video: &[u32],
        videos: usize,
    ) -> Vec<Vec<f32>> {
        self.scores_leaving_out(queries, own_video)
            .iter()
            .map(|row| {
                let mut best = vec![f32::NEG_INFINITY; videos];
                for (&s, &v) in row.iter().zip(row_video) {
                    if let Some(b) = best.get_mut(v as usize).filter(|b| s > **b) {
                        *b = s;
                    }
                }
                best
            })
            .collect()
    }
    /// Copies of the stored (normalised) vectors at `rows`.
    fn rows(&self, rows: &[usize]) -> Vec<Vec<f32>>;
    /// [`VectorIndex::scores`] against the stored vectors at `rows` only: `queries.len()` rows
    /// of `rows.len()` scores. (This default scores every row and keeps those.)
    fn scores_at(&self, queries: &[Vec<f32>], rows: &[usize]) -> Vec<Vec<f32>> {
        self.scores(queries).iter().map(|all| rows.iter().map(|&r| all[r]).collect()).collect()
    }
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

impl Center {
    /// A (unit) query's product with the mean and its length once centred.
    fn query_terms(&self, q: &[f32]) -> (f32, f32) {
        let q_dot: f32 = q.iter().zip(&self.mean).map(|(a, b)| a * b).sum();
        (q_dot, (1.0 - 2.0 * q_dot + self.mean_sq).max(1e-12).sqrt())
    }

    /// The centred cosine of a query (its [`Center::query_terms`]) and row `row`, from their raw
    /// product.
    fn centred(&self, raw: f32, (q_dot, q_norm): (f32, f32), row: usize) -> f32 {
        (raw - q_dot - self.row_dot[row] + self.mean_sq) / (q_norm * self.row_norm[row])
    }
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

    /// Scores from now on are plain cosines (a vision-text model's space, where a description
    /// and a frame are compared as the model was trained to).
    pub fn uncentred(mut self) -> Self {
        self.center = None;
        self
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

/// Query rows [`FlatIndex::rows_at_least`] scores together per pass over the rows.
const QUERIES_PER_PASS: usize = 100;

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

    /// Blocks of rows scored on each core into a small buffer and folded at once into that
    /// core's best per video: the same scores as [`FlatIndex::scores_in`], bit for bit.
    fn best_per_video(
        &self,
        queries: &[Vec<f32>],
        _own: Option<i64>,
        row_video: &[u32],
        videos: usize,
    ) -> Vec<Vec<f32>> {
        const BLOCK_ROWS: usize = 1024;
        let (dim, n) = (self.dim, self.len());
        if queries.is_empty() || n == 0 {
            return vec![vec![f32::NEG_INFINITY; videos]; queries.len()];
        }
        let q = self.normalised(queries);
        let (qp, padded) = crate::scan::padded_queries(&q, dim, queries.len());
        // Each query's centring terms, where the index is centred.
        let centring: Option<(&Center, Vec<(f32, f32)>)> =
            self.center.as_ref().map(|c| (c, q.chunks_exact(dim).map(|qv| c.query_terms(qv)).collect()));
        let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(n.div_ceil(BLOCK_ROWS));
        let per = n.div_ceil(threads).next_multiple_of(BLOCK_ROWS);
        let fold = |first: usize, end: usize| -> Vec<f32> {
            // Row-major: a row of `videos` bests per query.
            let mut best = vec![f32::NEG_INFINITY; queries.len() * videos];
            let mut out = vec![0f32; BLOCK_ROWS * padded];
            for start in (first..end).step_by(BLOCK_ROWS) {
                let stop = (start + BLOCK_ROWS).min(end);
                let out = &mut out[..(stop - start) * padded];
                crate::scan::dot_block(&self.slice()[start * dim..stop * dim], &qp, dim, out);
                for (r, scores) in (start..stop).zip(out.chunks_exact(padded)) {
                    let v = row_video.get(r).copied().unwrap_or(u32::MAX) as usize;
                    if v >= videos {
                        continue;
                    }
                    for (j, &raw) in scores[..queries.len()].iter().enumerate() {
                        let s = match &centring {
                            Some((c, terms)) => c.centred(raw, terms[j], r),
                            None => raw,
                        };
                        let b = &mut best[j * videos + v];
                        if s > *b {
                            *b = s;
                        }
                    }
                }
            }
            best
        };
        let parts: Vec<Vec<f32>> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                (0..n).step_by(per).map(|first| scope.spawn(move || fold(first, (first + per).min(n)))).collect();
            handles.into_iter().map(|h| h.join().expect("a scoring thread panicked")).collect()
        });
        let mut all = parts.into_iter();
        let mut best = all.next().unwrap_or_default();
        for part in all {
            best.iter_mut().zip(part).for_each(|(b, p)| *b = if p > *b { p } else { *b });
        }
        best.chunks_exact(videos.max(1)).take(queries.len()).map(<[f32]>::to_vec).collect()
    }

    fn scores_at(&self, queries: &[Vec<f32>], rows: &[usize]) -> Vec<Vec<f32>> {
        FlatIndex::scores_at(self, queries, rows)
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
        let q = self.normalised(queries);
        let mut scores = dot_all(data, &q, self.dim, queries.len());
        if let Some(c) = &self.center {
            for (row, qv) in scores.iter_mut().zip(q.chunks_exact(self.dim)) {
                let terms = c.query_terms(qv);
                for (s, j) in row.iter_mut().zip(rows.clone()) {
                    *s = c.centred(*s, terms, j);
                }
            }
        }
        scores
    }

    /// The queries, each scaled to unit length, in one row-major block.
    fn normalised(&self, queries: &[Vec<f32>]) -> Vec<f32> {
        let mut q = Vec::with_capacity(queries.len() * self.dim);
        for v in queries {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
            q.extend(v.iter().map(|x| x / norm));
        }
        q
    }

    /// For each of the stored rows `queries`, every row scoring at least `threshold` with it
    /// (itself included), in row order: exactly the rows [`VectorIndex::scores`] would put at or
    /// above it, without scoring them all. On a centred index with a high threshold, a first
    /// pass takes each pair's product over the first components only; the rest of the product
    /// is at most the product of the two rows' remaining lengths (Cauchy–Schwarz), so a pair
    /// whose first part plus that bound falls short cannot reach the threshold. The few pairs
    /// left are scored in full.
    pub fn rows_at_least(&self, queries: &[usize], threshold: f32) -> Vec<Vec<usize>> {
        let dim = self.dim;
        // Enough components that the remaining lengths' product of two unrelated rows (about
        // 1 − cols/dim of their lengths' product) stays well under the threshold.
        let cols = (((1.0 - threshold.clamp(-1.0, 1.0)) * 2.5 * dim as f32).ceil() as usize).next_multiple_of(8);
        let Some(c) = self.center.as_ref().filter(|_| cols * 2 <= dim && threshold > 0.0) else {
            return self.rows_at_least_by_scores(queries, threshold);
        };
        // Each row's centred length past the first components (decoded and centred by the
        // standardising loop, with no scale and no spread).
        let rest: Vec<f32> = {
            use rayon::prelude::*;
            let ones = vec![1f32; dim - cols];
            self.slice()
                .par_chunks_exact(dim)
                .map_init(
                    || vec![0f32; dim - cols],
                    |buf, r| {
                        crate::scan::standardised_halves(&r[cols..], 1.0, &c.mean[cols..], &ones, buf);
                        buf.iter().map(|x| x * x).sum::<f32>().sqrt()
                    },
                )
                .collect()
        };
        let mut hits = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(QUERIES_PER_PASS) {
            let qs = self.rows(chunk);
            // Queries normalised and centred as `scores` takes them.
            let centred: Vec<Vec<f32>> = qs
                .iter()
                .map(|v| {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
                    v.iter().zip(&c.mean).map(|(x, m)| x / norm - m).collect()
                })
                .collect();
            let flat: Vec<f32> = centred.iter().flatten().copied().collect();
            let (firsts, padded) = crate::scan::dot_prefixes(self.slice(), &flat, dim, cols, chunk.len());
            // Per query: Σ q_i m_i over the first components (the first part of the centred
            // product is Σ q_i (r_i − m_i) = Σ q_i r_i − that), its centred length past them,
            // and its norm after centring as `scores` takes it.
            let per_query: Vec<(f32, f32, f32)> = centred
                .iter()
                .map(|q| {
                    let q_dot: f32 = q.iter().zip(&c.mean).map(|(a, m)| (a + m) * m).sum();
                    let q_norm = (1.0 - 2.0 * q_dot + c.mean_sq).max(1e-12).sqrt();
                    let q_mean: f32 = q[..cols].iter().zip(&c.mean[..cols]).map(|(a, m)| a * m).sum();
                    (q_mean, q[cols..].iter().map(|x| x * x).sum::<f32>().sqrt(), threshold * q_norm)
                })
                .collect();
            // A margin far above the rounding of these f32 sums keeps the pruning exact.
            let maybe: Vec<usize> = firsts
                .chunks_exact(padded)
                .enumerate()
                .filter(|(r, first)| {
                    first.iter().zip(&per_query).any(|(f, (q_mean, q_rest, need))| {
                        f - q_mean + q_rest * rest[*r] >= need * c.row_norm[*r] - 1e-3
                    })
                })
                .map(|(r, _)| r)
                .collect();
            let exact = self.scores_at(&qs, &maybe);
            hits.extend(exact.iter().map(|row| {
                row.iter().zip(&maybe).filter(|(s, _)| **s >= threshold).map(|(_, &r)| r).collect::<Vec<_>>()
            }));
        }
        hits
    }

    /// [`FlatIndex::rows_at_least`] by scoring every row.
    fn rows_at_least_by_scores(&self, queries: &[usize], threshold: f32) -> Vec<Vec<usize>> {
        queries
            .chunks(QUERIES_PER_PASS)
            .flat_map(|chunk| self.scores(&self.rows(chunk)))
            .map(|row| row.iter().enumerate().filter(|(_, s)| **s >= threshold).map(|(r, _)| r).collect())
            .collect()
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

    /// Each video's best score per query, folded as the scan goes over blocks and threads, is
    /// the best of the full scores over its rows, bit for bit, centred or not; rows of no video
    /// count for none, and a video without rows has none.
    #[test]
    fn best_per_video_is_the_best_of_the_full_scores() {
        let mut rng = crate::rng::SplitMix64(5);
        let dim = 72;
        let mut idx = FlatIndex::new(dim);
        for _ in 0..2600 {
            idx.push(&(0..dim).map(|_| rng.unit() as f32 - 0.3).collect::<Vec<_>>());
        }
        let queries: Vec<Vec<f32>> = (0..7).map(|_| (0..dim).map(|_| rng.unit() as f32).collect()).collect();
        // Eleven videos in uneven runs of rows, every ninth row in none, video 10 with no rows.
        let row_video: Vec<u32> =
            (0..2600).map(|r| if r % 9 == 4 { u32::MAX } else { (r * 10 / 2600) as u32 }).collect();
        for centred in [false, true] {
            if centred {
                idx.center();
            }
            let full = idx.scores(&queries);
            let best = idx.best_per_video(&queries, None, &row_video, 11);
            for (q, row) in full.iter().enumerate() {
                for v in 0..11u32 {
                    let want = row
                        .iter()
                        .zip(&row_video)
                        .filter(|(_, &rv)| rv == v)
                        .fold(f32::NEG_INFINITY, |b, (&s, _)| if s > b { s } else { b });
                    assert_eq!(
                        best[q][v as usize].to_bits(),
                        want.to_bits(),
                        "query {q}, video {v}, centred {centred}"
                    );
                }
            }
            assert_eq!(best[0][10], f32::NEG_INFINITY);
        }
    }

    /// The rows at or above a threshold, found by a first pass over the first components, are
    /// the ones full scores put there: groups of near copies (which reach the threshold) among
    /// unrelated rows, at a high threshold (a first part of about a sixth) and a lower one (about two
    /// fifths), over more query rows than one pass takes.
    #[test]
    fn rows_at_least_a_threshold_are_those_the_scores_give() {
        let mut rng = crate::rng::SplitMix64(21);
        let dim = 256;
        let mut idx = FlatIndex::new(dim);
        for group in 0..30 {
            let base: Vec<f32> = (0..dim).map(|_| rng.unit() as f32).collect();
            for copy in 0..8 {
                // Copies of a group's base with growing noise: some pairs reach 0.95, some 0.85.
                let noise = 0.05 + 0.12 * copy as f32;
                let v: Vec<f32> = base.iter().map(|b| b + noise * (rng.unit() as f32 - 0.5)).collect();
                idx.push(if group % 3 == 0 && copy == 0 { &base } else { &v });
            }
        }
        idx.center();
        let queries: Vec<usize> = (0..idx.len()).step_by(2).collect();
        for threshold in [0.95, 0.85] {
            let want = idx.rows_at_least_by_scores(&queries, threshold);
            let got = idx.rows_at_least(&queries, threshold);
            assert_eq!(got, want, "threshold {threshold}");
            let pairs: usize = got.iter().map(|h| h.len() - 1).sum();
            assert!(
                pairs > 0 && pairs < queries.len() * 7,
                "threshold {threshold}: {pairs} pairs beside the rows themselves"
            );
        }
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
