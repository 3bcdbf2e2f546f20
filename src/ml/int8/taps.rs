//! A convolution's 8-bit product read straight from its input's 8-bit pixels, a tap (kernel
//! position) at a time, for the VNNI kernel: each pixel keeps its own scale, so the sums are
//! taken tap by tap in integers and added in f32 at the pixel's scale
//! (`Σ_tap scale(pixel) · (pixel's bytes · w[tap])`), and no patch is gathered or quantised.
//!
//! Why: ResNet-50's 3×3 convolutions had gathered each output's patch (nine pixels of f32
//! activations) and quantised it whole at the patch's largest value: nine times the input's
//! values through the quantiser per convolution, and the pixels with small values given the
//! coarse steps of their neighbours'.

#[cfg(target_arch = "x86_64")]
use super::sums;
use super::{in_groups, Bytes, Epilogue, Kernel, PackedWeights, Scratch, Store, PANEL};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// A tap outside the image (zero padding).
pub const OUTSIDE: u32 = u32::MAX;

/// What a convolution's taps read: `pixels` (`c` bytes each, a scale each), and for each output
/// row its `per_row` taps in the weights' depth order, each a pixel's index or [`OUTSIDE`].
#[derive(Clone, Copy)]
pub struct Taps<'a> {
    pub pixels: Bytes<'a>,
    pub c: usize,
    pub taps: &'a [u32],
    pub per_row: usize,
}

impl Taps<'_> {
    /// Asserts the taps fit `w` (depth `per_row · c`), that `w` runs on the VNNI kernel, and that
    /// every tap's pixel is inside `pixels`; returns the output rows.
    fn check(&self, w: &PackedWeights, then: &Epilogue) -> usize {
        assert!(w.kernel == Kernel::Vnni && w.kernel.runs(), "tap products run on the VNNI kernel");
        assert!(self.per_row * self.c == w.k && self.c.is_multiple_of(4), "taps and weights disagree");
        let pixels = self.pixels.scales.len();
        assert!(self.pixels.bytes.len() == pixels * self.c, "pixels and scales disagree");
        // Folded without an early exit, which compiles to vector compares.
        let inside = self.taps.iter().fold(true, |ok, &p| ok & (p == OUTSIDE || (p as usize) < pixels));
        assert!(inside, "a tap outside the pixels");
        assert!(then.residual.is_none() && then.bias.len() == w.n, "tap products take a bias, no residual");
        self.taps.len() / self.per_row
    }
}

/// `dst = relu?(Σ_tap pixel_scale · (pixel · w[tap]) · col_scale + bias)` for the rows of `x`
/// (`dst` is `rows × w.n`), on the calling thread.
pub fn taps_into(dst: &mut [f32], x: Taps, w: &PackedWeights, then: Epilogue) {
    let m = x.check(w, &then);
    assert_eq!(dst.len(), m * w.n, "matrix shapes disagree");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU runs VNNI and every tap lies inside the pixels (checked above); `dst` and
    // the bias are as long as the tiles write.
    unsafe {
        product(dst, x, w, m, then, None)
    }
}

/// [`taps_into`] with the results kept in 8 bits, as `int8::matmul_into_bytes` keeps them.
pub fn taps_into_bytes(
    dst: &mut [u8],
    dst_scales: &mut [f32],
    x: Taps,
    w: &PackedWeights,
    then: Epilogue,
    scratch: &mut Scratch,
) {
    let m = x.check(w, &then);
    assert!(dst.len() == m * w.n && dst_scales.len() == m, "matrix shapes disagree");
    in_groups((dst, dst_scales), w, then, scratch, |first, count, buffer, peaks, _| {
        let taps = &x.taps[first * x.per_row..(first + count) * x.per_row];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `taps_into`: the taps were checked above, `buffer` holds `count` rows and
        // `peaks` (from `in_groups`, on VNNI) a register for each.
        unsafe {
            product(buffer, Taps { taps, ..x }, w, count, then, peaks.map(|p| p.as_mut_ptr()))
        }
    });
}

/// Three output rows at a time: 12 registers of integer sums for a tap, 12 of f32 sums over the
/// taps, four of weights and a broadcast.
const TAP_ROWS: usize = 3;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn product(dst: &mut [f32], x: Taps, w: &PackedWeights, m: usize, then: Epilogue, peaks: Option<*mut f32>) {
    // SAFETY: the caller's contract (see `taps_into`).
    unsafe {
        let n = w.n;
        for panel in 0..n / PANEL {
            let wp = w.data.as_ptr().add(panel * (w.k / 4) * PANEL * 4);
            let col = panel * PANEL;
            let mut r = 0;
            while r < m {
                let out = Store::at(dst, n, then, r, col).keeping_peaks(peaks, r, col);
                let taps = &x.taps[r * x.per_row..];
                match m - r {
                    1 => tile::<1>(x, taps, wp, &w.scales[col..], out),
                    2 => tile::<2>(x, taps, wp, &w.scales[col..], out),
                    _ => tile::<TAP_ROWS>(x, taps, wp, &w.scales[col..], out),
                }
                r += TAP_ROWS;
            }
        }
    }
}

/// `R` rows × 64 columns: per tap the integer sums over the pixel's `c` bytes, added to the f32
/// sums at the pixel's scale; then `out = relu?(sum · col_scale + bias)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn tile<const R: usize>(x: Taps, taps: &[u32], wp: *const i8, col_scales: &[f32], store: Store) {
    // SAFETY: the caller's contract (see `taps_into`): a tap outside the image for some of the
    // rows reads pixel 0 at scale 0 for them.
    unsafe {
        let c4 = x.c / 4;
        let mut total = [[_mm512_setzero_ps(); 4]; R];
        for tap in 0..x.per_row {
            let mut from = [x.pixels.bytes.as_ptr(); R];
            let mut scale = [0f32; R];
            for i in 0..R {
                let p = *taps.get_unchecked(i * x.per_row + tap);
                if p != OUTSIDE {
                    from[i] = x.pixels.bytes.as_ptr().add(p as usize * x.c);
                    scale[i] = *x.pixels.scales.get_unchecked(p as usize);
                }
            }
            let wt = wp.add(tap * c4 * PANEL * 4);
            // The sums of `$count` rows from `$first` (constants, so the totals stay in
            // registers) added at their pixels' scales.
            macro_rules! add {
                ($first:expr, $count:expr) => {{
                    let acc = sums::<{ $count }>(std::array::from_fn(|i| from[$first + i]), wt, c4);
                    for i in 0..$count {
                        let s = _mm512_set1_ps(scale[$first + i]);
                        for j in 0..4 {
                            let t = &mut total[$first + i][j];
                            *t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][j]), s, *t);
                        }
                    }
                }};
            }
            // A row whose tap is outside the image (or on an all-zero pixel) adds nothing: a tap
            // outside for every row is skipped (on a map's top and bottom rows, a third of the
            // taps), and so are a three-row tile's first or last rows alone (the pixels on the
            // left and right edges, 18 % of the taps on a 7×7 map).
            let live = scale.map(|s| s != 0.0);
            match (R, live[0], live[R - 1], live[R / 2]) {
                (_, false, false, false) => {}
                (3, false, true, _) => add!(1, 2),
                (3, true, false, _) => add!(0, 2),
                (3, false, false, true) => add!(1, 1),
                _ => add!(0, R),
            }
        }
        let floor = _mm512_set1_ps(if store.relu { 0.0 } else { f32::NEG_INFINITY });
        for (i, total) in total.iter().enumerate() {
            let v = std::array::from_fn(|j| {
                let scale = _mm512_loadu_ps(col_scales.as_ptr().add(j * 16));
                _mm512_fmadd_ps(total[j], scale, _mm512_loadu_ps(store.bias.add(j * 16)))
            });
            store.row(i, v, floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tap products against the sums taken in f64 on weights whole in −127…127 (each column's
    /// largest 127, so quantising them changes nothing): for 1 to 7 rows (every tile height),
    /// nine taps of eight channels with some outside the image, two panels of columns; and kept
    /// in 8 bits, the f32 results' bytes.
    #[test]
    fn tap_products_match_the_sums_in_f64() {
        if !crate::kernels::exercise("8-bit tap product (ml::int8::taps)", Kernel::Vnni.features()) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(11);
        let (c, per_row, n, pixels) = (8, 9, 128, 20);
        let k = c * per_row;
        let mut weight: Vec<f32> = (0..k * n).map(|_| (rng.unit() * 254.0 - 127.0).round() as f32).collect();
        weight[..n].fill(127.0);
        let packed = PackedWeights::new(&weight, k, n, Kernel::Vnni);
        let bytes: Vec<u8> = (0..pixels * c).map(|_| (rng.unit() * 256.0) as u8).collect();
        let scales: Vec<f32> = (0..pixels).map(|p| if p == 3 { 0.0 } else { rng.unit() as f32 * 0.1 }).collect();
        let bias: Vec<f32> = (0..n).map(|_| rng.unit() as f32 * 2e4 - 1e4).collect();
        for m in 1..=7 {
            let taps: Vec<u32> = (0..m * per_row)
                .map(|_| if rng.unit() < 0.2 { OUTSIDE } else { (rng.unit() * pixels as f64) as u32 })
                .collect();
            let x = Taps { pixels: Bytes { bytes: &bytes, scales: &scales }, c, taps: &taps, per_row };
            let then = Epilogue { bias: &bias, residual: None, relu: true };
            let mut got = vec![f32::NAN; m * n];
            taps_into(&mut got, x, &packed, then);
            for r in 0..m {
                for col in 0..n {
                    let mut sum = f64::from(bias[col]);
                    for (t, &p) in taps[r * per_row..(r + 1) * per_row].iter().enumerate() {
                        if p == OUTSIDE {
                            continue;
                        }
                        let p = p as usize;
                        let dot: f64 = (0..c)
                            .map(|ch| f64::from(bytes[p * c + ch]) * f64::from(weight[(t * c + ch) * n + col]))
                            .sum();
                        sum += f64::from(scales[p]) * dot;
                    }
                    let (want, have) = (sum.max(0.0), f64::from(got[r * n + col]));
                    assert!(
                        (have - want).abs() <= 1e-5 * want.abs() + 1e-2,
                        "m {m}, row {r}, column {col}: {have} against {want}"
                    );
                }
            }
            let (mut want, mut want_scales) = (vec![0u8; m * n], vec![0f32; m]);
            Kernel::Vnni.quantise_rows(&got, n, &mut want, &mut want_scales);
            let (mut kept, mut kept_scales) = (vec![7u8; m * n], vec![f32::NAN; m]);
            taps_into_bytes(&mut kept, &mut kept_scales, x, &packed, then, &mut Scratch::default());
            assert!(kept == want && kept_scales == want_scales, "m {m}: outputs kept in 8 bits");
        }
    }
}
