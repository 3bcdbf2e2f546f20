//! Finding video files under the roots a user names.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Extensions never treated as video, so they are not probed.
const NOT_VIDEO: &[&str] = &[
    "txt", "md", "nfo", "json", "xml", "csv", "srt", "vtt", "ass", "sub", "jpg", "jpeg", "png", "gif", "webp", "bmp",
    "tif", "tiff", "svg", "pdf", "mp3", "flac", "wav", "ogg", "opus", "aac", "m4a", "wma", "zip", "gz", "tar", "7z",
    "exe", "sh", "db", "sqlite", "part", "tmp", "ini", "toml", "yaml", "yml", "log", "html", "htm", "lrc", "cue",
];

/// A file found under a root.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub path: PathBuf,
    /// Its extension is one of the configured video extensions (if it turns out not to be a
    /// video, that is an error); otherwise it is kept only if probing shows video.
    pub by_extension: bool,
}

/// Walks `roots` (files or folders, recursively), skipping hidden entries and the folders in
/// `skip` (the library's own). Unknown-extension files are returned too, for probing. Sorted by path.
pub fn scan(roots: &[PathBuf], extensions: &[String], skip: &[PathBuf]) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    for root in roots {
        let meta = std::fs::metadata(root).map_err(|e| {
            Error::Invalid(format!("{}: cannot read it ({e}); check the path and try again", root.display()))
        })?;
        let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
        if meta.is_dir() {
            walk(&root, extensions, skip, &mut out)?;
        } else {
            out.push(Found { by_extension: true, path: root });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

fn walk(dir: &Path, extensions: &[String], skip: &[PathBuf], out: &mut Vec<Found>) -> Result<()> {
    if skip.iter().any(|s| dir.starts_with(s)) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Follows symlinks; a broken one is kept so it is reported, not silently dropped.
        let is_dir = std::fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            walk(&path, extensions, skip, out)?;
            continue;
        }
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        if extensions.iter().any(|e| e.eq_ignore_ascii_case(&ext)) {
            out.push(Found { path, by_extension: true });
        } else if !NOT_VIDEO.contains(&ext.as_str()) {
            out.push(Found { path, by_extension: false });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_videos_recursively_and_skips_hidden_and_known_non_video() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a b/ünï")).unwrap();
        std::fs::create_dir_all(d.join(".hidden")).unwrap();
        for f in ["x.mp4", "a b/ünï/y \"q\".MKV", "notes.txt", ".hidden/z.mp4", "a b/mystery.bin"] {
            std::fs::write(d.join(f), b"").unwrap();
        }
        let exts: Vec<String> = ["mp4", "mkv"].iter().map(|s| s.to_string()).collect();
        let found = scan(&[d.to_path_buf()], &exts, &[]).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|f| (f.path.file_name().unwrap().to_string_lossy().into_owned(), f.by_extension))
            .collect();
        assert_eq!(names, vec![("mystery.bin".into(), false), ("y \"q\".MKV".into(), true), ("x.mp4".into(), true)]);
    }

    #[test]
    fn a_missing_root_is_an_error_naming_it() {
        let e = scan(&[PathBuf::from("/no/such/dir")], &[], &[]).unwrap_err().to_string();
        assert!(e.contains("/no/such/dir"), "{e}");
    }
}
