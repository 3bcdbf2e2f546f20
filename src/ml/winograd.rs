//! Winograd's minimal filtering F(4×4, 3×3) for ResNet-50's stride-1 3×3 convolutions on
//! channels-last activations, exact in real arithmetic: each 4×4 block of outputs costs 36
//! products per input/output channel pair instead of 144 (4× fewer multiply-adds; F(2×2, 3×3),
//! used before, saves 2.25×). The transforms use the points 0, ±1, ±2 (integer input and output
//! transforms; the kernel's is done in f64 at load), so in f32 it stays within a few rounding
//! errors of the direct sum (1e-5 relative, tested). The code is written for any F(m×m, 3×3)
//! given its three matrices ([`Tiling`]).
//!
//! The image is cut into (m+2)×(m+2) input tiles overlapping by two; a tile's (m+2)² transformed
//! values `Bᵀ·d·B` per channel form (m+2)² matrices (tiles × c_in), each multiplied by its
//! transformed kernel `G·g·Gᵀ` (c_in × c_out, computed at load), and `Aᵀ·M·A` turns the products
//! back into the m×m outputs. Work is split into groups of tile rows, one group per task, so each
//! group's transformed tiles stay in cache between the three steps.

use super::packed::{PackedMatrix, Then};
use rayon::prelude::*;

/// The transform matrices of one F(m×m, 3×3), row-major: `Bᵀ` is α×α, `G` α×3 and `Aᵀ` m×α,
/// with α = m + 2.
pub struct Tiling {
    m: usize,
    bt: &'static [f32],
    g: &'static [f64],
    at: &'static [f32],
    /// Output pixels a task's group of tiles covers at most: enough rows for the product kernels,
    /// few enough that the α² transformed matrices stay in the core's cache.
    group_outputs: usize,
}

/// F(4×4, 3×3) (Lavin and Gray's points 0, ±1, ±2).
pub const F4: Tiling = Tiling {
    m: 4,
    #[rustfmt::skip]
    bt: &[
        4.0, 0.0, -5.0, 0.0, 1.0, 0.0,
        0.0, -4.0, -4.0, 1.0, 1.0, 0.0,
        0.0, 4.0, -4.0, -1.0, 1.0, 0.0,
        0.0, -2.0, -1.0, 2.0, 1.0, 0.0,
        0.0, 2.0, -1.0, -2.0, 1.0, 0.0,
        0.0, 4.0, 0.0, -5.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    g: &[
        1.0 / 4.0, 0.0, 0.0,
        -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
        -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,
        1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
        1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,
        0.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    at: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 1.0,
    ],
    // 1024 over 2048 (groups of equal size either way), batch 8, against 14×14×256's rate in the
    // same run: 5–8 % faster at 28×28×128 and about 4 % at 56×56×64 (the transformed tiles and
    // products closer to the core's 512 KiB L2); 14×14 and 7×7 make two groups either way.
    group_outputs: 1024,
};

impl Tiling {
    fn alpha(&self) -> usize {
        self.m + 2
    }
}

thread_local! {
    /// Each pool thread's transformed tiles, products and transform rows, kept from group to
    /// group and batch to batch: fresh ones were fresh pages, faulted in each time.
    static BUFFERS: std::cell::RefCell<(Vec<f32>, Vec<f32>, Vec<f32>)> = std::cell::RefCell::default();
}

/// A 3×3 kernel (padding 1, stride 1) in the Winograd domain.
pub struct Winograd3x3 {
    /// α² matrices `[c_in, c_out]`: element `ξ = α·i + j` of `G·g·Gᵀ` for every channel pair.
    u: Vec<PackedMatrix>,
    c_in: usize,
    c_out: usize,
    tiling: &'static Tiling,
}

/// The most terms a row of a transform matrix has (nonzero entries).
const MAX_TERMS: usize = 6;

/// `dst = Σ cₖ·srcₖ` (or `+=` with `add`) over a channel row.
fn lincomb(dst: &mut [f32], terms: &[(f32, &[f32])], add: bool) {
    if add {
        combine(dst, terms, |d, s| d + s);
    } else {
        combine(dst, terms, |_, s| s);
    }
}

/// `dst[k] = onto(dst[k], Σ cₖ·srcₖ[k])`, one pass for up to four terms, in loops the compiler
/// vectorises.
#[inline(always)]
fn combine(dst: &mut [f32], terms: &[(f32, &[f32])], onto: impl Fn(f32, f32) -> f32 + Copy) {
    match *terms {
        [] => dst.iter_mut().for_each(|d| *d = onto(*d, 0.0)),
        [(a, x)] => dst.iter_mut().zip(x).for_each(|(d, &x)| *d = onto(*d, a * x)),
        [(a, x), (b, y)] => dst.iter_mut().zip(x.iter().zip(y)).for_each(|(d, (&x, &y))| *d = onto(*d, a * x + b * y)),
        [(a, x), (b, y), (c, z)] => dst
            .iter_mut()
            .zip(x.iter().zip(y.iter().zip(z)))
            .for_each(|(d, (&x, (&y, &z)))| *d = onto(*d, a * x + b * y + c * z)),
        [(a, x), (b, y), (c, z), (e, w)] => dst
            .iter_mut()
            .zip(x.iter().zip(y.iter().zip(z.iter().zip(w))))
            .for_each(|(d, (&x, (&y, (&z, &w))))| *d = onto(*d, a * x + b * y + c * z + e * w)),
        _ => {
            let (first, rest) = terms.split_at(4);
            combine(dst, first, onto);
            rest.chunks(4).for_each(|more| lincomb(dst, more, true));
        }
    }
}

/// Row `i` of the `cols`-wide matrix `mat` as terms over `src(k)` (its nonzero entries only).
fn row_terms<'a>(
    mat: &[f32],
    cols: usize,
    i: usize,
    src: impl Fn(usize) -> &'a [f32],
    terms: &mut [(f32, &'a [f32]); MAX_TERMS],
) -> usize {
    let mut n = 0;
    for (k, &c) in mat[i * cols..(i + 1) * cols].iter().enumerate() {
        if c != 0.0 {
            terms[n] = (c, src(k));
            n += 1;
        }
    }
    n
}

impl Winograd3x3 {
    /// From a kernel in im2col layout: `[ky, kx, c_in, c_out]`, row-major. F(4×4, 3×3) is used
    /// at every size: on ResNet-50's layer shapes at 224 px it measured faster than F(2×2, 3×3)
    /// even at 14×14 and 7×7, where 4×4 tiles overrun the image (batch 32, this machine: 24.9
    /// against 33.9 ms at 56×56×64, 18.0/25.3 at 28×28×128, 20.4/22.8 at 14×14×256, 19.0/32.3 at
    /// 7×7×512).
    pub fn from_im2col(weight: &[f32], c_in: usize, c_out: usize) -> Self {
        let u = transform_kernel(weight, c_in, c_out, &F4)
            .chunks_exact(c_in * c_out)
            .map(|m| PackedMatrix::new(m.to_vec(), c_in, c_out))
            .collect();
        Winograd3x3 { u, c_in, c_out, tiling: &F4 }
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
        let (ci, co, t, u) = (self.c_in, self.c_out, self.tiling, &self.u);
        let (m, a) = (t.m, t.alpha());
        let aa = a * a;
        assert!(x.len() == b * h * w * ci && out.len() == b * h * w * co, "activation shapes disagree");
        let tiles_w = w.div_ceil(m);
        // Each item: an image, a tile row, and the (up to m) output rows it covers.
        let mut rows: Vec<(usize, usize, &mut [f32])> = Vec::with_capacity(b * h.div_ceil(m));
        for (img, image) in out.chunks_mut(h * w * co).enumerate() {
            rows.extend(image.chunks_mut(m * w * co).enumerate().map(|(ty, r)| (img, ty, r)));
        }
        // Groups of equal size in a multiple of the cores' count: 56 tile rows in groups of at
        // most 18 had made 18 + 18 | 18 + 2.
        let most = t.group_outputs / (m * m * tiles_w);
        let (_, per_group) = super::equal_parts(rows.len(), most, rayon::current_num_threads());
        let zeros = vec![0f32; ci];
        rows.par_chunks_mut(per_group).for_each(|group| {
            BUFFERS.with_borrow_mut(|(v, mm, scratch)| {
                let tiles = group.len() * tiles_w;
                v.resize(v.len().max(aa * tiles * ci), 0.0);
                mm.resize(mm.len().max(aa * tiles * co), 0.0);
                scratch.resize(scratch.len().max(aa * ci.max(co)), 0.0);
                let (v, mm, scratch) =
                    (&mut v[..aa * tiles * ci], &mut mm[..aa * tiles * co], &mut scratch[..aa * ci.max(co)]);
                // Input transform: Bᵀ·d·B per channel, written to matrix ξ at row `tile`.
                for (g, &mut (img, ty, _)) in group.iter_mut().enumerate() {
                    for tx in 0..tiles_w {
                        let pixel = |r: usize, s: usize| -> &[f32] {
                            let (iy, ix) = ((m * ty + r) as isize - 1, (m * tx + s) as isize - 1);
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                &zeros
                            } else {
                                let at = ((img * h + iy as usize) * w + ix as usize) * ci;
                                &x[at..at + ci]
                            }
                        };
                        input_transform(t, &pixel, v, (g * tiles_w + tx, tiles, ci), scratch);
                    }
                }
                for (xi, u) in u.iter().enumerate() {
                    let (dst, lhs) =
                        (&mut mm[xi * tiles * co..(xi + 1) * tiles * co], &v[xi * tiles * ci..(xi + 1) * tiles * ci]);
                    u.product(dst, lhs, Then::SET);
                }
                // Output transform: Aᵀ·M·A, added onto the output rows of the tile row.
                for (g, (img, ty, dst)) in group.iter_mut().enumerate() {
                    prepare(dst, (*img * h + m * *ty) * w);
                    let out_rows = dst.len() / (w * co);
                    for tx in 0..tiles_w {
                        let cols = (w - m * tx).min(m);
                        let place = |i: usize, j: usize| (i < out_rows && j < cols).then(|| (i * w + m * tx + j) * co);
                        output_transform(t, mm, (g * tiles_w + tx, tiles, co), scratch, dst, place);
                    }
                    finish(dst);
                }
            })
        });
    }
}

/// A kernel in im2col layout (`[ky, kx, c_in, c_out]`, row-major) in `tiling`'s domain: α²
/// matrices `[c_in, c_out]`, computed in f64, one matrix per task.
fn transform_kernel(weight: &[f32], c_in: usize, c_out: usize, tiling: &Tiling) -> Vec<f32> {
    assert_eq!(weight.len(), 9 * c_in * c_out, "a 3×3 kernel");
    let (a, g) = (tiling.alpha(), tiling.g);
    let mut u = vec![0f32; a * a * c_in * c_out];
    u.par_chunks_mut(c_in * c_out).enumerate().for_each(|(xi, matrix)| {
        let (i, j) = (xi / a, xi % a);
        // (G·g·Gᵀ)[i][j] = Σ G[i][ky]·g[ky][kx]·G[j][kx].
        let coef: Vec<f64> = (0..9).map(|k| g[i * 3 + k / 3] * g[j * 3 + k % 3]).collect();
        for (pair, v) in matrix.iter_mut().enumerate() {
            *v = coef.iter().enumerate().map(|(k, c)| c * weight[k * c_in * c_out + pair] as f64).sum::<f64>() as f32;
        }
    });
    u
}

/// Writes `Bᵀ·d·B` of one tile (its α² channel rows `d(r, s)`) into row `tile` of the α²
/// matrices of `v`; `scratch` holds α² channel rows.
fn input_transform<'a>(
    t: &Tiling,
    d: &impl Fn(usize, usize) -> &'a [f32],
    v: &mut [f32],
    (tile, tiles, c): (usize, usize, usize),
    scratch: &mut [f32],
) {
    let a = t.alpha();
    let mut terms = [(0f32, &[][..]); MAX_TERMS];
    // Bᵀ·d, column by column, kept at scratch[α·i + s].
    for s in 0..a {
        for i in 0..a {
            let n = row_terms(t.bt, a, i, |r| d(r, s), &mut terms);
            lincomb(&mut scratch[(a * i + s) * c..(a * i + s + 1) * c], &terms[..n], false);
        }
    }
    // (Bᵀ·d)·B, row by row, straight into the matrices: element ξ = α·i + j.
    let scratch = &scratch[..];
    for i in 0..a {
        for j in 0..a {
            let n = row_terms(t.bt, a, j, |s| &scratch[(a * i + s) * c..(a * i + s + 1) * c], &mut terms);
            let at = ((a * i + j) * tiles + tile) * c;
            lincomb(&mut v[at..at + c], &terms[..n], false);
        }
    }
}

/// Adds the m×m outputs `Aᵀ·M·A` of tile `tile` onto `dst` at the offsets `place(i, j)` gives
/// (`None` past the image's edge); `scratch` holds m·α channel rows.
fn output_transform(
    t: &Tiling,
    mm: &[f32],
    (tile, tiles, c): (usize, usize, usize),
    scratch: &mut [f32],
    dst: &mut [f32],
    place: impl Fn(usize, usize) -> Option<usize>,
) {
    let (m, a) = (t.m, t.alpha());
    let row = |xi: usize| &mm[(xi * tiles + tile) * c..(xi * tiles + tile + 1) * c];
    let mut terms = [(0f32, &[][..]); MAX_TERMS];
    // Aᵀ·M, column by column, kept at scratch[α·i + s].
    for s in 0..a {
        for i in 0..m {
            let n = row_terms(t.at, a, i, |r| row(a * r + s), &mut terms);
            lincomb(&mut scratch[(a * i + s) * c..(a * i + s + 1) * c], &terms[..n], false);
        }
    }
    // (Aᵀ·M)·A, row by row, added onto the output pixels.
    let scratch = &scratch[..];
    for i in 0..m {
        for j in 0..m {
            if let Some(at) = place(i, j) {
                let n = row_terms(t.at, a, j, |s| &scratch[(a * i + s) * c..(a * i + s + 1) * c], &mut terms);
                lincomb(&mut dst[at..at + c], &terms[..n], true);
            }
        }
    }
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
        for &(b, h, w, ci, co) in &[(2, 7, 5, 6, 9), (3, 8, 8, 16, 4), (1, 30, 3, 5, 5), (2, 14, 13, 7, 3)] {
            let x: Vec<f32> = (0..b * h * w * ci).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
            let k: Vec<f32> = (0..9 * ci * co).map(|_| rng.unit() as f32 - 0.5).collect();
            let want = direct(&x, (b, h, w), &k, ci, co);
            // The destination's contents are kept (accumulated onto).
            let mut got = vec![1f32; want.len()];
            Winograd3x3::from_im2col(&k, ci, co).accumulate(&x, (b, h, w), &mut got);
            let worst = got.iter().zip(&want).map(|(g, w)| (*g as f64 - 1.0 - w).abs()).fold(0f64, f64::max);
            let largest = want.iter().fold(0f64, |m, w| m.max(w.abs()));
            // The points ±2 cost a few more roundings than the direct sum: within 1e-5 relative.
            assert!(worst < 1e-5 * largest.max(1.0), "{b}×{h}×{w}×{ci}→{co}: off by {worst} (largest {largest})");
        }
    }
}
