//! Making room: at the cap and on a full disk the oldest undelivered
//! events are dropped (and counted by the writer), so the newest, most
//! useful events are kept; a drained spool hands its free pages back to the
//! file system.

use super::append::{read_chunk, rewrite_chunk};
use super::{sqlite_err, Spool, SpoolError};

/// Free pages (4 KiB each) a drained spool may keep before it returns them
/// to the file system, so a backlog's disk space does not stay taken after
/// delivery, yet small backlogs do not cost a vacuum each.
const VACUUM_FREE_PAGES: i64 = 2048;

/// At the cap, drop down to this fraction of it, so a full spool drops in
/// chunks rather than on every commit.
const CAP_HYSTERESIS: f64 = 0.95;

/// Bytes to drop from a spool of `bytes` over its cap `max_bytes`: down to
/// the hysteresis mark below the cap.
pub(super) fn over_cap(bytes: u64, max_bytes: u64) -> u64 {
    bytes.saturating_sub((max_bytes as f64 * CAP_HYSTERESIS) as u64)
}

impl Spool {
    /// Drops the oldest `fraction` of undelivered events to make room, e.g.
    /// when the disk is full before the cap. Returns how many were dropped.
    pub(crate) fn shed(&mut self, fraction: f64) -> Result<u64, SpoolError> {
        self.delete_with_reserve(|spool| spool.shed_once(fraction))
    }

    fn shed_once(&mut self, fraction: f64) -> Result<u64, SpoolError> {
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

    /// Runs `delete`, and once more on the reserve's space if the disk was
    /// full. Without the reserve held, the log is truncated after the
    /// delete (it changed pages in place, so that returns the space the log
    /// took) and the reserve taken again.
    pub(super) fn delete_with_reserve<T>(
        &mut self,
        delete: impl Fn(&mut Spool) -> Result<T, SpoolError>,
    ) -> Result<T, SpoolError> {
        let out = match delete(self) {
            Err(e) if e.is_disk_full() && self.reserve.release() => {
                // The log's pages go into the database file first, so the
                // delete starts on an empty log.
                self.truncate_log();
                delete(self)
            }
            done => done,
        };
        if !self.reserve.is_held() {
            self.truncate_log();
            self.reserve.take();
        }
        out
    }

    /// Checkpoints the whole log into the database file and truncates it.
    /// Best effort: a delete is committed (or failed) either way, and a
    /// checkpoint blocked by a reader or the disk is tried again next time.
    fn truncate_log(&self) {
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }

    /// Hands a drained spool's free pages back to the file system once
    /// there are enough of them to matter.
    pub(super) fn return_free_pages(&mut self) -> Result<(), SpoolError> {
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
        Ok(())
    }
}

/// Deletes the oldest events until at least `want` bytes are freed.
/// Returns (events dropped, bytes freed). Whole chunks go without being
/// read; the one the mark falls in loses its oldest events only.
pub(super) fn drop_oldest(tx: &rusqlite::Transaction, want: u64) -> rusqlite::Result<(u64, u64)> {
    let (mut dropped, mut freed) = (0u64, 0u64);
    let mut whole_upto = None;
    let mut cut = None;
    {
        let mut select = tx.prepare_cached("SELECT id, events, bytes FROM chunks ORDER BY id")?;
        let mut rows = select.query([])?;
        while freed < want {
            let Some(row) = rows.next()? else { break };
            let (id, events, bytes): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            if freed + bytes as u64 <= want {
                whole_upto = Some(id);
                dropped += events as u64;
                freed += bytes as u64;
            } else {
                cut = Some(id);
                break;
            }
        }
    }
    if let Some(id) = whole_upto {
        tx.prepare_cached("DELETE FROM chunks WHERE id <= ?1")?
            .execute([id])?;
    }
    if let Some(id) = cut {
        let mut chunk = read_chunk(tx, id)?;
        // Oldest first, until the mark: the closure counts what it drops.
        let (n, _) = chunk.retain(|e| {
            let keep = freed >= want;
            if !keep {
                freed += e.counted();
            }
            keep
        });
        dropped += n;
        rewrite_chunk(tx, id, &chunk)?;
    }
    Ok((dropped, freed))
}
