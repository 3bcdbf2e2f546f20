//! Paths as a person types them: `~/` expanded, and completion of a partly typed path (which
//! reads the folder, so frontends call it off their drawing thread).

use std::path::{Path, PathBuf};

/// `typed` with a leading `~/` replaced by the home folder.
pub fn expand_home(typed: &str) -> PathBuf {
    match typed.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(|h| Path::new(&h).join(rest)).unwrap_or_else(|| typed.into()),
        None => PathBuf::from(typed),
    }
}

/// Completes a typed path: the longest common prefix of the entries it could name (folders get
/// a trailing `/`). Unchanged when nothing matches.
pub fn complete_path(typed: &str) -> String {
    let expanded = expand_home(typed);
    let (dir, stem) = if typed.ends_with('/') || typed.is_empty() {
        (expanded.clone(), String::new())
    } else {
        let stem = expanded.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        (expanded.parent().map(Path::to_path_buf).unwrap_or_default(), stem)
    };
    let dir_for_read = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.clone() };
    crate::blocking::off_drawing_thread("list a folder");
    let Ok(entries) = std::fs::read_dir(&dir_for_read) else { return typed.to_string() };
    let mut names: Vec<(String, bool)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with(&stem) && !name.starts_with('.')).then(|| (name, e.path().is_dir()))
        })
        .collect();
    names.sort();
    let Some((first, _)) = names.first() else { return typed.to_string() };
    let mut common = first.clone();
    for (n, _) in &names[1..] {
        while !n.starts_with(&common) {
            common.pop();
        }
    }
    let completed = dir.join(&common);
    let mut out = completed.to_string_lossy().into_owned();
    if names.len() == 1 && names[0].1 {
        out.push('/');
    }
    if dir.as_os_str().is_empty() {
        out = common + if names.len() == 1 && names[0].1 { "/" } else { "" };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::complete_path;

    #[test]
    fn completes_unique_folders_and_common_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("music videos")).unwrap();
        std::fs::create_dir(dir.path().join("music live")).unwrap();
        std::fs::create_dir(dir.path().join("films")).unwrap();
        let base = dir.path().display().to_string();
        assert_eq!(complete_path(&format!("{base}/fi")), format!("{base}/films/"));
        assert_eq!(complete_path(&format!("{base}/mu")), format!("{base}/music "));
        assert_eq!(complete_path(&format!("{base}/music v")), format!("{base}/music videos/"));
        assert_eq!(complete_path(&format!("{base}/zzz")), format!("{base}/zzz"), "no match: unchanged");
    }
}
