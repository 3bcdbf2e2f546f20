//! Schema migrations, applied in order and recorded in SQLite's `user_version`.

use crate::error::{Error, Result};
use rusqlite::Connection;
use std::path::Path;

/// Each entry moves the schema from version `i` to `i + 1`. Never edit one that has shipped;
/// add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: videos and their frames.
    "CREATE TABLE videos (
        id            INTEGER PRIMARY KEY,
        path          TEXT NOT NULL UNIQUE,
        title         TEXT NOT NULL,
        content_hash  TEXT UNIQUE,
        size_bytes    INTEGER,
        mtime_ns      INTEGER,
        duration_s    REAL,
        fps           REAL,
        width         INTEGER,
        height        INTEGER,
        has_audio     INTEGER,
        video_codec   TEXT,
        sample_fps    REAL,
        audio_samples INTEGER,
        stage         INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL DEFAULT 'pending',
        error         TEXT,
        added_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE TABLE frames (
        id        INTEGER PRIMARY KEY,
        video_id  INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
        idx       INTEGER NOT NULL,
        t_s       REAL NOT NULL,
        split     TEXT NOT NULL CHECK (split IN ('train', 'test')),
        file      TEXT NOT NULL,
        UNIQUE (video_id, idx)
    );
    CREATE INDEX frames_by_video ON frames(video_id, split);",
    // 2: model outputs, keyed by the model that made them, so changing a model recomputes only its own.
    "CREATE TABLE frame_embeddings (
        frame_id  INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
        model     TEXT NOT NULL,
        dim       INTEGER NOT NULL,
        vector    BLOB NOT NULL,
        PRIMARY KEY (frame_id, model)
    );
    CREATE TABLE transcripts (
        video_id  INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
        model     TEXT NOT NULL,
        language  TEXT NOT NULL,
        text      TEXT NOT NULL,
        flag      TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        PRIMARY KEY (video_id, model)
    );
    CREATE TABLE segments (
        video_id  INTEGER NOT NULL,
        model     TEXT NOT NULL,
        id        INTEGER NOT NULL,
        seek      INTEGER NOT NULL,
        start_s   REAL NOT NULL,
        end_s     REAL NOT NULL,
        text      TEXT NOT NULL,
        tokens    TEXT NOT NULL,
        temperature REAL NOT NULL,
        avg_logprob REAL NOT NULL,
        compression_ratio REAL NOT NULL,
        no_speech_prob REAL NOT NULL,
        PRIMARY KEY (video_id, model, id),
        FOREIGN KEY (video_id, model) REFERENCES transcripts(video_id, model) ON DELETE CASCADE
    );
    CREATE TABLE lyrics_embeddings (
        video_id  INTEGER NOT NULL,
        transcript_model TEXT NOT NULL,
        model     TEXT NOT NULL,
        segment   INTEGER NOT NULL,
        dim       INTEGER NOT NULL,
        vector    BLOB NOT NULL,
        PRIMARY KEY (video_id, transcript_model, model, segment),
        FOREIGN KEY (video_id, transcript_model) REFERENCES transcripts(video_id, model) ON DELETE CASCADE
    );",
    // 3: training: cached features of augmented train frames, runs with their metrics, settings.
    "CREATE TABLE frame_views (
        frame_id  INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
        model     TEXT NOT NULL,
        view      INTEGER NOT NULL,
        vector    BLOB NOT NULL,
        PRIMARY KEY (frame_id, model, view)
    );
    CREATE TABLE runs (
        id            INTEGER PRIMARY KEY,
        started_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        finished_at   TEXT,
        status        TEXT NOT NULL CHECK (status IN ('running', 'done', 'stopped', 'failed')),
        error         TEXT,
        image_model   TEXT NOT NULL,
        settings      TEXT NOT NULL,
        classes       TEXT NOT NULL,
        left_out      TEXT NOT NULL,
        epochs_done   INTEGER NOT NULL DEFAULT 0,
        head_file     TEXT
    );
    CREATE TABLE run_steps (
        run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step    INTEGER NOT NULL,
        epoch   INTEGER NOT NULL,
        loss    REAL NOT NULL,
        PRIMARY KEY (run_id, step)
    );
    CREATE TABLE run_epochs (
        run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch   INTEGER NOT NULL,
        metrics TEXT NOT NULL,
        PRIMARY KEY (run_id, epoch)
    );
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
    // 4: the vector store (`store`) asks how many embeddings a model has and the newest rowid.
    "CREATE INDEX frame_embeddings_by_model ON frame_embeddings(model);",
    // 5: pairs of videos a person said are not duplicates (`a` < `b`), so `dupes` stops listing them.
    "CREATE TABLE not_duplicates (
        a          INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
        b          INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
        decided_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        PRIMARY KEY (a, b),
        CHECK (a < b)
    );",
    // 6: the catalog's identity, so a vector store made for another catalog (one moved aside and
    // made again), or for an older state of this one, is never read: a random id made once, and
    // a count of embeddings ever deleted (rows replaced can leave the count and newest rowid as
    // they were).
    "INSERT OR IGNORE INTO settings (key, value) VALUES ('catalog_id', lower(hex(randomblob(16))));
    INSERT OR IGNORE INTO settings (key, value) VALUES ('embeddings_deleted', '0');
    CREATE TRIGGER count_deleted_embeddings AFTER DELETE ON frame_embeddings BEGIN
        UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'embeddings_deleted';
    END;",
    // 7: each video's audio fingerprint (Chromaprint's: one 32-bit hash per 0.124 s, little-
    // endian), made from the extracted audio, for how two videos relate (the same recording).
    "CREATE TABLE fingerprints (
        video_id   INTEGER PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
        duration_s INTEGER NOT NULL,
        hashes     BLOB NOT NULL
    );",
    // 8: how sure the speech model was of a transcript's language (NULL where it was not
    // detected: an English-only checkpoint, or a language set in the config).
    "ALTER TABLE transcripts ADD COLUMN language_probability REAL;",
];

/// The newest schema version this build knows.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the catalog up to [`LATEST`], one transaction per migration.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let err = |source| Error::Catalog { path: path.into(), source };
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
    if current > LATEST {
        return Err(Error::CatalogTooNew { path: path.into(), found: current, known: LATEST });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", i as i64 + 1).map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::error::Error;

    #[test]
    fn a_new_catalog_is_at_the_latest_schema_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let cat = Catalog::open(&path).unwrap();
        assert_eq!(cat.schema_version().unwrap(), super::LATEST);
        assert_eq!(cat.journal_mode().unwrap(), "wal");
        drop(cat);
        // Re-opening applies nothing twice.
        assert_eq!(Catalog::open(&path).unwrap().schema_version().unwrap(), super::LATEST);
    }

    #[test]
    fn a_catalog_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", super::LATEST + 1).unwrap();
        drop(conn);
        let err = Catalog::open(&path).err().expect("refused");
        assert!(matches!(err, Error::CatalogTooNew { .. }), "{err}");
        assert!(err.to_string().contains("upgrade reelmatch"));
    }
}
