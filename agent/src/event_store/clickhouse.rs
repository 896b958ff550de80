//! The ClickHouse event store: the same tables as SQLite's, in one
//! ClickHouse database that any number of collectors write at once.
//!
//! Tables (created by the first collector; docs/hq.md shows them):
//! - `aisle_schema`: one row per schema version a collector created or
//!   upgraded the database to. A database holding a version this build does
//!   not know is refused, before anything is written; one of version 1 is
//!   upgraded by the first collector that opens it (version 2 added
//!   `events.count`).
//! - `events`: every stored event, partitioned by month of its timestamp
//!   and sorted by garment, so a garment's events sit together.
//! - `exposures`: one row per (dwell, GTIN shown).
//! - `quarantine`: rejected payloads and events, with the reason and the
//!   raw bytes.
//! - `online_events`: the online channels' imported steps
//!   (clickhouse/online.rs).
//! - `fleet_gateways`, `fleet_tags`: each store's latest status and each
//!   tag's latest health (clickhouse/fleet.rs).
//!
//! Tables are plain `MergeTree`s: an event delivered twice (a redelivery
//! after a collector died before its ack, a batch two collectors both took)
//! is stored twice, and every query de-duplicates by event id when it reads,
//! so a count never depends on whether ClickHouse has merged parts yet.
//!
//! This file is the store's handle and its errors; the tables and opening
//! are in `schema`, writing in `ingest`, the URL in `target`, the wire in
//! `http` and `row_binary`.

mod fleet;
mod http;
mod ingest;
mod online;
mod overview;
pub mod row_binary;
mod schema;
mod target;

use super::{Credentials, EventFilter};
use http::Http;
use row_binary::{RowReader, RowWriter};
use std::io;

pub use http::Body;
pub use schema::SCHEMA_VERSION;
pub use target::ClickHouseTarget;

/// What went wrong talking to ClickHouse. Each reads as one line saying
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("cannot reach ClickHouse at {server}: {reason} (is the server running and the --db URL right?)")]
    Unreachable { server: String, reason: String },
    #[error("ClickHouse at {server} refused user `{user}`: {message} (check --db-user and --db-password-file)")]
    Auth {
        server: String,
        user: String,
        message: String,
    },
    #[error("ClickHouse database {0} does not exist (start `aisle hq --db {0}` first, or check the URL)")]
    MissingDatabase(String),
    #[error("ClickHouse database {0} is not an aisle event store (it has tables but no aisle_schema; point --db at another database)")]
    NotOurs(String),
    #[error("ClickHouse database {target} has aisle schema version {found}, but this aisle knows only version {SCHEMA_VERSION} (use the aisle release that wrote it, or another database)")]
    Version { target: String, found: String },
    #[error("ClickHouse database {0} has aisle schema version 1 (start `aisle hq --db {0}` of this release once to upgrade it to {SCHEMA_VERSION})")]
    NeedsUpgrade(String),
    #[error("ClickHouse at {server}: {message}")]
    Server { server: String, message: String },
    #[error("reading ClickHouse's answer: {0}")]
    Read(String),
}

/// A string literal for ClickHouse SQL.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// ` AND …` conditions for `filter`, on a table with `store`, `gtin` and
/// `ts_ms` columns (events, exposures).
pub(crate) fn filter_sql(filter: &EventFilter) -> String {
    conditions(filter, "gtin")
}

/// The same on online steps, whose item is the merchant's code in `sku`.
pub(crate) fn online_filter_sql(filter: &EventFilter) -> String {
    conditions(filter, "sku")
}

fn conditions(filter: &EventFilter, item: &str) -> String {
    let mut sql = String::new();
    if let Some(store) = &filter.store {
        sql.push_str(&format!(" AND store = {}", quote(store)));
    }
    for (column, values) in [("store", &filter.stores), (item, &filter.gtins)] {
        match values.as_deref() {
            None => {}
            // `IN ()` is not ClickHouse SQL.
            Some([]) => sql.push_str(" AND 0"),
            Some(values) => {
                let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
                sql.push_str(&format!(" AND {column} IN ({})", list.join(", ")));
            }
        }
    }
    if let Some(from) = filter.from {
        sql.push_str(&format!(" AND ts_ms >= {}", from.0));
    }
    if let Some(to) = filter.to {
        sql.push_str(&format!(" AND ts_ms < {}", to.0));
    }
    sql
}

/// A decoding failure, with whatever ClickHouse appended to the stream
/// (a query that fails after its first rows ends with the exception text).
fn broken(rows: &mut RowReader<Body>, err: io::Error) -> ClickHouseError {
    let rest = rows.rest();
    let rest = rest.lines().find(|l| l.contains("Exception")).unwrap_or("");
    ClickHouseError::Read(format!("{err} {rest}").trim().to_string())
}

/// The ClickHouse event store.
pub struct ClickHouseStore {
    http: Http,
    target: ClickHouseTarget,
}

impl ClickHouseStore {
    /// A first round trip: reaches the server, proves the credentials and
    /// reads the user's memory settings, so that later reports spill big
    /// groupings to disk rather than fail at the memory limit.
    fn connect(
        target: &ClickHouseTarget,
        credentials: &Credentials,
    ) -> Result<ClickHouseStore, ClickHouseError> {
        let mut store = ClickHouseStore {
            http: Http::new(target, credentials),
            target: target.clone(),
        };
        let current = store.http.query(http::SESSION_SETTINGS_SQL)?;
        store.http.set_settings(http::spill_settings(&current));
        Ok(store)
    }

    /// The database's name, for the funnel's queries.
    pub fn database(&self) -> &str {
        &self.target.database
    }

    /// Runs a query and streams its answer.
    pub fn stream(&self, sql: &str) -> Result<Body, ClickHouseError> {
        self.http.stream(sql)
    }

    /// Runs `sql` (ending in `FORMAT RowBinary`) and hands the answer to
    /// `row` a row at a time, until the end; `row` reads one whole row.
    pub(crate) fn read_each(
        &self,
        sql: &str,
        mut row: impl FnMut(&mut RowReader<Body>) -> io::Result<()>,
    ) -> Result<(), ClickHouseError> {
        let mut rows = RowReader::new(self.stream(sql)?);
        let mut read = |rows: &mut RowReader<Body>| -> io::Result<()> {
            while !rows.at_end()? {
                row(rows)?;
            }
            Ok(())
        };
        read(&mut rows).map_err(|err| broken(&mut rows, err))
    }

    /// Runs `sql` (ending in `FORMAT RowBinary`) and hands its rows, read
    /// by `row`, to `each`.
    pub(crate) fn read_rows<T>(
        &self,
        sql: &str,
        row: impl Fn(&mut RowReader<Body>) -> io::Result<T>,
        each: &mut dyn FnMut(T),
    ) -> Result<(), ClickHouseError> {
        self.read_each(sql, |rows| {
            each(row(rows)?);
            Ok(())
        })
    }

    /// Inserts each table's encoded rows, in the order given; a table with
    /// no rows costs no round trip. `columns` lists the rows' columns in
    /// their encoding order.
    pub(crate) fn insert_rows(
        &self,
        tables: &[(&str, &str, &RowWriter)],
    ) -> Result<(), ClickHouseError> {
        let db = &self.target.database;
        for (table, columns, rows) in tables {
            if !rows.buf.is_empty() {
                self.http.insert(
                    &format!("INSERT INTO {db}.{table} ({columns}) FORMAT RowBinary"),
                    &rows.buf,
                )?;
            }
        }
        Ok(())
    }

    /// How many distinct events are stored.
    pub fn event_count(&self) -> Result<u64, ClickHouseError> {
        self.count(&format!(
            "SELECT uniqExact(id) FROM {}.events",
            self.target.database
        ))
    }

    /// How many event rows are stored, repeats included (`count()` is
    /// answered from part metadata, without reading the table).
    pub fn stored_rows(&self) -> Result<u64, ClickHouseError> {
        self.count(&format!(
            "SELECT count() FROM {}.events",
            self.target.database
        ))
    }

    /// How many quarantine rows there are.
    pub fn quarantine_count(&self) -> Result<u64, ClickHouseError> {
        self.count(&format!(
            "SELECT count() FROM {}.quarantine",
            self.target.database
        ))
    }

    fn count(&self, sql: &str) -> Result<u64, ClickHouseError> {
        let text = self.http.query(sql)?;
        text.trim()
            .parse()
            .map_err(|_| ClickHouseError::Read(format!("expected a count, got `{}`", text.trim())))
    }
}

#[cfg(test)]
mod tests;
