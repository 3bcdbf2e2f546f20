//! CPU kernels under test: whether a test can run a CPU-specific loop (AVX2, AVX-512, VNNI …)
//! on this machine, said where `cargo test` shows it, and a failure where it was expected to run.
//!
//! A kernel test asks [`exercise`] before it runs its kernel against the portable reference.
//! The answer goes to the test process's stderr directly, past the test harness's capture, so
//! every `cargo test` lists the kernels it exercised and those it could not. Where
//! `REELMATCH_EXPECT_KERNELS` is set (`.ci/run` sets it to this CPU's flags from
//! `/proc/cpuinfo`, or `all`), a kernel it expects that cannot run fails the test: a kernel test
//! that was skipped never counts as passed there.

use std::io::Write;

/// Whether this CPU has every feature in `features` (names as `is_x86_feature_detected!`
/// spells them), reporting the answer for `kernel` on stderr. Panics where
/// `REELMATCH_EXPECT_KERNELS` expected the kernel to run and it cannot.
pub fn exercise(kernel: &str, features: &[&str]) -> bool {
    let missing: Vec<&str> = features.iter().copied().filter(|f| !detected(f)).collect();
    let needs = features.join("+");
    let line = if missing.is_empty() {
        format!("cpu kernel exercised: {kernel} ({needs})\n")
    } else {
        format!("cpu kernel NOT exercised: {kernel} (this CPU lacks {})\n", missing.join(", "))
    };
    // Straight to the process's stderr: the harness captures only the print macros.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    if let Ok(expected) = std::env::var("REELMATCH_EXPECT_KERNELS") {
        let unexpected: Vec<&str> = missing.iter().copied().filter(|f| expects(&expected, f)).collect();
        assert!(
            unexpected.is_empty(),
            "{kernel}: REELMATCH_EXPECT_KERNELS says this CPU runs {}, but it was not detected, so the \
             kernel could not be tested",
            unexpected.join(", ")
        );
    }
    missing.is_empty()
}

/// Whether `expected` (`all`, or a list of `/proc/cpuinfo` flags) names `feature`.
fn expects(expected: &str, feature: &str) -> bool {
    let flag = cpuinfo_flag(feature);
    expected.trim() == "all" || expected.split([' ', ',', '\t', '\n']).any(|f| f == flag)
}

/// The `/proc/cpuinfo` flag of a feature as Rust names it.
fn cpuinfo_flag(feature: &str) -> &str {
    match feature {
        "avx512vnni" => "avx512_vnni",
        "avx512vpopcntdq" => "avx512_vpopcntdq",
        "sse4.1" => "sse4_1",
        other => other,
    }
}

/// Whether the CPU has `feature`; a name this module does not know is a bug in the test.
fn detected(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match feature {
            "avx2" => std::arch::is_x86_feature_detected!("avx2"),
            "fma" => std::arch::is_x86_feature_detected!("fma"),
            "f16c" => std::arch::is_x86_feature_detected!("f16c"),
            "popcnt" => std::arch::is_x86_feature_detected!("popcnt"),
            "sse4.1" => std::arch::is_x86_feature_detected!("sse4.1"),
            "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
            "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
            "avx512vnni" => std::arch::is_x86_feature_detected!("avx512vnni"),
            "avx512vpopcntdq" => std::arch::is_x86_feature_detected!("avx512vpopcntdq"),
            other => panic!("kernels::exercise: unknown CPU feature {other:?}"),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = feature;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_read_cpuinfo_flags_or_all() {
        let flags = "fpu sse avx2 fma avx512f avx512_vnni";
        assert!(expects(flags, "avx2"));
        assert!(expects(flags, "avx512vnni"));
        assert!(!expects(flags, "avx512vpopcntdq"));
        assert!(!expects(flags, "avx512bw"));
        assert!(expects("all", "avx512bw"));
        assert!(expects("avx2,fma", "fma"));
    }

    #[test]
    fn an_unknown_feature_is_a_bug() {
        #[cfg(target_arch = "x86_64")]
        assert!(std::panic::catch_unwind(|| detected("avx9000")).is_err());
    }
}
