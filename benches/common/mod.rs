//! What several benches share: where the test assets are, and the peak memory a reelmatch
//! process reports of itself.
#![allow(dead_code)] // each bench uses some of these

use std::path::PathBuf;

/// The test assets' directory (`REELMATCH_TEST_ASSETS`, else the cache the assets script fills).
pub fn assets() -> PathBuf {
    std::env::var_os("REELMATCH_TEST_ASSETS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/reelmatch-test-assets")
    })
}

/// The peak resident set a reelmatch process said it had on its stderr (run with
/// `REELMATCH_PEAK_RSS=1`), KiB: that process's own, not its children's.
pub fn own_peak_rss_kib(stderr: &[u8]) -> i64 {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("reelmatch peak RSS: ")?.strip_suffix(" KiB")?.parse().ok())
        .expect("the command was run with REELMATCH_PEAK_RSS=1 and said its peak")
}
