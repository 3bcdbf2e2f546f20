//! Where a password comes from when the catalog's URL has none, as PostgreSQL's own tools find
//! it: `PGPASSWORD`, then the password file (`PGPASSFILE`, else `~/.pgpass`), whose lines are
//! `host:port:database:user:password` with `*` for any value and `\:` / `\\` escaped. As libpq
//! does, a password file others may read is not used. So no password need be in a URL, a
//! command line or a config file.

use std::path::{Path, PathBuf};

/// The password for this connection, if the environment or the password file has one.
pub fn password(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    if let Some(p) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
        return Some(p);
    }
    let file = password_file()?;
    let text = private_text(&file)?;
    lookup(&text, host, port, database, user)
}

fn password_file() -> Option<PathBuf> {
    match std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => std::env::var_os("HOME").map(|home| Path::new(&home).join(".pgpass")),
    }
}

/// The file's text, when only its owner may read it.
fn private_text(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!("{} is readable by others, so it is not used (chmod 0600 it)", path.display());
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The password of the first line of a password file that matches.
pub fn lookup(text: &str, host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    let wanted = [host, port.as_str(), database, user];
    text.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()).find_map(|line| {
        let fields = split(line);
        let [h, p, d, u, password] = fields.as_slice() else { return None };
        let matches = [h, p, d, u].iter().zip(wanted).all(|(field, want)| *field == "*" || *field == want);
        matches.then(|| password.clone())
    })
}

/// A line's fields, split at unescaped `:`, with `\:` and `\\` unescaped.
fn split(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut chars) = (Vec::new(), String::new(), line.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_line_gives_the_password() {
        let text = "# comment\n\
                    db.example:5432:other:me:wrong\n\
                    db.example:5432:lib:me:pa\\:ss\\\\word\n\
                    *:*:*:me:fallback\n";
        assert_eq!(lookup(text, "db.example", 5432, "lib", "me").as_deref(), Some("pa:ss\\word"));
        assert_eq!(lookup(text, "elsewhere", 6543, "x", "me").as_deref(), Some("fallback"));
        assert_eq!(lookup(text, "db.example", 5432, "lib", "you"), None);
        assert_eq!(lookup("too:few:fields", "too", 1, "few", "fields"), None);
    }
}
