//! The spool: a durable queue of funnel events between the tags and HQ, in
//! one SQLite file (WAL, `synchronous=FULL`).
//!
//! An event is in the spool from the commit that lets its tag be acked until
//! the PUBACK of the batch that carried it. Each event has a position that
//! never goes backwards, even after the spool empties, so the uplink walks
//! the spool with a cursor and deletes delivered ranges of positions; the
//! events are stored a `chunk` (a commit group's worth) to a row.
//!
//! `open` opens the file or replaces a damaged one (`upgrade` moves an
//! older layout's events into chunks), `append` holds the
//! two writes (append, delete delivered), `dead_letter` moves aside events
//! the broker will never take, `commands` keeps the commands waiting for
//! their tags, `reader` the uplink's batch
//! reads, `evict` the room-making at the cap or on a full disk, with
//! `reserve` keeping deletes possible on a disk the spool filled;
//! [`writer`] is the thread that owns the spool.

mod append;
mod chunk;
mod commands;
mod dead_letter;
mod evict;
mod open;
mod reader;
mod reserve;
mod upgrade;
pub(crate) mod writer;

pub(crate) use reader::SpoolReader;

use super::enrich::EventKey;
use rusqlite::{Connection, ErrorCode, OptionalExtension};
use std::path::{Path, PathBuf};

/// Bytes counted per event on top of its JSON: its record in the chunk,
/// its share of the row's own overhead and page slack. Keeps the cap close
/// to the real file size for small events.
pub(crate) const ROW_OVERHEAD: u64 = 64;

/// Errors of the spool.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpoolError {
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
    #[error("spool {path} has layout version {version}, written by a newer aisle; run that release until the spool drains, or move the file aside")]
    NewerLayout { path: PathBuf, version: i64 },
}

impl SpoolError {
    /// The disk (or the file system quota) is full.
    pub(crate) fn is_disk_full(&self) -> bool {
        matches!(self, SpoolError::Sqlite { source, .. } if source.sqlite_error_code() == Some(ErrorCode::DiskFull))
    }

    /// The file is damaged; only moving it aside at the next start helps.
    pub(crate) fn is_corrupt(&self) -> bool {
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
pub(crate) struct NewEvent {
    pub key: EventKey,
    pub spooled_at: i64,
    pub body: String,
}

/// What one append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Appended {
    /// Events queued.
    pub inserted: u64,
    /// Oldest undelivered events dropped to stay under the cap.
    pub dropped: u64,
}

/// Events read for one batch: positions `first..=last`, their JSON objects
/// joined with commas, ready to go inside `"events":[…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetched {
    pub first: i64,
    pub last: i64,
    pub count: usize,
    pub events_json: String,
}

/// The spool file and its running totals.
pub(crate) struct Spool {
    conn: Connection,
    path: PathBuf,
    max_bytes: u64,
    depth: u64,
    bytes: u64,
    /// Spool position of the next event appended: one past the highest
    /// ever used, so the uplink's cursor never sees a position twice.
    next_pos: i64,
    reserve: reserve::Reserve,
}

impl Spool {
    /// Undelivered events.
    pub(crate) fn depth(&self) -> u64 {
        self.depth
    }

    /// Bytes counted against the cap.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Spool time (unix ms) of the oldest undelivered event.
    pub(crate) fn oldest_spooled_at(&self) -> Result<Option<i64>, SpoolError> {
        self.conn
            .query_row(
                "SELECT spooled_at FROM chunks ORDER BY id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| sqlite_err(&self.path, e))
    }

    /// The keys of the newest `limit` events in the spool, oldest first:
    /// what the writer's dedup remembers at start, so a tag resending an
    /// event whose ack a restart lost is not spooled twice.
    pub(crate) fn recent_keys(&self, limit: usize) -> Result<Vec<EventKey>, SpoolError> {
        let read = || -> rusqlite::Result<Vec<EventKey>> {
            let mut stmt = self
                .conn
                .prepare("SELECT id, meta, body FROM chunks ORDER BY id DESC")?;
            let mut rows = stmt.query([])?;
            let mut newest_first = Vec::new();
            while newest_first.len() < limit {
                let Some(row) = rows.next()? else { break };
                let entries = chunk::entries(
                    row.get(0)?,
                    row.get_ref(1)?.as_blob()?,
                    row.get_ref(2)?.as_str()?,
                )
                .map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Blob,
                        Box::new(e),
                    )
                })?;
                newest_first.extend(
                    entries
                        .iter()
                        .rev()
                        .map(|e| e.key)
                        .take(limit - newest_first.len()),
                );
            }
            newest_first.reverse();
            Ok(newest_first)
        };
        read().map_err(|e| sqlite_err(&self.path, e))
    }

    /// The highest spool position ever used (0 for a new spool).
    pub(crate) fn last_id(&self) -> i64 {
        self.next_pos - 1
    }
}
fn sqlite_err(path: &Path, source: rusqlite::Error) -> SpoolError {
    SpoolError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests;
