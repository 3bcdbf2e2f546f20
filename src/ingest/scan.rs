//! Finding video files under the roots a user names.

use crate::error::{Error, Result};
use crate::media::{not_regular_reason, special_kind};
use std::collections::HashSet;
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
    /// What it is when it is not a regular file (a FIFO, socket or device): it is reported,
    /// never opened.
    pub special: Option<&'static str>,
}

/// What a scan found: the files, folders that could not be read (failures of their own), and
/// things skipped on purpose (link loops, FIFOs without a video extension).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// Sorted by path, each file once.
    pub found: Vec<Found>,
    /// Folders that could not be read, with the reason; the rest of the scan went on.
    pub failed: Vec<(PathBuf, String)>,
    /// Paths skipped on purpose, with why.
    pub notes: Vec<(PathBuf, String)>,
}

/// Walks `roots` (files or folders, recursively), skipping hidden entries and the folders in
/// `skip` (the library's own). Each folder is read once, however many links lead to it, so a
/// link loop ends. Unknown-extension files are returned too, for probing. A root that does not
/// exist is an error; a folder inside one that cannot be read is recorded and the scan goes on.
pub fn scan(roots: &[PathBuf], extensions: &[String], skip: &[PathBuf]) -> Result<Scan> {
    let mut walk = Walk { extensions, skip, seen: HashSet::new(), out: Scan::default() };
    for root in roots {
        let meta = std::fs::metadata(root).map_err(|e| Error::File {
            path: root.clone(),
            reason: format!("cannot read it ({e}); check the path and try again"),
        })?;
        let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
        if meta.is_dir() {
            walk.dir(&root, &meta);
        } else {
            walk.file(root, &meta, true);
        }
    }
    let mut out = walk.out;
    out.found.sort_by(|a, b| a.path.cmp(&b.path));
    out.found.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

struct Walk<'a> {
    extensions: &'a [String],
    skip: &'a [PathBuf],
    /// Folders read so far, by (device, inode).
    seen: HashSet<(u64, u64)>,
    out: Scan,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, meta: &std::fs::Metadata) {
        if self.skip.iter().any(|s| dir.starts_with(s)) {
            return;
        }
        if !self.seen.insert(identity(meta)) {
            let message = "leads to a folder already scanned (a link loop or a second link); skipped".to_string();
            self.out.notes.push((dir.to_path_buf(), message));
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return self.unreadable(dir, e),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return self.unreadable(dir, e),
            };
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            // Follows symlinks; a broken one is kept so it is reported, not silently dropped.
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => self.dir(&path, &m),
                Ok(m) => self.file(path, &m, false),
                Err(_) => self.broken(path),
            }
        }
    }

    fn file(&mut self, path: PathBuf, meta: &std::fs::Metadata, named: bool) {
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        let by_extension = named || self.extensions.iter().any(|e| e.eq_ignore_ascii_case(&ext));
        let special = special_kind(&meta.file_type());
        if let (Some(kind), false) = (special, by_extension) {
            self.out.notes.push((path, format!("skipped: {}", not_regular_reason(kind))));
        } else if by_extension || !NOT_VIDEO.contains(&ext.as_str()) {
            self.out.found.push(Found { path, by_extension, special });
        }
    }

    /// A link to nothing: kept when it looks like a video, so it is reported.
    fn broken(&mut self, path: PathBuf) {
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        let by_extension = self.extensions.iter().any(|e| e.eq_ignore_ascii_case(&ext));
        if by_extension || !NOT_VIDEO.contains(&ext.as_str()) {
            self.out.found.push(Found { path, by_extension, special: None });
        }
    }

    fn unreadable(&mut self, dir: &Path, e: std::io::Error) {
        let reason = format!(
            "this folder cannot be read ({e}), so the videos in it were skipped; fix its permissions and run again"
        );
        self.out.failed.push((dir.to_path_buf(), reason));
    }
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> (u64, u64) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    (0, NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
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
        let found = scan(&[d.to_path_buf()], &exts, &[]).unwrap().found;
        let names: Vec<_> = found
            .iter()
            .map(|f| (f.path.file_name().unwrap().to_string_lossy().into_owned(), f.by_extension))
            .collect();
        assert_eq!(names, vec![("mystery.bin".into(), false), ("y \"q\".MKV".into(), true), ("x.mp4".into(), true)]);
    }

    #[test]
    fn link_loops_end_and_each_file_is_found_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/v.mp4"), b"x").unwrap();
        std::os::unix::fs::symlink(".", d.join("a")).unwrap();
        std::os::unix::fs::symlink(".", d.join("b")).unwrap();
        std::os::unix::fs::symlink("..", d.join("sub/up")).unwrap();
        let exts = vec!["mp4".to_string()];
        let scan = scan(&[d.to_path_buf()], &exts, &[]).unwrap();
        assert_eq!(scan.found.len(), 1, "{:?}", scan.found);
        assert!(scan.notes.iter().any(|(_, m)| m.contains("link loop")), "{:?}", scan.notes);
        assert!(scan.failed.is_empty());
    }

    #[test]
    fn a_fifo_is_reported_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["pipe.mp4", "pipe"] {
            let c = std::ffi::CString::new(dir.path().join(name).to_str().unwrap()).unwrap();
            // SAFETY: mkfifo with a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        }
        let scan = scan(&[dir.path().to_path_buf()], &["mp4".to_string()], &[]).unwrap();
        assert_eq!(scan.found.len(), 1);
        assert_eq!(scan.found[0].special, Some("a named pipe (FIFO)"));
        assert!(scan.notes.iter().any(|(p, m)| p.ends_with("pipe") && m.contains("not a regular file")));
    }

    #[test]
    fn a_missing_root_is_an_error_naming_it() {
        let e = scan(&[PathBuf::from("/no/such/dir")], &[], &[]).unwrap_err().to_string();
        assert!(e.contains("/no/such/dir"), "{e}");
    }
}
