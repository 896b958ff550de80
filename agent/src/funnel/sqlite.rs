//! Reads the SQLite event store into the funnel engine.
//!
//! Item events come off the covering index `events_by_garment` already
//! sorted by garment and time, so each garment is scanned as soon as its
//! last event is read and memory stays flat however many events there are.
//! Exposures are counted by SQLite itself; dwells and door counts come off
//! their own covering index, `events_dwells_and_visits`.

use super::dimension::Dimension;
use super::engine::{FunnelBuilder, FunnelOptions, GarmentEvent};
use super::store::FunnelSource;
use crate::event_store::sqlite::ITEM_EVENTS;
use crate::event_store::{DbError, EventFilter, SqliteStore};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use rusqlite::types::{ToSql, ValueRef};
use std::time::Duration;

/// ` AND …` conditions for `filter` and their parameters, on any table with
/// `store` and `ts_ms` columns (events, exposures, online steps).
pub(crate) fn filter_sql(filter: &EventFilter) -> (String, Vec<&dyn ToSql>) {
    let mut sql = String::new();
    let mut params: Vec<&dyn ToSql> = Vec::new();
    if let Some(store) = &filter.store {
        sql.push_str(" AND store = ?");
        params.push(store);
    }
    if let Some(from) = &filter.from {
        sql.push_str(" AND ts_ms >= ?");
        params.push(&from.0);
    }
    if let Some(to) = &filter.to {
        sql.push_str(" AND ts_ms < ?");
        params.push(&to.0);
    }
    (sql, params)
}

/// A garment's (store, gtin, serial) as stored.
type GarmentKey = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);

fn bytes(value: ValueRef<'_>) -> Option<&[u8]> {
    match value {
        ValueRef::Text(bytes) => Some(bytes),
        _ => None,
    }
}

/// Scans one garment; a key that is not UTF-8 was not written by the
/// collector and is skipped.
fn add_garment(builder: &mut FunnelBuilder<'_>, key: &GarmentKey, events: &[GarmentEvent]) {
    let (Ok(shop), gtin) = (
        std::str::from_utf8(&key.0),
        key.1.as_deref().map(std::str::from_utf8),
    ) else {
        return;
    };
    match gtin {
        Some(Ok(gtin)) => builder.add_garment(shop, Some(gtin), events),
        None => builder.add_garment(shop, None, events),
        Some(Err(_)) => {}
    }
}

fn text(value: ValueRef<'_>) -> Option<&str> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

/// Reader threads. A garment never spans two stores, so splitting the
/// garment index into store ranges gives each thread whole garments; the
/// machines this runs on have at least two cores.
const READERS: usize = 2;
/// Rows sampled to choose the store ranges.
const SPLIT_SAMPLES: i64 = 64;

impl FunnelSource for SqliteStore {
    fn add_exposures(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), DbError> {
        count_exposures(self, filter, opts, builder)
    }

    fn add_dwells_and_visits(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), DbError> {
        add_dwells_and_visits(self, filter, opts, builder)
    }

    /// Each reader thread scans whole garments of its own store range into
    /// a builder of its own; the parts are absorbed in range order.
    fn add_garments(
        &self,
        journeys: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), DbError> {
        let ranges = store_ranges(self, journeys)?;
        let path = self.path();
        let parts: Vec<Result<FunnelBuilder<'_>, DbError>> = std::thread::scope(|scope| {
            let readers: Vec<_> = ranges
                .iter()
                .map(|range| {
                    let mut part = builder.part();
                    scope.spawn(move || {
                        let reader = SqliteStore::open_read_only(path)?;
                        scan_garments(&reader, journeys, range, opts, &mut part)?;
                        Ok(part)
                    })
                })
                .collect();
            readers
                .into_iter()
                .map(|reader| {
                    reader
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        for part in parts {
            builder.absorb(part?);
        }
        Ok(())
    }
}

/// `[from, to)` over store ids; `None` is open-ended.
type StoreRange = (Option<String>, Option<String>);

/// Up to [`READERS`] store ranges of roughly equal event counts, from the
/// stores of rows sampled evenly over the table.
fn store_ranges(store: &SqliteStore, filter: &EventFilter) -> Result<Vec<StoreRange>, DbError> {
    let whole = vec![(None, None)];
    if filter.store.is_some() {
        return Ok(whole);
    }
    let conn = store.connection();
    let last: i64 = conn.query_row("SELECT COALESCE(MAX(rowid), 0) FROM events", [], |r| {
        r.get(0)
    })?;
    let mut sample = conn.prepare("SELECT store FROM events WHERE rowid >= ?1 LIMIT 1")?;
    let mut stores = Vec::new();
    for k in 0..SPLIT_SAMPLES {
        if let Ok(shop) = sample.query_row([last * k / SPLIT_SAMPLES], |r| r.get::<_, String>(0)) {
            stores.push(shop);
        }
    }
    stores.sort();
    stores.dedup();
    let cuts: Vec<String> = (1..READERS)
        .filter_map(|i| stores.get(stores.len() * i / READERS).cloned())
        .collect();
    if cuts.is_empty() {
        return Ok(whole);
    }
    let mut ranges = Vec::new();
    let mut from = None;
    for cut in cuts {
        ranges.push((from, Some(cut.clone())));
        from = Some(cut);
    }
    ranges.push((from, None));
    Ok(ranges)
}

/// The condition of the partial index `events_dwells_and_visits`, repeated
/// word for word by the queries that read through it.
const DWELLS_AND_VISITS: &str = "event IN ('fixture_dwell', 'store_visits')";

/// Counts exposures per store and GTIN (and fixture, zone and instant, when
/// keyed by them).
fn count_exposures(
    store: &SqliteStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), DbError> {
    let (cond, params) = filter_sql(filter);
    let has = |d| opts.by.contains(&d);
    // Grouping by more than the primary key's prefix needs a sort; without
    // it the groups follow the primary key and SQLite counts them in one
    // pass. An exposure's zone is its dwell's.
    let fixture = if has(Dimension::Fixture) {
        "fixture"
    } else {
        "NULL"
    };
    let zone = if has(Dimension::Zone) {
        "(SELECT zone FROM events WHERE events.id = exposures.event_id)"
    } else {
        "NULL"
    };
    let ts = if super::store::keyed_by_time(opts) {
        "ts_ms"
    } else {
        "0"
    };
    let mut exposures = store.connection().prepare(&format!(
        "SELECT store, gtin, {fixture} AS x_fixture, {zone} AS x_zone, {ts} AS x_ts, COUNT(*)
         FROM exposures WHERE 1{cond} GROUP BY store, gtin, x_fixture, x_zone, x_ts"
    ))?;
    let mut rows = exposures.query(params.as_slice())?;
    while let Some(row) = rows.next()? {
        let (Some(shop), Some(gtin)) = (text(row.get_ref(0)?), text(row.get_ref(1)?)) else {
            continue;
        };
        builder.add_exposures(
            shop,
            gtin,
            text(row.get_ref(2)?),
            text(row.get_ref(3)?),
            UnixMillis(row.get(4)?),
            u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
        );
    }
    Ok(())
}

/// Counts dwells (on rows that show them) and door counts (on rows that
/// show visits).
fn add_dwells_and_visits(
    store: &SqliteStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), DbError> {
    let (cond, params) = filter_sql(filter);
    let kinds = match (opts.shows_dwells(), opts.shows_visits()) {
        (true, true) => DWELLS_AND_VISITS,
        (true, false) => "event = 'fixture_dwell'",
        _ => "event = 'store_visits'",
    };
    let mut events = store.connection().prepare(&format!(
        "SELECT event, store, ts_ms, fixture, zone, duration_ms, count
         FROM events INDEXED BY events_dwells_and_visits
         WHERE {DWELLS_AND_VISITS} AND {kinds}{cond}"
    ))?;
    let mut rows = events.query(params.as_slice())?;
    while let Some(row) = rows.next()? {
        let Some(shop) = text(row.get_ref(1)?) else {
            continue;
        };
        let ts = UnixMillis(row.get(2)?);
        match bytes(row.get_ref(0)?) {
            Some(b"fixture_dwell") => builder.add_dwell(
                shop,
                text(row.get_ref(3)?),
                text(row.get_ref(4)?),
                ts,
                row.get::<_, Option<i64>>(5)?
                    .and_then(|ms| u64::try_from(ms).ok())
                    .map(Duration::from_millis),
            ),
            Some(b"store_visits") => {
                let count: Option<i64> = row.get(6)?;
                builder.add_visits(
                    shop,
                    ts,
                    count.and_then(|c| u64::try_from(c).ok()).unwrap_or(0),
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// How many events each store has among those that pass `filter`.
pub fn events_per_store(
    store: &SqliteStore,
    filter: &EventFilter,
) -> Result<Vec<(String, u64)>, DbError> {
    let (cond, params) = filter_sql(filter);
    let mut stmt = store.connection().prepare(&format!(
        "SELECT store, COUNT(*) FROM events WHERE 1{cond} GROUP BY store"
    ))?;
    let rows = stmt.query_map(params.as_slice(), |r| {
        Ok((
            r.get::<_, String>(0)?,
            u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        ))
    })?;
    rows.collect::<Result<_, _>>().map_err(DbError::from)
}

/// Feeds every garment with item events in `range` to `builder`.
fn scan_garments(
    store: &SqliteStore,
    filter: &EventFilter,
    range: &StoreRange,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), DbError> {
    let by_fixture = opts.by.contains(&Dimension::Fixture);
    let by_zone = opts.by.contains(&Dimension::Zone);
    let (mut cond, mut params) = filter_sql(filter);
    if let Some(from) = &range.0 {
        cond.push_str(" AND store >= ?");
        params.push(from);
    }
    if let Some(to) = &range.1 {
        cond.push_str(" AND store < ?");
        params.push(to);
    }
    // The WHERE clause repeats the partial index's condition so SQLite can
    // use it; the ORDER BY is the index order, so no sort step is needed.
    let mut items = store.connection().prepare(&format!(
        "SELECT store, gtin, serial, ts_ms, event, fixture, zone
         FROM events INDEXED BY events_by_garment
         WHERE {ITEM_EVENTS}{cond}
         ORDER BY store, gtin, serial, ts_ms, event, fixture, zone"
    ))?;
    let mut rows = items.query(params.as_slice())?;
    // Keys are compared as bytes and turned into text once per garment:
    // UTF-8 checks on every row of every key column cost more than the
    // journey logic.
    let mut current: Option<GarmentKey> = None;
    let mut events: Vec<GarmentEvent> = Vec::new();
    while let Some(row) = rows.next()? {
        let Some(shop) = bytes(row.get_ref(0)?) else {
            continue;
        };
        let gtin = bytes(row.get_ref(1)?);
        let serial = bytes(row.get_ref(2)?);
        let same = current.as_ref().is_some_and(|(s, g, n)| {
            s.as_slice() == shop && g.as_deref() == gtin && n.as_deref() == serial
        });
        if !same {
            if let Some(key) = current.take() {
                add_garment(builder, &key, &events);
            }
            events.clear();
            current = Some((
                shop.to_vec(),
                gtin.map(<[u8]>::to_vec),
                serial.map(<[u8]>::to_vec),
            ));
        }
        let kind = match bytes(row.get_ref(4)?) {
            Some(b"item_pickup") => StoreEventKind::ItemPickup,
            Some(b"item_try_on") => StoreEventKind::ItemTryOn,
            Some(b"item_purchase") => StoreEventKind::ItemPurchase,
            // The collector stores only validated names; anything else was
            // written by another hand and is not a funnel step.
            _ => continue,
        };
        events.push(GarmentEvent {
            ts: UnixMillis(row.get(3)?),
            kind,
            // Read only when the report needs it: it costs an allocation
            // per event.
            fixture: if by_fixture {
                text(row.get_ref(5)?).map(str::to_string)
            } else {
                None
            },
            zone: if by_zone {
                text(row.get_ref(6)?).map(str::to_string)
            } else {
                None
            },
        });
    }
    if let Some(key) = current {
        add_garment(builder, &key, &events);
    }
    Ok(())
}
