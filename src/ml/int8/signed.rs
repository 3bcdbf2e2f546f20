//! 8-bit products of signed rows on the VNNI kernel, for Whisper's encoder (its linear layers read
//! LayerNorm and GELU outputs, which are negative as often as not): each row quantised with its
//! own scale around a zero point of 128 (`x ≈ scale·(q − 128)`, `q` in 1…255), so `vpdpbusd`'s
//! unsigned side takes it, and 128 times each column's sum of weights taken back out after the
//! product (`Σ x·w = scale·col_scale·(Σ q·w − 128·Σ w)`), as f32 per row. A row's few entries
//! far above the rest (more than 8 times its root mean square: the encoder's outlier channels)
//! are taken out before it is quantised and added back in f32 against their weights' row, so
//! they do not coarsen every other entry's steps.
//!
//! Why: the encoder ran in f32 at 8-bit precision too, about 0.6 s a 30 s window of Whisper base
//! on the 2-core Zen 4 machine, more than half of a transcription's time; faster-whisper's int8
//! runs it in 8 bits the same way (a scale per row, computed as it comes).

use super::{matmul_into, Bytes, Epilogue, Kernel, PackedWeights, Rows, Scratch};
use crate::ml::reuse;

/// Entries more than this many times their row's root mean square are outliers.
const OUTLIER: f32 = 8.0;
/// At most this many outliers a row are taken out (the first found).
const MOST_OUTLIERS: usize = 16;

/// A `[k, n]` weight matrix for signed rows: the VNNI kernel's packed bytes, each column's
/// zero-point term (`128 · col_scale · Σ_k q`), and the same bytes row by row (`k × n`), for the
/// outliers' products.
pub struct SignedWeights {
    weights: PackedWeights,
    offsets: Vec<f32>,
    rows: Vec<i8>,
}

impl SignedWeights {
    /// Row-major `weight` (`k × n`) in 8 bits, or `None` where the CPU lacks VNNI or the shape
    /// does not fit the kernel ([`super::fits`]).
    pub fn new(weight: &[f32], k: usize, n: usize) -> Option<SignedWeights> {
        if !Kernel::Vnni.runs() || !super::fits(k, n) {
            return None;
        }
        let weights = PackedWeights::new(weight, k, n, Kernel::Vnni);
        let rows = weights.row_major();
        let mut sums = vec![0i32; n];
        for row in rows.chunks_exact(n) {
            sums.iter_mut().zip(row).for_each(|(s, &q)| *s += i32::from(q));
        }
        let offsets = sums.iter().zip(&weights.scales).map(|(&s, &c)| 128.0 * s as f32 * c).collect();
        Some(SignedWeights { weights, offsets, rows })
    }

    /// The depth (inputs) and the outputs.
    pub fn shape(&self) -> (usize, usize) {
        (self.weights.k, self.weights.n)
    }

    /// `dst = x · w + bias` for the rows of `x` (`m × k`, any sign), on the calling thread.
    pub fn product_into(&self, dst: &mut [f32], x: &[f32], bias: &[f32], scratch: &mut Scratch) {
        let (k, n) = self.shape();
        let m = x.len() / k;
        assert!(x.len() == m * k && dst.len() == m * n && bias.len() == n, "matrix shapes disagree");
        let (bytes, scales) = (reuse(&mut scratch.rows, m * k), reuse(&mut scratch.scales, m));
        // Each outlier's row, depth and value, and a row with its outliers set to zero.
        let (mut outliers, mut inliers) = (Vec::<(usize, usize, f32)>::new(), Vec::new());
        for (r, ((row, out), scale)) in
            x.chunks_exact(k).zip(bytes.chunks_exact_mut(k)).zip(scales.iter_mut()).enumerate()
        {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the weights exist only where the CPU runs VNNI (see `new`); `out` is as
            // long as the row.
            unsafe {
                let (peak, squares) = peak_and_squares(row);
                let limit = OUTLIER * (squares / k as f32).sqrt();
                let found = outliers.len();
                if peak > limit {
                    let far = row.iter().enumerate().filter(|(_, v)| v.abs() > limit).take(MOST_OUTLIERS);
                    outliers.extend(far.map(|(i, &v)| (r, i, v)));
                }
                *scale = if outliers.len() > found {
                    inliers.clear();
                    inliers.extend_from_slice(row);
                    outliers[found..].iter().for_each(|&(_, i, _)| inliers[i] = 0.0);
                    quantise_row(&inliers, peak_and_squares(&inliers).0, out)
                } else {
                    quantise_row(row, peak, out)
                };
            }
        }
        let then = Epilogue { bias, residual: None, relu: false };
        let lhs = Rows::Bytes(Bytes { bytes, scales });
        // The product reads its rows in bytes: the scratch it would quantise f32 rows into stays unused.
        matmul_into(dst, lhs, &self.weights, then, &mut Scratch::default());
        for (row, &scale) in dst.chunks_exact_mut(n).zip(scales.iter()) {
            row.iter_mut().zip(&self.offsets).for_each(|(v, &o)| *v -= scale * o);
        }
        for (r, i, v) in outliers {
            let weights = self.rows[i * n..(i + 1) * n].iter().zip(&self.weights.scales);
            dst[r * n..(r + 1) * n].iter_mut().zip(weights).for_each(|(d, (&q, &c))| *d += v * (f32::from(q) * c));
        }
    }
}

/// The largest `|value|` of `row`, and the sum of the squares.
///
/// # Safety
/// The CPU has AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn peak_and_squares(row: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    // SAFETY: every load lies inside the row, 16 at a time while 16 remain.
    unsafe {
        let whole = row.len() / 16 * 16;
        let (mut most, mut squares) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for i in (0..whole).step_by(16) {
            let v = _mm512_loadu_ps(row.as_ptr().add(i));
            most = _mm512_max_ps(most, _mm512_abs_ps(v));
            squares = _mm512_fmadd_ps(v, v, squares);
        }
        let tail = &row[whole..];
        let peak = tail.iter().fold(_mm512_reduce_max_ps(most), |a, &b| a.max(b.abs()));
        (peak, tail.iter().fold(_mm512_reduce_add_ps(squares), |a, &b| a + b * b))
    }
}

/// `row` to bytes around 128 at the scale `peak / 127` (`peak` its largest `|value|`; 0 for a
/// row of zeros), rounding to nearest, ties to even; returns the scale.
///
/// # Safety
/// The CPU has AVX-512 F and BW; `out` is as long as `row`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantise_row(row: &[f32], peak: f32, out: &mut [u8]) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract; every load and store lies inside the row and its bytes.
    unsafe {
        let whole = row.len() / 16 * 16;
        let inv = if peak > 0.0 { 127.0 / peak } else { 0.0 };
        let (vinv, zero) = (_mm512_set1_ps(inv), _mm512_set1_epi32(128));
        for i in (0..whole).step_by(16) {
            let q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(i)), vinv));
            let q = _mm512_cvtusepi32_epi8(_mm512_add_epi32(q, zero));
            _mm_storeu_si128(out.as_mut_ptr().add(i) as *mut __m128i, q);
        }
        for i in whole..row.len() {
            out[i] = ((row[i] * inv).round_ties_even() as i32 + 128).clamp(0, 255) as u8;
        }
        peak / 127.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signed rows against the product in f64 (rows 612 wide, so the quantiser's tail runs; 13
    /// rows, every tile height; a row of zeros, two rows with outliers): within the two
    /// quantisations' error at the scale of each row's entries but its outliers, and far below it
    /// overall.
    #[test]
    fn signed_rows_match_the_product_in_f64() {
        if !crate::kernels::exercise("8-bit product of signed rows (ml::int8::signed)", Kernel::Vnni.features()) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(33);
        let (k, n, m) = (612, 128, 13);
        let weight: Vec<f32> = (0..k * n).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
        let bias: Vec<f32> = (0..n).map(|_| rng.unit() as f32 - 0.5).collect();
        let mut x: Vec<f32> = (0..m * k).map(|_| (rng.unit() as f32 - 0.5) * 6.0).collect();
        x[4 * k..5 * k].fill(0.0);
        // Row 7 with two outliers (a hundred times the rest), row 9 with one among its last four values.
        x[7 * k + 3] = 300.0;
        x[7 * k + 60] = -250.0;
        x[9 * k + 609] = 400.0;
        let w = SignedWeights::new(&weight, k, n).expect("VNNI runs and the shape fits");
        let mut got = vec![f32::NAN; m * n];
        w.product_into(&mut got, &x, &bias, &mut Scratch::default());
        let (mut err2, mut ref2) = (0f64, 0f64);
        for r in 0..m {
            let row = &x[r * k..(r + 1) * k];
            // The bound at the scale of the row's other entries: outliers are added back whole.
            let rms = (row.iter().map(|v| v * v).sum::<f32>() / k as f32).sqrt();
            let peak = row.iter().filter(|v| v.abs() <= OUTLIER * rms).fold(0f32, |a, &b| a.max(b.abs()));
            for c in 0..n {
                let dot: f64 = (0..k).map(|i| f64::from(row[i]) * f64::from(weight[i * n + c])).sum();
                let want = dot + f64::from(bias[c]);
                let col_peak = (0..k).map(|i| weight[i * n + c].abs()).fold(0f32, f32::max);
                // Each term off by at most half a step of either factor; an outlier by half a
                // step of its weight.
                let far: f32 = row.iter().filter(|v| v.abs() > OUTLIER * rms).map(|v| v.abs()).sum();
                let steps = k as f32 * (peak / 254.0 * col_peak + col_peak / 254.0 * peak) + far * col_peak / 254.0;
                let bound = f64::from(steps) * 1.001 + 1e-4;
                let e = f64::from(got[r * n + c]) - want;
                assert!(e.abs() <= bound, "row {r}, column {c}: {} against {want} (bound {bound})", got[r * n + c]);
                err2 += e * e;
                ref2 += dot * dot;
            }
        }
        let relative = (err2 / ref2).sqrt();
        assert!(relative < 0.01, "relative error {relative}");
    }
}
