//! The uplink's reads: committed events in spool order, a batch at a
//! time, on a connection of its own so reading never waits for the writer.
//! A batch is cut from the chunks it spans by position.

use super::chunk;
use super::{sqlite_err, Fetched, SpoolError};
use rusqlite::types::Type;
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
        conn.prepare_cached("SELECT id, meta, body FROM chunks WHERE id > ?1 ORDER BY id")?;
    let mut rows = stmt.query(params![after])?;
    let mut out: Option<Fetched> = None;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let body = row.get_ref(2)?.as_str()?;
        let entries = chunk::entries(id, row.get_ref(1)?.as_blob()?, body)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, Type::Blob, Box::new(e)))?;
        let start = entries.partition_point(|e| e.pos <= after);
        let (taken, mut json_len) = out
            .as_ref()
            .map_or((0, 0), |f| (f.count, f.events_json.len()));
        let mut end = start;
        while end < entries.len() {
            let n = taken + (end - start);
            let add = entries[end].len + usize::from(n > 0);
            if n >= max_events || (n > 0 && json_len + add > max_bytes) {
                break;
            }
            json_len += add;
            end += 1;
        }
        let full = end < entries.len();
        // A batch that would cut this chunk and is half full already ends
        // before it: the batch's delete then removes whole chunks, not
        // rewriting what is left of one.
        if full && taken > 0 && (taken >= max_events / 2 || json_len >= max_bytes / 2) {
            break;
        }
        if end > start {
            let (from, to) = chunk::span(&entries, start, end);
            let json = &body[from..to];
            let last = entries[end - 1].pos;
            match &mut out {
                None => {
                    out = Some(Fetched {
                        first: entries[start].pos,
                        last,
                        count: end - start,
                        events_json: json.to_owned(),
                    })
                }
                Some(f) => {
                    f.events_json.push(',');
                    f.events_json.push_str(json);
                    f.last = last;
                    f.count += end - start;
                }
            }
        }
        if full {
            break;
        }
    }
    Ok(out)
}
