//! Typed errors of the reelmatch library, each written for the person who will read it.

use std::path::PathBuf;

/// Everything the reelmatch library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config {file}: {message}")]
    Config { file: String, message: String },

    #[error("{tool} was not found (tried `{program}`). Install FFmpeg, which provides ffmpeg and ffprobe: `apt-get install ffmpeg` on Debian/Ubuntu, `brew install ffmpeg` on macOS, `winget install ffmpeg` on Windows; or set `tools.{tool}` in the config to its full path.")]
    ToolMissing { tool: &'static str, program: String },

    #[error("{}: {reason}", path.display())]
    Media { path: PathBuf, reason: String },

    #[error("catalog {}: {source}. {}", path.display(), catalog_advice(source))]
    Catalog {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("catalog {} was written by a newer reelmatch (schema {found}, this build knows up to {known}); upgrade reelmatch.", path.display())]
    CatalogTooNew { path: PathBuf, found: i64, known: i64 },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Writing the library's own files failed (disk full, read-only): the library's problem,
    /// never recorded against a video.
    #[error("cannot write {}: {source}. {}", path.display(), storage_advice(source))]
    Storage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A model role the work needs cannot be loaded.
    #[error("the {} model is not available: {reason}", role.name())]
    ModelMissing { role: crate::types::Role, reason: String },

    #[error(transparent)]
    UnknownDevice(#[from] crate::types::UnknownDevice),

    #[error("{0}")]
    Invalid(String),

    #[error("stopped before finishing; run the same command again to continue where it stopped")]
    Cancelled,
}

/// What to do about a catalog error: a full or read-only disk is not damage.
fn catalog_advice(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode::*;
    match e.sqlite_error_code() {
        Some(DiskFull) => "The disk holding the library is full: free some space and run the same command again.",
        Some(ReadOnly | PermissionDenied | CannotOpen) => {
            "The library cannot be written here (read-only disk or folder permissions): make it writable, or pass --library with another folder."
        }
        Some(DatabaseBusy | DatabaseLocked) => {
            "Another reelmatch is writing the library: wait for it to finish and run this again."
        }
        _ => "If the library is damaged, move it aside and run `reelmatch ingest` again.",
    }
}

fn storage_advice(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
            "The disk holding the library is full: free some space and run the same command again; nothing already done is lost."
        }
        Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM) => {
            "The library cannot be written (read-only disk or folder permissions): make it writable and run the same command again."
        }
        _ => "Check the disk holding the library and run the same command again; nothing already done is lost.",
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Turns an I/O error on one of `library_root`'s own files into [`Error::Storage`], so it is
    /// reported as the library's problem; other errors are returned as they are.
    pub fn in_library(self, library_root: &std::path::Path) -> Self {
        match self {
            Error::Io { path, source } if path.starts_with(library_root) => Error::Storage { path, source },
            other => other,
        }
    }

    /// A problem with one media file, with a reason a user can act on.
    pub fn media(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Media { path: path.into(), reason: reason.into() }
    }
}
