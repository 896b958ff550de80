//! Which report row an event counts in: its key under `--by`, looked up in
//! the rows built so far.
//!
//! The readers stream events sorted by store and garment, so most look-ups
//! ask for the row of the event before; that one is compared field by field
//! without building a key. Time dimensions compare the event's local hour
//! or day slot ([`calendar::slot`]), so an hour's events share one look-up.
//! Any other look-up goes first to a map keyed by the event's own fields
//! (only those the report's key depends on), encoded into one reused
//! buffer: a report keyed by SKU meets each SKU again in every store, and
//! building its key (strings, catalog look-ups) for each would cost more
//! than the journey rules.

use super::calendar::{self, Grain};
use super::dimension::Dimension;
use super::engine::FunnelOptions;
use jiff::tz::TimeZone;
use protocol::time::UnixMillis;
use std::collections::HashMap;

/// Everything a row key can be made of, for one event.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place<'e> {
    pub(super) channel: &'e str,
    pub(super) store: Option<&'e str>,
    pub(super) gtin: Option<&'e str>,
    pub(super) fixture: Option<&'e str>,
    pub(super) zone: Option<&'e str>,
    /// The instant that places it in time: the event's own, or for a
    /// journey its opening pickup's.
    pub(super) ts: UnixMillis,
}

/// The fields the last look-up compared, and its row.
#[derive(Debug, Default)]
struct Last {
    channel: String,
    store: Option<String>,
    gtin: Option<String>,
    fixture: Option<String>,
    zone: Option<String>,
    slot: Option<i64>,
    row: usize,
}

/// Row keys → row indexes, for one report.
pub(super) struct RowIndex<'o> {
    opts: &'o FunnelOptions,
    by_fixture: bool,
    by_zone: bool,
    /// The finest time dimension of the report, if it has one.
    grain: Option<Grain>,
    index: HashMap<Vec<Option<String>>, usize>,
    /// Rows by the encoded fields of an event that the key depends on
    /// ([`RowIndex::encode`]), and the buffer the encoding is made in.
    by_place: HashMap<String, usize>,
    scratch: String,
    /// Whether the key depends on the store (its id or its directory
    /// entry) and on the GTIN (its SKU or style).
    keyed_by_store: bool,
    keyed_by_gtin: bool,
    last: Option<Last>,
    /// The time zone of the last store placed in time.
    zone_of: Option<(Option<String>, &'o TimeZone)>,
}

impl<'o> RowIndex<'o> {
    pub(super) fn new(opts: &'o FunnelOptions) -> Self {
        let has = |d| opts.by.contains(&d);
        let grain = if has(Dimension::Hour) {
            Some(Grain::Hour)
        } else if has(Dimension::Day) || has(Dimension::Week) {
            Some(Grain::Day)
        } else {
            None
        };
        RowIndex {
            opts,
            by_fixture: has(Dimension::Fixture),
            by_zone: has(Dimension::Zone),
            grain,
            index: HashMap::new(),
            by_place: HashMap::new(),
            scratch: String::new(),
            keyed_by_store: opts.by.iter().any(|d| {
                matches!(
                    d,
                    Dimension::Store | Dimension::Region | Dimension::City | Dimension::Brand
                )
            }),
            keyed_by_gtin: has(Dimension::Sku) || has(Dimension::Style),
            last: None,
            zone_of: None,
        }
    }

    /// The local time slot of `place`, when the report is keyed by time.
    fn slot(&mut self, place: &Place<'_>) -> Option<i64> {
        let grain = self.grain?;
        let zone = match &self.zone_of {
            Some((store, zone)) if store.as_deref() == place.store => *zone,
            _ => {
                let zone = self.opts.stores.time_zone(place.store);
                self.zone_of = Some((place.store.map(str::to_string), zone));
                zone
            }
        };
        Some(calendar::slot(zone, place.ts, grain))
    }

    /// The row of `place`: `Ok(index)` of an existing row, or `Err(key)`
    /// for a new one, which the caller pushes and then [`Self::insert`]s.
    pub(super) fn find(&mut self, place: &Place<'_>) -> Result<usize, Vec<Option<String>>> {
        let fixture = place.fixture.filter(|_| self.by_fixture);
        let zone = place.zone.filter(|_| self.by_zone);
        let slot = self.slot(place);
        if let Some(last) = &self.last {
            if last.channel == place.channel
                && last.store.as_deref() == self.keyed_store(place)
                && last.gtin.as_deref() == self.keyed_gtin(place)
                && last.fixture.as_deref() == fixture
                && last.zone.as_deref() == zone
                && last.slot == slot
            {
                return Ok(last.row);
            }
        }
        let encoded = self.encode(place, fixture, zone, slot);
        if let Some(&row) = encoded.then(|| self.by_place.get(&self.scratch)).flatten() {
            self.remember(place, fixture, zone, slot, row);
            return Ok(row);
        }
        let key = self.key(place, fixture, zone, slot);
        match self.index.get(&key) {
            Some(&row) => {
                if encoded {
                    self.by_place.insert(self.scratch.clone(), row);
                }
                self.remember(place, fixture, zone, slot, row);
                Ok(row)
            }
            None => Err(key),
        }
    }

    /// Whether two places that differ only in fixture, zone and instant
    /// share a row: a report keyed by none of them. Then one look-up serves
    /// every step of a garment.
    pub(super) fn same_row_at_any_fixture_zone_or_time(&self) -> bool {
        !self.by_fixture && !self.by_zone && self.grain.is_none()
    }

    /// The store of `place` when the key depends on it (its time zone is
    /// in the slot already).
    fn keyed_store<'p>(&self, place: &Place<'p>) -> Option<&'p str> {
        place.store.filter(|_| self.keyed_by_store)
    }

    /// The GTIN of `place` when the key depends on it.
    fn keyed_gtin<'p>(&self, place: &Place<'p>) -> Option<&'p str> {
        place.gtin.filter(|_| self.keyed_by_gtin)
    }

    /// Encodes into `scratch` the fields of `place` that the report's key
    /// depends on, each as a marker for none or a length and its text, so
    /// that two encodings are equal only when the fields are. `false` for
    /// a field too long to encode (such a place is looked up by its key).
    fn encode(
        &mut self,
        place: &Place<'_>,
        fixture: Option<&str>,
        zone: Option<&str>,
        slot: Option<i64>,
    ) -> bool {
        fn field(out: &mut String, value: Option<&str>) -> bool {
            match value {
                None => out.push('\u{0}'),
                Some(text) => {
                    // Lengths up to 0xD7FF are one char each.
                    let Some(len) = u32::try_from(text.len() + 1)
                        .ok()
                        .filter(|n| *n < 0xD800)
                        .and_then(char::from_u32)
                    else {
                        return false;
                    };
                    out.push(len);
                    out.push_str(text);
                }
            }
            true
        }
        let fields = [
            Some(place.channel),
            self.keyed_store(place),
            self.keyed_gtin(place),
            fixture,
            zone,
        ];
        let out = &mut self.scratch;
        out.clear();
        if !fields.into_iter().all(|f| field(out, f)) {
            return false;
        }
        if let Some(slot) = slot {
            out.extend(slot.to_le_bytes().map(char::from));
        }
        true
    }

    /// Records that `place`'s new row, keyed `key`, is at `row`.
    pub(super) fn insert(&mut self, place: &Place<'_>, key: Vec<Option<String>>, row: usize) {
        self.index.insert(key, row);
        let fixture = place.fixture.filter(|_| self.by_fixture);
        let zone = place.zone.filter(|_| self.by_zone);
        let slot = self.slot(place);
        if self.encode(place, fixture, zone, slot) {
            self.by_place.insert(self.scratch.clone(), row);
        }
        self.remember(place, fixture, zone, slot, row);
    }

    /// The row of an already-built key (when merging builders).
    pub(super) fn get_or_insert(&mut self, key: &[Option<String>], next: usize) -> usize {
        self.last = None;
        // Rows absorbed from another builder are found by key until met.
        *self.index.entry(key.to_vec()).or_insert(next)
    }

    /// Keeps `place` as the last look-up, in the last one's strings: a
    /// report over millions of garments changes rows about once a garment.
    fn remember(
        &mut self,
        place: &Place<'_>,
        fixture: Option<&str>,
        zone: Option<&str>,
        slot: Option<i64>,
        row: usize,
    ) {
        fn keep(kept: &mut Option<String>, value: Option<&str>) {
            match (kept.as_mut(), value) {
                (Some(kept), Some(value)) => {
                    kept.clear();
                    kept.push_str(value);
                }
                (_, value) => *kept = value.map(str::to_string),
            }
        }
        let (store, gtin) = (self.keyed_store(place), self.keyed_gtin(place));
        let last = self.last.get_or_insert_with(Last::default);
        last.channel.clear();
        last.channel.push_str(place.channel);
        keep(&mut last.store, store);
        keep(&mut last.gtin, gtin);
        keep(&mut last.fixture, fixture);
        keep(&mut last.zone, zone);
        last.slot = slot;
        last.row = row;
    }

    fn key(
        &self,
        place: &Place<'_>,
        fixture: Option<&str>,
        zone: Option<&str>,
        slot: Option<i64>,
    ) -> Vec<Option<String>> {
        let opts = self.opts;
        let listed = place.store.and_then(|s| opts.stores.get(s));
        let grain = self.grain.unwrap_or(Grain::Day);
        opts.by
            .iter()
            .map(|dim| match dim {
                Dimension::Sku => place.gtin.map(|g| opts.catalog.sku(g).to_string()),
                Dimension::Store => place.store.map(str::to_string),
                Dimension::Style => place
                    .gtin
                    .and_then(|g| opts.catalog.style(g))
                    .map(str::to_string),
                Dimension::Fixture => fixture.map(str::to_string),
                Dimension::Channel => Some(place.channel.to_string()),
                Dimension::Zone => zone.map(str::to_string),
                Dimension::Region => listed.and_then(|s| s.region.clone()),
                Dimension::City => listed.and_then(|s| s.city.clone()),
                Dimension::Brand => listed.and_then(|s| s.brand.clone()),
                Dimension::Day => slot.map(|s| calendar::day_label(s, grain)),
                Dimension::Week => slot.map(|s| calendar::week_label(s, grain)),
                Dimension::Hour => slot.map(calendar::hour_label),
            })
            .collect()
    }
}
