//! Imports worked out by hand: each line of the inputs below says what it
//! must do, and the expected funnel rows follow from docs/design.md's
//! journey rules applied to (channel, user, SKU) with a 1 h window.

use super::event::Rejection;
use super::import::{import, ImportReport};
use super::youshu::UserKey;
use super::Format;
use crate::event_store::{EventStore, SqliteStore};
use crate::funnel::report::{FunnelReport, FunnelRow};
use crate::funnel::store::{report, EventFilter};
use crate::funnel::{Catalog, Dimension, FunnelOptions};
use serde_json::json;
use std::path::{Path, PathBuf};

const A: &str = "TS-RED-M";
const B: &str = "TS-RED-L";

/// Milliseconds of a time of day on 2026-11-20 (UTC).
fn at(time: &str) -> i64 {
    format!("2026-11-20T{time}Z")
        .parse::<protocol::time::UnixMillis>()
        .unwrap()
        .0
}

fn youshu(kind: &str, user: &str, sku: &str, time: &str) -> serde_json::Value {
    json!({"type": kind, "time": at(time), "page": "pages/sku/index",
           "wx_user": {"app_id": "wx1", "open_id": user, "union_id": format!("union-{user}")},
           "sku": {"sku_id": sku, "sku_name": "Tee"}, "spu": {"spu_id": "TS", "spu_name": "Tee"}})
}

fn order(user: &str, sku: &str, time: &str, id: &str, status: &str) -> serde_json::Value {
    let mut line = youshu("custom_order", user, sku, time);
    line["order"] = json!({"order_id": id, "order_time": at(time), "order_status": status});
    line
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn json_lines(values: Vec<serde_json::Value>) -> Vec<String> {
    values.into_iter().map(|v| v.to_string()).collect()
}

/// The Youshu file of the hand-worked case; its line numbers matter.
fn youshu_file(dir: &Path) -> PathBuf {
    let mut shop_b = youshu("browse_sku_page", "u6", B, "10:00:00");
    shop_b["chan"] =
        json!({"chan_wxapp_scene": 1001, "chan_shop_id": "S1", "chan_shop_name": "One"});
    let mut cart_b = youshu("add_to_cart", "u6", B, "10:02:00");
    cart_b["chan"] = shop_b["chan"].clone();
    let mut expose_b = youshu("expose_sku_component", "v1", B, "09:00:00");
    expose_b["chan"] = shop_b["chan"].clone();
    let mut no_user = youshu("browse_sku_page", "u9", A, "10:00:00");
    no_user.as_object_mut().unwrap().remove("wx_user");
    let mut no_sku = youshu("browse_sku_page", "u9", A, "10:00:00");
    no_sku["sku"] = json!({"sku_name": "Tee"});
    let mut removal = youshu("add_to_cart", "u7", A, "10:00:00");
    removal["action_type"] = json!("remove_from_cart");
    let mut lines = json_lines(vec![
        youshu("expose_sku_component", "v1", A, "09:00:00"), // 1: exposure of A
        youshu("expose_sku_component", "v2", A, "09:30:00"), // 2: exposure of A
        expose_b,                                            // 3: exposure of B in S1
        youshu("browse_sku_page", "u1", A, "10:00:00"),      // 4: u1 opens a journey
        youshu("add_to_cart", "u1", A, "10:05:00"),          // 5: u1 tries on, 300 s
        order("u1", A, "10:20:00", "O1", "pay"),             // 6: u1 buys, 900 s
        order("u1", A, "10:21:00", "O1", "payed"),           // 7: same (order, SKU): once
        youshu("browse_sku_page", "u1", A, "10:00:00"),      // 8: line 4 again: once
        youshu("trigger_sku_component", "u2", A, "10:00:00"), // 9: u2 opens
        youshu("add_to_cart", "u2", A, "11:00:01"),          // 10: 1 s past the window
        youshu("browse_sku_page", "u3", A, "10:00:00"),      // 11: u3 opens
        youshu("add_to_cart", "u3", A, "11:00:00"),          // 12: on the window's edge: in
        youshu("browse_sku_page", "u4", A, "10:00:00"),      // 13: u4 opens
        order("u4", A, "10:01:00", "O2", "pay"),             // 14: buy now, no cart
        order("u1", A, "12:00:00", "O1", "refund"),          // 15: refund
        order("u5", A, "10:00:00", "O3", "cancel_pay"),      // 16: cancelled
        shop_b,                                              // 17: u6 opens B in S1
        cart_b,                                              // 18: u6 adds B, 120 s
    ]);
    lines.push("{not json".to_string()); // 19
    lines.extend(json_lines(vec![
        no_user,                                          // 20
        no_sku,                                           // 21
        youshu("browse_wxapp_page", "u1", A, "10:00:00"), // 22: not a funnel step
    ]));
    lines.push(String::new()); // 23: blank
    lines.push(removal.to_string()); // 24
    let path = dir.join("youshu.ndjson");
    write_lines(&path, &lines);
    path
}

fn funnel(db: &Path, by: &[Dimension], catalog: Catalog) -> FunnelReport {
    let opts = FunnelOptions {
        window: std::time::Duration::from_secs(3600),
        by: by.to_vec(),
        catalog,
        ..FunnelOptions::default()
    };
    report(
        &EventStore::Sqlite(SqliteStore::open_read_only(db).unwrap()),
        &EventFilter::default(),
        &opts,
    )
    .unwrap()
}

fn row(
    dims: &[Option<&str>],
    [exposures, pickups, try_ons, purchases, journeys, journeys_try_on, journeys_purchase]: [u64;
        7],
    median_s_view_to_try_on: Option<i64>,
    median_s_try_on_to_purchase: Option<i64>,
) -> FunnelRow {
    FunnelRow {
        dims: dims.iter().map(|d| d.map(str::to_string)).collect(),
        exposures,
        pickups,
        try_ons,
        purchases,
        journeys,
        journeys_try_on,
        journeys_purchase,
        median_s_view_to_try_on,
        median_s_try_on_to_purchase,
        ..FunnelRow::default()
    }
}

fn run_import(db: &Path, format: Format, files: &[PathBuf]) -> ImportReport {
    let mut store = EventStore::Sqlite(SqliteStore::open(db).unwrap());
    import(&mut store, format, "mp", UserKey::OpenId, files).unwrap()
}

fn shown(report: &ImportReport, reason: Rejection) -> (u64, Vec<String>) {
    report.rejected.get(reason).cloned().unwrap_or_default()
}

#[test]
fn youshu_behaviours_make_the_hand_worked_funnel() {
    let dir = tempfile::tempdir().unwrap();
    let file = youshu_file(dir.path());
    let db = dir.path().join("hq.db");
    let first = run_import(&db, Format::Youshu, std::slice::from_ref(&file));
    assert_eq!(
        (
            first.lines,
            first.steps,
            first.stored,
            first.rejected.total()
        ),
        (24, 16, 14, 7)
    );
    let name = file.display().to_string();
    for (reason, line) in [
        (Rejection::Refund, 15),
        (Rejection::CancelledOrder, 16),
        (Rejection::NotJson, 19),
        (Rejection::MissingUser, 20),
        (Rejection::MissingSku, 21),
        (Rejection::UnknownBehaviour, 22),
        (Rejection::RemovedFromCart, 24),
    ] {
        assert_eq!(
            shown(&first, reason),
            (1, vec![format!("{name}:{line}")]),
            "{reason:?}"
        );
    }

    let by = [Dimension::Sku, Dimension::Channel];
    assert_eq!(
        funnel(&db, &by, Catalog::default()).rows,
        vec![
            row(
                &[Some(B), Some("mp")],
                [1, 1, 1, 0, 1, 1, 0],
                Some(120),
                None
            ),
            // u1 and u3 (on the edge) reach the cart: median of 300 s and 3600 s.
            row(
                &[Some(A), Some("mp")],
                [2, 4, 3, 2, 4, 2, 1],
                Some(1950),
                Some(900)
            ),
        ]
    );
    let by_store = [Dimension::Sku, Dimension::Store, Dimension::Channel];
    assert_eq!(
        funnel(&db, &by_store, Catalog::default()).rows,
        vec![
            row(
                &[Some(B), Some("S1"), Some("mp")],
                [1, 1, 1, 0, 1, 1, 0],
                Some(120),
                None
            ),
            row(
                &[Some(A), None, Some("mp")],
                [2, 4, 3, 2, 4, 2, 1],
                Some(1950),
                Some(900)
            ),
        ]
    );
    // Without the channel dimension only the tags' channel is reported.
    assert!(funnel(&db, &[Dimension::Sku], Catalog::default())
        .rows
        .is_empty());

    let again = run_import(&db, Format::Youshu, &[file]);
    assert_eq!(
        (again.steps, again.stored),
        (16, 0),
        "a re-import stores nothing"
    );
}

#[test]
fn gzipped_input_and_union_ids_are_read_too() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let plain = youshu_file(dir.path());
    let gz = dir.path().join("youshu.ndjson.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    encoder.write_all(&std::fs::read(&plain).unwrap()).unwrap();
    encoder.finish().unwrap();
    let db = dir.path().join("hq.db");
    let mut store = EventStore::Sqlite(SqliteStore::open(&db).unwrap());
    let report = import(&mut store, Format::Youshu, "mp", UserKey::UnionId, &[gz]).unwrap();
    let EventStore::Sqlite(store) = store else {
        unreachable!("opened as SQLite")
    };
    assert_eq!(
        (report.lines, report.stored, report.rejected.total()),
        (24, 14, 7)
    );
    let users: Vec<String> = store
        .connection()
        .prepare("SELECT DISTINCT user FROM online_events WHERE user LIKE 'union-%' ORDER BY user")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(users.len(), 7, "u1–u4, u6, v1, v2 by union id: {users:?}");
}

fn ga4(name: &str, user: &str, time: &str, items: serde_json::Value) -> serde_json::Value {
    json!({"event_date": "20261120", "event_timestamp": at(time) * 1000, "event_name": name,
           "user_pseudo_id": user, "items": items})
}

fn item(sku: &str) -> serde_json::Value {
    json!({"item_id": sku, "item_name": "Tee", "quantity": 1})
}

fn purchase(user: &str, time: &str, transaction: Option<&str>) -> serde_json::Value {
    let mut row = ga4("purchase", user, time, json!([item(A)]));
    if let Some(id) = transaction {
        row["ecommerce"] = json!({"transaction_id": id});
    }
    row
}

#[test]
fn ga4_rows_make_the_hand_worked_funnel() {
    let dir = tempfile::tempdir().unwrap();
    let mut b_in_store = item(B);
    b_in_store["location_id"] = json!("S1");
    let mut late_cart = ga4("add_to_cart", "u3", "11:00:00.001", json!([item(A)]));
    late_cart["event_timestamp"] = json!((at("11:00:00.001") * 1000 + 999).to_string());
    let mut bigquery_string = ga4("view_item", "u3", "10:00:00", json!([item(A)]));
    bigquery_string["event_timestamp"] = json!((at("10:00:00") * 1000).to_string());
    let mut no_user = ga4("view_item", "u9", "10:00:00", json!([item(A)]));
    no_user.as_object_mut().unwrap().remove("user_pseudo_id");
    let lines = json_lines(vec![
        ga4(
            "view_item_list",
            "x",
            "09:00:00",
            json!([item(A), b_in_store]),
        ), // 1: A, B@S1
        ga4("view_item", "u1", "10:00:00", json!([item(A)])), // 2: u1 opens
        ga4("add_to_cart", "u1", "10:05:00", json!([item(A)])), // 3: 300 s
        purchase("u1", "10:20:00", Some("T1")),               // 4: 900 s
        purchase("u1", "10:20:00", Some("T1")),               // 5: line 4 again: once
        ga4("select_item", "u2", "10:00:00", json!([item(A)])), // 6: u2 opens
        purchase("u2", "10:01:00", Some("T2")),               // 7: buy now, no cart
        ga4("refund", "u1", "12:00:00", json!([item(A)])),    // 8: refund
        purchase("u2", "10:02:00", None),                     // 9: no transaction id
        ga4("view_item", "u4", "10:00:00", json!([{"item_name": "Tee"}])), // 10: no item_id
        bigquery_string,                                      // 11: u3 opens, INT64 as text
        late_cart, // 12: 1 ms (and 999 µs) past the window
        ga4("session_start", "u1", "09:59:00", json!([])), // 13: not a funnel step
        no_user,   // 14
        ga4(
            "view_item",
            "u5",
            "10:00:00",
            json!([{"item_name": "Tee"}, item(B)]),
        ), // 15: B only
    ]);
    let file = dir.path().join("ga4.ndjson");
    write_lines(&file, &lines);
    let db = dir.path().join("hq.db");
    let report = run_import(&db, Format::Ga4, std::slice::from_ref(&file));
    assert_eq!(
        (
            report.lines,
            report.steps,
            report.stored,
            report.rejected.total()
        ),
        (15, 11, 10, 5)
    );
    let name = file.display().to_string();
    for (reason, line) in [
        (Rejection::Refund, 8),
        (Rejection::MissingOrder, 9),
        (Rejection::MissingSku, 10),
        (Rejection::UnknownBehaviour, 13),
        (Rejection::MissingUser, 14),
        (Rejection::ItemsWithoutSku, 15),
    ] {
        assert_eq!(
            shown(&report, reason),
            (1, vec![format!("{name}:{line}")]),
            "{reason:?}"
        );
    }
    let by = [Dimension::Sku, Dimension::Store, Dimension::Channel];
    assert_eq!(
        funnel(&db, &by, Catalog::default()).rows,
        vec![
            row(
                &[Some(B), None, Some("mp")],
                [0, 1, 0, 0, 1, 0, 0],
                None,
                None
            ),
            row(
                &[Some(B), Some("S1"), Some("mp")],
                [1, 0, 0, 0, 0, 0, 0],
                None,
                None
            ),
            row(
                &[Some(A), None, Some("mp")],
                [1, 3, 2, 2, 3, 1, 1],
                Some(300),
                Some(900)
            ),
        ]
    );
}

#[test]
fn the_catalog_puts_online_sku_codes_beside_the_stores_gtins() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hq.db");
    let file = youshu_file(dir.path());
    run_import(&db, Format::Youshu, &[file]);
    let catalog = Catalog::parse(&format!(
        "gtin,sku,style,name,colour,size\n80614141123458,{A},TS,Tee,red,M\n80614141123465,{B},TS,Tee,red,L\n"
    ))
    .unwrap();
    let by_style = funnel(&db, &[Dimension::Style, Dimension::Channel], catalog);
    assert_eq!(by_style.rows.len(), 1);
    let tee = &by_style.rows[0];
    assert_eq!(
        tee.dims,
        vec![Some("TS".to_string()), Some("mp".to_string())]
    );
    assert_eq!((tee.exposures, tee.pickups, tee.journeys), (3, 5, 5));
    assert!(by_style.render_table().contains("pickups|views"));
    assert!(by_style.render_table().contains("try_ons|carts"));
}

#[test]
fn a_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hq.db");
    drop(SqliteStore::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DROP TABLE online_events; PRAGMA user_version = 1;")
        .unwrap();
    drop(conn);
    let file = youshu_file(dir.path());
    assert_eq!(run_import(&db, Format::Youshu, &[file]).stored, 14);
    let version: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, crate::event_store::sqlite::SCHEMA_VERSION);
}

#[test]
fn an_order_line_keeps_its_earliest_time_whatever_the_import_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hq.db");
    let later = dir.path().join("later.ndjson");
    let earlier = dir.path().join("earlier.ndjson");
    // The status line that arrives first in the import says 10:30; the
    // order was paid at 10:20, which the second file says.
    write_lines(
        &later,
        &json_lines(vec![
            youshu("browse_sku_page", "u1", A, "10:00:00"),
            youshu("add_to_cart", "u1", A, "10:05:00"),
            order("u1", A, "10:30:00", "O1", "payed"),
        ]),
    );
    write_lines(
        &earlier,
        &json_lines(vec![order("u1", A, "10:20:00", "O1", "pay")]),
    );
    let report = run_import(&db, Format::Youshu, &[later, earlier]);
    assert_eq!((report.steps, report.stored), (4, 3));
    let rows = funnel(
        &db,
        &[Dimension::Sku, Dimension::Channel],
        Catalog::default(),
    )
    .rows;
    assert_eq!(
        rows,
        vec![row(
            &[Some(A), Some("mp")],
            [0, 1, 1, 1, 1, 1, 1],
            Some(300),
            Some(900)
        )]
    );
}

#[test]
fn a_line_longer_than_the_limit_is_rejected_without_being_held() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.ndjson");
    let long = format!("{{\"type\": \"{}\"}}", "x".repeat(2 << 20));
    let lines = vec![
        long,
        youshu("browse_sku_page", "u1", A, "10:00:00").to_string(),
    ];
    write_lines(&file, &lines);
    let report = run_import(
        &dir.path().join("hq.db"),
        Format::Youshu,
        std::slice::from_ref(&file),
    );
    assert_eq!((report.lines, report.stored), (2, 1));
    let name = file.display().to_string();
    assert_eq!(
        shown(&report, Rejection::LineTooLong),
        (1, vec![format!("{name}:1")])
    );
}
