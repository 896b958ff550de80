//! What the event store holds, in the few figures a reader needs before it
//! asks for a report: which stores have events, the time span of the
//! events, and a marker that changes whenever anything is added (so a
//! report computed earlier may be reused while it holds).

use super::{EventStore, StoreError};

impl EventStore {
    /// Every store with events (item events, dwells, door counts) or
    /// exposures, in order.
    pub fn stores(&self) -> Result<Vec<String>, StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.stores()?,
            EventStore::ClickHouse(ch) => ch.stores()?,
        })
    }

    /// The first and last event time (unix ms), `None` with no events.
    pub fn event_span(&self) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.event_span()?,
            EventStore::ClickHouse(ch) => ch.event_span()?,
        })
    }

    /// The online channels imported into the store, in order.
    pub fn online_channels(&self) -> Result<Vec<String>, StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.online_channels()?,
            EventStore::ClickHouse(ch) => ch.online_channels()?,
        })
    }

    /// A value that changes whenever a store's event or an online step is
    /// added: both backends only ever add rows.
    pub fn change_marker(&self) -> Result<(i64, i64), StoreError> {
        Ok(match self {
            EventStore::Sqlite(db) => db.change_marker()?,
            EventStore::ClickHouse(ch) => ch.change_marker()?,
        })
    }
}
