//! The HQ event store: where the collector puts every store's events and
//! where the funnel report reads them, behind one interface whatever holds
//! them.
//!
//! Two backends sit behind [`EventStore`]:
//! - SQLite ([`sqlite`]), one file, the embedded default: the demo, a single
//!   store, a small chain.
//! - ClickHouse ([`clickhouse`]) over its HTTP interface, what HQ runs at
//!   chain scale, shared by any number of collectors.
//!
//! `--db` names the backend ([`DbArgs`]): a file path is SQLite,
//! `clickhouse://HOST:PORT/DATABASE` (`clickhouses://` for TLS) is
//! ClickHouse, with `--db-user` and `--db-password-file`.
//!
//! The interface has two sides:
//! - writing, for `aisle hq`: [`EventStore::open`] then
//!   [`EventStore::ingest`], which returns only once everything handed to it
//!   is stored, so the caller may ack it;
//! - reading, for reports: [`EventStore::open_read_only`] then
//!   `funnel::store::report(&store, &filter, &options)`, which lets the
//!   backend filter, de-duplicate and group each garment's events in time
//!   order and feeds them, one garment at a time, to the one funnel engine.
//!
//! Both backends promise the same: an event stored twice (a broker
//! redelivery, two collectors taking the same batch, a gateway replay) counts
//! once, and rejected payloads and events are kept, with the reason and the
//! raw bytes, in a quarantine table.

pub mod clickhouse;
pub mod online;
mod overview;
pub mod sqlite;

use crate::hq::validate::Verdict;
use protocol::time::UnixMillis;
use std::path::PathBuf;

pub use clickhouse::{ClickHouseError, ClickHouseStore, ClickHouseTarget};
pub use sqlite::{DbError, SqliteStore};

/// The `--db` options every command that opens the event store takes.
#[derive(clap::Args, Debug, Clone)]
pub struct DbArgs {
    /// The event store: a SQLite file, or clickhouse://HOST:PORT/DATABASE
    /// (clickhouses:// for TLS) for ClickHouse's HTTP interface.
    #[arg(long, value_name = "FILE|URL")]
    pub db: String,
    /// ClickHouse user (default: ClickHouse's `default` user).
    #[arg(long, value_name = "USER")]
    pub db_user: Option<String>,
    /// File holding the ClickHouse password (trailing newline ignored).
    #[arg(long, value_name = "FILE")]
    pub db_password_file: Option<PathBuf>,
}

/// Where the events live, as `--db` named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(PathBuf),
    ClickHouse(ClickHouseTarget),
}

/// A `--db` that cannot be used as given.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("--db {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("--db-user and --db-password-file are for ClickHouse; --db {0} is a SQLite file")]
    CredentialsForSqlite(String),
    #[error("cannot read --db-password-file {path}: {source}")]
    PasswordFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Target {
    /// A SQLite path, or a `clickhouse://` / `clickhouses://` URL.
    pub fn parse(db: &str) -> Result<Target, TargetError> {
        if db.starts_with("clickhouse://") || db.starts_with("clickhouses://") {
            return ClickHouseTarget::parse(db).map(Target::ClickHouse);
        }
        if let Some((scheme, _)) = db.split_once("://") {
            return Err(TargetError::Url {
                url: db.to_string(),
                reason: format!(
                    "unknown scheme `{scheme}` (use a SQLite file path, clickhouse:// or clickhouses://)"
                ),
            });
        }
        Ok(Target::Sqlite(PathBuf::from(db)))
    }
}

/// Credentials for a ClickHouse server. The password is read from a file
/// and never printed: `Debug` hides it.
#[derive(Clone, Default)]
pub struct Credentials {
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl DbArgs {
    /// The backend and, for ClickHouse, the credentials.
    pub fn resolve(&self) -> Result<(Target, Credentials), TargetError> {
        let target = Target::parse(&self.db)?;
        if matches!(target, Target::Sqlite(_))
            && (self.db_user.is_some() || self.db_password_file.is_some())
        {
            return Err(TargetError::CredentialsForSqlite(self.db.clone()));
        }
        let password = match &self.db_password_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| TargetError::PasswordFile {
                        path: path.clone(),
                        source,
                    })?;
                Some(text.trim_end_matches(['\n', '\r']).to_string())
            }
            None => None,
        };
        Ok((
            target,
            Credentials {
                user: self.db_user.clone(),
                password,
            },
        ))
    }
}

/// What went wrong with the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Sqlite(#[from] DbError),
    #[error(transparent)]
    ClickHouse(#[from] ClickHouseError),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Sqlite(DbError::Sql(err))
    }
}

/// One payload received from the broker, with the validator's verdict.
pub struct Received<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub verdict: &'a Verdict,
}

/// What one [`EventStore::ingest`] call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestCounts {
    /// Events written. On ClickHouse every good event is written, repeats
    /// included, and repeats are dropped when read.
    pub inserted: u64,
    /// Events whose id was already stored (SQLite only: ClickHouse does not
    /// look before it writes).
    pub duplicates: u64,
    pub quarantined_batches: u64,
    pub quarantined_events: u64,
}

/// Which events a report covers: one store (or all), the stores of a
/// region or a brand, some SKUs' items, `from <= ts < to`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub store: Option<String>,
    /// Only these stores (a region's or a brand's, from the store
    /// directory); `None` for every store, empty for none.
    pub stores: Option<Vec<String>>,
    /// Only events and exposures of these GTINs, and online steps of these
    /// codes (`aisle funnel --sku`: a SKU's GTINs from the catalog, and the
    /// code itself); `None` for every item. Dwells and door counts are of
    /// no item and are left out.
    pub gtins: Option<Vec<String>>,
    pub from: Option<UnixMillis>,
    pub to: Option<UnixMillis>,
}

/// The event store, whichever backend holds it.
pub enum EventStore {
    Sqlite(SqliteStore),
    ClickHouse(ClickHouseStore),
}

impl EventStore {
    /// Opens the store for writing, creating its tables on first use.
    /// Refuses a store whose schema version this build does not know.
    pub fn open(target: &Target, credentials: &Credentials) -> Result<EventStore, StoreError> {
        Ok(match target {
            Target::Sqlite(path) => EventStore::Sqlite(SqliteStore::open(path)?),
            Target::ClickHouse(ch) => {
                EventStore::ClickHouse(ClickHouseStore::open(ch, credentials)?)
            }
        })
    }

    /// Opens an existing store for reading; writes nothing.
    pub fn open_read_only(
        target: &Target,
        credentials: &Credentials,
    ) -> Result<EventStore, StoreError> {
        Ok(match target {
            Target::Sqlite(path) => EventStore::Sqlite(SqliteStore::open_read_only(path)?),
            Target::ClickHouse(ch) => {
                EventStore::ClickHouse(ClickHouseStore::open_read_only(ch, credentials)?)
            }
        })
    }

    /// Stores `payloads`: good events by id, rejected payloads and bad
    /// events into quarantine. When this returns `Ok`, everything is stored
    /// and may be acked.
    pub fn ingest(
        &mut self,
        payloads: &[Received<'_>],
        received_ms: i64,
    ) -> Result<IngestCounts, StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.ingest(payloads, received_ms)?,
            EventStore::ClickHouse(ch) => ch.ingest(payloads, received_ms)?,
        })
    }

    /// How many distinct events are stored.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.event_count()?,
            EventStore::ClickHouse(ch) => ch.event_count()?,
        })
    }

    /// How many event rows are stored, read from table metadata where the
    /// backend has it: on ClickHouse repeats are included, and no scan of a
    /// year of ids delays a collector's start.
    pub fn stored_rows(&self) -> Result<u64, StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.event_count()?,
            EventStore::ClickHouse(ch) => ch.stored_rows()?,
        })
    }

    /// How many quarantine rows there are.
    pub fn quarantine_count(&self) -> Result<u64, StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.quarantine_count()?,
            EventStore::ClickHouse(ch) => ch.quarantine_count()?,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Sqlite(path) => write!(f, "{}", path.display()),
            Target::ClickHouse(ch) => write!(f, "{ch}"),
        }
    }
}

#[cfg(test)]
mod tests;
