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

mod fleet;
mod http;
mod online;
mod overview;
pub mod row_binary;

use super::{Credentials, IngestCounts, Received, TargetError};
use crate::hq::validate::{topic_store, Verdict};
use http::Http;
use protocol::stage::StoreEventKind;
use row_binary::RowWriter;

pub use http::Body;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// Versions a collector upgrades in place: version 2 only added a nullable
/// column, which an `ALTER TABLE` adds without rewriting any part.
const UPGRADABLE_VERSIONS: [u32; 1] = [1];

/// ClickHouse's HTTP ports when the URL names none.
const HTTP_PORT: u16 = 8123;
const HTTPS_PORT: u16 = 8443;

/// Month partitions: a late batch lands in its own month, and old months
/// can be dropped or moved whole (docs/hq.md, "Running HQ at scale").
const PARTITION_BY_MONTH: &str = "toYYYYMM(toDateTime(intDiv(ts_ms, 1000)))";

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

/// `clickhouse://HOST:PORT/DATABASE` or `clickhouses://…` (TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseTarget {
    pub tls: bool,
    /// A host name, an IPv4 address or a bracketed IPv6 address.
    pub host: String,
    pub port: u16,
    pub database: String,
}

impl ClickHouseTarget {
    pub fn parse(url: &str) -> Result<ClickHouseTarget, TargetError> {
        let bad = |reason: &str| TargetError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("clickhouses://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("clickhouse://") {
            (false, rest)
        } else {
            return Err(bad("expected clickhouse://HOST:PORT/DATABASE"));
        };
        let (authority, database) = rest
            .split_once('/')
            .ok_or_else(|| bad("no database: expected clickhouse://HOST:PORT/DATABASE"))?;
        if authority.contains('@') {
            return Err(bad(
                "no user or password in the URL: use --db-user and --db-password-file",
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| bad(&format!("port `{port}` is not a number from 1 to 65535")))?;
                (host, port)
            }
            _ => (authority, if tls { HTTPS_PORT } else { HTTP_PORT }),
        };
        if host.is_empty() || port == 0 {
            return Err(bad("expected clickhouse://HOST:PORT/DATABASE"));
        }
        // The name goes into SQL as an identifier, so it must be one.
        let identifier = database
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(bad(&format!(
                "database `{database}` must be letters, digits and _ (not starting with a digit)"
            )));
        }
        Ok(ClickHouseTarget {
            tls,
            host: host.to_string(),
            port,
            database: database.to_string(),
        })
    }

    /// The HTTP(S) endpoint.
    fn http_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}/", self.host, self.port)
    }

    /// `host:port`, for messages.
    fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for ClickHouseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls {
            "clickhouses"
        } else {
            "clickhouse"
        };
        write!(
            f,
            "{scheme}://{}:{}/{}",
            self.host, self.port, self.database
        )
    }
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

const EVENT_COLUMNS: &str = "id, store, ts_ms, event, stage, tag, epc, gtin, serial, fixture, \
    zone, duration_ms, gateway, batch_id, received_ms, count";
const EXPOSURE_COLUMNS: &str = "store, gtin, event_id, fixture, ts_ms";
const QUARANTINE_COLUMNS: &str =
    "received_ms, topic, store, batch_id, event_index, reason, payload";

/// The ClickHouse event store.
pub struct ClickHouseStore {
    http: Http,
    target: ClickHouseTarget,
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

    /// A first round trip: reaches the server and proves the credentials.
    fn connect(
        target: &ClickHouseTarget,
        credentials: &Credentials,
    ) -> Result<ClickHouseStore, ClickHouseError> {
        let store = ClickHouseStore {
            http: Http::new(target, credentials),
            target: target.clone(),
        };
        store.http.query("SELECT 1")?;
        Ok(store)
    }

    fn tables(&self) -> Result<Vec<String>, ClickHouseError> {
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

    /// The database's name, for the funnel's queries.
    pub fn database(&self) -> &str {
        &self.target.database
    }

    /// Runs a query and streams its answer.
    pub fn stream(&self, sql: &str) -> Result<Body, ClickHouseError> {
        self.http.stream(sql)
    }

    /// Writes `payloads`: every good event (repeats too: they are dropped
    /// when read), the exposures of its dwells, and quarantine rows. Returns
    /// once ClickHouse has accepted every row; a failure part-way leaves
    /// rows that a retry writes again, which reads ignore.
    pub fn ingest(
        &mut self,
        payloads: &[Received<'_>],
        received_ms: i64,
    ) -> Result<IngestCounts, ClickHouseError> {
        let mut counts = IngestCounts::default();
        let (mut events, mut exposures, mut quarantine) = (
            RowWriter::default(),
            RowWriter::default(),
            RowWriter::default(),
        );
        for received in payloads {
            let batch = match received.verdict {
                Verdict::Rejected { reason } => {
                    quarantine.i64(received_ms);
                    quarantine.string(received.topic);
                    quarantine.nullable_string(topic_store(received.topic));
                    quarantine.nullable_string(None);
                    quarantine.nullable_u32(None);
                    quarantine.string(reason);
                    quarantine.bytes(received.payload);
                    counts.quarantined_batches += 1;
                    continue;
                }
                Verdict::Accepted(batch) => batch,
            };
            for bad in &batch.bad_events {
                quarantine.i64(received_ms);
                quarantine.string(received.topic);
                quarantine.nullable_string(Some(&batch.store));
                quarantine.nullable_string(Some(&batch.batch_id));
                quarantine.nullable_u32(Some(u32::try_from(bad.index).unwrap_or(u32::MAX)));
                quarantine.string(&bad.reason);
                quarantine.bytes(bad.raw.as_bytes());
                counts.quarantined_events += 1;
            }
            for event in &batch.events {
                events.string(&event.id);
                events.string(&batch.store);
                events.i64(event.ts.0);
                events.string(event.event.as_str());
                events.string(event.stage.as_str());
                events.u32(event.tag);
                events.nullable_string(event.epc.as_deref());
                events.string(event.gtin.as_deref().unwrap_or(""));
                events.string(event.serial.as_deref().unwrap_or(""));
                events.nullable_string(event.fixture.as_deref());
                events.nullable_string(event.zone.as_deref());
                events.nullable_i64(
                    event
                        .duration_ms
                        .map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
                );
                events.string(&batch.gateway);
                events.string(&batch.batch_id);
                events.i64(received_ms);
                events.nullable_u32(event.count);
                counts.inserted += 1;
                if event.event == StoreEventKind::FixtureDwell {
                    for gtin in event.gtins.iter().flatten() {
                        exposures.string(&batch.store);
                        exposures.string(gtin);
                        exposures.string(&event.id);
                        exposures.nullable_string(event.fixture.as_deref());
                        exposures.i64(event.ts.0);
                    }
                }
            }
        }
        let db = &self.target.database;
        for (table, columns, rows) in [
            ("quarantine", QUARANTINE_COLUMNS, &quarantine),
            ("exposures", EXPOSURE_COLUMNS, &exposures),
            ("events", EVENT_COLUMNS, &events),
        ] {
            if !rows.buf.is_empty() {
                self.http.insert(
                    &format!("INSERT INTO {db}.{table} ({columns}) FORMAT RowBinary"),
                    &rows.buf,
                )?;
            }
        }
        Ok(counts)
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
