//! The in-memory reference the tests check the database readers against:
//! every event in a `Vec`, in any order, through the one funnel engine.
//! The command line streams the event store through `FunnelBuilder`
//! instead.

use super::engine::{FunnelBuilder, FunnelOptions, GarmentEvent};
use super::report::FunnelReport;
use protocol::stage::StoreEventKind;
use protocol::time::UnixMillis;
use std::collections::HashMap;
use std::time::Duration;

/// One store event as the funnel sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelEvent {
    pub store: String,
    pub ts: UnixMillis,
    pub kind: StoreEventKind,
    /// The garment's GTIN, on item events.
    pub gtin: Option<String>,
    /// The garment's serial, on item events.
    pub serial: Option<String>,
    /// The fixture: where a dwell happened, or an item event's fixture when
    /// the gateway knows it.
    pub fixture: Option<String>,
    /// The zone of the fixture, fitting room, checkout or entrance.
    pub zone: Option<String>,
    /// The GTINs on display, on `fixture_dwell`.
    pub gtins: Vec<String>,
    /// A dwell's length; a visit count's period.
    pub duration: Option<Duration>,
    /// People through the door, on `store_visits`.
    pub count: Option<u32>,
}

/// The order of a garment's events: by time, then by funnel step, then by
/// fixture and zone. Only the last matter for the result: of two pickups at
/// the same instant, the one at the first-named fixture (none first) opens
/// the journey.
pub fn garment_order(a: &GarmentEvent, b: &GarmentEvent) -> std::cmp::Ordering {
    (a.ts, a.kind, &a.fixture, &a.zone).cmp(&(b.ts, b.kind, &b.fixture, &b.zone))
}

/// The funnel report over `events`, which may come in any order.
pub fn compute(
    events: impl IntoIterator<Item = FunnelEvent>,
    opts: &FunnelOptions,
) -> FunnelReport {
    type GarmentKey = (String, Option<String>, Option<String>);
    let mut builder = FunnelBuilder::new(opts);
    let mut garments: HashMap<GarmentKey, Vec<GarmentEvent>> = HashMap::new();
    for event in events {
        match event.kind {
            StoreEventKind::FixtureDwell => {
                // A GTIN listed twice on one dwell is one exposure, as in
                // the database, whose exposures are keyed by (event, gtin).
                let mut gtins = event.gtins;
                gtins.sort_unstable();
                gtins.dedup();
                for gtin in &gtins {
                    builder.add_exposures(
                        &event.store,
                        gtin,
                        event.fixture.as_deref(),
                        event.zone.as_deref(),
                        event.ts,
                        1,
                    );
                }
                if opts.shows_dwells() {
                    builder.add_dwell(
                        &event.store,
                        event.fixture.as_deref(),
                        event.zone.as_deref(),
                        event.ts,
                        event.duration,
                    );
                }
            }
            StoreEventKind::StoreVisits => {
                if opts.shows_visits() {
                    builder.add_visits(&event.store, event.ts, u64::from(event.count.unwrap_or(0)));
                }
            }
            StoreEventKind::ItemPickup
            | StoreEventKind::ItemTryOn
            | StoreEventKind::ItemPurchase => {
                garments
                    .entry((event.store, event.gtin, event.serial))
                    .or_default()
                    .push(GarmentEvent {
                        ts: event.ts,
                        kind: event.kind,
                        fixture: event.fixture,
                        zone: event.zone,
                    });
            }
        }
    }
    for ((store, gtin, _serial), mut events) in garments {
        events.sort_by(garment_order);
        builder.add_garment(&store, gtin.as_deref(), &events);
    }
    builder.finish()
}
