//! The SQLite event store: one file in WAL mode, written by the collector
//! and read by `aisle funnel`. The schema is documented in docs/hq.md;
//! `sqlite/schema.sql` is its source of truth.
//!
//! Events are keyed by their id, so storing a batch twice (a broker
//! redelivery, a gateway replay, events re-batched after a restart) changes
//! nothing the second time.

mod checkpoint;
pub(crate) mod filter;
pub(crate) mod garments;
mod online;
mod overview;

use super::{IngestCounts, Received};
use crate::hq::validate::{ValidBatch, Verdict};
use protocol::stage::StoreEventKind;
use rusqlite::{params, Connection, OpenFlags};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `PRAGMA user_version` of the schema below; bumped on any change.
pub const SCHEMA_VERSION: i64 = 5;

/// Versions [`SqliteStore::open`] upgrades in place: version 2 added a
/// table, which applying the schema creates; version 3 added a column and
/// changed an index, version 4 replaced that index with a table, which
/// [`upgrade`] does; version 5 added `exposure_totals`, which
/// [`fill_exposure_totals`] fills.
const UPGRADABLE_VERSIONS: [i64; 4] = [1, 2, 3, 4];

/// Item events (pickups, try-ons, purchases) among `events`.
pub const ITEM_EVENTS: &str = "event NOT IN ('fixture_dwell', 'store_visits')";

/// Page cache (negative: KiB). The garment steps take inserts all over their
/// key range; SQLite's 2 MiB default makes each one a read from the OS.
const CACHE_KIB: i64 = -65_536;

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
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Brings a version 1, 2 or 3 file's `events` to version 4, inside the
/// caller's transaction, before the schema is applied: the `count` column
/// (NULL on every stored event, none of which is a `store_visits`) where it
/// is missing, and the garment index dropped; [`fill_garment_steps`] then
/// fills the table that replaces it.
fn upgrade(conn: &Connection) -> rusqlite::Result<()> {
    let has_count: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('events') WHERE name = 'count'",
        [],
        |r| r.get(0),
    )?;
    if !has_count {
        conn.execute_batch("ALTER TABLE events ADD COLUMN count INTEGER;")?;
    }
    conn.execute_batch("DROP INDEX IF EXISTS events_by_garment;")
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
            if upgrading && found < 4 {
                upgrade(&conn)?;
            }
            conn.execute_batch(SCHEMA)?;
            conn.execute_batch(crate::hq::fleet::SCHEMA)?;
            if upgrading && found < 4 {
                fill_garment_steps(&conn)?;
            }
            if upgrading {
                fill_exposure_totals(&conn)?;
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
        let checkpointer = checkpoint::Checkpointer::start(path).map_err(open_err)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            checkpointer: Some(checkpointer),
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
        {
            let mut insert_event = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (id, store, ts_ms, event, stage, tag, epc, gtin, serial,
                     fixture, zone, duration_ms, count, gateway, batch_id, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            let mut insert_step = tx.prepare_cached(
                "INSERT INTO garment_steps (store, gtin, serial, ts_ms, step, event, fixture, zone)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut insert_exposure = tx.prepare_cached(
                "INSERT OR IGNORE INTO exposures (store, gtin, event_id, fixture, ts_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut add_totals = tx.prepare_cached(
                "INSERT INTO exposure_totals (store, gtin, n) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, gtin) DO UPDATE SET n = n + excluded.n",
            )?;
            // This commit's new exposures per (store, GTIN), added to the
            // totals once per pair.
            let mut totals: HashMap<(&str, &str), i64> = HashMap::new();
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
                        received_ms
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
                    if event.event == StoreEventKind::FixtureDwell {
                        for gtin in event.gtins.iter().flatten() {
                            let fresh = insert_exposure.execute(params![
                                batch.store,
                                gtin,
                                event.id,
                                event.fixture,
                                event.ts.0
                            ])?;
                            if fresh == 1 {
                                *totals.entry((&batch.store, gtin)).or_default() += 1;
                            }
                        }
                    }
                }
            }
            for ((store, gtin), n) in totals {
                add_totals.execute(params![store, gtin, n])?;
            }
        }
        tx.commit()?;
        self.committed();
        Ok(counts)
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
