//! reelmatch's child processes (ffmpeg, ffprobe): each in its own process group, so a
//! terminal's Ctrl-C reaches reelmatch alone and reelmatch decides how its children stop; each
//! watched, so none outlives a cancellation, a stall or its time limit.

use crate::events::Cancel;
use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a child may go without showing progress before it is taken to hang.
pub const STALL: Duration = Duration::from_secs(60);

/// The children alive now, so they can be stopped if reelmatch must exit at once.
static LIVE: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

/// Puts the child that `cmd` will start in a process group of its own.
pub fn own_group(cmd: &mut Command) -> &mut Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd
}

/// Kills every child still running (for an immediate exit, e.g. a second Ctrl-C).
pub fn kill_children() {
    let live = LIVE.lock().map(|l| l.clone().unwrap_or_default()).unwrap_or_default();
    for pid in live {
        kill(pid);
    }
}

fn kill(pid: u32) {
    #[cfg(unix)]
    // SAFETY: kill(2) with a pid of our own unreaped child; a zombie ignores the signal.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// Why a watched child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It ended by itself.
    Exited,
    /// It was killed because the job was cancelled.
    Cancelled,
    /// It was killed for showing no progress for [`STALL`], or for passing its time limit.
    TimedOut,
}

struct State {
    finished: bool,
    last_progress: Instant,
}

/// A watchdog over one child: kills it on cancellation, on a stall, or past its time limit.
/// Call [`Watch::finish`] once the child's output has ended and before reaping it, so the pid
/// the watchdog may signal is still the child's.
pub struct Watch {
    state: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<Ending>>,
    pid: u32,
}

impl Watch {
    /// Starts watching `pid` (a child not yet reaped). `limit` bounds its whole run.
    pub fn start(pid: u32, limit: Duration, cancel: Option<&Cancel>) -> Watch {
        if let Ok(mut live) = LIVE.lock() {
            live.get_or_insert_with(HashSet::new).insert(pid);
        }
        let state = Arc::new((Mutex::new(State { finished: false, last_progress: Instant::now() }), Condvar::new()));
        let shared = state.clone();
        let cancel = cancel.cloned();
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            let (lock, wake) = &*shared;
            let Ok(mut s) = lock.lock() else { return Ending::Exited };
            loop {
                if s.finished {
                    return Ending::Exited;
                }
                let ending = if cancel.as_ref().is_some_and(Cancel::is_cancelled) {
                    Some(Ending::Cancelled)
                } else if s.last_progress.elapsed() > STALL || started.elapsed() > limit {
                    Some(Ending::TimedOut)
                } else {
                    None
                };
                if let Some(ending) = ending {
                    kill(pid);
                    return ending;
                }
                s = match wake.wait_timeout(s, Duration::from_millis(100)) {
                    Ok((s, _)) => s,
                    Err(_) => return Ending::Exited,
                };
            }
        });
        Watch { state, thread: Some(thread), pid }
    }

    /// Records that the child made progress (a frame, a block of output).
    pub fn progress(&self) {
        if let Ok(mut s) = self.state.0.lock() {
            s.last_progress = Instant::now();
        }
    }

    /// Stops watching and says why the child ended.
    pub fn finish(mut self) -> Ending {
        self.stop()
    }

    fn stop(&mut self) -> Ending {
        if let Ok(mut s) = self.state.0.lock() {
            s.finished = true;
        }
        self.state.1.notify_all();
        let ending = self.thread.take().and_then(|t| t.join().ok()).unwrap_or(Ending::Exited);
        if let Ok(mut live) = LIVE.lock() {
            if let Some(l) = live.as_mut() {
                l.remove(&self.pid);
            }
        }
        ending
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn sleeper() -> std::process::Child {
        own_group(Command::new("sleep").arg("30")).stdin(Stdio::null()).spawn().expect("sleep runs")
    }

    #[test]
    fn a_child_past_its_limit_is_killed() {
        let mut child = sleeper();
        let watch = Watch::start(child.id(), Duration::from_millis(200), None);
        let started = Instant::now();
        let status = child.wait().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!status.success());
        assert_eq!(watch.finish(), Ending::TimedOut);
    }

    #[test]
    fn a_cancelled_job_kills_its_child_and_says_so() {
        let mut child = sleeper();
        let cancel = Cancel::new();
        let watch = Watch::start(child.id(), Duration::from_secs(60), Some(&cancel));
        cancel.cancel();
        child.wait().unwrap();
        assert_eq!(watch.finish(), Ending::Cancelled);
    }

    #[test]
    fn a_child_that_ends_by_itself_exited() {
        let mut child = own_group(&mut Command::new("true")).spawn().unwrap();
        let watch = Watch::start(child.id(), Duration::from_secs(60), None);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(watch.finish(), Ending::Exited);
        assert!(child.wait().unwrap().success());
    }
}
