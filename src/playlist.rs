//! Rankings as playlists: extended M3U (`#EXTM3U`, then `#EXTINF:seconds,title` and the absolute
//! path of each video), which mpv, VLC and most players open.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One video of a playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub title: String,
    /// Its length in seconds, when known (M3U writes -1 otherwise).
    pub duration_s: Option<f64>,
    pub path: PathBuf,
}

/// The playlist as extended M3U text, `heading` as its `#PLAYLIST` name.
pub fn m3u(heading: &str, entries: &[Entry]) -> String {
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    let mut out = format!("#EXTM3U\n#PLAYLIST:{}\n", one_line(heading));
    for e in entries {
        let seconds = e.duration_s.map_or(-1, |d| d.round() as i64);
        out.push_str(&format!("#EXTINF:{seconds},{}\n{}\n", one_line(&e.title), e.path.display()));
    }
    out
}

/// Writes the playlist to `path` (whole, through a temporary file beside it).
pub fn write(path: &Path, heading: &str, entries: &[Entry]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension("m3u.tmp");
    std::fs::write(&tmp, m3u(heading, entries)).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// A file name made from `label` (a query's title): letters, digits, `-` and `_` kept.
pub fn file_name(label: &str) -> String {
    let slug: String = label
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("similar-to-{}.m3u", if slug.is_empty() { "query".into() } else { slug.to_lowercase() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_m3u_with_titles_lengths_and_paths() {
        let entries = [
            Entry { title: "Blinding Lights".into(), duration_s: Some(200.4), path: "/m/a b.mp4".into() },
            Entry { title: "two\nlines".into(), duration_s: None, path: "/m/ü.mkv".into() },
        ];
        assert_eq!(
            m3u("Starboy", &entries),
            "#EXTM3U\n#PLAYLIST:Starboy\n#EXTINF:200,Blinding Lights\n/m/a b.mp4\n#EXTINF:-1,two lines\n/m/ü.mkv\n"
        );
        assert_eq!(file_name("lyrics \"city lights\""), "similar-to-lyrics-city-lights.m3u");
    }
}
