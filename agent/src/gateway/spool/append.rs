//! The spool's two writes: appending events, as chunks, durable once the
//! call returns, and deleting the ranges the broker acknowledged, cutting
//! the chunks they end in. Each call is
//! one transaction, so a crash leaves the spool as before or after it,
//! never between. The writer usually does both in one call: each commit
//! costs a log write and an fsync, which a group's append and the deletes
//! that arrived with it can share.

use super::chunk::{Chunk, CHUNK_EVENTS};
use super::evict::{drop_oldest, over_cap};
use super::{sqlite_err, Appended, NewEvent, Spool, SpoolError};
use crate::gateway::enrich::UnroutedRead;
use rusqlite::types::Type;
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
            let mut pos = self.next_pos;
            for part in events.chunks(CHUNK_EVENTS) {
                let chunk = Chunk::of(part.iter().map(|e| {
                    pos += 1;
                    (pos - 1, e.key, e.spooled_at, e.body.as_str())
                }));
                insert_chunk(&tx, &chunk)?;
                added_bytes += chunk.counted();
            }
            out.inserted = events.len() as u64;
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
        self.next_pos += events.len() as i64;
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

/// Writes `chunk` (not empty) as a new row, keyed by its last position.
pub(super) fn insert_chunk(tx: &Transaction<'_>, chunk: &Chunk) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO chunks (id, first, events, bytes, spooled_at, meta, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let last = chunk.entries[chunk.entries.len() - 1].pos;
    insert.execute(params![
        last,
        chunk.first(),
        chunk.entries.len() as i64,
        chunk.counted() as i64,
        chunk.spooled_at(),
        chunk.meta(),
        chunk.body
    ])?;
    Ok(())
}

/// Reads row `id` as a chunk, inside `tx`.
pub(super) fn read_chunk(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<Chunk> {
    let mut select = tx.prepare_cached("SELECT meta, body FROM chunks WHERE id = ?1")?;
    select.query_row([id], |r| {
        let meta = r.get_ref(0)?.as_blob()?;
        let body = r.get_ref(1)?.as_str()?;
        Chunk::decode(id, meta, body)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Blob, Box::new(e)))
    })
}

/// Writes back chunk `id` after some of its events left it: what is left,
/// or nothing when none is.
pub(super) fn rewrite_chunk(tx: &Transaction<'_>, id: i64, chunk: &Chunk) -> rusqlite::Result<()> {
    if chunk.entries.is_empty() {
        tx.prepare_cached("DELETE FROM chunks WHERE id = ?1")?
            .execute([id])?;
        return Ok(());
    }
    tx.prepare_cached(
        "UPDATE chunks SET first = ?2, events = ?3, bytes = ?4, spooled_at = ?5, meta = ?6, body = ?7
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        chunk.first(),
        chunk.entries.len() as i64,
        chunk.counted() as i64,
        chunk.spooled_at(),
        chunk.meta(),
        chunk.body
    ])?;
    Ok(())
}

/// Deletes the events at positions `first..=last` of each range inside
/// `tx`; returns the events deleted and the bytes they counted against the
/// cap. Positions already dropped at the cap, or deleted with an earlier
/// range, are simply not there any more. Chunks wholly inside a range go
/// in one statement without being read; the one or two a range's ends cut
/// are rewritten with the events outside it.
pub(super) fn delete_rows(
    tx: &Transaction<'_>,
    ranges: &[(i64, i64)],
) -> rusqlite::Result<(u64, u64)> {
    let (mut rows, mut bytes) = (0u64, 0u64);
    for &(lo, hi) in ranges {
        // Chunks holding positions >= lo, until one starts after hi.
        let mut whole: Option<(i64, i64)> = None;
        let mut cut = Vec::new();
        {
            let mut select = tx.prepare_cached(
                "SELECT id, first, events, bytes FROM chunks WHERE id >= ?1 ORDER BY id",
            )?;
            let mut found = select.query([lo])?;
            while let Some(row) = found.next()? {
                let (id, first): (i64, i64) = (row.get(0)?, row.get(1)?);
                if first > hi {
                    break;
                }
                if first >= lo && id <= hi {
                    let (n, b): (i64, i64) = (row.get(2)?, row.get(3)?);
                    rows += n as u64;
                    bytes += b as u64;
                    whole = Some((whole.map_or(id, |w| w.0), id));
                } else {
                    cut.push(id);
                }
            }
        }
        // Only the first and last chunk can be cut, so the whole ones
        // are exactly those between.
        if let Some((from, to)) = whole {
            tx.prepare_cached("DELETE FROM chunks WHERE id BETWEEN ?1 AND ?2")?
                .execute(params![from, to])?;
        }
        for id in cut {
            let mut chunk = read_chunk(tx, id)?;
            let (n, b) = chunk.retain(|e| e.pos < lo || e.pos > hi);
            if n > 0 {
                rewrite_chunk(tx, id, &chunk)?;
                rows += n;
                bytes += b;
            }
        }
    }
    Ok((rows, bytes))
}
