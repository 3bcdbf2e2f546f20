//! One writer per library: ingestion and training hold an advisory lock on
//! `<library>/writer.lock` (flock), so two processes never write the same library at once.
//! Readers (queries, listings, the dashboard's views) never take it and are never blocked.
//! Jobs of one process (the dashboard's ingest and training) share the process's hold.

use crate::error::{Error, Result};
use crate::events::Cancel;
use crate::library::Library;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// This process's holds, by lock file.
static HELD: Mutex<Option<HashMap<PathBuf, Weak<File>>>> = Mutex::new(None);

/// A hold on a library's writer lock; released when the last clone in this process is dropped.
#[derive(Clone)]
pub struct WriterLock {
    _file: Arc<File>,
}

/// Who holds a library's lock, as its lock file says.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub pid: u32,
    /// What it is doing ("ingesting", "training").
    pub doing: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "another reelmatch (pid {}) is {} this library", self.pid, self.doing)
    }
}

fn lock_path(library: &Library) -> PathBuf {
    library.root().join("writer.lock")
}

impl WriterLock {
    /// Takes the library's writer lock for `doing` ("ingesting", "training"). When another
    /// process holds it, `on_wait` is told who, once, and this waits until it is free, or
    /// returns [`Error::Cancelled`] when `cancel` is set first.
    pub fn acquire(
        library: &Library,
        doing: &str,
        cancel: &Cancel,
        on_wait: impl FnOnce(&Holder),
    ) -> Result<WriterLock> {
        let mut on_wait = Some(on_wait);
        loop {
            if let Some(lock) = Self::try_acquire(library, doing, true)? {
                return Ok(lock);
            }
            if let Some(tell) = on_wait.take() {
                tell(&holder(library).unwrap_or(Holder { pid: 0, doing: "writing to".into() }));
            }
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Takes the lock if no process holds it. With `share`, a hold this process already has
    /// counts as taken; without, it counts as busy (for work that must know nobody writes).
    pub fn try_acquire(library: &Library, doing: &str, share: bool) -> Result<Option<WriterLock>> {
        let path = lock_path(library);
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        let held = held.get_or_insert_with(HashMap::new);
        if let Some(file) = held.get(&path).and_then(Weak::upgrade) {
            return Ok(share.then_some(WriterLock { _file: file }));
        }
        let io = |e| Error::io(&path, e);
        let mut file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        if !flock_exclusive(&file).map_err(io)? {
            return Ok(None);
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{} {doing}", std::process::id()).map_err(io)?;
        let file = Arc::new(file);
        held.insert(path, Arc::downgrade(&file));
        Ok(Some(WriterLock { _file: file }))
    }
}

/// Who holds the lock now, if the lock file says.
pub fn holder(library: &Library) -> Option<Holder> {
    let mut text = String::new();
    File::open(lock_path(library)).ok()?.read_to_string(&mut text).ok()?;
    let (pid, doing) = text.trim().split_once(' ')?;
    Some(Holder { pid: pid.parse().ok()?, doing: doing.to_string() })
}

/// Tries flock(LOCK_EX | LOCK_NB): true when taken, false when another open file holds it.
fn flock_exclusive(file: &File) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a file descriptor this File owns for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(false);
        }
        Err(e)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_shares_its_hold_and_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let lib = Library::open(dir.path()).unwrap();
        let a = WriterLock::try_acquire(&lib, "ingesting", true).unwrap().expect("free");
        assert!(WriterLock::try_acquire(&lib, "training", true).unwrap().is_some(), "shared in-process");
        assert!(WriterLock::try_acquire(&lib, "checking", false).unwrap().is_none(), "busy for exclusive use");
        assert_eq!(holder(&lib).unwrap(), Holder { pid: std::process::id(), doing: "ingesting".into() });
        drop(a);
        assert!(WriterLock::try_acquire(&lib, "checking", false).unwrap().is_some(), "released");
    }

    #[test]
    fn another_open_file_description_is_a_second_writer() {
        let dir = tempfile::tempdir().unwrap();
        let lib = Library::open(dir.path()).unwrap();
        let _held = WriterLock::try_acquire(&lib, "ingesting", true).unwrap().expect("free");
        let other = File::open(lock_path(&lib)).unwrap();
        assert!(!flock_exclusive(&other).unwrap(), "a second process would find it taken");
    }
}
