//! Reads the ClickHouse event store into the funnel engine.
//!
//! ClickHouse does the heavy work: it filters by store and time, drops
//! repeated event ids, groups each garment's item events into one array
//! sorted in the engine's order, and counts exposures. Dwells and door
//! counts are read one row per event id, when the report shows them. aisle reads the
//! answer as a `RowBinary` stream, one garment per row, and hands each
//! garment to the engine as it arrives, so memory is bounded by the report,
//! not by the events.
//!
//! Within a garment, events come sorted by (ts, step, fixture with none
//! first, zone with none first, id hash). Only the fixture order among events of one instant can
//! change a report (of two pickups at once, the first opens the journey), and
//! it is SQLite's index order, so both backends give the engine equivalent
//! sequences.
//!
//! Repeats: an event stored twice is two identical rows, so it becomes two
//! identical array elements, adjacent after the sort, and the reader keeps
//! one. The id travels as its 64-bit hash, which costs a third less than the
//! id itself; two different events of one garment would have to share the
//! instant, the step and the fixture and collide in 64 bits to be taken for
//! one.

use super::dimension::Dimension;
use super::engine::{FunnelBuilder, FunnelOptions, GarmentEvent};
use super::store::FunnelSource;
use crate::event_store::clickhouse::row_binary::RowReader;
use crate::event_store::clickhouse::{filter_sql, Body};
use crate::event_store::{ClickHouseError, ClickHouseStore, EventFilter};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use std::io;
use std::time::Duration;

impl FunnelSource for ClickHouseStore {
    fn add_exposures(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), ClickHouseError> {
        count_exposures(self, filter, opts, builder)
    }

    fn add_dwells_and_visits(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), ClickHouseError> {
        add_dwells_and_visits(self, filter, opts, builder)
    }

    fn add_garments(
        &self,
        journeys: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), ClickHouseError> {
        scan_garments(self, journeys, opts, builder)
    }
}

/// What the report is keyed by that the queries must carry.
struct Keys {
    fixture: bool,
    zone: bool,
    time: bool,
}

impl Keys {
    fn of(opts: &FunnelOptions) -> Keys {
        Keys {
            fixture: opts.by.contains(&Dimension::Fixture),
            zone: opts.by.contains(&Dimension::Zone),
            time: super::store::keyed_by_time(opts),
        }
    }
}

/// The exposure counts that pass `filter`, one row per report cell.
fn exposures_sql(database: &str, filter: &EventFilter, opts: &FunnelOptions) -> String {
    let keys = Keys::of(opts);
    let cond = filter_sql(filter);
    // An exposure is a (dwell, GTIN) pair: counting distinct dwell ids
    // drops a dwell stored twice. A dwell has one fixture, zone and
    // instant, so grouping by them never splits one dwell's rows.
    let none = "CAST(NULL AS Nullable(String))";
    let fixture = if keys.fixture { "fixture" } else { none };
    let ts = if keys.time { "ts_ms" } else { "toInt64(0)" };
    if keys.zone {
        // The zone is the dwell's: joined from its event, once per id.
        format!(
            "SELECT store, gtin, {fixture} AS x_fixture, zone, {ts} AS x_ts, uniqExact(event_id)
             FROM (SELECT store, gtin, fixture, ts_ms, event_id FROM {database}.exposures
                   WHERE 1{cond})
             ANY LEFT JOIN (SELECT id AS event_id, any(zone) AS zone FROM {database}.events
                   WHERE event = 'fixture_dwell'{cond} GROUP BY id) USING event_id
             GROUP BY store, gtin, x_fixture, zone, x_ts FORMAT RowBinary"
        )
    } else {
        format!(
            "SELECT store, gtin, {fixture} AS x_fixture, {none} AS zone, {ts} AS x_ts,
                uniqExact(event_id) FROM {database}.exposures
             WHERE 1{cond} GROUP BY store, gtin, x_fixture, x_ts FORMAT RowBinary"
        )
    }
}

/// Every garment with item events that pass `journeys`, one row each, its
/// events in one sorted array.
fn garments_sql(database: &str, journeys: &EventFilter, opts: &FunnelOptions) -> String {
    let keys = Keys::of(opts);
    // The step as a number (anything else, 3, is not a step), and the
    // fixture and zone split into a "present" flag and their text so that
    // none sorts first, as in SQLite.
    let step = "multiIf(event = 'item_pickup', 0, event = 'item_try_on', 1, \
                event = 'item_purchase', 2, 3)";
    let mut event = format!("ts_ms, {step}");
    if keys.fixture {
        event.push_str(", isNotNull(fixture), ifNull(fixture, '')");
    }
    if keys.zone {
        event.push_str(", isNotNull(zone), ifNull(zone, '')");
    }
    let cond = filter_sql(journeys);
    format!(
        "SELECT store, gtin, arraySort(groupArray(({event}, cityHash64(id)))) FROM {database}.events
         WHERE event NOT IN ('fixture_dwell', 'store_visits'){cond}
         GROUP BY store, gtin, serial FORMAT RowBinary"
    )
}

fn count_exposures(
    store: &ClickHouseStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    let sql = exposures_sql(store.database(), filter, opts);
    store.read_each(&sql, |rows| {
        let shop = rows.string()?;
        let gtin = rows.string()?;
        let fixture = rows.nullable_string()?;
        let zone = rows.nullable_string()?;
        let ts = UnixMillis(rows.i64()?);
        let count = rows.u64()?;
        builder.add_exposures(&shop, &gtin, fixture.as_deref(), zone.as_deref(), ts, count);
        Ok(())
    })
}

/// Dwells and door counts, one row per event id (a repeat read once).
fn add_dwells_and_visits(
    store: &ClickHouseStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    let kinds = match (opts.shows_dwells(), opts.shows_visits()) {
        (true, true) => "event IN ('fixture_dwell', 'store_visits')",
        (true, false) => "event = 'fixture_dwell'",
        _ => "event = 'store_visits'",
    };
    let sql = format!(
        "SELECT any(event) = 'store_visits', any(store), any(ts_ms), any(fixture), any(zone),
            any(duration_ms), any(count)
         FROM {}.events WHERE {kinds}{} GROUP BY id FORMAT RowBinary",
        store.database(),
        filter_sql(filter)
    );
    store.read_each(&sql, |rows| {
        let visits = rows.u8()? == 1;
        let shop = rows.string()?;
        let ts = UnixMillis(rows.i64()?);
        let fixture = rows.nullable_string()?;
        let zone = rows.nullable_string()?;
        let duration = if rows.not_null()? {
            u64::try_from(rows.i64()?).ok().map(Duration::from_millis)
        } else {
            None
        };
        let count = if rows.not_null()? {
            Some(rows.u32()?)
        } else {
            None
        };
        if visits {
            builder.add_visits(&shop, ts, u64::from(count.unwrap_or(0)));
        } else {
            builder.add_dwell(&shop, fixture.as_deref(), zone.as_deref(), ts, duration);
        }
        Ok(())
    })
}

/// How many distinct events each store has among those that pass `filter`.
pub fn events_per_store(
    store: &ClickHouseStore,
    filter: &EventFilter,
) -> Result<Vec<(String, u64)>, ClickHouseError> {
    let sql = format!(
        "SELECT store, uniqExact(id) FROM {}.events WHERE 1{} GROUP BY store FORMAT RowBinary",
        store.database(),
        filter_sql(filter)
    );
    let mut out = Vec::new();
    store.read_rows(&sql, |rows| Ok((rows.string()?, rows.u64()?)), &mut |row| {
        out.push(row)
    })?;
    Ok(out)
}

fn scan_garments(
    store: &ClickHouseStore,
    journeys: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    let keys = Keys::of(opts);
    let sql = garments_sql(store.database(), journeys, opts);
    let mut events: Vec<GarmentEvent> = Vec::new();
    // A flag and a text, for a nullable key read as two sortable columns.
    let present = |rows: &mut RowReader<Body>| -> io::Result<Option<String>> {
        let present = rows.u8()? == 1;
        let text = rows.string()?;
        Ok(present.then_some(text))
    };
    store.read_each(&sql, |rows| {
        let shop = rows.string()?;
        let gtin = rows.string()?;
        events.clear();
        type Seen = (i64, u8, Option<String>, Option<String>, u64);
        let mut previous: Option<Seen> = None;
        for _ in 0..rows.leb128()? {
            let ts_ms = rows.i64()?;
            let step = rows.u8()?;
            let fixture = if keys.fixture { present(rows)? } else { None };
            let zone = if keys.zone { present(rows)? } else { None };
            let id_hash = rows.u64()?;
            let this = (ts_ms, step, fixture, zone, id_hash);
            if previous.as_ref() == Some(&this) {
                continue; // the same event stored again
            }
            let kind = match step {
                0 => StoreEventKind::ItemPickup,
                1 => StoreEventKind::ItemTryOn,
                2 => StoreEventKind::ItemPurchase,
                // The collector stores only validated names; anything
                // else was written by another hand and is no step.
                _ => continue,
            };
            events.push(GarmentEvent {
                ts: UnixMillis(ts_ms),
                kind,
                fixture: this.2.clone(),
                zone: this.3.clone(),
            });
            previous = Some(this);
        }
        builder.add_garment(&shop, Some(&gtin), &events);
        Ok(())
    })
}
