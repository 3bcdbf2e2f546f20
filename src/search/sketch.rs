//! A one-bit sketch of every stored row, for finding candidates fast in large libraries: bit d of
//! a row is whether its component d lies above the mean row's (the sign of the centred vector),
//! so the Hamming distance between two sketches follows the angle between their centred vectors.
//! 2048-d rows take 256 bytes instead of 4096; `approx.rs` picks a query's candidate videos by
//! these distances and scores their frames exactly.
//!
//! Kept beside the store as `sketch.bin` (little-endian): a 64-byte header (magic, version, the
//! store generation it follows, rows, dim, the row count its mean was taken over), the mean as
//! f32, then each row's bits as u64 words. New rows are appended and the header rewritten after
//! them; a sketch of another generation, or whose mean was taken over fewer than half of today's
//! rows, is built again. Beside it, `sketch.sums` holds the BLAKE3 of each 1 MiB block of its
//! valid bytes (as the store's own checksums do): every open checks the last block and a few
//! others, so a sketch damaged in place (the same length, other bytes) is built again, never
//! searched with. The file is a cache: when it cannot be read or written, the sketch is built in
//! memory and the search goes on.

use crate::error::{Error, Result};
use crate::scan::{from_half, to_half};
use crate::store::FrameStore;
use memmap2::Mmap;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"RMSKETCH";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 64;

/// The block checksums of a sketch file's first `bytes`, kept in `sketch.sums`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Sums {
    bytes: u64,
    blocks: Vec<String>,
}

fn sums_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("sums")
}

/// Records the checksums of `path`'s first `bytes`, reusing the blocks `previous` covered below
/// them (an append), block 0 hashed again (its header changed).
fn write_sums(path: &Path, bytes: u64, previous: Option<&Sums>) -> Result<()> {
    let blocks = crate::store::block_hashes(path, bytes, previous.map(|p| (p.bytes, &p.blocks[..])), true)?;
    let json = serde_json::to_vec(&Sums { bytes, blocks })
        .map_err(|e| Error::File { path: sums_path(path), reason: e.to_string() })?;
    crate::save::atomically(&sums_path(path), &json)
}

fn read_sums(path: &Path) -> Option<Sums> {
    serde_json::from_slice(&std::fs::read(sums_path(path)).ok()?).ok()
}

/// The valid bytes of a sketch file whose header says `h`.
fn valid_bytes(h: &Header) -> u64 {
    (codes_offset(h.dim) + h.rows * h.dim.div_ceil(64) * 8) as u64
}

/// Row sketches and the mean they were taken against.
pub struct Sketch {
    dim: usize,
    words: usize,
    mean: Vec<f32>,
    codes: Codes,
}

enum Codes {
    Owned(Vec<u64>),
    Mapped { map: Mmap, offset: usize, len: usize },
}

impl Codes {
    fn as_slice(&self) -> &[u64] {
        match self {
            Codes::Owned(v) => v,
            Codes::Mapped { map, offset, len } => {
                // SAFETY: the map is page-aligned and `offset` a multiple of 8, so the words are
                // aligned; `offset + 8 * len` was checked against the file's size when mapped,
                // and the file is only ever appended to past the header's rows, or replaced by
                // rename, so the mapped words never change.
                unsafe { std::slice::from_raw_parts(map.as_ptr().add(*offset) as *const u64, *len) }
            }
        }
    }
}

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Header {
    generation: u64,
    rows: usize,
    dim: usize,
    mean_rows: usize,
}

impl Sketch {
    /// The sketch of unit rows (half floats, row-major), taken against their own mean.
    pub fn build(rows: &[u16], dim: usize) -> Sketch {
        Self::build_with_mean(rows, dim, mean_of(rows, dim))
    }

    /// The sketch of unit rows taken against `mean`.
    fn build_with_mean(rows: &[u16], dim: usize, mean: Vec<f32>) -> Sketch {
        let mut sketch = Sketch { dim, words: dim.div_ceil(64), mean, codes: Codes::Owned(Vec::new()) };
        sketch.codes = Codes::Owned(sketch.encode_rows(rows));
        sketch
    }

    /// The sketch of a store's rows, from its `sketch.bin` when that is current (extended by the
    /// rows added since), else built and written there.
    pub fn of_store(store: &FrameStore) -> Sketch {
        let path = store.dir().join("sketch.bin");
        match Self::open(&path, store) {
            Ok(Some(s)) => return s,
            Ok(None) => {}
            Err(e) => tracing::warn!("the sketch {} cannot be used ({e}); building it again", path.display()),
        }
        // The store keeps its mean: no pass over the rows for it.
        let sketch = Self::build_with_mean(store.rows().as_slice(), store.dim().max(1), store.centre().mean.clone());
        if let Err(e) = sketch.write(&path, store.generation()) {
            tracing::warn!("the sketch cannot be kept ({e}); it is built again by the next search");
        }
        match Self::open(&path, store) {
            Ok(Some(mapped)) => mapped,
            _ => sketch,
        }
    }

    /// The kept sketch, extended to the store's rows; `None` when it is missing or out of date.
    fn open(path: &Path, store: &FrameStore) -> Result<Option<Sketch>> {
        let Some(h) = read_header(path)? else { return Ok(None) };
        let dim = store.dim().max(1);
        if h.generation != store.generation() || h.dim != dim || h.rows > store.len() || h.mean_rows * 2 < store.len() {
            return Ok(None);
        }
        let sums = read_sums(path).filter(|s| s.bytes == valid_bytes(&h));
        let whole = sums
            .as_ref()
            .is_some_and(|s| crate::store::blocks_match(path, s.bytes, &s.blocks, crate::store::Depth::Sampled));
        if !whole {
            tracing::warn!("the sketch {} does not match its checksums (damaged); building it again", path.display());
            return Ok(None);
        }
        let words = dim.div_ceil(64);
        if h.rows < store.len() {
            let mean = read_mean(path, dim)?;
            let partial = Sketch { dim, words, mean, codes: Codes::Owned(Vec::new()) };
            let added = partial.encode_rows(&store.rows().as_slice()[h.rows * dim..store.len() * dim]);
            append(path, &h, store.len(), &added)?;
            write_sums(path, valid_bytes(&Header { rows: store.len(), ..h }), sums.as_ref())?;
        }
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the file is only appended to past its valid rows, or replaced by rename.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let offset = codes_offset(dim);
        let len = store.len() * words;
        if map.len() < offset + len * 8 {
            return Ok(None);
        }
        let mean = map[HEADER_BYTES..HEADER_BYTES + dim * 4]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(Some(Sketch { dim, words, mean, codes: Codes::Mapped { map, offset, len } }))
    }

    /// Writes the whole sketch to `path` (by rename).
    fn write(&self, path: &Path, generation: u64) -> Result<()> {
        let rows = self.len();
        let mut bytes = Vec::with_capacity(codes_offset(self.dim) + rows * self.words * 8);
        bytes.extend_from_slice(&header_bytes(&Header { generation, rows, dim: self.dim, mean_rows: rows }));
        self.mean.iter().for_each(|m| bytes.extend_from_slice(&m.to_le_bytes()));
        bytes.resize(codes_offset(self.dim), 0);
        self.codes.as_slice().iter().for_each(|w| bytes.extend_from_slice(&w.to_le_bytes()));
        crate::save::atomically(path, &bytes)?;
        write_sums(path, bytes.len() as u64, None)
    }

    /// Rows sketched.
    pub fn len(&self) -> usize {
        self.codes.as_slice().len() / self.words.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sketch of a query vector (any norm), rounded to half floats as stored rows are.
    pub fn code_of(&self, v: &[f32]) -> Vec<u64> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        let halves: Vec<u16> = v.iter().map(|x| to_half(x / norm)).collect();
        let mut code = vec![0u64; self.words];
        encode(&halves, &self.mean_keys(), &mut code);
        code
    }

    /// The mean as ordered half-float keys (see [`ordered`]).
    fn mean_keys(&self) -> Vec<u16> {
        self.mean.iter().map(|&m| ordered(to_half(m))).collect()
    }

    /// Sketches of rows of half floats, split across the cores.
    fn encode_rows(&self, rows: &[u16]) -> Vec<u64> {
        let (dim, words) = (self.dim.max(1), self.words);
        let n = rows.len() / dim;
        let mut out = vec![0u64; n * words];
        let keys = self.mean_keys();
        let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(n.max(1));
        let per = n.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (chunk, codes) in rows.chunks(per * dim).zip(out.chunks_mut(per * words)) {
                let keys = &keys;
                scope.spawn(move || {
                    for (row, code) in chunk.chunks_exact(dim).zip(codes.chunks_exact_mut(words)) {
                        encode(row, keys, code);
                    }
                });
            }
        });
        out
    }
}

/// Each group's nearest row to one query by sketch: its distance (`u16::MAX` for a group with
/// no rows) and the row.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    pub distance: Vec<u16>,
    pub row: Vec<u32>,
}

impl Sketch {
    /// For each query code, each group's nearest row (`group_of[r]` is row r's group, `u32::MAX`
    /// for none; ties go to the first row), in one pass over the codes on every core, without
    /// keeping every row's distance.
    pub fn nearest_in_groups(&self, queries: &[Vec<u64>], group_of: &[u32], groups: usize) -> Vec<Nearest> {
        let (n, words, codes) = (self.len(), self.words, self.codes.as_slice());
        assert_eq!(group_of.len(), n, "a group for every row");
        let empty = || Nearest { distance: vec![u16::MAX; groups], row: vec![0; groups] };
        if queries.is_empty() || n == 0 {
            return vec![empty(); queries.len()];
        }
        let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(n);
        let per = n.div_ceil(threads);
        let scan = nearest_kernel();
        let parts: Vec<Vec<Nearest>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let rows = t * per..((t + 1) * per).min(n);
                    scope.spawn(move || {
                        let mut out = vec![empty(); queries.len()];
                        let part = Part { codes: &codes[rows.start * words..rows.end * words], first: rows.start };
                        scan(&part, queries, words, &group_of[rows], &mut out);
                        out
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| vec![empty(); queries.len()])).collect()
        });
        // Chunks in row order, a later one winning only when strictly nearer: ties keep the first row.
        let mut merged = vec![empty(); queries.len()];
        for part in parts {
            for (m, p) in merged.iter_mut().zip(part) {
                for g in 0..groups {
                    if p.distance[g] < m.distance[g] {
                        m.distance[g] = p.distance[g];
                        m.row[g] = p.row[g];
                    }
                }
            }
        }
        merged
    }
}

/// Rows `first..` of the codes, for one thread.
struct Part<'a> {
    codes: &'a [u64],
    first: usize,
}

type NearestKernel = fn(&Part, &[Vec<u64>], usize, &[u32], &mut [Nearest]);

/// The nearest-row scan with AVX-512's 64-bit lane counts where the CPU has them, else AVX2's byte
/// shuffles, else the popcount instruction, else the portable count.
fn nearest_kernel() -> NearestKernel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vpopcntdq") {
            return |part, queries, words, group_of, out| {
                // SAFETY: the CPU was just checked to have AVX-512F and its lane counts.
                unsafe { nearest_avx512(part, queries, words, group_of, out) }
            };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt") {
            return |part, queries, words, group_of, out| {
                // SAFETY: the CPU was just checked to have AVX2 and popcnt.
                unsafe { nearest_avx2(part, queries, words, group_of, out) }
            };
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            return |part, queries, words, group_of, out| {
                // SAFETY: the CPU was just checked to have the popcnt instruction.
                unsafe { nearest_popcnt(part, queries, words, group_of, out) }
            };
        }
    }
    |part, queries, words, group_of, out| nearest_with(part, queries, words, group_of, out, pair_distance)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn nearest_popcnt(part: &Part, queries: &[Vec<u64>], words: usize, group_of: &[u32], out: &mut [Nearest]) {
    nearest_with(part, queries, words, group_of, out, pair_distance)
}

#[inline(always)]
fn nearest_with(
    part: &Part,
    queries: &[Vec<u64>],
    words: usize,
    group_of: &[u32],
    out: &mut [Nearest],
    distance: impl Fn(&[u64], &[u64]) -> u32,
) {
    for (i, (row, &g)) in part.codes.chunks_exact(words).zip(group_of).enumerate() {
        if g == u32::MAX {
            continue;
        }
        let g = g as usize;
        for (q, o) in queries.iter().zip(out.iter_mut()) {
            let d = distance(row, q) as u16;
            if d < o.distance[g] {
                o.distance[g] = d;
                o.row[g] = (part.first + i) as u32;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn nearest_avx2(part: &Part, queries: &[Vec<u64>], words: usize, group_of: &[u32], out: &mut [Nearest]) {
    // SAFETY: this function runs only where AVX2 and popcnt are.
    let four = |row: &[u64], qs: [&[u64]; 4]| unsafe { four_distances_avx2(row, qs) };
    // SAFETY: as above.
    let pair = |row: &[u64], q: &[u64]| unsafe { pair_distance_avx2(row, q) };
    nearest_by_fours(part, queries, words, group_of, out, four, pair);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
unsafe fn nearest_avx512(part: &Part, queries: &[Vec<u64>], words: usize, group_of: &[u32], out: &mut [Nearest]) {
    // SAFETY: this function runs only where AVX-512F and its lane counts are.
    let four = |row: &[u64], qs: [&[u64]; 4]| unsafe { distances_avx512(row, qs) };
    // SAFETY: as above.
    let pair = |row: &[u64], q: &[u64]| unsafe { distances_avx512(row, [q])[0] };
    nearest_by_fours(part, queries, words, group_of, out, four, pair);
}

/// The nearest-row scan with the queries taken four at a time by `four` (each row read once for
/// the four) and the rest one by one by `pair`.
#[inline(always)]
fn nearest_by_fours(
    part: &Part,
    queries: &[Vec<u64>],
    words: usize,
    group_of: &[u32],
    out: &mut [Nearest],
    four: impl Fn(&[u64], [&[u64]; 4]) -> [u32; 4],
    pair: impl Fn(&[u64], &[u64]) -> u32,
) {
    let fours = queries.len() / 4 * 4;
    for (i, (row, &g)) in part.codes.chunks_exact(words).zip(group_of).enumerate() {
        if g == u32::MAX {
            continue;
        }
        let (g, r) = (g as usize, (part.first + i) as u32);
        let keep = |o: &mut Nearest, d: u32| {
            if (d as u16) < o.distance[g] {
                o.distance[g] = d as u16;
                o.row[g] = r;
            }
        };
        for (qs, os) in queries[..fours].chunks_exact(4).zip(out.chunks_exact_mut(4)) {
            let d = four(row, [&qs[0], &qs[1], &qs[2], &qs[3]]);
            os.iter_mut().zip(d).for_each(|(o, d)| keep(o, d));
        }
        for (q, o) in queries[fours..].iter().zip(out[fours..].iter_mut()) {
            keep(o, pair(row, q));
        }
    }
}

#[inline(always)]
fn pair_distance(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Bits that differ between `a` and `b` (as long), 256 at a time: each byte's bits counted by
/// two nibble lookups (`vpshufb`), summed per byte for up to 31 blocks, then across bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[inline]
unsafe fn pair_distance_avx2(a: &[u64], b: &[u64]) -> u32 {
    use std::arch::x86_64::*;
    let blocks = a.len().min(b.len()) / 4;
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let mut total = 0u64;
    let mut i = 0;
    while i < blocks {
        // A byte counts at most 8 bits a block: 31 blocks stay below 256.
        let end = (i + 31).min(blocks);
        let mut acc = _mm256_setzero_si256();
        while i < end {
            // SAFETY: block i covers words 4i..4i + 4, inside both slices (i < blocks).
            let (x, y) = unsafe {
                (
                    _mm256_loadu_si256(a.as_ptr().add(4 * i) as *const __m256i),
                    _mm256_loadu_si256(b.as_ptr().add(4 * i) as *const __m256i),
                )
            };
            let v = _mm256_xor_si256(x, y);
            let lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
            let hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
            acc = _mm256_add_epi8(acc, _mm256_add_epi8(lo, hi));
            i += 1;
        }
        let sums = _mm256_sad_epu8(acc, _mm256_setzero_si256());
        let half = _mm_add_epi64(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
        total += (_mm_cvtsi128_si64(half) + _mm_extract_epi64(half, 1)) as u64;
    }
    total as u32 + pair_distance(&a[blocks * 4..], &b[blocks * 4..])
}

/// Bits that differ between `row` and each of four queries (each as long as `row`): the row's
/// blocks read once for the four, the four byte sums added across their lanes together.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[inline]
unsafe fn four_distances_avx2(row: &[u64], queries: [&[u64]; 4]) -> [u32; 4] {
    use std::arch::x86_64::*;
    let blocks = queries.iter().fold(row.len(), |m, q| m.min(q.len())) / 4;
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let count = |v: __m256i| {
        let lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
        let hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
        _mm256_add_epi8(lo, hi)
    };
    let mut totals = _mm256_setzero_si256();
    let mut i = 0;
    while i < blocks {
        // A byte counts at most 8 bits a block: 31 blocks stay below 256.
        let end = (i + 31).min(blocks);
        let mut acc = [_mm256_setzero_si256(); 4];
        while i < end {
            // SAFETY: block i covers words 4i..4i + 4, inside the row and every query (i < blocks).
            let r = unsafe { _mm256_loadu_si256(row.as_ptr().add(4 * i) as *const __m256i) };
            for (a, q) in acc.iter_mut().zip(&queries) {
                // SAFETY: as above.
                let v = unsafe { _mm256_loadu_si256(q.as_ptr().add(4 * i) as *const __m256i) };
                *a = _mm256_add_epi8(*a, count(_mm256_xor_si256(r, v)));
            }
            i += 1;
        }
        // Each query's four 64-bit byte sums, then the four queries' totals side by side.
        let zero = _mm256_setzero_si256();
        let s: [__m256i; 4] = acc.map(|a| _mm256_sad_epu8(a, zero));
        let t01 = _mm256_add_epi64(_mm256_unpacklo_epi64(s[0], s[1]), _mm256_unpackhi_epi64(s[0], s[1]));
        let t23 = _mm256_add_epi64(_mm256_unpacklo_epi64(s[2], s[3]), _mm256_unpackhi_epi64(s[2], s[3]));
        let sums =
            _mm256_add_epi64(_mm256_permute2x128_si256(t01, t23, 0x20), _mm256_permute2x128_si256(t01, t23, 0x31));
        totals = _mm256_add_epi64(totals, sums);
    }
    let mut out = [0u64; 4];
    // SAFETY: `out` holds four u64, 32 bytes.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, totals) };
    let mut d = [0u32; 4];
    for k in 0..4 {
        d[k] = out[k] as u32 + pair_distance(&row[blocks * 4..], &queries[k][blocks * 4..]);
    }
    d
}

/// Bits that differ between `row` and each of `Q` queries (each as long as `row`): the row's
/// 512-bit blocks read once for all of them (the last block masked to the words left), each
/// block's 64-bit lanes counted and summed per query.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
unsafe fn distances_avx512<const Q: usize>(row: &[u64], queries: [&[u64]; Q]) -> [u32; Q] {
    use std::arch::x86_64::*;
    let words = queries.iter().fold(row.len(), |m, q| m.min(q.len()));
    let mut acc = [_mm512_setzero_si512(); Q];
    let mut i = 0;
    while i < words {
        // Eight words, or the ones left (the others read as zero).
        let mask: __mmask8 = if words - i >= 8 { 0xff } else { (1u8 << (words - i)) - 1 };
        // SAFETY: the mask loads only words i..words, inside the row and every query.
        let r = unsafe { _mm512_maskz_loadu_epi64(mask, row.as_ptr().add(i) as *const i64) };
        for (a, q) in acc.iter_mut().zip(&queries) {
            // SAFETY: as above.
            let v = unsafe { _mm512_maskz_loadu_epi64(mask, q.as_ptr().add(i) as *const i64) };
            *a = _mm512_add_epi64(*a, _mm512_popcnt_epi64(_mm512_xor_si512(r, v)));
        }
        i += 8;
    }
    acc.map(|a| _mm512_reduce_add_epi64(a) as u32)
}

/// The mean of rows of half floats, summed on every core.
fn mean_of(rows: &[u16], dim: usize) -> Vec<f32> {
    let n = rows.len() / dim.max(1);
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(n.max(1));
    let per = n.div_ceil(threads).max(1);
    let sums: Vec<Vec<f64>> = std::thread::scope(|scope| {
        let parts: Vec<_> = rows
            .chunks(per * dim.max(1))
            .map(|chunk| {
                scope.spawn(move || {
                    let mut sum = vec![0f64; dim];
                    for row in chunk.chunks_exact(dim) {
                        sum.iter_mut().zip(row).for_each(|(s, &h)| *s += from_half(h) as f64);
                    }
                    sum
                })
            })
            .collect();
        parts.into_iter().map(|p| p.join().unwrap_or_else(|_| vec![0.0; dim])).collect()
    });
    (0..dim).map(|d| (sums.iter().map(|s| s[d]).sum::<f64>() / n.max(1) as f64) as f32).collect()
}

/// A half float's bit pattern as an integer that orders as its value does (minus zero just
/// below zero), so rows are compared with the mean without converting them.
fn ordered(h: u16) -> u16 {
    if h & 0x8000 != 0 {
        !h
    } else {
        h | 0x8000
    }
}

/// One row's bits: component d above the mean's (`keys`, ordered) sets bit d.
fn encode(row: &[u16], keys: &[u16], code: &mut [u64]) {
    for ((word, row), keys) in code.iter_mut().zip(row.chunks(64)).zip(keys.chunks(64)) {
        let mut bits = 0u64;
        for (i, (&h, &k)) in row.iter().zip(keys).enumerate() {
            bits |= ((ordered(h) > k) as u64) << i;
        }
        *word = bits;
    }
}

fn codes_offset(dim: usize) -> usize {
    (HEADER_BYTES + dim * 4).div_ceil(8) * 8
}

fn header_bytes(h: &Header) -> [u8; HEADER_BYTES] {
    let mut b = [0u8; HEADER_BYTES];
    b[..8].copy_from_slice(MAGIC);
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[16..24].copy_from_slice(&h.generation.to_le_bytes());
    b[24..32].copy_from_slice(&(h.rows as u64).to_le_bytes());
    b[32..40].copy_from_slice(&(h.dim as u64).to_le_bytes());
    b[40..48].copy_from_slice(&(h.mean_rows as u64).to_le_bytes());
    b
}

fn read_header(path: &Path) -> Result<Option<Header>> {
    let mut b = [0u8; HEADER_BYTES];
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    if std::io::Read::read_exact(&mut file, &mut b).is_err() || &b[..8] != MAGIC {
        return Ok(None);
    }
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    if u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")) != VERSION {
        return Ok(None);
    }
    Ok(Some(Header {
        generation: u64_at(16),
        rows: u64_at(24) as usize,
        dim: u64_at(32) as usize,
        mean_rows: u64_at(40) as usize,
    }))
}

fn read_mean(path: &Path, dim: usize) -> Result<Vec<f32>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut b = vec![0u8; dim * 4];
    file.seek(SeekFrom::Start(HEADER_BYTES as u64)).map_err(|e| Error::io(path, e))?;
    std::io::Read::read_exact(&mut file, &mut b).map_err(|e| Error::io(path, e))?;
    Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Appends `added` (rows `h.rows..rows`) after the valid rows, then records them in the header.
fn append(path: &Path, h: &Header, rows: usize, added: &[u64]) -> Result<()> {
    let io = |e| Error::io(path, e);
    let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(io)?;
    let valid = (codes_offset(h.dim) + h.rows * h.dim.div_ceil(64) * 8) as u64;
    file.set_len(valid).map_err(io)?;
    file.seek(SeekFrom::Start(valid)).map_err(io)?;
    let bytes: Vec<u8> = added.iter().flat_map(|w| w.to_le_bytes()).collect();
    file.write_all(&bytes).map_err(io)?;
    file.sync_data().map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(&header_bytes(&Header { rows, ..*h })).map_err(io)?;
    file.sync_data().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_rows(rows: &[Vec<f32>]) -> Vec<u16> {
        rows.iter()
            .flat_map(|r| {
                let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
                r.iter().map(move |x| to_half(x / n)).collect::<Vec<_>>()
            })
            .collect()
    }

    /// Every query's distance to every row, by the portable count (the reference).
    fn distances(sketch: &Sketch, queries: &[Vec<u64>]) -> Vec<Vec<u16>> {
        let (words, codes) = (sketch.words, sketch.codes.as_slice());
        queries.iter().map(|q| codes.chunks_exact(words).map(|row| pair_distance(row, q) as u16).collect()).collect()
    }

    #[test]
    fn nearest_rows_per_group_match_the_distances_on_every_kernel() {
        let mut rng = crate::rng::SplitMix64(8);
        // 300 bits: a block of 256 and a tail word; 8200 bits: 32 blocks (past the 31 a byte
        // sum holds) and a tail word.
        for dim in [300usize, 8200] {
            let rows: Vec<Vec<f32>> = (0..90).map(|_| (0..dim).map(|_| rng.unit() as f32 - 0.5).collect()).collect();
            let sketch = Sketch::build(&unit_rows(&rows), dim);
            let group_of: Vec<u32> = (0..90).map(|r| if r % 7 == 3 { u32::MAX } else { (r % 5) as u32 }).collect();
            // Five queries: the AVX2 scan takes four together and the fifth alone.
            let codes: Vec<Vec<u64>> = [5usize, 40, 77, 12, 60].iter().map(|&r| sketch.code_of(&rows[r])).collect();
            let nearest = sketch.nearest_in_groups(&codes, &group_of, 6);
            for (q, d) in distances(&sketch, &codes).iter().enumerate() {
                for g in 0..6 {
                    let want = (0..90)
                        .filter(|&r| group_of[r] == g as u32)
                        .map(|r| (d[r], r as u32))
                        .min()
                        .unwrap_or((u16::MAX, 0));
                    assert_eq!((nearest[q].distance[g], nearest[q].row[g]), want, "dim {dim}, query {q}, group {g}");
                }
            }
            // Each CPU kernel, whole scans and pair by pair, against the portable count.
            let words = dim.div_ceil(64);
            let all = sketch.codes.as_slice();
            let part = Part { codes: all, first: 0 };
            let fresh = || vec![Nearest { distance: vec![u16::MAX; 6], row: vec![0; 6] }; codes.len()];
            let mut want = fresh();
            nearest_with(&part, &codes, words, &group_of, &mut want, pair_distance);
            let same = |got: Vec<Nearest>, kernel: &str| {
                for (q, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!((&g.distance, &g.row), (&w.distance, &w.row), "{kernel}: dim {dim}, query {q}");
                }
            };
            #[cfg(target_arch = "x86_64")]
            {
                if crate::kernels::exercise("popcount sketch scan (search::sketch)", &["popcnt"]) {
                    let mut got = fresh();
                    // SAFETY: the CPU has popcnt (just checked).
                    unsafe { nearest_popcnt(&part, &codes, words, &group_of, &mut got) };
                    same(got, "popcnt");
                }
                if crate::kernels::exercise("AVX2 sketch scan (search::sketch)", &["avx2", "popcnt"]) {
                    let mut got = fresh();
                    // SAFETY: the CPU has AVX2 and popcnt (just checked).
                    unsafe { nearest_avx2(&part, &codes, words, &group_of, &mut got) };
                    same(got, "avx2");
                    for r in 0..90 {
                        let row = &all[r * words..(r + 1) * words];
                        // SAFETY: as above.
                        assert_eq!(unsafe { pair_distance_avx2(row, &codes[1]) }, pair_distance(row, &codes[1]));
                        let four = [&codes[0][..], &codes[1][..], &codes[2][..], &codes[1][..]];
                        // SAFETY: as above.
                        let got = unsafe { four_distances_avx2(row, four) };
                        assert_eq!(got, four.map(|q| pair_distance(row, q)), "dim {dim}, row {r}");
                    }
                }
                if crate::kernels::exercise("AVX-512 sketch scan (search::sketch)", &["avx512f", "avx512vpopcntdq"]) {
                    let mut got = fresh();
                    // SAFETY: the CPU has AVX-512F and its lane counts (just checked).
                    unsafe { nearest_avx512(&part, &codes, words, &group_of, &mut got) };
                    same(got, "avx512");
                    for r in 0..90 {
                        let row = &all[r * words..(r + 1) * words];
                        let plain = pair_distance(row, &codes[1]);
                        // SAFETY: as above.
                        assert_eq!(unsafe { distances_avx512(row, [&codes[1][..]]) }, [plain], "dim {dim}, row {r}");
                        let four = [&codes[0][..], &codes[1][..], &codes[2][..], &codes[1][..]];
                        // SAFETY: as above.
                        let got = unsafe { distances_avx512(row, four) };
                        assert_eq!(got, four.map(|q| pair_distance(row, q)), "dim {dim}, row {r}");
                    }
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = same;
        }
    }

    #[test]
    fn hamming_distances_follow_the_centred_vectors() {
        let mut rng = crate::rng::SplitMix64(3);
        let dim = 130; // three words, the last one partly used
        let rows: Vec<Vec<f32>> = (0..200).map(|_| (0..dim).map(|_| rng.unit() as f32 - 0.5).collect()).collect();
        let sketch = Sketch::build(&unit_rows(&rows), dim);
        assert_eq!(sketch.len(), 200);
        // A row's own vector is at distance 0 from its sketch, and the only one there.
        let d = distances(&sketch, &[sketch.code_of(&rows[17])]).remove(0);
        assert_eq!(d.len(), 200);
        assert_eq!(d.iter().filter(|&&x| x == 0).count(), 1);
        assert_eq!(d[17], 0);
        // The negated vector sits on the other side of every component the mean does not split.
        let flipped: Vec<f32> = rows[17].iter().map(|x| -x).collect();
        let far = distances(&sketch, &[sketch.code_of(&flipped)]).remove(0);
        assert!(far[17] as usize > dim / 2, "{}", far[17]);
    }

    #[test]
    fn ordered_keys_order_as_the_values_do() {
        let values = [-3.5f32, -1.0, -0.001, -0.0, 0.0, 0.0001, 0.5, 2.0, 60000.0];
        let keys: Vec<u16> = values.iter().map(|&v| ordered(to_half(v))).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    }
}
