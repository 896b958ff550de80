//! Everything the dashboard reads from the event store, in one place: the
//! funnel (always through the same report function as `aisle funnel`), the
//! stores and days there are, and the fleet.
//!
//! Pages never count anything themselves: a total is the sum of the
//! engine's per-store rows, a day is the engine run over that day.

use crate::funnel::engine::{Dimension, FunnelOptions};
use crate::funnel::report::{FunnelReport, FunnelRow};
use crate::funnel::store::{self, EventFilter};
use crate::funnel::Catalog;
use crate::hq::db::{DbError, EventStore};
use crate::hq::fleet::{self, GatewayState, TagAlarms, TagState};
use std::collections::HashMap;
use std::path::PathBuf;

/// A day in milliseconds; days are UTC days until stores have time zones.
pub const DAY_MS: i64 = 86_400_000;
/// The most days a trend shows: the last month of the range. Each day is a
/// pass of the engine over the range's events.
pub const MAX_DAYS: i64 = 31;

/// The database and the catalog the dashboard serves.
pub struct Source {
    pub db: PathBuf,
    pub catalog: Catalog,
    /// SKU code → product name, from the catalog.
    names: HashMap<String, String>,
}

impl Source {
    pub fn new(db: PathBuf, catalog: Catalog) -> Source {
        let mut names = HashMap::new();
        for (_, item) in catalog.items() {
            names
                .entry(item.sku.clone())
                .or_insert_with(|| item.name.clone());
        }
        Source { db, catalog, names }
    }

    /// Opens the store for one request; a page that cannot open it says so.
    pub fn open(&self) -> Result<EventStore, DbError> {
        EventStore::open_read_only(&self.db)
    }

    /// The funnel report `aisle funnel --by BY` gives for `filter`.
    pub fn report(
        &self,
        store: &EventStore,
        filter: &EventFilter,
        window_ms: i64,
        by: Vec<Dimension>,
    ) -> Result<FunnelReport, DbError> {
        let opts = FunnelOptions {
            window_ms,
            by,
            catalog: self.catalog.clone(),
        };
        store::report(store, filter, &opts)
    }

    /// The catalog's name of a SKU code, if it lists one.
    pub fn name(&self, sku: &str) -> Option<&str> {
        self.names.get(sku).map(String::as_str)
    }

    /// Whether a catalog was given (styles need one).
    pub fn has_catalog(&self) -> bool {
        !self.names.is_empty()
    }
}

/// Every store with events or exposures, in order. Walks the two indexes
/// led by the store one store at a time, so it costs a look-up per store,
/// not a scan of the events.
pub fn stores(store: &EventStore) -> Result<Vec<String>, DbError> {
    let conn = store.connection();
    let mut out: Vec<String> = Vec::new();
    for (table, condition) in [
        (
            "events INDEXED BY events_by_garment",
            "event <> 'fixture_dwell' AND",
        ),
        ("exposures", ""),
    ] {
        let mut next = conn.prepare(&format!(
            "SELECT MIN(store) FROM {table} WHERE {condition} store > ?1"
        ))?;
        let mut after = String::new();
        while let Some(shop) = next.query_row([&after], |r| r.get::<_, Option<String>>(0))? {
            out.push(shop.clone());
            after = shop;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The UTC days the trend covers: from `filter`'s range, else the span of
/// the events; at most the last [`MAX_DAYS`].
pub fn days(store: &EventStore, filter: &EventFilter) -> Result<Vec<i64>, DbError> {
    let (first, last) = match (filter.from_ms, filter.to_ms) {
        (Some(from), Some(to)) => (from, to - 1),
        _ => {
            let (min, max): (Option<i64>, Option<i64>) = store.connection().query_row(
                "SELECT MIN(ts_ms), MAX(ts_ms) FROM events",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (Some(min), Some(max)) = (min, max) else {
                return Ok(Vec::new());
            };
            (
                filter.from_ms.unwrap_or(min).max(min),
                filter.to_ms.map_or(max, |to| (to - 1).min(max)),
            )
        }
    };
    if last < first {
        return Ok(Vec::new());
    }
    let first_day = first
        .div_euclid(DAY_MS)
        .max(last.div_euclid(DAY_MS) - MAX_DAYS + 1);
    let last_day = last.div_euclid(DAY_MS);
    Ok((first_day..=last_day).map(|d| d * DAY_MS).collect())
}

/// `filter` narrowed to the UTC day starting at `day_ms`.
pub fn day_filter(filter: &EventFilter, day_ms: i64) -> EventFilter {
    EventFilter {
        store: filter.store.clone(),
        from_ms: Some(filter.from_ms.map_or(day_ms, |f| f.max(day_ms))),
        to_ms: Some(
            filter
                .to_ms
                .map_or(day_ms + DAY_MS, |t| t.min(day_ms + DAY_MS)),
        ),
    }
}

/// The sum of the counts of `rows` (medians do not add up and stay empty).
pub fn total<'a>(rows: impl IntoIterator<Item = &'a FunnelRow>) -> FunnelRow {
    let mut sum = FunnelRow::default();
    for row in rows {
        sum.exposures += row.exposures;
        sum.pickups += row.pickups;
        sum.try_ons += row.try_ons;
        sum.purchases += row.purchases;
        sum.journeys += row.journeys;
        sum.journeys_try_on += row.journeys_try_on;
        sum.journeys_purchase += row.journeys_purchase;
    }
    sum
}

/// The fleet as the dashboard shows it.
pub struct Fleet {
    pub gateways: Vec<GatewayState>,
    pub tags_known: u64,
    pub tags: Vec<TagState>,
}

pub fn fleet(store: &EventStore, alarms: TagAlarms) -> Result<Fleet, DbError> {
    let gateways = fleet::gateways(store.connection())?;
    let (tags_known, tags) = fleet::tags_needing_attention(store.connection(), alarms)?;
    Ok(Fleet {
        gateways,
        tags_known,
        tags,
    })
}
