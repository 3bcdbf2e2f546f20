//! ResNet-50's stem (7×7, stride 2, 3 → 64 channels) in 16-bit integers on the image's bytes, for
//! `precision = "int8"`. The network's input is normalised bytes, `x = (p/255 − mean)/std` per
//! channel, so the stem's sums are exact integers of the bytes `p` against weights scaled by
//! `1/(255·std)`, plus a constant per output channel (`−mean/std` against the weights): the
//! image embedder hands over the resized bytes themselves (`ResNet50::forward_bytes`; from a
//! normalised `x` they are recovered), and the product runs in 16-bit integers (`vpmaddwd`: 16 products a
//! register, twice an f32 FMA's; `vpdpwssd` with VNNI) with the weights in 14 bits per output channel: within 1e-4 of
//! f32 (relative, tested), but for the padding, the byte nearest to a normalised 0 (`255·mean`,
//! off by at most half a byte's step, on the border's taps only).
//!
//! The stem's output is max-pooled as it is made, a band of rows at a time while they are in
//! cache ([`ByteStem::forward`]), and kept in 8 bits there for the first block where that reads
//! bytes.
//!
//! Why: in f32 the stem took 7.9 % of the 8-bit forward pass (20 ms a batch of 8, its patches
//! gathered in f32 through a `memmove` per kernel row); ONNX Runtime's 8-bit stem took half that.
//! Bytes against weights in seven bits on `ml::int8`'s kernel (two products in 16 bits must not
//! saturate) was tried first: trained weights' features fell to a centred cosine of 0.986.

use super::pool::{pool, pooled_side, Rows};
use super::{Act, Conv, Kernel, Out, Pools};
use rayon::prelude::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The stem's kernel side, stride, padding and input channels.
const K: usize = 7;
const STRIDE: usize = 2;
const PAD: usize = 3;
const C: usize = 3;
/// A patch's values, and the depth of the product (whole pairs: one zero more).
const WIDTH: usize = K * K * C;
const DEPTH: usize = WIDTH + 1;
/// Output channels per strip of packed weights: two registers of eight 32-bit sums.
const COLUMNS: usize = 16;
/// Rows per tile: 4 × 2 sums, two weight registers and a broadcast.
const ROWS: usize = 4;
/// The largest weight: 255 × 16,383 × 147 sums stay below 2³¹.
const LEVELS: f32 = 16383.0;
/// Output pixels per block of patches (74 KiB, in the core's second-level cache).
const BLOCK: usize = 512;
/// Pooled rows per task: the stem's rows under them (17, 476 KiB at 224×224's 112 × 64 outputs)
/// stay in the core's second-level cache; a band computes once more the one stem row its first
/// pooled row shares with the band before (1/16 more stem work).
const BAND: usize = 8;

/// How the network's input was made from bytes: `x = (p/255 − mean)/std`, channel by channel.
#[derive(Clone, Copy, Debug)]
pub struct Pixels {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Pixels {
    /// Writes the bytes `x` (channels-last pixels) were normalised from into `bytes`; false if a
    /// value is not within a hundredth of a step of a byte's. (Rounded by adding a half and
    /// truncating, not by the C library's `roundf`, in a loop without early exits that compiles
    /// to vector instructions.)
    fn bytes(&self, x: &[f32], bytes: &mut [i16]) -> bool {
        let gain: [f32; C] = std::array::from_fn(|c| 255.0 * self.std[c]);
        let shift: [f32; C] = std::array::from_fn(|c| 255.0 * self.mean[c]);
        let mut all = true;
        for (d, v) in bytes.chunks_exact_mut(C).zip(x.chunks_exact(C)) {
            for c in 0..C {
                let p = v[c] * gain[c] + shift[c];
                let q = (p + 0.5).clamp(0.0, 256.0) as i32;
                all &= (p - q as f32).abs() < 0.01 && q <= 255;
                d[c] = q as i16;
            }
        }
        all
    }
}

/// The stem's weights and bias on bytes.
pub(super) struct ByteStem {
    /// `[n/16][DEPTH/2][16][2]`: strips of 16 channels, each step of two depths one after another.
    weights: Vec<i16>,
    /// Each output channel's weight scale.
    scales: Vec<f32>,
    /// The folded bias plus the constant part: each weight against its channel's `−mean/std`.
    bias: Vec<f32>,
    /// Each channel's padding byte.
    pad: [i16; C],
    pixels: Pixels,
}

thread_local! {
    /// Each pool thread's patches, stem rows and pooled rows (before they are kept in 8 bits).
    static BAND_BUFFERS: std::cell::RefCell<(Vec<i16>, Vec<f32>, Vec<f32>)> = std::cell::RefCell::default();
}

/// A batch's padded images of bytes (`hp`×`wp` each, channels-last) and the stem's output sides.
struct Image<'a> {
    padded: &'a [i16],
    hp: usize,
    wp: usize,
    oh: usize,
    ow: usize,
}

impl ByteStem {
    /// The stem `conv` on bytes normalised as `pixels` says; `None` where the CPU lacks AVX2 or
    /// FMA, `conv` is not ResNet-50's stem or a standard deviation is not positive.
    pub(super) fn new(conv: &Conv, pixels: Pixels) -> Option<ByteStem> {
        let n = conv.c_out;
        let shape_fits = (conv.k, conv.stride, conv.pad, conv.c_in) == (K, STRIDE, PAD, C) && n.is_multiple_of(COLUMNS);
        if !runs() || !shape_fits || pixels.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return None;
        }
        let folded = conv.weight.row_major();
        let mut weight = vec![0f32; DEPTH * n];
        let mut bias: Vec<f64> = conv.bias.iter().map(|&b| b as f64).collect();
        for (t, row) in folded.chunks_exact(n).enumerate() {
            let c = t % C;
            let (per_byte, offset) =
                (1.0 / (255.0 * pixels.std[c] as f64), -(pixels.mean[c] as f64) / pixels.std[c] as f64);
            for (o, &w) in row.iter().enumerate() {
                weight[t * n + o] = (w as f64 * per_byte) as f32;
                bias[o] += w as f64 * offset;
            }
        }
        let scales: Vec<f32> =
            (0..n).map(|o| (0..DEPTH).map(|t| weight[t * n + o].abs()).fold(0f32, f32::max) / LEVELS).collect();
        let mut packed = vec![0i16; DEPTH * n];
        for (i, q) in packed.iter_mut().enumerate() {
            let (strip, pair, lane, j) =
                (i / (DEPTH * COLUMNS), i / (2 * COLUMNS) % (DEPTH / 2), i / 2 % COLUMNS, i % 2);
            let (t, o) = (2 * pair + j, strip * COLUMNS + lane);
            let inv = if scales[o] > 0.0 { 1.0 / scales[o] } else { 0.0 };
            *q = (weight[t * n + o] * inv).round().clamp(-LEVELS, LEVELS) as i16;
        }
        Some(ByteStem {
            weights: packed,
            scales,
            bias: bias.into_iter().map(|b| b as f32).collect(),
            pad: std::array::from_fn(|c| (255.0 * pixels.mean[c]).round().clamp(0.0, 255.0) as i16),
            pixels,
        })
    }

    /// `relu(stem(x))` max-pooled (3×3, stride 2, padding 1: ResNet-50's next step), in 8 bits
    /// for `bytes_for` (as its [`Kernel::quantise_rows`] quantises, a scale per pixel) or else in
    /// f32; `None` when `x` is not normalised bytes (a value off every byte's), for the f32 stem
    /// to take.
    pub(super) fn forward(&self, x: &Act, bytes_for: Option<Kernel>, pools: &Pools) -> Option<Act> {
        let row = x.w * C;
        let rows = |image_row: usize, dst: &mut [i16]| self.pixels.bytes(&x.data[image_row * row..][..row], dst);
        self.pooled((x.b, x.h, x.w), bytes_for, pools, rows)
    }

    /// [`ByteStem::forward`] of `b` images of `h`×`w` RGB bytes, channels-last (`bytes`): the
    /// bytes the network's input would have been normalised from.
    pub(super) fn forward_bytes(
        &self,
        bytes: &[u8],
        (b, h, w): (usize, usize, usize),
        bytes_for: Option<Kernel>,
        pools: &Pools,
    ) -> Act {
        assert_eq!(bytes.len(), b * h * w * C, "channels-last RGB bytes");
        let row = w * C;
        let rows = |image_row: usize, dst: &mut [i16]| {
            dst.iter_mut().zip(&bytes[image_row * row..][..row]).for_each(|(d, &b)| *d = i16::from(b));
            true
        };
        self.pooled((b, h, w), bytes_for, pools, rows).expect("bytes are always bytes")
    }

    /// The stem and its pooling on images whose rows of bytes `row(image row, dst)` writes
    /// (image `i`'s row `y` is `i·h + y`), or `None` if one of them says it could not: a band of
    /// [`BAND`] pooled rows per task, from the stem's rows under it computed into the core's
    /// cache, so the stem's output (four times the pooled one) never reaches memory.
    ///
    /// Why: the stem had written its whole output in f32 (26 MB a batch of 8) for the pooling to
    /// read back, and the pooling its own for the first block to quantise: 8.5 % of the 8-bit
    /// forward pass, stem, pooling and quantising, in the Zen 4 machine's profile.
    fn pooled(
        &self,
        (b, h, w): (usize, usize, usize),
        bytes_for: Option<Kernel>,
        pools: &Pools,
        row: impl Fn(usize, &mut [i16]) -> bool + Sync,
    ) -> Option<Act> {
        let (hp, wp) = (h + 2 * PAD, w + 2 * PAD);
        let mut padded = pools.shorts.take(b * hp * wp * C);
        let bytes = padded.par_chunks_mut(wp * C).enumerate().all(|(r, dst)| {
            let (img, py) = (r / hp, r % hp);
            dst.chunks_exact_mut(C).for_each(|pixel| pixel.copy_from_slice(&self.pad));
            if py < PAD || py >= PAD + h {
                return true;
            }
            row(img * h + py - PAD, &mut dst[PAD * C..(PAD + w) * C])
        });
        if !bytes {
            pools.shorts.give(padded);
            return None;
        }
        let (oh, ow) = ((h + 2 * PAD - K) / STRIDE + 1, (w + 2 * PAD - K) / STRIDE + 1);
        let (ph, pw) = (pooled_side(oh), pooled_side(ow));
        let (n, pixels) = (self.bias.len(), b * ph * pw);
        let image = Image { padded: &padded, wp, hp, oh, ow };
        // Each image's output in bands of BAND pooled rows (its last band shorter), in order.
        let (mut data, mut bytes, mut scales) = (Vec::new(), Vec::new(), Vec::new());
        let bands: Vec<Out> = match bytes_for {
            None => {
                data = pools.f32.take(pixels * n);
                data.chunks_mut(ph * pw * n).flat_map(|img| img.chunks_mut(BAND * pw * n)).map(Out::F32).collect()
            }
            Some(_) => {
                (bytes, scales) = (pools.bytes.take(pixels * n), pools.f32.take(pixels));
                let bytes = bytes.chunks_mut(ph * pw * n).flat_map(|img| img.chunks_mut(BAND * pw * n));
                let scales = scales.chunks_mut(ph * pw).flat_map(|img| img.chunks_mut(BAND * pw));
                bytes.zip(scales).map(|(b, s)| Out::Bytes(b, s)).collect()
            }
        };
        let per_image = ph.div_ceil(BAND);
        bands.into_par_iter().enumerate().for_each(|(i, out)| {
            self.band(&image, (i / per_image, i % per_image * BAND), out, bytes_for);
        });
        pools.shorts.give(padded);
        let bytes = bytes_for.map(|_| super::Bytes8 { bytes, scales });
        Some(Act { data, bytes, b, h: ph, w: pw, c: n })
    }

    /// Pooled rows `py…` of image `img` into `out` (whole rows): the stem's rows under them, a
    /// block of patches at a time, then their pooling, kept in 8 bits for `bytes_for` where
    /// `out` is bytes.
    fn band(&self, image: &Image, (img, py): (usize, usize), out: Out, bytes_for: Option<Kernel>) {
        let n = self.bias.len();
        let pw = pooled_side(image.ow);
        let rows = out.rows(n) / pw;
        // The stem rows the pooled rows' windows cover (the padding never wins: skipped).
        let first = (2 * py).saturating_sub(1);
        let last = (2 * (py + rows - 1) + 1).min(image.oh - 1);
        BAND_BUFFERS.with_borrow_mut(|(patches, stem, pooled)| {
            let m = (last + 1 - first) * image.ow;
            let stem = crate::ml::reuse(stem, m * n);
            for (b, dst) in stem.chunks_mut(BLOCK * n).enumerate() {
                let patches = crate::ml::reuse(patches, dst.len() / n * DEPTH);
                for (j, patch) in patches.chunks_exact_mut(DEPTH).enumerate() {
                    let (oy, ox) = (first + (b * BLOCK + j) / image.ow, (b * BLOCK + j) % image.ow);
                    for ky in 0..K {
                        let at = ((img * image.hp + oy * STRIDE + ky) * image.wp + ox * STRIDE) * C;
                        patch[ky * K * C..(ky + 1) * K * C].copy_from_slice(&image.padded[at..at + K * C]);
                    }
                    patch[WIDTH] = 0;
                }
                self.product(patches, dst);
            }
            let stem = Rows { values: stem, first, w: image.ow, n };
            match (out, bytes_for) {
                (Out::F32(dst), _) => pool(&stem, py, dst),
                (Out::Bytes(bytes, scales), Some(kernel)) => {
                    let pooled = crate::ml::reuse(pooled, bytes.len());
                    pool(&stem, py, pooled);
                    kernel.quantise_rows(pooled, n, bytes, scales);
                }
                (Out::Bytes(..), None) => unreachable!("bytes are kept for a kernel"),
            }
        });
    }

    /// `dst = relu(patches · weights · scales + bias)`, `patches` being `m × DEPTH`.
    fn product(&self, patches: &[i16], dst: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        self.product_on(patches, dst, vnni());
        #[cfg(not(target_arch = "x86_64"))]
        self.product_on(patches, dst, false);
    }

    /// [`ByteStem::product`] on the VNNI tile if `vnni` (the CPU must run it), else on AVX2's.
    fn product_on(&self, patches: &[i16], dst: &mut [f32], vnni: bool) {
        let n = self.bias.len();
        let m = patches.len() / DEPTH;
        assert!(
            dst.len() == m * n && self.weights.len() == DEPTH * n && self.scales.len() == n,
            "stem shapes disagree"
        );
        assert!(runs(), "the stem's 16-bit product needs AVX2 and FMA");
        #[cfg(target_arch = "x86_64")]
        if n.is_multiple_of(4 * COLUMNS) && vnni {
            assert!(self::vnni(), "the stem's VNNI tile needs AVX-512 F, BW and VNNI");
            for first in (0..n).step_by(4 * COLUMNS) {
                let w = &self.weights[first * DEPTH..(first + 4 * COLUMNS) * DEPTH];
                let (scales, bias) = (&self.scales[first..first + 4 * COLUMNS], &self.bias[first..first + 4 * COLUMNS]);
                for (r, rows) in patches.chunks(VNNI_ROWS * DEPTH).enumerate() {
                    let out = &mut dst[r * VNNI_ROWS * n..];
                    // SAFETY: the CPU has AVX-512 F, BW and VNNI (checked above); `rows` holds
                    // whole patches of DEPTH, `w` four strips' DEPTH × 16, `out` as many rows
                    // of `n` from `first`.
                    unsafe {
                        match rows.len() / DEPTH {
                            6 => tile_vnni::<6>(rows, w, (out, n, first), (scales, bias)),
                            5 => tile_vnni::<5>(rows, w, (out, n, first), (scales, bias)),
                            4 => tile_vnni::<4>(rows, w, (out, n, first), (scales, bias)),
                            3 => tile_vnni::<3>(rows, w, (out, n, first), (scales, bias)),
                            2 => tile_vnni::<2>(rows, w, (out, n, first), (scales, bias)),
                            _ => tile_vnni::<1>(rows, w, (out, n, first), (scales, bias)),
                        }
                    }
                }
            }
            return;
        }
        #[cfg(target_arch = "x86_64")]
        for strip in 0..n / COLUMNS {
            let w = &self.weights[strip * DEPTH * COLUMNS..(strip + 1) * DEPTH * COLUMNS];
            let col = strip * COLUMNS;
            let (scales, bias) = (&self.scales[col..col + COLUMNS], &self.bias[col..col + COLUMNS]);
            for (r, rows) in patches.chunks(ROWS * DEPTH).enumerate() {
                let out = &mut dst[r * ROWS * n..];
                // SAFETY: the CPU has AVX2 and FMA (asserted above); `rows` holds whole patches
                // of DEPTH, `w` a strip's DEPTH × 16, and `out` as many rows of `n` from `col`.
                unsafe {
                    match rows.len() / DEPTH {
                        4 => tile::<4>(rows, w, (out, n, col), (scales, bias)),
                        3 => tile::<3>(rows, w, (out, n, col), (scales, bias)),
                        2 => tile::<2>(rows, w, (out, n, col), (scales, bias)),
                        _ => tile::<1>(rows, w, (out, n, col), (scales, bias)),
                    }
                }
            }
        }
    }
}

/// Whether the CPU runs the 16-bit product (AVX2, and FMA for its last step).
fn runs() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU runs [`tile_vnni`] (AVX-512 F, BW and VNNI).
#[cfg(target_arch = "x86_64")]
fn vnni() -> bool {
    use std::arch::is_x86_feature_detected as has;
    has!("avx512f") && has!("avx512bw") && has!("avx512vnni")
}

/// Rows per [`tile_vnni`]: 6 × 4 registers of sums, four of weights and a broadcast.
const VNNI_ROWS: usize = 6;

/// `R` patches against four strips of 16 channels (`w`, one after another): `vpdpwssd` of a
/// broadcast pair of values against a strip's pairs of weights, summed into 32 bits in the same
/// instruction, then scaled, biased and ReLU'd into `out`'s row `i·n`, columns `col…col + 64`.
///
/// Why: `vpmaddwd` then `vpaddd` (the AVX2 tile) take two instructions per 16 products, and its
/// four rows by 16 channels load weights for every eight sums; the stem had been 6.8 % of the
/// 8-bit forward pass.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_vnni<const R: usize>(
    rows: &[i16],
    w: &[i16],
    (out, n, col): (&mut [f32], usize, usize),
    (scales, bias): (&[f32], &[f32]),
) {
    const STRIPS: usize = 4;
    assert!(rows.len() >= R * DEPTH && w.len() >= STRIPS * DEPTH * COLUMNS);
    assert!(out.len() >= (R - 1) * n + col + STRIPS * COLUMNS);
    assert!(scales.len() >= STRIPS * COLUMNS && bias.len() >= STRIPS * COLUMNS);
    // SAFETY: every pointer below is inside `rows`, `w`, `out`, `scales` or `bias` (asserted).
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); STRIPS]; R];
        let (a, wp) = (rows.as_ptr(), w.as_ptr());
        for pair in 0..DEPTH / 2 {
            let ws: [__m512i; STRIPS] = std::array::from_fn(|s| {
                _mm512_loadu_si512(wp.add(s * DEPTH * COLUMNS + pair * 2 * COLUMNS) as *const __m512i)
            });
            for (i, acc) in acc.iter_mut().enumerate() {
                let two = _mm512_set1_epi32((a.add(i * DEPTH + 2 * pair) as *const i32).read_unaligned());
                for (acc, w) in acc.iter_mut().zip(ws) {
                    *acc = _mm512_dpwssd_epi32(*acc, two, w);
                }
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            for (j, sums) in acc.iter().enumerate() {
                let scale = _mm512_loadu_ps(scales.as_ptr().add(16 * j));
                let v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(*sums), scale, _mm512_loadu_ps(bias.as_ptr().add(16 * j)));
                _mm512_storeu_ps(out.as_mut_ptr().add(i * n + col + 16 * j), _mm512_max_ps(v, _mm512_setzero_ps()));
            }
        }
    }
}

/// `R` patches against a strip of 16 channels: `vpmaddwd` of a broadcast pair of values against
/// the strip's pair of weights per channel, summed in 32 bits, then scaled, biased and ReLU'd
/// into `out`'s row `i·n`, columns `col…col + 16`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const R: usize>(
    rows: &[i16],
    w: &[i16],
    (out, n, col): (&mut [f32], usize, usize),
    (scales, bias): (&[f32], &[f32]),
) {
    assert!(rows.len() >= R * DEPTH && w.len() >= DEPTH * COLUMNS && out.len() >= (R - 1) * n + col + COLUMNS);
    assert!(scales.len() >= COLUMNS && bias.len() >= COLUMNS);
    // SAFETY: every pointer below is inside `rows`, `w`, `out`, `scales` or `bias` (asserted).
    unsafe {
        let mut acc = [[_mm256_setzero_si256(); 2]; R];
        let (a, wp) = (rows.as_ptr(), w.as_ptr());
        for pair in 0..DEPTH / 2 {
            let w0 = _mm256_loadu_si256(wp.add(pair * 2 * COLUMNS) as *const __m256i);
            let w1 = _mm256_loadu_si256(wp.add(pair * 2 * COLUMNS + COLUMNS) as *const __m256i);
            for (i, acc) in acc.iter_mut().enumerate() {
                let two = _mm256_set1_epi32((a.add(i * DEPTH + 2 * pair) as *const i32).read_unaligned());
                acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(two, w0));
                acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(two, w1));
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            for (j, sums) in acc.iter().enumerate() {
                let scale = _mm256_loadu_ps(scales.as_ptr().add(8 * j));
                let v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(*sums), scale, _mm256_loadu_ps(bias.as_ptr().add(8 * j)));
                _mm256_storeu_ps(out.as_mut_ptr().add(i * n + col + 8 * j), _mm256_max_ps(v, _mm256_setzero_ps()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stem on bytes and its pooling against the f32 stem and `max_pool_3x3_s2` on the same
    /// normalised bytes (random weights, two images of odd and even sides, so the padding is
    /// crossed on every edge, and tall enough for two bands of pooled rows): within the 14-bit
    /// weights' rounding where the padding byte is exact (means of whole bytes), within the
    /// padding's half byte with ImageNet's means; the same given the bytes themselves; kept in 8
    /// bits, the f32 results' bytes; and an input that is not normalised bytes is left to f32.
    #[test]
    fn byte_stem_matches_the_f32_stem() {
        if !crate::kernels::exercise("16-bit stem on bytes (ml::resnet::stem)", &["avx2", "fma"]) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(5);
        let n = 64;
        let weight: Vec<f32> = (0..WIDTH * n).map(|_| rng.unit() as f32 - 0.5).collect();
        let bias: Vec<f32> = (0..n).map(|_| rng.unit() as f32 - 0.5).collect();
        let conv = Conv::new(weight.clone(), bias, (K, STRIDE, PAD));
        let std = [0.229, 0.224, 0.225];
        let whole_bytes = Pixels { mean: [102.0 / 255.0, 153.0 / 255.0, 51.0 / 255.0], std };
        let imagenet = Pixels { mean: [0.485, 0.456, 0.406], std };
        for (pixels, most) in [(whole_bytes, 1e-4), (imagenet, 1e-2)] {
            let stem = ByteStem::new(&conv, pixels).unwrap();
            let (b, h, w) = (2, 37, 16);
            let bytes: Vec<u8> = (0..b * h * w * C).map(|_| (rng.unit() * 256.0) as u8).collect();
            let data: Vec<f32> = bytes
                .iter()
                .enumerate()
                .map(|(i, &p)| (f32::from(p) / 255.0 - pixels.mean[i % C]) / pixels.std[i % C])
                .collect();
            let x = Act { data, bytes: None, b, h, w, c: C };
            let pools = Pools::default();
            let want = super::super::pool::max_pool_3x3_s2(&conv.forward(&x, true, None, false, &pools), &pools.f32);
            let got = stem.forward(&x, None, &pools).expect("normalised bytes");
            assert!(got.h > BAND, "two bands of pooled rows");
            // Given the bytes themselves: the same outputs.
            let from_bytes = stem.forward_bytes(&bytes, (b, h, w), None, &pools);
            assert!(from_bytes.data == got.data, "{pixels:?}: the stem on bytes and on normalised bytes differ");
            if let Some(kernel) = crate::ml::int8::kernel() {
                let kept = stem.forward_bytes(&bytes, (b, h, w), Some(kernel), &pools);
                let (mut bytes, mut scales) = (vec![0u8; got.data.len()], vec![0f32; got.data.len() / n]);
                kernel.quantise_rows(&got.data, n, &mut bytes, &mut scales);
                let q = kept.bytes.as_ref().expect("kept in 8 bits");
                assert!(q.bytes == bytes && q.scales == scales, "{pixels:?}: kept in 8 bits");
                assert_eq!((kept.b, kept.h, kept.w, kept.c), (got.b, got.h, got.w, got.c));
            }
            // Where the CPU has VNNI, its tile (taken above) and AVX2's give the same outputs:
            // the same integer sums, scaled the same way.
            #[cfg(target_arch = "x86_64")]
            if crate::kernels::exercise(
                "16-bit stem on VNNI (ml::resnet::stem)",
                &["avx512f", "avx512bw", "avx512vnni"],
            ) {
                let patches: Vec<i16> =
                    (0..13 * DEPTH).map(|i| if i % DEPTH == WIDTH { 0 } else { (i * 37 % 256) as i16 }).collect();
                let (mut on_vnni, mut on_avx2) = (vec![f32::NAN; 13 * n], vec![f32::NAN; 13 * n]);
                stem.product_on(&patches, &mut on_vnni, true);
                stem.product_on(&patches, &mut on_avx2, false);
                assert!(on_vnni == on_avx2, "the VNNI and AVX2 stem tiles differ");
            }
            assert_eq!((got.h, got.w, got.c), (want.h, want.w, want.c));
            // Each weight is off by at most half a step (its column's largest over 16,383), each
            // byte is at most 255, the padding off by half a byte's step; and f32's roundings.
            for o in 0..n {
                let per_byte = |t: usize| (weight[t * n + o] / (255.0 * std[t % C])).abs();
                let peak = (0..WIDTH).map(per_byte).fold(0.0, f32::max);
                let bound = WIDTH as f32 * (peak / LEVELS * 0.5 * 255.0 + peak * 0.5) + 1e-4;
                for r in 0..b * got.h * got.w {
                    let (g, e) = (got.data[r * n + o], want.data[r * n + o]);
                    assert!((g - e).abs() <= bound, "output {r}, channel {o}: {g} against {e} (bound {bound})");
                }
            }
            let (mut err2, mut ref2) = (0f64, 0f64);
            for (g, e) in got.data.iter().zip(&want.data) {
                err2 += ((g - e) as f64).powi(2);
                ref2 += (*e as f64).powi(2);
            }
            let relative = (err2 / ref2).sqrt();
            assert!(relative < most, "{pixels:?}: relative error {relative}");
            // A value between two bytes' normalised values: the f32 stem's.
            let mut off = x.data.clone();
            off[7] += 0.3 / (255.0 * std[7 % C]);
            assert!(stem.forward(&Act { data: off, bytes: None, b, h, w, c: C }, None, &pools).is_none());
        }
    }
}
