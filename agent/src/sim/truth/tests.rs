//! The truth counted by hand on small scripts.

use super::*;
use crate::sim::shoppers::{Dwell, FixtureLayout, GarmentLayout, Journey, Pace, Propensity, Span};

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
        entrances: 0,
    }
}

fn journey(garment: usize, lifts: &[u64], try_on: Option<u64>, purchase: Option<u64>) -> Journey {
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
        door: Vec::new(),
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
        visits: Vec::new(),
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

#[test]
fn groups_by_store_zone_and_fixture_with_the_names_on_the_events() {
    use crate::sim::shoppers::{Visit, ZoneRead};
    let timing = Timing {
        dwell_min_ms: 0,
        dwell_gap_ms: 0,
        still_ms: 0,
        pickup_latency_ms: 0,
    };
    let names = Names {
        store: "S9".into(),
        fixtures: vec![("F1".into(), "tops".into()), ("F2".into(), "knit".into())],
        readers: vec!["room-1".into()],
        entrances: vec!["main-door".into(), "side-door".into()],
    };
    let read = |garment, at| ZoneRead {
        reader: 0,
        garment,
        span: Span::new(at, at + 1_000),
    };
    let visit = |entrance, people| Visit {
        entrance,
        at: 0,
        people,
    };
    let script = Script {
        door: Vec::new(),
        presence: Vec::new(),
        held: Vec::new(),
        brushes: Vec::new(),
        browses: Vec::new(),
        reads: vec![read(1, 9_000)],
        dwells: vec![
            Dwell {
                fixture: 1,
                span: Span::new(0, 12_400),
            },
            Dwell {
                fixture: 1,
                span: Span::new(60_000, 63_000),
            },
        ],
        journeys: vec![
            journey(0, &[1_000], None, None),
            journey(1, &[2_000], Some(9_000), None),
        ],
        visits: vec![visit(0, 1), visit(0, 2), visit(1, 1)],
        shoppers: 3,
        paces: BTreeMap::new(),
    };
    let t = truth(&layout(), &names, &script, &timing, 120_000);
    let by_store = t.report(&[Dimension::Store]);
    assert_eq!(by_store.rows.len(), 1);
    let row = &by_store.rows[0];
    assert_eq!(row.dims, vec![Some("S9".to_owned())]);
    // F2 shows b and c: two dwells, four exposures; two pickups, one try-on.
    assert_eq!(
        (
            row.exposures,
            row.pickups,
            row.try_ons,
            row.journeys,
            row.journeys_try_on
        ),
        (4, 2, 1, 2, 1)
    );
    assert_eq!(row.median_s_view_to_try_on, Some(7));
    // Both doors' people, on the store's row; no dwells on a store's row.
    assert_eq!((row.visits, row.dwells), (Some(4), None));
    // The try-on read carries no fixture: its own row, as at HQ.
    let by_fixture = t.report(&[Dimension::Fixture]);
    let rows: Vec<(Option<&str>, [u64; 4])> = by_fixture
        .rows
        .iter()
        .map(|r| {
            let counts = [r.exposures, r.pickups, r.try_ons, r.journeys];
            (r.dims[0].as_deref(), counts)
        })
        .collect();
    assert_eq!(
        rows,
        [
            (None, [0, 0, 1, 0]),
            (Some("F1"), [0, 1, 0, 1]),
            (Some("F2"), [4, 1, 0, 1]),
        ]
    );
    // Dwells of 12.4 s and 3 s: median 7.7 s → 8 s, total 15.4 s → 15 s.
    let dwells: Vec<_> = by_fixture
        .rows
        .iter()
        .map(|r| (r.dwells, r.dwell_s_median, r.dwell_s_total, r.visits))
        .collect();
    assert_eq!(
        dwells,
        [
            (Some(0), None, Some(0), None),
            (Some(0), None, Some(0), None),
            (Some(2), Some(8), Some(15), None),
        ]
    );
    // By zone: the fitting room's read in its own zone; the doors' visits
    // are not a zone's (HQ puts them on store rows only).
    let by_zone = t.report(&[Dimension::Zone]);
    let zones: Vec<(Option<&str>, [u64; 3])> = by_zone
        .rows
        .iter()
        .map(|r| (r.dims[0].as_deref(), [r.exposures, r.try_ons, r.journeys]))
        .collect();
    assert_eq!(
        zones,
        [
            (Some("knit"), [4, 0, 1]),
            (Some("room-1"), [0, 1, 0]),
            (Some("tops"), [0, 0, 1]),
        ]
    );
    let visits: Vec<(Option<String>, u64)> = t.visits_by_zone().into_iter().collect();
    assert_eq!(
        visits,
        [
            (Some("main-door".to_owned()), 3),
            (Some("side-door".to_owned()), 1)
        ]
    );
    // Visits carry no SKU: they make no row of a report by SKU, whose rows
    // show neither visits nor dwells.
    let by_sku = t.report(&[Dimension::Sku]);
    assert!(by_sku
        .rows
        .iter()
        .all(|r| r.dims[0].is_some() && r.visits.is_none() && r.dwells.is_none()));
}
