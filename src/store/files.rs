//! The store's files: appending rows at the end of what the header says is valid (cutting off
//! what a crash left after it), and the small files rewritten whole by rename.

use super::{Header, ROW_BYTES};
use crate::catalog::{EmbeddingRow, Split};
use crate::error::{Error, Result};
use crate::scan::{from_half, to_half};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Appends rows to the four per-row files.
pub struct Appender {
    vectors: Sink,
    meta: Sink,
    files: Sink,
    norms: Sink,
    files_bytes: u64,
}

/// One file opened for appending at a given length.
struct Sink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Sink {
    fn open(path: PathBuf, valid: u64) -> Result<Sink> {
        let mut file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| Error::io(&path, e))?;
        // What lies past the valid length is a crash's leftover: cut it, then write after it.
        if file.metadata().map_err(|e| Error::io(&path, e))?.len() > valid {
            file.set_len(valid).map_err(|e| Error::io(&path, e))?;
        }
        file.seek(SeekFrom::Start(valid)).map_err(|e| Error::io(&path, e))?;
        Ok(Sink { path, out: BufWriter::with_capacity(1 << 20, file) })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|e| Error::io(&self.path, e))
    }

    fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        self.out.get_ref().sync_data().map_err(|e| Error::io(&self.path, e))
    }
}

impl Appender {
    /// Opens the files of the store in `dir` for appending after `header`'s rows.
    pub fn open(dir: &Path, header: &Header) -> Result<Appender> {
        let n = header.rows as u64;
        Ok(Appender {
            vectors: Sink::open(dir.join("vectors.f16"), n * header.dim as u64 * 2)?,
            meta: Sink::open(dir.join("rows.bin"), n * ROW_BYTES as u64)?,
            files: Sink::open(dir.join("files.txt"), header.files_bytes)?,
            norms: Sink::open(dir.join("norms.f32"), n * 8)?,
            files_bytes: header.files_bytes,
        })
    }

    /// Appends one row (normalised here); returns the values as stored (after rounding).
    pub fn push(&mut self, row: &EmbeddingRow) -> Result<Vec<f32>> {
        let norm = row.vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        let halves: Vec<u16> = row.vector.iter().map(|x| to_half(x / norm)).collect();
        let stored: Vec<f32> = halves.iter().map(|&h| from_half(h)).collect();
        let bytes: Vec<u8> = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
        self.vectors.write(&bytes)?;
        let mut meta = [0u8; ROW_BYTES];
        meta[0..8].copy_from_slice(&row.frame_id.to_le_bytes());
        meta[8..16].copy_from_slice(&row.video_id.to_le_bytes());
        meta[16..24].copy_from_slice(&row.t_s.to_le_bytes());
        meta[24] = u8::from(row.split == Split::Test);
        self.meta.write(&meta)?;
        let line = format!("{}\n", row.file.replace('\n', " "));
        self.files.write(line.as_bytes())?;
        self.files_bytes += line.len() as u64;
        let sq: f32 = stored.iter().map(|x| x * x).sum();
        self.norms.write(&sq.to_le_bytes())?;
        self.norms.write(&norm.to_le_bytes())?;
        Ok(stored)
    }

    /// Flushes everything to disk; returns the valid length of `files.txt`.
    pub fn finish(self) -> Result<u64> {
        for sink in [self.vectors, self.meta, self.files, self.norms] {
            sink.finish()?;
        }
        Ok(self.files_bytes)
    }
}

/// The first `n` little-endian f32 values of a file.
pub fn read_f32s(path: &Path, n: usize) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() < n * 4 {
        return Err(Error::File {
            path: path.into(),
            reason: "the vector store is damaged; run `reelmatch index rebuild`".into(),
        });
    }
    Ok(bytes.chunks_exact(4).take(n).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// `center.f32`: the f64 sum of the rows (`dim` values), then `n` row dot products.
pub fn read_centre(path: &Path, dim: usize, n: usize) -> Result<(Vec<f64>, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() < dim * 8 + n * 4 {
        return Err(Error::File {
            path: path.into(),
            reason: "the vector store is damaged; run `reelmatch index rebuild`".into(),
        });
    }
    let (sum, dots) = bytes.split_at(dim * 8);
    let sum = sum.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
    let dots = dots.chunks_exact(4).take(n).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok((sum, dots))
}

/// Writes `center.f32` (see [`read_centre`]) by rename.
pub fn write_centre(path: &Path, sum: &[f64], row_dot: &[f32]) -> Result<()> {
    let mut bytes = Vec::with_capacity(sum.len() * 8 + row_dot.len() * 4);
    sum.iter().for_each(|s| bytes.extend(s.to_le_bytes()));
    row_dot.iter().for_each(|d| bytes.extend(d.to_le_bytes()));
    crate::save::atomically(path, &bytes)
}
