//! Reads the SQLite event store into the funnel engine.
//!
//! Item events come off the table `garment_steps` a store at a time, already
//! sorted by garment and time, so each garment is scanned as soon as its
//! last event is read and memory stays flat however many events there are.
//! [`READERS`] threads take the stores in turn.
//! Dwells, their exposures (the GTINs each showed) and door counts come off
//! their own covering index, `events_dwells_and_visits`; a report with no
//! time bounds and no fixture, zone or time key reads the exposures' running
//! totals instead.

use super::dimension::Dimension;
use super::engine::{FunnelBuilder, FunnelOptions, GarmentEvent};
use super::store::FunnelSource;
use crate::event_store::sqlite::exposures;
use crate::event_store::sqlite::filter::{dwell_filter_sql, filter_sql};
use crate::event_store::sqlite::garments::{gtin_value, step_kind, StoredKey};
use crate::event_store::{DbError, EventFilter, SqliteStore};
use protocol::time::UnixMillis;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn bytes(value: ValueRef<'_>) -> Option<&[u8]> {
    match value {
        ValueRef::Text(bytes) => Some(bytes),
        _ => None,
    }
}

/// One garment of a store: its GTIN and serial as stored, and the GTIN's
/// text (kept from the garment before when it has the same GTIN, as most
/// do: a store's garments come GTIN by GTIN).
struct Garment {
    gtin: StoredKey,
    serial: StoredKey,
    /// `None` for a stored GTIN the collector never writes.
    gtin_text: Option<String>,
}

impl Garment {
    fn new(gtin: StoredKey, serial: StoredKey, before: Option<Garment>) -> Garment {
        let gtin_text = match before {
            Some(before) if before.gtin == gtin => before.gtin_text,
            _ => {
                let mut digits = [0u8; 14];
                gtin.gtin_text(&mut digits)
                    .and_then(|text| std::str::from_utf8(text).ok())
                    .map(str::to_string)
            }
        };
        Garment {
            gtin,
            serial,
            gtin_text,
        }
    }
}

/// Scans one garment of `shop`, its events put in the engine's order
/// first; a GTIN that is not UTF-8 was not written by the collector and is
/// skipped.
fn add_garment(
    builder: &mut FunnelBuilder<'_>,
    shop: &str,
    garment: &Garment,
    events: &mut [GarmentEvent],
) {
    // The table orders a garment's events by time and step, then by the
    // order they were stored in; the engine breaks the remaining ties by
    // fixture and zone (they decide which pickup opens a journey).
    if events
        .windows(2)
        .any(|w| (w[0].ts, w[0].kind) == (w[1].ts, w[1].kind))
    {
        events.sort_by(|a, b| {
            (a.ts, a.kind, &a.fixture, &a.zone).cmp(&(b.ts, b.kind, &b.fixture, &b.zone))
        });
    }
    if let Some(gtin) = &garment.gtin_text {
        builder.add_garment(shop, Some(gtin), events);
    }
}

fn text(value: ValueRef<'_>) -> Option<&str> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

/// Reader threads. A garment never spans two stores, so handing each
/// thread whole stores (or store ranges) gives it whole garments; the
/// machines this runs on have at least two cores.
const READERS: usize = 2;
/// Rows sampled to choose the store ranges the exposures are split by.
const SPLIT_SAMPLES: i64 = 64;

impl FunnelSource for SqliteStore {
    fn add_exposures(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), DbError> {
        count_exposures(self, &seekable(self, filter)?, opts, builder)
    }

    fn add_dwells_and_visits(
        &self,
        filter: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), DbError> {
        add_dwells_and_visits(self, filter, opts, builder)
    }

    /// Reader threads take the stores one at a time, each into a builder
    /// of its own, until none is left; a store's garments are all its own,
    /// and a thread that drew small stores takes more of them.
    fn add_garments(
        &self,
        journeys: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<(), DbError> {
        let shops = garment_stores(self, journeys)?;
        let next = AtomicUsize::new(0);
        in_parallel(
            self,
            builder,
            READERS.min(shops.len()),
            |reader, _, part| {
                scan_garments(
                    reader,
                    journeys,
                    opts,
                    || shops.get(next.fetch_add(1, Ordering::Relaxed)),
                    part,
                )
            },
        )
    }
}

/// `filter` with every store named when it asks for some items of all
/// stores: the garment steps' and the exposures' keys lead with the store,
/// and SQLite seeks to an item in them only when the store is named, so a
/// SKU's report reads that SKU's rows, not the whole index. (Online steps
/// need no store and are read with `filter` itself.)
fn seekable(store: &SqliteStore, filter: &EventFilter) -> Result<EventFilter, DbError> {
    let mut seek = filter.clone();
    if filter.gtins.is_some() && filter.store.is_none() && filter.stores.is_none() {
        seek.stores = Some(store.stores()?);
    }
    Ok(seek)
}

/// Splits `filter`'s stores into ranges and has `read` fill `builder`
/// with each range on a thread of its own (see [`in_parallel`]).
fn in_parts<'o>(
    store: &SqliteStore,
    filter: &EventFilter,
    builder: &mut FunnelBuilder<'o>,
    read: impl Fn(&SqliteStore, &StoreRange, &mut FunnelBuilder<'o>) -> Result<(), DbError> + Sync,
) -> Result<(), DbError> {
    let ranges = store_ranges(store, filter)?;
    in_parallel(store, builder, ranges.len(), |reader, i, part| {
        read(reader, &ranges[i], part)
    })
}

/// `[from, to)` over store ids; `None` is open-ended.
type StoreRange = (Option<String>, Option<String>);

/// Runs `read` on `threads` threads (given their index), each with a
/// read-only connection and a part of `builder` of its own, and absorbs
/// the parts in index order.
fn in_parallel<'o>(
    store: &SqliteStore,
    builder: &mut FunnelBuilder<'o>,
    threads: usize,
    read: impl Fn(&SqliteStore, usize, &mut FunnelBuilder<'o>) -> Result<(), DbError> + Sync,
) -> Result<(), DbError> {
    let path = store.path();
    let (read, template) = (&read, &*builder);
    let parts: Vec<Result<FunnelBuilder<'o>, DbError>> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..threads)
            .map(|i| {
                scope.spawn(move || {
                    let reader = SqliteStore::open_read_only(path)?;
                    let mut part = template.part();
                    read(&reader, i, &mut part)?;
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

/// ` AND …` conditions keeping the rows of stores in `range`.
fn range_sql<'r>(range: &'r StoreRange, cond: &mut String, params: &mut Vec<&'r dyn ToSql>) {
    if let Some(from) = &range.0 {
        cond.push_str(" AND store >= ?");
        params.push(from);
    }
    if let Some(to) = &range.1 {
        cond.push_str(" AND store < ?");
        params.push(to);
    }
}

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
pub(crate) const DWELLS_AND_VISITS: &str = "event IN ('fixture_dwell', 'store_visits')";

/// Counts exposures per store and GTIN (and fixture, zone and instant, when
/// keyed by them), the store ranges on [`READERS`] threads: there are
/// several exposures a dwell, as many as item events.
fn count_exposures(
    store: &SqliteStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), DbError> {
    in_parts(store, filter, builder, |reader, range, part| {
        count_exposures_in(reader, filter, range, opts, part)
    })
}

/// Counts the exposures of the stores in `range`.
fn count_exposures_in(
    store: &SqliteStore,
    filter: &EventFilter,
    range: &StoreRange,
    opts: &FunnelOptions,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), DbError> {
    let has = |d| opts.by.contains(&d);
    let (by_fixture, by_zone) = (has(Dimension::Fixture), has(Dimension::Zone));
    let by_time = super::store::keyed_by_time(opts);
    let wanted = |gtin: &str| exposures::wanted(filter, gtin);
    // With no time bounds and no fixture, zone or time key, the report
    // counts what `exposure_totals` keeps, one row per store and GTIN, and
    // the GTINs of the dwells stored since its last fold; one statement,
    // so both parts are of the same moment.
    let all_time = filter.from.is_none() && filter.to.is_none();
    if all_time && !by_fixture && !by_zone && !by_time {
        let (mut totals_cond, mut params) = filter_sql(filter);
        range_sql(range, &mut totals_cond, &mut params);
        let (mut since_cond, since_params) = dwell_filter_sql(filter);
        params.extend(since_params);
        range_sql(range, &mut since_cond, &mut params);
        let mut totals = store.connection().prepare(&format!(
            "SELECT store, gtin, n, NULL FROM exposure_totals WHERE 1{totals_cond}
             UNION ALL
             SELECT store, NULL, 0, gtins FROM events NOT INDEXED WHERE {}{since_cond}",
            exposures::UNFOLDED
        ))?;
        let mut rows = totals.query(params.as_slice())?;
        while let Some(row) = rows.next()? {
            let Some(shop) = text(row.get_ref(0)?) else {
                continue;
            };
            if let Some(gtin) = text(row.get_ref(1)?) {
                let n = u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
                builder.add_exposures(shop, gtin, None, None, UnixMillis(0), n);
            } else if let Some(list) = text(row.get_ref(3)?) {
                for gtin in exposures::parse(list).iter().filter(|g| wanted(g)) {
                    builder.add_exposures(shop, gtin, None, None, UnixMillis(0), 1);
                }
            }
        }
        return Ok(());
    }
    // Otherwise every dwell's GTINs in the bounds, off the dwells' index,
    // whose rows come store by store.
    let (mut cond, mut params) = dwell_filter_sql(filter);
    range_sql(range, &mut cond, &mut params);
    let quoted = exposures::quoted_for_search(filter.gtins.as_deref());
    if let Some(quoted) = &quoted {
        // Only dwells whose list holds one of the GTINs asked for (a SKU's
        // page): SQLite finds them without handing over the others.
        let _ = write!(
            cond,
            " AND ({})",
            vec!["instr(gtins, ?) > 0"; quoted.len()].join(" OR ")
        );
        params.extend(quoted.iter().map(|q| q as &dyn ToSql));
    }
    let mut dwells = store.connection().prepare(&format!(
        "SELECT store, fixture, zone, ts_ms, gtins
         FROM events INDEXED BY events_dwells_and_visits
         WHERE {DWELLS_AND_VISITS} AND event = 'fixture_dwell' AND gtins IS NOT NULL{cond}"
    ))?;
    // Keyed by store and GTIN only: counted per store, then handed over.
    let mut shop_now = String::new();
    let mut per_gtin: HashMap<String, u64> = HashMap::new();
    let hand_over = |shop: &str, per_gtin: &mut HashMap<String, u64>, b: &mut FunnelBuilder<'_>| {
        for (gtin, n) in per_gtin.drain() {
            b.add_exposures(shop, &gtin, None, None, UnixMillis(0), n);
        }
    };
    let mut rows = dwells.query(params.as_slice())?;
    while let Some(row) = rows.next()? {
        let (Some(shop), Some(list)) = (text(row.get_ref(0)?), text(row.get_ref(4)?)) else {
            continue;
        };
        let gtins = exposures::parse(list);
        if by_fixture || by_zone || by_time {
            let fixture = if by_fixture {
                text(row.get_ref(1)?)
            } else {
                None
            };
            let zone = if by_zone { text(row.get_ref(2)?) } else { None };
            let ts = UnixMillis(if by_time { row.get(3)? } else { 0 });
            for gtin in gtins.iter().filter(|g| wanted(g)) {
                builder.add_exposures(shop, gtin, fixture, zone, ts, 1);
            }
            continue;
        }
        if shop != shop_now {
            hand_over(&shop_now, &mut per_gtin, builder);
            shop_now = shop.to_string();
        }
        for gtin in gtins.iter().filter(|g| wanted(g)) {
            match per_gtin.get_mut(gtin.as_ref()) {
                Some(n) => *n += 1,
                None => {
                    per_gtin.insert(gtin.to_string(), 1);
                }
            }
        }
    }
    hand_over(&shop_now, &mut per_gtin, builder);
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

/// A store id as stored, bound as TEXT whatever its bytes.
struct StoreId<'b>(&'b [u8]);

impl ToSql for StoreId<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

/// The stores with garment steps that `filter` keeps, one seek each; a
/// store id that is not UTF-8 was not written by the collector and is
/// stepped over.
fn garment_stores(store: &SqliteStore, filter: &EventFilter) -> Result<Vec<String>, DbError> {
    let conn = store.connection();
    let first = |r: &rusqlite::Row<'_>| Ok(bytes(r.get_ref(0)?).map(<[u8]>::to_vec));
    let mut found = conn.query_row("SELECT MIN(store) FROM garment_steps", [], first)?;
    let mut next = conn.prepare("SELECT MIN(store) FROM garment_steps WHERE store > ?1")?;
    let named: Option<HashSet<&str>> = filter
        .stores
        .as_ref()
        .map(|s| s.iter().map(String::as_str).collect());
    let mut stores = Vec::new();
    while let Some(shop) = found {
        found = next.query_row([&StoreId(&shop)], first)?;
        let Ok(text) = String::from_utf8(shop) else {
            continue;
        };
        if filter.store.as_ref().is_none_or(|s| *s == text)
            && named.as_ref().is_none_or(|s| s.contains(text.as_str()))
        {
            stores.push(text);
        }
    }
    Ok(stores)
}

/// Feeds every garment with item events of the stores `next_store` hands
/// out to `builder`, a store at a time: the store is then bound once
/// rather than read on every row.
fn scan_garments<'s>(
    store: &SqliteStore,
    filter: &EventFilter,
    opts: &FunnelOptions,
    mut next_store: impl FnMut() -> Option<&'s String>,
    builder: &mut FunnelBuilder<'_>,
) -> Result<(), DbError> {
    let by_fixture = opts.by.contains(&Dimension::Fixture);
    let by_zone = opts.by.contains(&Dimension::Zone);
    // `garment_steps` holds a GTIN-14 as an integer: the GTINs asked for
    // are matched in that form.
    let unkeyed = EventFilter {
        gtins: None,
        ..filter.clone()
    };
    let keys: Vec<rusqlite::types::Value> = filter
        .gtins
        .iter()
        .flatten()
        .map(|gtin| gtin_value(gtin))
        .collect();
    let (mut cond, filter_params) = filter_sql(&unkeyed);
    if filter.gtins.is_some() {
        let marks = vec!["?"; keys.len()].join(", ");
        let _ = write!(cond, " AND gtin IN ({marks})");
    }
    // The ORDER BY is the table's key after the store, so no sort step is
    // needed. Fixture and zone are selected only when the report is keyed
    // by them: SQLite decodes every selected column of every row.
    let extra = match (by_fixture, by_zone) {
        (true, true) => ", fixture, zone",
        (true, false) => ", fixture",
        (false, true) => ", zone",
        (false, false) => "",
    };
    let zone_column = if by_fixture { 5 } else { 4 };
    let mut items = store.connection().prepare(&format!(
        "SELECT gtin, serial, ts_ms, step{extra} FROM garment_steps
         WHERE store = ?{cond} ORDER BY gtin, serial, ts_ms, step, event"
    ))?;
    let mut events: Vec<GarmentEvent> = Vec::new();
    while let Some(shop) = next_store() {
        let mut params: Vec<&dyn ToSql> = vec![shop];
        params.extend(filter_params.iter().copied());
        params.extend(keys.iter().map(|k| k as &dyn ToSql));
        let mut rows = items.query(params.as_slice())?;
        // Keys are compared as stored (bytes, integers) and turned into
        // text once per GTIN: UTF-8 checks on every row of every key
        // column cost more than the journey logic.
        let mut current: Option<Garment> = None;
        let mut before: Option<Garment> = None;
        events.clear();
        while let Some(row) = rows.next()? {
            let (gtin, serial) = (row.get_ref(0)?, row.get_ref(1)?);
            let same = current
                .as_ref()
                .is_some_and(|g| g.serial.is(serial) && g.gtin.is(gtin));
            if !same {
                if let Some(garment) = current.take() {
                    add_garment(builder, shop, &garment, &mut events);
                    before = Some(garment);
                }
                events.clear();
                let (Some(gtin), Some(serial)) = (StoredKey::of(gtin), StoredKey::of(serial))
                else {
                    continue;
                };
                current = Some(Garment::new(gtin, serial, before.take()));
            }
            let code = match row.get_ref(3)? {
                ValueRef::Integer(code) => step_kind(code),
                _ => None,
            };
            let Some(kind) = code else {
                // The collector stores only the three steps; anything else
                // was written by another hand and is not a funnel step.
                continue;
            };
            events.push(GarmentEvent {
                ts: UnixMillis(row.get(2)?),
                kind,
                // Read only when the report needs it: it costs an
                // allocation per event.
                fixture: if by_fixture {
                    text(row.get_ref(4)?).map(str::to_string)
                } else {
                    None
                },
                zone: if by_zone {
                    text(row.get_ref(zone_column)?).map(str::to_string)
                } else {
                    None
                },
            });
        }
        if let Some(garment) = current {
            add_garment(builder, shop, &garment, &mut events);
        }
    }
    Ok(())
}
