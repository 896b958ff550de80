//! The ground-truth funnel: the per-SKU report HQ should print, computed from
//! what the simulated shoppers physically did (the model's bookkeeping),
//! never from frames or events.
//!
//! Because the model keeps the gap rule (see [`super::shoppers`]), each
//! bookkept journey is exactly one HQ journey, so the counts follow directly.
//! Times are those at which the tags report each step: a pickup
//! [`Timing::pickup_latency_ms`] after the lift began (within a spread
//! HQ's whole-second medians cannot see), a try-on or purchase at the
//! garment's first read in the zone. The report is rendered by HQ's own
//! [`FunnelReport`], so the truth file has the same bytes as `aisle funnel
//! --format json --by sku` when HQ saw the same funnel.

use super::shoppers::{Layout, Script, Timing};
use crate::funnel::engine::median_s;
use crate::funnel::report::{FunnelReport, FunnelRow};
use crate::funnel::Dimension;
use std::collections::BTreeMap;

/// One SKU's row while it is being counted.
#[derive(Default)]
struct Sku {
    row: FunnelRow,
    view_to_try_on_ms: Vec<i64>,
    try_on_to_purchase_ms: Vec<i64>,
}

/// The funnel by SKU with window `window_ms`. A SKU is listed when anything
/// happened to it, as at HQ, which only learns of a SKU through an event
/// naming it.
pub fn report(layout: &Layout, script: &Script, timing: &Timing, window_ms: u64) -> FunnelReport {
    let mut skus: BTreeMap<&str, Sku> = BTreeMap::new();
    for dwell in &script.dwells {
        for gtin in &layout.fixtures[dwell.fixture].gtins {
            skus.entry(gtin).or_default().row.exposures += 1;
        }
    }
    for journey in &script.journeys {
        let sku = skus
            .entry(&layout.garments[journey.garment].gtin)
            .or_default();
        let row = &mut sku.row;
        row.pickups += journey.lifts.len() as u64;
        row.journeys += 1;
        row.try_ons += u64::from(journey.try_on.is_some());
        row.purchases += u64::from(journey.purchase.is_some());
        let viewed = journey.lifts[0] + timing.pickup_latency_ms;
        if let Some(tried) = journey.try_on {
            row.journeys_try_on += 1;
            sku.view_to_try_on_ms.push(ms(tried - viewed));
            // Funnel steps are ordered: a purchase without a try-on is
            // counted as a purchase but does not complete the journey.
            if let Some(bought) = journey.purchase {
                row.journeys_purchase += 1;
                sku.try_on_to_purchase_ms.push(ms(bought - tried));
            }
        }
    }
    let rows = skus
        .into_iter()
        .map(|(gtin, mut sku)| FunnelRow {
            dims: vec![Some(gtin.to_string())],
            median_s_view_to_try_on: median_s(&mut sku.view_to_try_on_ms),
            median_s_try_on_to_purchase: median_s(&mut sku.try_on_to_purchase_ms),
            ..sku.row
        })
        .collect();
    FunnelReport::new(
        std::time::Duration::from_millis(window_ms),
        vec![Dimension::Sku],
        rows,
    )
}

/// Step gaps are seconds, far inside `i64`.
fn ms(gap: u64) -> i64 {
    i64::try_from(gap).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::shoppers::{
        Dwell, FixtureLayout, GarmentLayout, Journey, Pace, Propensity, Span,
    };

    /// Two fixtures sharing SKU "b"; one garment each of "a" and "b".
    fn layout() -> Layout {
        let fixture = |gtins: &[&str]| FixtureLayout {
            gtins: gtins.iter().map(|g| g.to_string()).collect(),
        };
        let garment = |fixture, gtin: &str| GarmentLayout {
            fixture,
            gtin: gtin.into(),
            propensity: Propensity::default(),
        };
        Layout {
            fixtures: vec![fixture(&["a", "b"]), fixture(&["b", "c"])],
            garments: vec![garment(0, "a"), garment(1, "b")],
            readers: Vec::new(),
        }
    }

    fn journey(
        garment: usize,
        lifts: &[u64],
        try_on: Option<u64>,
        purchase: Option<u64>,
    ) -> Journey {
        Journey {
            garment,
            lifts: lifts.to_vec(),
            try_on,
            purchase,
            released: 0,
        }
    }

    #[test]
    fn counts_exposures_journeys_and_ordered_steps_per_sku() {
        let timing = Timing {
            dwell_min_ms: 0,
            dwell_gap_ms: 0,
            still_ms: 0,

            pickup_latency_ms: 150,
        };
        let dwell = |fixture| Dwell {
            fixture,
            span: Span::new(0, 1),
        };
        let script = Script {
            presence: Vec::new(),
            held: Vec::new(),
            brushes: Vec::new(),
            browses: Vec::new(),
            reads: Vec::new(),
            dwells: vec![dwell(0), dwell(1), dwell(1)],
            journeys: vec![
                // Re-lifted, tried on 10 s after the detected pickup, bought 12 s later.
                journey(0, &[1_000, 6_000], Some(11_150), Some(23_150)),
                // Bought without a try-on: a purchase, but not a completed journey.
                journey(0, &[500_000], None, Some(520_000)),
                journey(1, &[1_000], Some(15_150), None),
                journey(1, &[600_000], Some(608_150), None),
            ],
            shoppers: 3,
            paces: BTreeMap::<String, Pace>::new(),
        };
        let report = report(&layout(), &script, &timing, 120_000);
        let expected = [
            ("a", [1, 3, 1, 2, 2, 1, 1], Some(10), Some(12)),
            ("b", [3, 2, 2, 0, 2, 2, 0], Some(11), None),
            ("c", [2, 0, 0, 0, 0, 0, 0], None, None),
        ];
        assert_eq!(report.rows.len(), expected.len());
        for (row, (gtin, counts, to_try_on, to_buy)) in report.rows.iter().zip(expected) {
            assert_eq!(row.dims, vec![Some(gtin.to_string())]);
            let got = [
                row.exposures,
                row.pickups,
                row.try_ons,
                row.purchases,
                row.journeys,
                row.journeys_try_on,
                row.journeys_purchase,
            ];
            assert_eq!(got, counts, "{gtin}");
            assert_eq!(
                (row.median_s_view_to_try_on, row.median_s_try_on_to_purchase),
                (to_try_on, to_buy),
                "{gtin}"
            );
        }
        assert!(report.to_json().starts_with("{\"window_s\": 120, \"by\": \"sku\", \"rows\": [{\"sku\": \"a\", \"exposures\": 1, \"pickups\": 3,"));
    }
}
