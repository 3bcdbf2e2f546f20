//! Build facts for `reelmatch --version`: the commit the binary was built from and the features
//! it was built with, so a bug report says exactly which build it is about.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown commit".into());
    let features: Vec<&str> = [("CARGO_FEATURE_CUDA", "cuda"), ("CARGO_FEATURE_CUDNN", "cudnn")]
        .into_iter()
        .filter(|(var, _)| std::env::var_os(var).is_some())
        .map(|(_, name)| name)
        .collect();
    let features =
        if features.is_empty() { "CPU build".to_string() } else { format!("features: {}", features.join(", ")) };
    println!("cargo:rustc-env=REELMATCH_BUILD={commit}, {features}");
    // A commit moves HEAD or the branch it names.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        // (A path named that is not there would make every build run this again.)
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
