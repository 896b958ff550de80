//! The ground-truth funnel: the report HQ should print, computed from what
//! the simulated shoppers physically did (the model's bookkeeping), never
//! from frames or events.
//!
//! Because the model keeps the gap rule (see [`super::shoppers`]), each
//! bookkept journey is exactly one HQ journey, so the counts follow directly.
//! Times are those at which the tags report each step: a pickup
//! [`Timing::pickup_latency_ms`] after the lift began (within a spread
//! HQ's whole-second medians cannot see), a try-on or purchase at the
//! garment's first read in the zone.
//!
//! [`Truth`] keeps each counted fact with the names HQ will see on its
//! event (the store, the SKU, the fixture and zone the gateway stamps), so
//! it can be grouped by any dimension `aisle funnel --by` offers on the
//! simulator's data. The report is rendered by HQ's own [`FunnelReport`],
//! so the truth file has the same bytes as `aisle funnel --format json`
//! when HQ saw the same funnel.

use super::clock;
use super::shoppers::{Layout, Script, Timing};
use crate::funnel::dimension::{shows_dwells, shows_visits};
use crate::funnel::report::{FunnelReport, FunnelRow};
use crate::funnel::seconds::{median_duration_s, total_s};
use crate::funnel::Dimension;
use std::collections::BTreeMap;
use std::time::Duration;

/// The names HQ sees on the simulated store's events, index-aligned with
/// the model's [`Layout`].
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub store: String,
    /// Each fixture's id and zone.
    pub fixtures: Vec<(String, String)>,
    /// Each zone reader's zone.
    pub readers: Vec<String>,
    /// Each entrance's zone.
    pub entrances: Vec<String>,
}

/// The dimensions the truth can be grouped by: those whose values the
/// simulator knows without a catalog.
pub const DIMENSIONS: [Dimension; 5] = [
    Dimension::Sku,
    Dimension::Store,
    Dimension::Fixture,
    Dimension::Zone,
    Dimension::Channel,
];

/// What one counted fact adds to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    Exposure,
    Pickup,
    TryOn,
    Purchase,
    /// A journey, with its steps' gaps when it reached them.
    Journey {
        to_try_on: Option<Duration>,
        to_purchase: Option<Duration>,
    },
    /// A dwell of this many milliseconds, as the presence tag measures it.
    Dwell(Duration),
    /// People who came in through an entrance.
    Visits(u64),
}

/// One counted fact and the names on the event HQ gets for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fact {
    gtin: Option<String>,
    fixture: Option<String>,
    /// The zone on the event: the fixture's, the reader's or the entrance's.
    zone: Option<String>,
    count: Count,
}

/// The ground truth of one simulated day, ready to be grouped.
#[derive(Debug, Clone)]
pub struct Truth {
    /// HQ's funnel window W.
    window: Duration,
    store: String,
    facts: Vec<Fact>,
}

/// Counts the facts of `script` with the names in `names`.
pub fn truth(
    layout: &Layout,
    names: &Names,
    script: &Script,
    timing: &Timing,
    window_ms: u64,
) -> Truth {
    let mut facts: Vec<Fact> = Vec::new();
    let fixture = |f: usize| names.fixtures.get(f).cloned().unzip();
    let reader_zone = |garment: usize, at: u64| {
        let read = script
            .reads
            .iter()
            .find(|r| r.garment == garment && r.span.start == at)?;
        names.readers.get(read.reader).cloned()
    };
    for dwell in &script.dwells {
        let (id, zone) = fixture(dwell.fixture);
        // The tag's dwell runs from the first sample with someone in front
        // of the fixture to the first without: the span, to the sample.
        facts.push(Fact {
            gtin: None,
            fixture: id.clone(),
            zone: zone.clone(),
            count: Count::Dwell(clock::span(dwell.span.end - dwell.span.start)),
        });
        for gtin in &layout.fixtures[dwell.fixture].gtins {
            facts.push(Fact {
                gtin: Some(gtin.clone()),
                fixture: id.clone(),
                zone: zone.clone(),
                count: Count::Exposure,
            });
        }
    }
    for journey in &script.journeys {
        let garment = &layout.garments[journey.garment];
        // A pickup carries its garment's home fixture and zone; a zone read
        // carries its reader's zone and no fixture.
        let (home, home_zone) = fixture(garment.fixture);
        let at = |fixture: &Option<String>, zone: Option<String>, count| Fact {
            gtin: Some(garment.gtin.clone()),
            fixture: fixture.clone(),
            zone,
            count,
        };
        for _ in &journey.lifts {
            facts.push(at(&home, home_zone.clone(), Count::Pickup));
        }
        for (step, count) in [
            (journey.try_on, Count::TryOn),
            (journey.purchase, Count::Purchase),
        ] {
            if let Some(t) = step {
                facts.push(at(&None, reader_zone(journey.garment, t), count));
            }
        }
        let viewed = journey.lifts[0] + timing.pickup_latency_ms;
        let to_try_on = journey.try_on.map(|tried| clock::span(tried - viewed));
        // Funnel steps are ordered: a purchase without a try-on is counted
        // as a purchase but does not complete the journey.
        let to_purchase = journey
            .try_on
            .zip(journey.purchase)
            .map(|(tried, bought)| clock::span(bought - tried));
        let count = Count::Journey {
            to_try_on,
            to_purchase,
        };
        facts.push(at(&home, home_zone.clone(), count));
    }
    for visit in &script.visits {
        facts.push(Fact {
            gtin: None,
            fixture: None,
            zone: names.entrances.get(visit.entrance).cloned(),
            count: Count::Visits(visit.people),
        });
    }
    Truth {
        window: clock::span(window_ms),
        store: names.store.clone(),
        facts,
    }
}

/// One row while it is being counted.
#[derive(Default)]
struct Row {
    row: FunnelRow,
    view_to_try_on: Vec<Duration>,
    try_on_to_purchase: Vec<Duration>,
    dwells: u64,
    dwell: Vec<Duration>,
    visits: u64,
}

impl Truth {
    /// People who came into the store, by entrance zone (`None` for an
    /// entrance the names do not know): what the counts of HQ's
    /// `store_visits` events should add up to.
    pub fn visits_by_zone(&self) -> BTreeMap<Option<String>, u64> {
        let mut visits = BTreeMap::new();
        for fact in &self.facts {
            if let Count::Visits(people) = fact.count {
                *visits.entry(fact.zone.clone()).or_default() += people;
            }
        }
        visits
    }

    /// The funnel grouped by `by` (dimensions of [`DIMENSIONS`]). A row is
    /// listed when anything happened in it, as at HQ, which only learns of a
    /// SKU or fixture through an event naming it. Visits and dwells count,
    /// and make rows, only where HQ's report shows them: visits on rows
    /// keyed by the store alone, dwells on rows keyed by zone or fixture
    /// and no SKU.
    pub fn report(&self, by: &[Dimension]) -> FunnelReport {
        let (dwells, visits) = (shows_dwells(by), shows_visits(by));
        let mut rows: BTreeMap<Vec<Option<String>>, Row> = BTreeMap::new();
        for fact in &self.facts {
            match fact.count {
                Count::Visits(_) if !visits => continue,
                Count::Dwell(_) if !dwells => continue,
                _ => {}
            }
            let key = by
                .iter()
                .map(|dim| match dim {
                    Dimension::Sku => fact.gtin.clone(),
                    Dimension::Store => Some(self.store.clone()),
                    Dimension::Fixture => fact.fixture.clone(),
                    Dimension::Zone => fact.zone.clone(),
                    Dimension::Channel => Some(crate::funnel::engine::STORE_CHANNEL.to_owned()),
                    // Refused by the command line: the simulator has no
                    // catalog nor store directory, and its clock is not a
                    // store's local time.
                    Dimension::Style
                    | Dimension::Region
                    | Dimension::City
                    | Dimension::Brand
                    | Dimension::Day
                    | Dimension::Week
                    | Dimension::Hour => None,
                })
                .collect();
            let r = rows.entry(key).or_default();
            match fact.count {
                Count::Exposure => r.row.exposures += 1,
                Count::Pickup => r.row.pickups += 1,
                Count::TryOn => r.row.try_ons += 1,
                Count::Purchase => r.row.purchases += 1,
                Count::Journey {
                    to_try_on,
                    to_purchase,
                } => {
                    r.row.journeys += 1;
                    if let Some(gap) = to_try_on {
                        r.row.journeys_try_on += 1;
                        r.view_to_try_on.push(gap);
                    }
                    if let Some(gap) = to_purchase {
                        r.row.journeys_purchase += 1;
                        r.try_on_to_purchase.push(gap);
                    }
                }
                Count::Dwell(length) => {
                    r.dwells += 1;
                    r.dwell.push(length);
                }
                Count::Visits(people) => r.visits += people,
            }
        }
        let rows = rows
            .into_iter()
            .map(|(dims, r)| FunnelRow {
                dims,
                median_s_view_to_try_on: median_duration_s(&r.view_to_try_on),
                median_s_try_on_to_purchase: median_duration_s(&r.try_on_to_purchase),
                visits: visits.then_some(r.visits),
                dwells: dwells.then_some(r.dwells),
                dwell_s_median: if dwells {
                    median_duration_s(&r.dwell)
                } else {
                    None
                },
                dwell_s_total: dwells.then(|| total_s(&r.dwell)),
                ..r.row
            })
            .collect();
        FunnelReport::new(self.window, by.to_vec(), rows)
    }
}

/// The funnel by SKU with window `window_ms`.
pub fn report(layout: &Layout, script: &Script, timing: &Timing, window_ms: u64) -> FunnelReport {
    truth(layout, &Names::default(), script, timing, window_ms).report(&[Dimension::Sku])
}

#[cfg(test)]
mod tests;
