//! Opening a spool written before chunks (layout 0, one event per row in
//! `events`): its events are moved into chunks, oldest first, keeping their
//! ids as positions, so nothing acked is lost and nothing reordered.
//!
//! Each step moves a few thousand events in one transaction (insert the
//! chunks, delete the rows), so a crash leaves every event in exactly one
//! table and the next start carries on; the rows' freed pages take the
//! next step's chunks, so a spool on a nearly full disk upgrades too (a
//! step that finds the disk full runs again on the reserve's space).

use super::append::insert_chunk;
use super::chunk::{Chunk, CHUNK_EVENTS};
use super::open::SCHEMA_VERSION;
use super::{sqlite_err, Spool, SpoolError};
use crate::gateway::enrich::EventKey;
use rusqlite::OptionalExtension;

/// Events moved per transaction: bounds the memory and the log of a step.
const UPGRADE_STEP: usize = 32 * CHUNK_EVENTS;

impl Spool {
    /// Moves every event of a layout-0 spool into chunks, then drops the
    /// old table and records the new layout.
    pub(super) fn upgrade(&mut self) -> Result<(), SpoolError> {
        let old_table = self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'",
                [],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| sqlite_err(&self.path, e))?
            .is_some();
        if old_table {
            while self.delete_with_reserve(Spool::upgrade_step)? > 0 {}
        }
        let finish = || -> rusqlite::Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            if old_table {
                // Positions must stay above every id the old table handed
                // out, or the dead-letter table could meet an id twice.
                let old: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'events'",
                    [],
                    |r| r.get(0),
                )?;
                let raised = tx.execute(
                    "UPDATE sqlite_sequence SET seq = MAX(seq, ?1) WHERE name = 'chunks'",
                    [old],
                )?;
                if raised == 0 {
                    tx.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES ('chunks', ?1)",
                        [old],
                    )?;
                }
                tx.execute_batch("DROP TABLE events")?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()
        };
        finish().map_err(|e| sqlite_err(&self.path, e))
    }

    /// Moves the oldest [`UPGRADE_STEP`] rows of `events` into chunks in
    /// one transaction; returns how many it moved.
    fn upgrade_step(&mut self) -> Result<usize, SpoolError> {
        let mut step = || -> rusqlite::Result<usize> {
            let tx = self.conn.transaction()?;
            let rows: Vec<(i64, EventKey, i64, String)> = {
                let mut stmt = tx.prepare(
                    "SELECT id, tag, boot, seq, spooled_at, body FROM events ORDER BY id LIMIT ?1",
                )?;
                let rows = stmt.query_map([UPGRADE_STEP as i64], |r| {
                    let key = EventKey {
                        tag: r.get(1)?,
                        boot: r.get(2)?,
                        seq: r.get(3)?,
                    };
                    Ok((r.get(0)?, key, r.get(4)?, r.get(5)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let Some(last) = rows.last().map(|r| r.0) else {
                return Ok(0);
            };
            for part in rows.chunks(CHUNK_EVENTS) {
                let chunk = Chunk::of(part.iter().map(|(id, k, at, b)| (*id, *k, *at, b.as_str())));
                insert_chunk(&tx, &chunk)?;
            }
            tx.execute("DELETE FROM events WHERE id <= ?1", [last])?;
            tx.commit()?;
            Ok(rows.len())
        };
        step().map_err(|e| sqlite_err(&self.path, e))
    }
}
