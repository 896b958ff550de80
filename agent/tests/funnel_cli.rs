//! `aisle funnel` as a user runs it: a real SQLite file in the documented
//! schema, the real binary, each output format. Expected reports are worked
//! out by hand from docs/design.md's funnel rules (see the comments in `seed`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const A: &str = "80614141123458";
const B: &str = "80614141123465";

/// Writes the documented schema and these events:
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
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("../src/event_store/sqlite/schema.sql"))
        .unwrap();
    conn.pragma_update(None, "user_version", aisle_agent::event_store::sqlite::SCHEMA_VERSION)
        .unwrap();
    let item = |id: &str, store: &str, ts: &str, event: &str, serial: &str| {
        let ts: protocol::time::UnixMillis = ts.parse().unwrap();
        conn.execute(
            "INSERT INTO events (id, store, ts_ms, event, stage, tag, gtin, serial, gateway, batch_id, received_ms)
             VALUES (?1, ?2, ?3, ?4, '-', 1, ?5, ?6, 'gw', 'b', 0)",
            rusqlite::params![id, store, ts.0, event, A, serial],
        )
        .unwrap();
    };
    let dwell = |id: &str, ts: &str, gtins: &[&str]| {
        let ts: protocol::time::UnixMillis = ts.parse().unwrap();
        conn.execute(
            "INSERT INTO events (id, store, ts_ms, event, stage, tag, fixture, gateway, batch_id, received_ms)
             VALUES (?1, 'S1', ?2, 'fixture_dwell', 'exposure', 2, 'rack-1', 'gw', 'b', 0)",
            rusqlite::params![id, ts.0],
        )
        .unwrap();
        for gtin in gtins {
            conn.execute(
                "INSERT INTO exposures (event_id, gtin, store, fixture, ts_ms) VALUES (?1, ?2, 'S1', 'rack-1', ?3)",
                rusqlite::params![id, gtin, ts.0],
            )
            .unwrap();
        }
    };
    dwell("S1-d1", "2026-11-20T09:00:00Z", &[A, B]);
    dwell("S1-d2", "2026-11-20T09:30:00Z", &[A]);
    item("S1-1", "S1", "2026-11-20T10:00:00Z", "item_pickup", "1");
    item("S1-2", "S1", "2026-11-20T10:05:00Z", "item_try_on", "1");
    item("S1-3", "S1", "2026-11-20T10:20:00Z", "item_purchase", "1");
    item("S1-4", "S1", "2026-11-20T10:00:00Z", "item_pickup", "2");
    item("S1-5", "S1", "2026-11-20T11:00:01Z", "item_try_on", "2");
    item("S1-6", "S1", "2026-11-20T10:10:00Z", "item_try_on", "3");
    item("S2-1", "S2", "2026-11-20T10:00:00Z", "item_pickup", "1");
    item("S2-2", "S2", "2026-11-20T10:01:00Z", "item_purchase", "1");
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
