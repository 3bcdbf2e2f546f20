//! Winograd's minimal filtering F(4×4, 3×3) for ResNet-50's stride-1 3×3 convolutions on
//! channels-last activations, exact in real arithmetic: each 4×4 block of outputs costs 36
//! products per input/output channel pair instead of 144 (4× fewer multiply-adds; F(2×2, 3×3),
//! used before, saves 2.25×). The transforms use the points 0, ±1, ±2 (integer input and output
//! transforms; the kernel's is done in f64 at load), so in f32 it stays within a few rounding
//! errors of the direct sum (1e-5 relative, tested).
//!
//! The image is cut into 6×6 input tiles overlapping by two; a tile's 36 transformed values
//! `Bᵀ·d·B` per channel form 36 matrices (tiles × c_in), each multiplied by its transformed
//! kernel `G·g·Gᵀ` (c_in × c_out, computed at load), and `Aᵀ·M·A` turns the products back into the
//! 4×4 outputs. Work is split into groups of tile rows, one group per task, so each group's
//! transformed tiles stay in cache between the three steps. The transforms are written out for
//! these matrices, eight channels at a time with the tile's 36 vectors in registers and the
//! first-level cache (AVX2 where the CPU has it): a general version, a linear combination per
//! channel row with the matrices' terms looked up per call, took about a tenth of the 8-bit
//! forward pass.

use super::packed::{PackedMatrix, Then};
use rayon::prelude::*;

/// Outputs per tile side.
const M: usize = 4;
/// Inputs per tile side: M + 2.
const A: usize = 6;
/// Values per transformed tile: A².
const AA: usize = A * A;

/// `G` (6×3, row-major) of F(4×4, 3×3) (Lavin and Gray's points 0, ±1, ±2): the kernel's
/// transform `G·g·Gᵀ`. The input's `Bᵀ` and the output's `Aᵀ` are written out in [`bt`] and [`at`].
#[rustfmt::skip]
const G: [f64; 18] = [
    1.0 / 4.0, 0.0, 0.0,
    -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
    -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,
    1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
    1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,
    0.0, 0.0, 1.0,
];

/// Output pixels a task's group of tiles covers at most: enough rows for the product kernels, few
/// enough that the 36 transformed matrices stay in the core's cache. 1024 over 2048 (groups of
/// equal size either way), batch 8, against 14×14×256's rate in the same run: 5–8 % faster at
/// 28×28×128 and about 4 % at 56×56×64 (the transformed tiles and products closer to the core's
/// 512 KiB L2); 14×14 and 7×7 make two groups either way.
const GROUP_OUTPUTS: usize = 1024;

thread_local! {
    /// Each pool thread's transformed tiles and products, kept from group to group and batch to
    /// batch: fresh ones were fresh pages, faulted in each time.
    static BUFFERS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = std::cell::RefCell::default();
}

/// A 3×3 kernel (padding 1, stride 1) in the Winograd domain.
pub struct Winograd3x3 {
    /// 36 matrices `[c_in, c_out]`: element `ξ = 6·i + j` of `G·g·Gᵀ` for every channel pair.
    u: Vec<PackedMatrix>,
    c_in: usize,
    c_out: usize,
}

/// Lanes per step of the transforms: an AVX2 register of f32.
const LANES: usize = 8;

/// `Bᵀ·d` for one column `d` of six lane groups.
#[inline(always)]
fn bt<const L: usize>(d: &[[f32; L]; A]) -> [[f32; L]; A] {
    let mut o = [[0f32; L]; A];
    for l in 0..L {
        let [d0, d1, d2, d3, d4, d5] = [d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l]];
        o[0][l] = 4.0 * d0 - 5.0 * d2 + d4;
        o[1][l] = (d3 + d4) - 4.0 * (d1 + d2);
        o[2][l] = (d4 - d3) + 4.0 * (d1 - d2);
        o[3][l] = (d4 - d2) + 2.0 * (d3 - d1);
        o[4][l] = (d4 - d2) - 2.0 * (d3 - d1);
        o[5][l] = 4.0 * d1 - 5.0 * d3 + d5;
    }
    o
}

/// `Aᵀ·m` for one column `m` of six lane groups.
#[inline(always)]
fn at<const L: usize>(m: &[[f32; L]; A]) -> [[f32; L]; M] {
    let mut o = [[0f32; L]; M];
    for l in 0..L {
        let (sum12, dif12) = (m[1][l] + m[2][l], m[1][l] - m[2][l]);
        let (sum34, dif34) = (m[3][l] + m[4][l], m[3][l] - m[4][l]);
        o[0][l] = m[0][l] + sum12 + sum34;
        o[1][l] = dif12 + 2.0 * dif34;
        o[2][l] = sum12 + 4.0 * sum34;
        o[3][l] = dif12 + 8.0 * dif34 + m[5][l];
    }
    o
}

/// `L` channels from `ch` of row `row`.
#[inline(always)]
fn lanes<const L: usize>(row: &[f32], ch: usize) -> [f32; L] {
    row[ch..ch + L].try_into().expect("L channels")
}

/// Row `i` across six columns of lane groups.
#[inline(always)]
fn across<const L: usize, const R: usize>(cols: &[[[f32; L]; R]; A], i: usize) -> [[f32; L]; A] {
    [cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]]
}

/// `Bᵀ·d` of column `s` of a tile's input pixels `d`, over channels `ch…ch + L`.
#[inline(always)]
fn input_column<const L: usize>(d: &[&[f32]; AA], s: usize, ch: usize) -> [[f32; L]; A] {
    let p = |r: usize| d[A * r + s];
    bt(&[lanes(p(0), ch), lanes(p(1), ch), lanes(p(2), ch), lanes(p(3), ch), lanes(p(4), ch), lanes(p(5), ch)])
}

/// `Aᵀ·m` of one column of a tile's products: `L` channels of `mm` from each of the six offsets
/// `at`.
#[inline(always)]
fn output_column<const L: usize>(mm: &[f32], at: [usize; A]) -> [[f32; L]; M] {
    self::at(&[
        lanes(mm, at[0]),
        lanes(mm, at[1]),
        lanes(mm, at[2]),
        lanes(mm, at[3]),
        lanes(mm, at[4]),
        lanes(mm, at[5]),
    ])
}

/// One tile's `Bᵀ·d·B` over channels `ch…ch + L`: `d[6·r + s]` are its 36 input pixels, and value
/// `ξ` goes to `v[to(ξ) + ch…]`. (The arrays are literals of calls to inlined functions: a zeroed
/// array filled in a loop cost a `memset` call per eight channels, and `array::from_fn`'s or local
/// closures' calls were not inlined, so not built for AVX2.)
#[inline(always)]
fn input_lanes<const L: usize>(d: &[&[f32]; AA], ch: usize, v: &mut [f32], to: impl Fn(usize) -> usize) {
    let cols = [
        input_column::<L>(d, 0, ch),
        input_column(d, 1, ch),
        input_column(d, 2, ch),
        input_column(d, 3, ch),
        input_column(d, 4, ch),
        input_column(d, 5, ch),
    ];
    for i in 0..A {
        let row = bt(&across(&cols, i));
        for (j, value) in row.iter().enumerate() {
            let at = to(A * i + j) + ch;
            v[at..at + L].copy_from_slice(value);
        }
    }
}

/// One tile's `Aᵀ·M·A` over channels `ch…ch + L`, added onto the outputs: `mm[from(ξ) + ch…]`
/// holds product ξ, and output `(i, j)` goes to `dst[place(i, j) + ch…]` (none past the image's
/// edge).
#[inline(always)]
fn output_lanes<const L: usize>(
    mm: &[f32],
    from: impl Fn(usize) -> usize,
    ch: usize,
    dst: &mut [f32],
    place: impl Fn(usize, usize) -> Option<usize>,
) {
    let col = |s: usize| [0, 1, 2, 3, 4, 5].map(|r| from(A * r + s) + ch);
    let cols = [
        output_column::<L>(mm, col(0)),
        output_column(mm, col(1)),
        output_column(mm, col(2)),
        output_column(mm, col(3)),
        output_column(mm, col(4)),
        output_column(mm, col(5)),
    ];
    for i in 0..M {
        let row = at(&across(&cols, i));
        for (j, value) in row.iter().enumerate() {
            if let Some(p) = place(i, j) {
                dst[p + ch..p + ch + L].iter_mut().zip(value).for_each(|(o, v)| *o += v);
            }
        }
    }
}

/// The input transforms of one tile row: `Bᵀ·d·B` of tile `(img, ty, tx)` for every `tx`,
/// written to row `first + tx` of the 36 matrices of `v` (`tiles` rows each).
struct InputRow<'a> {
    x: &'a [f32],
    dims: (usize, usize, usize, usize),
    zeros: &'a [f32],
}

impl InputRow<'_> {
    #[inline(always)]
    fn run(&self, (img, ty): (usize, usize), v: &mut [f32], (first, tiles): (usize, usize)) {
        let (h, w, c, tiles_w) = self.dims;
        for tx in 0..tiles_w {
            let d: [&[f32]; AA] = std::array::from_fn(|rs| {
                let (iy, ix) = ((M * ty + rs / A) as isize - 1, (M * tx + rs % A) as isize - 1);
                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                    self.zeros
                } else {
                    let at = ((img * h + iy as usize) * w + ix as usize) * c;
                    &self.x[at..at + c]
                }
            });
            let to = |xi: usize| (xi * tiles + first + tx) * c;
            let whole = c - c % LANES;
            for ch in (0..whole).step_by(LANES) {
                input_lanes::<LANES>(&d, ch, v, to);
            }
            for ch in whole..c {
                input_lanes::<1>(&d, ch, v, to);
            }
        }
    }

    /// [`run`](Self::run) compiled for AVX2, eight lanes to a register.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, tile_row: (usize, usize), v: &mut [f32], rows: (usize, usize)) {
        self.run(tile_row, v, rows)
    }
}

/// The output transforms of one tile row: `Aᵀ·M·A` of its tiles (rows `first + tx` of the 36
/// products in `mm`, `tiles` rows each) added onto the row's output pixels `dst`.
struct OutputRow {
    dims: (usize, usize, usize),
}

impl OutputRow {
    #[inline(always)]
    fn run(&self, mm: &[f32], (first, tiles): (usize, usize), dst: &mut [f32]) {
        let (w, c, tiles_w) = self.dims;
        let out_rows = dst.len() / (w * c);
        for tx in 0..tiles_w {
            let cols = (w - M * tx).min(M);
            let place = |i: usize, j: usize| (i < out_rows && j < cols).then(|| (i * w + M * tx + j) * c);
            let from = |xi: usize| (xi * tiles + first + tx) * c;
            let whole = c - c % LANES;
            for ch in (0..whole).step_by(LANES) {
                output_lanes::<LANES>(mm, from, ch, dst, place);
            }
            for ch in whole..c {
                output_lanes::<1>(mm, from, ch, dst, place);
            }
        }
    }

    /// [`run`](Self::run) compiled for AVX2, eight lanes to a register.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, mm: &[f32], rows: (usize, usize), dst: &mut [f32]) {
        self.run(mm, rows, dst)
    }
}

/// Whether the transforms run their AVX2 build.
fn wide_transforms() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl Winograd3x3 {
    /// From a kernel in im2col layout: `[ky, kx, c_in, c_out]`, row-major. F(4×4, 3×3) is used
    /// at every size: on ResNet-50's layer shapes at 224 px it measured faster than F(2×2, 3×3)
    /// even at 14×14 and 7×7, where 4×4 tiles overrun the image (batch 32, this machine: 24.9
    /// against 33.9 ms at 56×56×64, 18.0/25.3 at 28×28×128, 20.4/22.8 at 14×14×256, 19.0/32.3 at
    /// 7×7×512).
    pub fn from_im2col(weight: &[f32], c_in: usize, c_out: usize) -> Self {
        let u = transform_kernel(weight, c_in, c_out)
            .chunks_exact(c_in * c_out)
            .map(|m| PackedMatrix::new(m.to_vec(), c_in, c_out))
            .collect();
        Winograd3x3 { u, c_in, c_out }
    }

    /// `out += conv(x)` for `x` channels-last `[b, h, w, c_in]` and `out` `[b, h, w, c_out]`,
    /// with the transforms' AVX2 build or not.
    #[cfg(test)]
    fn accumulate(&self, x: &[f32], dims: (usize, usize, usize), out: &mut [f32], wide: bool) {
        self.run(x, dims, out, (|_: &mut [f32], _| {}, |_: &mut [f32]| {}), wide);
    }

    /// `conv(x)` written into `out` between two passes over each group's output rows while they
    /// are in cache: `prepare(rows, first)` before the products are added on (`first` is the
    /// index of the rows' first pixel in `out`), `finish(rows)` after.
    pub fn convolve(
        &self,
        x: &[f32],
        dims: (usize, usize, usize),
        out: &mut [f32],
        prepare: impl Fn(&mut [f32], usize) + Sync,
        finish: impl Fn(&mut [f32]) + Sync,
    ) {
        self.run(x, dims, out, (prepare, finish), wide_transforms());
    }

    /// [`convolve`](Self::convolve), the transforms' AVX2 build chosen by `wide` (which only a
    /// CPU with AVX2 may pass).
    fn run(
        &self,
        x: &[f32],
        (b, h, w): (usize, usize, usize),
        out: &mut [f32],
        (prepare, finish): (impl Fn(&mut [f32], usize) + Sync, impl Fn(&mut [f32]) + Sync),
        wide: bool,
    ) {
        let (ci, co, u) = (self.c_in, self.c_out, &self.u);
        assert!(x.len() == b * h * w * ci && out.len() == b * h * w * co, "activation shapes disagree");
        assert!(!wide || wide_transforms(), "the AVX2 transforms on a CPU without AVX2");
        let tiles_w = w.div_ceil(M);
        // Each item: an image, a tile row, and the (up to 4) output rows it covers.
        let mut rows: Vec<(usize, usize, &mut [f32])> = Vec::with_capacity(b * h.div_ceil(M));
        for (img, image) in out.chunks_mut(h * w * co).enumerate() {
            rows.extend(image.chunks_mut(M * w * co).enumerate().map(|(ty, r)| (img, ty, r)));
        }
        // Groups of equal size in a multiple of the cores' count: 56 tile rows in groups of at
        // most 18 had made 18 + 18 | 18 + 2.
        let most = GROUP_OUTPUTS / (M * M * tiles_w);
        let (_, per_group) = super::equal_parts(rows.len(), most, rayon::current_num_threads());
        let zeros = vec![0f32; ci];
        let input = InputRow { x, dims: (h, w, ci, tiles_w), zeros: &zeros };
        let output = OutputRow { dims: (w, co, tiles_w) };
        rows.par_chunks_mut(per_group).for_each(|group| {
            BUFFERS.with_borrow_mut(|(v, mm)| {
                let tiles = group.len() * tiles_w;
                let (v, mm) = (super::reuse(v, AA * tiles * ci), super::reuse(mm, AA * tiles * co));
                for (g, &mut (img, ty, _)) in group.iter_mut().enumerate() {
                    let at = (g * tiles_w, tiles);
                    #[cfg(target_arch = "x86_64")]
                    if wide {
                        // SAFETY: `wide` is set only where the CPU has AVX2 (asserted above).
                        unsafe { input.run_avx2((img, ty), v, at) };
                        continue;
                    }
                    input.run((img, ty), v, at);
                }
                for (xi, u) in u.iter().enumerate() {
                    let (dst, lhs) =
                        (&mut mm[xi * tiles * co..(xi + 1) * tiles * co], &v[xi * tiles * ci..(xi + 1) * tiles * ci]);
                    u.product(dst, lhs, Then::SET);
                }
                for (g, (img, ty, dst)) in group.iter_mut().enumerate() {
                    prepare(dst, (*img * h + M * *ty) * w);
                    let at = (g * tiles_w, tiles);
                    #[cfg(target_arch = "x86_64")]
                    if wide {
                        // SAFETY: as for the input transforms.
                        unsafe { output.run_avx2(mm, at, dst) };
                        finish(dst);
                        continue;
                    }
                    output.run(mm, at, dst);
                    finish(dst);
                }
            })
        });
    }
}

/// A kernel in im2col layout (`[ky, kx, c_in, c_out]`, row-major) in the Winograd domain: 36
/// matrices `[c_in, c_out]`, computed in f64, one matrix per task.
fn transform_kernel(weight: &[f32], c_in: usize, c_out: usize) -> Vec<f32> {
    assert_eq!(weight.len(), 9 * c_in * c_out, "a 3×3 kernel");
    let mut u = vec![0f32; AA * c_in * c_out];
    u.par_chunks_mut(c_in * c_out).enumerate().for_each(|(xi, matrix)| {
        let (i, j) = (xi / A, xi % A);
        // (G·g·Gᵀ)[i][j] = Σ G[i][ky]·g[ky][kx]·G[j][kx].
        let coef: Vec<f64> = (0..9).map(|k| G[i * 3 + k / 3] * G[j * 3 + k % 3]).collect();
        for (pair, v) in matrix.iter_mut().enumerate() {
            *v = coef.iter().enumerate().map(|(k, c)| c * weight[k * c_in * c_out + pair] as f64).sum::<f64>() as f32;
        }
    });
    u
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
        // Odd sides (7 × 5: partial tiles on both edges), even ones, several groups and images;
        // channels in whole groups of eight lanes and not.
        for &(b, h, w, ci, co) in
            &[(2, 7, 5, 6, 9), (3, 8, 8, 16, 4), (1, 30, 3, 5, 5), (2, 14, 13, 7, 3), (1, 9, 10, 20, 17)]
        {
            let x: Vec<f32> = (0..b * h * w * ci).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
            let k: Vec<f32> = (0..9 * ci * co).map(|_| rng.unit() as f32 - 0.5).collect();
            let want = direct(&x, (b, h, w), &k, ci, co);
            // The destination's contents are kept (accumulated onto).
            let conv = Winograd3x3::from_im2col(&k, ci, co);
            // Both builds of the transforms where the CPU runs both.
            for wide in [false, true].into_iter().filter(|&wide| !wide || wide_transforms()) {
                let mut got = vec![1f32; want.len()];
                conv.accumulate(&x, (b, h, w), &mut got, wide);
                let worst = got.iter().zip(&want).map(|(g, w)| (*g as f64 - 1.0 - w).abs()).fold(0f64, f64::max);
                let largest = want.iter().fold(0f64, |m, w| m.max(w.abs()));
                // The points ±2 cost a few more roundings than the direct sum: within 1e-5
                // relative.
                assert!(
                    worst < 1e-5 * largest.max(1.0),
                    "{b}×{h}×{w}×{ci}→{co} (wide {wide}): off by {worst} (largest {largest})"
                );
            }
        }
    }
}
