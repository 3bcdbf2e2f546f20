//! Connection services, as PostgreSQL's own tools read them: a URL's `service=NAME` (or
//! `PGSERVICE`) names a section of the service file (`PGSERVICEFILE`, else `~/.pg_service.conf`,
//! then `pg_service.conf` in `PGSYSCONFDIR`), whose `key=value` lines fill in what the URL leaves
//! out (host, port, dbname, user, password, connect_timeout). So a catalog can be named without
//! a host, a user or a password anywhere on a command line.

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

/// `url` without its `service` parameter, and the service to read: that parameter's, else
/// `PGSERVICE`'s.
pub fn split(url: &str) -> (String, Option<String>) {
    let from_env = || std::env::var("PGSERVICE").ok().filter(|s| !s.is_empty());
    let Some((base, query)) = url.split_once('?') else { return (url.to_string(), from_env()) };
    let mut service = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("service=") {
            Some(name) => {
                service = Some(name.to_string());
                false
            }
            None => true,
        })
        .collect();
    let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    (url, service.or_else(from_env))
}

/// Fills what `config` leaves out from service `name`; an error names the files read when no
/// file has it.
pub fn fill(config: &mut postgres::Config, name: &str) -> Result<()> {
    let files = files();
    let settings =
        files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).find_map(|text| section(&text, name)).ok_or_else(
            || {
                let read: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                Error::Invalid(format!(
                "there is no connection service \"{name}\" in {} (a [{name}] section with host=, dbname=, user= lines)",
                read.join(" or ")
            ))
            },
        )?;
    apply(config, name, settings)
}

/// Sets each of `settings` that `config` leaves out.
fn apply(config: &mut postgres::Config, name: &str, settings: Vec<(String, String)>) -> Result<()> {
    for (key, value) in settings {
        let bad = |what: &str| Error::Invalid(format!("service \"{name}\": {key}={value} is not {what}"));
        match key.as_str() {
            "host" if config.get_hosts().is_empty() => value.split(',').for_each(|h| {
                config.host(h.trim());
            }),
            "port" if config.get_ports().is_empty() => {
                for p in value.split(',') {
                    config.port(p.trim().parse().map_err(|_| bad("a port number"))?);
                }
            }
            "dbname" if config.get_dbname().is_none() => {
                config.dbname(&value);
            }
            "user" if config.get_user().is_none() => {
                config.user(&value);
            }
            "password" if config.get_password().is_none() => {
                config.password(value.as_bytes());
            }
            "connect_timeout" if config.get_connect_timeout().is_none() => {
                let secs: u64 = value.parse().map_err(|_| bad("a number of seconds"))?;
                config.connect_timeout(Duration::from_secs(secs));
            }
            // Given in the URL already, or a setting this client does not take (sslmode: it
            // connects without TLS, as the URL's own `sslmode` would say).
            _ => {}
        }
    }
    Ok(())
}

/// The service files, in the order they are read.
fn files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    match std::env::var_os("PGSERVICEFILE").filter(|p| !p.is_empty()) {
        Some(p) => files.push(PathBuf::from(p)),
        None => files.extend(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pg_service.conf"))),
    }
    if let Some(dir) = std::env::var_os("PGSYSCONFDIR").filter(|p| !p.is_empty()) {
        files.push(PathBuf::from(dir).join("pg_service.conf"));
    }
    files
}

/// The `key=value` lines of section `[name]`, if the text has it (`#` starts a comment).
fn section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut inside = false;
    let mut found = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.trim() == name;
            if inside {
                found.get_or_insert_with(Vec::new);
            }
        } else if inside {
            if let Some((k, v)) = line.split_once('=') {
                found.get_or_insert_with(Vec::new).push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_fills_what_the_url_leaves_out() {
        let text = "# catalogs\n[other]\nhost=elsewhere\n\n[music]\nhost = db.example\nport=5433\ndbname=videos\nuser=me\npassword=s3cret\nsslmode=disable\n";
        let (url, service) = split("postgres://you@/?service=music&connect_timeout=3");
        assert_eq!((url.as_str(), service.as_deref()), ("postgres://you@/?connect_timeout=3", Some("music")));
        let mut config: postgres::Config = url.parse().unwrap();
        apply(&mut config, "music", section(text, "music").unwrap()).unwrap();
        assert_eq!(config.get_user(), Some("you"), "the URL's user wins");
        assert_eq!(config.get_hosts(), [postgres::config::Host::Tcp("db.example".into())]);
        assert_eq!((config.get_ports(), config.get_dbname()), (&[5433][..], Some("videos")));
        assert_eq!(config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(3)), "the URL's limit wins");
        assert!(section(text, "absent").is_none());
        assert_eq!(split("postgres://h/db").0, "postgres://h/db");
        let mut bare: postgres::Config = split("postgres://?service=music").0.parse().unwrap();
        apply(&mut bare, "music", vec![("port".into(), "many".into())]).unwrap_err();
    }
}
