//! The funnel engine: garment journeys with ordered, windowed steps
//! (docs/design.md, "The funnel"), counted per report row.
//!
//! Pure logic: it is fed events and never reads a clock, a file or a
//! database. `compute` (the in-memory reference the tests use) takes events
//! in any order; [`FunnelBuilder`] is the streaming form the database
//! reader drives one garment at a time.
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

use super::catalog::Catalog;
use super::dimension::Dimension;
use super::report::{FunnelReport, FunnelRow};
use protocol::stage::StoreEventKind;
use std::collections::HashMap;

/// One store event as the funnel sees it.
// The in-memory reference the tests check the database path against; the CLI
// streams the database through `FunnelBuilder` instead.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelEvent {
    pub store: String,
    pub ts_ms: i64,
    pub kind: StoreEventKind,
    /// The garment's GTIN, on item events.
    pub gtin: Option<String>,
    /// The garment's serial, on item events.
    pub serial: Option<String>,
    /// The fixture: where a dwell happened, or an item event's fixture when
    /// the gateway knows it.
    pub fixture: Option<String>,
    /// The GTINs on display, on `fixture_dwell`.
    pub gtins: Vec<String>,
}

/// What the report is keyed by, and the journey window.
#[derive(Debug, Clone)]
pub struct FunnelOptions {
    /// W: a journey opened at t is open for events with ts <= t + W.
    pub window_ms: i64,
    pub by: Vec<Dimension>,
    pub catalog: Catalog,
}

impl Default for FunnelOptions {
    fn default() -> Self {
        FunnelOptions {
            window_ms: 3_600_000,
            by: vec![Dimension::Sku],
            catalog: Catalog::default(),
        }
    }
}

/// An item event of one garment, as [`FunnelBuilder::add_garment`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarmentEvent {
    pub ts_ms: i64,
    /// `ItemPickup`, `ItemTryOn` or `ItemPurchase`; a dwell here is ignored.
    pub kind: StoreEventKind,
    pub fixture: Option<String>,
}

/// The order of a garment's events: by time, then by funnel step, then by
/// fixture. Only the last matters for the result: of two pickups at the same
/// instant, the one at the first-named fixture (none first) opens the journey.
#[cfg(test)] // see `FunnelEvent`
pub fn garment_order(a: &GarmentEvent, b: &GarmentEvent) -> std::cmp::Ordering {
    (a.ts_ms, a.kind, &a.fixture).cmp(&(b.ts_ms, b.kind, &b.fixture))
}

/// The running totals of one report row.
#[derive(Debug, Default)]
struct Cell {
    row: FunnelRow,
    view_to_try_on_ms: Vec<i64>,
    try_on_to_purchase_ms: Vec<i64>,
}

/// One journey while it is open.
struct Journey {
    opened_ms: i64,
    /// The store and fixture of the step that opened it: its report row.
    store: Option<String>,
    fixture: Option<String>,
    try_on_ms: Option<i64>,
    purchase_ms: Option<i64>,
}

/// The channel of everything the stores' tags saw (`--by channel`).
pub const STORE_CHANNEL: &str = "store";

/// One step of an online journey, as [`FunnelBuilder::add_online_journey`]
/// takes it: a product view (`ItemPickup`), an add-to-cart (`ItemTryOn`) or
/// a paid order line (`ItemPurchase`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineStep {
    pub ts_ms: i64,
    pub kind: StoreEventKind,
    /// The store the behaviour is attributed to, if any.
    pub store: Option<String>,
}

/// A step of either kind of journey, as the scan reads it.
struct Step<'e> {
    ts_ms: i64,
    kind: StoreEventKind,
    store: Option<&'e str>,
    fixture: Option<&'e str>,
}

/// The last cell looked up: (channel, store, gtin, fixture) and its index.
type LastCell = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    usize,
);

/// Accumulates report rows from exposures and garments fed in any order.
pub struct FunnelBuilder<'o> {
    opts: &'o FunnelOptions,
    cells: Vec<Cell>,
    index: HashMap<Vec<Option<String>>, usize>,
    /// The last cell looked up: the database streams garments sorted by
    /// store and GTIN, so most look-ups hit it.
    last: Option<LastCell>,
}

impl<'o> FunnelBuilder<'o> {
    pub fn new(opts: &'o FunnelOptions) -> Self {
        FunnelBuilder {
            opts,
            cells: Vec::new(),
            index: HashMap::new(),
            last: None,
        }
    }

    /// Counts `count` exposures of `gtin` at `fixture` in `store`.
    pub fn add_exposures(&mut self, store: &str, gtin: &str, fixture: Option<&str>, count: u64) {
        let cell = self.cell(STORE_CHANNEL, Some(store), Some(gtin), fixture);
        self.cells[cell].row.exposures += count;
    }

    /// Counts `count` online exposures of `sku` (a GTIN when the catalog
    /// maps the merchant's code to one) in `channel`, attributed to `store`.
    pub fn add_online_exposures(
        &mut self,
        channel: &str,
        store: Option<&str>,
        sku: &str,
        count: u64,
    ) {
        let cell = self.cell(channel, store, Some(sku), None);
        self.cells[cell].row.exposures += count;
    }

    /// Scans one garment's item events, which must be sorted by
    /// `garment_order`, and counts its events and journeys.
    pub fn add_garment(&mut self, store: &str, gtin: Option<&str>, events: &[GarmentEvent]) {
        self.scan(
            STORE_CHANNEL,
            gtin,
            events.iter().map(|e| Step {
                ts_ms: e.ts_ms,
                kind: e.kind,
                store: Some(store),
                fixture: e.fixture.as_deref(),
            }),
        );
    }

    /// Scans one online (channel, user, SKU) journey's steps, sorted by time,
    /// under exactly the rules of a garment's: the user's views of the SKU
    /// play its pickups, add-to-carts its try-ons, paid orders its purchases.
    /// `sku` is a GTIN when the catalog maps the merchant's code to one.
    pub fn add_online_journey(&mut self, channel: &str, sku: &str, steps: &[OnlineStep]) {
        self.scan(
            channel,
            Some(sku),
            steps.iter().map(|s| Step {
                ts_ms: s.ts_ms,
                kind: s.kind,
                store: s.store.as_deref(),
                fixture: None,
            }),
        );
    }

    /// The journey rules (see the module docs), over one unit's steps in
    /// order.
    fn scan<'e>(
        &mut self,
        channel: &str,
        gtin: Option<&str>,
        steps: impl Iterator<Item = Step<'e>>,
    ) {
        let window = self.opts.window_ms;
        let mut open: Option<Journey> = None;
        for step in steps {
            if open
                .as_ref()
                .is_some_and(|j| step.ts_ms > j.opened_ms.saturating_add(window))
            {
                if let Some(done) = open.take() {
                    self.close(channel, gtin, done);
                }
            }
            let cell = self.cell(channel, step.store, gtin, step.fixture);
            let row = &mut self.cells[cell].row;
            match step.kind {
                StoreEventKind::ItemPickup => {
                    row.pickups += 1;
                    if open.is_none() {
                        open = Some(Journey {
                            opened_ms: step.ts_ms,
                            store: step.store.map(str::to_string),
                            fixture: step.fixture.map(str::to_string),
                            try_on_ms: None,
                            purchase_ms: None,
                        });
                    }
                }
                StoreEventKind::ItemTryOn => {
                    row.try_ons += 1;
                    if let Some(j) = open.as_mut() {
                        if j.try_on_ms.is_none() && step.ts_ms > j.opened_ms {
                            j.try_on_ms = Some(step.ts_ms);
                        }
                    }
                }
                StoreEventKind::ItemPurchase => {
                    row.purchases += 1;
                    if let Some(j) = open.as_mut() {
                        if let (Some(tried), None) = (j.try_on_ms, j.purchase_ms) {
                            if step.ts_ms > tried {
                                j.purchase_ms = Some(step.ts_ms);
                            }
                        }
                    }
                }
                // Dwells and visits carry no garment: dwells are counted
                // as exposures, visits per store.
                StoreEventKind::FixtureDwell | StoreEventKind::StoreVisits => {}
            }
        }
        if let Some(done) = open {
            self.close(channel, gtin, done);
        }
    }

    fn close(&mut self, channel: &str, gtin: Option<&str>, journey: Journey) {
        let cell = self.cell(
            channel,
            journey.store.as_deref(),
            gtin,
            journey.fixture.as_deref(),
        );
        let cell = &mut self.cells[cell];
        cell.row.journeys += 1;
        if let Some(tried) = journey.try_on_ms {
            cell.row.journeys_try_on += 1;
            cell.view_to_try_on_ms.push(tried - journey.opened_ms);
            if let Some(bought) = journey.purchase_ms {
                cell.row.journeys_purchase += 1;
                cell.try_on_to_purchase_ms.push(bought - tried);
            }
        }
    }

    /// The index of the row for an event of `gtin` at `fixture` in `store`,
    /// seen through `channel`.
    fn cell(
        &mut self,
        channel: &str,
        store: Option<&str>,
        gtin: Option<&str>,
        fixture: Option<&str>,
    ) -> usize {
        // Only look at the fixture when the report is keyed by it.
        let fixture = fixture.filter(|_| self.opts.by.contains(&Dimension::Fixture));
        if let Some((c, s, g, f, cell)) = &self.last {
            if c == channel
                && s.as_deref() == store
                && g.as_deref() == gtin
                && f.as_deref() == fixture
            {
                return *cell;
            }
        }
        let key: Vec<Option<String>> = self
            .opts
            .by
            .iter()
            .map(|dim| match dim {
                Dimension::Sku => gtin.map(|g| self.opts.catalog.sku(g).to_string()),
                Dimension::Store => store.map(str::to_string),
                Dimension::Style => gtin
                    .and_then(|g| self.opts.catalog.style(g))
                    .map(str::to_string),
                Dimension::Fixture => fixture.map(str::to_string),
                Dimension::Channel => Some(channel.to_string()),
            })
            .collect();
        let next = self.cells.len();
        let cell = *self.index.entry(key.clone()).or_insert(next);
        if cell == next {
            self.cells.push(Cell {
                row: FunnelRow {
                    dims: key,
                    ..FunnelRow::default()
                },
                ..Cell::default()
            });
        }
        self.last = Some((
            channel.to_string(),
            store.map(str::to_string),
            gtin.map(str::to_string),
            fixture.map(str::to_string),
            cell,
        ));
        cell
    }

    /// Adds everything `other` counted. Both must have been built with the
    /// same options, over disjoint sets of garments and exposures.
    pub fn absorb(&mut self, other: FunnelBuilder<'_>) {
        for cell in other.cells {
            let next = self.cells.len();
            let index = *self.index.entry(cell.row.dims.clone()).or_insert(next);
            if index == next {
                self.cells.push(cell);
                continue;
            }
            let mine = &mut self.cells[index];
            let (row, theirs) = (&mut mine.row, &cell.row);
            row.exposures += theirs.exposures;
            row.pickups += theirs.pickups;
            row.try_ons += theirs.try_ons;
            row.purchases += theirs.purchases;
            row.journeys += theirs.journeys;
            row.journeys_try_on += theirs.journeys_try_on;
            row.journeys_purchase += theirs.journeys_purchase;
            mine.view_to_try_on_ms.extend(cell.view_to_try_on_ms);
            mine.try_on_to_purchase_ms
                .extend(cell.try_on_to_purchase_ms);
        }
        self.last = None;
    }

    /// The report: one row per distinct key, sorted by the dimensions.
    pub fn finish(self) -> FunnelReport {
        let rows = self
            .cells
            .into_iter()
            .map(|mut cell| {
                cell.row.median_s_view_to_try_on = median_s(&mut cell.view_to_try_on_ms);
                cell.row.median_s_try_on_to_purchase = median_s(&mut cell.try_on_to_purchase_ms);
                cell.row
            })
            .collect();
        FunnelReport::new(self.opts.window_ms, self.opts.by.clone(), rows)
    }
}

/// The median in whole seconds, `None` for no values.
///
/// The median of an even count is the mean of the middle two. It is rounded
/// once, exactly (in integers, no float on the way), to the nearest second,
/// half away from zero: 6 999 ms → 7 s, 7 500 ms → 8 s, 7 499 ms → 7 s, and
/// the middle pair 1 000 ms and 1 999 ms (mean 1 499.5 ms) → 1 s. Steps take
/// seconds to minutes, so milliseconds would only show the jitter of the
/// clocks and links that stamped the events.
pub fn median_s(values_ms: &mut [i64]) -> Option<i64> {
    if values_ms.is_empty() {
        return None;
    }
    values_ms.sort_unstable();
    let mid = values_ms.len() / 2;
    // Twice the median in milliseconds, so that an even count's mean of the
    // middle two stays an integer.
    let twice_ms = if values_ms.len() % 2 == 1 {
        2 * i128::from(values_ms[mid])
    } else {
        i128::from(values_ms[mid - 1]) + i128::from(values_ms[mid])
    };
    let seconds = div_round_half_away_from_zero(twice_ms, 2_000);
    // The median of i64 milliseconds, in seconds, always fits an i64.
    Some(i64::try_from(seconds).unwrap_or(if seconds < 0 { i64::MIN } else { i64::MAX }))
}

/// `num / den` rounded to the nearest integer, halves away from zero;
/// `den` is positive.
fn div_round_half_away_from_zero(num: i128, den: i128) -> i128 {
    let (quotient, remainder) = (num / den, num % den);
    if 2 * remainder.abs() >= den {
        quotient + num.signum()
    } else {
        quotient
    }
}

/// The funnel report over `events`, which may come in any order.
#[cfg(test)] // see `FunnelEvent`
pub fn compute(
    events: impl IntoIterator<Item = FunnelEvent>,
    opts: &FunnelOptions,
) -> FunnelReport {
    type GarmentKey = (String, Option<String>, Option<String>);
    let mut builder = FunnelBuilder::new(opts);
    let mut garments: HashMap<GarmentKey, Vec<GarmentEvent>> = HashMap::new();
    for event in events {
        if event.kind == StoreEventKind::FixtureDwell {
            // A GTIN listed twice on one dwell is one exposure, as in the
            // database, whose exposures are keyed by (event, gtin).
            let mut gtins = event.gtins;
            gtins.sort_unstable();
            gtins.dedup();
            for gtin in &gtins {
                builder.add_exposures(&event.store, gtin, event.fixture.as_deref(), 1);
            }
        } else {
            garments
                .entry((event.store, event.gtin, event.serial))
                .or_default()
                .push(GarmentEvent {
                    ts_ms: event.ts_ms,
                    kind: event.kind,
                    fixture: event.fixture,
                });
        }
    }
    for ((store, gtin, _serial), mut events) in garments {
        events.sort_by(garment_order);
        builder.add_garment(&store, gtin.as_deref(), &events);
    }
    builder.finish()
}
