//! Rankings as playlists: extended M3U (`#EXTM3U`, then `#EXTINF:seconds,title` and the absolute
//! path of each video), which mpv, VLC and most players open.

use crate::error::Result;
use std::path::{Path, PathBuf};

/// One video of a playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub title: String,
    /// Its length in seconds, when known (M3U writes -1 otherwise).
    pub duration_s: Option<f64>,
    pub path: PathBuf,
}

/// The playlist as extended M3U text, `heading` as its `#PLAYLIST` name. A video whose path holds
/// a line break is left out with a comment saying so: M3U has no way to write one, and the
/// second line would be read as another entry.
pub fn m3u(heading: &str, entries: &[Entry]) -> String {
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    let mut out = format!("#EXTM3U\n#PLAYLIST:{}\n", one_line(heading));
    for e in entries {
        if e.path.as_os_str().as_encoded_bytes().iter().any(|b| matches!(b, b'\n' | b'\r')) {
            out.push_str(&format!("# left out \"{}\": its path holds a line break\n", one_line(&e.title)));
            continue;
        }
        let seconds = e.duration_s.map_or(-1, |d| d.round() as i64);
        out.push_str(&format!("#EXTINF:{seconds},{}\n{}\n", one_line(&e.title), e.path.display()));
    }
    out
}

/// Writes the playlist to `path` whole (see [`crate::save`]).
pub fn write(path: &Path, heading: &str, entries: &[Entry]) -> Result<()> {
    crate::save::atomically(path, m3u(heading, entries).as_bytes())
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
        let planted = [Entry { title: "Evil".into(), duration_s: None, path: "/m/evil\n/etc/passwd".into() }];
        let text = m3u("x", &planted);
        assert!(!text.lines().any(|l| l == "/etc/passwd" || l.starts_with("/m/evil")), "{text}");
        assert!(text.contains("left out \"Evil\""), "{text}");
    }
}
