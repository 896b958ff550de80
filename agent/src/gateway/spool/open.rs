//! Opening the spool: a file SQLite can read is used as it is, after a
//! check that proves every row readable; one it cannot read is moved aside
//! and a fresh spool started, so a damaged file never keeps a store
//! offline and is kept for inspection.

use super::reserve::{available_bytes, Reserve, WAL_CHECKPOINT_PAGES};
use super::{Spool, SpoolError, ROW_OVERHEAD};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// `events` has no unique key on `(tag, boot, seq)`: such an index is
/// written in the tags' order, not the spool's, so every append and delete
/// touched a page of it at random, and it cost a fifth of the gateway's CPU.
/// The writer's [`crate::gateway::enrich::Dedup`] (seeded from the spool at
/// start) catches repeats, and HQ stores events by id. Spools created
/// before keep their key, which `INSERT OR IGNORE` still honours.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tag INTEGER NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    spooled_at INTEGER NOT NULL,
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
            Err(first) if path.exists() => {
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
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Reading every row's length totals the spool and proves the table
        // is readable before the gateway promises anything.
        let (depth, body_bytes): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(OCTET_LENGTH(body)), 0) FROM events",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(err)?;
        // The walk above misses damaged index pages; quick_check does not.
        // It reads the whole file once per start, a second or so for a
        // spool holding a long outage's backlog.
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(err)?;
        if check != "ok" {
            return Err(SpoolError::Corrupt {
                path: path.to_owned(),
                detail: check,
            });
        }
        let depth = depth as u64;
        Ok(Spool {
            conn,
            path: path.to_owned(),
            max_bytes,
            depth,
            bytes: body_bytes as u64 + depth * ROW_OVERHEAD,
            reserve: Reserve::beside(path),
        })
    }
}
