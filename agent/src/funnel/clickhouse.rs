//! Reads the ClickHouse event store into the funnel engine.
//!
//! ClickHouse does the heavy work: it filters by store and time, drops
//! repeated event ids, groups each garment's item events into one array
//! sorted in the engine's order, and counts exposures. aisle reads the
//! answer as a `RowBinary` stream, one garment per row, and hands each
//! garment to the engine as it arrives, so memory is bounded by the report,
//! not by the events.
//!
//! Order within a garment is (ts, event name, fixture with none first), the
//! order SQLite's index gives, so both backends feed the engine the same
//! sequences.

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
    // groupUniqArray keeps one copy of an event stored twice: its copies
    // are the same tuple, id included. The fixture is split into a
    // "present" flag and its text so that none sorts first, as in SQLite.
    let event = if by_fixture {
        "(ts_ms, event, isNotNull(fixture), ifNull(fixture, ''), id)"
    } else {
        "(ts_ms, event, id)"
    };
    let garments = format!(
        "SELECT store, gtin, arraySort(groupUniqArray({event})) FROM {database}.events
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
    // Scratch buffers reused for every row: a garment is a handful of
    // events, and an allocation per field would cost more than the journey
    // rules.
    let (mut name, mut scratch) = (Vec::new(), Vec::new());
    let mut read = |rows: &mut RowReader<Body>| -> io::Result<()> {
        while !rows.at_end()? {
            let shop = rows.string()?;
            let gtin = rows.string()?;
            events.clear();
            for _ in 0..rows.leb128()? {
                let ts_ms = rows.i64()?;
                rows.bytes_into(&mut name)?;
                let fixture = if by_fixture {
                    let present = rows.u8()? == 1;
                    let text = rows.string()?;
                    present.then_some(text)
                } else {
                    None
                };
                rows.bytes_into(&mut scratch)?; // the id: only there to keep repeats apart
                let kind = match name.as_slice() {
                    b"item_pickup" => StoreEventKind::ItemPickup,
                    b"item_try_on" => StoreEventKind::ItemTryOn,
                    b"item_purchase" => StoreEventKind::ItemPurchase,
                    // The collector stores only validated names; anything
                    // else was written by another hand and is no step.
                    _ => continue,
                };
                events.push(GarmentEvent {
                    ts_ms,
                    kind,
                    fixture,
                });
            }
            builder.add_garment(&shop, Some(&gtin), &events);
        }
        Ok(())
    };
    read(&mut rows).map_err(|err| broken(&mut rows, err))
}
