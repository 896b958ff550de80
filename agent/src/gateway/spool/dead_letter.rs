//! The dead-letter table: events the broker will never take (a single
//! event larger than it accepts) are moved out of the queue, with the
//! reason and the time, so they neither block delivery nor vanish. They
//! stay until an operator deals with them (docs/gateway.md, "Events the
//! broker refuses").

use super::append::{delete_rows, read_chunk};
use super::{sqlite_err, Spool, SpoolError};
use rusqlite::params;

impl Spool {
    /// Moves the events at positions `first..=last` from the queue to `dead_letter` in one
    /// transaction, so each event is in exactly one of them. Moving ids
    /// already moved does nothing. Returns the events moved.
    pub(crate) fn quarantine(
        &mut self,
        first: i64,
        last: i64,
        reason: &str,
        now_ms: i64,
    ) -> Result<u64, SpoolError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_err(&self.path, e))?;
        let removed = (|| {
            let ids: Vec<i64> = {
                let mut select =
                    tx.prepare_cached("SELECT id FROM chunks WHERE id >= ?1 AND first <= ?2")?;
                let ids = select.query_map([first, last], |r| r.get(0))?;
                ids.collect::<rusqlite::Result<_>>()?
            };
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO dead_letter (id, tag, boot, seq, spooled_at, body, reason, moved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for id in ids {
                let chunk = read_chunk(&tx, id)?;
                let mut at = 0;
                for e in &chunk.entries {
                    let json = &chunk.body[at..at + e.len];
                    at += e.len + 1;
                    if (first..=last).contains(&e.pos) {
                        insert.execute(params![
                            e.pos,
                            e.key.tag,
                            e.key.boot,
                            e.key.seq,
                            e.spooled_at,
                            json,
                            reason,
                            now_ms
                        ])?;
                    }
                }
            }
            drop(insert);
            delete_rows(&tx, &[(first, last)])
        })()
        .map_err(|e| sqlite_err(&self.path, e))?;
        tx.commit().map_err(|e| sqlite_err(&self.path, e))?;
        self.forget(removed)
    }

    /// Events in the dead-letter table.
    pub(crate) fn dead_letters(&self) -> Result<u64, SpoolError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM dead_letter", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| sqlite_err(&self.path, e))
    }
}
