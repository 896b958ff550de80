//! Garments read as one array of numbers each and folded per report row
//! here, for a report that gives every step of a garment at its store one
//! row (keyed by no fixture, zone or time: `--by sku`, `--by store`,
//! `--by sku,store`, styles, regions, brands, channels).
//!
//! Such a report needs of each garment only its steps' kinds and instants.
//! So ClickHouse groups each garment's events into one array of numbers,
//! keyed by one string, `store NUL gtin NUL serial` (a single string key
//! groups faster than three; see `split` for why it stays exact),
//! and the reader runs the engine's journey rules over each garment
//! ([`FunnelBuilder::fold_garment`]) and sums the garments per report row in
//! a map of its own, keyed by the raw store and GTIN, before handing the
//! sums to the builder once per row. ClickHouse answers in no particular
//! order, and a row looked up per garment would cost more than the rules.
//!
//! An event is one number: `(ts_ms * 4 + step) * 4096 + h`, where step is
//! 0 to 2 for a pickup, try-on or purchase (3 for anything else, which no
//! rule reads) and `h` is 12 bits of the id's hash. Sorted, the numbers are
//! in (instant, step) order, which is all the rules need when fixtures and
//! zones do not matter. A repeat (an event stored twice) is the same number
//! twice, so a garment whose numbers all differ has none; one whose numbers
//! do not, or whose instant the packing cannot hold (before 1970; -1 then),
//! is read again after the stream with its full ids (`scan_garments`),
//! where repeats are told apart exactly. Two different events share a
//! number only if they share the instant, the step and 12 hash bits: the
//! short hash costs a second read, never exactness.

use super::{scan_garments, utf8, Keys, KEYS_PER_QUERY, STEPS};
use crate::event_store::clickhouse::{filter_sql, quote};
use crate::event_store::{ClickHouseError, ClickHouseStore, EventFilter};
use crate::funnel::engine::{FoldedJourneys, FunnelBuilder, FunnelOptions, GarmentEvent};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use std::collections::HashMap;

/// Bits of the id's hash in an event's number.
const HASH_BITS: u32 = 12;

/// An event's number per millisecond of its instant: room for the step and
/// the hash bits.
const PER_MS: i64 = STEPS << HASH_BITS;

/// Instants the packing holds: 0 to 2^48 ms, past the year 9999 (the
/// latest the collector accepts), inside an Int64 once multiplied.
const MAX_TS_MS: i64 = 1 << 48;

/// Garments by the way they reached the report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Paths {
    /// Read as numbers and folded here.
    pub(super) folded: u64,
    /// Read again with their ids (a repeat, or an instant before 1970).
    pub(super) read_again: u64,
    /// Keys with a NUL of their own, whose garments were all read again.
    pub(super) nul_keys: u64,
}

/// Reading one report's garments as numbers.
pub(super) struct Fold {
    store: bool,
    gtin: bool,
}

impl Fold {
    /// The plan, when the report gives a garment one row.
    pub(super) fn of(keys: &Keys, builder: &FunnelBuilder<'_>) -> Option<Fold> {
        builder.folds_in_one_row().then_some(Fold {
            store: keys.store,
            gtin: keys.gtin,
        })
    }

    fn sql(database: &str, journeys: &EventFilter) -> String {
        let cond = filter_sql(journeys);
        let step = "multiIf(event = 'item_pickup', 0, event = 'item_try_on', 1, \
                    event = 'item_purchase', 2, 3)";
        format!(
            "SELECT concat(store, '\\0', gtin, '\\0', serial) AS garment,
                groupArray(if(ts_ms >= 0 AND ts_ms < {MAX_TS_MS},
                    (ts_ms * {STEPS} + {step}) * {per_step}
                        + toInt64(bitAnd(cityHash64(id), {mask})),
                    toInt64(-1)))
             FROM {database}.events
             WHERE event NOT IN ('fixture_dwell', 'store_visits'){cond}
             GROUP BY garment FORMAT RowBinary",
            per_step = 1 << HASH_BITS,
            mask = (1 << HASH_BITS) - 1,
        )
    }

    /// Feeds the report's garments to `builder`.
    pub(super) fn scan(
        &self,
        store: &ClickHouseStore,
        journeys: &EventFilter,
        opts: &FunnelOptions,
        builder: &mut FunnelBuilder<'_>,
    ) -> Result<Paths, ClickHouseError> {
        let mut paths = Paths::default();
        let mut again: Vec<[String; 3]> = Vec::new();
        // The sums per report row: the keyed store and GTIN, as read, then
        // what their garments counted.
        let mut rows = RowKeys::default();
        let mut sums: Vec<(String, String, FoldedJourneys)> = Vec::new();
        let mut garment = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        let mut events: Vec<GarmentEvent> = Vec::new();
        store.read_each(&Fold::sql(store.database(), journeys), |rows_in| {
            rows_in.bytes_into(&mut garment)?;
            numbers.clear();
            rows_in.i64_array_into(&mut numbers)?;
            let Some([shop, gtin, serial]) = split(&garment) else {
                paths.nul_keys += 1;
                return Ok(());
            };
            numbers.sort_unstable();
            if numbers.first().is_some_and(|n| *n < 0) || numbers.windows(2).any(|w| w[0] == w[1]) {
                again.push([utf8(shop)?, utf8(gtin)?, utf8(serial)?].map(str::to_string));
                return Ok(());
            }
            events.clear();
            events.extend(numbers.iter().filter_map(|&n| event_of(n)));
            // The row's key: the keyed store, a NUL, the keyed GTIN; a
            // part of the garment's key, so nothing is copied.
            let start = if self.store { 0 } else { shop.len() };
            let end = shop.len() + 1 + if self.gtin { gtin.len() } else { 0 };
            let key = &garment[start..end];
            let row = match rows.get(key) {
                Some(row) => row,
                None => {
                    let keyed = |on: bool, text: &[u8]| -> std::io::Result<String> {
                        Ok(if on {
                            utf8(text)?.to_string()
                        } else {
                            String::new()
                        })
                    };
                    rows.insert(key, sums.len());
                    sums.push((
                        keyed(self.store, shop)?,
                        keyed(self.gtin, gtin)?,
                        FoldedJourneys::default(),
                    ));
                    sums.len() - 1
                }
            };
            builder.fold_garment(&events, &mut sums[row].2);
            paths.folded += 1;
            Ok(())
        })?;
        for (shop, gtin, folded) in sums {
            builder.add_folded(&shop, &gtin, folded);
        }
        paths.read_again = again.len() as u64;
        // Few garments (a redelivered batch's), read by key.
        for chunk in again.chunks(KEYS_PER_QUERY) {
            let keys: Vec<String> = chunk
                .iter()
                .map(|[s, g, n]| format!("({}, {}, {})", quote(s), quote(g), quote(n)))
                .collect();
            let only = format!(" AND (store, gtin, serial) IN ({})", keys.join(", "));
            scan_garments(store, journeys, &only, opts, builder)?;
        }
        if paths.nul_keys > 0 {
            // Not written by the collector (MQTT topics, hence store ids,
            // hold no NUL, but a GTIN or serial sent may): every garment
            // with a NUL in a key is read by the exact path.
            let only = " AND (position(store, '\\0') > 0 OR position(gtin, '\\0') > 0 \
                        OR position(serial, '\\0') > 0)";
            scan_garments(store, journeys, only, opts, builder)?;
        }
        Ok(paths)
    }
}

/// A garment's key, `store NUL gtin NUL serial`, split. Two garments share
/// a key only if a NUL of their own moves the cut, so a key with exactly
/// two NULs is one garment's, and a key with more is `None`: its garments
/// are read again by the exact path.
fn split(key: &[u8]) -> Option<[&[u8]; 3]> {
    let mut parts = key.split(|b| *b == 0);
    let split = [parts.next()?, parts.next()?, parts.next()?];
    parts.next().is_none().then_some(split)
}

/// Report rows by their key bytes. A key short enough (a store id and a
/// GTIN are) lives in the map's own slots, so a look-up, which garments in
/// no order make all over the map, reads one place in memory, not two.
#[derive(Default)]
struct RowKeys {
    short: HashMap<ShortKey, usize>,
    long: HashMap<Vec<u8>, usize>,
}

#[derive(Hash, PartialEq, Eq)]
struct ShortKey {
    len: u8,
    bytes: [u8; SHORT],
}

const SHORT: usize = 39;

impl ShortKey {
    fn of(key: &[u8]) -> Option<ShortKey> {
        let mut bytes = [0; SHORT];
        bytes.get_mut(..key.len())?.copy_from_slice(key);
        Some(ShortKey {
            len: key.len() as u8,
            bytes,
        })
    }
}

impl RowKeys {
    fn get(&self, key: &[u8]) -> Option<usize> {
        match ShortKey::of(key) {
            Some(short) => self.short.get(&short).copied(),
            None => self.long.get(key).copied(),
        }
    }

    fn insert(&mut self, key: &[u8], row: usize) {
        match ShortKey::of(key) {
            Some(short) => self.short.insert(short, row),
            None => self.long.insert(key.to_vec(), row),
        };
    }
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
