//! f32 products against a right-hand side packed once (a layer's weights at load, an attention
//! head's keys and values per window) for an AVX2 + FMA kernel: ResNet-50's convolutions and
//! Winograd products, Whisper's f32 linear layers and encoder attention, on CPUs with AVX2.
//!
//! Why: on a 2-core AMD EPYC with AVX2 only (Zen 3, 2026-12-06), `gemm`'s kernels ran ResNet-50's
//! product shapes at 27–42 GFLOPS a core, a third to a half of the core's 93 (measured with
//! independent FMAs), because every call re-reads the weights in their row-major order. Packed
//! once in panels of 24 columns (`[k][24]`, contiguous), the 4×24 tile below keeps 12 sums in
//! registers, reads a panel sequentially, and runs the same shapes at 79–96 GFLOPS alone, 67–80
//! with both cores busy. The depth is
//! cut in slices of 256 so a panel's slice (24 KiB) stays in the first-level cache while every
//! row of the block passes over it.
//!
//! On AVX-512 CPUs it runs too: on a Zen 4 EPYC (AVX-512 executed on 256-bit units), where the
//! small Winograd products had gone through `gemm`'s AVX-512 kernels, ResNet-50 in f32 went from
//! 7.8–8.4 to 19.5–20.2 images/s. On other architectures the matrix is kept row-major and the
//! products go through `gemm`.

use super::linalg::{matmul, matmul_serial_onto, Strided};
use rayon::prelude::*;
use std::borrow::Cow;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Columns per panel: three 8-lane registers.
const WIDTH: usize = 24;
/// Rows per tile: 4 rows × 3 registers = 12 sums, 3 panel registers and a broadcast of 16.
const ROWS: usize = 4;
/// Depth per slice: a panel's slice is `DEPTH × WIDTH` floats (24 KiB).
const DEPTH: usize = 256;

/// Whether the packed kernel runs on this CPU, and is preferred to `gemm`'s there: AVX2 and FMA,
/// AVX-512 CPUs included (on a Zen 4 EPYC, 2026-12-07, `gemm`'s AVX-512 kernels ran ResNet-50
/// in f32 at 7.8–8.4 images/s, this kernel at 19.5–20.2).
pub fn preferred() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A `[k, n]` matrix, packed in panels of [`WIDTH`] columns (the last one narrower, stored with
/// zero columns up to a multiple of 8) where the kernel runs, row-major elsewhere.
pub struct PackedMatrix {
    data: Vec<f32>,
    k: usize,
    n: usize,
    packed: bool,
}

impl PackedMatrix {
    /// From a row-major `k × n` matrix; packed when [`preferred`].
    pub fn new(row_major: Vec<f32>, k: usize, n: usize) -> PackedMatrix {
        Self::with_kernel(row_major, k, n, preferred())
    }

    /// As [`new`](Self::new), packing only where `kernel` is true (tests pack on demand).
    fn with_kernel(row_major: Vec<f32>, k: usize, n: usize, kernel: bool) -> PackedMatrix {
        assert_eq!(row_major.len(), k * n, "a k × n matrix");
        if !kernel || k == 0 || n == 0 {
            return PackedMatrix { data: row_major, k, n, packed: false };
        }
        // The last panel is padded with zero columns to a multiple of 8.
        let mut data = vec![0f32; k * n.next_multiple_of(8)];
        for col in (0..n).step_by(WIDTH) {
            let (w, stored) = panel_width(n, col);
            let panel = &mut data[col * k..(col + stored) * k];
            for (r, dst) in panel.chunks_exact_mut(stored).enumerate() {
                dst[..w].copy_from_slice(&row_major[r * n + col..r * n + col + w]);
            }
        }
        PackedMatrix { data, k, n, packed: true }
    }

    /// Rows (the depth of a product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// The matrix row-major (unpacked into a copy where it is packed).
    pub fn row_major(&self) -> Cow<'_, [f32]> {
        if !self.packed {
            return Cow::Borrowed(&self.data);
        }
        let (k, n) = (self.k, self.n);
        let mut out = vec![0f32; k * n];
        for col in (0..n).step_by(WIDTH) {
            let (w, stored) = panel_width(n, col);
            for (r, src) in self.data[col * k..(col + stored) * k].chunks_exact(stored).enumerate() {
                out[r * n + col..r * n + col + w].copy_from_slice(&src[..w]);
            }
        }
        Cow::Owned(out)
    }

    /// `dst = then(lhs · self)` for row-major `lhs` (`m × k`) and `dst` (`m × n`), on the
    /// calling thread: for callers that already split their work over the pool.
    pub fn product(&self, dst: &mut [f32], lhs: &[f32], then: Then) {
        let m = self.rows_of(dst, lhs);
        if !self.packed {
            if !then.accumulate {
                dst.fill(0.0);
            }
            matmul_serial_onto(dst, Strided::row_major(lhs, m, self.k), self.plain());
            return then.finish(dst);
        }
        // SAFETY: `dst` is m×n (checked) and borrowed mutably.
        unsafe { self.panels_onto(dst.as_mut_ptr(), lhs, m, 0..self.panels(), then) };
    }

    /// [`product`](Self::product) on every core of the pool: the panels are shared out, so each
    /// core reads its share of the matrix once (for products with too few rows to split by rows).
    pub fn product_all_cores(&self, dst: &mut [f32], lhs: &[f32], then: Then) {
        let m = self.rows_of(dst, lhs);
        if !self.packed {
            matmul(dst, Strided::row_major(lhs, m, self.k), self.plain(), then.accumulate);
            return dst.par_chunks_mut(self.n.max(1) * 256).for_each(|rows| then.finish(rows));
        }
        let panels = self.panels();
        let per_task = panels.div_ceil(rayon::current_num_threads()).max(1);
        let out = SharedOut(dst.as_mut_ptr());
        (0..panels.div_ceil(per_task)).into_par_iter().for_each(|t| {
            let range = t * per_task..((t + 1) * per_task).min(panels);
            // SAFETY: each task writes only its own panels' columns of `dst` (disjoint column
            // ranges, through the raw pointer: no two tasks hold a reference to it), and `dst`
            // (m×n, checked) outlives the tasks, borrowed mutably for this call.
            unsafe { self.panels_onto(out.get(), lhs, m, range, then) };
        });
    }

    fn plain(&self) -> Strided<'_> {
        Strided::row_major(&self.data, self.k, self.n)
    }

    fn panels(&self) -> usize {
        self.n.div_ceil(WIDTH)
    }

    /// The row count of a product, checking its shapes.
    fn rows_of(&self, dst: &[f32], lhs: &[f32]) -> usize {
        let m = lhs.len().checked_div(self.k).unwrap_or(dst.len() / self.n.max(1));
        assert!(lhs.len() == m * self.k && dst.len() == m * self.n, "matrix shapes disagree");
        m
    }

    /// `dst = then(lhs · self)` over the columns of panels `range` only.
    ///
    /// # Safety
    /// `dst` points to `m × n` floats that nothing else reads or writes in those columns
    /// meanwhile; `lhs` is `m × k` (`rows_of` checked both).
    unsafe fn panels_onto(&self, dst: *mut f32, lhs: &[f32], m: usize, range: std::ops::Range<usize>, then: Then) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `packed` is set only where AVX2 and FMA were detected; the shapes were checked
        // (`rows_of`), and every pointer the kernel forms lies inside `dst`, `lhs` or `data`.
        unsafe {
            panels_onto(dst, lhs.as_ptr(), (m, self.k, self.n), &self.data, range, then)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (dst, lhs, m, range, then);
            unreachable!("matrices are packed on x86_64 only")
        }
    }
}

/// The columns a panel starting at `col` covers, and how many it stores (a multiple of 8).
fn panel_width(n: usize, col: usize) -> (usize, usize) {
    let w = WIDTH.min(n - col);
    (w, w.next_multiple_of(8))
}

/// What a product does with `dst`: add onto its contents or overwrite them, and then apply ReLU
/// or not (in the kernel's last store, while the sums are in registers).
#[derive(Debug, Clone, Copy, Default)]
pub struct Then {
    pub accumulate: bool,
    pub relu: bool,
}

impl Then {
    /// `dst = lhs · b`.
    pub const SET: Then = Then { accumulate: false, relu: false };

    /// ReLU over finished rows (the path without the kernel).
    fn finish(self, rows: &mut [f32]) {
        if self.relu {
            rows.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    }
}

/// `dst`'s pointer handed to the pool's tasks, each writing its own columns.
struct SharedOut(*mut f32);
// SAFETY: the tasks write disjoint columns (see `product_onto_all_cores`).
unsafe impl Sync for SharedOut {}

impl SharedOut {
    fn get(&self) -> *mut f32 {
        self.0
    }
}

/// For each slice of depth, each panel in `range`, each group of four rows: one tile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn panels_onto(
    dst: *mut f32,
    lhs: *const f32,
    (m, k, n): (usize, usize, usize),
    data: &[f32],
    range: std::ops::Range<usize>,
    then: Then,
) {
    // SAFETY: the caller's contract (see `PackedMatrix::panels_onto`): `dst` is m×n, `lhs` m×k.
    unsafe {
        let mut spare = [0f32; ROWS * WIDTH];
        for k0 in (0..k).step_by(DEPTH) {
            let depth = DEPTH.min(k - k0);
            for p in range.clone() {
                let col = p * WIDTH;
                let (w, stored) = panel_width(n, col);
                let panel = data.as_ptr().add(col * k + k0 * stored);
                let mut r = 0;
                while r < m {
                    let rows = (m - r).min(ROWS);
                    let mut t = Tile {
                        a: lhs.add(r * k + k0),
                        lda: k,
                        panel,
                        depth,
                        c: dst.add(r * n + col),
                        ldc: n,
                        load: k0 > 0 || then.accumulate,
                        relu: k0 + depth == k && then.relu,
                    };
                    // A padded panel's tile runs on a copy of its rows: the kernel writes whole
                    // groups of 8 columns.
                    if w < stored {
                        for i in 0..rows {
                            std::ptr::copy_nonoverlapping(t.c.add(i * n), spare.as_mut_ptr().add(i * WIDTH), w);
                        }
                        (t.c, t.ldc) = (spare.as_mut_ptr(), WIDTH);
                    }
                    match (rows, stored / 8) {
                        (4, 3) => tile_4x24(t),
                        (3, 3) => tile::<3, 3>(t),
                        (2, 3) => tile::<2, 3>(t),
                        (1, 3) => tile::<1, 3>(t),
                        (4, 2) => tile_4x16(t),
                        (3, 2) => tile::<3, 2>(t),
                        (2, 2) => tile::<2, 2>(t),
                        (1, 2) => tile::<1, 2>(t),
                        (4, _) => tile::<4, 1>(t),
                        (3, _) => tile::<3, 1>(t),
                        (2, _) => tile::<2, 1>(t),
                        _ => tile::<1, 1>(t),
                    }
                    if w < stored {
                        for i in 0..rows {
                            std::ptr::copy_nonoverlapping(spare.as_ptr().add(i * WIDTH), dst.add((r + i) * n + col), w);
                        }
                    }
                    r += ROWS;
                }
            }
        }
    }
}

/// One tile's operands: row `i` of `a` starts at `a + i·lda`, the panel's rows are contiguous,
/// and row `i` of `c` starts at `c + i·ldc`. `load`: start from `c`'s contents (else from zero);
/// `relu`: store `max(0, ·)`.
#[derive(Clone, Copy)]
struct Tile {
    a: *const f32,
    lda: usize,
    panel: *const f32,
    depth: usize,
    c: *mut f32,
    ldc: usize,
    load: bool,
    relu: bool,
}

impl Tile {
    /// Row `i`'s `j`th group of 8 sums as the tile starts.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn start(&self, i: usize, j: usize) -> __m256 {
        // SAFETY: the caller's contract (see `panels_onto`).
        unsafe {
            if self.load {
                _mm256_loadu_ps(self.c.add(i * self.ldc + j * 8))
            } else {
                _mm256_setzero_ps()
            }
        }
    }

    /// All `R × V` groups of sums as the tile starts.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn starts<const R: usize, const V: usize>(&self) -> [[__m256; V]; R] {
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                // SAFETY: the caller's contract (see `panels_onto`).
                *v = unsafe { self.start(i, j) };
            }
        }
        acc
    }

    /// Stores all `R × V` groups of sums.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn stores<const R: usize, const V: usize>(&self, acc: [[__m256; V]; R]) {
        for (i, row) in acc.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                // SAFETY: the caller's contract (see `panels_onto`).
                unsafe { self.store(i, j, *v) };
            }
        }
    }

    /// Stores row `i`'s `j`th group of 8 sums.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn store(&self, i: usize, j: usize, v: __m256) {
        // SAFETY: the caller's contract (see `panels_onto`).
        unsafe {
            let v = if self.relu { _mm256_max_ps(v, _mm256_setzero_ps()) } else { v };
            _mm256_storeu_ps(self.c.add(i * self.ldc + j * 8), v);
        }
    }
}

/// `R` rows × `V`·8 columns over the tile's depth: `c = start + a · panel`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const V: usize>(t: Tile) {
    // SAFETY: the caller's contract (see `panels_onto`).
    unsafe {
        let Tile { a, lda, panel, depth, .. } = t;
        let mut acc = t.starts::<R, V>();
        for d in 0..depth {
            let mut b = [_mm256_setzero_ps(); V];
            for (j, v) in b.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(panel.add(d * V * 8 + j * 8));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*a.add(i * lda + d));
                for (v, b) in row.iter_mut().zip(b) {
                    *v = _mm256_fmadd_ps(x, b, *v);
                }
            }
        }
        t.stores(acc);
    }
}

/// [`tile`]`::<4, 3>`, the tile nearly all the work goes through, written in assembly: compiled
/// for a generic x86-64, the intrinsics version spilled one of its 12 sums to the stack in the
/// inner loop (16 registers for 12 sums, 3 panel vectors and a broadcast), a store and reload
/// per step that halved its speed (37 against 90 GFLOPS on the same shapes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile_4x24(t: Tile) {
    // SAFETY: the caller's contract (see `panels_onto`): rows `a + i·lda` hold `depth` floats,
    // the panel `depth × 24`, and rows `c + i·ldc` 24 floats, for i < 4.
    unsafe {
        let Tile { a, lda, panel, depth, .. } = t;
        let [[mut s0, mut s1, mut s2], [mut s3, mut s4, mut s5], [mut s6, mut s7, mut s8], [mut s9, mut s10, mut s11]] =
            t.starts::<4, 3>();
        if depth > 0 {
            std::arch::asm!(
                "2:",
                "vmovups ymm12, [{b}]",
                "vmovups ymm13, [{b} + 32]",
                "vmovups ymm14, [{b} + 64]",
                "vbroadcastss ymm15, [{a}]",
                "vfmadd231ps ymm0, ymm15, ymm12",
                "vfmadd231ps ymm1, ymm15, ymm13",
                "vfmadd231ps ymm2, ymm15, ymm14",
                "vbroadcastss ymm15, [{a} + {ld}]",
                "vfmadd231ps ymm3, ymm15, ymm12",
                "vfmadd231ps ymm4, ymm15, ymm13",
                "vfmadd231ps ymm5, ymm15, ymm14",
                "vbroadcastss ymm15, [{a} + {ld} * 2]",
                "vfmadd231ps ymm6, ymm15, ymm12",
                "vfmadd231ps ymm7, ymm15, ymm13",
                "vfmadd231ps ymm8, ymm15, ymm14",
                "vbroadcastss ymm15, [{a3}]",
                "vfmadd231ps ymm9, ymm15, ymm12",
                "vfmadd231ps ymm10, ymm15, ymm13",
                "vfmadd231ps ymm11, ymm15, ymm14",
                "add {b}, 96",
                "add {a}, 4",
                "add {a3}, 4",
                "dec {n}",
                "jnz 2b",
                b = inout(reg) panel => _,
                a = inout(reg) a => _,
                a3 = inout(reg) a.add(3 * lda) => _,
                ld = in(reg) lda * 4,
                n = inout(reg) depth => _,
                inout("ymm0") s0, inout("ymm1") s1, inout("ymm2") s2,
                inout("ymm3") s3, inout("ymm4") s4, inout("ymm5") s5,
                inout("ymm6") s6, inout("ymm7") s7, inout("ymm8") s8,
                inout("ymm9") s9, inout("ymm10") s10, inout("ymm11") s11,
                out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
                options(nostack, readonly),
            );
        }
        t.stores([[s0, s1, s2], [s3, s4, s5], [s6, s7, s8], [s9, s10, s11]]);
    }
}

/// [`tile`]`::<4, 2>` in assembly, for the same reason as [`tile_4x24`]: compiled for a generic
/// x86-64 its loops were left rolled, with the sums kept on the stack.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile_4x16(t: Tile) {
    // SAFETY: the caller's contract (see `panels_onto`): rows `a + i·lda` hold `depth` floats,
    // the panel `depth × 16`, and rows `c + i·ldc` 16 floats, for i < 4.
    unsafe {
        let Tile { a, lda, panel, depth, .. } = t;
        let [[mut s0, mut s1], [mut s2, mut s3], [mut s4, mut s5], [mut s6, mut s7]] = t.starts::<4, 2>();
        if depth > 0 {
            std::arch::asm!(
                "2:",
                "vmovups ymm12, [{b}]",
                "vmovups ymm13, [{b} + 32]",
                "vbroadcastss ymm15, [{a}]",
                "vfmadd231ps ymm0, ymm15, ymm12",
                "vfmadd231ps ymm1, ymm15, ymm13",
                "vbroadcastss ymm14, [{a} + {ld}]",
                "vfmadd231ps ymm2, ymm14, ymm12",
                "vfmadd231ps ymm3, ymm14, ymm13",
                "vbroadcastss ymm15, [{a} + {ld} * 2]",
                "vfmadd231ps ymm4, ymm15, ymm12",
                "vfmadd231ps ymm5, ymm15, ymm13",
                "vbroadcastss ymm14, [{a3}]",
                "vfmadd231ps ymm6, ymm14, ymm12",
                "vfmadd231ps ymm7, ymm14, ymm13",
                "add {b}, 64",
                "add {a}, 4",
                "add {a3}, 4",
                "dec {n}",
                "jnz 2b",
                b = inout(reg) panel => _,
                a = inout(reg) a => _,
                a3 = inout(reg) a.add(3 * lda) => _,
                ld = in(reg) lda * 4,
                n = inout(reg) depth => _,
                inout("ymm0") s0, inout("ymm1") s1, inout("ymm2") s2, inout("ymm3") s3,
                inout("ymm4") s4, inout("ymm5") s5, inout("ymm6") s6, inout("ymm7") s7,
                out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
                options(nostack, readonly),
            );
        }
        t.stores([[s0, s1], [s2, s3], [s4, s5], [s6, s7]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(lhs: &[f32], rhs: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut out = vec![0f64; m * n];
        for r in 0..m {
            for c in 0..n {
                out[r * n + c] = (0..k).map(|i| lhs[r * k + i] as f64 * rhs[i * n + c] as f64).sum();
            }
        }
        out
    }

    /// Every tile shape (rows 1–4 left over, panels 24, 16 and 8 wide, and padded ones), depths
    /// across a slice's edge, serial and shared over the pool, accumulating onto what `dst`
    /// held or overwriting it, with and without ReLU.
    #[test]
    fn packed_products_match_the_definition() {
        if !crate::kernels::exercise("packed f32 product (ml::packed)", &["avx2", "fma"]) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(24);
        for (m, k, n) in [(1, 3, 8), (7, 300, 40), (13, 256, 64), (6, 513, 16), (9, 64, 72), (5, 64, 1500), (3, 9, 5)] {
            let lhs: Vec<f32> = (0..m * k).map(|_| rng.unit() as f32 - 0.5).collect();
            let rhs: Vec<f32> = (0..k * n).map(|_| rng.unit() as f32 - 0.5).collect();
            let want = naive(&lhs, &rhs, m, k, n);
            let packed = PackedMatrix::with_kernel(rhs.clone(), k, n, true);
            assert!(packed.packed, "{m}×{k}×{n} is packed");
            assert_eq!(packed.row_major(), rhs, "unpacking gives the matrix back");
            for (all_cores, accumulate, relu) in
                [(false, true, false), (true, true, true), (false, false, true), (true, false, false)]
            {
                // Accumulating adds onto 0.25 everywhere; else the 9s are overwritten.
                let mut got = vec![if accumulate { 0.25f32 } else { 9.0 }; m * n];
                let then = Then { accumulate, relu };
                if all_cores {
                    packed.product_all_cores(&mut got, &lhs, then);
                } else {
                    packed.product(&mut got, &lhs, then);
                }
                let expect = |w: f64| {
                    let v = w + if accumulate { 0.25 } else { 0.0 };
                    if relu {
                        v.max(0.0)
                    } else {
                        v
                    }
                };
                let worst = got.iter().zip(&want).map(|(g, w)| (*g as f64 - expect(*w)).abs()).fold(0f64, f64::max);
                assert!(worst < 1e-4, "{m}×{k}×{n} ({all_cores}, {accumulate}, {relu}): off by {worst}");
            }
        }
    }

    #[test]
    fn an_unpacked_matrix_still_multiplies_and_applies_relu() {
        let lhs = vec![1f32, 2.0];
        let packed = PackedMatrix::with_kernel(vec![1f32, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3, false);
        assert!(!packed.packed);
        let mut out = vec![-20f32; 3];
        packed.product(&mut out, &lhs, Then { accumulate: true, relu: true });
        assert_eq!(out, vec![0.0, 0.0, 0.0]);
        packed.product(&mut out, &lhs, Then::SET);
        assert_eq!(out, vec![9.0, 12.0, 15.0]);
    }
}
