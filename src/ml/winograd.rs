//! Winograd's F(2×2, 3×3) for ResNet-50's stride-1 3×3 convolutions on channels-last
//! activations: each 2×2 block of outputs costs 16 products per input/output channel pair
//! instead of 36 (2.25× fewer multiply-adds), exact in real arithmetic; the transforms use only
//! ±1 and ½, so in f32 it stays within rounding of the direct sum.
//!
//! The image is cut into 4×4 input tiles overlapping by two; a tile's 16 transformed values
//! `Bᵀ·d·B` per channel form 16 matrices (tiles × c_in), each multiplied by its transformed
//! kernel `G·g·Gᵀ` (c_in × c_out, computed at load), and `Aᵀ·m·A` turns the 16 products back
//! into the 2×2 outputs. Work is split into groups of tile rows, one group per task, so each
//! group's transformed tiles stay in cache between the three steps.

use super::linalg::{matmul_serial, Strided};
use rayon::prelude::*;

/// A 3×3 kernel (padding 1, stride 1) in the Winograd domain.
pub struct Winograd3x3 {
    /// 16 matrices `[c_in, c_out]`: element `ξ = 4·i + j` of `G·g·Gᵀ` for every channel pair.
    u: Vec<f32>,
    c_in: usize,
    c_out: usize,
}

/// Output tiles handled by one task at most: enough rows for `gemm`'s kernels, few enough
/// that the tiles' 16 transformed matrices stay in the core's cache.
const GROUP_TILES: usize = 64;

impl Winograd3x3 {
    /// From a kernel in im2col layout: `[ky, kx, c_in, c_out]`, row-major.
    pub fn from_im2col(weight: &[f32], c_in: usize, c_out: usize) -> Self {
        assert_eq!(weight.len(), 9 * c_in * c_out, "a 3×3 kernel");
        const G: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
        let mut u = vec![0f32; 16 * c_in * c_out];
        for ci in 0..c_in {
            for co in 0..c_out {
                let g = |ky: usize, kx: usize| weight[((ky * 3 + kx) * c_in + ci) * c_out + co] as f64;
                // G·g (4×3), then (G·g)·Gᵀ (4×4).
                let mut gg = [[0f64; 3]; 4];
                for (i, row) in gg.iter_mut().enumerate() {
                    for (kx, v) in row.iter_mut().enumerate() {
                        *v = (0..3).map(|ky| G[i][ky] * g(ky, kx)).sum();
                    }
                }
                for i in 0..4 {
                    for j in 0..4 {
                        let v: f64 = (0..3).map(|kx| gg[i][kx] * G[j][kx]).sum();
                        u[((4 * i + j) * c_in + ci) * c_out + co] = v as f32;
                    }
                }
            }
        }
        Winograd3x3 { u, c_in, c_out }
    }

    /// `out += conv(x)` for `x` channels-last `[b, h, w, c_in]` and `out` `[b, h, w, c_out]`.
    #[cfg(test)]
    fn accumulate(&self, x: &[f32], dims: (usize, usize, usize), out: &mut [f32]) {
        self.convolve(x, dims, out, |_, _| {}, |_| {});
    }

    /// `conv(x)` written into `out` between two passes over each group's output rows while they
    /// are in cache: `prepare(rows, first)` before the products are added on (`first` is the
    /// index of the rows' first pixel in `out`), `finish(rows)` after.
    pub fn convolve(
        &self,
        x: &[f32],
        (b, h, w): (usize, usize, usize),
        out: &mut [f32],
        prepare: impl Fn(&mut [f32], usize) + Sync,
        finish: impl Fn(&mut [f32]) + Sync,
    ) {
        let (ci, co) = (self.c_in, self.c_out);
        assert!(x.len() == b * h * w * ci && out.len() == b * h * w * co, "activation shapes disagree");
        let tiles_w = w.div_ceil(2);
        // Each item: an image, a tile row, and the one or two output rows it covers.
        let mut rows: Vec<(usize, usize, &mut [f32])> = Vec::with_capacity(b * h.div_ceil(2));
        for (img, image) in out.chunks_mut(h * w * co).enumerate() {
            rows.extend(image.chunks_mut(2 * w * co).enumerate().map(|(ty, r)| (img, ty, r)));
        }
        let threads = rayon::current_num_threads().max(1);
        let per_group = (GROUP_TILES / tiles_w).max(1).min(rows.len().div_ceil(threads)).max(1);
        let zeros = vec![0f32; ci];
        // Each task's buffers are reused from group to group: fresh ones were fresh pages.
        let buffers = || (Vec::new(), Vec::new(), vec![0f32; 16 * ci.max(co)]);
        rows.par_chunks_mut(per_group).for_each_init(buffers, |(v, m, scratch), group| {
            let tiles = group.len() * tiles_w;
            v.resize(16 * tiles * ci, 0.0);
            m.resize(16 * tiles * co, 0.0);
            let (v, m, scratch) = (&mut v[..16 * tiles * ci], &mut m[..16 * tiles * co], &mut scratch[..]);
            // Input transform: Bᵀ·d·B per channel, written to matrix ξ at row `t`.
            for (g, &mut (img, ty, _)) in group.iter_mut().enumerate() {
                for tx in 0..tiles_w {
                    let t = g * tiles_w + tx;
                    let pixel = |r: usize, s: usize| -> &[f32] {
                        let (iy, ix) = ((2 * ty + r) as isize - 1, (2 * tx + s) as isize - 1);
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            &zeros
                        } else {
                            let at = ((img * h + iy as usize) * w + ix as usize) * ci;
                            &x[at..at + ci]
                        }
                    };
                    let d: [[&[f32]; 4]; 4] = std::array::from_fn(|r| std::array::from_fn(|s| pixel(r, s)));
                    input_transform(&d, v, t, tiles, scratch);
                }
            }
            for xi in 0..16 {
                matmul_serial(
                    &mut m[xi * tiles * co..(xi + 1) * tiles * co],
                    Strided::row_major(&v[xi * tiles * ci..(xi + 1) * tiles * ci], tiles, ci),
                    Strided::row_major(&self.u[xi * ci * co..(xi + 1) * ci * co], ci, co),
                );
            }
            // Output transform: Aᵀ·m·A, added onto the (one or two) output rows of the tile row.
            for (g, (img, ty, dst)) in group.iter_mut().enumerate() {
                prepare(dst, (*img * h + 2 * *ty) * w);
                let out_rows = dst.len() / (w * co);
                for tx in 0..tiles_w {
                    let t = g * tiles_w + tx;
                    let cols = (w - 2 * tx).min(2);
                    let place = |i: usize, j: usize| (i < out_rows && j < cols).then(|| (i * w + 2 * tx + j) * co);
                    output_transform(m, (t, tiles, co), scratch, dst, place);
                }
                finish(dst);
            }
        });
    }
}

/// Writes `Bᵀ·d·B` of one tile (its 16 channel rows `d[r][s]`) into row `t` of the 16
/// matrices of `v`; `scratch` holds 16 channel rows.
fn input_transform(d: &[[&[f32]; 4]; 4], v: &mut [f32], t: usize, tiles: usize, scratch: &mut [f32]) {
    let c = d[0][0].len();
    let sub = |a: f32, b: f32| a - b;
    let add = |a: f32, b: f32| a + b;
    // Bᵀ·d, column by column: rows (d0 − d2, d1 + d2, d2 − d1, d1 − d3), kept at scratch[4·i + s].
    for s in 0..4 {
        let rows = &mut scratch[..16 * c];
        combine(&mut rows[s * c..(s + 1) * c], d[0][s], d[2][s], sub);
        combine(&mut rows[(4 + s) * c..(5 + s) * c], d[1][s], d[2][s], add);
        combine(&mut rows[(8 + s) * c..(9 + s) * c], d[2][s], d[1][s], sub);
        combine(&mut rows[(12 + s) * c..(13 + s) * c], d[1][s], d[3][s], sub);
    }
    // (Bᵀ·d)·B, row by row, straight into the matrices: element ξ = 4·i + j.
    for i in 0..4 {
        let r = |s: usize| &scratch[(4 * i + s) * c..(4 * i + s + 1) * c];
        let at = |j: usize| ((4 * i + j) * tiles + t) * c;
        combine(&mut v[at(0)..at(0) + c], r(0), r(2), sub);
        combine(&mut v[at(1)..at(1) + c], r(1), r(2), add);
        combine(&mut v[at(2)..at(2) + c], r(2), r(1), sub);
        combine(&mut v[at(3)..at(3) + c], r(1), r(3), sub);
    }
}

/// Adds the 2×2 outputs `Aᵀ·m·A` of tile `t` onto `dst` at the offsets `place(i, j)` gives
/// (`None` past the image's edge); `scratch` holds 8 channel rows.
fn output_transform(
    m: &[f32],
    (t, tiles, c): (usize, usize, usize),
    scratch: &mut [f32],
    dst: &mut [f32],
    place: impl Fn(usize, usize) -> Option<usize>,
) {
    let row = |xi: usize| &m[(xi * tiles + t) * c..(xi * tiles + t + 1) * c];
    // Aᵀ·m, column by column: rows (m0 + m1 + m2, m1 − m2 − m3), kept at scratch[4·i + s].
    for s in 0..4 {
        let (m0, m1, m2, m3) = (row(s), row(4 + s), row(8 + s), row(12 + s));
        let (top, bottom) = scratch[..8 * c].split_at_mut(4 * c);
        sum3(&mut top[s * c..(s + 1) * c], m0, m1, m2, 1.0, false);
        sum3(&mut bottom[s * c..(s + 1) * c], m1, m2, m3, -1.0, false);
    }
    // (Aᵀ·m)·A, row by row, added onto the output pixels.
    for i in 0..2 {
        let r = |s: usize| &scratch[(4 * i + s) * c..(4 * i + s + 1) * c];
        if let Some(at) = place(i, 0) {
            sum3(&mut dst[at..at + c], r(0), r(1), r(2), 1.0, true);
        }
        if let Some(at) = place(i, 1) {
            sum3(&mut dst[at..at + c], r(1), r(2), r(3), -1.0, true);
        }
    }
}

/// `dst[k] = a[k] + sign·(b[k] + c[k])` (or `+=` with `add`): `a + b + c` or `a − b − c`.
fn sum3(dst: &mut [f32], a: &[f32], b: &[f32], c: &[f32], sign: f32, add: bool) {
    let it = dst.iter_mut().zip(a.iter().zip(b.iter().zip(c)));
    if add {
        it.for_each(|(d, (a, (b, c)))| *d += a + sign * (b + c));
    } else {
        it.for_each(|(d, (a, (b, c)))| *d = a + sign * (b + c));
    }
}

/// `dst[k] = op(a[k], b[k])` over a channel row, in a loop the compiler vectorises.
fn combine(dst: &mut [f32], a: &[f32], b: &[f32], op: impl Fn(f32, f32) -> f32) {
    dst.iter_mut().zip(a.iter().zip(b)).for_each(|(d, (&a, &b))| *d = op(a, b));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct definition: zero padding 1, stride 1, kernel `[ky, kx, c_in, c_out]`.
    fn direct(x: &[f32], (b, h, w): (usize, usize, usize), k: &[f32], ci: usize, co: usize) -> Vec<f64> {
        let mut out = vec![0f64; b * h * w * co];
        for img in 0..b {
            for oy in 0..h {
                for ox in 0..w {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = ((oy + ky) as isize - 1, (ox + kx) as isize - 1);
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let src = ((img * h + iy as usize) * w + ix as usize) * ci;
                            for c in 0..ci {
                                for o in 0..co {
                                    out[((img * h + oy) * w + ox) * co + o] +=
                                        x[src + c] as f64 * k[((ky * 3 + kx) * ci + c) * co + o] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_direct_convolution_on_odd_and_even_sizes() {
        let mut rng = crate::rng::SplitMix64(11);
        // Odd sides (7 × 5: partial tiles on both edges), even ones, several groups and images.
        for &(b, h, w, ci, co) in &[(2, 7, 5, 6, 9), (3, 8, 8, 16, 4), (1, 30, 3, 5, 5)] {
            let x: Vec<f32> = (0..b * h * w * ci).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
            let k: Vec<f32> = (0..9 * ci * co).map(|_| rng.unit() as f32 - 0.5).collect();
            let want = direct(&x, (b, h, w), &k, ci, co);
            // The destination's contents are kept (accumulated onto).
            let mut got = vec![1f32; want.len()];
            Winograd3x3::from_im2col(&k, ci, co).accumulate(&x, (b, h, w), &mut got);
            let worst = got.iter().zip(&want).map(|(g, w)| (*g as f64 - 1.0 - w).abs()).fold(0f64, f64::max);
            assert!(worst < 1e-5, "{b}×{h}×{w}×{ci}→{co}: off by {worst}");
        }
    }
}
