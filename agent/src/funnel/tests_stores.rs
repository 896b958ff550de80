//! Hand-computed cases for the store's own funnel: visits at the door,
//! dwell by zone, the store directory's dimensions and local days, weeks
//! and hours. Each expectation is worked out in the comments from the rules
//! in docs/hq.md, not taken from a run of the program.

use super::dimension::Dimension::{self, *};
use super::directory::StoreDirectory;
use super::engine::{compute, FunnelBuilder, FunnelEvent, FunnelOptions, GarmentEvent};
use super::report::FunnelRow;
use protocol::stage::StoreEventKind::{self, *};
use protocol::time::UnixMillis;
use std::time::Duration;

const A: &str = "80614141123458";
const B: &str = "80614141123465";
const MIN: u64 = 60_000;

fn ms(rfc3339: &str) -> UnixMillis {
    rfc3339.parse().unwrap()
}

fn event(store: &str, ts: &str, kind: StoreEventKind) -> FunnelEvent {
    FunnelEvent {
        store: store.into(),
        ts: ms(ts),
        kind,
        gtin: None,
        serial: None,
        fixture: None,
        zone: None,
        gtins: vec![],
        duration: None,
        count: None,
    }
}

fn item(store: &str, serial: &str, ts: &str, kind: StoreEventKind, zone: &str) -> FunnelEvent {
    FunnelEvent {
        gtin: Some(A.into()),
        serial: Some(serial.into()),
        zone: Some(zone.into()),
        ..event(store, ts, kind)
    }
}

fn dwell(store: &str, ts: &str, fixture: &str, zone: &str, duration_ms: u64) -> FunnelEvent {
    FunnelEvent {
        fixture: Some(fixture.into()),
        zone: Some(zone.into()),
        gtins: vec![A.into(), B.into()],
        duration: Some(Duration::from_millis(duration_ms)),
        ..event(store, ts, FixtureDwell)
    }
}

fn visits(store: &str, ts: &str, count: u32) -> FunnelEvent {
    FunnelEvent {
        zone: Some("main-door".into()),
        duration: Some(Duration::from_millis(15 * MIN)),
        count: Some(count),
        ..event(store, ts, StoreVisits)
    }
}

/// S1 in Shanghai (UTC+8), S2 in Hangzhou (UTC+8), S3 in Paris; S9 is not
/// listed.
fn directory() -> StoreDirectory {
    StoreDirectory::parse(
        "store,name,region,city,brand,timezone\n\
         S1,Nanjing Rd,East,Shanghai,Aisle,Asia/Shanghai\n\
         S2,West Lake,East,Hangzhou,Aisle Outlet,Asia/Shanghai\n\
         S3,Rivoli,Europe,Paris,Aisle,Europe/Paris\n",
    )
    .unwrap()
}

fn opts(by: &[Dimension]) -> FunnelOptions {
    FunnelOptions {
        by: by.to_vec(),
        stores: directory(),
        ..FunnelOptions::default()
    }
}

fn key(row: &FunnelRow) -> Vec<&str> {
    row.dims
        .iter()
        .map(|d| d.as_deref().unwrap_or("-"))
        .collect()
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
fn a_journey_counts_in_the_local_day_of_its_opening_pickup_and_raw_steps_in_their_own() {
    // S1 is UTC+8: the pickup at 15:50Z is 23:50 on the 11th, the try-on
    // (16:10Z) and purchase (16:20Z) are on the 12th. S9 is not listed, so
    // its pickup at 23:30Z is on the 11th in UTC.
    let report = compute(
        vec![
            item("S1", "1", "2026-11-11T15:50:00Z", ItemPickup, "A"),
            item("S1", "1", "2026-11-11T16:10:00Z", ItemTryOn, "fitting"),
            item("S1", "1", "2026-11-11T16:20:00Z", ItemPurchase, "checkout"),
            item("S9", "1", "2026-11-11T23:30:00Z", ItemPickup, "A"),
        ],
        &opts(&[Day]),
    );
    let keys: Vec<_> = report.rows.iter().map(key).collect();
    assert_eq!(keys, [["2026-11-11"], ["2026-11-12"]]);
    assert_eq!(steps(&report.rows[0]), (2, 0, 0, 2, 1, 1));
    assert_eq!(steps(&report.rows[1]), (0, 1, 1, 0, 0, 0));
    assert_eq!(report.rows[0].median_s_view_to_try_on, Some(20 * 60));
}

#[test]
fn weeks_and_hours_are_the_stores_local_ones() {
    // S3 (Paris, UTC+1 in November): 2026-11-15T23:30Z is Monday 16th
    // 00:30, ISO week 47; in UTC (S9) the same instant is Sunday, week 46.
    let report = compute(
        vec![
            item("S3", "1", "2026-11-15T23:30:00Z", ItemPickup, "A"),
            item("S9", "2", "2026-11-15T23:30:00Z", ItemPickup, "A"),
        ],
        &opts(&[Store, Week, Hour]),
    );
    let keys: Vec<_> = report.rows.iter().map(key).collect();
    assert_eq!(
        keys,
        [
            ["S3", "2026-W47", "2026-11-16T00"],
            ["S9", "2026-W46", "2026-11-15T23"]
        ]
    );
}

#[test]
fn region_city_and_brand_come_from_the_directory_and_are_null_for_unlisted_stores() {
    let report = compute(
        vec![
            item("S1", "1", "2026-11-11T02:00:00Z", ItemPickup, "A"),
            item("S2", "1", "2026-11-11T02:00:00Z", ItemPickup, "A"),
            item("S3", "1", "2026-11-11T02:00:00Z", ItemPickup, "A"),
            item("S9", "1", "2026-11-11T02:00:00Z", ItemPickup, "A"),
        ],
        &opts(&[Region, City, Brand]),
    );
    let keys: Vec<_> = report.rows.iter().map(key).collect();
    assert_eq!(
        keys,
        [
            ["-", "-", "-"],
            ["East", "Hangzhou", "Aisle Outlet"],
            ["East", "Shanghai", "Aisle"],
            ["Europe", "Paris", "Aisle"]
        ]
    );
    assert!(report.rows.iter().all(|r| r.pickups == 1));
}

/// The day of the region report below, by hand:
/// - East on 2026-11-11 (local): S1 10 + S2 5 people at the door; S1's
///   dwell shows A and B (2 exposures); pickups S1 ×2 and S2 ×1; one S2
///   try-on. The S1 visit count at 16:00Z is 00:00 local on the 12th.
/// - Europe: S3 4 people, nothing else.
/// - S9 (not listed): a pickup and no door count.
fn region_day_events() -> Vec<FunnelEvent> {
    vec![
        visits("S1", "2026-11-11T02:00:00Z", 10),
        visits("S2", "2026-11-11T03:00:00Z", 5),
        visits("S1", "2026-11-11T16:00:00Z", 7),
        visits("S3", "2026-11-11T09:00:00Z", 4),
        dwell("S1", "2026-11-11T02:10:00Z", "rack-1", "A", 12_000),
        item("S1", "1", "2026-11-11T02:15:00Z", ItemPickup, "A"),
        item("S1", "2", "2026-11-11T02:16:00Z", ItemPickup, "A"),
        item("S2", "1", "2026-11-11T03:15:00Z", ItemPickup, "A"),
        item("S2", "1", "2026-11-11T03:25:00Z", ItemTryOn, "fitting"),
        item("S9", "1", "2026-11-11T03:25:00Z", ItemPickup, "A"),
    ]
}

#[test]
fn rows_keyed_by_region_and_day_carry_visits_and_figures_per_visit() {
    let report = compute(region_day_events(), &opts(&[Region, Day]));
    let keys: Vec<_> = report.rows.iter().map(key).collect();
    assert_eq!(
        keys,
        [
            ["-", "2026-11-11"],
            ["East", "2026-11-11"],
            ["East", "2026-11-12"],
            ["Europe", "2026-11-11"]
        ]
    );
    let east = &report.rows[1];
    assert_eq!(east.visits, Some(15));
    assert_eq!((east.exposures, east.pickups, east.try_ons), (2, 3, 1));
    assert_eq!(east.exposures_per_visit(), Some(2.0 / 15.0));
    assert_eq!(east.pickups_per_visit(), Some(0.2));
    assert_eq!(east.try_ons_per_visit(), Some(1.0 / 15.0));
    assert_eq!(east.purchases_per_visit(), Some(0.0));
    assert_eq!(report.rows[2].visits, Some(7));
    let europe = &report.rows[3];
    assert_eq!(
        (europe.visits, europe.pickups_per_visit()),
        (Some(4), Some(0.0))
    );
    // No door count for S9: 0 visits, so nothing per visit.
    let unlisted = &report.rows[0];
    assert_eq!((unlisted.visits, unlisted.pickups), (Some(0), 1));
    assert_eq!(unlisted.pickups_per_visit(), None);
    // Store-level rows carry no dwell figures.
    assert!(report.rows.iter().all(|r| r.dwells.is_none()));
}

#[test]
fn rows_keyed_by_a_garment_fixture_or_zone_carry_no_visits() {
    for by in [
        &[Sku][..],
        &[Store, Sku],
        &[Zone],
        &[Fixture],
        &[Store, Channel],
        &[Style, Day],
    ] {
        let report = compute(region_day_events(), &opts(by));
        assert!(
            report
                .rows
                .iter()
                .all(|r| r.visits.is_none() && r.pickups_per_visit().is_none()),
            "--by {by:?}: {report:?}"
        );
    }
}

#[test]
fn dwells_by_zone_count_each_dwell_with_its_median_and_total_in_whole_seconds() {
    // Zone A: dwells of 12 s, 7.5 s and 3 s → median 7.5 s → 8, total
    // 22.5 s → 23 (halves away from zero). Zone B: 0.4 s → 0 and 0.
    // Each dwell shows A and B: 6 exposures in A, 2 in B.
    // Pickups at rack-1 (zone A); the try-on is in the fitting room's zone,
    // the journey in the zone of its pickup.
    let events = vec![
        dwell("S1", "2026-11-11T02:00:00Z", "rack-1", "A", 12_000),
        dwell("S1", "2026-11-11T02:01:00Z", "rack-2", "A", 7_500),
        dwell("S1", "2026-11-11T02:02:00Z", "rack-1", "A", 3_000),
        dwell("S1", "2026-11-11T02:03:00Z", "table-1", "B", 400),
        item("S1", "1", "2026-11-11T02:05:00Z", ItemPickup, "A"),
        item("S1", "1", "2026-11-11T02:09:00Z", ItemTryOn, "fitting"),
        visits("S1", "2026-11-11T02:00:00Z", 30),
    ];
    let report = compute(events.clone(), &opts(&[Zone]));
    let keys: Vec<_> = report.rows.iter().map(key).collect();
    assert_eq!(keys, [["A"], ["B"], ["fitting"]]);
    let (a, b, fitting) = (&report.rows[0], &report.rows[1], &report.rows[2]);
    assert_eq!(
        (a.dwells, a.dwell_s_median, a.dwell_s_total),
        (Some(3), Some(8), Some(23))
    );
    assert_eq!(
        (b.dwells, b.dwell_s_median, b.dwell_s_total),
        (Some(1), Some(0), Some(0))
    );
    assert_eq!((a.exposures, b.exposures), (6, 2));
    assert_eq!(steps(a), (1, 0, 0, 1, 1, 0));
    assert_eq!(steps(fitting), (0, 1, 0, 0, 0, 0));
    // A row of the zone without dwells: 0 dwells, no median, total 0.
    assert_eq!(
        (
            fitting.dwells,
            fitting.dwell_s_median,
            fitting.dwell_s_total
        ),
        (Some(0), None, Some(0))
    );

    // By fixture: rack-1 has the 12 s and 3 s dwells → median 7.5 → 8,
    // total 15.
    let by_fixture = compute(events.clone(), &opts(&[Fixture]));
    let rack_1 = by_fixture
        .rows
        .iter()
        .find(|r| r.dims == [Some("rack-1".to_string())])
        .unwrap();
    assert_eq!(
        (rack_1.dwells, rack_1.dwell_s_median, rack_1.dwell_s_total),
        (Some(2), Some(8), Some(15))
    );

    // Keyed by a garment too, or not by place at all: no dwell figures.
    for by in [&[Zone, Sku][..], &[Fixture, Style], &[Store], &[Sku]] {
        let report = compute(events.clone(), &opts(by));
        assert!(
            report.rows.iter().all(|r| r.dwells.is_none()
                && r.dwell_s_median.is_none()
                && r.dwell_s_total.is_none()),
            "--by {by:?}"
        );
    }
}

#[test]
fn zone_and_hour_put_dwells_in_their_own_local_hour() {
    // S1 is UTC+8: 02:59Z is 10:59 local, 03:00Z is 11:00.
    let report = compute(
        vec![
            dwell("S1", "2026-11-11T02:59:00Z", "rack-1", "A", 10_000),
            dwell("S1", "2026-11-11T03:00:00Z", "rack-1", "A", 20_000),
            dwell("S1", "2026-11-11T03:30:00Z", "rack-1", "A", 40_000),
        ],
        &opts(&[Zone, Hour]),
    );
    let keys: Vec<_> = report.rows.iter().map(key).collect();
    assert_eq!(keys, [["A", "2026-11-11T10"], ["A", "2026-11-11T11"]]);
    assert_eq!(
        (
            report.rows[1].dwells,
            report.rows[1].dwell_s_median,
            report.rows[1].dwell_s_total
        ),
        (Some(2), Some(30), Some(60))
    );
    assert_eq!(report.rows[0].visits, None);
}

#[test]
fn before_to_a_journey_keeps_its_later_steps_but_nothing_after_to_counts() {
    // --to 12:00, window 1 h. Garment 1: pickup 11:50, try-on 12:05 (in
    // the window): a journey that reached try-on, the try-on itself not
    // counted. Garment 2: pickup 12:01: neither counted nor a journey.
    let to = ms("2026-11-11T12:00:00Z");
    let opts = FunnelOptions::default();
    let mut builder = FunnelBuilder::until(&opts, Some(to));
    let step = |ts: UnixMillis, kind| GarmentEvent {
        ts,
        kind,
        fixture: None,
        zone: None,
    };
    builder.add_garment(
        "S1",
        Some(A),
        &[
            step(ms("2026-11-11T11:50:00Z"), ItemPickup),
            step(ms("2026-11-11T12:05:00Z"), ItemTryOn),
        ],
    );
    builder.add_garment(
        "S1",
        Some(B),
        &[step(ms("2026-11-11T12:01:00Z"), ItemPickup)],
    );
    let report = builder.finish();
    assert_eq!(report.rows.len(), 1, "{report:?}");
    assert_eq!(steps(&report.rows[0]), (1, 0, 0, 1, 1, 0));
    assert_eq!(report.rows[0].median_s_view_to_try_on, Some(15 * 60));
}
