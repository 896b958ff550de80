//! The uplink's reads: committed events in spool order, a batch at a
//! time, on a connection of its own so reading never waits for the writer.

use super::{sqlite_err, Fetched, SpoolError};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

/// The uplink's own read-only view of the spool. WAL lets it read
/// committed events while the writer commits new ones, so building a batch
/// never waits behind a busy writer.
pub(crate) struct SpoolReader {
    conn: Connection,
    path: PathBuf,
}

impl SpoolReader {
    /// Opens the spool at `path`, which [`super::Spool::open`] has already created.
    pub(crate) fn open(path: &Path) -> Result<SpoolReader, SpoolError> {
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
    pub(crate) fn fetch(
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
