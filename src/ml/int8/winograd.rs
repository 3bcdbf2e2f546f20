//! Winograd's F(2×2, 3×3) in 8 bits for the stride-1 3×3 convolutions on small maps (VNNI): each
//! 2×2 block of outputs costs 16 products per input/output channel pair instead of 36.
//!
//! Each 4×4 tile of 8-bit input pixels (each with its own scale) is dequantised and transformed
//! (`Bᵀ·d·B`, sums and differences only); each of its 16 transformed rows (signed) is rounded to
//! bytes with its own scale and an offset of 128, so the VNNI kernel's unsigned-by-signed sums
//! take it. The 16 transformed kernels (`G·g·Gᵀ`, at load) are packed as 16 ordinary 8-bit weight
//! matrices. The 16 products' f32 outputs, less the offset's share, are turned back into 2×2
//! outputs (`Aᵀ·M·A`), bias and ReLU added, and each output pixel kept in 8 bits at its own scale
//! as the tap products keep theirs.
//!
//! Why: ResNet-50's 3×3 convolutions on 14×14 and 7×7 maps ran about 20 % faster this way in a
//! single-thread probe (the products 1.5–2× faster than the direct sums, less the transforms); on
//! the 56×56 and 28×28 maps the transforms' traffic undid it. In numpy, these stages in Winograd
//! moved trained features by 0.00017 of the lowest centred cosine (see docs/benchmarks.md).

#[cfg(target_arch = "x86_64")]
use super::to_bytes;
use super::{matmul_into, Bytes, Epilogue, Kernel, PackedWeights, Rows, Scratch};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// `G` of F(2×2, 3×3): the kernel's transform `G·g·Gᵀ`.
const G: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
/// Transformed values per tile.
const POSITIONS: usize = 16;
/// Tiles a band holds at most: the products' f32 outputs (16 × tiles × outputs) stay within the
/// core's second-level cache.
const BAND_TILES: usize = 32;

/// A stride-1 3×3 convolution's kernel in the Winograd domain, in 8 bits.
pub struct Winograd8 {
    /// The 16 transformed kernels, each `c × o`.
    positions: Vec<PackedWeights>,
    /// For each position and output, what the offset of 128 adds to a product's output at a row
    /// scale of 1: `128 · col_scale · Σ_c q[c][o]`.
    offsets: Vec<f32>,
    /// The products' own bias: none.
    zeros: Vec<f32>,
    c: usize,
    o: usize,
}

/// One thread's room for a band: transformed rows, their scales, the products' outputs, and the
/// tile's f32 rows before their transform and quantising.
#[derive(Default)]
pub struct WinogradScratch {
    rows: Vec<u8>,
    scales: Vec<f32>,
    products: Vec<f32>,
    tile: Vec<f32>,
    scratch: Scratch,
}

impl Winograd8 {
    /// From a 3×3 kernel `[kh, kw, c, o]` (row-major), where the VNNI kernel runs and the shape
    /// fits (`c` and `o` multiples of 64 and 16).
    pub fn new(weight: &[f32], c: usize, o: usize) -> Option<Winograd8> {
        let fits = super::fits(c, o) && c.is_multiple_of(16) && weight.len() == 9 * c * o;
        if !fits || !Kernel::Vnni.runs() {
            return None;
        }
        let mut positions = Vec::with_capacity(POSITIONS);
        let mut offsets = Vec::with_capacity(POSITIONS * o);
        for (i, l) in (0..4).flat_map(|i| (0..4).map(move |l| (i, l))) {
            let mut u = vec![0f32; c * o];
            for (at, u) in u.iter_mut().enumerate() {
                let mut sum = 0f64;
                for (j, gi) in G[i].iter().enumerate() {
                    for (k, gl) in G[l].iter().enumerate() {
                        sum += gi * gl * f64::from(weight[(j * 3 + k) * c * o + at]);
                    }
                }
                *u = sum as f32;
            }
            let packed = PackedWeights::new(&u, c, o, Kernel::Vnni);
            let q = packed.row_major();
            offsets.extend((0..o).map(|col| {
                let sum: i32 = (0..c).map(|r| i32::from(q[r * o + col])).sum();
                128.0 * packed.scales[col] * sum as f32
            }));
            positions.push(packed);
        }
        Some(Winograd8 { positions, offsets, zeros: vec![0.0; o], c, o })
    }

    /// `relu(conv(x) + bias)` of one `h`×`w` image of 8-bit pixels (`c` bytes and a scale each),
    /// kept in 8 bits in `out` (`h·w·o` bytes) and `out_scales` (one a pixel).
    pub fn image(
        &self,
        x: Bytes,
        (h, w): (usize, usize),
        bias: &[f32],
        (out, out_scales): (&mut [u8], &mut [f32]),
        room: &mut WinogradScratch,
    ) {
        let (c, o) = (self.c, self.o);
        assert!(x.bytes.len() == h * w * c && x.scales.len() == h * w, "a Winograd image's pixels disagree");
        assert!(out.len() == h * w * o && out_scales.len() == h * w && bias.len() == o, "Winograd outputs disagree");
        let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
        let band_rows = (BAND_TILES / tw).max(1);
        for first in (0..th).step_by(band_rows) {
            let rows = band_rows.min(th - first);
            let tiles = rows * tw;
            let v = crate::ml::reuse(&mut room.rows, POSITIONS * tiles * c);
            let vs = crate::ml::reuse(&mut room.scales, POSITIONS * tiles);
            let tile = crate::ml::reuse(&mut room.tile, POSITIONS * c.max(o));
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU runs VNNI (checked at `new`); the shapes are asserted above and the
            // buffers sized for the band.
            unsafe {
                transform_in(x, (h, w, c), (first, rows, tw), v, vs, tile)
            };
            let m = crate::ml::reuse(&mut room.products, POSITIONS * tiles * o);
            for (p, weights) in self.positions.iter().enumerate() {
                let lhs =
                    Bytes { bytes: &v[p * tiles * c..(p + 1) * tiles * c], scales: &vs[p * tiles..(p + 1) * tiles] };
                let then = Epilogue { bias: &self.zeros, residual: None, relu: false };
                matmul_into(
                    &mut m[p * tiles * o..(p + 1) * tiles * o],
                    Rows::Bytes(lhs),
                    weights,
                    then,
                    &mut room.scratch,
                );
            }
            let products = Products { m, scales: vs, offsets: &self.offsets, tiles, o };
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above; the band's output pixels lie inside `out` (asserted).
            unsafe {
                transform_out(products, (h, w), (first, rows, tw), bias, (&mut *out, &mut *out_scales), tile)
            };
        }
    }
}

/// A band's 16 product outputs (`[16][tiles][o]`), their rows' scales (`[16][tiles]`) and the
/// offsets to take out of them (`[16][o]`).
struct Products<'a> {
    m: &'a [f32],
    scales: &'a [f32],
    offsets: &'a [f32],
    tiles: usize,
    o: usize,
}

/// The band's tiles (tile rows `first…first + rows`, `tw` a row) transformed and rounded to
/// bytes: `v` is `[16][tiles][c]` (value + 128), `vs` `[16][tiles]`.
///
/// # Safety
/// The CPU has AVX-512 F and BW; `x` holds `h·w` pixels of `c` bytes (`c` a multiple of 16), `v`
/// and `vs` the band's rows, `tile` at least `16·c` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn transform_in(
    x: Bytes,
    (h, w, c): (usize, usize, usize),
    (first, rows, tw): (usize, usize, usize),
    v: &mut [u8],
    vs: &mut [f32],
    tile: &mut [f32],
) {
    let tiles = rows * tw;
    // SAFETY: the caller's contract; every pixel read is inside the image (checked per pixel).
    unsafe {
        for t in 0..tiles {
            let (ty, tx) = (first + t / tw, t % tw);
            let mut pixels = [None::<(*const u8, f32)>; POSITIONS];
            for (k, pixel) in pixels.iter_mut().enumerate() {
                let (y, x_) = ((2 * ty + k / 4).wrapping_sub(1), (2 * tx + k % 4).wrapping_sub(1));
                if y < h && x_ < w {
                    let p = y * w + x_;
                    *pixel = Some((x.bytes.as_ptr().add(p * c), x.scales[p]));
                }
            }
            let mut peaks = [_mm512_setzero_ps(); POSITIONS];
            for at in (0..c).step_by(16) {
                let d: [__m512; POSITIONS] = std::array::from_fn(|k| match pixels[k] {
                    Some((p, s)) => {
                        let bytes = _mm_loadu_si128(p.add(at) as *const __m128i);
                        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)), _mm512_set1_ps(s))
                    }
                    None => _mm512_setzero_ps(),
                });
                // Bᵀ·d down the columns, then ·B along the rows.
                let mut t = [_mm512_setzero_ps(); POSITIONS];
                for j in 0..4 {
                    t[j] = _mm512_sub_ps(d[j], d[8 + j]);
                    t[4 + j] = _mm512_add_ps(d[4 + j], d[8 + j]);
                    t[8 + j] = _mm512_sub_ps(d[8 + j], d[4 + j]);
                    t[12 + j] = _mm512_sub_ps(d[4 + j], d[12 + j]);
                }
                for i in 0..4 {
                    let r = &t[i * 4..i * 4 + 4];
                    let row = [
                        _mm512_sub_ps(r[0], r[2]),
                        _mm512_add_ps(r[1], r[2]),
                        _mm512_sub_ps(r[2], r[1]),
                        _mm512_sub_ps(r[1], r[3]),
                    ];
                    for (l, value) in row.into_iter().enumerate() {
                        let pos = i * 4 + l;
                        _mm512_storeu_ps(tile.as_mut_ptr().add(pos * c + at), value);
                        peaks[pos] = _mm512_max_ps(peaks[pos], _mm512_abs_ps(value));
                    }
                }
            }
            let offset = _mm512_set1_epi32(128);
            for (pos, peak) in peaks.iter().enumerate() {
                let peak = _mm512_reduce_max_ps(*peak);
                let inv = _mm512_set1_ps(if peak > 0.0 { 127.0 / peak } else { 0.0 });
                let out = v.as_mut_ptr().add((pos * tiles + t) * c);
                for at in (0..c).step_by(16) {
                    let value = _mm512_mul_ps(_mm512_loadu_ps(tile.as_ptr().add(pos * c + at)), inv);
                    let q = _mm512_add_epi32(_mm512_cvtps_epi32(value), offset);
                    _mm_storeu_si128(out.add(at) as *mut __m128i, _mm512_cvtusepi32_epi8(q));
                }
                vs[pos * tiles + t] = peak / 127.0;
            }
        }
    }
}

/// The band's products turned back into outputs: for each tile, `Aᵀ·M·A` over its 16 rows (less
/// the offset's share), plus bias, ReLU, each output pixel inside the image kept in 8 bits.
///
/// # Safety
/// The CPU has AVX-512 F and BW; the products hold the band's tiles, `out` and `out_scales` the
/// image's `h·w` pixels, `tile` at least `4·o` floats, `o` a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn transform_out(
    products: Products,
    (h, w): (usize, usize),
    (first, rows, tw): (usize, usize, usize),
    bias: &[f32],
    (out, out_scales): (&mut [u8], &mut [f32]),
    tile: &mut [f32],
) {
    let Products { m, scales, offsets, tiles, o } = products;
    debug_assert_eq!(tiles, rows * tw);
    // SAFETY: the caller's contract; only pixels inside the image are written.
    unsafe {
        for t in 0..tiles {
            let (ty, tx) = (first + t / tw, t % tw);
            let mut peaks = [_mm512_setzero_ps(); 4];
            for at in (0..o).step_by(16) {
                let mv: [__m512; POSITIONS] = std::array::from_fn(|pos| {
                    let sum = _mm512_loadu_ps(m.as_ptr().add((pos * tiles + t) * o + at));
                    let offset = _mm512_loadu_ps(offsets.as_ptr().add(pos * o + at));
                    _mm512_fnmadd_ps(_mm512_set1_ps(scales[pos * tiles + t]), offset, sum)
                });
                // Aᵀ·M down the columns, then ·A along the rows.
                let mut s = [_mm512_setzero_ps(); 8];
                for j in 0..4 {
                    s[j] = _mm512_add_ps(_mm512_add_ps(mv[j], mv[4 + j]), mv[8 + j]);
                    s[4 + j] = _mm512_sub_ps(_mm512_sub_ps(mv[4 + j], mv[8 + j]), mv[12 + j]);
                }
                let b = _mm512_loadu_ps(bias.as_ptr().add(at));
                for i in 0..2 {
                    let r = &s[i * 4..i * 4 + 4];
                    let y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]), b);
                    let y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(r[1], r[2]), r[3]), b);
                    for (l, y) in [y0, y1].into_iter().enumerate() {
                        let y = _mm512_max_ps(y, _mm512_setzero_ps());
                        _mm512_storeu_ps(tile.as_mut_ptr().add((i * 2 + l) * o + at), y);
                        peaks[i * 2 + l] = _mm512_max_ps(peaks[i * 2 + l], y);
                    }
                }
            }
            for (q, peak) in peaks.iter().enumerate() {
                let (y, x) = (2 * ty + q / 2, 2 * tx + q % 2);
                if y >= h || x >= w {
                    continue;
                }
                let p = y * w + x;
                let peak = _mm512_reduce_max_ps(*peak);
                to_bytes(
                    &tile[q * o..(q + 1) * o],
                    if peak > 0.0 { 255.0 / peak } else { 0.0 },
                    &mut out[p * o..(p + 1) * o],
                );
                out_scales[p] = peak / 255.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the f32 convolution of the same dequantised pixels: within a few per cent of each
    /// output pixel's peak, on 14×14, 7×7 (odd: a half tile of padding) and 6×9 images.
    #[test]
    fn winograd_in_8_bits_matches_the_f32_convolution() {
        if !crate::kernels::exercise("8-bit Winograd (ml::int8::winograd)", Kernel::Vnni.features()) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(43);
        let (c, o) = (64, 64);
        let weight: Vec<f32> = (0..9 * c * o).map(|_| (rng.unit() as f32 - 0.5) * 0.2).collect();
        let bias: Vec<f32> = (0..o).map(|_| rng.unit() as f32 * 0.5).collect();
        let wino = Winograd8::new(&weight, c, o).expect("the shape fits");
        for (h, w) in [(14, 14), (7, 7), (6, 9)] {
            let values: Vec<f32> = (0..h * w * c).map(|_| (rng.unit() as f32 - 0.3).max(0.0) * 3.0).collect();
            let (mut bytes, mut scales) = (vec![0u8; h * w * c], vec![0f32; h * w]);
            Kernel::Vnni.quantise_rows(&values, c, &mut bytes, &mut scales);
            let pixel = |y: usize, x: usize, ch: usize| f32::from(bytes[(y * w + x) * c + ch]) * scales[y * w + x];
            let (mut out, mut out_scales) = (vec![0u8; h * w * o], vec![f32::NAN; h * w]);
            let x = Bytes { bytes: &bytes, scales: &scales };
            wino.image(x, (h, w), &bias, (&mut out, &mut out_scales), &mut WinogradScratch::default());
            for y in 0..h {
                for x in 0..w {
                    let want: Vec<f32> = (0..o)
                        .map(|oc| {
                            let mut sum = bias[oc];
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (yy, xx) = ((y + ky).wrapping_sub(1), (x + kx).wrapping_sub(1));
                                    if yy < h && xx < w {
                                        for ch in 0..c {
                                            sum += pixel(yy, xx, ch) * weight[((ky * 3 + kx) * c + ch) * o + oc];
                                        }
                                    }
                                }
                            }
                            sum.max(0.0)
                        })
                        .collect();
                    let peak = want.iter().fold(0f32, |a, &b| a.max(b));
                    let p = y * w + x;
                    for (oc, want) in want.iter().enumerate() {
                        let got = f32::from(out[p * o + oc]) * out_scales[p];
                        assert!(
                            (got - want).abs() <= 0.03 * peak + 1e-4,
                            "{h}×{w}, pixel ({y}, {x}), output {oc}: {got} against {want} (peak {peak})"
                        );
                    }
                }
            }
        }
    }
}
