//! Files written whole or not at all, and safely in a folder others can write to: the bytes go
//! to a temporary file created exclusively under a random name beside the target (so no one can
//! plant a link at a name known in advance), are flushed, and the file is renamed over the
//! target (which replaces a link there instead of following it). Playlists, plots, the vector
//! store's headers and the copy's run files are all written through [`atomically`].

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` (its folder made if missing): readers see the old file or the new
/// one, never half of one.
pub fn atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // (`.tmp`: an ingest scanning a folder that holds a library never takes it for a video.)
    let mut file = tempfile::Builder::new()
        .prefix(".reelmatch-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    file.write_all(bytes).and_then(|_| file.as_file().sync_data()).map_err(|e| Error::io(file.path(), e))?;
    file.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_at_the_target_or_at_a_guessable_temporary_name_is_never_followed() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("the victim file");
        let target = dir.path().join("list.m3u");
        // The names an older writer used, planted as links to the victim.
        for planted in ["list.m3u.tmp", "list.m3u.partial", "list.partial"] {
            std::os::unix::fs::symlink(&victim, dir.path().join(planted)).expect("a link");
        }
        atomically(&target, b"#EXTM3U\n").expect("written");
        assert_eq!(std::fs::read_to_string(&victim).expect("the victim"), "precious");
        assert_eq!(std::fs::read(&target).expect("the target"), b"#EXTM3U\n");

        // A link at the target itself is replaced, not written through.
        let linked = dir.path().join("linked.m3u");
        std::os::unix::fs::symlink(&victim, &linked).expect("a link");
        atomically(&linked, b"new").expect("written");
        assert_eq!(std::fs::read_to_string(&victim).expect("the victim"), "precious");
        assert!(!std::fs::symlink_metadata(&linked).expect("the file").file_type().is_symlink());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("the folder")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".reelmatch-"))
            .collect();
        assert!(left.is_empty(), "no temporary file is left behind");
    }
}
