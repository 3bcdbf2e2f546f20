//! ResNet-50's 3×3 max pooling, stride 2, padding 1 (padding never wins: it is skipped), of a
//! run of one image's rows into whole pooled rows: the f32 stem's output pooled at once
//! ([`max_pool_3x3_s2`]), and the 16-bit stem's a band at a time while its rows are in cache.

use super::{Act, Buffers};
use rayon::prelude::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Consecutive rows of one image: `values` holds rows `first…`, `w` pixels of `n` channels.
pub(super) struct Rows<'a> {
    pub values: &'a [f32],
    pub first: usize,
    pub w: usize,
    pub n: usize,
}

/// The pooled side of a side `s`.
pub(super) fn pooled_side(s: usize) -> usize {
    (s + 2 - 3) / 2 + 1
}

/// `x` pooled, a pooled row per task.
pub(super) fn max_pool_3x3_s2(x: &Act, buffers: &Buffers<f32>) -> Act {
    let (oh, ow) = (pooled_side(x.h), pooled_side(x.w));
    let mut out = buffers.take(x.b * oh * ow * x.c);
    let image = x.h * x.w * x.c;
    out.par_chunks_mut(ow * x.c).enumerate().for_each(|(r, row)| {
        let (img, py) = (r / oh, r % oh);
        pool(&Rows { values: &x.data[img * image..(img + 1) * image], first: 0, w: x.w, n: x.c }, py, row);
    });
    Act { data: out, bytes: None, b: x.b, h: oh, w: ow, c: x.c }
}

/// Pooled rows `py…` of `rows`' image into `out` (whole pooled rows; `rows` covers their windows).
pub(super) fn pool(rows: &Rows, py: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if rows.n.is_multiple_of(8) && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked), and the channels come in eights.
        return unsafe { pool_avx2(rows, py, out) };
    }
    pool_rows(rows, py, out)
}

/// The window of pooled pixel `i` of rows `py…`: its rows and columns.
fn window(rows: &Rows, py: usize, i: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let pw = pooled_side(rows.w);
    let (oy, ox) = (py + i / pw, i % pw);
    let last = rows.first + rows.values.len() / (rows.w * rows.n);
    ((oy * 2).saturating_sub(1)..(oy * 2 + 2).min(last), (ox * 2).saturating_sub(1)..(ox * 2 + 2).min(rows.w))
}

/// [`pool`] on AVX2, eight channels of a pooled pixel at a time, each the maximum of its
/// window's loads in a register (the portable loop, compiled for AVX2, turns its `if v > o` into
/// masked stores, which made the stem's pooling twice as slow).
///
/// # Safety
/// The CPU has AVX2; `rows.n` is a multiple of eight.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pool_avx2(rows: &Rows, py: usize, out: &mut [f32]) {
    let (n, w) = (rows.n, rows.w);
    for (i, dst) in out.chunks_exact_mut(n).enumerate() {
        let (ys, xs) = window(rows, py, i);
        for c in (0..n).step_by(8) {
            let mut most = _mm256_set1_ps(f32::NEG_INFINITY);
            for iy in ys.clone() {
                let line = &rows.values[(iy - rows.first) * w * n..(iy - rows.first + 1) * w * n];
                for ix in xs.clone() {
                    let v = &line[ix * n + c..ix * n + c + 8];
                    // SAFETY: `v` holds eight values.
                    most = _mm256_max_ps(most, unsafe { _mm256_loadu_ps(v.as_ptr()) });
                }
            }
            // SAFETY: `dst` holds `n` values, a multiple of eight, from `c`.
            unsafe { _mm256_storeu_ps(dst[c..c + 8].as_mut_ptr(), most) };
        }
    }
}

/// [`pool`]'s portable loop.
fn pool_rows(rows: &Rows, py: usize, out: &mut [f32]) {
    let (n, w) = (rows.n, rows.w);
    for (i, dst) in out.chunks_exact_mut(n).enumerate() {
        let (ys, xs) = window(rows, py, i);
        dst.fill(f32::NEG_INFINITY);
        for iy in ys {
            for ix in xs.clone() {
                let src = ((iy - rows.first) * w + ix) * n;
                // A comparison and a select, which compile to `maxps` (`f32::max`'s handling of
                // NaN, none of which comes out of a ReLU, had cost 1.4 % of the 8-bit pass).
                dst.iter_mut().zip(&rows.values[src..src + n]).for_each(|(o, &v)| *o = if v > *o { v } else { *o });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both loops against each pooled pixel's window taken from the padded definition, on images
    /// of odd and even sides (every border crossed), and from a run of rows starting inside the
    /// image, as the stem's bands read them.
    #[test]
    fn pooling_takes_each_windows_largest() {
        let mut rng = crate::rng::SplitMix64(3);
        let n = 16;
        for (h, w) in [(7, 6), (8, 9)] {
            let values: Vec<f32> = (0..h * w * n).map(|_| rng.unit() as f32).collect();
            let (ph, pw) = (pooled_side(h), pooled_side(w));
            let at = |y: isize, x: isize, c: usize| {
                let inside = (0..h as isize).contains(&y) && (0..w as isize).contains(&x);
                if inside {
                    values[(y as usize * w + x as usize) * n + c]
                } else {
                    f32::NEG_INFINITY
                }
            };
            let want: Vec<f32> = (0..ph * pw * n)
                .map(|i| {
                    let (oy, ox, c) = ((i / n / pw) as isize, (i / n % pw) as isize, i % n);
                    let window = (-1..=1).flat_map(|dy| (-1..=1).map(move |dx| (dy, dx)));
                    window.map(|(dy, dx)| at(2 * oy + dy, 2 * ox + dx, c)).fold(f32::NEG_INFINITY, f32::max)
                })
                .collect();
            let whole = Rows { values: &values, first: 0, w, n };
            let mut portable = vec![f32::NAN; want.len()];
            pool_rows(&whole, 0, &mut portable);
            assert_eq!(portable, want, "{h}×{w}: the portable loop");
            let mut got = vec![f32::NAN; want.len()];
            pool(&whole, 0, &mut got);
            assert_eq!(got, want, "{h}×{w}");
            // Pooled rows 2… from the image rows their windows cover (3…).
            let part = Rows { values: &values[3 * w * n..], first: 3, w, n };
            let mut rows = vec![f32::NAN; (ph - 2) * pw * n];
            pool(&part, 2, &mut rows);
            assert_eq!(rows, want[2 * pw * n..], "{h}×{w}: from row 3");
        }
    }
}
