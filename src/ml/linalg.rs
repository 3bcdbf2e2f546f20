//! Matrix products on plain `f32` slices through `gemm` (runtime-detected AVX2/AVX-512 kernels,
//! on the rayon pool), reading either operand transposed in place: the CPU paths of ResNet-50
//! and of training call it without copying their operands into tensors.

/// A `rows × cols` matrix read from `data` at `data[r * row_stride + c * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct Strided<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Strided<'a> {
    /// `data` as a row-major `rows × cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Strided { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose, read from the same slice.
    pub fn t(self) -> Self {
        Strided { rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < self.data.len()
    }
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` with `accumulate`), `dst` row-major `lhs.rows × rhs.cols`,
/// on every core of the pool when the product is large enough.
pub fn matmul(dst: &mut [f32], lhs: Strided, rhs: Strided, accumulate: bool) {
    product(dst, lhs, rhs, accumulate, rayon::current_num_threads())
}

/// `dst = lhs · rhs` on the calling thread only: for callers that already split their work
/// over the pool (one product per task).
pub fn matmul_serial(dst: &mut [f32], lhs: Strided, rhs: Strided) {
    product(dst, lhs, rhs, false, 1)
}

/// `dst += lhs · rhs` on the calling thread only (see [`matmul_serial`]).
pub fn matmul_serial_onto(dst: &mut [f32], lhs: Strided, rhs: Strided) {
    product(dst, lhs, rhs, true, 1)
}

fn product(dst: &mut [f32], lhs: Strided, rhs: Strided, accumulate: bool, threads: usize) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(rhs.rows == k && dst.len() == m * n && lhs.fits() && rhs.fits(), "matrix shapes disagree");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    let parallelism =
        if threads > 1 && m * n * k > 1 << 16 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: every element the strides reach lies inside its slice (asserted above: `fits`, and
    // dst holds m×n row-major); dst does not alias lhs or rhs (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// The lower-triangular `L` with `L·Lᵀ = g` for a symmetric positive semi-definite `n × n`
/// matrix `g` (row-major, f64), overwritten with `L` (zeros above the diagonal). A pivot at or
/// below `tolerance` times the largest diagonal entry is a direction `g` does not reach (or
/// reaches only by rounding): its column of `L` is left zero, so `L·Lᵀ` differs from `g` by
/// about that tolerance. Rows below the pivot are filled on every core.
pub fn cholesky_semidefinite(g: &mut [f64], n: usize, tolerance: f64) {
    assert_eq!(g.len(), n * n, "a square matrix");
    let scale = (0..n).map(|i| g[i * n + i]).fold(0.0, f64::max);
    let floor = tolerance * scale;
    for j in 0..n {
        let (done, rest) = g.split_at_mut((j + 1) * n);
        let row_j = &mut done[j * n..];
        let d = row_j[j] - dot64(&row_j[..j], &row_j[..j]);
        let pivot = if d > floor { d.sqrt() } else { 0.0 };
        row_j[j] = pivot;
        row_j[j + 1..].fill(0.0);
        let row_j = &row_j[..j];
        // Row i's entry j needs rows i and j up to column j only: the rows below split freely.
        let fill = |rows: &mut [f64]| {
            for row in rows.chunks_exact_mut(n) {
                row[j] = if pivot == 0.0 { 0.0 } else { (row[j] - dot64(&row[..j], row_j)) / pivot };
            }
        };
        let below = (n - j - 1) * j;
        if below > 1 << 15 {
            use rayon::prelude::*;
            let per = (n - j - 1).div_ceil(rayon::current_num_threads()).max(1);
            rest.par_chunks_mut(per * n).for_each(fill);
        } else {
            fill(rest);
        }
    }
}

/// `a · b` in f64 with eight independent sums (so the compiler keeps it in vector registers).
fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(lhs: Strided, rhs: Strided) -> Vec<f32> {
        let at = |m: &Strided, r: usize, c: usize| m.data[r * m.row_stride + c * m.col_stride];
        let mut out = vec![0f32; lhs.rows * rhs.cols];
        for r in 0..lhs.rows {
            for c in 0..rhs.cols {
                out[r * rhs.cols + c] = (0..lhs.cols).map(|i| at(&lhs, r, i) * at(&rhs, i, c)).sum();
            }
        }
        out
    }

    #[test]
    fn products_with_either_operand_transposed_match_the_definition() {
        let mut rng = crate::rng::SplitMix64(3);
        let a: Vec<f32> = (0..37 * 70).map(|_| rng.unit() as f32 - 0.5).collect();
        let b: Vec<f32> = (0..70 * 45).map(|_| rng.unit() as f32 - 0.5).collect();
        let cases = [
            (Strided::row_major(&a, 37, 70), Strided::row_major(&b, 70, 45)),
            (Strided::row_major(&a, 70, 37).t(), Strided::row_major(&b, 45, 70).t()),
            (Strided::row_major(&a, 37, 70), Strided::row_major(&b, 45, 70).t()),
        ];
        for (i, (l, r)) in cases.into_iter().enumerate() {
            let want = naive(l, r);
            let mut got = vec![0f32; want.len()];
            matmul(&mut got, l, r, false);
            let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-4, "case {i}: off by {worst}");
            // Accumulating adds the product once more.
            matmul(&mut got, l, r, true);
            let worst = got.iter().zip(&want).map(|(g, w)| (g - 2.0 * w).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-4, "case {i}, accumulated: off by {worst}");
        }
    }

    #[test]
    #[should_panic(expected = "matrix shapes disagree")]
    fn a_view_past_its_slice_is_refused() {
        let a = vec![0f32; 10];
        let mut out = vec![0f32; 4];
        matmul(&mut out, Strided::row_major(&a, 2, 6), Strided::row_major(&a, 6, 2), false);
    }
    #[test]
    fn cholesky_rebuilds_definite_and_semidefinite_matrices() {
        let mut rng = crate::rng::SplitMix64(5);
        // g = a·aᵀ for a 30 × k matrix: definite with k = 40, rank 12 with k = 12.
        for k in [40usize, 12] {
            let n = 30;
            let a: Vec<f64> = (0..n * k).map(|_| rng.unit() - 0.5).collect();
            let mut g = vec![0f64; n * n];
            for i in 0..n {
                for j in 0..n {
                    g[i * n + j] = (0..k).map(|t| a[i * k + t] * a[j * k + t]).sum();
                }
            }
            let want = g.clone();
            cholesky_semidefinite(&mut g, n, 1e-12);
            let mut worst = 0f64;
            for i in 0..n {
                assert!(g[i * n + i + 1..(i + 1) * n].iter().all(|&x| x == 0.0), "lower triangular");
                for j in 0..n {
                    let back: f64 = (0..n).map(|t| g[i * n + t] * g[j * n + t]).sum();
                    worst = worst.max((back - want[i * n + j]).abs());
                }
            }
            assert!(worst < 1e-9, "rank {k}: L·Lᵀ off by {worst}");
            let zero_pivots = (0..n).filter(|&i| g[i * n + i] == 0.0).count();
            assert_eq!(zero_pivots, n.saturating_sub(k), "rank {k}");
        }
    }
}
