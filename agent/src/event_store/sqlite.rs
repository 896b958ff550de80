//! The SQLite event store: one file in WAL mode, written by the collector
//! and read by `aisle funnel`. The schema is documented in docs/hq.md;
//! `sqlite/schema.sql` is its source of truth.
//!
//! Events are keyed by their id, so storing a batch twice (a broker
//! redelivery, a gateway replay, events re-batched after a restart) changes
//! nothing the second time.

mod checkpoint;
pub(crate) mod exposures;
pub(crate) mod filter;
pub(crate) mod garments;
mod online;
mod overview;

use super::{IngestCounts, Received};
use crate::hq::validate::{ValidBatch, Verdict};
use protocol::stage::StoreEventKind;
use rusqlite::{params, Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// `PRAGMA user_version` of the schema below; bumped on any change.
pub const SCHEMA_VERSION: i64 = 6;

/// Versions [`SqliteStore::open`] upgrades in place: version 2 added a
/// table, which applying the schema creates; version 3 added a column and
/// changed an index, version 4 replaced that index with a table, which
/// [`upgrade`] does; version 5 added `exposure_totals`, which
/// [`fill_exposure_totals`] fills; version 6 moved the exposures onto
/// their dwells ([`upgrade`], [`move_exposures_to_dwells`]).
const UPGRADABLE_VERSIONS: [i64; 5] = [1, 2, 3, 4, 5];

/// Item events (pickups, try-ons, purchases) among `events`.
pub const ITEM_EVENTS: &str = "event NOT IN ('fixture_dwell', 'store_visits')";

/// Page cache (negative: KiB). The garment steps take inserts all over their
/// key range; SQLite's 2 MiB default makes each one a read from the OS.
const CACHE_KIB: i64 = -65_536;

/// How long a connection waits for another's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How much of the file readers map (SQLite caps it at its compile-time
/// maximum, 2 GiB by default).
const MMAP_BYTES: i64 = 1 << 40;

/// Applied on every open; idempotent (`IF NOT EXISTS`).
const SCHEMA: &str = include_str!("sqlite/schema.sql");

/// What went wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {0} does not exist (start `aisle hq --db FILE` first, or check the path)")]
    Missing(PathBuf),
    #[error("{path} is not an aisle HQ database of schema {SCHEMA_VERSION} (found user_version {found}; an older one is upgraded by opening it for writing, e.g. with `aisle hq` or `aisle online import`)")]
    Version { path: PathBuf, found: i64 },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// Settings every connection gets (page cache, lock wait), then the schema
/// version the file records (0 for a new file).
fn tune_and_read_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Brings an older file's `events` to version 6, inside the caller's
/// transaction, before the schema is applied: the `count` column (NULL on
/// every stored event of a version 1 or 2 file, none of which is a
/// `store_visits`) and the `gtins` column where they are missing, the
/// garment index of versions 1 to 3 dropped ([`fill_garment_steps`] then
/// fills the table that replaces it), and the dwells-and-visits index
/// dropped, for the schema to create it again with `gtins`.
fn upgrade(conn: &Connection) -> rusqlite::Result<()> {
    for (column, kind) in [("count", "INTEGER"), ("gtins", "TEXT")] {
        let has: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('events') WHERE name = ?1",
            [column],
            |r| r.get(0),
        )?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE events ADD COLUMN {column} {kind};"))?;
        }
    }
    conn.execute_batch(
        "DROP INDEX IF EXISTS events_by_garment;
         DROP INDEX IF EXISTS events_dwells_and_visits;",
    )
}

/// Whether the file still has the `exposures` table of versions 1 to 5.
fn has_exposures_table(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'exposures'",
        [],
        |r| r.get(0),
    )
}

/// Writes each dwell's GTINs from the `exposures` table of versions 1 to 5
/// into its `gtins`, in the form the collector writes (each once, sorted,
/// a JSON array), then drops the table.
fn move_exposures_to_dwells(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE dwell_gtins AS
             SELECT event_id, json_group_array(gtin) AS gtins
             FROM (SELECT DISTINCT event_id, gtin FROM exposures ORDER BY event_id, gtin)
             GROUP BY event_id;
         UPDATE events SET gtins = dwell_gtins.gtins
             FROM dwell_gtins WHERE events.id = dwell_gtins.event_id;
         DROP TABLE dwell_gtins;
         DROP TABLE exposures;",
    )
}

/// Copies every stored item event with a garment into `garment_steps`, in
/// the form the collector writes (`sqlite/garments.rs`).
fn fill_garment_steps(conn: &Connection) -> rusqlite::Result<()> {
    use garments::{GTIN_KEY_SQL, SERIAL_KEY_SQL, STEP_CODE_SQL};
    conn.execute_batch(&format!(
        "INSERT INTO garment_steps (store, gtin, serial, ts_ms, step, event, fixture, zone)
         SELECT store, {GTIN_KEY_SQL}, {SERIAL_KEY_SQL}, ts_ms, {STEP_CODE_SQL}, rowid, fixture, zone
         FROM events
         WHERE event IN ('item_pickup', 'item_try_on', 'item_purchase')
           AND gtin IS NOT NULL AND serial IS NOT NULL"
    ))
}

/// Counts the stored exposures per store and GTIN into `exposure_totals`.
fn fill_exposure_totals(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "INSERT INTO exposure_totals (store, gtin, n)
         SELECT store, gtin, COUNT(*) FROM exposures GROUP BY store, gtin",
    )
}

/// The SQLite event store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// Writers only: checkpoints the WAL after each commit, off the commit.
    checkpointer: Option<checkpoint::Checkpointer>,
    /// Writers only: exposures stored since the last fold into
    /// `exposure_totals` (`sqlite/exposures.rs`), and how many make a fold.
    unfolded: u64,
    fold_at: u64,
}

impl SqliteStore {
    /// Opens (creating if needed) the store for writing.
    pub fn open(path: &Path) -> Result<SqliteStore, DbError> {
        let open_err = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // WAL lets `aisle funnel` read while the collector writes; FULL
        // syncs each commit, because a commit is what the broker's ack
        // promises.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        let found = tune_and_read_version(&conn).map_err(open_err)?;
        if found != 0 && found != SCHEMA_VERSION && !UPGRADABLE_VERSIONS.contains(&found) {
            return Err(DbError::Version {
                path: path.to_path_buf(),
                found,
            });
        }
        // One transaction: an upgrade interrupted half-way leaves the file
        // at its old version, to be upgraded again on the next open.
        let setup = || -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let upgrading = UPGRADABLE_VERSIONS.contains(&found);
            if upgrading {
                upgrade(&conn)?;
            }
            conn.execute_batch(SCHEMA)?;
            conn.execute_batch(crate::hq::fleet::SCHEMA)?;
            if upgrading && found < 4 {
                fill_garment_steps(&conn)?;
            }
            if upgrading && has_exposures_table(&conn)? {
                if found < 5 {
                    fill_exposure_totals(&conn)?;
                }
                move_exposures_to_dwells(&conn)?;
            }
            if upgrading {
                // The totals count every exposure stored so far.
                conn.execute_batch(
                    "UPDATE exposure_fold SET upto = (SELECT COALESCE(MAX(rowid), 0) FROM events)",
                )?;
            }
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            conn.execute_batch("COMMIT")
        };
        if let Err(err) = setup() {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(open_err(err));
        }
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(open_err)?;
        let unfolded = exposures::unfolded(&conn).map_err(open_err)?;
        let checkpointer = checkpoint::Checkpointer::start(path).map_err(open_err)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            checkpointer: Some(checkpointer),
            unfolded,
            fold_at: exposures::FOLD_EXPOSURES,
        })
    }

    /// Opens an existing store for reading only.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, DbError> {
        if !path.exists() {
            return Err(DbError::Missing(path.to_path_buf()));
        }
        let open_err = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        // No mutex: the connection stays on one thread, and the funnel makes
        // tens of millions of column calls that would each take it.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        let found = tune_and_read_version(&conn).map_err(open_err)?;
        if found != SCHEMA_VERSION {
            return Err(DbError::Version {
                path: path.to_path_buf(),
                found,
            });
        }
        // Map the file instead of copying pages through read(2): the
        // funnel reads every garment step.
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)
            .map_err(open_err)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            checkpointer: None,
            unfolded: 0,
            fold_at: exposures::FOLD_EXPOSURES,
        })
    }

    /// The database file, for opening more readers.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for readers such as the funnel.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The connection for writers beside the event ingest (the fleet).
    pub(crate) fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Stores `payloads` in one transaction: good events by id (duplicates
    /// ignored), rejected payloads and bad events into quarantine. When this
    /// returns `Ok`, everything is committed and may be acked.
    pub fn ingest(
        &mut self,
        payloads: &[Received<'_>],
        received_ms: i64,
    ) -> Result<IngestCounts, DbError> {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.bound_wal(&self.conn)?;
        }
        let tx = self.conn.transaction()?;
        let mut counts = IngestCounts::default();
        let mut new_exposures = 0u64;
        {
            let mut insert_event = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (id, store, ts_ms, event, stage, tag, epc, gtin, serial,
                     fixture, zone, duration_ms, count, gateway, batch_id, received_ms, gtins)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?;
            let mut insert_step = tx.prepare_cached(
                "INSERT INTO garment_steps (store, gtin, serial, ts_ms, step, event, fixture, zone)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut quarantine = tx.prepare_cached(
                "INSERT INTO quarantine (received_ms, topic, store, batch_id, event_index, reason, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for received in payloads {
                let batch: &ValidBatch = match received.verdict {
                    Verdict::Rejected { reason } => {
                        let store = crate::hq::validate::topic_store(received.topic);
                        quarantine.execute(params![
                            received_ms,
                            received.topic,
                            store,
                            None::<String>,
                            None::<i64>,
                            reason,
                            received.payload
                        ])?;
                        counts.quarantined_batches += 1;
                        continue;
                    }
                    Verdict::Accepted(batch) => batch,
                };
                for bad in &batch.bad_events {
                    quarantine.execute(params![
                        received_ms,
                        received.topic,
                        batch.store,
                        batch.batch_id,
                        bad.index as i64,
                        bad.reason,
                        bad.raw.as_bytes()
                    ])?;
                    counts.quarantined_events += 1;
                }
                for event in &batch.events {
                    // A dwell's exposures: the GTINs it showed, each once.
                    let mut shown: Vec<&str> = Vec::new();
                    if event.event == StoreEventKind::FixtureDwell {
                        shown.extend(event.gtins.iter().flatten().map(String::as_str));
                        shown.sort_unstable();
                        shown.dedup();
                    }
                    let gtins = (!shown.is_empty()).then(|| exposures::to_json(&shown));
                    let fresh = insert_event.execute(params![
                        event.id,
                        batch.store,
                        event.ts.0,
                        event.event.as_str(),
                        event.stage.as_str(),
                        event.tag,
                        event.epc,
                        event.gtin,
                        event.serial,
                        event.fixture,
                        event.zone,
                        event
                            .duration_ms
                            .map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
                        event.count,
                        batch.gateway,
                        batch.batch_id,
                        received_ms,
                        gtins
                    ])? == 1;
                    if !fresh {
                        counts.duplicates += 1;
                        continue;
                    }
                    counts.inserted += 1;
                    if let (Some(step), Some(gtin), Some(serial)) =
                        (garments::step_code(event.event), &event.gtin, &event.serial)
                    {
                        insert_step.execute(params![
                            batch.store,
                            garments::gtin_key(gtin),
                            garments::serial_key(serial),
                            event.ts.0,
                            step,
                            tx.last_insert_rowid(),
                            event.fixture,
                            event.zone
                        ])?;
                    }
                    new_exposures += shown.len() as u64;
                }
            }
        }
        let unfolded = self.unfolded + new_exposures;
        let folding = unfolded >= self.fold_at;
        if folding {
            exposures::fold(&tx)?;
        }
        tx.commit()?;
        self.unfolded = if folding { 0 } else { unfolded };
        self.committed();
        Ok(counts)
    }

    /// Bounds the WAL at `bytes` instead (for tests).
    #[cfg(test)]
    pub(crate) fn bound_wal_at(&mut self, bytes: u64) {
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.set_limit(bytes);
        }
    }

    /// Folds every `n` exposures instead (for tests).
    #[cfg(test)]
    pub(crate) fn fold_every(&mut self, n: u64) {
        self.fold_at = n;
    }

    /// Adds every exposure stored since the last fold to `exposure_totals`
    /// now (the collector does it every [`exposures::FOLD_EXPOSURES`]).
    pub fn fold_exposures(&mut self) -> Result<(), DbError> {
        let tx = self.conn.transaction()?;
        exposures::fold(&tx)?;
        tx.commit()?;
        self.unfolded = 0;
        self.committed();
        Ok(())
    }

    /// After every commit of a writer: the WAL is checkpointed off the
    /// commit path (`sqlite/checkpoint.rs`).
    pub(crate) fn committed(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.nudge();
        }
    }

    /// How many events are stored.
    pub fn event_count(&self) -> Result<u64, DbError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// How many quarantine rows there are.
    pub fn quarantine_count(&self) -> Result<u64, DbError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM quarantine", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }
}

#[cfg(test)]
mod tests;
