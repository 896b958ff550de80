//! The journey rules of [`super`] (the module docs list them), applied to
//! one garment's item events or one online (channel, user, SKU) journey's
//! steps: which pickup opens a journey, which later steps it reaches, and
//! the row it is counted in.

use super::super::rows::Place;
use super::super::seconds::{between, window_end};
use super::{FoldedJourneys, FunnelBuilder, GarmentEvent, OnlineStep, STORE_CHANNEL};
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;

/// One journey while it is open.
struct Journey {
    opened: UnixMillis,
    /// The report row of the step that opened it (where and when it
    /// happened), which the journey is counted in.
    cell: usize,
    try_on: Option<UnixMillis>,
    purchase: Option<UnixMillis>,
}

/// A step of either kind of journey, as the scan reads it.
struct Step<'e> {
    ts: UnixMillis,
    kind: StoreEventKind,
    store: Option<&'e str>,
    fixture: Option<&'e str>,
    zone: Option<&'e str>,
}

impl FunnelBuilder<'_> {
    /// Scans one garment's item events, which must be sorted by
    /// `garment_order`, and counts its events and journeys.
    pub fn add_garment(&mut self, store: &str, gtin: Option<&str>, events: &[GarmentEvent]) {
        self.scan(
            STORE_CHANNEL,
            gtin,
            events.iter().map(|e| Step {
                ts: e.ts,
                kind: e.kind,
                store: Some(store),
                fixture: e.fixture.as_deref(),
                zone: e.zone.as_deref(),
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
                ts: s.ts,
                kind: s.kind,
                store: s.store.as_deref(),
                fixture: None,
                zone: None,
            }),
        );
    }

    /// Counts one garment's item events, sorted by `garment_order`, into
    /// `into` instead of a report row: what [`add_garment`](Self::add_garment)
    /// would count in the garment's one row, for a report that
    /// [`folds_in_one_row`](Self::folds_in_one_row). A reader that meets
    /// garments in no order sums them per row itself and hands the sums
    /// over with [`add_folded`](Self::add_folded).
    pub fn fold_garment(&self, events: &[GarmentEvent], into: &mut FoldedJourneys) {
        debug_assert!(self.folds_in_one_row());
        let steps = events.iter().map(|e| Step {
            ts: e.ts,
            kind: e.kind,
            store: None,
            fixture: None,
            zone: None,
        });
        scan(self.opts.window, self.until, steps, into);
    }

    /// The journey rules over one unit's steps, counted in the report's
    /// rows.
    fn scan<'e>(
        &mut self,
        channel: &str,
        gtin: Option<&str>,
        steps: impl Iterator<Item = Step<'e>>,
    ) {
        let (window, until) = (self.opts.window, self.until);
        // The row of the unit's steps at their store, when the report does
        // not tell their fixtures, zones and instants apart: looked up once
        // rather than once a step.
        let shared = self.rows.same_row_at_any_fixture_zone_or_time();
        let mut rows = Rows {
            builder: self,
            channel,
            gtin,
            shared,
            row_at: None,
        };
        scan(window, until, steps, &mut rows);
    }
}

/// Where [`scan`] counts: a step in a row, a finished journey in the row
/// of the step that opened it.
trait Tally<'e> {
    fn count(&mut self, step: &Step<'e>) -> usize;
    fn close(&mut self, journey: Journey);
}

/// The journey rules (see the module docs), over one unit's steps in
/// order: the one definition, whatever the steps are counted in.
fn scan<'e>(
    window: std::time::Duration,
    until: Option<UnixMillis>,
    steps: impl Iterator<Item = Step<'e>>,
    tally: &mut impl Tally<'e>,
) {
    let mut open: Option<Journey> = None;
    for step in steps {
        if open
            .as_ref()
            .is_some_and(|j| step.ts > window_end(j.opened, window))
        {
            if let Some(done) = open.take() {
                tally.close(done);
            }
        }
        // Past `--to` a step only finishes an open journey.
        let counted = until.is_none_or(|to| step.ts < to);
        let step_cell = counted.then(|| tally.count(&step));
        match step.kind {
            StoreEventKind::ItemPickup if open.is_none() => {
                // A counted step has its row; an uncounted one opens
                // nothing.
                if let Some(cell) = step_cell {
                    open = Some(Journey {
                        opened: step.ts,
                        cell,
                        try_on: None,
                        purchase: None,
                    });
                }
            }
            StoreEventKind::ItemTryOn => {
                if let Some(j) = open.as_mut() {
                    if j.try_on.is_none() && step.ts > j.opened {
                        j.try_on = Some(step.ts);
                    }
                }
            }
            StoreEventKind::ItemPurchase => {
                if let Some(j) = open.as_mut() {
                    if let (Some(tried), None) = (j.try_on, j.purchase) {
                        if step.ts > tried {
                            j.purchase = Some(step.ts);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(done) = open {
        tally.close(done);
    }
}

/// Counting in the report's rows.
struct Rows<'b, 'o, 'c, 'e> {
    builder: &'b mut FunnelBuilder<'o>,
    channel: &'c str,
    gtin: Option<&'c str>,
    shared: bool,
    row_at: Option<(Option<&'e str>, usize)>,
}

impl<'e> Tally<'e> for Rows<'_, '_, '_, 'e> {
    fn count(&mut self, step: &Step<'e>) -> usize {
        let cell = match self.row_at {
            Some((store, cell)) if store == step.store => cell,
            _ => {
                let cell = self.builder.cell(&Place {
                    channel: self.channel,
                    store: step.store,
                    gtin: self.gtin,
                    fixture: step.fixture,
                    zone: step.zone,
                    ts: step.ts,
                });
                if self.shared {
                    self.row_at = Some((step.store, cell));
                }
                cell
            }
        };
        self.builder.cells[cell].journeys.count(step);
        cell
    }

    fn close(&mut self, journey: Journey) {
        self.builder.cells[journey.cell].journeys.close(journey);
    }
}

/// Counting into sums: a report row's, or one garment's.
impl<'e> Tally<'e> for FoldedJourneys {
    fn count(&mut self, step: &Step<'e>) -> usize {
        match step.kind {
            StoreEventKind::ItemPickup => self.pickups += 1,
            StoreEventKind::ItemTryOn => self.try_ons += 1,
            StoreEventKind::ItemPurchase => self.purchases += 1,
            // Dwells and visits carry no garment: dwells are counted as
            // exposures and dwells, visits per store.
            StoreEventKind::FixtureDwell | StoreEventKind::StoreVisits => {}
        }
        // One place: the caller's row, whatever it is.
        0
    }

    fn close(&mut self, journey: Journey) {
        self.journeys += 1;
        if let Some(tried) = journey.try_on {
            self.journeys_try_on += 1;
            self.view_to_try_on.push(between(journey.opened, tried));
            if let Some(bought) = journey.purchase {
                self.journeys_purchase += 1;
                self.try_on_to_purchase.push(between(tried, bought));
            }
        }
    }
}

impl FoldedJourneys {
    /// Adds `other`'s sums to these.
    pub(super) fn add(&mut self, other: FoldedJourneys) {
        self.pickups += other.pickups;
        self.try_ons += other.try_ons;
        self.purchases += other.purchases;
        self.journeys += other.journeys;
        self.journeys_try_on += other.journeys_try_on;
        self.journeys_purchase += other.journeys_purchase;
        self.view_to_try_on.extend(other.view_to_try_on);
        self.try_on_to_purchase.extend(other.try_on_to_purchase);
    }
}
