//! Journeys folded inside ClickHouse, for a report that gives every step of
//! a garment at its store one row (keyed by no fixture, zone or time:
//! `--by sku`, `--by store`, `--by sku,store`, regions and brands).
//!
//! Such a report needs of each garment only its steps' kinds and instants,
//! and most garments make one or two journeys, which array functions can
//! work out without a loop. So the server groups each garment's events into
//! one array of numbers, folds the garments it can under the journey rules
//! of the funnel engine (`funnel::engine`, "Rules"), and sums them per
//! report row; aisle reads a few thousand rows instead of a row per garment.
//! What the server cannot fold comes to aisle as before:
//!
//! - a garment with more journeys than the server unrolls ([`LEVELS`]): its
//!   array, which aisle decodes and scans with the engine itself;
//! - a garment with an event stored twice, or one whose instant the packing
//!   cannot hold (before 1970): its key, and aisle reads it again with its
//!   full ids after the stream (`scan_garments`), where repeats are told
//!   apart exactly.
//!
//! An event is one number: `(ts_ms * 4 + step) * 4096 + h`, where step is
//! 0 to 2 for a pickup, try-on or purchase (3 for anything else, which no
//! rule reads) and `h` is 12 bits of the id's hash. Sorted, the numbers are
//! in (instant, step) order; a repeat is the same number twice, so a garment
//! whose numbers are all different has no repeat and its count of numbers
//! is its count of events. Two different events share a number only if
//! they share the instant, the step and 12 hash bits, and then they are
//! read again by id like a repeat: the short hash costs speed, never
//! exactness.
//!
//! In the server, with `W` the window and only steps before `--to` counted
//! (pickups open journeys only then): journey 1 opens at the garment's first
//! counted pickup `p1`; its try-on is the first try-on in `(p1, p1 + W]`,
//! its purchase the first purchase after that try-on up to `p1 + W`; journey
//! k + 1 opens at the first counted pickup after `pk + W`. A garment is
//! folded when no counted pickup comes after the last unrolled journey's
//! window. That is the engine's scan, unrolled: a journey closes at the
//! first step past its window, and only a pickup can open the next.

use super::{scan_garments, utf8, Keys, STEPS};
use crate::event_store::clickhouse::row_binary::RowReader;
use crate::event_store::clickhouse::{filter_sql, quote};
use crate::event_store::{ClickHouseError, ClickHouseStore, EventFilter};
use crate::funnel::engine::{FoldedJourneys, FunnelBuilder, FunnelOptions, GarmentEvent};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use std::io;
use std::time::Duration;

/// Journeys per garment the server works out; a garment with more is
/// scanned by aisle. Each level adds a few array passes per garment.
const LEVELS: usize = 2;

/// Bits of the id's hash in an event's number.
const HASH_BITS: u32 = 12;

/// An event's number per millisecond of its instant: room for the step and
/// the hash bits.
const PER_MS: i64 = STEPS << HASH_BITS;

/// Instants the packing holds: 0 to 2^48 ms (past the year 9999, the
/// latest the collector accepts), so that `(ts + W + 1) * PER_MS` stays
/// inside an Int64 for any window up to [`MAX_WINDOW_MS`].
const MAX_TS_MS: i64 = 1 << 48;
const MAX_WINDOW_MS: i64 = 1 << 47;

/// Garments by the way they reached the report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Paths {
    /// Folded in the server.
    pub(super) folded: u64,
    /// Sent as an array and scanned by aisle.
    pub(super) scanned: u64,
    /// Read again with their ids (a repeat, or an instant before 1970).
    pub(super) read_again: u64,
}

/// A folding plan for one report.
pub(super) struct Fold {
    window_ms: i64,
    /// `--to`: only steps before it count.
    to_ms: Option<i64>,
    store: bool,
    gtin: bool,
}

impl Fold {
    /// The plan, when the report can be folded in the server: one row per
    /// garment, and a window the packing holds.
    pub(super) fn of(
        keys: &Keys,
        opts: &FunnelOptions,
        builder: &FunnelBuilder<'_>,
    ) -> Option<Fold> {
        let window_ms = i64::try_from(opts.window.as_millis()).ok()?;
        if !builder.folds_in_one_row() || window_ms > MAX_WINDOW_MS {
            return None;
        }
        Some(Fold {
            window_ms,
            to_ms: builder.report_to().map(|t| t.0),
            store: keys.store,
            gtin: keys.gtin,
        })
    }

    /// The query: one row per report row of folded garments (`unit` 0),
    /// and one per garment it did not fold (`unit` a hash of the garment;
    /// a row lists every garment of that hash, normally one).
    fn sql(&self, database: &str, journeys: &EventFilter) -> String {
        let cond = filter_sql(journeys);
        let step = "multiIf(event = 'item_pickup', 0, event = 'item_try_on', 1, \
                    event = 'item_purchase', 2, 3)";
        let hash_mask = (1 << HASH_BITS) - 1;
        // The step's two bits, and each step's value of them.
        let step_bits = (STEPS - 1) << HASH_BITS;
        let (try_on, purchase) = (1 << HASH_BITS, 2 << HASH_BITS);
        let first_after = |lo: &str| format!("x >= ({lo} + 1) * {PER_MS}");
        let counted = match self.to_ms {
            Some(to) => format!("arrayFilter(x -> x < {}, P)", to.saturating_mul(PER_MS)),
            None => "P".to_string(),
        };
        let mut levels = Vec::new();
        for k in 1..=LEVELS {
            let (opens, at) = if k == 1 {
                ("notEmpty(PK)".to_string(), "PK".to_string())
            } else {
                let before = k - 1;
                levels.push(format!(
                    "arrayFilter(x -> x >= e{before}, PK) AS rest{before}"
                ));
                (
                    format!("j{before} AND notEmpty(rest{before})"),
                    format!("rest{before}"),
                )
            };
            levels.push(format!(
                "{opens} AS j{k},
                 intDiv(arrayReduce('min', {at}), {PER_MS}) AS p{k},
                 (p{k} + {w1}) * {PER_MS} AS e{k},
                 arrayFilter(x -> bitAnd(x, {step_bits}) = {try_on} AND {after_p} AND x < e{k}, P)
                     AS tw{k},
                 j{k} AND notEmpty(tw{k}) AS h{k},
                 intDiv(arrayReduce('min', tw{k}), {PER_MS}) AS t{k},
                 arrayFilter(x -> bitAnd(x, {step_bits}) = {purchase} AND {after_t} AND x < e{k}, P)
                     AS bw{k},
                 h{k} AND notEmpty(bw{k}) AS b{k},
                 intDiv(arrayReduce('min', bw{k}), {PER_MS}) AS u{k}",
                w1 = self.window_ms + 1,
                after_p = first_after(&format!("p{k}")),
                after_t = first_after(&format!("t{k}")),
            ));
        }
        let last = LEVELS;
        let garment = format!(
            "SELECT store, gtin, serial, P,
                {counted} AS C,
                arrayFilter(x -> bitAnd(x, {step_bits}) = 0, C) AS PK,
                length(PK) AS n_pick,
                arrayCount(x -> bitAnd(x, {step_bits}) = {try_on}, C) AS n_try,
                arrayCount(x -> bitAnd(x, {step_bits}) = {purchase}, C) AS n_buy,
                length(arrayDistinct(P)) != length(P) OR arrayExists(x -> x < 0, P) AS again,
                {levels},
                NOT again AND NOT (j{last} AND arrayExists(x -> x >= e{last}, PK)) AS folded,
                if(folded, toUInt64(0), cityHash64(store, gtin, serial)) AS unit,
                {x_store} AS x_store, {x_gtin} AS x_gtin
             FROM (SELECT store, gtin, serial,
                       groupArray(if(ts_ms >= 0 AND ts_ms < {MAX_TS_MS},
                           (ts_ms * {STEPS} + {step}) * {per_step}
                               + toInt64(bitAnd(cityHash64(id), {hash_mask})),
                           toInt64(-1))) AS P
                   FROM {database}.events
                   WHERE event NOT IN ('fixture_dwell', 'store_visits'){cond}
                   GROUP BY store, gtin, serial)",
            levels = levels.join(",\n"),
            per_step = 1 << HASH_BITS,
            x_store = if self.store { "store" } else { "''" },
            x_gtin = if self.gtin { "gtin" } else { "''" },
        );
        let sum = |name: &str| {
            (1..=LEVELS)
                .map(|k| format!("{name}{k}"))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        let lists = |between: &str, from: &str, reached: &str| {
            (1..=LEVELS)
                .map(|k| format!("groupArrayIf({between}{k} - {from}{k}, {reached}{k})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "SELECT x_store, x_gtin, unit, count(),
                sum(n_pick), sum(n_try), sum(n_buy), sum({j}), sum({h}), sum({b}),
                {view_to_try_on}, {try_on_to_purchase},
                groupArrayIf(store, unit != 0), groupArrayIf(gtin, unit != 0),
                groupArrayIf(serial, unit != 0), groupArrayIf(again, unit != 0),
                groupArrayIf(P, unit != 0 AND NOT again)
             FROM ({garment})
             GROUP BY x_store, x_gtin, unit FORMAT RowBinary",
            j = sum("j"),
            h = sum("h"),
            b = sum("b"),
            view_to_try_on = lists("t", "p", "h"),
            try_on_to_purchase = lists("u", "t", "b"),
        )
    }

    /// Feeds the report's garments to `builder`: the folded ones summed
    /// per row, the rest scanned here.
    pub(super) fn scan(
        &self,
        store: &ClickHouseStore,
        journeys: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<Paths, ClickHouseError> {
        let mut paths = Paths::default();
        let mut again: Vec<(String, String, String)> = Vec::new();
        let (mut shop, mut gtin) = (Vec::new(), Vec::new());
        let mut numbers: Vec<i64> = Vec::new();
        let mut events: Vec<GarmentEvent> = Vec::new();
        let sql = self.sql(store.database(), journeys);
        store.read_each(&sql, |rows| {
            rows.bytes_into(&mut shop)?;
            rows.bytes_into(&mut gtin)?;
            let unit = rows.u64()?;
            let garments = rows.u64()?;
            let mut folded = FoldedJourneys {
                pickups: rows.u64()?,
                try_ons: rows.u64()?,
                purchases: rows.u64()?,
                journeys: rows.u64()?,
                journeys_try_on: rows.u64()?,
                journeys_purchase: rows.u64()?,
                ..FoldedJourneys::default()
            };
            for list in [&mut folded.view_to_try_on, &mut folded.try_on_to_purchase] {
                for _ in 0..LEVELS {
                    for _ in 0..rows.leb128()? {
                        let ms = rows.i64()?;
                        list.push(Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
                    }
                }
            }
            let stores = strings(rows)?;
            let gtins = strings(rows)?;
            let serials = strings(rows)?;
            let read_again: Vec<bool> = (0..rows.leb128()?)
                .map(|_| rows.u8().map(|b| b == 1))
                .collect::<io::Result<_>>()?;
            let arrays = rows.leb128()?;
            if unit == 0 {
                paths.folded += garments;
                builder.add_folded(utf8(&shop)?, utf8(&gtin)?, folded);
                return Ok(());
            }
            let sent = read_again.iter().filter(|again| !**again).count();
            let listed = usize::try_from(garments).unwrap_or(usize::MAX);
            if [stores.len(), gtins.len(), serials.len(), read_again.len()] != [listed; 4]
                || arrays != sent as u64
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "garment lists of unequal length",
                ));
            }
            for (i, again_by_id) in read_again.into_iter().enumerate() {
                if again_by_id {
                    again.push((stores[i].clone(), gtins[i].clone(), serials[i].clone()));
                    continue;
                }
                numbers.clear();
                for _ in 0..rows.leb128()? {
                    numbers.push(rows.i64()?);
                }
                numbers.sort_unstable();
                events.clear();
                events.extend(numbers.iter().filter_map(|&n| event_of(n)));
                paths.scanned += 1;
                builder.add_garment(utf8(&shop)?, Some(utf8(&gtin)?), &events);
            }
            Ok(())
        })?;
        paths.read_again = again.len() as u64;
        // Few garments (a redelivered batch's), read by key in chunks that
        // keep each query well under ClickHouse's query size limit.
        for chunk in again.chunks(500) {
            let keys: Vec<String> = chunk
                .iter()
                .map(|(s, g, n)| format!("({}, {}, {})", quote(s), quote(g), quote(n)))
                .collect();
            let only = format!(" AND (store, gtin, serial) IN ({})", keys.join(", "));
            scan_garments(store, journeys, &only, opts, builder)?;
        }
        Ok(paths)
    }
}

/// An `Array(String)` column.
fn strings<R: io::BufRead>(rows: &mut RowReader<R>) -> io::Result<Vec<String>> {
    (0..rows.leb128()?).map(|_| rows.string()).collect()
}

/// The step an event's number holds, at its instant; `None` for an event
/// that is no step.
fn event_of(number: i64) -> Option<GarmentEvent> {
    let kind = match (number >> HASH_BITS).rem_euclid(STEPS) {
        0 => StoreEventKind::ItemPickup,
        1 => StoreEventKind::ItemTryOn,
        2 => StoreEventKind::ItemPurchase,
        _ => return None,
    };
    Some(GarmentEvent {
        ts: UnixMillis(number.div_euclid(PER_MS)),
        kind,
        fixture: None,
        zone: None,
    })
}

#[cfg(test)]
mod tests;
