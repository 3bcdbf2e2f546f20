//! Where the shared catalog's paths are on this machine (`--path-map SHARED=LOCAL`).

use std::path::{Path, PathBuf};

/// Where the shared paths are mounted on this machine: `--path-map SHARED=LOCAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMap {
    pub shared: PathBuf,
    pub local: PathBuf,
}

impl std::str::FromStr for PathMap {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once('=') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok(PathMap { shared: a.into(), local: b.into() }),
            _ => Err(format!("`{s}` is not SHARED=LOCAL (e.g. /mnt/nas=/Volumes/nas)")),
        }
    }
}

/// Turns paths between the shared form (stored in the catalog) and this machine's.
#[derive(Debug, Clone, Default)]
pub struct Paths(pub Vec<PathMap>);

impl Paths {
    pub fn to_local(&self, shared: &Path) -> PathBuf {
        self.0
            .iter()
            .find_map(|m| shared.strip_prefix(&m.shared).ok().map(|rest| m.local.join(rest)))
            .unwrap_or_else(|| shared.to_path_buf())
    }

    pub fn to_shared(&self, local: &Path) -> PathBuf {
        self.0
            .iter()
            .find_map(|m| local.strip_prefix(&m.local).ok().map(|rest| m.shared.join(rest)))
            .unwrap_or_else(|| local.to_path_buf())
    }
}
