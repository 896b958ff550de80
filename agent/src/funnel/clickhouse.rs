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
use super::report::FunnelReport;
use crate::event_store::clickhouse::row_binary::RowReader;
use crate::event_store::clickhouse::{quote, Body};
use crate::event_store::{ClickHouseError, ClickHouseStore, EventFilter};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use std::io;
use std::time::Duration;

/// ` AND …` conditions for `filter` on events and exposures.
fn filter_sql(filter: &EventFilter) -> String {
    conditions(filter, "gtin")
}

/// ` AND …` conditions for `filter` on a table whose item column is
/// `item` (`gtin` for the stores' events, `sku` for online steps).
pub(crate) fn conditions(filter: &EventFilter, item: &str) -> String {
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

/// The funnel report over the events in `store` that pass `filter`.
pub fn report(
    store: &ClickHouseStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
) -> Result<FunnelReport, ClickHouseError> {
    let mut builder = FunnelBuilder::until(opts, filter.to);
    count_exposures(store, filter, opts, &mut builder)?;
    // Dwells and door counts are of no item: a report of some items has none.
    if (opts.shows_dwells() || opts.shows_visits()) && filter.gtins.is_none() {
        add_dwells_and_visits(store, filter, opts, &mut builder)?;
    }
    // Online channels report only beside the stores' own channel.
    if opts.by.contains(&Dimension::Channel) {
        crate::online::store::add_to_report(store, filter, opts, &mut builder)?;
    }
    scan_garments(store, filter, opts, &mut builder)?;
    Ok(builder.finish())
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

/// The SQL of both queries, for the bench to time beside ClickHouse's own
/// funnel: exposures, then garments.
pub fn queries(database: &str, filter: &EventFilter, opts: &FunnelOptions) -> [String; 2] {
    let keys = Keys::of(opts);
    let cond = filter_sql(filter);
    // An exposure is a (dwell, GTIN) pair: counting distinct dwell ids
    // drops a dwell stored twice. A dwell has one fixture, zone and
    // instant, so grouping by them never splits one dwell's rows.
    let none = "CAST(NULL AS Nullable(String))";
    let fixture = if keys.fixture { "fixture" } else { none };
    let ts = if keys.time { "ts_ms" } else { "toInt64(0)" };
    let exposures = if keys.zone {
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
    };
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
    // Journeys opened before `--to` are read to their window's end.
    let cond = filter_sql(&super::store::journey_filter(filter, opts));
    let garments = format!(
        "SELECT store, gtin, arraySort(groupArray(({event}, cityHash64(id)))) FROM {database}.events
         WHERE event NOT IN ('fixture_dwell', 'store_visits'){cond}
         GROUP BY store, gtin, serial FORMAT RowBinary"
    );
    [exposures, garments]
}

/// A decoding failure, with whatever ClickHouse appended to the stream
/// (a query that fails after its first rows ends with the exception text).
fn broken(rows: &mut RowReader<Body>, err: io::Error) -> ClickHouseError {
    let rest = rows.rest();
    let rest = rest.lines().find(|l| l.contains("Exception")).unwrap_or("");
    ClickHouseError::Read(format!("{err} {rest}").trim().to_string())
}

/// A `Nullable(String)` column.
fn nullable_string(rows: &mut RowReader<Body>) -> io::Result<Option<String>> {
    Ok(if rows.not_null()? {
        Some(rows.string()?)
    } else {
        None
    })
}

fn count_exposures(
    store: &ClickHouseStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    let [sql, _] = queries(store.database(), filter, opts);
    let mut rows = RowReader::new(store.stream(&sql)?);
    let mut read = |rows: &mut RowReader<Body>| -> io::Result<()> {
        while !rows.at_end()? {
            let shop = rows.string()?;
            let gtin = rows.string()?;
            let fixture = nullable_string(rows)?;
            let zone = nullable_string(rows)?;
            let ts = UnixMillis(rows.i64()?);
            let count = rows.u64()?;
            builder.add_exposures(&shop, &gtin, fixture.as_deref(), zone.as_deref(), ts, count);
        }
        Ok(())
    };
    read(&mut rows).map_err(|err| broken(&mut rows, err))
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
    let mut rows = RowReader::new(store.stream(&sql)?);
    let mut read = |rows: &mut RowReader<Body>| -> io::Result<()> {
        while !rows.at_end()? {
            let visits = rows.u8()? == 1;
            let shop = rows.string()?;
            let ts = UnixMillis(rows.i64()?);
            let fixture = nullable_string(rows)?;
            let zone = nullable_string(rows)?;
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
        }
        Ok(())
    };
    read(&mut rows).map_err(|err| broken(&mut rows, err))
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
    let mut rows = RowReader::new(store.stream(&sql)?);
    let mut out = Vec::new();
    let mut read = |rows: &mut RowReader<Body>| -> io::Result<()> {
        while !rows.at_end()? {
            out.push((rows.string()?, rows.u64()?));
        }
        Ok(())
    };
    read(&mut rows).map_err(|err| broken(&mut rows, err))?;
    Ok(out)
}

fn scan_garments(
    store: &ClickHouseStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    let keys = Keys::of(opts);
    let [_, sql] = queries(store.database(), filter, opts);
    let mut rows = RowReader::new(store.stream(&sql)?);
    let mut events: Vec<GarmentEvent> = Vec::new();
    // A flag and a text, for a nullable key read as two sortable columns.
    let present = |rows: &mut RowReader<Body>| -> io::Result<Option<String>> {
        let present = rows.u8()? == 1;
        let text = rows.string()?;
        Ok(present.then_some(text))
    };
    let mut read = |rows: &mut RowReader<Body>| -> io::Result<()> {
        while !rows.at_end()? {
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
        }
        Ok(())
    };
    read(&mut rows).map_err(|err| broken(&mut rows, err))
}
