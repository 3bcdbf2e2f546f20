//! Softmax over the last dimension and the exact (erf) GELU for `f32` tensors on the CPU, eight
//! lanes at a time where the CPU has AVX2 and both cores for large tensors. Candle's own ops call
//! the scalar `expf` and `erff` once per element: a sixth of Whisper's transcription time went
//! there. Other devices and dtypes keep Candle's ops.
//!
//! `exp` is Cephes' `expf` polynomial (relative error under 3e-7); `erf` is Abramowitz and
//! Stegun's 7.1.26 (absolute error 1.5e-7, under 4e-7 evaluated in f32: a few of f32's steps near
//! 1), so GELU stays the exact one, not the tanh approximation (off by up to 1e-3).

use candle_core::{bail, CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Softmax over the last dimension.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        return candle_nn::ops::softmax_last_dim(x);
    }
    x.contiguous()?.apply_op1_no_bwd(&Op::Softmax)
}

/// Softmax over each row of `row` elements of `values`, in place, on the calling thread.
pub fn softmax_rows(values: &mut [f32], row: usize) {
    run(&Op::Softmax, values, row.max(1));
}

/// `x · Φ(x)` with the exact normal CDF: `0.5 · x · (1 + erf(x / √2))`.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        return x.gelu_erf();
    }
    x.contiguous()?.apply_op1_no_bwd(&Op::Gelu)
}

enum Op {
    Softmax,
    Gelu,
}

/// Below this many elements one thread does the whole tensor (a decoding step's few rows).
const PARALLEL_FROM: usize = 1 << 15;

impl CustomOp1 for Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Softmax => "reelmatch-softmax",
            Op::Gelu => "reelmatch-gelu-erf",
        }
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            bail!("{}: expects a contiguous f32 tensor", self.name())
        };
        let mut out = data[start..end].to_vec();
        let row = match self {
            Op::Softmax => layout.dims().last().copied().unwrap_or(1).max(1),
            Op::Gelu => 1,
        };
        // Tasks of whole rows, about 4096 elements each.
        let task = 4096usize.div_ceil(row) * row;
        if out.len() >= PARALLEL_FROM {
            out.par_chunks_mut(task).for_each(|c| run(self, c, row));
        } else {
            run(self, &mut out, row);
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// Applies `op` to `values` (whole rows of `row` elements), eight lanes at a time where the CPU
/// has AVX2 and FMA (the scalar code below is the same arithmetic, for the rest and for other CPUs).
fn run(op: &Op, values: &mut [f32], row: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe {
            match op {
                Op::Softmax => values.chunks_exact_mut(row).for_each(|r| wide::softmax_row(r)),
                Op::Gelu => wide::gelu(values),
            }
        }
        return;
    }
    match op {
        Op::Softmax => values.chunks_exact_mut(row).for_each(softmax_row),
        Op::Gelu => values.iter_mut().for_each(|v| *v = gelu(*v)),
    }
}

/// One row's softmax in place.
fn softmax_row(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for v in row.iter_mut() {
        *v = exp(*v - max);
        sum += *v;
    }
    let scale = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= scale);
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two, so that `x − n·ln 2` stays exact for the `n` f32 can reach.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Cephes' `expf` coefficients, highest degree first.
const EXP_POLY: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5];
/// Below this `exp` returns 0 (f32 would run into subnormals); above `EXP_MAX` it saturates.
const EXP_MIN: f32 = -87.3;
const EXP_MAX: f32 = 88.37;
/// Abramowitz and Stegun 7.1.26: `p`, then `a5 … a1`.
const ERF_P: f32 = 0.327_591_1;
const ERF_POLY: [f32; 5] = [1.061_405_4, -1.453_152, 1.421_413_8, -0.284_496_72, 0.254_829_6];

/// Cephes' `expf`: `2^n · p(r)` with `x = n·ln 2 + r`, |r| ≤ ln 2 / 2. Below −87.3 it returns
/// 0, so −∞ (a masked position) gives 0 as it should.
pub fn exp(x: f32) -> f32 {
    let c = x.clamp(EXP_MIN, EXP_MAX);
    let n = (c * LOG2E + 0.5).floor();
    let r = c - n * LN2_HI - n * LN2_LO;
    let mut p = EXP_POLY[0];
    for k in &EXP_POLY[1..] {
        p = p * r + k;
    }
    p = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x < EXP_MIN {
        0.0
    } else {
        p * scale
    }
}

/// `erf(x)`, Abramowitz and Stegun 7.1.26.
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + ERF_P * a);
    let mut poly = ERF_POLY[0];
    for k in &ERF_POLY[1..] {
        poly = poly * t + k;
    }
    (1.0 - poly * t * exp(-a * a)).copysign(x)
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// The same arithmetic as `exp`, `erf` and `gelu` above, eight lanes at a time (multiplications
/// and additions kept separate, as there, so both give the same bits); the softmax sums its row
/// in eight partial sums.
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::*;
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp8(x: __m256) -> __m256 {
        let below = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(EXP_MIN));
        let c = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)), _mm256_set1_ps(EXP_MAX));
        let n = _mm256_floor_ps(_mm256_add_ps(_mm256_mul_ps(c, _mm256_set1_ps(LOG2E)), _mm256_set1_ps(0.5)));
        let r = _mm256_sub_ps(
            _mm256_sub_ps(c, _mm256_mul_ps(n, _mm256_set1_ps(LN2_HI))),
            _mm256_mul_ps(n, _mm256_set1_ps(LN2_LO)),
        );
        let mut p = _mm256_set1_ps(EXP_POLY[0]);
        for k in &EXP_POLY[1..] {
            p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(*k));
        }
        p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.0));
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)));
        _mm256_andnot_ps(below, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn gelu8(x: __m256) -> __m256 {
        let sign = _mm256_set1_ps(-0.0);
        let z = _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        let a = _mm256_andnot_ps(sign, z);
        let one = _mm256_set1_ps(1.0);
        let t = _mm256_div_ps(one, _mm256_add_ps(one, _mm256_mul_ps(_mm256_set1_ps(ERF_P), a)));
        let mut poly = _mm256_set1_ps(ERF_POLY[0]);
        for k in &ERF_POLY[1..] {
            poly = _mm256_add_ps(_mm256_mul_ps(poly, t), _mm256_set1_ps(*k));
        }
        let e = exp8(_mm256_mul_ps(_mm256_xor_ps(a, sign), a));
        let y = _mm256_sub_ps(one, _mm256_mul_ps(_mm256_mul_ps(poly, t), e));
        let erf = _mm256_or_ps(y, _mm256_and_ps(z, sign));
        _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5), x), _mm256_add_ps(one, erf))
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn gelu(values: &mut [f32]) {
        let mut parts = values.chunks_exact_mut(8);
        for c in &mut parts {
            // SAFETY: `c` holds exactly eight f32s.
            unsafe { _mm256_storeu_ps(c.as_mut_ptr(), gelu8(_mm256_loadu_ps(c.as_ptr()))) };
        }
        parts.into_remainder().iter_mut().for_each(|v| *v = super::gelu(*v));
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn softmax_row(row: &mut [f32]) {
        let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut parts = row.chunks_exact(8);
        for c in &mut parts {
            // SAFETY: `c` holds exactly eight f32s.
            m = _mm256_max_ps(m, unsafe { _mm256_loadu_ps(c.as_ptr()) });
        }
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` holds eight f32s.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), m) };
        let max = parts.remainder().iter().chain(&lanes).copied().fold(f32::NEG_INFINITY, f32::max);
        let (vmax, mut sums) = (_mm256_set1_ps(max), _mm256_setzero_ps());
        let mut parts = row.chunks_exact_mut(8);
        for c in &mut parts {
            // SAFETY: `c` holds exactly eight f32s.
            let e = exp8(_mm256_sub_ps(unsafe { _mm256_loadu_ps(c.as_ptr()) }, vmax));
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(c.as_mut_ptr(), e) };
            sums = _mm256_add_ps(sums, e);
        }
        let mut sum = 0f32;
        for v in parts.into_remainder() {
            *v = exp(*v - max);
            sum += *v;
        }
        // SAFETY: `lanes` holds eight f32s.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sums) };
        sum += lanes.iter().sum::<f32>();
        let scale = _mm256_set1_ps(1.0 / sum);
        let mut parts = row.chunks_exact_mut(8);
        for c in &mut parts {
            // SAFETY: `c` holds exactly eight f32s.
            unsafe { _mm256_storeu_ps(c.as_mut_ptr(), _mm256_mul_ps(_mm256_loadu_ps(c.as_ptr()), scale)) };
        }
        parts.into_remainder().iter_mut().for_each(|v| *v *= 1.0 / sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn exp_and_erf_are_within_f32_rounding() {
        // Against f64's exp of the very f32 input (rounding the input alone moves exp(88) by 4e-6).
        let worst_exp = (-8700..8800)
            .map(|i| (i as f64 / 100.0) as f32)
            .map(|x| ((exp(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs())
            .fold(0f64, f64::max);
        assert!(worst_exp < 3e-7, "exp: relative error {worst_exp}");
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        // erf against its Maclaurin series (converges fast for |x| ≤ 3 in f64).
        let series = |x: f64| {
            let (mut term, mut sum, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        };
        let worst_erf = (-300..=300)
            .map(|i| (i as f64 / 100.0) as f32)
            .map(|x| (erf(x) as f64 - series(x as f64)).abs())
            .fold(0f64, f64::max);
        assert!(worst_erf < 4e-7, "erf: absolute error {worst_erf}");
        assert_eq!(erf(9.0), 1.0);
    }

    /// The eight-lane GELU gives the scalar one's bits (so the CPUs without AVX2 agree).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_wide_gelu_is_the_scalar_one() {
        if !crate::kernels::exercise("eight-lane GELU (ml::fastmath)", &["avx2", "fma"]) {
            return;
        }
        let mut v: Vec<f32> = (-1200..1200).map(|i| i as f32 / 97.0).collect();
        v.extend([f32::NEG_INFINITY, -100.0, 100.0]);
        let want: Vec<f32> = v.iter().map(|&x| gelu(x)).collect();
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        unsafe { wide::gelu(&mut v) };
        let differ = v.iter().zip(&want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differ, 0, "{differ} of {} values differ", v.len());
        // The eight-lane softmax against the scalar one, through the body and a tail of 3.
        let mut row: Vec<f32> = (0..43).map(|i| ((i * 37) % 23) as f32 / 3.0 - 4.0).collect();
        let mut scalar = row.clone();
        softmax_row(&mut scalar);
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        unsafe { wide::softmax_row(&mut row) };
        for (i, (w, s)) in row.iter().zip(&scalar).enumerate() {
            assert!((w - s).abs() <= 1e-5 * s + 1e-9, "softmax component {i}: {w} against {s}");
        }
    }

    #[test]
    fn the_ops_match_candles_on_large_and_small_tensors() {
        let d = Device::Cpu;
        for shape in [(2usize, 3usize, 700usize), (1, 6, 1500)] {
            let len = shape.0 * shape.1 * shape.2;
            let mut rng = crate::rng::SplitMix64(len as u64);
            let v: Vec<f32> = (0..len).map(|_| (rng.unit() as f32 - 0.5) * 24.0).collect();
            let x = Tensor::from_vec(v, shape, &d).unwrap();
            let close = |a: Tensor, b: Tensor, tol: f32, what: &str| {
                let diff = (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
                let diff = diff.to_scalar::<f32>().unwrap();
                assert!(diff < tol, "{what} {shape:?}: differs by {diff}");
            };
            close(softmax_last_dim(&x).unwrap(), candle_nn::ops::softmax_last_dim(&x).unwrap(), 1e-6, "softmax");
            close(gelu_erf(&x).unwrap(), x.gelu_erf().unwrap(), 2e-6, "gelu");
            // A transposed (non-contiguous) input is read in its logical order.
            let t = x.transpose(1, 2).unwrap();
            let reference = candle_nn::ops::softmax_last_dim(&t.contiguous().unwrap()).unwrap();
            close(softmax_last_dim(&t).unwrap(), reference, 1e-6, "softmax ᵀ");
        }
        // Masked positions (−∞) get no weight.
        let m = Tensor::new(&[[0f32, f32::NEG_INFINITY, 1.0]], &d).unwrap();
        let p = softmax_last_dim(&m).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(p[0][1], 0.0);
        assert!((p[0][0] + p[0][2] - 1.0).abs() < 1e-6);
    }
}
