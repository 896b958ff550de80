//! The funnel report over the event store, whichever backend holds it.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use aisle_agent::event_store::{Credentials, EventFilter, EventStore, Target};
//! use aisle_agent::funnel::{store, FunnelOptions};
//!
//! let target = Target::parse("clickhouse://127.0.0.1:8123/aisle")?; // or "hq.db"
//! let events = EventStore::open_read_only(&target, &Credentials::default())?;
//! let report = store::report(&events, &EventFilter::default(), &FunnelOptions::default())?;
//! print!("{}", report.render_table());
//! # Ok(())
//! # }
//! ```
//!
//! [`report`] is the one entry point: each backend does the heavy lifting it
//! is good at (filtering by store and time, dropping repeated event ids,
//! grouping each garment's events in time order, counting exposures) and
//! streams garments to the funnel engine ([`super::engine::FunnelBuilder`]),
//! which holds the journey rules. Memory is bounded by the report's rows,
//! not by the events, and the report is the same whatever the backend.

use super::engine::FunnelOptions;
use super::report::FunnelReport;
use crate::event_store::{EventStore, StoreError};

pub use crate::event_store::EventFilter;

/// The funnel report over the events in `store` that pass `filter`.
pub fn report(
    store: &EventStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
) -> Result<FunnelReport, StoreError> {
    Ok(match store {
        EventStore::Sqlite(db) => super::sqlite::report(db, filter, opts)?,
        EventStore::ClickHouse(ch) => super::clickhouse::report(ch, filter, opts)?,
    })
}
