//! `aisle funnel` as a user runs it: a real event store written by the
//! collector's own code, the real binary, each output format. Expected
//! reports are worked out by hand from the funnel rules in docs/hq.md (see
//! the comments in `seed`).

use aisle_agent::event_store::{Received, SqliteStore as EventStore};
use aisle_agent::hq::validate::{validate, Verdict};
use protocol::batch::{Batch, BatchEvent, SCHEMA_V1};
use protocol::stage::StoreEventKind::{self, FixtureDwell, ItemPickup, ItemPurchase, ItemTryOn};
use protocol::time::UnixMillis;
use protocol::topics::{Topic, TopicKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const A: &str = "80614141123458";
const B: &str = "80614141123465";

fn item(id: &str, ts: &str, kind: StoreEventKind, serial: &str) -> BatchEvent {
    BatchEvent {
        gtin: Some(A.into()),
        serial: Some(serial.into()),
        ..BatchEvent::new(id.into(), ts.parse().unwrap(), kind, 1)
    }
}

fn dwell(id: &str, ts: &str, gtins: &[&str]) -> BatchEvent {
    BatchEvent {
        fixture: Some("rack-1".into()),
        duration_ms: Some(20_000),
        gtins: Some(gtins.iter().map(|g| g.to_string()).collect()),
        ..BatchEvent::new(id.into(), ts.parse().unwrap(), FixtureDwell, 2)
    }
}

/// Stores `events` as one batch of `store`, the way `aisle hq` stores a
/// batch it receives: validated from its JSON, then ingested.
fn store_batch(db: &mut EventStore, store: &str, events: Vec<BatchEvent>) {
    let batch = Batch {
        schema: SCHEMA_V1.into(),
        store: store.into(),
        gateway: "gw".into(),
        batch_id: format!("{store}-b"),
        created_at: UnixMillis(0),
        events,
    };
    let topic = Topic::new(store, TopicKind::Events).to_string();
    let payload = serde_json::to_vec(&batch).unwrap();
    let verdict = validate(&topic, &payload);
    assert!(
        matches!(&verdict, Verdict::Accepted(b) if b.bad_events.is_empty()),
        "{verdict:?}"
    );
    let received = Received {
        topic: &topic,
        payload: &payload,
        verdict: &verdict,
    };
    db.ingest(&[received], 0).unwrap();
}

/// Writes these events through the event store:
///
/// - S1 fixture rack-1: dwell at 09:00 showing A and B, dwell at 09:30
///   showing A → exposures S1/A = 2, S1/B = 1.
/// - S1, A serial 1: pickup 10:00, try-on 10:05, purchase 10:20 → a journey
///   reaching purchase (300 s to try-on, 900 s to purchase).
/// - S1, A serial 2: pickup 10:00, try-on 11:00:01 → one journey, the try-on
///   is 1 s past the 1 h window.
/// - S1, A serial 3: try-on 10:10 without a pickup.
/// - S2, A serial 1: pickup 10:00, purchase 10:01 without a try-on.
fn seed(dir: &Path) -> PathBuf {
    let path = dir.join("hq.db");
    let mut db = EventStore::open(&path).unwrap();
    store_batch(
        &mut db,
        "S1",
        vec![
            dwell("S1-d1", "2026-11-20T09:00:00Z", &[A, B]),
            dwell("S1-d2", "2026-11-20T09:30:00Z", &[A]),
            item("S1-1", "2026-11-20T10:00:00Z", ItemPickup, "1"),
            item("S1-2", "2026-11-20T10:05:00Z", ItemTryOn, "1"),
            item("S1-3", "2026-11-20T10:20:00Z", ItemPurchase, "1"),
            item("S1-4", "2026-11-20T10:00:00Z", ItemPickup, "2"),
            item("S1-5", "2026-11-20T11:00:01Z", ItemTryOn, "2"),
            item("S1-6", "2026-11-20T10:10:00Z", ItemTryOn, "3"),
        ],
    );
    store_batch(
        &mut db,
        "S2",
        vec![
            item("S2-1", "2026-11-20T10:00:00Z", ItemPickup, "1"),
            item("S2-2", "2026-11-20T10:01:00Z", ItemPurchase, "1"),
        ],
    );
    path
}

fn funnel(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
        .arg("funnel")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

fn stdout_of(db: &Path, args: &[&str]) -> String {
    let out = funnel(db, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stderr_of_failure(db: &Path, args: &[&str]) -> String {
    let out = funnel(db, args);
    assert!(!out.status.success(), "expected a failure");
    String::from_utf8(out.stderr).unwrap()
}

/// The visit and dwell keys of a row keyed by a garment: all null.
macro_rules! null_visits_and_dwells {
    () => {
        r#""visits": null, "exposures_per_visit": null, "pickups_per_visit": null, "try_ons_per_visit": null, "purchases_per_visit": null, "dwells": null, "dwell_s_median": null, "dwell_s_total": null"#
    };
}

#[test]
fn json_by_sku_and_store_matches_the_hand_computed_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let expected = concat!(
        r#"{"window_s": 3600, "by": "sku,store", "rows": ["#,
        r#"{"sku": "80614141123458", "store": "S1", "exposures": 2, "pickups": 2, "try_ons": 3, "purchases": 1, "#,
        r#""journeys": 2, "journeys_try_on": 1, "journeys_purchase": 1, "#,
        r#""exposure_to_view": 1.0, "view_to_try_on": 0.5, "try_on_to_purchase": 1.0, "view_to_purchase": 0.5, "#,
        r#""median_s_view_to_try_on": 300, "median_s_try_on_to_purchase": 900, "#,
        null_visits_and_dwells!(),
        "}, ",
        r#"{"sku": "80614141123458", "store": "S2", "exposures": 0, "pickups": 1, "try_ons": 0, "purchases": 1, "#,
        r#""journeys": 1, "journeys_try_on": 0, "journeys_purchase": 0, "#,
        r#""exposure_to_view": null, "view_to_try_on": 0.0, "try_on_to_purchase": null, "view_to_purchase": 0.0, "#,
        r#""median_s_view_to_try_on": null, "median_s_try_on_to_purchase": null, "#,
        null_visits_and_dwells!(),
        "}, ",
        r#"{"sku": "80614141123465", "store": "S1", "exposures": 1, "pickups": 0, "try_ons": 0, "purchases": 0, "#,
        r#""journeys": 0, "journeys_try_on": 0, "journeys_purchase": 0, "#,
        r#""exposure_to_view": 0.0, "view_to_try_on": null, "try_on_to_purchase": null, "view_to_purchase": null, "#,
        r#""median_s_view_to_try_on": null, "median_s_try_on_to_purchase": null, "#,
        null_visits_and_dwells!(),
        "}]}",
        "\n"
    );
    assert_eq!(
        stdout_of(&db, &["--by", "sku,store", "--format", "json"]),
        expected
    );
}

#[test]
fn a_wider_window_lets_the_late_try_on_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let json = stdout_of(
        &db,
        &["--window", "2h", "--store", "S1", "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["window_s"], 7200);
    let a = &report["rows"][0];
    assert_eq!(
        (a["sku"].as_str(), a["journeys_try_on"].as_u64()),
        (Some(A), Some(2))
    );
    // Try-ons 300 s and 3601 s after their pickups: 1950.5 s, rounded half
    // away from zero to whole seconds.
    assert_eq!(a["median_s_view_to_try_on"].as_i64(), Some(1951));
}

#[test]
fn csv_by_store_sums_the_skus() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let csv = stdout_of(&db, &["--by", "store", "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("store,exposures,pickups,"), "{csv}");
    // Store rows carry visits (no door counts here: 0, so nothing per
    // visit) and no dwell figures.
    assert_eq!(
        lines[1],
        "S1,3,2,3,1,2,1,1,0.6666666666666666,0.5,1.0,0.5,300,900,0,,,,,,,"
    );
    assert_eq!(lines[2], "S2,0,1,0,1,1,0,0,,0.0,,0.0,,,0,,,,,,,");
}

#[test]
fn table_is_the_default_and_shows_percentages() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let table = stdout_of(&db, &[]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "window 1h, by sku");
    assert!(lines[1].starts_with("sku "), "{table}");
    // S1 and S2 together for A: 3 journeys, 1 reached try-on.
    assert!(
        lines[2].starts_with(A) && lines[2].contains("33.3%"),
        "{table}"
    );
    assert!(
        lines[3].starts_with(B) && lines[3].contains("0.0%"),
        "{table}"
    );
}

#[test]
fn from_and_to_count_what_is_in_range_and_journeys_opened_in_it_to_their_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let csv = stdout_of(
        &db,
        &[
            "--by",
            "store",
            "--from",
            "2026-11-20T09:59:00Z",
            "--to",
            "2026-11-20T10:10:00Z",
            "--format",
            "csv",
        ],
    );
    // S1 counts pickups 10:00 ×2 and the try-on at 10:05; the dwells (before
    // --from), the purchase at 10:20 and the later try-ons (after --to) are
    // not counted. The journey opened at 10:00 by serial 1 still reaches
    // its purchase at 10:20, inside its window: journeys_purchase 1.
    assert_eq!(
        csv.lines().nth(1),
        Some("S1,0,2,1,0,2,1,1,,0.5,1.0,0.5,300,900,0,,,,,,,")
    );
}

#[test]
fn style_comes_from_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        format!("gtin,sku,style,name,colour,size\n{A},TEE-M,TEE,Tee,red,M\n"),
    )
    .unwrap();
    let csv = stdout_of(
        &db,
        &[
            "--by",
            "style,sku",
            "--catalog",
            catalog.to_str().unwrap(),
            "--format",
            "csv",
        ],
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    // B is not in the catalog: no style (sorted first), its GTIN as SKU.
    assert!(lines[1].starts_with(&format!(",{B},1,0,")), "{csv}");
    assert!(lines[2].starts_with("TEE,TEE-M,2,3,3,2,3,1,1,"), "{csv}");
}

#[test]
fn bad_arguments_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    assert!(stderr_of_failure(&db, &["--by", "style"]).contains("--catalog"));
    assert!(stderr_of_failure(&db, &["--by", "sku,colour"]).contains("unknown dimension `colour`"));
    assert!(stderr_of_failure(&db, &["--window", "3600"]).contains("unit"));
    assert!(stderr_of_failure(&db, &["--from", "yesterday"]).contains("RFC 3339"));
    assert!(stderr_of_failure(&dir.path().join("none.db"), &[]).contains("does not exist"));
}

/// An item event of garment A `serial` at `fixture` in `zone`.
fn placed(
    id: &str,
    ts: &str,
    kind: StoreEventKind,
    serial: &str,
    fixture: Option<&str>,
    zone: &str,
) -> BatchEvent {
    BatchEvent {
        fixture: fixture.map(str::to_string),
        zone: Some(zone.into()),
        ..item(id, ts, kind, serial)
    }
}

fn dwell_in(id: &str, ts: &str, zone: &str, duration_ms: u64) -> BatchEvent {
    BatchEvent {
        zone: Some(zone.into()),
        duration_ms: Some(duration_ms),
        ..dwell(id, ts, &[A])
    }
}

fn door(id: &str, ts: &str, count: u32) -> BatchEvent {
    BatchEvent {
        zone: Some("main-door".into()),
        duration_ms: Some(900_000),
        count: Some(count),
        ..BatchEvent::new(
            id.into(),
            ts.parse().unwrap(),
            StoreEventKind::StoreVisits,
            3,
        )
    }
}

/// S1 is in Shanghai (UTC+8, region East); S2 is not in the directory.
///
/// - S1 door counts: 12 people from 02:00Z (10:00 local on the 11th), 3 from
///   16:00Z (00:00 local on the 12th).
/// - S1 dwells in zone denim at rack-1, showing A: 30 s at 02:05Z, 10 s at
///   02:20Z → 2 exposures of A, 2 dwells, median 20 s, total 40 s.
/// - S1, A serial 1: pickup at rack-1 (denim) 02:10Z, try-on in the fitting
///   room 02:15Z, purchase at the checkout 02:30Z: one journey reaching
///   purchase (300 s, 900 s).
/// - S2, A serial 1: pickup 23:00Z on the 11th (UTC, S2 being unlisted).
fn seed_stores(dir: &Path) -> (PathBuf, PathBuf) {
    let path = dir.join("stores-hq.db");
    let mut db = EventStore::open(&path).unwrap();
    store_batch(
        &mut db,
        "S1",
        vec![
            door("S1-v1", "2026-11-11T02:00:00Z", 12),
            door("S1-v2", "2026-11-11T16:00:00Z", 3),
            dwell_in("S1-d1", "2026-11-11T02:05:00Z", "denim", 30_000),
            dwell_in("S1-d2", "2026-11-11T02:20:00Z", "denim", 10_000),
            placed(
                "S1-1",
                "2026-11-11T02:10:00Z",
                ItemPickup,
                "1",
                Some("rack-1"),
                "denim",
            ),
            placed(
                "S1-2",
                "2026-11-11T02:15:00Z",
                ItemTryOn,
                "1",
                None,
                "fitting",
            ),
            placed(
                "S1-3",
                "2026-11-11T02:30:00Z",
                ItemPurchase,
                "1",
                None,
                "checkout",
            ),
        ],
    );
    store_batch(
        &mut db,
        "S2",
        vec![placed(
            "S2-1",
            "2026-11-11T23:00:00Z",
            ItemPickup,
            "1",
            None,
            "main",
        )],
    );
    let stores = dir.join("stores.csv");
    std::fs::write(
        &stores,
        "store,name,region,city,brand,timezone\nS1,Nanjing Rd,East,Shanghai,Aisle,Asia/Shanghai\n",
    )
    .unwrap();
    (path, stores)
}

#[test]
fn by_region_and_day_rows_carry_visits_and_per_visit_figures_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (db, stores) = seed_stores(dir.path());
    let args = |format: &'static str| {
        vec![
            "--by",
            "region,day",
            "--stores",
            stores.to_str().unwrap(),
            "--format",
            format,
        ]
    };
    let out = funnel(&db, &args("json"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("does not list store S2: 1 events report null region"),
        "{stderr}"
    );
    let nothing = r#""exposure_to_view": null, "view_to_try_on": null, "try_on_to_purchase": null, "view_to_purchase": null, "median_s_view_to_try_on": null, "median_s_try_on_to_purchase": null"#;
    let no_dwells = r#""dwells": null, "dwell_s_median": null, "dwell_s_total": null"#;
    let expected = [
        r#"{"window_s": 3600, "by": "region,day", "rows": ["#.to_string(),
        // S2: no region, UTC day; a pickup, no door count.
        r#"{"region": null, "day": "2026-11-11", "exposures": 0, "pickups": 1, "try_ons": 0, "purchases": 0, "journeys": 1, "journeys_try_on": 0, "journeys_purchase": 0, "exposure_to_view": null, "view_to_try_on": 0.0, "try_on_to_purchase": null, "view_to_purchase": 0.0, "median_s_view_to_try_on": null, "median_s_try_on_to_purchase": null, "visits": 0, "exposures_per_visit": null, "pickups_per_visit": null, "try_ons_per_visit": null, "purchases_per_visit": null, "#.to_string(),
        format!("{no_dwells}}}, "),
        // S1 on the 11th: 12 people; 2 exposures, 1 of each step.
        r#"{"region": "East", "day": "2026-11-11", "exposures": 2, "pickups": 1, "try_ons": 1, "purchases": 1, "journeys": 1, "journeys_try_on": 1, "journeys_purchase": 1, "exposure_to_view": 0.5, "view_to_try_on": 1.0, "try_on_to_purchase": 1.0, "view_to_purchase": 1.0, "median_s_view_to_try_on": 300, "median_s_try_on_to_purchase": 900, "visits": 12, "exposures_per_visit": 0.16666666666666666, "pickups_per_visit": 0.08333333333333333, "try_ons_per_visit": 0.08333333333333333, "purchases_per_visit": 0.08333333333333333, "#.to_string(),
        format!("{no_dwells}}}, "),
        // S1 on the 12th (local): the 3 people after midnight only.
        r#"{"region": "East", "day": "2026-11-12", "exposures": 0, "pickups": 0, "try_ons": 0, "purchases": 0, "journeys": 0, "journeys_try_on": 0, "journeys_purchase": 0, "#.to_string(),
        format!("{nothing}, "),
        r#""visits": 3, "exposures_per_visit": 0.0, "pickups_per_visit": 0.0, "try_ons_per_visit": 0.0, "purchases_per_visit": 0.0, "#.to_string(),
        format!("{no_dwells}}}]}}\n"),
    ]
    .concat();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);

    let csv = stdout_of(&db, &args("csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[2],
        "East,2026-11-11,2,1,1,1,1,1,1,0.5,1.0,1.0,1.0,300,900,12,\
         0.16666666666666666,0.08333333333333333,0.08333333333333333,0.08333333333333333,,,"
    );
    let table = stdout_of(&db, &args("table"));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "window 1h, by region,day");
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        header[header.len() - 5..],
        [
            "visits",
            "expo/visit",
            "pick/visit",
            "try/visit",
            "buy/visit"
        ]
    );
    let east: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(
        east[east.len() - 5..],
        ["12", "0.17", "0.08", "0.08", "0.08"]
    );
}

#[test]
fn by_zone_and_hour_rows_carry_dwells_in_the_stores_local_hours() {
    let dir = tempfile::tempdir().unwrap();
    let (db, stores) = seed_stores(dir.path());
    let csv = stdout_of(
        &db,
        &[
            "--by",
            "zone,hour",
            "--store",
            "S1",
            "--stores",
            stores.to_str().unwrap(),
            "--format",
            "csv",
        ],
    );
    // Local hours (UTC+8): everything of S1 but the late door count is in
    // 10:00–10:59; door counts are not on zone rows.
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[1..],
        [
            "checkout,2026-11-11T10,0,0,0,1,0,0,0,,,,,,,,,,,,0,,0",
            "denim,2026-11-11T10,2,1,0,0,1,1,1,0.5,1.0,1.0,1.0,300,900,,,,,,2,20,40",
            "fitting,2026-11-11T10,0,0,1,0,0,0,0,,,,,,,,,,,,0,,0",
        ],
        "{csv}"
    );
}

#[test]
fn a_bad_store_directory_is_refused_with_file_line_and_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let stores = dir.path().join("stores.csv");
    let refused = |text: &str, by: &str| {
        std::fs::write(&stores, text).unwrap();
        stderr_of_failure(&db, &["--by", by, "--stores", stores.to_str().unwrap()])
    };
    let at = |line: usize| format!("{}:{line}: ", stores.display());
    let head = "store,name,region,city,brand,timezone\n";
    let err = refused("store,name,region,city,timezone\n", "region");
    assert!(
        err.contains(&at(1)) && err.contains("the header must be"),
        "{err}"
    );
    let err = refused(&format!("{head}S1,a,b,c,d,UTC\nS2,a,b,c,UTC\n"), "region");
    assert!(
        err.contains(&at(3)) && err.contains("expected 6 fields"),
        "{err}"
    );
    let err = refused(&format!("{head}S1,a,b,c,d,Asia/Shangai\n"), "day");
    assert!(
        err.contains(&at(2)) && err.contains("unknown time zone `Asia/Shangai`"),
        "{err}"
    );
    let err = refused(&format!("{head}S1,a,b,c,d,\nS1,a,b,c,d,\n"), "store");
    assert!(
        err.contains(&at(3)) && err.contains("listed twice (first on line 2)"),
        "{err}"
    );
    assert!(stderr_of_failure(&db, &["--by", "region"]).contains("--stores"));
    let err = stderr_of_failure(
        &db,
        &["--stores", dir.path().join("none.csv").to_str().unwrap()],
    );
    assert!(err.contains("cannot read store directory"), "{err}");
}
