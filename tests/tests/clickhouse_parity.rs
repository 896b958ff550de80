//! Every HQ feature on ClickHouse, beside SQLite: the same store batches
//! and fleet messages (through real collectors and Mosquitto) and the same
//! online file imported twice, into a real `clickhouse-server` and into a
//! SQLite file, must give byte for byte the same `aisle funnel --by channel`
//! / `--by sku,channel`, the same `aisle export`, the same dashboard
//! `/api/funnel` and `/api/fleet`, and the hand-worked figures. ClickHouse
//! stopped part-way through an import fails it with one line, and the retry
//! stores what the failed run had not.

use aisle_system_tests::hq::spawn_subscribed;
use aisle_system_tests::{aisle_bin, http, wait_until, ChildGuard, ClickHouse, Message, Mosquitto};
use protocol::topics::{Topic, TopicKind};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);
const GTIN_A: &str = "80614141123458";
const GTIN_B: &str = "80614141123465";

fn at(time: &str) -> i64 {
    format!("2026-11-20T{time}Z")
        .parse::<protocol::time::UnixMillis>()
        .unwrap()
        .0
}

fn item(id: &str, time: &str, event: &str, stage: &str, gtin: &str, serial: u32) -> Value {
    json!({"id": id, "ts": format!("2026-11-20T{time}.000Z"), "event": event, "stage": stage,
           "tag": serial, "gtin": gtin, "serial": serial.to_string(), "fixture": "fr-1"})
}

/// Store S1's day: a dwell showing A and B, garment A/1 picked up, tried
/// on and bought, garment B/2 picked up.
fn store_batch() -> Vec<u8> {
    let events = vec![
        json!({"id": "d1", "ts": "2026-11-20T10:00:00.000Z", "event": "fixture_dwell",
               "stage": "exposure", "tag": 9, "fixture": "rack-1", "duration_ms": 20_000,
               "gtins": [GTIN_A, GTIN_B]}),
        item("p1", "10:01:00", "item_pickup", "view", GTIN_A, 1),
        item("t1", "10:03:00", "item_try_on", "try_on", GTIN_A, 1),
        item("b1", "10:10:00", "item_purchase", "purchase", GTIN_A, 1),
        item("p2", "10:02:00", "item_pickup", "view", GTIN_B, 2),
    ];
    json!({"schema": "aisle.batch.v1", "store": "S1", "gateway": "gw-1", "batch_id": "b-1",
           "created_at": "2026-11-20T10:11:00.000Z", "events": events})
    .to_string()
    .into_bytes()
}

fn youshu(kind: &str, user: &str, sku: &str, time: &str, shop: Option<&str>) -> Value {
    let mut line = json!({"type": kind, "time": at(time), "page": "pages/sku/index",
        "wx_user": {"app_id": "wx1", "open_id": user},
        "sku": {"sku_id": sku, "sku_name": "Tee"}, "spu": {"spu_id": "TS", "spu_name": "Tee"}});
    if let Some(shop) = shop {
        line["chan"] = json!({"chan_wxapp_scene": 1001, "chan_shop_id": shop});
    }
    line
}

fn order(user: &str, sku: &str, time: &str, id: &str, status: &str) -> Value {
    let mut line = youshu("custom_order", user, sku, time, None);
    line["order"] = json!({"order_id": id, "order_time": at(time), "order_status": status});
    line
}

/// The mini-program's day, worked by hand (1 h window), channel `mp`:
/// exposures 2 (A without a store, B in S1); u1 views A, adds it at 10:05
/// and pays at 10:10 (its `payed` line at 10:20 is the same order line,
/// which keeps the earlier time: 300 s from cart to purchase); u2 views B
/// in S1. Journeys 2, one tried on, one bought.
fn online_file(dir: &Path) -> std::path::PathBuf {
    let lines = [
        youshu("expose_sku_component", "v1", "TS-A", "09:00:00", None),
        youshu("expose_sku_component", "v1", "TS-B", "09:00:00", Some("S1")),
        youshu("browse_sku_page", "u1", "TS-A", "10:00:00", None),
        youshu("add_to_cart", "u1", "TS-A", "10:05:00", None),
        order("u1", "TS-A", "10:20:00", "O1", "payed"),
        order("u1", "TS-A", "10:10:00", "O1", "pay"),
        youshu("browse_sku_page", "u2", "TS-B", "10:00:00", Some("S1")),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let path = dir.join("youshu.ndjson");
    std::fs::write(&path, text).unwrap();
    path
}

fn aisle(args: &[&str]) -> Output {
    Command::new(aisle_bin()).args(args).output().unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = aisle(args);
    assert!(
        out.status.success(),
        "aisle {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn import(db: &str, file: &Path) -> String {
    stdout_of(&[
        "online",
        "import",
        "--db",
        db,
        "--format",
        "youshu",
        "--channel",
        "mp",
        file.to_str().unwrap(),
    ])
}

fn number(server: &ClickHouse, sql: &str) -> u64 {
    server
        .try_query(sql)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// A number the SQLite file answers, 0 while it or the table is missing.
fn sqlite_number(path: &Path, sql: &str) -> u64 {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(0)
}

fn status_topic(store: &str) -> String {
    Topic::new(store, TopicKind::Status).to_string()
}

fn tags_topic(store: &str) -> String {
    Topic::new(store, TopicKind::Tags).to_string()
}

fn online_status(store: &str) -> Vec<u8> {
    json!({"state": "online", "store": store, "gateway": "gw-1",
           "at": "2026-11-20T08:00:00.000Z", "spool_depth": 0})
    .to_string()
    .into_bytes()
}

/// S1's tags: `(tag, last seen, battery, dropped)`.
fn tags(sightings: &[(u32, &str, u16, u32)]) -> Vec<u8> {
    let tags: Vec<Value> = sightings
        .iter()
        .map(|(tag, seen, mv, dropped)| {
            json!({"tag": tag, "last_seen": format!("2026-11-20T{seen}.000Z"), "boot": 1,
                   "battery_mv": mv, "dropped": dropped, "fw": "1.0.0", "reset_reason": null})
        })
        .collect();
    json!({"store": "S1", "gateway": "gw-1", "at": "2026-11-20T10:00:00.000Z", "tags": tags})
        .to_string()
        .into_bytes()
}

/// A running `aisle dashboard` and the address it printed.
struct Dashboard {
    addr: String,
    _child: ChildGuard,
}

impl Dashboard {
    fn start(dir: &Path, name: &str, db: &str) -> Dashboard {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(aisle_bin());
        cmd.args(["dashboard", "--listen", "127.0.0.1:0", "--db", db]);
        let child = ChildGuard::spawn(name, &mut cmd, &log);
        let addr = wait_until("the dashboard to print its address", DEADLINE, || {
            let text = std::fs::read_to_string(&log).ok()?;
            let rest = text.split("aisle dashboard: http://").nth(1)?;
            Some(rest.split('/').next()?.to_string())
        });
        Dashboard {
            addr,
            _child: child,
        }
    }

    fn get(&self, path: &str) -> String {
        let response = http::get(&self.addr, path);
        assert_eq!(response.status, 200, "GET {path}: {}", response.text());
        response.text()
    }
}

#[test]
fn funnel_export_fleet_and_dashboard_on_clickhouse_equal_sqlites_for_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = ClickHouse::start();
    let broker = Mosquitto::start();
    let ch = server.url("aisle");
    let sqlite = dir.path().join("hq.sqlite");
    let sqlite_db = sqlite.to_str().unwrap();
    for name in ["ch", "sqlite"] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
    }
    // Each collector its own client id, outside any group: each gets every
    // message.
    let _ch_hq = spawn_subscribed(
        &dir.path().join("ch"),
        &broker.url(),
        &ch,
        &["--client-id", "hq-ch"],
    );
    let _sqlite_hq = spawn_subscribed(
        &dir.path().join("sqlite"),
        &broker.url(),
        sqlite_db,
        &["--client-id", "hq-sqlite"],
    );
    // The batch twice: ClickHouse keeps both copies, reads must not. Tag 7
    // is healthy, tag 8 low and dropping events.
    let topic = Topic::new("S1", TopicKind::Events).to_string();
    aisle_system_tests::publish(
        &broker.url(),
        &[
            Message::new(topic.clone(), store_batch()),
            Message::new(topic, store_batch()),
            Message::new(status_topic("S1"), online_status("S1")),
            Message::new(status_topic("S2"), online_status("S2")),
            Message::new(
                tags_topic("S1"),
                tags(&[(7, "10:00:00", 2900, 0), (8, "10:00:00", 2100, 3)]),
            ),
        ],
    );
    wait_until(
        "both collectors to store the batch and the fleet",
        DEADLINE,
        || {
            let ch_done = number(&server, "SELECT count() FROM aisle.events") == 10
                && number(&server, "SELECT count() FROM aisle.fleet_tags FINAL") == 2
                && number(&server, "SELECT count() FROM aisle.fleet_gateways FINAL") == 2;
            let sqlite_done = sqlite_number(&sqlite, "SELECT COUNT(*) FROM events") == 5
                && sqlite_number(&sqlite, "SELECT COUNT(*) FROM fleet_tags") == 2
                && sqlite_number(&sqlite, "SELECT COUNT(*) FROM fleet_gateways") == 2;
            (ch_done && sqlite_done).then_some(())
        },
    );
    // An older sighting of tag 7 (it must not replace the newer one), then
    // S1's last will, which names no gateway (the known one stays). One
    // publisher's messages reach each collector in order, so the will
    // arriving means the sighting did too.
    let before_will = protocol::time::UnixMillis::now().0;
    aisle_system_tests::publish(
        &broker.url(),
        &[
            Message::new(tags_topic("S1"), tags(&[(7, "09:00:00", 2000, 9)])),
            Message::new(
                status_topic("S1"),
                json!({"state": "offline", "store": "S1", "reason": "connection lost"})
                    .to_string()
                    .into_bytes(),
            ),
        ],
    );
    wait_until("both collectors to store the will", DEADLINE, || {
        let ch_offline = number(
            &server,
            "SELECT count() FROM aisle.fleet_gateways FINAL WHERE state = 'offline'",
        ) == 1;
        let sqlite_offline = sqlite_number(
            &sqlite,
            "SELECT COUNT(*) FROM fleet_gateways WHERE state = 'offline'",
        ) == 1;
        (ch_offline && sqlite_offline).then_some(())
    });

    let file = online_file(dir.path());
    for db in [ch.as_str(), sqlite_db] {
        assert_eq!(
            import(db, &file),
            "7 lines read: 7 funnel steps, 6 stored, 1 already stored; 0 lines rejected\n",
            "{db}: the two status lines of one order line are one step"
        );
        assert_eq!(
            import(db, &file),
            "7 lines read: 7 funnel steps, 0 stored, 7 already stored; 0 lines rejected\n",
            "{db}: the second import stores nothing"
        );
    }

    let report: Value = serde_json::from_str(&stdout_of(&[
        "funnel", "--db", &ch, "--window", "1h", "--by", "channel", "--format", "json",
    ]))
    .unwrap();
    let mp = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["channel"] == "mp")
        .unwrap_or_else(|| panic!("no mp row: {report}"));
    for (figure, want) in [
        ("exposures", json!(2)),
        ("pickups", json!(2)),
        ("try_ons", json!(1)),
        ("purchases", json!(1)),
        ("journeys", json!(2)),
        ("journeys_try_on", json!(1)),
        ("journeys_purchase", json!(1)),
        ("median_s_try_on_to_purchase", json!(300)),
    ] {
        assert_eq!(mp[figure], want, "{figure} in {mp}");
    }

    // Every grouping of the online rows, by instant too, and a `--to` that
    // cuts u1's journey (its purchase falls after it, within the window).
    let narrowed = [
        "--from",
        "2026-11-20T09:30:00Z",
        "--to",
        "2026-11-20T10:07:00Z",
    ];
    for by in [
        "channel",
        "sku,channel",
        "store,channel",
        "sku,store,channel",
        "day,channel",
        "hour,sku,channel",
    ] {
        for range in [&[][..], &narrowed[..]] {
            for format in ["table", "json", "csv"] {
                let report = |db: &str| {
                    let mut args = vec![
                        "funnel", "--db", db, "--window", "1h", "--by", by, "--format", format,
                    ];
                    args.extend_from_slice(range);
                    stdout_of(&args)
                };
                assert_eq!(
                    report(&ch),
                    report(sqlite_db),
                    "--by {by} {range:?} --format {format}"
                );
            }
        }
    }
    // Some SKUs only (`--sku`), on either backend: the stores' GTIN A, the
    // mini-program's code TS-A, both; and the stores of a region.
    let directory = dir.path().join("stores.csv");
    std::fs::write(
        &directory,
        "store,name,region,city,brand,timezone\nS1,,East,,aisle,\n",
    )
    .unwrap();
    let directory = directory.to_str().unwrap();
    let filters: [&[&str]; 5] = [
        &["--sku", GTIN_A],
        &["--sku", "TS-A"],
        &["--sku", GTIN_A, "--sku", "TS-A", "--sku", GTIN_B],
        &["--region", "East", "--stores", directory],
        &["--sku", GTIN_B, "--brand", "aisle", "--stores", directory],
    ];
    for filter in filters {
        for by in ["sku", "sku,channel", "store,channel", "day,sku,channel"] {
            let report = |db: &str| {
                let mut args = vec!["funnel", "--db", db, "--by", by, "--format", "json"];
                args.extend_from_slice(filter);
                stdout_of(&args)
            };
            assert_eq!(report(&ch), report(sqlite_db), "--by {by} {filter:?}");
        }
    }
    // By hand: A's one garment, picked up, tried on and bought, on the
    // dwell that showed it; TS-A online: 1 exposure, u1's journey to
    // purchase.
    let only = |sku: &str| -> Value {
        serde_json::from_str(&stdout_of(&[
            "funnel",
            "--db",
            &ch,
            "--by",
            "sku,channel",
            "--sku",
            sku,
            "--format",
            "json",
        ]))
        .unwrap()
    };
    let a = only(GTIN_A);
    let rows = a["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{a}");
    for (figure, want) in [
        ("exposures", 1),
        ("pickups", 1),
        ("try_ons", 1),
        ("purchases", 1),
    ] {
        assert_eq!(rows[0][figure], want, "{figure} in {a}");
    }
    assert_eq!(rows[0]["channel"], "store");
    let online = only("TS-A");
    let rows = online["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{online}");
    assert_eq!(
        (
            &rows[0]["channel"],
            &rows[0]["exposures"],
            &rows[0]["journeys_purchase"]
        ),
        (&json!("mp"), &json!(1), &json!(1)),
        "{online}"
    );

    let dashboards = [
        Dashboard::start(dir.path(), "dashboard-ch", &ch),
        Dashboard::start(dir.path(), "dashboard-sqlite", sqlite_db),
    ];
    let some_skus = format!("sku,channel&sku=TS-A&sku={GTIN_B}");
    for by in [
        "channel",
        "sku,channel",
        "store,channel",
        "sku",
        some_skus.as_str(),
    ] {
        let path = format!("/api/funnel?by={by}&window=1h");
        assert_eq!(
            dashboards[0].get(&path),
            dashboards[1].get(&path),
            "GET {path}"
        );
    }
    let fleet: Vec<Value> = dashboards
        .iter()
        .map(|d| serde_json::from_str(&d.get("/api/fleet")).unwrap())
        .collect();
    let ch_fleet = &fleet[0];
    let s1 = &ch_fleet["gateways"][0];
    assert_eq!(
        (&s1["store"], &s1["state"], &s1["gateway"]),
        (&json!("S1"), &json!("offline"), &json!("gw-1")),
        "{ch_fleet}"
    );
    // A will carries no time: it is as recent as its arrival.
    for field in ["since", "last_status"] {
        let at: protocol::time::UnixMillis = s1[field].as_str().unwrap().parse().unwrap();
        assert!(
            at.0 >= before_will,
            "{field} is the will's arrival: {ch_fleet}"
        );
    }
    let s2 = &ch_fleet["gateways"][1];
    assert_eq!(
        (&s2["state"], &s2["last_status"]),
        (&json!("online"), &json!("2026-11-20T08:00:00.000Z")),
        "{ch_fleet}"
    );
    assert_eq!(ch_fleet["tags_known"], 2, "{ch_fleet}");
    let tag7 = &ch_fleet["tags"][0];
    assert_eq!(
        (&tag7["tag"], &tag7["battery_mv"], &tag7["dropped"]),
        (&json!(7), &json!(2900), &json!(0)),
        "the newer sighting stays: {ch_fleet}"
    );
    let tag8 = &ch_fleet["tags"][1];
    assert_eq!(
        (&tag8["battery_mv"], &tag8["dropped"]),
        (&json!(2100), &json!(3))
    );
    // Equal but for what each collector's and dashboard's own clock set.
    let without_clocks = |doc: &Value| {
        let mut doc = doc.clone();
        doc.as_object_mut().unwrap().remove("at");
        for gateway in doc["gateways"].as_array_mut().unwrap() {
            let gateway = gateway.as_object_mut().unwrap();
            gateway.remove("since");
            if gateway["state"] == "offline" {
                gateway.remove("last_status");
            }
        }
        doc
    };
    assert_eq!(without_clocks(&fleet[0]), without_clocks(&fleet[1]));

    // A report the dashboard keeps is dropped once another step is stored:
    // u3 views A, a third journey of `mp`.
    let more = dir.path().join("more.ndjson");
    std::fs::write(
        &more,
        format!(
            "{}\n",
            youshu("browse_sku_page", "u3", "TS-A", "11:00:00", None)
        ),
    )
    .unwrap();
    for db in [ch.as_str(), sqlite_db] {
        import(db, &more);
    }
    let path = "/api/funnel?by=channel&window=1h";
    let after: Value = serde_json::from_str(&dashboards[0].get(path)).unwrap();
    let mp = after["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["channel"] == "mp")
        .unwrap_or_else(|| panic!("no mp row: {after}"));
    assert_eq!(mp["journeys"], 3, "{after}");
    assert_eq!(dashboards[0].get(path), dashboards[1].get(path));

    for format in ["youshu", "ga4"] {
        let export = |db: &str| stdout_of(&["export", "--db", db, "--format", format]);
        let (from_ch, from_sqlite) = (export(&ch), export(sqlite_db));
        if format == "ga4" {
            // One row per behaviour, a dwell and four item events: the
            // batch stored twice exports once.
            assert_eq!(from_ch.lines().count(), 5, "{from_ch}");
        }
        assert_eq!(from_ch, from_sqlite, "aisle export --format {format}");
    }
}

#[test]
fn clickhouse_stopped_during_an_import_fails_it_in_one_line_and_a_retry_stores_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ClickHouse::start();
    let db = server.url("aisle");
    // More lines than one write holds (20 000), so the first write lands
    // while the rest is still on its way.
    const FIRST: usize = 20_000;
    const TOTAL: usize = 25_000;
    let line = |n: usize| {
        format!(
            "{}\n",
            youshu(
                "browse_sku_page",
                &format!("u{n}"),
                "TS-A",
                "10:00:00",
                None
            )
        )
    };
    let file = dir.path().join("views.ndjson");
    std::fs::write(&file, (0..TOTAL).map(line).collect::<String>()).unwrap();

    let mut importing = Command::new(aisle_bin())
        .args([
            "online",
            "import",
            "--db",
            &db,
            "--format",
            "youshu",
            "--channel",
            "mp",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = importing.stdin.take().unwrap();
    stdin
        .write_all((0..FIRST).map(line).collect::<String>().as_bytes())
        .unwrap();
    wait_until("the first write to be stored", DEADLINE, || {
        (number(&server, "SELECT count() FROM aisle.online_events") == FIRST as u64).then_some(())
    });
    server.stop();
    stdin
        .write_all((FIRST..TOTAL).map(line).collect::<String>().as_bytes())
        .unwrap();
    drop(stdin);
    let out = importing.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Progress lines may come first on a slow machine; the error is one line.
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("aisle online import:"))
        .collect();
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    assert!(errors[0].contains("cannot reach ClickHouse"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "no report of a failed import: {:?}",
        out.stdout
    );

    server.start_again();
    assert_eq!(
        import(&db, &file),
        format!(
            "{TOTAL} lines read: {TOTAL} funnel steps, {} stored, {FIRST} already stored; 0 lines rejected\n",
            TOTAL - FIRST
        )
    );
    let report: Value = serde_json::from_str(&stdout_of(&[
        "funnel", "--db", &db, "--by", "channel", "--format", "json",
    ]))
    .unwrap();
    let mp = &report["rows"][0];
    assert_eq!(
        (mp["channel"].as_str(), mp["pickups"].as_u64()),
        (Some("mp"), Some(TOTAL as u64)),
        "{report}"
    );
}
