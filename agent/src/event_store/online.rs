//! The event store's side of the online channels and of `aisle export`,
//! the same on both backends: storing imported steps once by their content
//! id, reading them back as the funnel wants them, and reading the stores'
//! events as the export writes them. Each backend answers in the order
//! documented here, so what is built on these rows is byte for byte the same
//! whatever holds them.

use super::{EventFilter, EventStore, StoreError};
use crate::online::event::OnlineEvent;

/// One stored online step, as the funnel reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineStepRow {
    pub channel: String,
    pub user: String,
    pub sku: String,
    pub ts_ms: i64,
    /// The stage's name (`view`, `try_on`, `purchase`).
    pub stage: String,
    pub store: Option<String>,
}

/// How many exposures of one SKU one channel has, for one store or none,
/// at one instant when the report is keyed by time (else at 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineExposures {
    pub channel: String,
    pub store: Option<String>,
    pub sku: String,
    pub ts_ms: i64,
    pub count: u64,
}

/// One (dwell, GTIN shown) pair, as the export reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureRow {
    pub store: String,
    pub event_id: String,
    pub ts_ms: i64,
    pub gtin: String,
}

/// One item event (pickup, try-on, purchase) of a garment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemEventRow {
    pub store: String,
    pub gtin: String,
    pub serial: String,
    pub ts_ms: i64,
    /// The event's name (`item_pickup`, …).
    pub event: String,
    pub id: String,
}

/// Reading the online steps, implemented by each backend.
///
/// A step stored more than once (a re-import, overlapping exports) is read
/// once; a Youshu order line carries the earliest time any of its status
/// lines did.
pub trait OnlineSteps {
    type Error: Into<StoreError>;

    /// Every online exposure count that passes `filter` (on the step's
    /// store and time), grouped by instant too when `by_time`, in no
    /// promised order.
    fn online_exposures(
        &self,
        filter: &EventFilter,
        by_time: bool,
        each: &mut dyn FnMut(OnlineExposures),
    ) -> Result<(), Self::Error>;

    /// Every online step but exposures that passes `filter`, ordered by
    /// (channel, user, SKU, time, stage, store with none first), so each
    /// journey arrives whole and in time order.
    fn online_steps(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(OnlineStepRow),
    ) -> Result<(), Self::Error>;
}

impl EventStore {
    /// Stores imported steps; returns how many were new (the rest were
    /// already stored). When this returns `Ok`, every step is stored.
    pub fn insert_online(&mut self, events: &[OnlineEvent]) -> Result<u64, StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.insert_online(events)?,
            EventStore::ClickHouse(ch) => ch.insert_online(events)?,
        })
    }

    /// Every (dwell, GTIN) exposure that passes `filter`, each stored one
    /// once, ordered by (store, dwell id, GTIN) so a dwell's GTINs come
    /// together.
    pub fn exposure_rows(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(ExposureRow),
    ) -> Result<(), StoreError> {
        match self {
            EventStore::Sqlite(db) => db.exposure_rows(filter, each)?,
            EventStore::ClickHouse(ch) => ch.exposure_rows(filter, each)?,
        }
        Ok(())
    }

    /// Every item event that passes `filter`, each stored one once, ordered
    /// by (store, GTIN, serial, time, event, fixture with none first, id).
    pub fn item_event_rows(
        &self,
        filter: &EventFilter,
        each: &mut dyn FnMut(ItemEventRow),
    ) -> Result<(), StoreError> {
        match self {
            EventStore::Sqlite(db) => db.item_event_rows(filter, each)?,
            EventStore::ClickHouse(ch) => ch.item_event_rows(filter, each)?,
        }
        Ok(())
    }
}
