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

    #[error("catalog {}: {source}. If the library is damaged, move it aside and run `reelmatch ingest` again.", path.display())]
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

    #[error("{0}")]
    Invalid(String),

    #[error("stopped before finishing; run the same command again to continue where it stopped")]
    Cancelled,
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// A problem with one media file, with a reason a user can act on.
    pub fn media(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Media { path: path.into(), reason: reason.into() }
    }
}
