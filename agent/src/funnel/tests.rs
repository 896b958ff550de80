//! Hand-computed funnel cases: each expected count below was worked out from
//! the rules of docs/design.md ("The funnel"), not taken from a run of the program.

use super::dimension::{self, Dimension};
use super::engine::{self, compute, FunnelEvent, FunnelOptions};
use super::report::{FunnelReport, FunnelRow};
use super::Catalog;
use protocol::stage::StoreEventKind::{self, FixtureDwell, ItemPickup, ItemPurchase, ItemTryOn};
use protocol::time::UnixMillis;
use std::time::Duration;

const W: i64 = 3_600_000;
const S: i64 = 1000;
const DAY: i64 = 86_400_000;
const A: &str = "80614141123458";
const B: &str = "80614141123465";

fn item(store: &str, gtin: &str, serial: &str, ts_ms: i64, kind: StoreEventKind) -> FunnelEvent {
    FunnelEvent {
        store: store.into(),
        ts: UnixMillis(ts_ms),
        kind,
        gtin: Some(gtin.into()),
        serial: Some(serial.into()),
        fixture: None,
        gtins: vec![],
        zone: None,
        duration: None,
        count: None,
    }
}

fn at_fixture(mut event: FunnelEvent, fixture: &str) -> FunnelEvent {
    event.fixture = Some(fixture.into());
    event
}

fn dwell(store: &str, fixture: &str, ts_ms: i64, gtins: &[&str]) -> FunnelEvent {
    FunnelEvent {
        store: store.into(),
        ts: UnixMillis(ts_ms),
        kind: FixtureDwell,
        gtin: None,
        serial: None,
        fixture: Some(fixture.into()),
        gtins: gtins.iter().map(|g| g.to_string()).collect(),
        zone: None,
        duration: None,
        count: None,
    }
}

fn by(dims: &[Dimension]) -> FunnelOptions {
    FunnelOptions {
        by: dims.to_vec(),
        ..FunnelOptions::default()
    }
}

/// The one row of a single-SKU report.
fn only_row(events: Vec<FunnelEvent>) -> FunnelRow {
    let report = compute(events, &FunnelOptions::default());
    assert_eq!(report.rows.len(), 1, "{report:?}");
    report.rows.into_iter().next().unwrap()
}

/// (pickups, try_ons, purchases, journeys, journeys_try_on, journeys_purchase)
fn steps(row: &FunnelRow) -> (u64, u64, u64, u64, u64, u64) {
    (
        row.pickups,
        row.try_ons,
        row.purchases,
        row.journeys,
        row.journeys_try_on,
        row.journeys_purchase,
    )
}

#[test]
fn try_on_exactly_w_after_the_pickup_is_inside_the_window() {
    let row = only_row(vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", W, ItemTryOn),
    ]);
    assert_eq!(steps(&row), (1, 1, 0, 1, 1, 0));
}

#[test]
fn try_on_w_plus_1ms_after_the_pickup_is_outside_the_window() {
    let row = only_row(vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", W + 1, ItemTryOn),
    ]);
    assert_eq!(steps(&row), (1, 1, 0, 1, 0, 0));
}

#[test]
fn purchase_must_also_fall_inside_the_window() {
    let inside = only_row(vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 10 * S, ItemTryOn),
        item("S1", A, "1", W, ItemPurchase),
    ]);
    assert_eq!(steps(&inside), (1, 1, 1, 1, 1, 1));
    let outside = only_row(vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 10 * S, ItemTryOn),
        item("S1", A, "1", W + 1, ItemPurchase),
    ]);
    assert_eq!(steps(&outside), (1, 1, 1, 1, 1, 0));
}

#[test]
fn re_pickups_inside_a_journey_count_but_open_nothing() {
    let row = only_row(vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 60 * S, ItemPickup),
        item("S1", A, "1", W, ItemPickup),
        item("S1", A, "1", W + 1, ItemTryOn),
    ]);
    // The pickup at W is inside the first journey, so it opens nothing and
    // the try-on at W + 1 finds no open journey.
    assert_eq!(steps(&row), (3, 1, 0, 1, 0, 0));
}

#[test]
fn a_pickup_after_the_window_opens_a_new_journey() {
    let row = only_row(vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 5 * S, ItemTryOn),
        item("S1", A, "1", W + 1, ItemPickup),
        item("S1", A, "1", W + 2, ItemTryOn),
        item("S1", A, "1", W + 3, ItemPurchase),
    ]);
    assert_eq!(steps(&row), (2, 2, 1, 2, 2, 1));
    assert_eq!(row.view_to_try_on(), Some(1.0));
    assert_eq!(row.try_on_to_purchase(), Some(0.5));
    assert_eq!(row.view_to_purchase(), Some(0.5));
}

#[test]
fn purchase_without_try_on_counts_raw_but_not_as_a_step() {
    let row = only_row(vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 60 * S, ItemPurchase),
    ]);
    assert_eq!(steps(&row), (1, 0, 1, 1, 0, 0));
    assert_eq!(row.try_on_to_purchase(), None);
    assert_eq!(row.view_to_purchase(), Some(0.0));
}

#[test]
fn purchase_before_the_try_on_is_skipped_and_a_later_one_counts() {
    let row = only_row(vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 10 * S, ItemPurchase),
        item("S1", A, "1", 20 * S, ItemTryOn),
        item("S1", A, "1", 30 * S, ItemPurchase),
    ]);
    assert_eq!(steps(&row), (1, 1, 2, 1, 1, 1));
    assert_eq!(row.median_s_try_on_to_purchase, Some(10));
}

#[test]
fn try_on_without_pickup_counts_raw_and_leaves_rates_null() {
    let row = only_row(vec![
        item("S1", A, "1", 0, ItemTryOn),
        item("S1", A, "1", 5 * S, ItemPurchase),
    ]);
    assert_eq!(steps(&row), (0, 1, 1, 0, 0, 0));
    assert_eq!(row.exposure_to_view(), None);
    assert_eq!(row.view_to_try_on(), None);
    assert_eq!(row.try_on_to_purchase(), None);
    assert_eq!(row.view_to_purchase(), None);
    assert_eq!(row.median_s_view_to_try_on, None);
}

#[test]
fn equal_timestamps_are_not_strictly_after() {
    // Try-on at the pickup's instant, purchase at the try-on's instant:
    // neither is a step. The later try-on is.
    let row = only_row(vec![
        item("S1", A, "1", 0, ItemTryOn),
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 7 * S, ItemPurchase),
        item("S1", A, "1", 7 * S, ItemTryOn),
    ]);
    assert_eq!(steps(&row), (1, 2, 1, 1, 1, 0));
    assert_eq!(row.median_s_view_to_try_on, Some(7));
}

#[test]
fn two_stores_keep_separate_journeys_for_the_same_garment() {
    let events = vec![
        item("S2", A, "1", 0, ItemPickup),
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 10 * S, ItemTryOn),
        item("S2", A, "1", 20 * S, ItemPurchase),
        item("S2", B, "9", 30 * S, ItemPickup),
    ];
    let report = compute(events.clone(), &by(&[Dimension::Sku, Dimension::Store]));
    let keys: Vec<_> = report.rows.iter().map(|r| r.dims.clone()).collect();
    let key = |g: &str, s: &str| vec![Some(g.to_string()), Some(s.to_string())];
    assert_eq!(keys, vec![key(A, "S1"), key(A, "S2"), key(B, "S2")]);
    assert_eq!(steps(&report.rows[0]), (1, 1, 0, 1, 1, 0));
    assert_eq!(steps(&report.rows[1]), (1, 0, 1, 1, 0, 0));
    assert_eq!(steps(&report.rows[2]), (1, 0, 0, 1, 0, 0));

    let by_store = compute(events, &by(&[Dimension::Store]));
    assert_eq!(by_store.rows.len(), 2);
    assert_eq!(by_store.rows[1].dims, vec![Some("S2".to_string())]);
    assert_eq!(steps(&by_store.rows[1]), (2, 0, 1, 2, 0, 0));
}

#[test]
fn out_of_order_and_days_late_events_give_the_time_ordered_result() {
    let day0 = 20 * DAY;
    let in_order = vec![
        item("S1", A, "1", day0, ItemPickup),
        item("S1", A, "1", day0 + 60 * S, ItemTryOn),
        item("S1", A, "1", day0 + 120 * S, ItemPurchase),
        item("S1", A, "2", day0 + DAY, ItemPickup),
        item("S1", A, "2", day0 + DAY + 10 * S, ItemTryOn),
    ];
    let expected = compute(in_order.clone(), &FunnelOptions::default());
    assert_eq!(steps(&expected.rows[0]), (2, 2, 1, 2, 2, 1));
    // Arrival order: the next day's events first, the store's day-old
    // backlog after, itself reversed.
    let mut arrived = vec![in_order[3].clone(), in_order[4].clone()];
    arrived.extend(in_order[..3].iter().rev().cloned());
    assert_eq!(compute(arrived, &FunnelOptions::default()), expected);
}

#[test]
fn exposures_count_each_gtin_on_the_dwelt_fixture_once_per_dwell() {
    let report = compute(
        vec![
            dwell("S1", "rack-1", 0, &[A, B, A]),
            dwell("S1", "rack-1", 60 * S, &[A]),
            dwell("S1", "rack-2", 90 * S, &[]),
            item("S1", A, "1", 100 * S, ItemPickup),
            item("S1", A, "2", 100 * S, ItemPickup),
            item("S1", A, "3", 100 * S, ItemPickup),
        ],
        &FunnelOptions::default(),
    );
    assert_eq!(report.rows.len(), 2);
    assert_eq!((report.rows[0].exposures, report.rows[0].pickups), (2, 3));
    assert_eq!(report.rows[0].exposure_to_view(), Some(1.5));
    assert_eq!((report.rows[1].exposures, report.rows[1].pickups), (1, 0));
    assert_eq!(report.rows[1].exposure_to_view(), Some(0.0));
}

#[test]
fn medians_are_over_journeys_reaching_the_step() {
    let mut events = Vec::new();
    for (serial, try_on_after_s) in [("1", 10), ("2", 20), ("3", 40), ("4", 30)] {
        events.push(item("S1", A, serial, 0, ItemPickup));
        events.push(item("S1", A, serial, try_on_after_s * S, ItemTryOn));
    }
    events.push(item("S1", A, "5", 0, ItemPickup));
    events.push(item("S1", A, "1", 15 * S, ItemPurchase));
    events.push(item("S1", A, "3", 41 * S, ItemPurchase));
    let row = only_row(events);
    assert_eq!(steps(&row), (5, 4, 2, 5, 4, 2));
    assert_eq!(row.median_s_view_to_try_on, Some(25));
    assert_eq!(row.median_s_try_on_to_purchase, Some(3));
}

#[test]
fn medians_round_to_the_nearest_second_half_away_from_zero() {
    // (step gaps in ms, expected median in whole seconds), worked by hand.
    let cases: [(&[i64], i64); 8] = [
        (&[6_999], 7),
        (&[7_499], 7),
        (&[7_500], 8),
        (&[7_000, 8_000], 8),      // mean 7.5 s
        (&[6_999, 7_000], 7),      // mean 6.9995 s
        (&[1_000, 1_999], 1),      // mean 1.4995 s: rounded once, not per value
        (&[9_000, 500, 2_000], 2), // odd count: the middle value
        (&[-1_500], -2),           // away from zero on the negative side too
    ];
    for (gaps, expected) in cases {
        assert_eq!(
            engine::median_s(&mut gaps.to_vec()),
            Some(expected),
            "{gaps:?}"
        );
    }
    assert_eq!(engine::median_s(&mut []), None);
}

#[test]
fn report_medians_are_whole_seconds_in_json_csv_and_table() {
    // Try-ons 6.999 s and 8.2 s after their pickups: median 7.5995 s → 8;
    // one purchase 29.4 s after its try-on → 29.
    let events = vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 6_999, ItemTryOn),
        item("S1", A, "1", 36_399, ItemPurchase),
        item("S1", A, "2", 0, ItemPickup),
        item("S1", A, "2", 8_200, ItemTryOn),
    ];
    let report = compute(events, &by(&[Dimension::Sku]));
    let row = &report.rows[0];
    assert_eq!(
        (row.median_s_view_to_try_on, row.median_s_try_on_to_purchase),
        (Some(8), Some(29))
    );
    assert!(
        report
            .to_json()
            .contains("\"median_s_view_to_try_on\": 8, \"median_s_try_on_to_purchase\": 29, "),
        "{}",
        report.to_json()
    );
    assert!(
        report.render_csv().ends_with(",8,29,,,,,,,,\n"),
        "{}",
        report.render_csv()
    );
    let table = report.render_table();
    let cells: Vec<&str> = table
        .lines()
        .nth(2)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(cells[cells.len() - 2..], ["8", "29"], "{table}");
}

#[test]
fn a_journey_belongs_to_the_fixture_of_the_pickup_that_opened_it() {
    let events = vec![
        at_fixture(item("S1", A, "1", 0, ItemPickup), "rack-2"),
        at_fixture(item("S1", A, "1", 0, ItemPickup), "rack-1"),
        item("S1", A, "1", 10 * S, ItemTryOn),
        dwell("S1", "rack-1", 5 * S, &[A]),
    ];
    let report = compute(events, &by(&[Dimension::Fixture]));
    let keys: Vec<_> = report.rows.iter().map(|r| r.dims[0].clone()).collect();
    assert_eq!(
        keys,
        vec![None, Some("rack-1".to_string()), Some("rack-2".to_string())]
    );
    // Same-instant pickups: rack-1 sorts first, so it opens the journey.
    assert_eq!(steps(&report.rows[1]), (1, 0, 0, 1, 1, 0));
    assert_eq!(report.rows[1].exposures, 1);
    assert_eq!(steps(&report.rows[2]), (1, 0, 0, 0, 0, 0));
    // The try-on has no fixture of its own.
    assert_eq!(steps(&report.rows[0]), (0, 1, 0, 0, 0, 0));
}

#[test]
fn style_and_sku_come_from_the_catalog() {
    let catalog = Catalog::parse(&format!(
        "gtin,sku,style,name,colour,size\n{A},TS-RED-M,TS,Tee,red,M\n{B},TS-RED-L,TS,Tee,red,L\n"
    ))
    .unwrap();
    let events = vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", B, "1", 0, ItemPickup),
        item("S1", "00000000000017", "1", 0, ItemPickup),
    ];
    let opts = FunnelOptions {
        by: vec![Dimension::Style, Dimension::Sku],
        catalog,
        ..FunnelOptions::default()
    };
    let report = compute(events, &opts);
    let keys: Vec<_> = report.rows.iter().map(|r| r.dims.clone()).collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        keys,
        vec![
            vec![None, s("00000000000017")],
            vec![s("TS"), s("TS-RED-L")],
            vec![s("TS"), s("TS-RED-M")]
        ]
    );
}

/// The row of docs/hq.md's example, built by hand.
fn example_report() -> FunnelReport {
    let row = FunnelRow {
        dims: vec![Some(A.to_string()), Some("S1".to_string())],
        exposures: 3,
        pickups: 7,
        try_ons: 4,
        purchases: 3,
        journeys: 5,
        journeys_try_on: 3,
        journeys_purchase: 2,
        median_s_view_to_try_on: Some(13),
        median_s_try_on_to_purchase: None,
        ..FunnelRow::default()
    };
    FunnelReport::new(
        Duration::from_secs(3600),
        vec![Dimension::Sku, Dimension::Store],
        vec![row],
    )
}

#[test]
fn json_has_the_documented_keys_in_order() {
    let expected = concat!(
        r#"{"window_s": 3600, "by": "sku,store", "rows": ["#,
        r#"{"sku": "80614141123458", "store": "S1", "exposures": 3, "pickups": 7, "try_ons": 4, "purchases": 3, "#,
        r#""journeys": 5, "journeys_try_on": 3, "journeys_purchase": 2, "#,
        r#""exposure_to_view": 2.3333333333333335, "view_to_try_on": 0.6, "try_on_to_purchase": 0.6666666666666666, "view_to_purchase": 0.4, "#,
        r#""median_s_view_to_try_on": 13, "median_s_try_on_to_purchase": null, "#,
        r#""visits": null, "exposures_per_visit": null, "pickups_per_visit": null, "try_ons_per_visit": null, "purchases_per_visit": null, "#,
        r#""dwells": null, "dwell_s_median": null, "dwell_s_total": null}]}"#,
        "\n"
    );
    assert_eq!(example_report().to_json(), expected);
}

#[test]
fn csv_leaves_nulls_empty_and_quotes_commas() {
    let mut report = example_report();
    report.rows[0].dims[1] = Some("S,1".to_string());
    let csv = report.render_csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "sku,store,exposures,pickups,try_ons,purchases,journeys,journeys_try_on,journeys_purchase,\
             exposure_to_view,view_to_try_on,try_on_to_purchase,view_to_purchase,\
             median_s_view_to_try_on,median_s_try_on_to_purchase,\
             visits,exposures_per_visit,pickups_per_visit,try_ons_per_visit,purchases_per_visit,\
             dwells,dwell_s_median,dwell_s_total"
        )
    );
    assert_eq!(
        lines.next(),
        Some("80614141123458,\"S,1\",3,7,4,3,5,3,2,2.3333333333333335,0.6,0.6666666666666666,0.4,13,,,,,,,,,")
    );
    assert_eq!(lines.next(), None);
}

#[test]
fn table_shows_percentages_and_aligns_columns() {
    let table = example_report().render_table();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "window 1h, by sku,store");
    assert!(
        lines[2].contains("233.3%") && lines[2].contains("60.0%") && lines[2].contains("40.0%"),
        "{table}"
    );
    assert!(
        lines[2].contains(" 13 ") && lines[2].ends_with(" -"),
        "{table}"
    );
    // Right-aligned numbers: each column ends at the same place in every line.
    let end_of = |line: &str, word: &str| line.find(word).map(|i| i + word.len());
    assert_eq!(end_of(lines[1], "pickups"), end_of(lines[2], " 7"));
}

#[test]
fn by_lists_parse_in_order_and_reject_unknowns() {
    assert_eq!(
        dimension::parse_by("sku,store"),
        Ok(vec![Dimension::Sku, Dimension::Store])
    );
    assert_eq!(
        dimension::parse_by("fixture, style"),
        Ok(vec![Dimension::Fixture, Dimension::Style])
    );
    assert!(dimension::parse_by("sku,colour").is_err());
    assert!(dimension::parse_by("sku,sku").is_err());
    assert!(dimension::parse_by("").is_err());
}

#[test]
fn builders_over_disjoint_stores_absorb_into_the_whole() {
    let events = vec![
        item("S1", A, "1", 0, ItemPickup),
        item("S1", A, "1", 10 * S, ItemTryOn),
        item("S2", A, "1", 0, ItemPickup),
        item("S2", A, "1", 30 * S, ItemTryOn),
        dwell("S2", "rack-1", 0, &[A]),
    ];
    let opts = FunnelOptions::default();
    let whole = compute(events.clone(), &opts);
    let (s1, s2): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.store == "S1");
    let mut merged = engine::FunnelBuilder::new(&opts);
    for part in [s1, s2] {
        // Each store holds one garment of A here.
        let mut builder = engine::FunnelBuilder::new(&opts);
        let mut garment = Vec::new();
        for e in &part {
            if e.kind == FixtureDwell {
                builder.add_exposures(&e.store, A, None, None, e.ts, 1);
            } else {
                garment.push(engine::GarmentEvent {
                    ts: e.ts,
                    kind: e.kind,
                    fixture: None,
                    zone: None,
                });
            }
        }
        builder.add_garment(&part[0].store, Some(A), &garment);
        merged.absorb(builder);
    }
    let merged = merged.finish();
    assert_eq!(merged, whole);
    assert_eq!(
        (
            merged.rows[0].exposures,
            merged.rows[0].pickups,
            merged.rows[0].journeys_try_on
        ),
        (1, 2, 2)
    );
    assert_eq!(merged.rows[0].median_s_view_to_try_on, Some(20));
}
