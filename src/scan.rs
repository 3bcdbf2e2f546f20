//! The scan kernel: dot products of every row of a half-float matrix with a few queries, split
//! across threads, with an AVX2/FMA/F16C loop where the CPU has one. A scan is bound by memory
//! bandwidth, so each row is read once for a whole group of queries.

/// The bit pattern of `x` as an IEEE half float.
pub fn to_half(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// The f32 value of a half float's bit pattern.
pub fn from_half(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// `out[k] = (from_half(row[k]) · scale − mean[k]) / std[k]`: a stored row, decoded and
/// standardised in one pass (8 components at a time where the CPU converts half floats; the
/// same IEEE operations, and so the same results, as the scalar loop).
pub fn standardised_halves(row: &[u16], scale: f32, mean: &[f32], std: &[f32], out: &mut [f32]) {
    assert!(row.len() == out.len() && mean.len() == out.len() && std.len() == out.len(), "one value per component");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("f16c") {
        // SAFETY: the CPU was just checked to support AVX2 and F16C; the lengths agree.
        return unsafe { x86::standardised_halves(row, scale, mean, std, out) };
    }
    standardised_tail(row, scale, mean, std, out);
}

fn standardised_tail(row: &[u16], scale: f32, mean: &[f32], std: &[f32], out: &mut [f32]) {
    for (((o, &h), m), s) in out.iter_mut().zip(row).zip(mean).zip(std) {
        *o = (from_half(h) * scale - m) / s;
    }
}

/// Dot products of every row of `data` (half floats) with every query in `q` (both row-major,
/// `dim` wide): `n_queries` rows of scores. Rows are split across threads; each is read once.
pub fn dot_all(data: &[u16], q: &[f32], dim: usize, n_queries: usize) -> Vec<Vec<f32>> {
    let n = data.len() / dim;
    let (by_row, padded) = dot_prefixes(data, q, dim, dim, n_queries);
    (0..n_queries).map(|j| (0..n).map(|i| by_row[i * padded + j]).collect()).collect()
}

/// [`dot_all`] over the first `cols` components of every row and query only (rows and queries
/// still `dim` wide), a pass that reads a fraction of each row, left as the kernel writes them:
/// a row of `padded` scores per data row (the queries' first, then zeros), with `padded`.
pub fn dot_prefixes(data: &[u16], q: &[f32], dim: usize, cols: usize, n_queries: usize) -> (Vec<f32>, usize) {
    assert!(cols <= dim, "a prefix of the components");
    let n = data.len() / dim;
    let (qp, padded) = padded_queries(q, dim, n_queries);
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(n.max(1));
    let per = n.div_ceil(threads);
    let mut by_row = vec![0f32; n * padded];
    let rows = rows_kernel();
    let qp = &qp;
    std::thread::scope(|scope| {
        for (chunk, out) in data.chunks(per * dim).zip(by_row.chunks_mut(per * padded)) {
            scope.spawn(move || rows(chunk, qp, dim, cols, out));
        }
    });
    (by_row, padded)
}

/// How many queries one pass over a row scores at once (one accumulator each).
pub const QUERY_GROUP: usize = 5;

/// `n_queries` queries (`dim` wide, row-major) padded with zero queries to whole groups of
/// [`QUERY_GROUP`], as the kernel reads them, and how many that makes.
pub fn padded_queries(q: &[f32], dim: usize, n_queries: usize) -> (Vec<f32>, usize) {
    let padded = n_queries.div_ceil(QUERY_GROUP) * QUERY_GROUP;
    let mut qp = q[..n_queries * dim].to_vec();
    qp.resize(padded * dim, 0.0);
    (qp, padded)
}

/// Dot products of every row of `block` (half floats, `dim` wide) with the padded queries `qp`
/// (from [`padded_queries`]), on this thread, into `out`: a row of scores per data row, as many
/// as `qp` holds queries. The same products, bit for bit, as [`dot_all`] gives those rows.
pub fn dot_block(block: &[u16], qp: &[f32], dim: usize, out: &mut [f32]) {
    assert!(qp.len().is_multiple_of(QUERY_GROUP * dim), "queries padded to whole groups");
    assert!(out.len() == block.len() / dim * (qp.len() / dim), "a row of scores per data row");
    rows_kernel()(block, qp, dim, dim, out);
}

/// Scores rows of `chunk` (`dim` wide) against every query in `q` (a multiple of QUERY_GROUP of
/// them, `dim` wide) over their first `cols` components, into `out` (row-major, a row per data
/// row).
type RowsKernel = fn(&[u16], &[f32], usize, usize, &mut [f32]);

/// The fastest scoring loop this CPU runs: AVX2 with FMA and hardware half-float conversion where
/// the CPU has them, else the portable one.
fn rows_kernel() -> RowsKernel {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        return |chunk, q, dim, cols, out| {
            // SAFETY: the CPU was just checked to support AVX2, FMA and F16C.
            unsafe { x86::score_rows(chunk, q, dim, cols, out) }
        };
    }
    score_rows
}

fn score_rows(chunk: &[u16], q: &[f32], dim: usize, cols: usize, out: &mut [f32]) {
    let n_queries = q.len() / dim;
    let mut row_f32 = vec![0f32; cols];
    for (row, out) in chunk.chunks_exact(dim).zip(out.chunks_exact_mut(n_queries)) {
        row_f32.iter_mut().zip(row).for_each(|(r, &h)| *r = from_half(h));
        for (o, query) in out.iter_mut().zip(q.chunks_exact(dim)) {
            *o = row_f32.iter().zip(query).map(|(a, b)| a * b).sum();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{from_half, standardised_tail, QUERY_GROUP};
    use std::arch::x86_64::*;

    /// [`super::standardised_halves`], 8 components at a time (the caller checked the lengths).
    #[target_feature(enable = "avx2,f16c")]
    pub(super) unsafe fn standardised_halves(row: &[u16], scale: f32, mean: &[f32], std: &[f32], out: &mut [f32]) {
        let body = row.len() / 8 * 8;
        let sv = _mm256_set1_ps(scale);
        for k in (0..body).step_by(8) {
            // SAFETY: k + 8 <= body <= the length of all four slices.
            unsafe {
                let x = _mm256_cvtph_ps(_mm_loadu_si128(row.as_ptr().add(k) as *const __m128i));
                let v = _mm256_sub_ps(_mm256_mul_ps(x, sv), _mm256_loadu_ps(mean.as_ptr().add(k)));
                _mm256_storeu_ps(out.as_mut_ptr().add(k), _mm256_div_ps(v, _mm256_loadu_ps(std.as_ptr().add(k))));
            }
        }
        standardised_tail(&row[body..], scale, &mean[body..], &std[body..], &mut out[body..]);
    }

    /// Rows in blocks that stay in the L2 cache while each query group's slice of `K_BLOCK`
    /// components stays in L1: every stored row comes from memory once. Two rows at a time are
    /// converted 8 halves at a time and multiplied into 2 × QUERY_GROUP accumulators, so each
    /// query load feeds two multiply-adds.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn score_rows(chunk: &[u16], q: &[f32], dim: usize, cols: usize, out: &mut [f32]) {
        const ROW_BLOCK: usize = 32;
        const K_BLOCK: usize = 1024;
        let n_queries = q.len() / dim;
        let body = cols / 8 * 8;
        out.fill(0.0);
        for (rows, outs) in chunk.chunks(ROW_BLOCK * dim).zip(out.chunks_mut(ROW_BLOCK * n_queries)) {
            let n_rows = rows.len() / dim;
            for k0 in (0..body).step_by(K_BLOCK) {
                let k1 = (k0 + K_BLOCK).min(body);
                for g in (0..n_queries).step_by(QUERY_GROUP) {
                    let mut i = 0;
                    while i + 2 <= n_rows {
                        // SAFETY: this function runs only where AVX2, FMA and F16C are enabled (its
                        // caller checked), and each row slice holds a whole row from its start.
                        let sums = unsafe {
                            tile::<2>([&rows[i * dim..], &rows[(i + 1) * dim..]], &q[g * dim..], dim, k0, k1)
                        };
                        for (r, s) in sums.iter().enumerate() {
                            let o = &mut outs[(i + r) * n_queries + g..];
                            o.iter_mut().zip(s).for_each(|(o, s)| *o += s);
                        }
                        i += 2;
                    }
                    if i < n_rows {
                        // SAFETY: as above.
                        let [s] = unsafe { tile::<1>([&rows[i * dim..]], &q[g * dim..], dim, k0, k1) };
                        let o = &mut outs[i * n_queries + g..];
                        o.iter_mut().zip(&s).for_each(|(o, s)| *o += s);
                    }
                }
            }
            for (row, o) in rows.chunks_exact(dim).zip(outs.chunks_exact_mut(n_queries)) {
                for (j, o) in o.iter_mut().enumerate() {
                    *o += (body..cols).map(|i| from_half(row[i]) * q[j * dim + i]).sum::<f32>();
                }
            }
        }
    }

    /// Components `k0..k1` of `R` rows against the QUERY_GROUP queries starting at `q`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    #[allow(clippy::needless_range_loop)] // the indices spell out the register tile
    unsafe fn tile<const R: usize>(
        rows: [&[u16]; R],
        q: &[f32],
        dim: usize,
        k0: usize,
        k1: usize,
    ) -> [[f32; QUERY_GROUP]; R] {
        let mut acc = [[_mm256_setzero_ps(); QUERY_GROUP]; R];
        for k in (k0..k1).step_by(8) {
            // SAFETY: k + 8 <= k1 <= dim, each row slice starts at a row, and `q` holds
            // QUERY_GROUP queries of `dim` floats from its start.
            let r: [__m256; R] = std::array::from_fn(|i| {
                // SAFETY: see above; 8 halves from `k` lie inside the row.
                _mm256_cvtph_ps(unsafe { _mm_loadu_si128(rows[i].as_ptr().add(k) as *const __m128i) })
            });
            for j in 0..QUERY_GROUP {
                // SAFETY: see above; 8 floats from `j * dim + k` lie inside query `j`.
                let qv = unsafe { _mm256_loadu_ps(q.as_ptr().add(j * dim + k)) };
                for i in 0..R {
                    acc[i][j] = _mm256_fmadd_ps(r[i], qv, acc[i][j]);
                }
            }
        }
        std::array::from_fn(|i| {
            std::array::from_fn(|j| {
                let mut lanes = [0f32; 8];
                // SAFETY: `lanes` holds the 8 floats stored.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[i][j]) };
                lanes.iter().sum()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable loop and the one this CPU runs agree (rows in tiles and blocks, tails).
    #[test]
    fn the_cpu_kernel_matches_the_portable_one() {
        let mut rng = crate::rng::SplitMix64(5);
        let dim = 1100; // more than one component block, and a tail
        let data: Vec<u16> = (0..37 * dim).map(|_| to_half(rng.unit() as f32 - 0.5)).collect();
        let q: Vec<f32> = (0..2 * QUERY_GROUP * dim).map(|_| rng.unit() as f32 - 0.5).collect();
        let (mut want, mut got) = (vec![0f32; 37 * 2 * QUERY_GROUP], vec![1f32; 37 * 2 * QUERY_GROUP]);
        // The reference is the products summed in f64, so it is no kernel's own loop.
        let reference = |cols: usize, out: &mut [f32]| {
            for (r, row) in data.chunks_exact(dim).enumerate() {
                for (j, query) in q.chunks_exact(dim).enumerate() {
                    let dot: f64 = row[..cols].iter().zip(query).map(|(&h, &x)| from_half(h) as f64 * x as f64).sum();
                    out[r * 2 * QUERY_GROUP + j] = dot as f32;
                }
            }
        };
        for cols in [dim, 517] {
            reference(cols, &mut want);
            score_rows(&data, &q, dim, cols, &mut got);
            for (w, g) in want.iter().zip(&got) {
                assert!((w - g).abs() < 1e-3, "portable loop, {cols} components: {w} vs {g}");
            }
            #[cfg(target_arch = "x86_64")]
            if crate::kernels::exercise("AVX2 half-float scan (scan)", &["avx2", "fma", "f16c"]) {
                got.fill(1.0);
                // SAFETY: the CPU has AVX2, FMA and F16C (just checked).
                unsafe { x86::score_rows(&data, &q, dim, cols, &mut got) };
                for (w, g) in want.iter().zip(&got) {
                    assert!((w - g).abs() < 1e-3, "AVX2 loop, {cols} components: {w} vs {g}");
                }
            }
        }
        // A prefix's products are those of the rows and queries cut to it.
        let cut = |v: &[u16]| v.chunks_exact(dim).flat_map(|r| r[..517].to_vec()).collect::<Vec<_>>();
        let cut_q: Vec<f32> = q.chunks_exact(dim).flat_map(|r| r[..517].to_vec()).collect();
        assert_eq!(dot_prefixes(&data, &q, dim, 517, 3), dot_prefixes(&cut(&data), &cut_q, 517, 517, 3));
    }

    /// Decoding and standardising a stored row gives the scalar loop's values bit for bit,
    /// through the 8-wide body and the tail.
    #[test]
    fn standardised_halves_match_the_scalar_loop() {
        let mut rng = crate::rng::SplitMix64(7);
        let dim = 45;
        let row: Vec<u16> = (0..dim).map(|_| to_half(rng.unit() as f32 * 4.0 - 1.0)).collect();
        let mean: Vec<f32> = (0..dim).map(|_| rng.unit() as f32).collect();
        let std: Vec<f32> = (0..dim).map(|_| 0.1 + rng.unit() as f32).collect();
        let mut got = vec![0f32; dim];
        let check = |got: &[f32], kernel: &str| {
            for k in 0..dim {
                let want = (from_half(row[k]) * 0.37 - mean[k]) / std[k];
                assert_eq!(got[k].to_bits(), want.to_bits(), "{kernel}, component {k}: {} vs {want}", got[k]);
            }
        };
        standardised_halves(&row, 0.37, &mean, &std, &mut got);
        check(&got, "the dispatching call");
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::exercise("8-wide half-float standardising (scan)", &["avx2", "f16c"]) {
            got.fill(0.0);
            // SAFETY: the CPU has AVX2 and F16C (just checked); the lengths agree.
            unsafe { x86::standardised_halves(&row, 0.37, &mean, &std, &mut got) };
            check(&got, "the AVX2 loop");
        }
    }
}
