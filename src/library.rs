//! The library directory: where the catalog, frame images, audio and logs live.

use crate::error::{Error, Remedy, Result};
use std::path::{Path, PathBuf};

/// A library directory on disk.
#[derive(Debug, Clone)]
pub struct Library {
    root: PathBuf,
}

impl Library {
    /// The platform's data directory for reelmatch (e.g. `~/.local/share/reelmatch`).
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "reelmatch").map(|d| d.data_dir().to_path_buf())
    }

    /// Opens (creating if needed) the library at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if root.exists() && !root.is_dir() {
            return Err(Error::not_ready(
                format!("the library {} is a file, not a folder", root.display()),
                Remedy::ChooseLibraryFolder,
            ));
        }
        for dir in [root.clone(), root.join("frames"), root.join("audio"), root.join("logs")] {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let root = root.canonicalize().map_err(|e| Error::io(&root, e))?;
        Ok(Library { root })
    }

    /// The library at `root` as it is, made or checked for nothing (for commands that keep
    /// nothing in it).
    pub fn at(root: &Path) -> Self {
        Library { root: root.to_path_buf() }
    }

    /// The library's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The catalog database file.
    pub fn catalog_path(&self) -> PathBuf {
        self.root.join("catalog.sqlite")
    }

    /// The directory holding one video's frame images.
    pub fn frames_dir(&self, video_id: i64) -> PathBuf {
        self.root.join("frames").join(video_id.to_string())
    }

    /// A path relative to the library root made absolute.
    pub fn resolve(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The 16 kHz mono f32 little-endian PCM file of one video's audio.
    pub fn audio_path(&self, video_id: i64) -> PathBuf {
        self.root.join("audio").join(format!("{video_id}.f32"))
    }

    /// The folders reelmatch writes inside the library; never scanned for videos.
    pub fn internal_dirs(&self) -> Vec<PathBuf> {
        ["frames", "audio", "logs", "runs", "models"].iter().map(|d| self.root.join(d)).collect()
    }

    /// Where logs are written.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}
