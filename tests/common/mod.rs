//! Helpers shared by the integration tests: generated media (ffmpeg lavfi), test assets,
//! a small-and-fast config, and the binary.
#![allow(dead_code)]

use reelmatch::config::{Config, Layer};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A video to generate with ffmpeg's lavfi sources.
pub struct Gen<'a> {
    /// A lavfi video source, e.g. `testsrc2`, `smptebars`, `mandelbrot`.
    pub source: &'a str,
    pub seconds: f64,
    pub size: &'a str,
    pub rate: u32,
    /// A sine tone of this frequency as the audio track; `None` for no audio stream.
    pub tone_hz: Option<u32>,
}

impl Default for Gen<'_> {
    fn default() -> Self {
        Gen { source: "testsrc2", seconds: 4.0, size: "96x64", rate: 10, tone_hz: Some(440) }
    }
}

/// Writes a video to `path` (H.264 + AAC in whatever container the extension names).
pub fn make_video(path: &Path, g: Gen) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("{}=size={}:rate={}", g.source, g.size, g.rate));
    if let Some(hz) = g.tone_hz {
        cmd.args(["-f", "lavfi", "-i"]).arg(format!("sine=frequency={hz}:duration={}", g.seconds));
        cmd.args(["-c:a", "aac", "-shortest"]);
    }
    cmd.args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]);
    cmd.arg("-t").arg(g.seconds.to_string()).arg(path);
    let out = cmd.output().expect("ffmpeg runs (install it: apt-get install ffmpeg)");
    assert!(out.status.success(), "ffmpeg failed making {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
}

/// Three silent 4 s clips that look nothing alike (`Bars`, `Spiral`, `Pattern`) in a new folder
/// `dir`: a library small enough to ingest and train on in seconds.
pub fn three_clips(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, source) in [("Bars", "smptebars"), ("Spiral", "mandelbrot"), ("Pattern", "testsrc2")] {
        make_video(&dir.join(format!("{name}.mp4")), Gen { source, seconds: 4.0, tone_hz: None, ..Gen::default() });
    }
}

/// Writes an audio-only MP4 (no video stream).
pub fn make_audio_only(path: &Path, seconds: f64) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=330:duration={seconds}"))
        .args(["-c:a", "aac"])
        .arg(path)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Two good videos (`one.mp4` with a tone, `two.mkv` without audio) and `broken.mp4`, which is
/// not a video, in a new folder `media`.
pub fn two_videos_and_a_broken_file(media: &Path) {
    std::fs::create_dir_all(media).unwrap();
    make_video(&media.join("one.mp4"), Gen { seconds: 5.0, ..Gen::default() });
    make_video(&media.join("two.mkv"), Gen { source: "smptebars", seconds: 3.0, tone_hz: None, ..Gen::default() });
    std::fs::write(media.join("broken.mp4"), "garbage").unwrap();
}

/// A re-encoded, cropped and brightened 2 s excerpt of `video` (from 1.5 s), with no audio,
/// written to `out`.
pub fn excerpt(video: &Path, out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-ss", "1.5", "-t", "2", "-i"])
        .arg(video)
        .args(["-vf", "crop=iw*0.8:ih*0.8,eq=brightness=0.08", "-an", "-c:v", "libx264", "-crf", "30"])
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg made no excerpt of {}", video.display());
}

/// Settings for tests: small stored frames and the defaults otherwise, plus `extra` TOML.
pub fn test_config(extra: &str) -> Config {
    let text = format!("[sampling]\nframe_short_side = 64\njpeg_quality = 80\n{extra}");
    Config::from_layers(&[Layer { name: "test".into(), text }]).expect("test config is valid")
}

/// The offline test assets: `$REELMATCH_TEST_ASSETS` when set, else prepared on first use by
/// `scripts/prepare-test-assets.sh` into the user's cache (once, under a file lock, so test
/// binaries running at once wait for one preparation). Panics, never skips, when they cannot be
/// had, with the script's own reason (python3, pip or the network missing).
pub fn assets() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("REELMATCH_TEST_ASSETS").map(PathBuf::from) {
            assert!(
                complete(&dir),
                "REELMATCH_TEST_ASSETS={} lacks the test assets: run scripts/prepare-test-assets.sh \"{}\", or unset it and cargo test prepares them",
                dir.display(),
                dir.display()
            );
            return dir;
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .expect("HOME or XDG_CACHE_HOME is set");
        let dir = cache.join("reelmatch-test-assets");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let lock = std::fs::File::create(cache.join("reelmatch-test-assets.lock")).expect("lock file");
        // SAFETY: flock on a descriptor `lock` owns; released when it is closed below.
        assert_eq!(unsafe { libc::flock(std::os::unix::io::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) }, 0);
        if !complete(&dir) {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/prepare-test-assets.sh");
            let out = Command::new("bash").arg(&script).arg(&dir).output().expect("bash runs");
            assert!(
                out.status.success() && complete(&dir),
                "could not prepare the test assets in {} ({} failed): {}",
                dir.display(),
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        drop(lock);
        dir
    })
    .clone()
}

fn complete(dir: &Path) -> bool {
    [
        "models/all-minilm-l6-v2/model.safetensors",
        "models/whisper-tiny.en/model.safetensors",
        "videos/bikes.mp4",
        "postgres/pgserver/pginstall/bin/initdb",
    ]
    .iter()
    .all(|f| dir.join(f).is_file())
}

/// A run's output, failing the test with its stderr when the exit code is not `code`.
pub fn expect(cmd: &mut Command, code: i32) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A run's standard output as JSON, failing the test unless it exits with 0.
pub fn json(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_slice(&expect(cmd, 0).stdout).unwrap()
}

/// The built `reelmatch` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reelmatch"))
}

/// Random ResNet-50 weights in torchvision layout, written to safetensors.
pub fn random_resnet(path: &Path) {
    reelmatch::ml::image::write_random_weights(path).unwrap();
}

/// Another random ResNet-50 (seed `seed`): a network that gives other vectors than
/// [`random_resnet`]'s.
pub fn seeded_resnet(path: &Path, seed: u64) {
    reelmatch::ml::image::write_seeded_weights(path, seed).unwrap();
}

/// A 5 s "music video": a lavfi visual with `lyrics` spoken by espeak-ng (in `voice`, if given).
pub fn song(dir: &Path, name: &str, lyrics: &str, source: &str, voice: Option<&str>) -> PathBuf {
    let wav = dir.join(format!("{name}.wav"));
    let mut espeak = Command::new("espeak-ng");
    if let Some(v) = voice {
        espeak.args(["-v", v]);
    }
    assert!(espeak.arg("-w").arg(&wav).arg(lyrics).status().expect("espeak-ng runs").success());
    let video = dir.join(format!("{name}.silent.mkv"));
    make_video(&video, Gen { source, seconds: 5.0, tone_hz: None, ..Gen::default() });
    let out = dir.join(format!("{name}.mp4"));
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&video)
        .arg("-i")
        .arg(&wav)
        .args(["-c:v", "copy", "-c:a", "aac", "-af", "apad", "-t", "5"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&video).unwrap();
    std::fs::remove_file(&wav).unwrap();
    out
}

/// `reelmatch library --json` on `lib`, parsed.
pub fn library_json(lib: &Path) -> Vec<serde_json::Value> {
    let out = bin().arg("--library").arg(lib).args(["library", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("library --json is a JSON array")
}

/// A synthetic library (`reelmatch::synth`) in a temporary folder: the folder (kept while it
/// lives), the library, its catalog and the number of frames written.
pub fn synthetic_library(
    spec: &reelmatch::synth::Spec,
) -> (tempfile::TempDir, reelmatch::Library, reelmatch::catalog::Catalog, usize) {
    let work = tempfile::tempdir().unwrap();
    let lib = reelmatch::Library::open(work.path().join("lib")).unwrap();
    let frames = reelmatch::synth::generate(&lib, spec).unwrap();
    let cat = reelmatch::catalog::Catalog::open(&lib.catalog_path()).unwrap();
    (work, lib, cat, frames)
}

/// A throwaway PostgreSQL 18 + pgvector cluster from the test assets, stopped when dropped.
/// Fails the test (never skips it) when it cannot start.
pub fn postgres() -> reelmatch::shared::cluster::LocalCluster {
    let install = assets().join("postgres/pgserver/pginstall");
    reelmatch::shared::cluster::LocalCluster::start(&install)
        .unwrap_or_else(|e| panic!("the test PostgreSQL cluster did not start: {e}"))
}

/// Where a test's catalog lives: the library folder's own SQLite file, or a throwaway
/// PostgreSQL database (set up with `migrate`). The same scenario runs on both through
/// [`on_both!`](crate::on_both).
pub enum Backend {
    Embedded,
    Postgres(reelmatch::shared::cluster::LocalCluster),
}

impl Backend {
    /// A new cluster with the catalog's schema set up.
    pub fn postgres() -> Backend {
        let pg = postgres();
        let out = bin().args(["--catalog", &pg.url(), "migrate"]).output().unwrap();
        assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
        Backend::Postgres(pg)
    }

    /// The binary on the library folder `lib` (a worker's own cache on PostgreSQL), with this
    /// backend's catalog.
    pub fn cmd(&self, lib: &Path) -> Command {
        let mut cmd = bin();
        cmd.arg("--library").arg(lib).args(self.catalog_args());
        cmd
    }

    /// The arguments that point a command at this backend's catalog (none for the embedded one).
    pub fn catalog_args(&self) -> Vec<String> {
        match self {
            Backend::Embedded => Vec::new(),
            Backend::Postgres(pg) => vec!["--catalog".into(), pg.url()],
        }
    }

    /// The arguments for another, empty catalog of this backend: none for the embedded one (each
    /// library folder has its own), a new database `name` with its schema set up for PostgreSQL.
    pub fn new_catalog(&self, name: &str) -> Vec<String> {
        match self {
            Backend::Embedded => Vec::new(),
            Backend::Postgres(pg) => {
                let url = pg.create_database(name).unwrap();
                let out = bin().args(["--catalog", &url, "migrate"]).output().unwrap();
                assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
                vec!["--catalog".into(), url]
            }
        }
    }

    /// `library --json` on the library folder `lib` with this backend's catalog, parsed.
    pub fn library_json(&self, lib: &Path) -> Vec<serde_json::Value> {
        let out = self.cmd(lib).args(["library", "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("library --json is a JSON array")
    }

    /// The config lines that point a library at this backend's catalog (none for the embedded one).
    pub fn catalog_toml(&self) -> String {
        match self {
            Backend::Embedded => String::new(),
            Backend::Postgres(pg) => format!("[catalog]\nurl = {:?}\n", pg.url()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }
}

/// A scenario run twice, as `NAME::embedded` and `NAME::postgres`: the body takes the
/// [`Backend`] and drives the binary through [`Backend::cmd`].
#[macro_export]
macro_rules! on_both {
    ($(#[$doc:meta])* fn $name:ident($backend:ident: &Backend) $body:block) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn scenario($backend: &$crate::common::Backend) $body

            #[test]
            fn embedded() {
                scenario(&$crate::common::Backend::Embedded)
            }

            #[test]
            fn postgres() {
                scenario(&$crate::common::Backend::postgres())
            }
        }
    };
}
