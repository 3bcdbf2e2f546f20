//! 8-bit linear layers for a few input rows at a time (Whisper's decoder, one token per step) on
//! AVX2: each weight row (an output) quantised once with its own scale, each input row quantised
//! as it comes with its own, and the integer sums exact over the whole depth. Candle's Q8_0 blocks
//! carry a scale per 32 weights and turn every block's sum into f32; here only the row's total is.
//!
//! The kernel multiplies signed bytes with `vpmaddubsw`, which wants one side unsigned: the input's
//! magnitudes (`|x|`) against the weights with the input's signs moved onto them. Both sides lie in
//! −127…127, so a pair of products (at most 2·127² = 32,258) never saturates its 16 bits.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Depth per kernel step: one 32-byte register.
const STEP: usize = 32;
/// Output rows per kernel call, sharing each load of the input.
const ROWS: usize = 4;
/// Products smaller than this many multiply-adds run on the calling thread alone.
const SERIAL_BELOW: usize = 1 << 18;

/// Whether this CPU runs the kernel (AVX2).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// An `outputs × inputs` weight matrix (a linear layer's, as stored) in bytes, one scale per
/// output, each row padded with zeros to a multiple of 32.
pub struct Rows8 {
    data: Vec<i8>,
    scales: Vec<f32>,
    inputs: usize,
    outputs: usize,
    /// `inputs` rounded up to a multiple of [`STEP`].
    stride: usize,
}

impl Rows8 {
    /// Quantises row-major `weight` (`outputs × inputs`): `w ≈ scale[o]·q`, `q` in −127…127.
    pub fn new(weight: &[f32], outputs: usize, inputs: usize) -> Rows8 {
        assert_eq!(weight.len(), outputs * inputs, "an {outputs} × {inputs} weight matrix");
        let stride = inputs.div_ceil(STEP) * STEP;
        let mut data = vec![0i8; outputs * stride];
        let mut scales = vec![0.0f32; outputs];
        for (o, row) in weight.chunks_exact(inputs).enumerate() {
            scales[o] = quantise(row, &mut data[o * stride..o * stride + inputs]);
        }
        Rows8 { data, scales, inputs, outputs, stride }
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// `x · Wᵀ (+ bias)` for the rows of `x` (`rows × inputs`, row-major): `rows × outputs`.
    /// [`available`] must be true.
    pub fn product(&self, x: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        assert!(available(), "the 8-bit row product needs AVX2");
        let rows = x.len() / self.inputs;
        assert_eq!(x.len(), rows * self.inputs, "the input's rows are {} wide", self.inputs);
        let mut q = vec![0i8; rows * self.stride];
        let xs: Vec<f32> = x
            .chunks_exact(self.inputs)
            .zip(q.chunks_exact_mut(self.stride))
            .map(|(row, out)| quantise(row, &mut out[..self.inputs]))
            .collect();
        let mut out = vec![0.0f32; rows * self.outputs];
        let outputs_from = |first: usize, sums: &mut [i32]| {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 is there (asserted above); `dots` reads rows `first..` of `self.data`
            // (within bounds: `sums` holds at most the remaining rows' sums) and the rows of `q`.
            unsafe {
                dots(&self.data[first * self.stride..], self.stride, &q, sums, rows)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (first, sums);
        };
        let mut sums = vec![0i32; rows * self.outputs];
        // Sums are laid out output by output (`outputs × rows`), so threads split them by output.
        if rows == 0 {
            return out;
        } else if self.outputs * self.inputs < SERIAL_BELOW {
            outputs_from(0, &mut sums);
        } else {
            use rayon::prelude::*;
            let chunk = self.outputs.div_ceil(rayon::current_num_threads() * 4).next_multiple_of(ROWS);
            sums.par_chunks_mut(chunk * rows).enumerate().for_each(|(i, s)| outputs_from(i * chunk, s));
        }
        for r in 0..rows {
            for o in 0..self.outputs {
                let b = bias.map_or(0.0, |b| b[o]);
                out[r * self.outputs + o] = sums[o * rows + r] as f32 * xs[r] * self.scales[o] + b;
            }
        }
        out
    }
}

/// `row` to bytes in −127…127 with one scale (`max |x| / 127`; an all-zero row gets 0), returned.
fn quantise(row: &[f32], out: &mut [i8]) -> f32 {
    let peak = row.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
    let inv = if peak > 0.0 { 127.0 / peak } else { 0.0 };
    for (o, &v) in out.iter_mut().zip(row) {
        *o = (v * inv).round().clamp(-127.0, 127.0) as i8;
    }
    peak / 127.0
}

/// `sums[o·rows + r] = Σ w[o]·x[r]` for the weight rows in `w` (`stride` bytes each) that `sums`
/// has room for, and every row of `x` (`rows` of `stride` bytes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dots(w: &[i8], stride: usize, x: &[i8], sums: &mut [i32], rows: usize) {
    let outputs = sums.len() / rows;
    debug_assert!(w.len() >= outputs * stride && x.len() == rows * stride);
    // SAFETY: every load lies inside `w` (outputs × stride) or `x` (rows × stride).
    unsafe {
        let ones = _mm256_set1_epi16(1);
        let mut o = 0;
        while o < outputs {
            let group = (outputs - o).min(ROWS);
            let wp = w.as_ptr().add(o * stride);
            for r in 0..rows {
                let xp = x.as_ptr().add(r * stride);
                let mut acc = [_mm256_setzero_si256(); ROWS];
                for step in (0..stride).step_by(STEP) {
                    let xv = _mm256_loadu_si256(xp.add(step) as *const __m256i);
                    let magnitude = _mm256_sign_epi8(xv, xv);
                    for (j, acc) in acc.iter_mut().enumerate().take(group) {
                        let wv = _mm256_loadu_si256(wp.add(j * stride + step) as *const __m256i);
                        let pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(wv, xv));
                        *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
                    }
                }
                // Four registers' lanes summed at once: [a0+a1.., b.., c.., d..] per half.
                let ab = _mm256_hadd_epi32(acc[0], acc[1]);
                let cd = _mm256_hadd_epi32(acc[2], acc[3]);
                let abcd = _mm256_hadd_epi32(ab, cd);
                let total = _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256::<1>(abcd));
                let mut four = [0i32; ROWS];
                _mm_storeu_si128(four.as_mut_ptr() as *mut __m128i, total);
                for (j, &s) in four.iter().enumerate().take(group) {
                    sums[(o + j) * rows + r] = s;
                }
            }
            o += ROWS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 8-bit product against f32 on random signed rows, for shapes whose depth and outputs
    /// are not multiples of the kernel's, serial and split across threads, with and without
    /// bias: within the quantisation's error bound per entry and far below it overall.
    #[test]
    fn eight_bit_rows_match_f32_within_quantisation() {
        if !crate::kernels::exercise("8-bit row product (ml::rows8)", &["avx2"]) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(81);
        for (outputs, inputs, rows) in [(7, 45, 1), (64, 512, 3), (1030, 300, 2)] {
            let weight: Vec<f32> = (0..outputs * inputs).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
            let x: Vec<f32> = (0..rows * inputs).map(|_| (rng.unit() as f32 - 0.5) * 6.0).collect();
            let bias: Vec<f32> = (0..outputs).map(|o| o as f32 * 0.01).collect();
            let packed = Rows8::new(&weight, outputs, inputs);
            for with_bias in [false, true] {
                let got = packed.product(&x, with_bias.then_some(&bias[..]));
                assert_eq!(got.len(), rows * outputs);
                let (mut err2, mut ref2) = (0f64, 0f64);
                for r in 0..rows {
                    let row = &x[r * inputs..(r + 1) * inputs];
                    let x_peak = row.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
                    for o in 0..outputs {
                        let w = &weight[o * inputs..(o + 1) * inputs];
                        let w_peak = w.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
                        let dot: f32 =
                            row.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() + if with_bias { bias[o] } else { 0.0 };
                        // Each term's error is at most half a step of either factor, and a bit.
                        let bound = inputs as f32 * (x_peak / 254.0 * w_peak + w_peak / 254.0 * x_peak) * 1.01;
                        let e = got[r * outputs + o] - dot;
                        assert!(e.abs() <= bound, "{outputs}×{inputs} row {r} output {o}: {e} (bound {bound})");
                        err2 += (e as f64).powi(2);
                        ref2 += (dot as f64).powi(2);
                    }
                }
                let relative = (err2 / ref2).sqrt();
                assert!(relative < 0.02, "{outputs}×{inputs}: relative error {relative}");
            }
        }
    }

    /// An all-zero input row gives the bias alone, not NaN.
    #[test]
    fn a_zero_row_gives_the_bias() {
        if !crate::kernels::exercise("8-bit row product (ml::rows8)", &["avx2"]) {
            return;
        }
        let packed = Rows8::new(&[1.0, -2.0, 3.0, 4.0, 5.0, -6.0], 2, 3);
        assert_eq!(packed.product(&[0.0; 3], Some(&[0.5, -0.5])), vec![0.5, -0.5]);
        let got = packed.product(&[1.0, 1.0, 1.0], None);
        assert!((got[0] - 2.0).abs() < 0.05 && (got[1] - 3.0).abs() < 0.05, "{got:?}");
    }
}
