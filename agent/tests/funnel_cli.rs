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

#[test]
fn json_by_sku_and_store_matches_the_hand_computed_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let expected = concat!(
        r#"{"window_s": 3600, "by": "sku,store", "rows": ["#,
        r#"{"sku": "80614141123458", "store": "S1", "exposures": 2, "pickups": 2, "try_ons": 3, "purchases": 1, "#,
        r#""journeys": 2, "journeys_try_on": 1, "journeys_purchase": 1, "#,
        r#""exposure_to_view": 1.0, "view_to_try_on": 0.5, "try_on_to_purchase": 1.0, "view_to_purchase": 0.5, "#,
        r#""median_s_view_to_try_on": 300, "median_s_try_on_to_purchase": 900}, "#,
        r#"{"sku": "80614141123458", "store": "S2", "exposures": 0, "pickups": 1, "try_ons": 0, "purchases": 1, "#,
        r#""journeys": 1, "journeys_try_on": 0, "journeys_purchase": 0, "#,
        r#""exposure_to_view": null, "view_to_try_on": 0.0, "try_on_to_purchase": null, "view_to_purchase": 0.0, "#,
        r#""median_s_view_to_try_on": null, "median_s_try_on_to_purchase": null}, "#,
        r#"{"sku": "80614141123465", "store": "S1", "exposures": 1, "pickups": 0, "try_ons": 0, "purchases": 0, "#,
        r#""journeys": 0, "journeys_try_on": 0, "journeys_purchase": 0, "#,
        r#""exposure_to_view": 0.0, "view_to_try_on": null, "try_on_to_purchase": null, "view_to_purchase": null, "#,
        r#""median_s_view_to_try_on": null, "median_s_try_on_to_purchase": null}]}"#,
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
    assert_eq!(
        lines[1],
        "S1,3,2,3,1,2,1,1,0.6666666666666666,0.5,1.0,0.5,300,900"
    );
    assert_eq!(lines[2], "S2,0,1,0,1,1,0,0,,0.0,,0.0,,");
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
fn from_and_to_keep_only_events_in_the_range() {
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
    // S1 keeps pickups 10:00 ×2 and the try-on at 10:05; the dwells, the
    // purchase and the later try-ons are out of range.
    assert_eq!(
        csv.lines().nth(1),
        Some("S1,0,2,1,0,2,1,0,,0.5,0.0,0.0,300,")
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
