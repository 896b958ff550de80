//! Reads the ClickHouse event store into the funnel engine.
//!
//! ClickHouse does the heavy work: it filters by store and time, groups
//! each garment's item events into one row, and counts exposures, over only
//! the columns the report is keyed by. Dwells and door counts are read one
//! row per event id, when the report shows them. aisle reads the answer as
//! a `RowBinary` stream, one garment per row, and hands each garment to the
//! engine as it arrives, so memory is bounded by the report, not by the
//! events. A report keyed by no fixture, zone or time reads each garment
//! as one array of numbers and sums garments per row before the builder
//! sees them ([`fold`]).
//!
//! A garment's events arrive as parallel arrays of numbers (see
//! [`garments_sql`]) and are sorted here by (ts, step, fixture with none
//! first, zone with none first, id hash). Only the fixture order among
//! events of one instant can change a report (of two pickups at once, the
//! first opens the journey), and it is SQLite's index order, so both
//! backends give the engine equivalent sequences.
//!
//! Repeats: an event stored twice is two identical rows, so it becomes two
//! identical elements, adjacent after the sort, and the reader keeps one.
//! The id travels as its 64-bit hash, which costs a third less than the id
//! itself; two different events of one garment would have to share the
//! instant, the step and the fixture and collide in 64 bits to be taken for
//! one.

use super::dimension::Dimension;
use super::engine::{FunnelBuilder, FunnelOptions, GarmentEvent};
use super::store::FunnelSource;
use crate::event_store::clickhouse::filter_sql;
use crate::event_store::{ClickHouseError, ClickHouseStore, EventFilter};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use std::io;
use std::time::Duration;

mod exposures;
mod fold;

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
        if let Some(fold) = fold::Fold::of(&Keys::of(opts), builder) {
            let paths = fold.scan(self, journeys, opts, builder)?;
            tracing::debug!(
                folded = paths.folded,
                read_again_by_id = paths.read_again,
                keys_with_nul = paths.nul_keys,
                "garments of the report"
            );
            return Ok(());
        }
        scan_garments(self, journeys, "", opts, builder)
    }
}

/// What the report is keyed by that the queries must carry. A column no
/// dimension of the report reads is not sent: the builder is handed an
/// empty store or GTIN instead, which keys the same rows.
struct Keys {
    /// The store itself, or what the directory says of it (region, city,
    /// brand), or its time zone for local days and hours.
    store: bool,
    /// The SKU or style, both read from the GTIN.
    gtin: bool,
    fixture: bool,
    zone: bool,
    time: bool,
}

impl Keys {
    fn of(opts: &FunnelOptions) -> Keys {
        let has = |d| opts.by.contains(&d);
        Keys {
            store: opts.by.iter().any(|d| d.is_store_level()),
            gtin: has(Dimension::Sku) || has(Dimension::Style),
            fixture: has(Dimension::Fixture),
            zone: has(Dimension::Zone),
            time: super::store::keyed_by_time(opts),
        }
    }

    /// `column`, or an empty string in its place when the report does not
    /// read it.
    fn or_empty(wanted: bool, column: &str) -> &str {
        if wanted {
            column
        } else {
            "''"
        }
    }
}

/// The exposure counts that pass `filter` (and the further condition
/// `only`, empty or starting with ` AND`), one row per report cell.
fn exposures_sql(database: &str, filter: &EventFilter, only: &str, opts: &FunnelOptions) -> String {
    let keys = Keys::of(opts);
    let cond = filter_sql(filter);
    // An exposure is a (dwell, GTIN) pair: counting distinct pairs drops a
    // dwell stored twice. A dwell has one store, fixture, zone and instant,
    // so grouping by any of them never splits one pair's repeats; grouped
    // by GTIN, the dwell id alone names the pair.
    let none = "CAST(NULL AS Nullable(String))";
    let store = Keys::or_empty(keys.store, "store");
    let gtin = Keys::or_empty(keys.gtin, "gtin");
    let pairs = if keys.gtin {
        "uniqExact(event_id)"
    } else {
        "uniqExact(event_id, gtin)"
    };
    let fixture = if keys.fixture { "fixture" } else { none };
    let ts = if keys.time { "ts_ms" } else { "toInt64(0)" };
    if keys.zone {
        // The zone is the dwell's: joined from its event, once per id.
        format!(
            "SELECT {store} AS x_store, {gtin} AS x_gtin, {fixture} AS x_fixture, zone,
                {ts} AS x_ts, {pairs}
             FROM (SELECT store, gtin, fixture, ts_ms, event_id FROM {database}.exposures
                   WHERE 1{cond}{only})
             ANY LEFT JOIN (SELECT id AS event_id, any(zone) AS zone FROM {database}.events
                   WHERE event = 'fixture_dwell'{cond} GROUP BY id) USING event_id
             GROUP BY x_store, x_gtin, x_fixture, zone, x_ts FORMAT RowBinary"
        )
    } else {
        format!(
            "SELECT {store} AS x_store, {gtin} AS x_gtin, {fixture} AS x_fixture, {none} AS zone,
                {ts} AS x_ts, {pairs} FROM {database}.exposures
             WHERE 1{cond}{only} GROUP BY x_store, x_gtin, x_fixture, x_ts FORMAT RowBinary"
        )
    }
}

/// Every garment with item events that pass `journeys`, one row each: the
/// store and GTIN when the report reads them, then its events as parallel
/// arrays in no particular order: each event's instant and step packed in
/// one number (`ts_ms * 4 + step`), its id hash, and the fixture and zone
/// when the report is keyed by them, each as a "present" flag and a text.
///
/// Numbers rather than tuples because ClickHouse collects an array of
/// numbers in a flat buffer, and a tuple element by element through a
/// generic path that costs it more than the grouping; the reader sorts the
/// few events of a garment itself.
fn garments_sql(
    database: &str,
    journeys: &EventFilter,
    only: &str,
    opts: &FunnelOptions,
) -> String {
    let keys = Keys::of(opts);
    // The step as a number (anything else, 3, is not a step).
    let step = "multiIf(event = 'item_pickup', 0, event = 'item_try_on', 1, \
                event = 'item_purchase', 2, 3)";
    let mut columns: Vec<String> = Vec::new();
    if keys.store {
        columns.push("store".into());
    }
    if keys.gtin {
        columns.push("gtin".into());
    }
    columns.push(format!("groupArray(ts_ms * {STEPS} + {step})"));
    columns.push("groupArray(cityHash64(id))".into());
    for (keyed, column) in [(keys.fixture, "fixture"), (keys.zone, "zone")] {
        if keyed {
            // groupArray skips NULLs, which would misalign the arrays.
            columns.push(format!("groupArray(isNotNull({column}))"));
            columns.push(format!("groupArray(ifNull({column}, ''))"));
        }
    }
    let cond = filter_sql(journeys);
    format!(
        "SELECT {} FROM {database}.events
         WHERE event NOT IN ('fixture_dwell', 'store_visits'){cond}{only}
         GROUP BY store, gtin, serial FORMAT RowBinary",
        columns.join(", ")
    )
}

/// Keys named in one query when rows are read again by key: few enough to
/// keep the query well under ClickHouse's size limit (`max_query_size`).
const KEYS_PER_QUERY: usize = 500;

/// The packing of an event's instant and step: `ts_ms * STEPS + step`,
/// which orders as (instant, step) does. Steps are 0 to 3.
const STEPS: i64 = 4;

fn count_exposures(
    store: &ClickHouseStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    if exposures::by_hashes(&Keys::of(opts)) {
        let paths = exposures::count(store, filter, opts, builder)?;
        tracing::debug!(
            hashed = paths.hashed,
            counted_again = paths.counted_again,
            "exposure rows of the report"
        );
        return Ok(());
    }
    read_exposures(
        store,
        &exposures_sql(store.database(), filter, "", opts),
        builder,
    )
}

/// Runs an [`exposures_sql`] query into `builder`.
fn read_exposures(
    store: &ClickHouseStore,
    sql: &str,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    store.read_each(sql, |rows| {
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

/// One element of a garment's arrays, as read.
struct Element {
    packed: i64,
    fixture: Option<String>,
    zone: Option<String>,
    id_hash: u64,
}

/// Every garment with item events that pass `journeys` (and the further
/// condition `only`, empty or starting with ` AND`), each scanned here.
fn scan_garments(
    store: &ClickHouseStore,
    journeys: &EventFilter,
    only: &str,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), ClickHouseError> {
    let keys = Keys::of(opts);
    let sql = garments_sql(store.database(), journeys, only, opts);
    let mut elements: Vec<Element> = Vec::new();
    let mut events: Vec<GarmentEvent> = Vec::new();
    let (mut shop, mut gtin) = (Vec::new(), Vec::new());
    store.read_each(&sql, |rows| {
        if keys.store {
            rows.bytes_into(&mut shop)?;
        }
        if keys.gtin {
            rows.bytes_into(&mut gtin)?;
        }
        elements.clear();
        for _ in 0..rows.leb128()? {
            elements.push(Element {
                packed: rows.i64()?,
                fixture: None,
                zone: None,
                id_hash: 0,
            });
        }
        let count = elements.len();
        let misaligned = || io::Error::new(io::ErrorKind::InvalidData, "arrays of unequal length");
        if rows.leb128()? != count as u64 {
            return Err(misaligned());
        }
        for element in &mut elements {
            element.id_hash = rows.u64()?;
        }
        for (keyed, field) in [
            (
                keys.fixture,
                (|e| &mut e.fixture) as fn(&mut Element) -> &mut Option<String>,
            ),
            (keys.zone, |e| &mut e.zone),
        ] {
            if !keyed {
                continue;
            }
            if rows.leb128()? != count as u64 {
                return Err(misaligned());
            }
            let present: Vec<bool> = (0..count)
                .map(|_| rows.u8().map(|flag| flag == 1))
                .collect::<io::Result<_>>()?;
            if rows.leb128()? != count as u64 {
                return Err(misaligned());
            }
            for (element, present) in elements.iter_mut().zip(present) {
                let text = rows.string()?;
                *field(element) = present.then_some(text);
            }
        }
        // The engine's order; a repeat is identical in every field, so it
        // lands next to its original. `None` sorts first, as in SQLite.
        elements.sort_unstable_by(|a, b| {
            (a.packed, &a.fixture, &a.zone, a.id_hash)
                .cmp(&(b.packed, &b.fixture, &b.zone, b.id_hash))
        });
        elements.dedup_by(|this, previous| {
            this.packed == previous.packed
                && this.id_hash == previous.id_hash
                && this.fixture == previous.fixture
                && this.zone == previous.zone
        });
        events.clear();
        for element in elements.drain(..) {
            let kind = match element.packed.rem_euclid(STEPS) {
                0 => StoreEventKind::ItemPickup,
                1 => StoreEventKind::ItemTryOn,
                2 => StoreEventKind::ItemPurchase,
                // The collector stores only validated names; anything
                // else was written by another hand and is no step.
                _ => continue,
            };
            events.push(GarmentEvent {
                ts: UnixMillis(element.packed.div_euclid(STEPS)),
                kind,
                fixture: element.fixture,
                zone: element.zone,
            });
        }
        builder.add_garment(utf8(&shop)?, Some(utf8(&gtin)?), &events);
        Ok(())
    })
}

/// A column read as bytes, as text.
fn utf8(bytes: &[u8]) -> io::Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
