//! `aisle export` and `aisle online import` as a user runs them, on a
//! database written by the collector's own ingest code. Every exported
//! document is checked field by field against the fields its format's
//! published specification requires: Youshu's data specification for each
//! behaviour (common attributes, `sku`/`spu`, `add_to_cart`'s `action_type`
//! and `sku_num`, `custom_order`'s `order`), and GA4's BigQuery export
//! columns with the ecommerce events' required `items[].item_id` and the
//! purchase's `transaction_id`.

use aisle_agent::event_store::{Received, SqliteStore};
use aisle_agent::hq::validate::validate;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const A: &str = "80614141123458";
const B: &str = "80614141123465";
const TOPIC: &str = "aisle/v1/stores/S1/events";

fn item(id: &str, ts: &str, kind: &str, serial: &str) -> Value {
    let stage = match kind {
        "item_pickup" => "view",
        "item_try_on" => "try_on",
        _ => "purchase",
    };
    json!({"id": id, "ts": ts, "event": kind, "stage": stage, "tag": 7,
           "gtin": A, "serial": serial})
}

/// S1: a dwell at 09:00 showing A and B; garment A/1 picked up at 10:00,
/// tried on at 10:05, bought at 10:20; garment A/2 picked up at 10:00.
fn seed(dir: &Path) -> PathBuf {
    let path = dir.join("hq.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let payload = json!({"schema": "aisle.batch.v1", "store": "S1", "gateway": "gw-1",
        "batch_id": "b-1", "created_at": "2026-11-20T10:30:00.000Z", "events": [
        {"id": "S1-d", "ts": "2026-11-20T09:00:00Z", "event": "fixture_dwell", "stage": "exposure",
         "tag": 9, "fixture": "rack-1", "duration_ms": 12000, "gtins": [A, B]},
        item("S1-1", "2026-11-20T10:00:00Z", "item_pickup", "1"),
        item("S1-2", "2026-11-20T10:05:00Z", "item_try_on", "1"),
        item("S1-3", "2026-11-20T10:20:00Z", "item_purchase", "1"),
        item("S1-4", "2026-11-20T10:00:00Z", "item_pickup", "2"),
    ]})
    .to_string();
    let verdict = validate(TOPIC, payload.as_bytes());
    let counts = store
        .ingest(
            &[Received {
                topic: TOPIC,
                payload: payload.as_bytes(),
                verdict: &verdict,
            }],
            1,
        )
        .unwrap();
    assert_eq!(counts.inserted, 5);
    path
}

fn aisle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(args)
        .output()
        .expect("run aisle")
}

/// `aisle online import --db DB --format FORMAT --channel CHANNEL FILES…`.
fn import(db: &str, format: &str, channel: &str, files: &[&str]) -> Output {
    let mut args = vec![
        "online",
        "import",
        "--db",
        db,
        "--format",
        format,
        "--channel",
        channel,
    ];
    args.extend_from_slice(files);
    aisle(&args)
}

/// The stderr of a run that must fail with a one-line error.
fn one_line_error(out: Output) -> String {
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

fn export(db: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["export", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = aisle(&args);
    assert!(
        out.status.success(),
        "aisle export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn text<'a>(doc: &'a Value, path: &[&str]) -> &'a str {
    let mut at = doc;
    for key in path {
        at = &at[key];
    }
    at.as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("{} must be a non-empty string in {doc}", path.join(".")))
}

fn ms(ts: &str) -> i64 {
    ts.parse::<protocol::time::UnixMillis>().unwrap().0
}

fn catalog(dir: &Path) -> PathBuf {
    let path = dir.join("catalog.csv");
    std::fs::write(
        &path,
        format!("gtin,sku,style,name,colour,size\n{A},TS-RED-M,TS,Crew tee,red,M\n{B},TS-RED-L,TS,Crew tee,red,L\n"),
    )
    .unwrap();
    path
}

#[test]
fn youshu_export_has_every_required_field_of_each_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let catalog = catalog(dir.path());
    let lines = export(
        &db,
        &[
            "--format",
            "youshu",
            "--catalog",
            catalog.to_str().unwrap(),
            "--app-id",
            "wx-stores",
        ],
    );
    let kinds: Vec<&str> = lines.iter().map(|l| text(l, &["type"])).collect();
    // One exposure line per SKU on display, then garment by garment.
    assert_eq!(
        kinds,
        [
            "expose_sku_component",
            "expose_sku_component",
            "browse_sku_page",
            "add_to_cart",
            "custom_order",
            "browse_sku_page"
        ]
    );
    for line in &lines {
        // Common attributes: page (no leading slash), a 13-digit ms time,
        // wx_user.app_id and open_id; chan.chan_wxapp_scene; the store.
        assert!(!text(line, &["page"]).starts_with('/'), "{line}");
        let time = line["time"].as_i64().expect("time is an integer");
        assert_eq!(time.to_string().len(), 13, "{line}");
        assert_eq!(text(line, &["wx_user", "app_id"]), "wx-stores");
        text(line, &["wx_user", "open_id"]);
        assert!(line["chan"]["chan_wxapp_scene"].is_i64(), "{line}");
        assert_eq!(text(line, &["chan", "chan_shop_id"]), "S1");
        text(line, &["chan", "chan_shop_name"]);
        // Commodity attributes: sku_id/sku_name, spu_id/spu_name.
        text(line, &["sku", "sku_name"]);
        assert_eq!(text(line, &["spu", "spu_id"]), "TS");
        text(line, &["spu", "spu_name"]);
    }
    assert_eq!(text(&lines[0], &["sku", "sku_id"]), "TS-RED-M");
    assert_eq!(text(&lines[1], &["sku", "sku_id"]), "TS-RED-L");
    assert_eq!(text(&lines[2], &["sku", "sku_name"]), "Crew tee");
    assert_eq!(lines[2]["time"], ms("2026-11-20T10:00:00Z"));
    let cart = &lines[3];
    assert_eq!(text(cart, &["action_type"]), "append_to_cart");
    assert!(cart["sku_num"].as_i64() > Some(0), "{cart}");
    let order = &lines[4];
    assert_eq!(text(order, &["order", "order_id"]), "S1-3");
    assert_eq!(text(order, &["order", "order_status"]), "pay");
    assert_eq!(order["order"]["order_time"], ms("2026-11-20T10:20:00Z"));
    // The user is the garment: one pseudonym for A/1's steps, another for A/2.
    let user = |i: usize| text(&lines[i], &["wx_user", "open_id"]).to_string();
    assert_eq!((user(2), user(3)), (user(4), user(4)));
    assert_ne!(user(2), user(5));
    assert!(
        !user(2).contains(A),
        "the pseudonym does not show the garment"
    );
}

#[test]
fn ga4_export_has_every_required_column_and_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let rows = export(&db, &["--format", "ga4"]);
    let names: Vec<&str> = rows.iter().map(|r| text(r, &["event_name"])).collect();
    assert_eq!(
        names,
        [
            "view_item_list",
            "view_item",
            "add_to_cart",
            "purchase",
            "view_item"
        ]
    );
    for row in &rows {
        assert_eq!(text(row, &["event_date"]), "20261120");
        assert!(row["event_timestamp"].is_i64(), "{row}");
        text(row, &["user_pseudo_id"]);
        let items = row["items"].as_array().expect("items");
        assert!(!items.is_empty(), "{row}");
        for item in items {
            text(item, &["item_id"]);
            assert_eq!(text(item, &["location_id"]), "S1");
            assert_eq!(item["quantity"], 1);
        }
    }
    // One row per dwell, one item per SKU on display.
    let shown: Vec<&str> = rows[0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| text(i, &["item_id"]))
        .collect();
    assert_eq!(shown, [A, B]);
    assert_eq!(
        rows[1]["event_timestamp"].as_i64(),
        Some(ms("2026-11-20T10:00:00Z") * 1000),
        "microseconds"
    );
    assert_eq!(text(&rows[3], &["ecommerce", "transaction_id"]), "S1-3");
    assert_eq!(rows[1]["user_pseudo_id"], rows[3]["user_pseudo_id"]);
    assert_ne!(rows[1]["user_pseudo_id"], rows[4]["user_pseudo_id"]);
}

#[test]
fn export_filters_by_store_and_time_and_writes_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed(dir.path());
    let out = dir.path().join("out.ndjson");
    let window = [
        "--format",
        "ga4",
        "--from",
        "2026-11-20T10:01:00Z",
        "--to",
        "2026-11-20T10:20:00Z",
        "-o",
        out.to_str().unwrap(),
    ];
    assert!(export(&db, &window).is_empty(), "-o leaves stdout empty");
    let text = std::fs::read_to_string(&out).unwrap();
    let names: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event_name"].clone())
        .collect();
    assert_eq!(names, [json!("add_to_cart")]);
    assert!(export(&db, &["--format", "ga4", "--store", "S2"]).is_empty());
}

#[test]
fn import_reports_bad_lines_and_refuses_the_store_channel() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hq.db");
    let input = dir.path().join("in.ndjson");
    std::fs::write(
        &input,
        "{\"type\":\"browse_sku_page\",\"time\":1763632800000,\"wx_user\":{\"open_id\":\"u1\"},\"sku\":{\"sku_id\":\"X\"}}\nnope\n",
    )
    .unwrap();
    let db_arg = db.to_str().unwrap();
    let file = input.to_str().unwrap();
    let out = import(db_arg, "youshu", "mp", &[file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.starts_with(
            "2 lines read: 1 funnel steps, 1 stored, 0 already stored; 1 lines rejected\n"
        ),
        "{report}"
    );
    assert!(
        report.contains(&format!("1 not a JSON object: {file}:2")),
        "{report}"
    );

    let err = one_line_error(import(db_arg, "youshu", "store", &[file]));
    assert!(err.contains("--channel store"), "{err}");

    // ClickHouse is an event store like SQLite; one that cannot be reached
    // (nothing listens on port 1) is named in one line.
    let clickhouse = "clickhouse://127.0.0.1:1/aisle";
    let err = one_line_error(import(clickhouse, "youshu", "mp", &[file]));
    assert!(
        err.contains("cannot reach ClickHouse at 127.0.0.1:1"),
        "{err}"
    );

    let missing = import(db_arg, "ga4", "web", &[file, "nowhere.ndjson"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open nowhere.ndjson"));
}
