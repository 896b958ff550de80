//! The spool's two writes: appending events, durable once the call
//! returns, and deleting the ranges the broker acknowledged. Each call is
//! one transaction, so a crash leaves the spool as before or after it,
//! never between. The writer usually does both in one call: each commit
//! costs a log write and an fsync, which a group's append and the deletes
//! that arrived with it can share.

use super::evict::{drop_oldest, over_cap};
use super::{sqlite_err, Appended, NewEvent, Spool, SpoolError, ROW_OVERHEAD};
use crate::gateway::enrich::UnroutedRead;
use rusqlite::{params, Transaction};

/// Reads without a stage kept for store IT; the oldest go first beyond this.
const UNROUTED_KEEP: i64 = 10_000;

impl Spool {
    /// Appends `events` and `unrouted` reads in one transaction and commits
    /// (fsync). When this returns `Ok` every event is durable and its tag may
    /// be acked; on `Err` nothing was written.
    #[cfg(test)]
    pub(crate) fn append(
        &mut self,
        events: &[NewEvent],
        unrouted: &[UnroutedRead],
    ) -> Result<Appended, SpoolError> {
        self.append_and_delete(events, unrouted, &[])
    }

    /// Deletes the delivered spool id ranges `delivered` and appends
    /// `events` and `unrouted` reads, in one transaction, and commits
    /// (fsync). When this returns `Ok` every event is durable and its tag
    /// may be acked, and the ranges are gone; on `Err` nothing was written
    /// (the caller retries the deletes alone, which may use the disk
    /// reserve). Deleting first lets the cap count the room they free.
    pub(crate) fn append_and_delete(
        &mut self,
        events: &[NewEvent],
        unrouted: &[UnroutedRead],
        delivered: &[(i64, i64)],
    ) -> Result<Appended, SpoolError> {
        let mut out = Appended::default();
        let mut added_bytes = 0;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_err(&self.path, e))?;
        let mut deleted = (0, 0);
        let result = (|| -> rusqlite::Result<()> {
            deleted = delete_rows(&tx, delivered)?;
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
        let mut bytes = self.bytes.saturating_sub(deleted.1) + added_bytes;
        let mut depth = self.depth.saturating_sub(deleted.0) + out.inserted;
        if bytes > self.max_bytes {
            let (dropped, freed) = drop_oldest(&tx, over_cap(bytes, self.max_bytes))
                .map_err(|e| sqlite_err(&self.path, e))?;
            out.dropped = dropped;
            bytes = bytes.saturating_sub(freed);
            depth = depth.saturating_sub(dropped);
        }
        tx.commit().map_err(|e| sqlite_err(&self.path, e))?;
        self.bytes = bytes;
        self.depth = depth;
        if deleted.0 > 0 && depth == 0 {
            // Best effort: the events are committed whatever this does, and
            // the next delete that drains the spool tries again.
            let _ = self.return_free_pages();
        }
        Ok(out)
    }

    /// Deletes spool ids `first..=last` (a delivered batch) and commits.
    /// Ids already dropped at the cap are simply not there any more. On a
    /// full disk the reserve makes room for it.
    pub(crate) fn delete_range(&mut self, ranges: &[(i64, i64)]) -> Result<u64, SpoolError> {
        self.delete_with_reserve(|spool| spool.delete_range_once(ranges))
    }

    fn delete_range_once(&mut self, ranges: &[(i64, i64)]) -> Result<u64, SpoolError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_err(&self.path, e))?;
        let removed = delete_rows(&tx, ranges).map_err(|e| sqlite_err(&self.path, e))?;
        tx.commit().map_err(|e| sqlite_err(&self.path, e))?;
        self.forget(removed)
    }

    /// Takes rows a committed transaction removed off the running totals.
    pub(super) fn forget(&mut self, (rows, bytes): (u64, u64)) -> Result<u64, SpoolError> {
        self.depth = self.depth.saturating_sub(rows);
        self.bytes = self.bytes.saturating_sub(bytes);
        if self.depth == 0 {
            self.return_free_pages()?;
        }
        Ok(rows)
    }
}

/// Deletes spool ids `first..=last` of each range inside `tx`; returns the
/// rows deleted and the bytes they counted against the cap. Ids already
/// dropped at the cap, or deleted with an earlier range, are simply not
/// there any more. `RETURNING` reads each row's length as it is deleted,
/// so the rows are walked once.
pub(super) fn delete_rows(
    tx: &Transaction<'_>,
    ranges: &[(i64, i64)],
) -> rusqlite::Result<(u64, u64)> {
    if ranges.is_empty() {
        return Ok((0, 0));
    }
    let mut delete = tx.prepare_cached(
        "DELETE FROM events WHERE id BETWEEN ?1 AND ?2 RETURNING OCTET_LENGTH(body)",
    )?;
    let (mut rows, mut bytes) = (0u64, 0u64);
    for &(first, last) in ranges {
        let mut deleted = delete.query(params![first, last])?;
        while let Some(row) = deleted.next()? {
            let len: i64 = row.get(0)?;
            rows += 1;
            bytes += len as u64 + ROW_OVERHEAD;
        }
    }
    Ok((rows, bytes))
}
