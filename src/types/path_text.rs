//! File paths as the catalogs store them (TEXT): a path that is UTF-8 as it is, one that is not
//! (Linux paths are bytes: `Caf\xe9.mp4` from an old Latin-1 system) as `bytes:` and the path with
//! each byte that is not UTF-8 written `\xNN` and `\` written `\\`. The stored paths are absolute,
//! so the prefix is never a real path's start, and every path comes back byte for byte.

use std::borrow::Cow;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

const BYTES: &str = "bytes:";

/// `path` as stored: itself when it is UTF-8, else its escaped form (also how it is shown).
pub fn path_text(path: &Path) -> Cow<'_, str> {
    if let Some(text) = path.to_str() {
        return Cow::Borrowed(text);
    }
    let mut out = String::from(BYTES);
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        chunk.invalid().iter().for_each(|b| out.push_str(&format!("\\x{b:02x}")));
    }
    Cow::Owned(out)
}

/// The path a stored text stands for.
pub fn text_path(text: &str) -> PathBuf {
    let Some(escaped) = text.strip_prefix(BYTES) else { return PathBuf::from(text) };
    let (bytes, mut rest) = (Vec::with_capacity(escaped.len()), escaped.as_bytes());
    let mut bytes = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        match (b, tail) {
            (b'\\', [b'\\', more @ ..]) => {
                bytes.push(b'\\');
                rest = more;
            }
            (b'\\', [b'x', h, l, more @ ..]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = [*h, *l];
                bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).unwrap_or("3f"), 16).unwrap_or(b'?'));
                rest = more;
            }
            _ => {
                bytes.push(b);
                rest = tail;
            }
        }
    }
    PathBuf::from(OsString::from_vec(bytes))
}

/// Serializes a path as its stored text (JSON has no bytes).
pub fn serialize_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path_text(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_comes_back_byte_for_byte() {
        let latin1 = PathBuf::from(OsString::from_vec(b"/music/Caf\xe9 \\ du \xff.mp4".to_vec()));
        let text = path_text(&latin1);
        assert_eq!(text, "bytes:/music/Caf\\xe9 \\\\ du \\xff.mp4");
        assert_eq!(text_path(&text), latin1);
        let plain = Path::new("/music/Café \\x41.mp4");
        assert_eq!(path_text(plain), "/music/Café \\x41.mp4", "a UTF-8 path is stored as it is");
        assert_eq!(text_path(&path_text(plain)), plain);
        let json = serde_json::to_string(&{
            #[derive(serde::Serialize)]
            struct Row<'a>(#[serde(serialize_with = "serialize_path")] &'a Path);
            Row(&latin1)
        })
        .unwrap();
        assert_eq!(json, "\"bytes:/music/Caf\\\\xe9 \\\\\\\\ du \\\\xff.mp4\"");
    }
}
