//! Typed errors of the reelmatch library, each written for the person who will read it.

use crate::types::Role;
use std::path::PathBuf;

/// What a person can do about an error. The CLI words it as a command (the error's own text),
/// the dashboard as keys to press or a setting; each frontend picks its wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Ingest videos (the library has none ready).
    Ingest,
    /// Ingest with an image model configured, so frames get features.
    IngestWithImageModel,
    /// Add more videos to the library.
    IngestMore,
    /// Let the running ingestion finish.
    WaitForIngest,
    /// Start a new training run.
    NewRun,
    /// Look at the list of runs.
    ListRuns,
    /// Train again (the stored head does not fit).
    TrainAgain,
    /// Run on the CPU.
    UseCpu,
    /// Build reelmatch with CUDA (or run on the CPU).
    CudaBuild,
    /// Name a folder for the library.
    ChooseLibraryFolder,
    /// Confirm a long computation of augmented views (or switch them off).
    ConfirmViews,
    /// Turn the vision-text role on and embed the library's frames with it.
    EmbedForDescriptions,
}

impl Remedy {
    /// The command-line wording.
    pub fn cli(self) -> &'static str {
        match self {
            Remedy::Ingest => "run `reelmatch ingest DIR` first",
            Remedy::IngestWithImageModel => "run `reelmatch ingest DIR` with an image model first",
            Remedy::IngestMore => "ingest more videos first",
            Remedy::WaitForIngest => "let ingestion finish first (or run `reelmatch ingest` on it)",
            Remedy::NewRun => "start a new run with `reelmatch train`",
            Remedy::ListRuns => "`reelmatch runs` lists the runs",
            Remedy::TrainAgain => "train again with `reelmatch train`",
            Remedy::UseCpu => "pass --device cpu (or auto) to run on the CPU",
            Remedy::CudaBuild => {
                "build a CUDA one with `scripts/build-cuda.sh --release` (docs/models.md, \"A GPU build\"), or pass --device cpu (or auto)"
            }
            Remedy::ChooseLibraryFolder => "pass --library with a folder (it is created if missing)",
            Remedy::ConfirmViews => {
                "run `reelmatch train --yes` to compute them (they are cached for every later run), or set train.augmented_views = 0 to train without them"
            }
            Remedy::EmbedForDescriptions => {
                "turn [models.vision_text] on (or pass --vision-text-model DIR) and run `reelmatch index update`"
            }
        }
    }
}

fn known_ones(what: &str, known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; known {what}s: {}", known.join(", "))
    }
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

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

    #[error("cannot reach the PostgreSQL server of {url}: {detail}. Check that it is running and that the URL's host and port are right (`pg_isready -d URL` tells).")]
    SharedUnreachable { url: String, detail: String },

    #[error("the PostgreSQL server of {url} refused the login: {detail}. Check the user and password in the URL (postgres://USER:PASSWORD@HOST/DATABASE) and the server's pg_hba.conf.")]
    SharedAuth { url: String, detail: String },

    #[error("the PostgreSQL database {url} has no pgvector extension ({detail}). Install pgvector on the server (Debian/Ubuntu: `apt-get install postgresql-NN-pgvector` for your server's version NN; or run the `pgvector/pgvector` container image), then run `CREATE EXTENSION vector;` in the database as its owner and `reelmatch --catalog URL migrate`.")]
    SharedNoVector { url: String, detail: String },

    #[error("the catalog {url} was set up by a newer reelmatch (schema {found}, this build knows up to {known}); upgrade reelmatch.")]
    SharedTooNew { url: String, found: i64, known: i64 },

    #[error(
        "the catalog {url} is not set up for reelmatch yet (no schema); run `reelmatch --catalog URL migrate` once."
    )]
    SharedNotMigrated { url: String },

    #[error("{}: this worker's claim on it ran out ({}); it was left to the other worker", path.display(), by.as_deref().map_or_else(|| "nobody holds it now".to_string(), |w| format!("{w} holds it now")))]
    ClaimLost { path: PathBuf, by: Option<String> },

    #[error("PostgreSQL catalog {url}: {detail}")]
    Shared { url: String, detail: String },

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
    ModelMissing { role: Role, reason: String },

    /// A role's model files cannot be found or are incomplete (the message says where it looked
    /// and the ways to provide them).
    #[error("{detail}")]
    ModelUnavailable { role: Role, detail: String },

    /// A model file is there but is not what the role needs.
    #[error("{}: cannot load the {what} ({reason}); {expected}", path.display())]
    BadModelFile { path: PathBuf, what: &'static str, reason: String, expected: &'static str },

    /// A forward pass, the trainer or a tokeniser failed.
    #[error("{what} failed: {reason}")]
    Compute { what: &'static str, reason: String },

    #[error(transparent)]
    UnknownDevice(#[from] crate::types::UnknownDevice),

    /// The library is not ready for what was asked; `remedy` says what gets it there.
    #[error("{problem}; {}", remedy.cli())]
    NotReady { problem: String, remedy: Remedy },

    #[error("no video in the library is called \"{asked}\"; did you mean {}?", quoted(near))]
    NoSuchVideo { asked: String, near: Vec<String> },

    #[error("\"{asked}\" matches several videos: {}; give the id or the full title", matches.join(", "))]
    AmbiguousVideo { asked: String, matches: Vec<String> },

    #[error("\"{asked}\" is the id of \"{by_id}\" and also the title of video {titled_id}: give {titled_id} for the video titled \"{asked}\", or the title \"{by_id}\" for video {asked}")]
    IdOrTitle { asked: String, by_id: String, titled_id: i64 },

    #[error("unknown {what} `{name}`{}", known_ones(what, known))]
    Unknown { what: &'static str, name: String, known: Vec<String> },

    /// A file reelmatch was asked to read or write (not a media file, not the library's own).
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },

    /// The video player cannot be found.
    #[error("no video player: `{player}` is not installed or not on PATH; install mpv (`apt-get install mpv`, `brew install mpv`) or name a player in `[player] command`")]
    PlayerMissing { player: String },

    /// What was asked makes no sense as given; the message says why.
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

    /// The library is not ready: `problem`, and what gets it there.
    pub fn not_ready(problem: impl Into<String>, remedy: Remedy) -> Self {
        Error::NotReady { problem: problem.into(), remedy }
    }

    /// `what` (a model, the trainer) failed with `reason`.
    pub fn compute(what: &'static str, reason: impl std::fmt::Display) -> Self {
        Error::Compute { what, reason: reason.to_string() }
    }

    /// A problem with one media file, with a reason a user can act on.
    pub fn media(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Media { path: path.into(), reason: reason.into() }
    }
}
