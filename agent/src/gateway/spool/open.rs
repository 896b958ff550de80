//! Opening the spool: a file SQLite can read is used as it is, after a
//! check that proves every row readable; one it cannot read is moved aside
//! and a fresh spool started, so a damaged file never keeps a store
//! offline and is kept for inspection.

use super::chunk::Chunk;
use super::reserve::{available_bytes, Reserve, WAL_CHECKPOINT_PAGES};
use super::{sqlite_err, Spool, SpoolError};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The layout this code writes, in `PRAGMA user_version`: 1 is the
/// chunked `chunks` table; 0 (every spool before it) queued one event per
/// row in `events`, which [`Spool::open`] moves into chunks (`upgrade`).
pub(super) const SCHEMA_VERSION: i64 = 1;

/// `chunks` holds the queue, up to [`super::chunk::CHUNK_EVENTS`] events a
/// row (see `chunk`). Its id is the spool position of the chunk's last event
/// as written: positions are what the uplink counts in, `AUTOINCREMENT`
/// keeps the highest ever used even after the table empties, and the
/// chunks holding positions after `p` are simply `id > p`. It has no key on
/// the events' `(tag, boot, seq)`: the writer's
/// [`crate::gateway::enrich::Dedup`] (seeded from the spool at start)
/// catches repeats, and HQ stores events by id.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first INTEGER NOT NULL,
    events INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    spooled_at INTEGER NOT NULL,
    meta BLOB NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY,
    tag INTEGER NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    spooled_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    moved_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS unrouted (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tag INTEGER NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    epc TEXT NOT NULL,
    UNIQUE (tag, boot, seq)
);
CREATE TABLE IF NOT EXISTS commands (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tag INTEGER NOT NULL,
    command TEXT NOT NULL,
    hq_id TEXT,
    accepted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    updated_at INTEGER NOT NULL
);
";

/// How [`Spool::open`] found the file.
#[derive(Debug, Default)]
pub(crate) struct OpenReport {
    /// Where an unreadable spool was moved before starting a fresh one.
    pub moved_aside: Option<PathBuf>,
    /// The error that made it unreadable.
    pub reason: Option<String>,
    /// Bytes free on the spool's file system, when that is less than the
    /// cap still allows the spool to grow: the disk, not the cap, will
    /// limit the spool.
    pub short_of_space: Option<u64>,
}

impl Spool {
    /// Opens (or creates) the spool at `path`. A file SQLite cannot read is
    /// moved aside to `<path>.corrupt-<unix ms>` and a fresh spool started,
    /// so a damaged file never keeps a store offline; the report says so.
    pub(crate) fn open(
        path: &Path,
        max_bytes: u64,
        now_ms: i64,
    ) -> Result<(Spool, OpenReport), SpoolError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| SpoolError::Dir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let (spool, mut report) = match Spool::try_open(path, max_bytes) {
            Ok(spool) => (spool, OpenReport::default()),
            // A layout from a newer release is readable, just not by this
            // one: kept where it is, for that release.
            Err(first) if path.exists() && !matches!(first, SpoolError::NewerLayout { .. }) => {
                let aside = PathBuf::from(format!("{}.corrupt-{now_ms}", path.display()));
                for suffix in ["", "-wal", "-shm"] {
                    let from = PathBuf::from(format!("{}{suffix}", path.display()));
                    if from.exists() {
                        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
                        std::fs::rename(&from, &to).map_err(|source| SpoolError::MoveAside {
                            path: from.clone(),
                            source,
                        })?;
                    }
                }
                let spool = Spool::try_open(path, max_bytes)?;
                let report = OpenReport {
                    moved_aside: Some(aside),
                    reason: Some(first.to_string()),
                    short_of_space: None,
                };
                (spool, report)
            }
            Err(e) => return Err(e),
        };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let room = max_bytes.saturating_sub(spool.bytes);
        report.short_of_space =
            available_bytes(dir.unwrap_or(Path::new("."))).filter(|free| *free < room);
        Ok((spool, report))
    }

    fn try_open(path: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        let err = |source| SpoolError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // Only takes effect on a new file (before WAL mode or any table is
        // written to it): lets a drained spool hand its pages back to the
        // file system.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(err)?;
        // WAL: a commit is one sequential append plus fsync, and a crash
        // mid-commit leaves the previous commit intact. FULL: fsync the WAL
        // on every commit, since a commit is a promise to the tags.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        // A short log, checkpointed often and truncated after: what the log
        // holds beyond the database file bounds the room a checkpoint needs,
        // which the disk reserve must cover on a full disk.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
            .map_err(err)?;
        conn.pragma_update(None, "journal_size_limit", WAL_CHECKPOINT_PAGES * 4096)
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(SpoolError::NewerLayout {
                path: path.to_owned(),
                version,
            });
        }
        conn.execute_batch(SCHEMA).map_err(err)?;
        let mut spool = Spool {
            conn,
            path: path.to_owned(),
            max_bytes,
            depth: 0,
            bytes: 0,
            next_pos: 1,
            reserve: Reserve::beside(path),
        };
        if version < SCHEMA_VERSION {
            spool.upgrade()?;
        }
        spool.load_totals()?;
        // The walk above misses damaged index pages; quick_check does not.
        // It reads the whole file once per start, a second or so for a
        // spool holding a long outage's backlog.
        let check: String = spool
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(err)?;
        if check != "ok" {
            return Err(SpoolError::Corrupt {
                path: path.to_owned(),
                detail: check,
            });
        }
        Ok(spool)
    }

    /// Totals the queue from every chunk's records, proving each row
    /// readable and consistent before the gateway promises anything, and
    /// finds the next free position.
    fn load_totals(&mut self) -> Result<(), SpoolError> {
        let path = self.path.clone();
        let err = |source| sqlite_err(&path, source);
        let corrupt = |detail: String| SpoolError::Corrupt {
            path: path.clone(),
            detail,
        };
        let (mut depth, mut bytes) = (0u64, 0u64);
        {
            let mut stmt = self
                .conn
                .prepare("SELECT id, first, events, bytes, meta, body FROM chunks ORDER BY id")
                .map_err(err)?;
            let mut rows = stmt.query([]).map_err(err)?;
            while let Some(row) = rows.next().map_err(err)? {
                let id: i64 = row.get(0).map_err(err)?;
                let meta = row.get_ref(4).and_then(|v| Ok(v.as_blob()?)).map_err(err)?;
                let body = row.get_ref(5).and_then(|v| Ok(v.as_str()?)).map_err(err)?;
                let chunk = Chunk::decode(id, meta, body).map_err(|e| corrupt(e.to_string()))?;
                let (first, events, counted): (i64, i64, i64) = (
                    row.get(1).map_err(err)?,
                    row.get(2).map_err(err)?,
                    row.get(3).map_err(err)?,
                );
                if first != chunk.first()
                    || events as usize != chunk.entries.len()
                    || counted as u64 != chunk.counted()
                {
                    return Err(corrupt(format!(
                        "chunk {id}: totals do not match its events"
                    )));
                }
                depth += chunk.entries.len() as u64;
                bytes += chunk.counted();
            }
        }
        let last: i64 = self
            .conn
            .query_row(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'chunks'), 0),
                            COALESCE((SELECT MAX(id) FROM dead_letter), 0))",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        self.depth = depth;
        self.bytes = bytes;
        self.next_pos = last + 1;
        Ok(())
    }
}
