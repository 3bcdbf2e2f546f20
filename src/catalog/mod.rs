//! The embedded catalog: one SQLite database (WAL mode) per library, versioned by migrations.

mod decisions;
mod fingerprints;
mod frames;
mod outputs;
mod records;
mod runs;
mod schema;
mod stream;
mod video_records;
mod videos;

pub use decisions::is_decided;
pub use frames::{FrameRecord, Split};
pub use outputs::{
    description_model, from_blob, is_vision_text, preferred_model, to_blob, vision_text_key, FrameEmbedding,
    TranscriptInfo, WHOLE,
};
pub use records::{RunDetail, RunItem, RunRecords};
pub use runs::{NewRun, RunRow, RunStatus};
pub use stream::{EmbeddingRow, Identity, Stamp};
pub use video_records::VideoRecords;
pub use videos::{Stage, Status, VideoRow};

use crate::error::{Error, Result};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An open connection to a library's catalog. Open one per thread; SQLite serialises writers.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

impl Catalog {
    /// Opens the catalog at `path`, creating it and applying migrations as needed.
    pub fn open(path: &Path) -> Result<Self> {
        crate::blocking::off_drawing_thread("open the catalog");
        let conn = Connection::open(path).map_err(|source| Error::Catalog { path: path.into(), source })?;
        let mut catalog = Catalog { conn, path: path.into() };
        catalog.configure()?;
        schema::migrate(&mut catalog.conn, path)?;
        Ok(catalog)
    }

    fn configure(&mut self) -> Result<()> {
        self.conn.busy_timeout(Duration::from_secs(30)).map_err(|e| self.err(e))?;
        self.conn
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| self.err(e))
    }

    /// A number that changes whenever another connection commits to the catalog (SQLite's
    /// `data_version`): a long-lived reader compares it to know whether what it read is current.
    pub fn data_version(&self) -> Result<i64> {
        self.conn.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// The schema version this catalog is at.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// The SQLite journal mode in force (`wal` for a catalog opened here).
    pub fn journal_mode(&self) -> Result<String> {
        self.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// The catalog's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> Error {
        Error::Catalog { path: self.path.clone(), source }
    }
}
