//! 8-bit matrix products for ResNet-50's convolutions on CPUs with AVX-512 VNNI (`vpdpbusd`: 64
//! products of an unsigned and a signed byte summed into 16 32-bit lanes per instruction, four
//! times the multiply-adds of an f32 FMA of the same width), or with AVX2 alone (`vpmaddubsw` then
//! `vpmaddwd`: twice an FMA's multiply-adds, measured 80–93 GMAC/s a core against 45 for f32 on the
//! Zen 3 machine).
//!
//! Weights are quantised once, per output column (`w ≈ scale[c]·q`, `q` in −127…127), and packed
//! in strips laid out for each kernel (64 columns for VNNI, 16 for AVX2). The left-hand rows are
//! quantised per row (`x ≈ row_scale·q`, `q` in 0…255; in 0…127 for the AVX2 kernel, whose 16-bit
//! sums of two products would otherwise saturate: 2·127·127 fits in 32,767, 2·255·127 does not):
//! they are post-ReLU activations, so they are never negative. A product quantises f32 rows on the
//! fly, or takes rows its kernel's [`Kernel::quantise_rows`] wrote beforehand ([`Rows::Bytes`]),
//! as ResNet-50 keeps its blocks' outputs. A row's result depends only on that row, so the same
//! image gives the same features in any batch, and the integer sums are exact.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod signed;
mod taps;
mod winograd;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Output columns per packed VNNI panel: four 16-lane registers.
const PANEL: usize = 64;
/// Rows per kernel call: 6 rows × 4 registers = 24 accumulators of the 32.
const ROWS: usize = 6;
/// The largest activation byte of the AVX2 kernel (seven bits: see the module's doc).
const AVX2_LEVELS: f32 = 127.0;
/// Lanes of a row's running peak (one 16-float register) while its outputs are kept in 8 bits.
const LANES: usize = 16;

/// The kernels, fastest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 F, BW and VNNI.
    Vnni,
    /// AVX2 (and FMA, for the last step): activations in 0…127.
    Avx2,
}

impl Kernel {
    /// The CPU features the kernel needs, as `is_x86_feature_detected!` spells them.
    pub fn features(self) -> &'static [&'static str] {
        match self {
            Kernel::Vnni => &["avx512f", "avx512bw", "avx512vnni"],
            Kernel::Avx2 => &["avx2", "fma"],
        }
    }

    /// Columns per packed strip: what the kernel reads at each step of four depths, so a strip's
    /// weights lie one after another (at a stride of 64 bytes in 256, the AVX2 kernel's 16
    /// columns had used a quarter of the L1 cache's sets).
    fn strip(self) -> usize {
        match self {
            Kernel::Vnni => PANEL,
            Kernel::Avx2 => avx2::COLUMNS,
        }
    }

    /// The largest activation byte the kernel sums without saturating.
    #[cfg(test)]
    fn levels(self) -> f32 {
        match self {
            Kernel::Vnni => 255.0,
            Kernel::Avx2 => AVX2_LEVELS,
        }
    }

    /// Whether this CPU has the kernel's [`features`](Kernel::features).
    fn runs(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Kernel::Vnni => has!("avx512f") && has!("avx512bw") && has!("avx512vnni"),
                Kernel::Avx2 => has!("avx2") && has!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Each row of `lhs` (`k` wide, non-negative) to bytes for this kernel with its own scale
    /// (`max / 255` for VNNI, `max / 127` for AVX2; an all-zero row gets scale 0): what a product
    /// does to f32 rows before it multiplies, done once where several products read the rows.
    pub fn quantise_rows(self, lhs: &[f32], k: usize, bytes: &mut [u8], scales: &mut [f32]) {
        assert!(self.runs(), "the 8-bit {self:?} kernel needs {}", self.features().join(", "));
        assert!(bytes.len() == lhs.len() && scales.len() * k == lhs.len(), "quantised rows' shapes disagree");
        #[cfg(target_arch = "x86_64")]
        if self == Kernel::Vnni {
            // SAFETY: the CPU runs the kernel (asserted above); the shapes agree.
            unsafe { rows_to_bytes(lhs, k, bytes, scales, None) };
            return;
        }
        for ((row, out), scale) in lhs.chunks_exact(k).zip(bytes.chunks_exact_mut(k)).zip(scales) {
            // SAFETY: the CPU runs the kernel (asserted above); the row and its bytes are `k` long.
            *scale = unsafe { self.parts_unchecked(&[Part::Values(row)], out) };
        }
    }

    /// One row made of `parts`, one after another (`out.len()` values in all), to bytes as
    /// [`Kernel::quantise_rows`] quantises a row, without copying the parts into one row first
    /// (a patch's runs of pixels and its padding): returns the row's scale.
    pub fn quantise_parts(self, parts: &[Part], out: &mut [u8]) -> f32 {
        assert!(self.runs(), "the 8-bit {self:?} kernel needs {}", self.features().join(", "));
        let len: usize = parts.iter().map(|p| p.len()).sum();
        assert_eq!(len, out.len(), "a quantised row's parts and bytes disagree");
        // SAFETY: the CPU runs the kernel, and the lengths agree (both asserted above).
        unsafe { self.parts_unchecked(parts, out) }
    }

    /// [`Kernel::quantise_parts`] unchecked.
    ///
    /// # Safety
    /// The CPU runs the kernel, and the parts hold `out.len()` values in all.
    unsafe fn parts_unchecked(self, parts: &[Part], out: &mut [u8]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; each part is written to as many bytes as it has values.
        unsafe {
            type Peak = unsafe fn(&[f32]) -> f32;
            type ToBytes = unsafe fn(&[f32], f32, &mut [u8]);
            let (peak_of, to_bytes, levels): (Peak, ToBytes, f32) = match self {
                Kernel::Vnni => (peak, to_bytes, 255.0),
                Kernel::Avx2 => (avx2::peak, avx2::to_bytes, AVX2_LEVELS),
            };
            let peak = parts.iter().fold(0.0f32, |m, p| match p {
                Part::Values(v) => m.max(peak_of(v)),
                Part::Zeros(_) => m,
            });
            let inv = if peak > 0.0 { levels / peak } else { 0.0 };
            let mut at = 0;
            for part in parts {
                let dst = &mut out[at..at + part.len()];
                match part {
                    Part::Values(v) => to_bytes(v, inv, dst),
                    Part::Zeros(_) => dst.fill(0),
                }
                at += part.len();
            }
            peak / levels
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no 8-bit kernel runs here")
    }
}

/// A run of a row to quantise: values, or that many zeros.
#[derive(Clone, Copy, Debug)]
pub enum Part<'a> {
    Values(&'a [f32]),
    Zeros(usize),
}

impl Part<'_> {
    /// The values it stands for.
    pub fn len(&self) -> usize {
        match self {
            Part::Values(v) => v.len(),
            Part::Zeros(n) => *n,
        }
    }
}

pub use signed::SignedWeights;
pub use taps::{taps_into, taps_into_bytes, Taps, OUTSIDE};
pub use winograd::{Winograd8, WinogradScratch};

/// The fastest 8-bit kernel this CPU runs, if any.
pub fn kernel() -> Option<Kernel> {
    [Kernel::Vnni, Kernel::Avx2].into_iter().find(|k| k.runs())
}

/// Whether a `[k, n]` weight matrix fits the kernel's layout.
pub fn fits(k: usize, n: usize) -> bool {
    k.is_multiple_of(4) && n.is_multiple_of(PANEL) && k > 0
}

/// A `[k, n]` weight matrix quantised per column and packed for one kernel as
/// `[n/w][k/4][w][4]` bytes: strips of `w` columns ([`Kernel::strip`]), each step of four depths
/// one after another.
pub struct PackedWeights {
    data: Vec<i8>,
    scales: Vec<f32>,
    k: usize,
    n: usize,
    kernel: Kernel,
}

impl PackedWeights {
    /// Quantises and packs row-major `weight` (`k × n`) for `kernel`; `fits(k, n)` must hold.
    pub fn new(weight: &[f32], k: usize, n: usize, kernel: Kernel) -> PackedWeights {
        assert!(fits(k, n) && weight.len() == k * n, "an 8-bit weight matrix needs k % 4 == 0 and n % 64 == 0");
        let scales: Vec<f32> =
            (0..n).map(|c| (0..k).map(|r| weight[r * n + c].abs()).fold(0.0f32, f32::max) / 127.0).collect();
        let mut data = vec![0i8; k * n];
        let strip = kernel.strip();
        for first in (0..n).step_by(strip) {
            for k4 in 0..k / 4 {
                for lane in 0..strip {
                    let c = first + lane;
                    let inv = if scales[c] > 0.0 { 1.0 / scales[c] } else { 0.0 };
                    for j in 0..4 {
                        let q = (weight[(k4 * 4 + j) * n + c] * inv).round().clamp(-127.0, 127.0);
                        data[((first / strip * (k / 4) + k4) * strip + lane) * 4 + j] = q as i8;
                    }
                }
            }
        }
        PackedWeights { data, scales, k, n, kernel }
    }

    /// The kernel the weights are packed for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The quantised weights row by row (`k × n`).
    fn row_major(&self) -> Vec<i8> {
        let (strip, steps) = (self.kernel.strip(), self.k / 4);
        let mut rows = vec![0i8; self.k * self.n];
        for (i, quad) in self.data.chunks_exact(4).enumerate() {
            let (block, k4, lane) = (i / (steps * strip), i / strip % steps, i % strip);
            for (j, &q) in quad.iter().enumerate() {
                rows[(k4 * 4 + j) * self.n + block * strip + lane] = q;
            }
        }
        rows
    }
}

/// Scratch space for one thread's products: the quantised rows and their scales, and the f32
/// outputs of [`matmul_into_bytes`]'s groups of rows.
#[derive(Default)]
pub struct Scratch {
    rows: Vec<u8>,
    scales: Vec<f32>,
    out: Vec<f32>,
    peaks: Vec<f32>,
}

/// Rows in 8 bits as a kernel reads them: `bytes` (rows × width, row-major) and each row's scale
/// (`value ≈ byte · scale`), from [`Kernel::quantise_rows`].
#[derive(Clone, Copy)]
pub struct Bytes<'a> {
    pub bytes: &'a [u8],
    pub scales: &'a [f32],
}

impl<'a> Bytes<'a> {
    /// Rows `first…first + count`, each `width` wide.
    fn part(self, first: usize, count: usize, width: usize) -> Bytes<'a> {
        Bytes { bytes: &self.bytes[first * width..(first + count) * width], scales: &self.scales[first..first + count] }
    }
}

/// Rows in f32 or already in 8 bits.
#[derive(Clone, Copy)]
pub enum Rows<'a> {
    F32(&'a [f32]),
    Bytes(Bytes<'a>),
}

impl<'a> Rows<'a> {
    fn len(&self) -> usize {
        match self {
            Rows::F32(v) => v.len(),
            Rows::Bytes(b) => b.bytes.len(),
        }
    }

    /// Rows `first…first + count`, each `width` wide.
    fn part(self, first: usize, count: usize, width: usize) -> Rows<'a> {
        match self {
            Rows::F32(v) => Rows::F32(&v[first * width..(first + count) * width]),
            Rows::Bytes(b) => Rows::Bytes(b.part(first, count, width)),
        }
    }
}

/// What a product's last store adds to the sums, row by row: `dst = relu?(lhs · w + bias +
/// residual?)`, with `bias` one row of `n` and `residual`, when given, as many rows as `dst`.
#[derive(Clone, Copy)]
pub struct Epilogue<'a> {
    pub bias: &'a [f32],
    pub residual: Option<Shortcut<'a>>,
    pub relu: bool,
}

/// A product's residual: rows read from memory, or (VNNI only) a second product of rows of
/// bytes against other weights with the same output columns, `lhs · w`, summed tile by tile
/// beside the first and added in f32 at its own row and column scales: a residual block's
/// downsampling convolution, whose output is then never stored nor read back.
#[derive(Clone, Copy)]
pub enum Shortcut<'a> {
    Rows(Rows<'a>),
    Product { lhs: Bytes<'a>, w: &'a PackedWeights },
}

impl<'a> Shortcut<'a> {
    /// Whether it holds `m` rows of `n` outputs for a product on `kernel`.
    fn fits(&self, m: usize, n: usize, kernel: Kernel) -> bool {
        match self {
            Shortcut::Rows(Rows::F32(v)) => v.len() == m * n,
            Shortcut::Rows(Rows::Bytes(b)) => b.bytes.len() == m * n && b.scales.len() == m,
            Shortcut::Product { lhs, w } => {
                kernel == Kernel::Vnni
                    && w.kernel == kernel
                    && w.n == n
                    && lhs.bytes.len() == m * w.k
                    && lhs.scales.len() == m
            }
        }
    }

    /// Rows `first…first + count` of it, for outputs `n` wide.
    fn part(self, first: usize, count: usize, n: usize) -> Shortcut<'a> {
        match self {
            Shortcut::Rows(rows) => Shortcut::Rows(rows.part(first, count, n)),
            Shortcut::Product { lhs, w } => Shortcut::Product { lhs: lhs.part(first, count, w.k), w },
        }
    }
}

/// Where a kernel's tile stores its results: its first output, the row stride, its columns'
/// bias and, when given, the residual's entry for its first output (same stride); and, for rows
/// kept in 8 bits on the VNNI kernel, its first row's running peak ([`LANES`] floats a row),
/// which the product's first panel starts (`fresh`).
#[derive(Clone, Copy)]
struct Store {
    out: *mut f32,
    n: usize,
    bias: *const f32,
    residual: Option<Residual>,
    relu: bool,
    peaks: Option<*mut f32>,
    fresh: bool,
}

/// A tile's residual: f32, or bytes and the tile's first row's scale, or a second product: its
/// tile's first row of bytes (`k` wide) and scale, and its panel's weights and column scales.
#[derive(Clone, Copy)]
enum Residual {
    F32(*const f32),
    Bytes(*const u8, *const f32),
    Product { rows: *const u8, k: usize, row_scales: *const f32, wp: *const i8, col_scales: *const f32 },
}

impl Store {
    /// The store of the tile whose first output is row `r`, column `col` of `dst` (`n` wide).
    ///
    /// # Safety
    /// `r` and `col` lie inside `dst` and inside the epilogue's rows and bias.
    unsafe fn at(dst: &mut [f32], n: usize, then: Epilogue, r: usize, col: usize) -> Store {
        // SAFETY: the caller's contract.
        unsafe {
            Store {
                out: dst.as_mut_ptr().add(r * n + col),
                n,
                bias: then.bias.as_ptr().add(col),
                residual: then.residual.map(|res| match res {
                    Shortcut::Rows(Rows::F32(v)) => Residual::F32(v.as_ptr().add(r * n + col)),
                    Shortcut::Rows(Rows::Bytes(b)) => {
                        Residual::Bytes(b.bytes.as_ptr().add(r * n + col), b.scales.as_ptr().add(r))
                    }
                    Shortcut::Product { lhs, w } => Residual::Product {
                        rows: lhs.bytes.as_ptr().add(r * w.k),
                        k: w.k,
                        row_scales: lhs.scales.as_ptr().add(r),
                        wp: w.data.as_ptr().add(col / PANEL * (w.k / 4) * PANEL * 4),
                        col_scales: w.scales.as_ptr().add(col),
                    },
                }),
                relu: then.relu,
                peaks: None,
                fresh: false,
            }
        }
    }

    /// This store with the running peaks of rows kept in 8 bits, `peaks` holding the first row's
    /// of the product, `r` the tile's first row and `col` its first column: the first panel's
    /// tiles start the peaks, so they need no zeroing beforehand.
    ///
    /// # Safety
    /// `peaks`, when given, holds [`LANES`] floats for each of the tile's rows from row `r`.
    unsafe fn keeping_peaks(self, peaks: Option<*mut f32>, r: usize, col: usize) -> Store {
        // SAFETY: the caller's contract.
        Store { peaks: peaks.map(|p| unsafe { p.add(r * LANES) }), fresh: col == 0, ..self }
    }

    /// Stores row `r`'s four registers of outputs `v` (64 columns). Without running peaks, at
    /// least `floor` (0 for ReLU, −∞ for none). With them, as they are, and their largest is
    /// folded into the row's peak: the rows' quantiser clamps negatives to 0 (ReLU) and needs
    /// no pass of its own to find each row's largest.
    ///
    /// # Safety
    /// The CPU has AVX-512 F; row `r` of the tile lies inside the store's output and peaks.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn row(&self, r: usize, v: [__m512; 4], floor: __m512) {
        // SAFETY: the caller's contract.
        unsafe {
            let out = self.out.add(r * self.n);
            match self.peaks {
                Some(peaks) => {
                    let most = _mm512_max_ps(_mm512_max_ps(v[0], v[1]), _mm512_max_ps(v[2], v[3]));
                    let peak = peaks.add(r * LANES);
                    let before = if self.fresh { _mm512_setzero_ps() } else { _mm512_loadu_ps(peak) };
                    _mm512_storeu_ps(peak, _mm512_max_ps(most, before));
                    for (j, v) in v.into_iter().enumerate() {
                        _mm512_storeu_ps(out.add(j * 16), v);
                    }
                }
                None => {
                    for (j, v) in v.into_iter().enumerate() {
                        _mm512_storeu_ps(out.add(j * 16), _mm512_max_ps(v, floor));
                    }
                }
            }
        }
    }
}

/// `dst = relu?(lhs · w + bias + residual?)` (see [`Epilogue`]) for `m` non-negative rows `lhs`
/// (`m × k`, row-major; bytes must come from `w`'s kernel's [`Kernel::quantise_rows`]) and
/// row-major `dst` (`m × n`), on the calling thread, with the kernel `w` was packed for (the CPU
/// must run it). Both kernels apply the epilogue in their last store, while the sums are in
/// registers.
pub fn matmul_into(dst: &mut [f32], lhs: Rows, w: &PackedWeights, then: Epilogue, scratch: &mut Scratch) {
    product_into(dst, lhs, w, then, None, scratch)
}

/// [`matmul_into`], keeping each row's running peak in `peaks` ([`LANES`] floats a row, VNNI
/// only; see [`Store::row`]) when given.
fn product_into(
    dst: &mut [f32],
    lhs: Rows,
    w: &PackedWeights,
    then: Epilogue,
    peaks: Option<&mut [f32]>,
    scratch: &mut Scratch,
) {
    let (k, n) = (w.k, w.n);
    let m = lhs.len() / k;
    assert!(lhs.len() == m * k && dst.len() == m * n, "matrix shapes disagree");
    let rows_of = |rows: &Rows, width: usize| match rows {
        Rows::F32(v) => v.len() == m * width,
        Rows::Bytes(b) => b.bytes.len() == m * width && b.scales.len() == m,
    };
    assert!(rows_of(&lhs, k), "the left-hand rows' scales disagree");
    let residual_fits = then.residual.is_none_or(|r| r.fits(m, n, w.kernel));
    assert!(then.bias.len() == n && residual_fits, "epilogue shapes disagree");
    assert!(w.kernel.runs(), "the 8-bit product's {:?} kernel needs {}", w.kernel, w.kernel.features().join(", "));
    let peaks_fit = peaks.as_ref().is_none_or(|p| w.kernel == Kernel::Vnni && p.len() == m * LANES);
    assert!(peaks_fit, "running peaks are kept on the VNNI kernel, a register a row");
    let (bytes, scales) = match lhs {
        Rows::Bytes(b) => (b.bytes, b.scales),
        Rows::F32(v) => {
            let (rows, scales) = (super::reuse(&mut scratch.rows, m * k), super::reuse(&mut scratch.scales, m));
            w.kernel.quantise_rows(v, k, rows, scales);
            (&*rows, &*scales)
        }
    };
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has the kernel's features (asserted above); every pointer the kernels form
    // lies inside `bytes` (m×k), `scales` (m), `w.data` (k×n), `dst` (m×n), the peaks (m
    // registers) or the epilogue's `bias` (n) and `residual` (m×n, and m scales), whose sizes are
    // checked above.
    unsafe {
        match w.kernel {
            Kernel::Vnni => product(dst, bytes, scales, w, m, then, peaks.map(|p| p.as_mut_ptr())),
            Kernel::Avx2 => avx2::product(dst, bytes, scales, w, m, then),
        }
    }
}

/// [`matmul_into`] with the results kept in 8 bits, as [`Kernel::quantise_rows`] writes them
/// (`dst` bytes, a scale per row in `dst_scales`): a group of rows at a time across all columns
/// into a buffer of about 16 KiB, quantised from there while it is in the first-level cache.
///
/// Why: a block's f32 outputs had been written whole (hundreds of KiB, in the second-level cache)
/// and read back to be quantised. On its own the change measured within the Zen 4 machine's noise
/// in ResNet-50; the 1×1 convolutions on 64 and 128 channels still run at about half the wide
/// ones' rate, since the epilogue and the quantiser weigh most where the sums are shortest.
pub fn matmul_into_bytes(
    dst: &mut [u8],
    dst_scales: &mut [f32],
    lhs: Rows,
    w: &PackedWeights,
    then: Epilogue,
    scratch: &mut Scratch,
) {
    let (k, n) = (w.k, w.n);
    let m = dst_scales.len();
    assert!(dst.len() == m * n && lhs.len() == m * k, "matrix shapes disagree");
    assert!(then.residual.is_none_or(|r| r.fits(m, n, w.kernel)), "epilogue shapes disagree");
    in_groups((dst, dst_scales), w, then, scratch, |first, count, buffer, peaks, scratch| {
        let then = Epilogue { residual: then.residual.map(|r| r.part(first, count, n)), ..then };
        product_into(buffer, lhs.part(first, count, k), w, then, peaks, scratch);
    });
}

/// Rows of `w.n` outputs kept in 8 bits a group at a time (`then` must take ReLU: they are
/// non-negative): `rows(first, count, buffer, peaks, scratch)` writes rows `first…first + count`
/// in f32 into `buffer` and, on the VNNI kernel, folds each row's values into its running peak
/// in `peaks` ([`LANES`] floats a row, started by the first panel's tiles); then they are
/// quantised from there.
fn in_groups(
    (dst, dst_scales): (&mut [u8], &mut [f32]),
    w: &PackedWeights,
    then: Epilogue,
    scratch: &mut Scratch,
    mut rows: impl FnMut(usize, usize, &mut [f32], Option<&mut [f32]>, &mut Scratch),
) {
    assert!(then.relu, "rows kept in 8 bits are post-ReLU activations");
    let (n, m) = (w.n, dst_scales.len());
    let group = ROWS * (4096 / (ROWS * n)).max(1);
    let (mut out, mut peaks) = (std::mem::take(&mut scratch.out), std::mem::take(&mut scratch.peaks));
    for first in (0..m).step_by(group) {
        let count = group.min(m - first);
        let buffer = super::reuse(&mut out, count * n);
        let (bytes, scales) = (&mut dst[first * n..(first + count) * n], &mut dst_scales[first..first + count]);
        #[cfg(target_arch = "x86_64")]
        if w.kernel == Kernel::Vnni {
            let peaks = super::reuse(&mut peaks, count * LANES);
            rows(first, count, buffer, Some(&mut *peaks), scratch);
            // SAFETY: the CPU runs VNNI (the product asserted it); `rows` kept a peak per row.
            unsafe { rows_to_bytes(buffer, n, bytes, scales, Some(peaks)) };
            continue;
        }
        rows(first, count, buffer, None, scratch);
        w.kernel.quantise_rows(buffer, n, bytes, scales);
    }
    (scratch.out, scratch.peaks) = (out, peaks);
}

/// [`Kernel::quantise_rows`] for the VNNI kernel, row after row with the quantiser inlined: the
/// same bytes and scales as [`Kernel::quantise_parts`] gives each row, without its calls through
/// function pointers and its parts (the rows kept in 8 bits after every product go through here).
/// With `peaks` ([`LANES`] running maxima a row, from 0) each row's largest is read from there,
/// and negative values become 0, as ReLU would have made them.
///
/// # Safety
/// The CPU has AVX-512 F and BW; `bytes` is as long as `lhs`, `scales` has a value per row of `k`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn rows_to_bytes(lhs: &[f32], k: usize, bytes: &mut [u8], scales: &mut [f32], peaks: Option<&[f32]>) {
    // SAFETY: the caller's contract; each row and its bytes are `k` long.
    unsafe {
        for (r, ((row, out), scale)) in lhs.chunks_exact(k).zip(bytes.chunks_exact_mut(k)).zip(scales).enumerate() {
            let peak = match peaks {
                Some(peaks) => _mm512_reduce_max_ps(_mm512_loadu_ps(peaks[r * LANES..(r + 1) * LANES].as_ptr())),
                None => peak(row),
            };
            to_bytes(row, if peak > 0.0 { 255.0 / peak } else { 0.0 }, out);
            *scale = peak / 255.0;
        }
    }
}

/// The largest of `values` (non-negative; 0 for none).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn peak(values: &[f32]) -> f32 {
    // SAFETY: every load lies inside `values`, 16 at a time while 16 remain.
    unsafe {
        // Four running maxima: one chained `vmaxps` per 16 values waited on the last.
        let mut most = [_mm512_setzero_ps(); 4];
        let mut quads = values.chunks_exact(64);
        for c in &mut quads {
            for (j, m) in most.iter_mut().enumerate() {
                *m = _mm512_max_ps(*m, _mm512_loadu_ps(c.as_ptr().add(16 * j)));
            }
        }
        let mut chunks = quads.remainder().chunks_exact(16);
        for c in &mut chunks {
            most[0] = _mm512_max_ps(most[0], _mm512_loadu_ps(c.as_ptr()));
        }
        let most = _mm512_max_ps(_mm512_max_ps(most[0], most[1]), _mm512_max_ps(most[2], most[3]));
        debug_assert!(values.iter().all(|&v| v >= 0.0), "8-bit rows are post-ReLU activations");
        chunks.remainder().iter().fold(_mm512_reduce_max_ps(most), |a, &b| a.max(b))
    }
}

/// `values · inv` rounded to bytes (saturating at 255) into `dst`, as long as `values`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn to_bytes(values: &[f32], inv: f32, dst: &mut [u8]) {
    // SAFETY: every load and store lies inside `values` and `dst` (as long), 64 or 16 at a
    // time while as many remain.
    unsafe {
        let k = values.len();
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        let vinv = _mm512_set1_ps(inv);
        let quad = |at: usize| _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(values.as_ptr().add(at)), vinv));
        let mut i = 0;
        // 64 values at a time packed with saturation (`packs` then `packus`, which keep each
        // 128-bit lane's values together; the permutation puts the 16 groups of four back in
        // order): one narrowing `vpmovusdb` per 16 values had cost more.
        while i + 64 <= k {
            let ab = _mm512_packs_epi32(quad(i), quad(i + 16));
            let cd = _mm512_packs_epi32(quad(i + 32), quad(i + 48));
            let bytes = _mm512_permutexvar_epi32(order, _mm512_packus_epi16(ab, cd));
            _mm512_storeu_si512(dst.as_mut_ptr().add(i) as *mut __m512i, bytes);
            i += 64;
        }
        while i + 16 <= k {
            _mm_storeu_si128(
                dst.as_mut_ptr().add(i) as *mut __m128i,
                _mm512_cvtusepi32_epi8(_mm512_max_epi32(quad(i), _mm512_setzero_si512())),
            );
            i += 16;
        }
        for j in i..k {
            dst[j] = (values[j] * inv).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// `dst = relu?(dequantised(rows · w) + bias + residual?)`: for each panel of 64 columns, every
/// group of six rows; with `peaks`, each row's running peak kept there (see [`Store::row`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn product(
    dst: &mut [f32],
    rows: &[u8],
    scales: &[f32],
    w: &PackedWeights,
    m: usize,
    then: Epilogue,
    peaks: Option<*mut f32>,
) {
    // SAFETY: the caller's contract (see `matmul_into`).
    unsafe {
        let (k, n) = (w.k, w.n);
        for panel in 0..n / PANEL {
            let wp = w.data.as_ptr().add(panel * (k / 4) * PANEL * 4);
            let col = panel * PANEL;
            let mut r = 0;
            while r < m {
                let a = rows.as_ptr().add(r * k);
                let (s, cs) = (&scales[r..], &w.scales[col..]);
                let out = Store::at(dst, n, then, r, col).keeping_peaks(peaks, r, col);
                match m - r {
                    1 => tile::<1>(a, wp, k, s, cs, out),
                    2 => tile::<2>(a, wp, k, s, cs, out),
                    3 => tile::<3>(a, wp, k, s, cs, out),
                    4 => tile::<4>(a, wp, k, s, cs, out),
                    5 => tile::<5>(a, wp, k, s, cs, out),
                    _ => tile::<ROWS>(a, wp, k, s, cs, out),
                }
                r += ROWS;
            }
        }
    }
}

/// The integer sums of `R` rows of bytes (`rows[r]`, `4·steps` each) against a panel's
/// `steps` steps of four depths from `wp`: four registers of 16 columns per row.
///
/// # Safety
/// The CPU has AVX-512 F, BW and VNNI; each row holds `4·steps` bytes and `wp` the steps.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn sums<const R: usize>(rows: [*const u8; R], wp: *const i8, steps: usize) -> [[__m512i; 4]; R] {
    // SAFETY: the caller's contract.
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        for k4 in 0..steps {
            let w = wp.add(k4 * PANEL * 4) as *const __m512i;
            let ws = [
                _mm512_loadu_si512(w),
                _mm512_loadu_si512(w.add(1)),
                _mm512_loadu_si512(w.add(2)),
                _mm512_loadu_si512(w.add(3)),
            ];
            for (row, acc) in rows.iter().zip(acc.iter_mut()) {
                let quad = _mm512_set1_epi32((row.add(k4 * 4) as *const i32).read_unaligned());
                for (acc, w) in acc.iter_mut().zip(ws) {
                    *acc = _mm512_dpbusd_epi32(*acc, quad, w);
                }
            }
        }
        acc
    }
}

/// Calls `$each(r, $acc[r])` for the rows `r` of a tile of `$R` (at most [`ROWS`]), written out
/// one call per row so the sums are never indexed at run time and stay in their registers.
macro_rules! each_row {
    ($R:ident, $acc:expr, $each:expr) => {{
        let acc = $acc;
        let each = $each;
        if $R > 0 {
            each(0, acc[0]);
        }
        if $R > 1 {
            each(1, acc[1]);
        }
        if $R > 2 {
            each(2, acc[2]);
        }
        if $R > 3 {
            each(3, acc[3]);
        }
        if $R > 4 {
            each(4, acc[4]);
        }
        if $R > 5 {
            each(5, acc[5]);
        }
    }};
}

/// `R` rows × 64 columns: the sums over all of `k`, then
/// `out = relu?(sum · row_scale · col_scale + bias + residual?)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn tile<const R: usize>(
    a: *const u8,
    wp: *const i8,
    k: usize,
    row_scales: &[f32],
    col_scales: &[f32],
    store: Store,
) {
    const { assert!(R <= ROWS) };
    // SAFETY: the caller's contract (see `matmul_into`).
    unsafe {
        if let Some(Residual::Bytes(res, _)) = store.residual {
            // The residual's line of each row asked for now, to arrive while the sums are taken.
            for r in 0..R {
                _mm_prefetch::<_MM_HINT_T0>(res.add(r * store.n) as *const i8);
            }
        }
        let acc = sums::<R>(std::array::from_fn(|r| a.add(r * k)), wp, k / 4);
        // ReLU as a maximum with 0, or with −∞ (nothing), so no branch is taken per output.
        let floor = _mm512_set1_ps(if store.relu { 0.0 } else { f32::NEG_INFINITY });
        // The epilogue written once per residual kind, a row's four registers at a time straight
        // from the sums' registers: copied out to the stack and indexed from there, they had
        // been stored and loaded back once more per tile (6 % of a 1×1 convolution on 64
        // channels).
        macro_rules! each_output {
            ($acc:expr, ($row_scale:expr, $cols:expr), |$r:ident, $j:ident, $v:ident| $residual:expr) => {
                each_row!(R, $acc, |$r: usize, row: [__m512i; 4]| {
                    let rs = _mm512_set1_ps($row_scale);
                    let v = std::array::from_fn(|$j| {
                        let scale = _mm512_mul_ps(rs, _mm512_loadu_ps($cols.add($j * 16)));
                        let bias = _mm512_loadu_ps(store.bias.add($j * 16));
                        let $v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(row[$j]), scale, bias);
                        $residual
                    });
                    store.row($r, v, floor);
                })
            };
        }
        match store.residual {
            None => each_output!(acc, (row_scales[r], col_scales.as_ptr()), |r, j, v| v),
            Some(Residual::F32(res)) => {
                each_output!(acc, (row_scales[r], col_scales.as_ptr()), |r, j, v| _mm512_add_ps(
                    v,
                    _mm512_loadu_ps(res.add(r * store.n + j * 16))
                ))
            }
            Some(Residual::Bytes(res, scales)) => each_output!(acc, (row_scales[r], col_scales.as_ptr()), |r, j, v| {
                let bytes = _mm_loadu_si128(res.add(r * store.n + j * 16) as *const __m128i);
                let values = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
                _mm512_fmadd_ps(values, _mm512_set1_ps(*scales.add(r)), v)
            }),
            Some(Residual::Product { rows, k, row_scales: second_scales, wp, col_scales: second_cols }) => {
                // The second product needs the registers the first's sums hold: those go to the
                // stack first, and come back one at a time after.
                let mut first = [[std::mem::MaybeUninit::<__m512i>::uninit(); 4]; R];
                for (first, acc) in first.iter_mut().zip(acc) {
                    for (sum, acc) in first.iter_mut().zip(acc) {
                        sum.write(acc);
                    }
                }
                let second = self::sums::<R>(std::array::from_fn(|r| rows.add(r * k)), wp, k / 4);
                each_output!(second, (*second_scales.add(r), second_cols), |r, j, v| {
                    // Here `v` is the second product's term and bias; the first's is added.
                    let cols = _mm512_loadu_ps(col_scales.as_ptr().add(j * 16));
                    let scale = _mm512_mul_ps(_mm512_set1_ps(row_scales[r]), cols);
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(first[r][j].assume_init()), scale, v)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kernel's 8-bit product against the f32 one on random non-negative rows: within the
    /// quantisation's error bound, for every row count the kernels split into, on rows of 156:
    /// past the quantisers' 64 (VNNI) and 32 (AVX2) values at a time, with remainders of 16 and
    /// 12, and of eight and four; rows quantised in parts, and outputs kept in 8 bits in groups
    /// of 30 rows (37 rows: a group and a part of one), as the f32 outputs quantised whole.
    #[test]
    fn eight_bit_product_matches_f32_within_quantisation() {
        for kernel in [Kernel::Vnni, Kernel::Avx2] {
            if crate::kernels::exercise(&format!("8-bit product (ml::int8, {kernel:?})"), kernel.features()) {
                eight_bit_product_matches_f32(kernel);
            }
        }
    }

    /// A second product as the residual (a downsampling convolution's, on rows 100 wide): the
    /// same results as its f32 outputs computed alone and added as a residual, within f32
    /// rounding, for every tile height; kept in 8 bits, those results' bytes.
    #[test]
    fn second_product_matches_its_outputs_added() {
        if !crate::kernels::exercise("8-bit product with a second (ml::int8)", Kernel::Vnni.features()) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(21);
        let (k, k2, n) = (64, 100, 128);
        let random = |rng: &mut crate::rng::SplitMix64, len: usize| -> Vec<f32> {
            (0..len).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect()
        };
        let first = PackedWeights::new(&random(&mut rng, k * n), k, n, Kernel::Vnni);
        let second = PackedWeights::new(&random(&mut rng, k2 * n), k2, n, Kernel::Vnni);
        let bias = random(&mut rng, n);
        let zero = vec![0f32; n];
        for m in [1, 2, 3, 4, 5, 6, 7, 13, 37] {
            let quantised = |rng: &mut crate::rng::SplitMix64, width: usize| {
                let values: Vec<f32> = (0..m * width).map(|_| (rng.unit() as f32 - 0.3).max(0.0) * 4.0).collect();
                let (mut bytes, mut scales) = (vec![0u8; m * width], vec![0f32; m]);
                Kernel::Vnni.quantise_rows(&values, width, &mut bytes, &mut scales);
                (bytes, scales)
            };
            let (a, a_scales) = quantised(&mut rng, k);
            let (b, b_scales) = quantised(&mut rng, k2);
            let (a, b) = (Bytes { bytes: &a, scales: &a_scales }, Bytes { bytes: &b, scales: &b_scales });
            let mut alone = vec![f32::NAN; m * n];
            let then = Epilogue { bias: &zero, residual: None, relu: false };
            matmul_into(&mut alone, Rows::Bytes(b), &second, then, &mut Scratch::default());
            let mut want = vec![f32::NAN; m * n];
            let then = Epilogue { bias: &bias, residual: Some(Shortcut::Rows(Rows::F32(&alone))), relu: true };
            matmul_into(&mut want, Rows::Bytes(a), &first, then, &mut Scratch::default());
            let mut got = vec![f32::NAN; m * n];
            let then = Epilogue { bias: &bias, residual: Some(Shortcut::Product { lhs: b, w: &second }), relu: true };
            matmul_into(&mut got, Rows::Bytes(a), &first, then, &mut Scratch::default());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "m {m}, output {i}: {g} against {w}");
            }
            let (mut bytes, mut scales) = (vec![7u8; m * n], vec![f32::NAN; m]);
            matmul_into_bytes(&mut bytes, &mut scales, Rows::Bytes(a), &first, then, &mut Scratch::default());
            let (mut want_bytes, mut want_scales) = (vec![0u8; m * n], vec![0f32; m]);
            Kernel::Vnni.quantise_rows(&got, n, &mut want_bytes, &mut want_scales);
            assert!(bytes == want_bytes && scales == want_scales, "m {m}: kept in 8 bits");
        }
    }

    /// ReLU of each value.
    fn relu_from(v: &[f32]) -> Vec<f32> {
        v.iter().map(|x| x.max(0.0)).collect()
    }

    fn eight_bit_product_matches_f32(kernel: Kernel) {
        let mut rng = crate::rng::SplitMix64(8);
        let (k, n) = (156, 128);
        let weight: Vec<f32> = (0..k * n).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
        let packed = PackedWeights::new(&weight, k, n, kernel);
        let steps = 2.0 * kernel.levels();
        for m in [1, 2, 3, 4, 5, 6, 7, 13, 37] {
            let lhs: Vec<f32> = (0..m * k).map(|_| (rng.unit() as f32 - 0.3).max(0.0) * 4.0).collect();
            // A bias of 1 and a residual of r + c, no ReLU: the sums come back whole.
            let bias = vec![1.0f32; n];
            let residual: Vec<f32> = (0..m * n).map(|i| (i / n + i % n) as f32).collect();
            let mut got = vec![f32::NAN; m * n];
            let then = Epilogue { bias: &bias, residual: Some(Shortcut::Rows(Rows::F32(&residual))), relu: false };
            matmul_into(&mut got, Rows::F32(&lhs), &packed, then, &mut Scratch::default());
            let mut relu = vec![f32::NAN; m * n];
            let then = Epilogue { bias: &bias, residual: None, relu: true };
            matmul_into(&mut relu, Rows::F32(&lhs), &packed, then, &mut Scratch::default());
            // The same rows quantised beforehand, and a residual in bytes: the same sums, and
            // the residual within half a step of its row's scale.
            let (mut bytes, mut scales) = (vec![0u8; m * k], vec![0f32; m]);
            kernel.quantise_rows(&lhs, k, &mut bytes, &mut scales);
            // Every byte within the kernel's range and half a step of its value.
            for (i, (&q, &x)) in bytes.iter().zip(&lhs).enumerate() {
                let s = scales[i / k];
                let fits = f32::from(q) <= kernel.levels() && (f32::from(q) * s - x).abs() <= s * 0.5 * 1.001;
                assert!(fits, "{kernel:?}, m {m}: value {i} ({x}) quantised to {q} at scale {s}");
            }
            // Each row in parts (zeros, its first half, zeros, the rest): the same bytes and scale.
            for (r, row) in lhs.chunks_exact(k).enumerate() {
                let parts = [Part::Zeros(3), Part::Values(&row[..k / 2]), Part::Zeros(0), Part::Values(&row[k / 2..])];
                let mut got = vec![9u8; k + 3];
                let scale = kernel.quantise_parts(&parts, &mut got);
                assert!(got[..3] == [0; 3] && got[3..] == bytes[r * k..(r + 1) * k], "{kernel:?}: row {r} in parts");
                assert_eq!(scale, scales[r], "{kernel:?}: row {r}'s scale in parts");
            }
            let (mut res_bytes, mut res_scales) = (vec![0u8; m * n], vec![0f32; m]);
            kernel.quantise_rows(&residual, n, &mut res_bytes, &mut res_scales);
            let mut from_bytes = vec![f32::NAN; m * n];
            let residual8 = Bytes { bytes: &res_bytes, scales: &res_scales };
            let then = Epilogue { bias: &bias, residual: Some(Shortcut::Rows(Rows::Bytes(residual8))), relu: false };
            let lhs8 = Rows::Bytes(Bytes { bytes: &bytes, scales: &scales });
            matmul_into(&mut from_bytes, lhs8, &packed, then, &mut Scratch::default());
            // Kept in 8 bits, a group of rows at a time: the bytes and scales of the f32 rows'.
            let (mut want, mut want_scales) = (vec![0u8; m * n], vec![0f32; m]);
            kernel.quantise_rows(&relu_from(&from_bytes), n, &mut want, &mut want_scales);
            let (mut kept, mut kept_scales) = (vec![7u8; m * n], vec![f32::NAN; m]);
            let then = Epilogue { relu: true, ..then };
            matmul_into_bytes(&mut kept, &mut kept_scales, lhs8, &packed, then, &mut Scratch::default());
            assert!(kept == want && kept_scales == want_scales, "{kernel:?}, m {m}: outputs kept in 8 bits");
            for (i, (a, b)) in from_bytes.iter().zip(&got).enumerate() {
                let half_step = res_scales[i / n] * 0.5 * 1.001 + 1e-4 * b.abs();
                assert!((a - b).abs() <= half_step, "{kernel:?}, m {m}: {a} from bytes against {b} ({half_step})");
            }
            let (mut err2, mut ref2) = (0f64, 0f64);
            for r in 0..m {
                let row = &lhs[r * k..(r + 1) * k];
                let peak = row.iter().fold(0.0f32, |a, &b| a.max(b));
                for c in 0..n {
                    let dot: f32 = (0..k).map(|i| row[i] * weight[i * n + c]).sum();
                    let col_peak = (0..k).map(|i| weight[i * n + c].abs()).fold(0.0f32, f32::max);
                    // Each term's error is at most half a step of either factor.
                    let bound = k as f32 * (peak / steps * col_peak + col_peak / 254.0 * peak) * 1.001;
                    let e = got[r * n + c] - (1.0 + (r + c) as f32 + dot);
                    assert!(
                        e.abs() <= bound,
                        "{kernel:?}, m {m} row {r} col {c}: {} against {} (bound {bound})",
                        got[r * n + c],
                        1.0 + (r + c) as f32 + dot
                    );
                    let want = (1.0 + dot).max(0.0);
                    let relu = relu[r * n + c];
                    assert!(relu >= 0.0 && (relu - want).abs() <= bound, "{kernel:?} with ReLU: {relu} against {want}");
                    err2 += (e as f64).powi(2);
                    ref2 += (dot as f64).powi(2);
                }
            }
            // Rounding errors mostly cancel: far below the worst case overall.
            let relative = (err2 / ref2).sqrt();
            assert!(relative < 0.01, "{kernel:?}, m {m}: relative error {relative}");
        }
    }
}
