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
//!
//! What a backend supplies is [`FunnelSource`]; how a report is assembled
//! from it, in which order and over which events, is [`assemble`], once.

use super::dimension::Dimension;
use super::engine::{FunnelBuilder, FunnelOptions};
use super::report::FunnelReport;
use crate::event_store::online::OnlineSteps;
use crate::event_store::{EventStore, StoreError};

pub use crate::event_store::EventFilter;

/// The funnel report over the events in `store` that pass `filter`.
pub fn report(
    store: &EventStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
) -> Result<FunnelReport, StoreError> {
    Ok(match store {
        EventStore::Sqlite(db) => assemble(db, filter, opts)?,
        EventStore::ClickHouse(ch) => assemble(ch, filter, opts)?,
    })
}

/// What an event store supplies to a funnel report: each part is fed to
/// the builder, in whatever order and grouping the backend reads fastest,
/// within the promises below. Online steps come from [`OnlineSteps`].
pub trait FunnelSource: OnlineSteps {
    /// Feeds the builder every exposure count that passes `filter`, per
    /// store and GTIN (and fixture, zone and instant when the report is
    /// keyed by them), each dwell counted once however often it was stored.
    fn add_exposures(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), Self::Error>;

    /// Feeds the builder every dwell (when the report shows dwells) and
    /// door count (when it shows visits) that passes `filter`, each event
    /// once.
    fn add_dwells_and_visits(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), Self::Error>;

    /// Feeds the builder every garment with item events that pass
    /// `journeys`, each garment once and whole, its events in time order
    /// and each event once.
    fn add_garments(
        &self,
        journeys: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), Self::Error>;
}

/// The funnel report over the events in `source` that pass `filter`: the
/// one definition of what a report reads, whichever backend supplies it.
pub fn assemble<S: FunnelSource>(
    source: &S,
    filter: &EventFilter,
    opts: &FunnelOptions,
) -> Result<FunnelReport, S::Error> {
    let mut builder = FunnelBuilder::until(opts, filter.to);
    source.add_exposures(filter, opts, &mut builder)?;
    if opts.shows_dwells() || opts.shows_visits() {
        source.add_dwells_and_visits(filter, opts, &mut builder)?;
    }
    // Online channels report only beside the stores' own channel.
    if opts.by.contains(&Dimension::Channel) {
        crate::online::store::add_to_report(source, filter, opts, &mut builder)?;
    }
    // Journeys opened before `--to` are read to their window's end; only
    // what is before `--to` counts.
    source.add_garments(&journey_filter(filter, opts), opts, &mut builder)?;
    Ok(builder.finish())
}

/// The filter the item events (and online steps) of a report are read
/// with: `--to` moved on by the window, so that a journey opened before
/// `--to` keeps the steps it makes after it. The engine
/// ([`FunnelBuilder::until`](super::engine::FunnelBuilder::until)) counts
/// nothing at or after `--to` itself.
pub fn journey_filter(filter: &EventFilter, opts: &FunnelOptions) -> EventFilter {
    EventFilter {
        to: filter
            .to
            .map(|to| super::seconds::window_end(to, opts.window)),
        ..filter.clone()
    }
}

/// Whether the report is keyed by a store's local day, week or hour.
pub fn keyed_by_time(opts: &FunnelOptions) -> bool {
    opts.by.iter().any(|d| {
        matches!(
            d,
            super::Dimension::Day | super::Dimension::Week | super::Dimension::Hour
        )
    })
}

/// How many events each store has among those that pass `filter` (each
/// event once, however often it was stored).
pub fn events_per_store(
    store: &EventStore,
    filter: &EventFilter,
) -> Result<Vec<(String, u64)>, StoreError> {
    Ok(match store {
        EventStore::Sqlite(db) => super::sqlite::events_per_store(db, filter)?,
        EventStore::ClickHouse(ch) => super::clickhouse::events_per_store(ch, filter)?,
    })
}
