//! Checksums of the store's files, kept in its header, so damage of any kind (random bytes,
//! zeros, a hand edit of the same length) is found and the store built again from the catalog,
//! never ranked from. The per-row files and the centre are hashed whole (a few percent of the
//! store); the vectors by 1 MiB block, so an append hashes only the blocks it touched, and a
//! query checks a sample of blocks while `index update` checks them all.

use super::Header;
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Bytes of `vectors.f16` a block checksum covers.
const BLOCK: u64 = 1 << 20;

/// Blocks of vectors a query checks besides the last one.
const SAMPLED_BLOCKS: usize = 8;

/// What the header records of the files' contents.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Checksums {
    /// BLAKE3 of `rows.bin`, `files.txt` and `norms.f32` up to their valid length, and of
    /// `center.f32`.
    pub rows: String,
    pub files: String,
    pub norms: String,
    pub centre: String,
    /// The valid bytes of `vectors.f16` the blocks cover.
    pub vector_bytes: u64,
    /// BLAKE3 of each block of `vectors.f16` (the last one may be short), its first 128 bits.
    pub vector_blocks: Vec<String>,
}

/// How much of the vectors to check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Depth {
    /// The last block and a few others at random: what every open pays.
    Sampled,
    /// Every block: `index update`.
    Full,
}

/// The valid lengths of the files the header describes.
fn lengths(h: &Header) -> (u64, u64, u64, u64) {
    let n = h.rows as u64;
    (n * h.dim as u64 * 2, n * super::ROW_BYTES as u64, h.files_bytes, n * 8)
}

/// The checksums of the store in `dir` as `header` describes it, reusing `previous`' hashes of
/// the vector blocks an append did not touch.
pub fn compute(dir: &Path, header: &Header, previous: Option<&Checksums>) -> Result<Checksums> {
    let (vector_bytes, rows, files, norms) = lengths(header);
    let vectors = dir.join("vectors.f16");
    let blocks = block_hashes(&vectors, vector_bytes, previous.map(|p| (p.vector_bytes, &p.vector_blocks[..])), false)?;
    Ok(Checksums {
        rows: hash_range(&dir.join("rows.bin"), 0, rows)?,
        files: hash_range(&dir.join("files.txt"), 0, files)?,
        norms: hash_range(&dir.join("norms.f32"), 0, norms)?,
        centre: hash_file(&dir.join("center.f32"))?,
        vector_bytes,
        vector_blocks: blocks,
    })
}

/// Checks the store in `dir` against its header's checksums (a store without them is taken
/// for damaged: it is built again once).
pub fn verify(dir: &Path, header: &Header, depth: Depth) -> Result<()> {
    let damaged = |what: &str| Error::File {
        path: dir.join(what),
        reason: "the vector store's file does not match its checksum (damaged); it is built again from the catalog"
            .into(),
    };
    let Some(sums) = &header.checksums else { return Err(damaged("header.json")) };
    let (vector_bytes, rows, files, norms) = lengths(header);
    for (file, len, want) in
        [("rows.bin", rows, &sums.rows), ("files.txt", files, &sums.files), ("norms.f32", norms, &sums.norms)]
    {
        if hash_range(&dir.join(file), 0, len).ok().as_ref() != Some(want) {
            return Err(damaged(file));
        }
    }
    if hash_file(&dir.join("center.f32")).ok().as_ref() != Some(&sums.centre) {
        return Err(damaged("center.f32"));
    }
    if sums.vector_bytes != vector_bytes
        || !blocks_match(&dir.join("vectors.f16"), vector_bytes, &sums.vector_blocks, depth)
    {
        return Err(damaged("vectors.f16"));
    }
    Ok(())
}

/// BLAKE3 of each 1 MiB block of the first `bytes` of `path` (the first 128 bits of each; the
/// last block may be short), reusing `previous` (the bytes they covered, their hashes) for the
/// whole blocks below what they covered: a file that is appended to keeps its earlier blocks.
/// With `header`, block 0 is hashed again all the same (a header at the file's start that an
/// append rewrites).
pub fn block_hashes(path: &Path, bytes: u64, previous: Option<(u64, &[String])>, header: bool) -> Result<Vec<String>> {
    let again = header.then_some(0);
    let mut blocks: Vec<String> = match previous {
        // Whole blocks below what the previous checksums covered are as they were.
        Some((covered, hashes)) if covered <= bytes => {
            hashes.iter().take((covered / BLOCK) as usize).cloned().collect()
        }
        _ => Vec::new(),
    };
    if let Some(i) = again.filter(|&i| i < blocks.len()) {
        let at = i as u64 * BLOCK;
        blocks[i] = hash_range(path, at, BLOCK.min(bytes - at))?[..32].to_string();
    }
    let mut at = blocks.len() as u64 * BLOCK;
    while at < bytes {
        let len = BLOCK.min(bytes - at);
        blocks.push(hash_range(path, at, len)?[..32].to_string());
        at += len;
    }
    Ok(blocks)
}

/// Whether the first `bytes` of `path` match `hashes` ([`block_hashes`]): every block, or the
/// last one and a few others at random.
pub fn blocks_match(path: &Path, bytes: u64, hashes: &[String], depth: Depth) -> bool {
    let count = hashes.len();
    if count as u64 != bytes.div_ceil(BLOCK) {
        return false;
    }
    if count == 0 {
        return true;
    }
    let checked: Vec<usize> = match depth {
        Depth::Full => (0..count).collect(),
        Depth::Sampled if count <= SAMPLED_BLOCKS + 1 => (0..count).collect(),
        Depth::Sampled => {
            let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos());
            let mut rng = crate::rng::SplitMix64(seed as u64);
            let mut picked: Vec<usize> = (0..SAMPLED_BLOCKS).map(|_| rng.below(count - 1)).collect();
            picked.push(count - 1);
            picked
        }
    };
    checked.into_iter().all(|i| {
        let at = i as u64 * BLOCK;
        let len = BLOCK.min(bytes - at);
        hash_range(path, at, len).ok().map(|h| h[..32].to_string()).as_ref() == Some(&hashes[i])
    })
}

/// BLAKE3 of `len` bytes of `path` from `offset` (an error where the file is shorter).
fn hash_range(path: &Path, offset: u64, len: u64) -> Result<String> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(path, e))?;
    let mut hasher = blake3::Hasher::new();
    let copied = std::io::copy(&mut file.take(len), &mut hasher).map_err(|e| Error::io(path, e))?;
    if copied != len {
        return Err(Error::File { path: path.into(), reason: "shorter than the store's header says".into() });
    }
    Ok(hasher.finalize().to_hex().to_string())
}

fn hash_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}
