//! What may be opened as media: regular files only. A FIFO, socket or device would make ffmpeg,
//! ffprobe or the image decoder wait forever for data that never comes.

use crate::error::{Error, Result};
use std::fs::FileType;
use std::path::Path;

/// What kind of non-regular file this is, in words; `None` for a regular file or a folder.
pub fn special_kind(ft: &FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
        if ft.is_block_device() || ft.is_char_device() {
            return Some("a device");
        }
    }
    (!ft.is_file() && !ft.is_dir()).then_some("not an ordinary file")
}

/// The reason shown against a file that is not a regular file.
pub fn not_regular_reason(kind: &str) -> String {
    format!("is not a regular file ({kind}); only video files can be read. Point reelmatch at the video file itself.")
}

/// Checks that `path` (links followed) is a regular file before anything opens it.
pub fn require_regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::media(path, "is a folder, not a file; name a file"));
    }
    match special_kind(&meta.file_type()) {
        Some(kind) => Err(Error::media(path, not_regular_reason(kind))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.mp4");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = require_regular_file(&fifo).unwrap_err().to_string();
        assert!(e.contains("pipe.mp4") && e.contains("named pipe"), "{e}");
        let file = dir.path().join("ok.mp4");
        std::fs::write(&file, b"x").unwrap();
        require_regular_file(&file).unwrap();
    }
}
