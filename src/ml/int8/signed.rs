//! 8-bit products of signed rows on the VNNI kernel, for Whisper's encoder (its linear layers read
//! LayerNorm and GELU outputs, which are negative as often as not): each row quantised with its
//! own scale around a zero point of 128 (`x ≈ scale·(q − 128)`, `q` in 1…255), so `vpdpbusd`'s
//! unsigned side takes it, and 128 times each column's sum of weights taken back out after the
//! product (`Σ x·w = scale·col_scale·(Σ q·w − 128·Σ w)`), as f32 per row.
//!
//! Why: the encoder ran in f32 at 8-bit precision too, about 0.6 s a 30 s window of Whisper base
//! on the 2-core Zen 4 machine, more than half of a transcription's time; faster-whisper's int8
//! runs it in 8 bits the same way (a scale per row, computed as it comes).

use super::{matmul_into, Bytes, Epilogue, Kernel, PackedWeights, Rows, Scratch};

/// A `[k, n]` weight matrix for signed rows: the VNNI kernel's packed bytes, and each column's
/// zero-point term (`128 · col_scale · Σ_k q`).
pub struct SignedWeights {
    weights: PackedWeights,
    offsets: Vec<f32>,
}

impl SignedWeights {
    /// Row-major `weight` (`k × n`) in 8 bits, or `None` where the CPU lacks VNNI or the shape
    /// does not fit the kernel ([`super::fits`]).
    pub fn new(weight: &[f32], k: usize, n: usize) -> Option<SignedWeights> {
        if !Kernel::Vnni.runs() || !super::fits(k, n) {
            return None;
        }
        let weights = PackedWeights::new(weight, k, n, Kernel::Vnni);
        let offsets = weights.column_sums().iter().zip(&weights.scales).map(|(&s, &c)| 128.0 * s as f32 * c).collect();
        Some(SignedWeights { weights, offsets })
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
        let (bytes, scales) =
            (super::super::reuse(&mut scratch.rows, m * k), super::super::reuse(&mut scratch.scales, m));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the weights exist only where the CPU runs VNNI (see `new`); the shapes agree.
        unsafe {
            quantise(x, k, bytes, scales)
        };
        let then = Epilogue { bias, residual: None, relu: false };
        let lhs = Rows::Bytes(Bytes { bytes, scales });
        // The product reads its rows in bytes: the scratch it would quantise f32 rows into stays unused.
        matmul_into(dst, lhs, &self.weights, then, &mut Scratch::default());
        for (row, &scale) in dst.chunks_exact_mut(n).zip(scales.iter()) {
            row.iter_mut().zip(&self.offsets).for_each(|(v, &o)| *v -= scale * o);
        }
    }
}

/// Each row of `x` (`k` wide) to bytes around 128 at its own scale (`max |x| / 127`; 0 for a row
/// of zeros), rounding to nearest, ties to even.
///
/// # Safety
/// The CPU has AVX-512 F and BW; `bytes` is as long as `x`, `scales` has a value per row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantise(x: &[f32], k: usize, bytes: &mut [u8], scales: &mut [f32]) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract; every load and store lies inside a row and its bytes.
    unsafe {
        for ((row, out), scale) in x.chunks_exact(k).zip(bytes.chunks_exact_mut(k)).zip(scales) {
            let whole = k / 16 * 16;
            let mut most = _mm512_setzero_ps();
            for i in (0..whole).step_by(16) {
                most = _mm512_max_ps(most, _mm512_abs_ps(_mm512_loadu_ps(row.as_ptr().add(i))));
            }
            let peak = row[whole..].iter().fold(_mm512_reduce_max_ps(most), |a, &b| a.max(b.abs()));
            let inv = if peak > 0.0 { 127.0 / peak } else { 0.0 };
            let (vinv, zero) = (_mm512_set1_ps(inv), _mm512_set1_epi32(128));
            for i in (0..whole).step_by(16) {
                let q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(i)), vinv));
                let q = _mm512_cvtusepi32_epi8(_mm512_add_epi32(q, zero));
                _mm_storeu_si128(out.as_mut_ptr().add(i) as *mut __m128i, q);
            }
            for i in whole..k {
                out[i] = ((row[i] * inv).round_ties_even() as i32 + 128).clamp(0, 255) as u8;
            }
            *scale = peak / 127.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signed rows against the product in f64 (rows 100 wide, so the quantiser's tail runs; 13
    /// rows, every tile height; a row of zeros): within the two quantisations' error, and far
    /// below it overall.
    #[test]
    fn signed_rows_match_the_product_in_f64() {
        if !crate::kernels::exercise("8-bit product of signed rows (ml::int8::signed)", Kernel::Vnni.features()) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(33);
        let (k, n, m) = (100, 128, 13);
        let weight: Vec<f32> = (0..k * n).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
        let bias: Vec<f32> = (0..n).map(|_| rng.unit() as f32 - 0.5).collect();
        let mut x: Vec<f32> = (0..m * k).map(|_| (rng.unit() as f32 - 0.5) * 6.0).collect();
        x[4 * k..5 * k].fill(0.0);
        let w = SignedWeights::new(&weight, k, n).expect("VNNI runs and the shape fits");
        let mut got = vec![f32::NAN; m * n];
        w.product_into(&mut got, &x, &bias, &mut Scratch::default());
        let (mut err2, mut ref2) = (0f64, 0f64);
        for r in 0..m {
            let row = &x[r * k..(r + 1) * k];
            let peak = row.iter().fold(0f32, |a, &b| a.max(b.abs()));
            for c in 0..n {
                let dot: f64 = (0..k).map(|i| f64::from(row[i]) * f64::from(weight[i * n + c])).sum();
                let want = dot + f64::from(bias[c]);
                let col_peak = (0..k).map(|i| weight[i * n + c].abs()).fold(0f32, f32::max);
                // Each term off by at most half a step of either factor.
                let bound = k as f64 * f64::from(peak / 254.0 * col_peak + col_peak / 254.0 * peak) * 1.001 + 1e-4;
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
