//! The shared catalog: a library on PostgreSQL + pgvector that several ingest workers and
//! viewers on several machines use at once (the embedded SQLite catalog stays the default).
//! Everything a second machine needs is in the database: videos, frames with their JPEG bytes,
//! transcripts, embeddings (`halfvec`, searched with HNSW past a size) and the work queue.

pub mod cluster;
mod decisions;
mod descriptions;
pub mod export;
pub mod hnsw;
pub mod import;
pub mod inspect;
pub mod listing;
pub mod mirror;
pub mod paths;
mod pgpass;
pub mod progress;
pub mod query;
mod register;
pub mod runs;
mod schema;
pub mod search;
mod service;
pub mod train;
pub mod traps;
pub mod upkeep;
pub mod upload;
pub mod worker;

pub use descriptions::embed_for_descriptions;
pub use schema::LATEST;

use crate::error::{Error, Result};
use postgres::error::SqlState;
use std::time::Duration;

pub use crate::config::is_postgres_url as is_url;

/// How long reaching the server and logging in may take, unless the URL's `connect_timeout` says.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection idle this long is probed (then every third of it, three times) so a server that
/// went away mid-command is found.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// How long data sent may go unacknowledged before the connection is given up.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

pub use crate::redact::url as shown;

/// An open connection to a shared catalog.
pub struct SharedCatalog {
    client: postgres::Client,
    url: String,
}

impl SharedCatalog {
    /// Connects and checks the schema: one set up by `migrate`, not newer than this build.
    pub fn open(url: &str) -> Result<Self> {
        let mut catalog = Self::connect(url)?;
        match catalog.schema_version()? {
            0 => Err(Error::SharedNotMigrated { url: catalog.url.clone() }),
            v if v > LATEST => Err(Error::SharedTooNew { url: catalog.url.clone(), found: v, known: LATEST }),
            v if v < LATEST => {
                // An older schema is brought up to date (as the embedded catalog is).
                schema::migrate(&mut catalog)?;
                Ok(catalog)
            }
            _ => Ok(catalog),
        }
    }

    /// Connects and brings the schema up to date; returns the version it was at before.
    pub fn open_and_migrate(url: &str) -> Result<(Self, i64)> {
        let mut catalog = Self::connect(url)?;
        let before = schema::migrate(&mut catalog)?;
        Ok((catalog, before))
    }

    /// A connection. Every wait on the network is bounded: reaching the server and its start-up
    /// exchange (login included) within the URL's `connect_timeout` (10 s unless it sets one),
    /// so a port that accepts and stays silent is an error, not a hang; and a server that stops
    /// answering mid-command is found by TCP keepalives and the send timeout within about a
    /// minute ([`KEEPALIVE_IDLE`], [`SEND_TIMEOUT`]).
    fn connect(url: &str) -> Result<Self> {
        crate::blocking::off_drawing_thread("connect to the PostgreSQL catalog");
        let shown = shown(url);
        let (without_service, service) = service::split(url);
        let mut config: postgres::Config = without_service
            .parse()
            .map_err(|e| Error::Shared { url: shown.clone(), detail: format!("not a valid connection string: {e}") })?;
        if let Some(name) = service {
            // As PostgreSQL's tools: the service file fills in what the URL leaves out.
            service::fill(&mut config, &name)?;
        }
        let limit = *config.get_connect_timeout().unwrap_or(&CONNECT_TIMEOUT);
        config.connect_timeout(limit);
        config.keepalives(true).keepalives_idle(KEEPALIVE_IDLE).keepalives_interval(KEEPALIVE_IDLE / 3);
        config.keepalives_retries(3).tcp_user_timeout(SEND_TIMEOUT);
        config.application_name("reelmatch");
        if config.get_password().is_none() {
            // As PostgreSQL's own tools: PGPASSWORD, then the password file.
            let host = match config.get_hosts().first() {
                Some(postgres::config::Host::Tcp(h)) => h.clone(),
                // (A socket is `localhost` in a password file, as libpq reads it.)
                Some(postgres::config::Host::Unix(_)) | None => "localhost".into(),
            };
            let port = config.get_ports().first().copied().unwrap_or(5432);
            let user = config.get_user().map_or_else(|| std::env::var("USER").unwrap_or_default(), String::from);
            let database = config.get_dbname().map_or_else(|| user.clone(), String::from);
            if let Some(password) = pgpass::password(&host, port, &database, &user) {
                config.password(password);
            }
        }
        // The start-up exchange has no time limit of its own: it runs on a thread of its own,
        // waited for within the limit (a thread left waiting on a silent server ends with the
        // process).
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(config.connect(postgres::NoTls));
        });
        let client = match rx.recv_timeout(limit + Duration::from_millis(500)) {
            Ok(connected) => connected.map_err(|e| connect_error(&shown, &e))?,
            Err(_) => {
                return Err(Error::SharedUnreachable {
                    url: shown,
                    detail: format!(
                        "the server accepted the connection but did not answer as PostgreSQL within {} s (is this the PostgreSQL port? `connect_timeout=N` in the URL sets the limit)",
                        limit.as_secs_f64()
                    ),
                })
            }
        };
        Ok(SharedCatalog { client, url: shown })
    }

    /// The schema version set up in this database (0: none yet).
    pub fn schema_version(&mut self) -> Result<i64> {
        schema::version(self)
    }

    /// The connection string, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    pub(crate) fn err(&self, e: postgres::Error) -> Error {
        error_of(&self.url, &e)
    }
}

/// A query's error, worded for the person: the server's own message when it sent one.
pub(crate) fn error_of(url: &str, e: &postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) if db.code() == &SqlState::UNDEFINED_FILE && db.message().contains("vector") => {
            Error::SharedNoVector { url: url.into(), detail: db.message().into() }
        }
        Some(db) if db.code() == &SqlState::INSUFFICIENT_PRIVILEGE => {
            Error::Shared { url: url.into(), detail: format!("{}; {}", db.message(), grant_hint(url, db.message())) }
        }
        Some(db) => Error::Shared {
            url: url.into(),
            detail: format!("{}{}", db.message(), db.detail().map(|d| format!(" ({d})")).unwrap_or_default()),
        },
        None if e.is_closed() => {
            Error::SharedUnreachable { url: url.into(), detail: "the connection was closed".into() }
        }
        None => Error::Shared { url: url.into(), detail: chain(e) },
    }
}

/// The grant a role is missing, as the database's owner or a superuser gives it: the right to
/// make tables (what `migrate` needs; PostgreSQL 15 and later no longer give it to every role on
/// `public`), or to read and write the catalog's tables.
fn grant_hint(url: &str, message: &str) -> String {
    let user = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .map(|(info, _)| info.split(':').next().unwrap_or_default().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "ROLE".into());
    if message.contains("schema") {
        format!(
            "this role may not make tables there: as the database's owner or a superuser, `GRANT USAGE, CREATE ON SCHEMA public TO {user}`, or run `migrate` as the owner"
        )
    } else {
        format!(
            "this role may not use the catalog's tables: as their owner or a superuser, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user}` (and `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {user}`)"
        )
    }
}

fn connect_error(url: &str, e: &postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) if [SqlState::INVALID_PASSWORD, SqlState::INVALID_AUTHORIZATION_SPECIFICATION].contains(db.code()) => {
            Error::SharedAuth { url: url.into(), detail: db.message().into() }
        }
        Some(db) if db.code() == &SqlState::INVALID_CATALOG_NAME => Error::Shared {
            url: url.into(),
            detail: format!("{}; create it first (`createdb NAME` on the server)", db.message()),
        },
        Some(_) => error_of(url, e),
        None if chain(e).contains("password missing") => Error::SharedAuth {
            url: url.into(),
            detail: "the server asks for a password and none was given (PGPASSWORD or a password file, ~/.pgpass with mode 0600, gives one without writing it in the URL)".into(),
        },
        None => Error::SharedUnreachable { url: url.into(), detail: chain(e) },
    }
}

/// An error and its causes in one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_urls_recognised() {
        assert_eq!(shown("postgres://me:secret@db:5432/lib"), "postgres://me:***@db:5432/lib");
        assert_eq!(shown("postgres://me@db/lib"), "postgres://me@db/lib");
        assert_eq!(shown("postgres://me:SE@CRET@db/lib"), "postgres://me:***@db/lib");
        assert_eq!(
            shown("postgres://me@db/lib?sslmode=disable&password=SECRET&connect_timeout=5"),
            "postgres://me@db/lib?sslmode=disable&password=***&connect_timeout=5"
        );
        assert_eq!(shown("host=db user=me password=SECRET dbname=lib"), "host=db user=me password=*** dbname=lib");
        assert_eq!(shown("host=db password='SE CRET' dbname=lib"), "host=db password=*** dbname=lib");
        assert_eq!(shown("host=db mypassword=x"), "host=db mypassword=x");
        assert!(is_url("postgresql://db/lib") && is_url("postgres://db/lib"));
        assert!(!is_url("/home/me/library"));
    }

    #[test]
    fn a_port_that_accepts_and_stays_silent_is_an_error_within_the_limit() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts every connection and never says a word (an SSH banner-less port, a stuck proxy).
        let _keep = std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(4).collect();
            std::thread::sleep(Duration::from_secs(30));
            drop(held);
        });
        let url = format!("postgres://me:pw@127.0.0.1:{port}/lib?connect_timeout=1");
        let started = std::time::Instant::now();
        let err = SharedCatalog::open(&url).err().expect("nothing answers there");
        let waited = started.elapsed();
        let text = err.to_string();
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
        assert!(matches!(err, Error::SharedUnreachable { .. }), "{text}");
        assert!(text.contains("did not answer as PostgreSQL within 1 s") && !text.contains("pw@"), "{text}");
    }

    #[test]
    fn an_unreachable_server_is_named_with_what_to_check() {
        // A loopback port nothing listens on: refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("postgres://me:pw@127.0.0.1:{port}/lib");
        let err = SharedCatalog::open(&url).err().expect("nothing listens there");
        let text = err.to_string();
        assert!(matches!(err, Error::SharedUnreachable { .. }), "{text}");
        assert!(text.contains("me:***@127.0.0.1") && !text.contains("pw@"), "{text}");
        assert!(text.contains("pg_isready"), "{text}");
    }
}
