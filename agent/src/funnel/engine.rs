//! The funnel engine: garment journeys with ordered, windowed steps
//! (docs/design.md, "The funnel"), counted per report row.
//!
//! Pure logic: it is fed events and never reads a clock, a file or a
//! database. `compute` (the in-memory reference the tests use) takes events
//! in any order; [`FunnelBuilder`] is the streaming form the database
//! reader drives one garment at a time; it counts rows here, and scans
//! journeys under the rules below in `journey`.
//!
//! Rules, as implemented:
//! - A journey belongs to one garment: `(store, gtin, serial)`; online, to
//!   one `(channel, user, SKU)`, whose views, add-to-carts and paid orders
//!   play a garment's pickups, try-ons and purchases under the same rules.
//! - A garment's events are scanned in timestamp order. Equal timestamps are
//!   taken pickup, then try-on, then purchase; because every step must be
//!   *strictly* after the one before, two events with the same timestamp can
//!   never be consecutive steps of one journey, whatever the tie order.
//! - A pickup at `t` opens a journey if none is open; the journey stays open
//!   for events with `ts <= t + W`. Pickups while it is open count as
//!   pickups and open nothing.
//! - An open journey reaches `try_on` at the first try-on strictly after `t`,
//!   and `purchase` at the first purchase strictly after that try-on.
//! - Raw counts count every event, in or out of a journey.
//! - Exposures: each `fixture_dwell` counts one exposure for every GTIN in its
//!   `gtins` list. A row that groups several SKUs (e.g. `--by store`) sums
//!   the SKUs' exposures.
//! - Time (`--by day|week|hour`, `--to`): a journey is in the period of the
//!   pickup that opened it, whenever its later steps happen; raw counts,
//!   exposures, dwells and visits are in their own.
//! - Dwells are counted on rows keyed by zone or fixture (not by a garment
//!   dimension), visits on rows keyed only by store-level dimensions
//!   ([`Dimension::is_store_level`]).

use super::catalog::Catalog;
use super::dimension::Dimension;
use super::directory::StoreDirectory;
use super::report::{FunnelReport, FunnelRow};
use super::rows::{Place, RowIndex};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use std::time::Duration;

use super::dimension::{shows_dwells, shows_visits};
pub use super::seconds::{median_duration_s, median_s, total_s};

mod journey;

#[cfg(test)]
pub use super::reference::{compute, garment_order, FunnelEvent};

/// What the report is keyed by, and the journey window.
#[derive(Debug, Clone)]
pub struct FunnelOptions {
    /// W: a journey opened at t is open for events with ts <= t + W.
    pub window: Duration,
    pub by: Vec<Dimension>,
    pub catalog: Catalog,
    /// Regions, cities, brands and time zones of the stores (`--stores`).
    pub stores: StoreDirectory,
}

impl Default for FunnelOptions {
    fn default() -> Self {
        FunnelOptions {
            window: Duration::from_secs(3600),
            by: vec![Dimension::Sku],
            catalog: Catalog::default(),
            stores: StoreDirectory::default(),
        }
    }
}

impl FunnelOptions {
    /// Whether rows carry dwell figures: keyed by zone or fixture, and not
    /// by a garment (a dwell is at a fixture, not of one SKU).
    pub fn shows_dwells(&self) -> bool {
        shows_dwells(&self.by)
    }

    /// Whether rows carry visit figures: keyed only by store-level
    /// dimensions (a door count is of a store at a time, not of a SKU, a
    /// fixture or a zone).
    pub fn shows_visits(&self) -> bool {
        shows_visits(&self.by)
    }
}

/// An item event of one garment, as [`FunnelBuilder::add_garment`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarmentEvent {
    pub ts: UnixMillis,
    /// `ItemPickup`, `ItemTryOn` or `ItemPurchase`; a dwell here is ignored.
    pub kind: StoreEventKind,
    pub fixture: Option<String>,
    pub zone: Option<String>,
}

/// The running totals of one report row.
#[derive(Debug, Default)]
struct Cell {
    /// The row's key and exposures; its step and journey counts are in
    /// `journeys` until the report is finished.
    row: FunnelRow,
    journeys: FoldedJourneys,
    dwells: u64,
    dwell: Vec<Duration>,
    visits: u64,
}

/// The channel of everything the stores' tags saw (`--by channel`).
pub const STORE_CHANNEL: &str = "store";

/// One step of an online journey, as [`FunnelBuilder::add_online_journey`]
/// takes it: a product view (`ItemPickup`), an add-to-cart (`ItemTryOn`) or
/// a paid order line (`ItemPurchase`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineStep {
    pub ts: UnixMillis,
    pub kind: StoreEventKind,
    /// The store the behaviour is attributed to, if any.
    pub store: Option<String>,
}

/// Steps and journeys under the rules above, summed: a report row's, or a
/// reader's sums of garments ([`FunnelBuilder::fold_garment`]) for a
/// report that gives every step of a garment at its store one row
/// ([`FunnelBuilder::folds_in_one_row`]). With the raw counts, the time
/// from the opening pickup to the try-on and from the try-on to the
/// purchase of each journey that reached them.
#[derive(Debug, Default)]
pub struct FoldedJourneys {
    pub pickups: u64,
    pub try_ons: u64,
    pub purchases: u64,
    pub journeys: u64,
    pub journeys_try_on: u64,
    pub journeys_purchase: u64,
    pub view_to_try_on: Vec<Duration>,
    pub try_on_to_purchase: Vec<Duration>,
}

/// Accumulates report rows from exposures, dwells, visits and garments fed
/// in any order.
pub struct FunnelBuilder<'o> {
    opts: &'o FunnelOptions,
    /// `--to`: steps at or after it count nowhere and open nothing; they
    /// are read only to finish the journeys opened before it.
    until: Option<UnixMillis>,
    cells: Vec<Cell>,
    rows: RowIndex<'o>,
}

impl<'o> FunnelBuilder<'o> {
    pub fn new(opts: &'o FunnelOptions) -> Self {
        FunnelBuilder {
            opts,
            until: None,
            cells: Vec::new(),
            rows: RowIndex::new(opts),
        }
    }

    /// A builder for a report up to `to` (exclusive): the readers feed it
    /// item events up to `to` + W, and it counts only what is before `to`,
    /// so a journey opened just before `to` keeps its later steps.
    pub fn until(opts: &'o FunnelOptions, to: Option<UnixMillis>) -> Self {
        FunnelBuilder {
            until: to,
            ..FunnelBuilder::new(opts)
        }
    }

    /// An empty builder with this one's options and `--to`, for a reader
    /// thread to fill and [`absorb`](Self::absorb) back.
    pub fn part(&self) -> FunnelBuilder<'o> {
        FunnelBuilder::until(self.opts, self.until)
    }

    /// Whether every step of a garment at its store counts in one row,
    /// whatever its fixture, zone and instant: a report keyed by none of
    /// them. Then a garment's journeys need only its steps' kinds and
    /// instants, and an event store may fold them itself
    /// ([`add_folded`](Self::add_folded)).
    pub fn folds_in_one_row(&self) -> bool {
        self.rows.same_row_at_any_fixture_zone_or_time()
    }

    /// Counts garments of `gtin` at `store` whose journeys the event store
    /// folded, under the rules above, for a report that
    /// [`folds_in_one_row`](Self::folds_in_one_row).
    pub fn add_folded(&mut self, store: &str, gtin: &str, folded: FoldedJourneys) {
        debug_assert!(self.folds_in_one_row());
        // Garments read only to finish journeys opened before `--to` counted
        // no step; as in `add_garment`, they make no row. (A journey is
        // opened only by a counted pickup.)
        if folded.pickups + folded.try_ons + folded.purchases == 0 {
            return;
        }
        let cell = self.cell(&Place {
            channel: STORE_CHANNEL,
            store: Some(store),
            gtin: Some(gtin),
            fixture: None,
            zone: None,
            ts: UnixMillis(0),
        });
        self.cells[cell].journeys.add(folded);
    }

    /// Counts `count` exposures of `gtin` shown at `fixture` (in `zone`)
    /// of `store` by dwells at `ts` (any instant when the report is not
    /// keyed by time).
    pub fn add_exposures(
        &mut self,
        store: &str,
        gtin: &str,
        fixture: Option<&str>,
        zone: Option<&str>,
        ts: UnixMillis,
        count: u64,
    ) {
        let cell = self.cell(&Place {
            channel: STORE_CHANNEL,
            store: Some(store),
            gtin: Some(gtin),
            fixture,
            zone,
            ts,
        });
        self.cells[cell].row.exposures += count;
    }

    /// Counts one dwell at `fixture` in `zone` of `store` (a row without
    /// garment dimensions); its length, when it has one, goes into the
    /// dwell median and total.
    pub fn add_dwell(
        &mut self,
        store: &str,
        fixture: Option<&str>,
        zone: Option<&str>,
        ts: UnixMillis,
        duration: Option<Duration>,
    ) {
        let cell = self.cell(&Place {
            channel: STORE_CHANNEL,
            store: Some(store),
            gtin: None,
            fixture,
            zone,
            ts,
        });
        let cell = &mut self.cells[cell];
        cell.dwells += 1;
        cell.dwell.extend(duration);
    }

    /// Counts `count` people through a door of `store` in the period
    /// starting at `ts`.
    pub fn add_visits(&mut self, store: &str, ts: UnixMillis, count: u64) {
        let cell = self.cell(&Place {
            channel: STORE_CHANNEL,
            store: Some(store),
            gtin: None,
            fixture: None,
            zone: None,
            ts,
        });
        self.cells[cell].visits += count;
    }

    /// Counts `count` online exposures of `sku` (a GTIN when the catalog
    /// maps the merchant's code to one) in `channel`, attributed to `store`.
    pub fn add_online_exposures(
        &mut self,
        channel: &str,
        store: Option<&str>,
        sku: &str,
        ts: UnixMillis,
        count: u64,
    ) {
        let cell = self.cell(&Place {
            channel,
            store,
            gtin: Some(sku),
            fixture: None,
            zone: None,
            ts,
        });
        self.cells[cell].row.exposures += count;
    }

    /// The index of the row `place` counts in, made if new.
    fn cell(&mut self, place: &Place<'_>) -> usize {
        match self.rows.find(place) {
            Ok(cell) => cell,
            Err(key) => {
                let cell = self.cells.len();
                self.cells.push(Cell {
                    row: FunnelRow {
                        dims: key.clone(),
                        ..FunnelRow::default()
                    },
                    ..Cell::default()
                });
                self.rows.insert(place, key, cell);
                cell
            }
        }
    }

    /// Adds everything `other` counted. Both must have been built with the
    /// same options, over disjoint sets of garments, exposures, dwells and
    /// visits.
    pub fn absorb(&mut self, other: FunnelBuilder<'_>) {
        for cell in other.cells {
            let next = self.cells.len();
            let index = self.rows.get_or_insert(&cell.row.dims, next);
            if index == next {
                self.cells.push(cell);
                continue;
            }
            let mine = &mut self.cells[index];
            mine.row.exposures += cell.row.exposures;
            mine.journeys.add(cell.journeys);
            mine.dwells += cell.dwells;
            mine.dwell.extend(cell.dwell);
            mine.visits += cell.visits;
        }
    }

    /// The report: one row per distinct key, sorted by the dimensions.
    pub fn finish(self) -> FunnelReport {
        let (dwells, visits) = (self.opts.shows_dwells(), self.opts.shows_visits());
        // Online rows (keyed by a channel other than the stores') have
        // neither: tags measure dwells, doors measure visits.
        let channel = self.opts.by.iter().position(|d| *d == Dimension::Channel);
        let rows = self
            .cells
            .into_iter()
            .map(|mut cell| {
                let row = &mut cell.row;
                let sums = &cell.journeys;
                row.pickups = sums.pickups;
                row.try_ons = sums.try_ons;
                row.purchases = sums.purchases;
                row.journeys = sums.journeys;
                row.journeys_try_on = sums.journeys_try_on;
                row.journeys_purchase = sums.journeys_purchase;
                row.median_s_view_to_try_on = median_duration_s(&sums.view_to_try_on);
                row.median_s_try_on_to_purchase = median_duration_s(&sums.try_on_to_purchase);
                let online = channel.is_some_and(|i| row.dims[i].as_deref() != Some(STORE_CHANNEL));
                if dwells && !online {
                    row.dwells = Some(cell.dwells);
                    row.dwell_s_median = median_duration_s(&cell.dwell);
                    row.dwell_s_total = Some(total_s(&cell.dwell));
                }
                if visits && !online {
                    row.visits = Some(cell.visits);
                }
                cell.row
            })
            .collect();
        FunnelReport::new(self.opts.window, self.opts.by.clone(), rows)
    }
}
