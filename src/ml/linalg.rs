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

/// `dst = lhs · rhs` (or `dst += lhs · rhs` with `accumulate`), `dst` row-major `lhs.rows × rhs.cols`.
pub fn matmul(dst: &mut [f32], lhs: Strided, rhs: Strided, accumulate: bool) {
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
    let threads = rayon::current_num_threads();
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
}
