//! Reads the ClickHouse event store into the funnel engine.
//!
//! ClickHouse does the heavy work: it filters by store and time, drops
//! repeated event ids, groups each garment's item events into one array
//! sorted in the engine's order, and counts exposures. aisle reads the
//! answer as a `RowBinary` stream, one garment per row, and hands each
//! garment to the engine as it arrives, so memory is bounded by the report,
//! not by the events.
//!
//! Within a garment, events come sorted by (ts, step, fixture with none
//! first, id hash). Only the fixture order among events of one instant can
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
use std::io;

/// ` AND …` conditions for `filter`.
fn filter_sql(filter: &EventFilter) -> String {
    let mut sql = String::new();
    if let Some(store) = &filter.store {
        sql.push_str(&format!(" AND store = {}", quote(store)));
    }
    if let Some(from) = filter.from_ms {
        sql.push_str(&format!(" AND ts_ms >= {from}"));
    }
    if let Some(to) = filter.to_ms {
        sql.push_str(&format!(" AND ts_ms < {to}"));
    }
    sql
}

/// The funnel report over the events in `store` that pass `filter`.
pub fn report(
    store: &ClickHouseStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
) -> Result<FunnelReport, ClickHouseError> {
    let mut builder = FunnelBuilder::new(opts);
    let by_fixture = opts.by.contains(&Dimension::Fixture);
    count_exposures(store, filter, by_fixture, &mut builder)?;
    // Online channels report only beside the stores' own channel.
    if opts.by.contains(&Dimension::Channel) {
        crate::online::store::add_to_report(store, filter, opts, &mut builder)?;
    }
    scan_garments(store, filter, by_fixture, &mut builder)?;
    Ok(builder.finish())
}

/// The SQL of both queries, for the bench to time beside ClickHouse's own
/// funnel: exposures, then garments.
pub fn queries(database: &str, filter: &EventFilter, by_fixture: bool) -> [String; 2] {
    let cond = filter_sql(filter);
    // An exposure is a (dwell, GTIN) pair: counting distinct dwell ids
    // drops a dwell stored twice. A dwell has one fixture, so grouping by
    // it never splits one dwell's rows.
    let exposures = if by_fixture {
        format!(
            "SELECT store, gtin, fixture, uniqExact(event_id) FROM {database}.exposures
             WHERE 1{cond} GROUP BY store, gtin, fixture FORMAT RowBinary"
        )
    } else {
        format!(
            "SELECT store, gtin, uniqExact(event_id) FROM {database}.exposures
             WHERE 1{cond} GROUP BY store, gtin FORMAT RowBinary"
        )
    };
    // The step as a number (anything else, 3, is not a step), and the
    // fixture split into a "present" flag and its text so that none sorts
    // first, as in SQLite.
    let step = "multiIf(event = 'item_pickup', 0, event = 'item_try_on', 1, \
                event = 'item_purchase', 2, 3)";
    let event = if by_fixture {
        format!("(ts_ms, {step}, isNotNull(fixture), ifNull(fixture, ''), cityHash64(id))")
    } else {
        format!("(ts_ms, {step}, cityHash64(id))")
    };
    let garments = format!(
        "SELECT store, gtin, arraySort(groupArray({event})) FROM {database}.events
         WHERE event != 'fixture_dwell'{cond} GROUP BY store, gtin, serial FORMAT RowBinary"
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

fn count_exposures(
    store: &ClickHouseStore,
    filter: &EventFilter,
    by_fixture: bool,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    let [sql, _] = queries(store.database(), filter, by_fixture);
    let mut rows = RowReader::new(store.stream(&sql)?);
    let mut read = |rows: &mut RowReader<Body>| -> io::Result<()> {
        while !rows.at_end()? {
            let shop = rows.string()?;
            let gtin = rows.string()?;
            let fixture = if by_fixture && rows.not_null()? {
                Some(rows.string()?)
            } else {
                None
            };
            let count = rows.u64()?;
            builder.add_exposures(&shop, &gtin, fixture.as_deref(), count);
        }
        Ok(())
    };
    read(&mut rows).map_err(|err| broken(&mut rows, err))
}

fn scan_garments(
    store: &ClickHouseStore,
    filter: &EventFilter,
    by_fixture: bool,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    let [_, sql] = queries(store.database(), filter, by_fixture);
    let mut rows = RowReader::new(store.stream(&sql)?);
    let mut events: Vec<GarmentEvent> = Vec::new();
    let mut read = |rows: &mut RowReader<Body>| -> io::Result<()> {
        while !rows.at_end()? {
            let shop = rows.string()?;
            let gtin = rows.string()?;
            events.clear();
            let mut previous: Option<(i64, u8, Option<String>, u64)> = None;
            for _ in 0..rows.leb128()? {
                let ts_ms = rows.i64()?;
                let step = rows.u8()?;
                let fixture = if by_fixture {
                    let present = rows.u8()? == 1;
                    let text = rows.string()?;
                    present.then_some(text)
                } else {
                    None
                };
                let id_hash = rows.u64()?;
                let this = (ts_ms, step, fixture, id_hash);
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
                    ts_ms,
                    kind,
                    fixture: this.2.clone(),
                });
                previous = Some(this);
            }
            builder.add_garment(&shop, Some(&gtin), &events);
        }
        Ok(())
    };
    read(&mut rows).map_err(|err| broken(&mut rows, err))
}
