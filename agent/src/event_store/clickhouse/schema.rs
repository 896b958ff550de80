//! The ClickHouse event store's tables: the statements that create them,
//! the schema version recorded beside them, and opening a database for
//! writing (creating or upgrading what is missing) or for reading
//! (refusing a version this build does not read).

use super::row_binary::RowWriter;
use super::target::ClickHouseTarget;
use super::{fleet, online, quote, ClickHouseError, ClickHouseStore};
use crate::event_store::Credentials;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// Versions a collector upgrades in place: version 2 only added a nullable
/// column, which an `ALTER TABLE` adds without rewriting any part.
const UPGRADABLE_VERSIONS: [u32; 1] = [1];

/// Month partitions: a late batch lands in its own month, and old months
/// can be dropped or moved whole (docs/hq.md, "Running HQ at scale").
const PARTITION_BY_MONTH: &str = "toYYYYMM(toDateTime(intDiv(ts_ms, 1000)))";

/// The statements that create the schema, in order.
fn schema(db: &str) -> Vec<String> {
    vec![
        format!("CREATE DATABASE IF NOT EXISTS {db}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.aisle_schema (version UInt32, created_ms Int64)
             ENGINE = MergeTree() ORDER BY version"
        ),
        // gtin and serial are '' on dwells: a sort key cannot be Nullable.
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.events (
                id String, store String, ts_ms Int64, event String, stage String, tag UInt32,
                epc Nullable(String), gtin String, serial String, fixture Nullable(String),
                zone Nullable(String), duration_ms Nullable(Int64), gateway String,
                batch_id String, received_ms Int64, count Nullable(UInt32)
             ) ENGINE = MergeTree() PARTITION BY {PARTITION_BY_MONTH}
             ORDER BY (store, gtin, serial, ts_ms, id)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.exposures (
                store String, gtin String, event_id String, fixture Nullable(String), ts_ms Int64
             ) ENGINE = MergeTree() PARTITION BY {PARTITION_BY_MONTH}
             ORDER BY (store, gtin, ts_ms, event_id)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.quarantine (
                received_ms Int64, topic String, store Nullable(String),
                batch_id Nullable(String), event_index Nullable(UInt32), reason String,
                payload String
             ) ENGINE = MergeTree()
             PARTITION BY toYYYYMM(toDateTime(intDiv(received_ms, 1000)))
             ORDER BY received_ms"
        ),
        online::schema(db),
    ]
    .into_iter()
    .chain(fleet::schema(db))
    .collect()
}

impl ClickHouseStore {
    /// Connects, checks the schema version and creates what is missing.
    /// Nothing is written to a database whose version is unknown or that
    /// holds someone else's tables.
    pub fn open(
        target: &ClickHouseTarget,
        credentials: &Credentials,
    ) -> Result<ClickHouseStore, ClickHouseError> {
        let store = ClickHouseStore::connect(target, credentials)?;
        let db = &target.database;
        let tables = store.tables()?;
        if tables.iter().any(|t| t == "aisle_schema") {
            store.versions()?;
        } else if !tables.is_empty() {
            return Err(ClickHouseError::NotOurs(target.to_string()));
        }
        for statement in schema(db) {
            store.http.query(&statement)?;
        }
        // A version 1 table lacks the column; CREATE … IF NOT EXISTS left
        // it as it was. (ADD COLUMN IF NOT EXISTS is newer than 18.16.)
        let has_count = store.http.query(&format!(
            "SELECT count() FROM system.columns WHERE database = {} AND table = 'events' \
             AND name = 'count'",
            quote(db)
        ))?;
        if has_count.trim() == "0" {
            store.http.query(&format!(
                "ALTER TABLE {db}.events ADD COLUMN count Nullable(UInt32)"
            ))?;
        }
        let known: u64 = store
            .http
            .query(&format!(
                "SELECT count() FROM {db}.aisle_schema WHERE version = {SCHEMA_VERSION}"
            ))?
            .trim()
            .parse()
            .unwrap_or(0);
        if known == 0 {
            let mut row = RowWriter::default();
            row.u32(SCHEMA_VERSION);
            row.i64(protocol::time::UnixMillis::now().0);
            store.http.insert(
                &format!("INSERT INTO {db}.aisle_schema (version, created_ms) FORMAT RowBinary"),
                &row.buf,
            )?;
        }
        Ok(store)
    }

    /// Connects to an existing aisle database, checking its version.
    pub fn open_read_only(
        target: &ClickHouseTarget,
        credentials: &Credentials,
    ) -> Result<ClickHouseStore, ClickHouseError> {
        let store = ClickHouseStore::connect(target, credentials)?;
        let tables = store.tables()?;
        if !tables.iter().any(|t| t == "aisle_schema") {
            let exists = store.http.query(&format!(
                "SELECT count() FROM system.databases WHERE name = {}",
                quote(&target.database)
            ))?;
            return Err(if exists.trim() == "0" {
                ClickHouseError::MissingDatabase(target.to_string())
            } else {
                ClickHouseError::NotOurs(target.to_string())
            });
        }
        if !store.versions()?.contains(&SCHEMA_VERSION) {
            return Err(ClickHouseError::NeedsUpgrade(target.to_string()));
        }
        Ok(store)
    }

    pub(super) fn tables(&self) -> Result<Vec<String>, ClickHouseError> {
        let text = self.http.query(&format!(
            "SELECT name FROM system.tables WHERE database = {} FORMAT TabSeparated",
            quote(&self.target.database)
        ))?;
        Ok(text.lines().map(str::to_string).collect())
    }

    /// The versions the database records; refuses one that records any
    /// version this build neither writes nor upgrades.
    fn versions(&self) -> Result<Vec<u32>, ClickHouseError> {
        let db = &self.target.database;
        let found = self.http.query(&format!(
            "SELECT DISTINCT version FROM {db}.aisle_schema ORDER BY version FORMAT TabSeparated"
        ))?;
        let versions: Vec<&str> = found.lines().collect();
        let known: Vec<u32> = versions
            .iter()
            .filter_map(|v| v.parse().ok())
            .filter(|v| *v == SCHEMA_VERSION || UPGRADABLE_VERSIONS.contains(v))
            .collect();
        if known.len() != versions.len() {
            return Err(ClickHouseError::Version {
                target: self.target.to_string(),
                found: versions.join(", "),
            });
        }
        Ok(known)
    }
}
