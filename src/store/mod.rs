//! The persistent vector store: one model's frame vectors laid out for the scan, next to the
//! catalog (`<library>/index/<model>/`), so a query maps them instead of reading and decoding
//! every vector from SQLite. The catalog stays the source of truth: the store records the
//! catalog's [`Stamp`] it copies, catches up by appending what was written since, and is rebuilt
//! when rows were replaced or deleted (a re-ingested video, a model change) — never silently
//! used out of step. Rows are normalised IEEE half floats; the library mean and each row's dot
//! product with it and squared norm are kept, so centred cosines need no pass at query time.
//!
//! Files (little-endian): `vectors.f16` (rows × dim), `rows.bin` (32 bytes a row: frame id,
//! video id, time, split), `files.txt` (a frame file per line), `norms.f32` (per row: |row|² as
//! stored, and the vector's norm before it was normalised, so the raw features can be had back),
//! `center.f32` (the sum of all rows as f64, then each row's dot product with the mean), and
//! `header.json`, written last, which says how many rows are valid: a crash mid-append leaves the
//! previous header and its rows intact.

mod check;
mod files;

pub use check::{block_hashes, blocks_match, Depth};

use crate::catalog::{Catalog, EmbeddingRow, Identity, Split, Stamp};
use crate::error::{Error, Result};
use files::{read_f32s, Appender};
use memmap2::Mmap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The layout version; a store of another version is rebuilt.
const VERSION: u32 = 2;

/// Rows read from the catalog per batch while catching up (bounded memory at any size).
const BATCH: usize = 4096;

/// Bytes of one row's record in `rows.bin`.
const ROW_BYTES: usize = 32;

/// What `header.json` records.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Header {
    version: u32,
    model: String,
    dim: usize,
    rows: usize,
    /// Bytes of `files.txt` that belong to the valid rows.
    files_bytes: u64,
    /// The catalog's stamp the rows copy.
    stamp: Stamp,
    /// Changes on every rebuild, so stores derived from this one (head projections) know.
    generation: u64,
    /// For a derived store: the source store's generation its rows follow.
    #[serde(default)]
    source_generation: Option<u64>,
    /// The catalog (and the state of its embeddings) the rows copy: a store of another catalog,
    /// or made before embeddings were deleted, is rebuilt, never read (none: made before this
    /// was recorded, so rebuilt once).
    #[serde(default)]
    identity: Option<Identity>,
    /// What the files held when the header was written (see [`check`]).
    #[serde(default)]
    checksums: Option<check::Checksums>,
}

/// Where one row comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowMeta {
    pub frame_id: i64,
    pub video_id: i64,
    pub t_s: f64,
    pub split: Split,
}

/// Half-float rows, mapped from the file or held in memory.
#[derive(Clone)]
pub enum Rows {
    Owned(Arc<Vec<u16>>),
    Mapped { map: Arc<Mmap>, len: usize },
}

impl Rows {
    /// The rows' bit patterns, row-major.
    pub fn as_slice(&self) -> &[u16] {
        match self {
            Rows::Owned(v) => v,
            Rows::Mapped { map, len } => {
                // SAFETY: the map starts page-aligned (so aligned for u16), holds at least `len`
                // u16 values (checked against the file's size when mapped), and the store only
                // ever appends to the file or replaces it by rename, so mapped bytes never change.
                unsafe { std::slice::from_raw_parts(map.as_ptr() as *const u16, *len) }
            }
        }
    }
}

/// The mean of the rows and, per row, its dot product with the mean, its squared norm, and the
/// norm the vector had before it was normalised (its scale).
#[derive(Debug, Clone, PartialEq)]
pub struct Centre {
    pub mean: Vec<f32>,
    pub row_dot: Vec<f32>,
    pub row_sq: Vec<f32>,
    pub row_scale: Vec<f32>,
}

/// A map from rows of raw vectors to rows of vectors in another space (a trained head).
pub type Projection<'a> = dyn Fn(&[Vec<f32>]) -> Result<Vec<Vec<f32>>> + 'a;

/// One model's frame vectors, current with the catalog.
pub struct FrameStore {
    dir: PathBuf,
    header: Header,
    rows: Rows,
    /// Shared with the stores derived from this one (their rows are this one's, in order).
    meta: Arc<Vec<RowMeta>>,
    files: Arc<Vec<String>>,
    centre: Centre,
}

/// The folder of `model`'s store for the catalog at `catalog_path`.
pub fn store_dir(catalog_path: &Path, model: &str) -> PathBuf {
    let slug: String =
        model.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    let root = catalog_path.parent().unwrap_or(Path::new("."));
    root.join("index").join(format!("{slug}-{:08x}", fnv(model)))
}

/// A short hash, so models whose names slug the same still get their own folders.
fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

impl FrameStore {
    /// Opens `model`'s store, bringing it up to date with the catalog first: rows written since
    /// are appended, and a store the catalog no longer matches is rebuilt.
    pub fn open(catalog: &Catalog, model: &str) -> Result<FrameStore> {
        let dir = store_dir(catalog.path(), model);
        let identity = catalog.identity()?;
        let stamp = catalog.embedding_stamp(model)?;
        let header = match read_header(&dir) {
            Some(h) if h.version == VERSION && h.model == model && h.identity.as_ref() == Some(&identity) => Some(h),
            Some(h) => {
                tracing::info!(
                    model,
                    "the vector store was made for another catalog, or before rows were replaced; rebuilding it"
                );
                return Self::rebuilt(catalog, dir, model, h.generation + 1);
            }
            None => None,
        };
        let header = match header {
            Some(h) if h.stamp == stamp => h,
            // Only additions since: every row the store copied is still there.
            Some(h)
                if stamp.count >= h.stamp.count
                    && catalog.embeddings_up_to(model, h.stamp.last_rowid)? == h.stamp.count =>
            {
                append(catalog, &dir, h)?
            }
            Some(h) => {
                tracing::info!(model, "the catalog's vectors changed under the store; rebuilding it");
                rebuild(catalog, &dir, model, h.generation + 1)?
            }
            None => rebuild(catalog, &dir, model, 1)?,
        };
        match Self::load(dir.clone(), header.clone()) {
            Ok(store) => Ok(store),
            Err(e) => {
                // Damaged files (a disk error, a hand edit): the catalog has everything, so build again.
                tracing::warn!(model, "the vector store cannot be read ({e}); rebuilding it");
                Self::rebuilt(catalog, dir, model, header.generation + 1)
            }
        }
    }

    fn rebuilt(catalog: &Catalog, dir: PathBuf, model: &str, generation: u64) -> Result<FrameStore> {
        let header = rebuild(catalog, &dir, model, generation)?;
        Self::load(dir, header)
    }

    /// Builds `model`'s store afresh from the catalog (`reelmatch index rebuild`).
    pub fn rebuild(catalog: &Catalog, model: &str) -> Result<FrameStore> {
        let dir = store_dir(catalog.path(), model);
        let generation = read_header(&dir).map_or(1, |h| h.generation + 1);
        let header = rebuild(catalog, &dir, model, generation)?;
        Self::load(dir, header)
    }

    /// Loads the store in `dir` after checking its files against the header's checksums.
    fn load(dir: PathBuf, header: Header) -> Result<FrameStore> {
        check::verify(&dir, &header, Depth::Sampled)?;
        Self::load_with(dir, header, None)
    }

    /// [`FrameStore::load`], taking the row records and frame files from `source` (the store a
    /// derived one follows, whose rows are its rows) instead of reading them again.
    /// (A derived store's files are checked where its header is taken: see [`FrameStore::projected`].)
    fn load_with(dir: PathBuf, header: Header, source: Option<&FrameStore>) -> Result<FrameStore> {
        let n = header.rows;
        let rows = map_rows(&dir.join("vectors.f16"), n * header.dim)?;
        let (meta, files) = match source {
            Some(s) if s.len() == n => (s.meta.clone(), s.files.clone()),
            _ => {
                let meta = read_meta(&dir.join("rows.bin"), n)?;
                let text = std::fs::read(dir.join("files.txt")).map_err(|e| Error::io(dir.join("files.txt"), e))?;
                let text = String::from_utf8_lossy(&text[..(header.files_bytes as usize).min(text.len())]).into_owned();
                (Arc::new(meta), Arc::new(text.lines().map(String::from).collect::<Vec<String>>()))
            }
        };
        let norms = read_f32s(&dir.join("norms.f32"), 2 * n)?;
        let (row_sq, row_scale) = norms.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
        let (sum, row_dot) = files::read_centre(&dir.join("center.f32"), header.dim, n)?;
        let mean = sum.iter().map(|s| (s / n.max(1) as f64) as f32).collect();
        if files.len() != n || meta.len() != n {
            return Err(Error::File {
                path: dir,
                reason: "the vector store is damaged; run `reelmatch index rebuild`".into(),
            });
        }
        Ok(FrameStore { dir, header, rows, meta, files, centre: Centre { mean, row_dot, row_sq, row_scale } })
    }

    pub fn dim(&self) -> usize {
        self.header.dim
    }

    /// Checks the files against the header's checksums: a sample of the vectors (as every open
    /// does) or all of them.
    pub fn verify(&self, depth: Depth) -> Result<()> {
        check::verify(&self.dir, &self.header, depth)
    }

    pub fn len(&self) -> usize {
        self.header.rows
    }

    pub fn is_empty(&self) -> bool {
        self.header.rows == 0
    }

    /// Which rebuild of the store this is.
    pub fn generation(&self) -> u64 {
        self.header.generation
    }

    /// The catalog stamp the store is current with.
    pub fn stamp(&self) -> Stamp {
        self.header.stamp
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The normalised rows.
    pub fn rows(&self) -> &Rows {
        &self.rows
    }

    pub fn meta(&self) -> &[RowMeta] {
        &self.meta
    }

    /// Each row's frame file, relative to the library root.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    pub fn centre(&self) -> &Centre {
        &self.centre
    }

    /// The raw (not normalised) vectors of `rows`, as the model gave them, to half precision.
    pub fn raw_rows(&self, rows: std::ops::Range<usize>) -> Vec<Vec<f32>> {
        let (dim, data) = (self.dim(), self.rows.as_slice());
        rows.map(|r| {
            let scale = self.centre.row_scale[r];
            data[r * dim..(r + 1) * dim].iter().map(|&h| crate::scan::from_half(h) * scale).collect()
        })
        .collect()
    }

    /// This store's rows through `project` (a trained head: `dim` in, `classes` out), kept as a
    /// store of its own under `key` (the head's fingerprint): computed once, extended with
    /// the rows added since, rebuilt when this store was.
    pub fn projected(&self, key: &str, project: &Projection) -> Result<FrameStore> {
        let dir = self.dir.join(key);
        let fresh = Header {
            version: VERSION,
            model: format!("{} → {key}", self.header.model),
            dim: 0,
            rows: 0,
            files_bytes: 0,
            stamp: self.header.stamp,
            generation: 1,
            source_generation: Some(self.header.generation),
            identity: self.header.identity.clone(),
            checksums: None,
        };
        let header = match read_header(&dir) {
            Some(h)
                if h.version == VERSION
                    && h.source_generation == Some(self.header.generation)
                    && h.rows <= self.len()
                    && check::verify(&dir, &h, Depth::Sampled).is_ok() =>
            {
                h
            }
            _ => {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                fresh
            }
        };
        if header.rows == self.len() && header.stamp == self.header.stamp {
            return Self::load_with(dir, header, Some(self));
        }
        let mut from = header.rows;
        let mut header = append_rows(&dir, header, || {
            let to = (from + BATCH).min(self.len());
            if from >= to {
                return Ok(Vec::new());
            }
            let vectors = project(&self.raw_rows(from..to))?;
            let rows = (from..to)
                .zip(vectors)
                .map(|(r, vector)| {
                    let m = &self.meta[r];
                    EmbeddingRow {
                        rowid: r as i64,
                        frame_id: m.frame_id,
                        video_id: m.video_id,
                        t_s: m.t_s,
                        split: m.split,
                        file: self.files[r].clone(),
                        vector,
                    }
                })
                .collect();
            from = to;
            Ok(rows)
        })?;
        header.stamp = self.header.stamp;
        write_header(&dir, &mut header)?;
        Self::load_with(dir, header, Some(self))
    }
}

fn read_header(dir: &Path) -> Option<Header> {
    let text = std::fs::read_to_string(dir.join("header.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes the header, with the checksums of the files as they are now.
fn write_header(dir: &Path, h: &mut Header) -> Result<()> {
    let previous = h.checksums.take();
    h.checksums = Some(check::compute(dir, h, previous.as_ref())?);
    let text = serde_json::to_vec_pretty(h).map_err(|e| Error::File { path: dir.into(), reason: e.to_string() })?;
    crate::save::atomically(&dir.join("header.json"), &text)
}

/// Writes a new generation of the store from every catalog row of `model`.
fn rebuild(catalog: &Catalog, dir: &Path, model: &str, generation: u64) -> Result<Header> {
    // A new folder beside the old one, swapped in at the end: a reader with the old files
    // mapped keeps them, and a crash leaves the old store.
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    remove_leftovers(dir);
    let fresh = dir.with_extension(format!("new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    std::fs::create_dir_all(&fresh).map_err(|e| Error::io(&fresh, e))?;
    let empty = Header {
        version: VERSION,
        model: model.to_string(),
        dim: 0,
        rows: 0,
        files_bytes: 0,
        stamp: Stamp::default(),
        generation,
        source_generation: None,
        identity: None,
        checksums: None,
    };
    let header = append(catalog, &fresh, empty)?;
    let old = dir.with_extension(format!("old-{}", std::process::id()));
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&fresh, dir).map_err(|e| Error::io(dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(header)
}

/// Appends the catalog's rows written after `header`'s stamp, then the centre and the header.
fn append(catalog: &Catalog, dir: &Path, header: Header) -> Result<Header> {
    // Read first: a deletion while the rows are read leaves the store stamped older, so the
    // next open rebuilds it.
    let identity = catalog.identity()?;
    let model = header.model.clone();
    let mut last = header.stamp.last_rowid;
    let mut header = append_rows(dir, header, || {
        let batch = catalog.embeddings_after(&model, last, BATCH)?;
        if let Some(end) = batch.last() {
            last = end.rowid;
        }
        Ok(batch)
    })?;
    header.stamp = catalog.embedding_stamp(&header.model)?;
    header.stamp.last_rowid = header.stamp.last_rowid.max(last);
    header.identity = Some(identity);
    write_header(dir, &mut header)?;
    Ok(header)
}

/// Appends the batches `next` returns (until an empty one) after `header`'s rows, then writes
/// the centre; the caller writes the header, which commits them.
fn append_rows(dir: &Path, mut header: Header, mut next: impl FnMut() -> Result<Vec<EmbeddingRow>>) -> Result<Header> {
    let mut out = Appender::open(dir, &header)?;
    let mut sum = if header.rows > 0 {
        files::read_centre(&dir.join("center.f32"), header.dim, header.rows)?.0
    } else {
        Vec::new()
    };
    loop {
        let batch = next()?;
        if batch.is_empty() {
            break;
        }
        for row in &batch {
            if header.dim == 0 {
                header.dim = row.vector.len();
            }
            if row.vector.len() != header.dim || header.dim == 0 {
                continue; // a vector of another size cannot share the index; search skips it too
            }
            if sum.is_empty() {
                sum = vec![0f64; header.dim];
            }
            let stored = out.push(row)?;
            sum.iter_mut().zip(&stored).for_each(|(s, x)| *s += *x as f64);
            header.rows += 1;
        }
    }
    header.files_bytes = out.finish()?;
    // The mean moved: every row's dot product with it is computed again (one pass, all cores).
    let n = header.rows;
    let rows = map_rows(&dir.join("vectors.f16"), n * header.dim)?;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n.max(1) as f64) as f32).collect();
    let row_dot =
        if n == 0 { Vec::new() } else { crate::scan::dot_all(rows.as_slice(), &mean, header.dim, 1).remove(0) };
    files::write_centre(&dir.join("center.f32"), &sum, &row_dot)?;
    Ok(header)
}

/// Removes the half-built or swapped-out folders (`<store>.new-PID`, `<store>.old-PID`) that a
/// process which has since died left beside the store.
fn remove_leftovers(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else { return };
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(name)) else { continue };
        let pid = rest.strip_prefix(".new-").or_else(|| rest.strip_prefix(".old-"));
        if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

fn map_rows(path: &Path, len: usize) -> Result<Rows> {
    if len == 0 {
        return Ok(Rows::Owned(Arc::new(Vec::new())));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len() as usize;
    if size < len * 2 {
        return Err(Error::File {
            path: path.into(),
            reason: "the vector store is shorter than its header says; run `reelmatch index rebuild`".into(),
        });
    }
    // SAFETY: the store's files are only appended to or replaced by rename (never truncated
    // below a header's rows or written in place), so the mapped bytes stay valid and unchanged.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    Ok(Rows::Mapped { map: Arc::new(map), len })
}

fn read_meta(path: &Path, n: usize) -> Result<Vec<RowMeta>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let field = |b: &[u8], i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        a
    };
    Ok(bytes
        .chunks_exact(ROW_BYTES)
        .take(n)
        .map(|b| RowMeta {
            frame_id: i64::from_le_bytes(field(b, 0)),
            video_id: i64::from_le_bytes(field(b, 8)),
            t_s: f64::from_le_bytes(field(b, 16)),
            split: if b[24] == 1 { Split::Test } else { Split::Train },
        })
        .collect())
}
