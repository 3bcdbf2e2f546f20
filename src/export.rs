//! Exporting a library's frames for other tools, e.g. torchvision's `ImageFolder` layout.

use crate::catalog::{Catalog, Split};
use crate::error::{Error, Result};
use crate::library::Library;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ExportReport {
    pub videos: usize,
    pub train: usize,
    pub test: usize,
    pub out: PathBuf,
}

/// Writes `OUT/train/<video>/*.jpg` and `OUT/test/<video>/*.jpg` for every video with frames.
/// Folder names are the titles made safe for file systems, suffixed with the id when two
/// titles collide. Files are hard-linked where possible, copied otherwise.
pub fn export_imagefolder(library: &Library, catalog: &Catalog, out: &Path) -> Result<ExportReport> {
    let mut report = ExportReport { out: out.to_path_buf(), ..Default::default() };
    let mut used = HashSet::new();
    for video in catalog.videos()? {
        let frames = catalog.frames(video.id)?;
        if frames.is_empty() {
            continue;
        }
        let mut name = safe_name(&video.title);
        if !used.insert(name.to_lowercase()) {
            name = format!("{name}-{}", video.id);
            used.insert(name.to_lowercase());
        }
        report.videos += 1;
        for frame in frames {
            let split_dir = out.join(frame.split.as_str()).join(&name);
            std::fs::create_dir_all(&split_dir).map_err(|e| Error::io(&split_dir, e))?;
            let src = library.resolve(&frame.file);
            let dst = split_dir.join(src.file_name().expect("frame files have names"));
            let _ = std::fs::remove_file(&dst);
            if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
            }
            match frame.split {
                Split::Train => report.train += 1,
                Split::Test => report.test += 1,
            }
        }
    }
    Ok(report)
}

/// A folder name from a title: path separators and control characters replaced, never empty.
pub fn safe_name(title: &str) -> String {
    let cleaned: String =
        title.chars().map(|c| if c == '/' || c == '\\' || c.is_control() || c == ':' { '_' } else { c }).collect();
    let trimmed = cleaned.trim().trim_start_matches('.').to_string();
    if trimmed.is_empty() {
        "untitled".into()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn names_are_safe() {
        assert_eq!(safe_name("a/b\\c:d"), "a_b_c_d");
        assert_eq!(safe_name("..hidden"), "hidden");
        assert_eq!(safe_name("  "), "untitled");
        assert_eq!(safe_name("Ünïcødé \"q\""), "Ünïcødé \"q\"");
    }
}
