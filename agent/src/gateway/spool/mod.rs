//! The spool: a durable queue of funnel events between the tags and HQ, in
//! one SQLite file (WAL, `synchronous=FULL`).
//!
//! An event is in the spool from the commit that lets its tag be acked until
//! the PUBACK of the batch that carried it. Rows keep their insertion order
//! (`AUTOINCREMENT` ids never go backwards, even after the table empties), so
//! the uplink walks the spool with a cursor and deletes delivered ranges.
//! [`writer`] is the thread that owns it.

pub mod writer;

use super::enrich::{EventKey, UnroutedRead};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
use std::path::{Path, PathBuf};

/// Bytes counted per row on top of the event's JSON: ids, timestamps, index
/// entries. Keeps the cap close to the real file size for small events.
pub const ROW_OVERHEAD: u64 = 64;

/// Reads without a stage kept for store IT; the oldest go first beyond this.
const UNROUTED_KEEP: i64 = 10_000;

/// Free pages (4 KiB each) a drained spool may keep before it returns them
/// to the file system, so a backlog's disk space does not stay taken after
/// delivery, yet small backlogs do not cost a vacuum each.
const VACUUM_FREE_PAGES: i64 = 2048;

/// At the cap, drop down to this fraction of it, so a full spool drops in
/// chunks rather than on every commit.
const CAP_HYSTERESIS: f64 = 0.95;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tag INTEGER NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    spooled_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tag, boot, seq)
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
";

/// Errors of the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot move the unreadable spool {path} aside: {source}")]
    MoveAside {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the spool directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spool {path} failed its integrity check: {detail}")]
    Corrupt { path: PathBuf, detail: String },
}

impl SpoolError {
    /// The disk (or the file system quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, SpoolError::Sqlite { source, .. } if source.sqlite_error_code() == Some(ErrorCode::DiskFull))
    }

    /// The file is damaged; only moving it aside at the next start helps.
    pub fn is_corrupt(&self) -> bool {
        match self {
            SpoolError::Corrupt { .. } => true,
            SpoolError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            ),
            _ => false,
        }
    }
}

/// One funnel event to append: its key and its JSON as sent to HQ.
pub struct NewEvent {
    pub key: EventKey,
    pub spooled_at: i64,
    pub body: String,
}

/// What one append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// New rows (a key already in the spool is ignored).
    pub inserted: u64,
    /// Oldest undelivered events dropped to stay under the cap.
    pub dropped: u64,
}

/// Events read for one batch: spool ids `first..=last`, their JSON objects
/// joined with commas, ready to go inside `"events":[…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub first: i64,
    pub last: i64,
    pub count: usize,
    pub events_json: String,
}

/// The spool file and its running totals.
pub struct Spool {
    conn: Connection,
    path: PathBuf,
    max_bytes: u64,
    depth: u64,
    bytes: u64,
}

/// How [`Spool::open`] found the file.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Where an unreadable spool was moved before starting a fresh one.
    pub moved_aside: Option<PathBuf>,
    /// The error that made it unreadable.
    pub reason: Option<String>,
}

impl Spool {
    /// Opens (or creates) the spool at `path`. A file SQLite cannot read is
    /// moved aside to `<path>.corrupt-<unix ms>` and a fresh spool started,
    /// so a damaged file never keeps a store offline; the report says so.
    pub fn open(
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
        match Spool::try_open(path, max_bytes) {
            Ok(spool) => Ok((spool, OpenReport::default())),
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
                Ok((
                    spool,
                    OpenReport {
                        moved_aside: Some(aside),
                        reason: Some(first.to_string()),
                    },
                ))
            }
            Err(e) => Err(e),
        }
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
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Reading every row's length totals the spool and proves the table
        // is readable before the gateway promises anything.
        let (depth, body_bytes): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM events",
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
        })
    }

    /// Undelivered events.
    pub fn depth(&self) -> u64 {
        self.depth
    }

    /// Bytes counted against the cap.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `events` and `unrouted` reads in one transaction and commits
    /// (fsync). When this returns `Ok` every event is durable and its tag may
    /// be acked; on `Err` nothing was written.
    pub fn append(
        &mut self,
        events: &[NewEvent],
        unrouted: &[UnroutedRead],
    ) -> Result<Appended, SpoolError> {
        let mut out = Appended::default();
        let mut added_bytes = 0;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_err(&self.path, e))?;
        let result = (|| -> rusqlite::Result<()> {
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO events (tag, boot, seq, spooled_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for e in events {
                    let n = insert.execute(params![
                        e.key.tag,
                        e.key.boot,
                        e.key.seq,
                        e.spooled_at,
                        e.body
                    ])?;
                    if n == 1 {
                        out.inserted += 1;
                        added_bytes += e.body.len() as u64 + ROW_OVERHEAD;
                    }
                }
            }
            if !unrouted.is_empty() {
                let mut insert = tx.prepare_cached("INSERT OR IGNORE INTO unrouted (tag, boot, seq, ts, epc) VALUES (?1, ?2, ?3, ?4, ?5)")?;
                for r in unrouted {
                    insert.execute(params![r.key.tag, r.key.boot, r.key.seq, r.ts.0, r.epc])?;
                }
                tx.execute(
                    "DELETE FROM unrouted WHERE id <= (SELECT MAX(id) FROM unrouted) - ?1",
                    [UNROUTED_KEEP],
                )?;
            }
            Ok(())
        })();
        result.map_err(|e| sqlite_err(&self.path, e))?;
        let mut bytes = self.bytes + added_bytes;
        let mut depth = self.depth + out.inserted;
        if bytes > self.max_bytes {
            let target = (self.max_bytes as f64 * CAP_HYSTERESIS) as u64;
            let (dropped, freed) =
                drop_oldest(&tx, bytes - target).map_err(|e| sqlite_err(&self.path, e))?;
            out.dropped = dropped;
            bytes = bytes.saturating_sub(freed);
            depth = depth.saturating_sub(dropped);
        }
        tx.commit().map_err(|e| sqlite_err(&self.path, e))?;
        self.bytes = bytes;
        self.depth = depth;
        Ok(out)
    }

    /// Drops the oldest `fraction` of undelivered events to make room, e.g.
    /// when the disk is full before the cap. Returns how many were dropped.
    pub fn shed(&mut self, fraction: f64) -> Result<u64, SpoolError> {
        let want = ((self.bytes as f64) * fraction) as u64;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_err(&self.path, e))?;
        let (dropped, freed) =
            drop_oldest(&tx, want.max(1)).map_err(|e| sqlite_err(&self.path, e))?;
        tx.commit().map_err(|e| sqlite_err(&self.path, e))?;
        self.bytes = self.bytes.saturating_sub(freed);
        self.depth = self.depth.saturating_sub(dropped);
        Ok(dropped)
    }

    /// Deletes spool ids `first..=last` (a delivered batch) and commits.
    /// Ids already dropped at the cap are simply not there any more.
    pub fn delete_range(&mut self, ranges: &[(i64, i64)]) -> Result<u64, SpoolError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_err(&self.path, e))?;
        let run = || -> rusqlite::Result<(u64, u64)> {
            let mut sum = tx.prepare_cached("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM events WHERE id BETWEEN ?1 AND ?2")?;
            let mut delete = tx.prepare_cached("DELETE FROM events WHERE id BETWEEN ?1 AND ?2")?;
            let (mut rows, mut bytes) = (0u64, 0u64);
            for &(first, last) in ranges {
                let (n, b): (i64, i64) =
                    sum.query_row(params![first, last], |r| Ok((r.get(0)?, r.get(1)?)))?;
                delete.execute(params![first, last])?;
                rows += n as u64;
                bytes += b as u64 + n as u64 * ROW_OVERHEAD;
            }
            Ok((rows, bytes))
        };
        let (rows, bytes) = run().map_err(|e| sqlite_err(&self.path, e))?;
        tx.commit().map_err(|e| sqlite_err(&self.path, e))?;
        self.depth = self.depth.saturating_sub(rows);
        self.bytes = self.bytes.saturating_sub(bytes);
        if self.depth == 0 {
            let free: i64 = self
                .conn
                .query_row("PRAGMA freelist_count", [], |r| r.get(0))
                .map_err(|e| sqlite_err(&self.path, e))?;
            if free > VACUUM_FREE_PAGES {
                // Each step of this pragma frees one page: step to the end.
                let vacuum = || -> rusqlite::Result<()> {
                    let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum")?;
                    let mut rows = stmt.query([])?;
                    while rows.next()?.is_some() {}
                    Ok(())
                };
                vacuum().map_err(|e| sqlite_err(&self.path, e))?;
            }
        }
        Ok(rows)
    }

    /// Spool time (unix ms) of the oldest undelivered event.
    pub fn oldest_spooled_at(&self) -> Result<Option<i64>, SpoolError> {
        self.conn
            .query_row(
                "SELECT spooled_at FROM events ORDER BY id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| sqlite_err(&self.path, e))
    }

    /// The highest spool id ever used (0 for a new spool).
    pub fn last_id(&self) -> Result<i64, SpoolError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
            .map_err(|e| sqlite_err(&self.path, e))
    }
}

/// The uplink's own read-only view of the spool. WAL lets it read
/// committed events while the writer commits new ones, so building a batch
/// never waits behind a busy writer.
pub struct SpoolReader {
    conn: Connection,
    path: PathBuf,
}

impl SpoolReader {
    /// Opens the spool at `path`, which [`Spool::open`] has already created.
    pub fn open(path: &Path) -> Result<SpoolReader, SpoolError> {
        let err = |source| sqlite_err(path, source);
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "query_only", true).map_err(err)?;
        // It reads recent rows once, in order: a small cache is enough.
        conn.pragma_update(None, "cache_size", -512).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        Ok(SpoolReader {
            conn,
            path: path.to_owned(),
        })
    }

    /// Up to `max_events` committed events after spool id `after`, in
    /// order, whose JSON fits in `max_bytes` (always at least one event).
    pub fn fetch(
        &self,
        after: i64,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Option<Fetched>, SpoolError> {
        fetch_rows(&self.conn, after, max_events, max_bytes).map_err(|e| sqlite_err(&self.path, e))
    }
}

fn fetch_rows(
    conn: &Connection,
    after: i64,
    max_events: usize,
    max_bytes: usize,
) -> rusqlite::Result<Option<Fetched>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, body FROM events WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    let mut rows = stmt.query(params![after, max_events as i64])?;
    let mut out: Option<Fetched> = None;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let body = row.get_ref(1)?.as_str()?;
        match &mut out {
            None => {
                out = Some(Fetched {
                    first: id,
                    last: id,
                    count: 1,
                    events_json: body.to_owned(),
                })
            }
            Some(f) => {
                if f.events_json.len() + 1 + body.len() > max_bytes {
                    break;
                }
                f.events_json.push(',');
                f.events_json.push_str(body);
                f.last = id;
                f.count += 1;
            }
        }
    }
    Ok(out)
}

fn sqlite_err(path: &Path, source: rusqlite::Error) -> SpoolError {
    SpoolError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// Deletes the oldest events until at least `want` bytes are freed.
/// Returns (events dropped, bytes freed).
fn drop_oldest(tx: &rusqlite::Transaction, want: u64) -> rusqlite::Result<(u64, u64)> {
    let mut select =
        tx.prepare_cached("SELECT id, LENGTH(body) FROM events ORDER BY id LIMIT 1024")?;
    let mut delete = tx.prepare_cached("DELETE FROM events WHERE id <= ?1")?;
    let (mut dropped, mut freed) = (0u64, 0u64);
    while freed < want {
        let mut upto = None;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let (id, len): (i64, i64) = (row.get(0)?, row.get(1)?);
            upto = Some(id);
            dropped += 1;
            freed += len as u64 + ROW_OVERHEAD;
            if freed >= want {
                break;
            }
        }
        drop(rows);
        match upto {
            Some(id) => {
                delete.execute([id])?;
            }
            None => break,
        }
    }
    Ok((dropped, freed))
}

#[cfg(test)]
mod tests;
