//! Progress every viewer of a shared catalog sees as it happens: workers announce each claim,
//! upload and failure with `NOTIFY` (delivered only when the transaction that did the work
//! commits), and `library --follow` listens.

use super::SharedCatalog;
use crate::error::Result;
use fallible_iterator::FallibleIterator;
use serde::{Deserialize, Serialize};

/// The channel progress is announced on.
pub const CHANNEL: &str = "reelmatch_progress";

/// One video's change of state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub video: i64,
    pub title: String,
    /// working, ready or failed.
    pub status: String,
    /// The worker that did it (none for an export).
    pub worker: Option<String>,
    pub frames: i64,
    pub error: Option<String>,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.title, self.status)?;
        if self.status == "ready" {
            write!(f, " ({} frames)", self.frames)?;
        }
        if let Some(w) = &self.worker {
            write!(f, " by {w}")?;
        }
        if let Some(e) = &self.error {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

/// Announces `p` on the connection or transaction `client` (with the transaction's commit).
pub fn announce(client: &mut impl postgres::GenericClient, p: &Progress) -> std::result::Result<(), postgres::Error> {
    let json = serde_json::to_string(p).expect("progress serialises");
    client.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &json]).map(|_| ())
}

/// Listens on the catalog at `url`, calls `listening` once it does (so what it shows misses
/// nothing after), then hands each announcement to `on` until it returns false.
pub fn follow(
    url: &str,
    listening: &mut dyn FnMut() -> Result<()>,
    on: &mut dyn FnMut(Progress) -> bool,
) -> Result<()> {
    let mut catalog = SharedCatalog::open(url)?;
    catalog.client().batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| catalog.err(e))?;
    listening()?;
    let url = catalog.url().to_string();
    let mut notifications = catalog.client().notifications();
    let mut all = notifications.blocking_iter();
    loop {
        match all.next() {
            Ok(Some(n)) => {
                if let Ok(p) = serde_json::from_str::<Progress>(n.payload()) {
                    if !on(p) {
                        return Ok(());
                    }
                }
            }
            Ok(None) => {
                let detail = "the server closed the connection".to_string();
                return Err(crate::error::Error::SharedUnreachable { url: url.clone(), detail });
            }
            Err(e) => return Err(super::error_of(&url, &e)),
        }
    }
}
