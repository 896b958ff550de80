//! `aisle dashboard` in a real browser: events and fleet messages go
//! through a real Mosquitto into a real collector; the dashboard serves
//! that database; headless Chromium (through chromedriver) opens every
//! page in both languages. Every figure read from the DOM is compared with
//! `aisle funnel --format json` for the same parameters; the console must
//! stay free of errors; the first views are served from the reports the
//! dashboard prewarmed at its start; a filter and a sort are clicked, the
//! store menu narrows to the chosen region; each page is saved
//! as a screenshot under target/tmp/dashboard-screenshots/ for review.
//! The dashboard reads a store directory (S1 in Shanghai, S2 in UTC), so
//! its days and hours are the stores' local ones, as `aisle funnel
//! --stores` reports them.

use aisle_system_tests::http;
use aisle_system_tests::{
    aisle_bin, publish, stdout_of, wait_until, Browser, ChildGuard, HqCollector, Message, Mosquitto,
};
use protocol::time::UnixMillis;
use protocol::topics::{Topic, TopicKind};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);
/// Tee, crew (TS-RED-M); a SKU whose catalog name is markup; a GTIN the
/// catalog does not list.
const A: &str = "80614141123458";
const B: &str = "80614141123465";
const C: &str = "80614141123472";
const EVIL: &str = "<img src=x onerror=alert(1)>";
const DAYS: [&str; 2] = ["2026-11-20", "2026-11-21"];
const LANGS: [&str; 2] = ["en", "zh-CN"];

fn catalog(dir: &Path) -> PathBuf {
    let path = dir.join("catalog.csv");
    std::fs::write(
        &path,
        format!(
            "gtin,sku,style,name,colour,size\n\
             {A},TS-RED-M,TS,\"Tee, crew\",red,M\n\
             {B},TS-RED-L,TS,{EVIL},red,L\n"
        ),
    )
    .unwrap();
    path
}

/// S1 in Shanghai (UTC+8), so its local days and hours differ from UTC's;
/// S2 in UTC, in another region and of another brand; S3 beside S1, with
/// an entrance counter and nothing else yet.
fn directory(dir: &Path) -> PathBuf {
    let path = dir.join("stores.csv");
    std::fs::write(
        &path,
        "store,name,region,city,brand,timezone
         S1,Jing'an,East,Shanghai,aisle,Asia/Shanghai
         S2,Soho,West,London,aisle outlet,UTC
         S3,Pudong,East,Shanghai,aisle,Asia/Shanghai
",
    )
    .unwrap();
    path
}

fn at(day: &str, offset_s: i64) -> String {
    let start: UnixMillis = format!("{day}T09:00:00Z").parse().unwrap();
    UnixMillis(start.0 + offset_s * 1000).to_string()
}

fn event(id: String, ts: String, kind: &str, gtin: &str, serial: u32, fixture: &str) -> Value {
    let stage = match kind {
        "item_pickup" => "view",
        "item_try_on" => "try_on",
        _ => "purchase",
    };
    json!({"id": id, "ts": ts, "event": kind, "stage": stage, "tag": 100 + serial, "epc": null,
           "gtin": gtin, "serial": serial.to_string(), "fixture": fixture, "zone": null,
           "duration_ms": null, "gtins": null})
}

/// Two stores over two days: dwells at two fixtures (A and B on rack-1, C
/// on rack-2); per SKU a few dozen garments picked up, most tried on, some
/// bought, some bought without a try-on, some picked up again hours later.
/// Returns the batches and how many events they hold.
fn event_batches() -> (Vec<Message>, usize) {
    let mut messages = Vec::new();
    let mut total = 0;
    for (s, store) in ["S1", "S2"].iter().enumerate() {
        let mut events = Vec::new();
        for (d, day) in DAYS.iter().enumerate() {
            for k in 0..(60 + 5 * s + 10 * d) {
                for (fixture, zone, gtins) in
                    [("rack-1", "front", vec![A, B]), ("rack-2", "back", vec![C])]
                {
                    // Dwells of different lengths, so medians and totals
                    // differ between zones.
                    let duration_ms = 5_000 + 1_000 * ((k as u64 * 7 + zone.len() as u64) % 40);
                    events.push(json!({"id": format!("{store}-{d}-dwell-{fixture}-{k}"),
                        "ts": at(day, k as i64 * 60), "event": "fixture_dwell", "stage": "exposure",
                        "tag": 9, "epc": null, "gtin": null, "serial": null, "fixture": fixture,
                        "zone": zone, "duration_ms": duration_ms, "gtins": gtins}));
                }
            }
            // The entrance counter: a count per quarter hour from 09:00
            // UTC, and two before midnight UTC (the next morning in
            // Shanghai, so S1's local day and UTC day differ).
            let mut visits = |id: String, ts: String, count: usize| {
                events.push(
                    json!({"id": id, "ts": ts, "event": "store_visits", "stage": "visit",
                    "tag": 3, "zone": "main-door", "duration_ms": 900_000, "count": count}),
                );
            };
            for q in 0..12 {
                let id = format!("{store}-{d}-visits-{q}");
                visits(id, at(day, q * 900), 5 + 3 * s + 2 * d + q as usize % 4);
            }
            for q in 0..2 {
                let id = format!("{store}-{d}-visits-late-{q}");
                visits(id, at(day, 14 * 3600 + 1800 + q * 900), 1 + s + q as usize);
            }
            for (g, gtin) in [A, B, C].iter().enumerate() {
                let garments = 20 + 13 * g as u32 + 7 * s as u32 + 5 * d as u32;
                for serial in 0..garments {
                    let t = i64::from(serial) * 37;
                    let fixture = if serial % 2 == 0 { "rack-1" } else { "rack-2" };
                    let id = |kind: &str| format!("{store}-{d}-{g}-{serial}-{kind}");
                    events.push(event(
                        id("p"),
                        at(day, t),
                        "item_pickup",
                        gtin,
                        serial,
                        fixture,
                    ));
                    if serial % 3 != 0 {
                        let ts = at(day, t + 60 + i64::from(serial));
                        events.push(event(id("t"), ts, "item_try_on", gtin, serial, fixture));
                        if serial % 2 == 1 {
                            let ts = at(day, t + 900);
                            events.push(event(id("b"), ts, "item_purchase", gtin, serial, fixture));
                        }
                    } else if serial % 7 == 0 {
                        let ts = at(day, t + 30);
                        events.push(event(id("b"), ts, "item_purchase", gtin, serial, fixture));
                    }
                    if serial % 5 == 0 {
                        let ts = at(day, t + 7_200);
                        events.push(event(id("p2"), ts, "item_pickup", gtin, serial, fixture));
                    }
                }
            }
        }
        total += events.len();
        for (i, chunk) in events.chunks(300).enumerate() {
            let batch = json!({"schema": "aisle.batch.v1", "store": store, "gateway": format!("gw-{store}"),
                "batch_id": format!("{store}-b{i}"), "created_at": "2026-11-21T12:00:00.000Z",
                "events": chunk});
            messages.push(Message::new(
                Topic::new(store, TopicKind::Events).to_string(),
                batch.to_string(),
            ));
        }
    }
    // S3 has only its door counts: a store all the same.
    let visits: Vec<Value> = (0..6)
        .map(|q| {
            json!({"id": format!("S3-visits-{q}"), "ts": at(DAYS[0], q * 900),
                "event": "store_visits", "stage": "visit", "tag": 4, "zone": "main-door",
                "duration_ms": 900_000, "count": 2 + q})
        })
        .collect();
    total += visits.len();
    let batch = json!({"schema": "aisle.batch.v1", "store": "S3", "gateway": "gw-S3",
        "batch_id": "S3-b0", "created_at": "2026-11-21T12:00:00.000Z", "events": visits});
    messages.push(Message::new(
        Topic::new("S3", TopicKind::Events).to_string(),
        batch.to_string(),
    ));
    (messages, total)
}

/// S1 online with a spool backlog; S2 offline (its last will); S1's tags:
/// 7 healthy, 9 low and dropping, 11 silent for a day.
fn fleet_messages(now: UnixMillis) -> Vec<Message> {
    let ago = |s: i64| UnixMillis(now.0 - s * 1000).to_string();
    let online = json!({"state": "online", "store": "S1", "gateway": "gw-S1", "at": ago(5),
        "spool_depth": 1234, "oldest_undelivered_age_s": 42, "dropped_at_cap": 0,
        "bad_frames": {"crc": 2, "framing": 1}});
    let will =
        json!({"state": "offline", "store": "S2", "gateway": "gw-S2", "reason": "connection lost"});
    let tag = |id: u32, seen: i64, mv: u32, dropped: u32| {
        json!({"tag": id, "last_seen": ago(seen), "boot": 1, "battery_mv": mv, "dropped": dropped,
               "fw": "1.0.0", "reset_reason": null})
    };
    let tags = json!({"store": "S1", "gateway": "gw-S1", "at": ago(5), "tags": [
        tag(7, 10, 2950, 0), tag(9, 10, 2210, 3), tag(11, 86_400, 2900, 0)]});
    vec![
        Message::retained(
            Topic::new("S1", TopicKind::Status).to_string(),
            online.to_string(),
        ),
        Message::retained(
            Topic::new("S2", TopicKind::Status).to_string(),
            will.to_string(),
        ),
        Message::new(
            Topic::new("S1", TopicKind::Tags).to_string(),
            tags.to_string(),
        ),
    ]
}

fn count(db: &Path, sql: &str) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

/// `aisle funnel --format json` with `args`, as bytes.
/// Imports a few mini-program behaviours (Youshu's shape) as channel
/// `miniprogram`, so the channel tables have an online row beside the
/// stores': one user views TS-RED-M and adds it to the cart, another views
/// it, and the SKU card is exposed once.
fn import_miniprogram(dir: &Path, db: &Path) {
    let at = |time: &str| time.parse::<UnixMillis>().unwrap().0;
    let line = |kind: &str, user: &str, time: &str| {
        json!({"type": kind, "time": at(time), "page": "pages/sku/index",
               "wx_user": {"app_id": "wx1", "open_id": user},
               "sku": {"sku_id": "TS-RED-M", "sku_name": "Tee"},
               "spu": {"spu_id": "TS", "spu_name": "Tee"}})
        .to_string()
    };
    let lines = [
        line("expose_sku_component", "u1", "2026-11-20T10:00:00Z"),
        line("browse_sku_page", "u1", "2026-11-20T10:00:05Z"),
        line("add_to_cart", "u1", "2026-11-20T10:01:00Z"),
        line("browse_sku_page", "u2", "2026-11-21T09:00:00Z"),
    ];
    let file = dir.join("miniprogram.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    stdout_of(
        Command::new(aisle_bin())
            .args([
                "online",
                "import",
                "--format",
                "youshu",
                "--channel",
                "miniprogram",
                "--db",
            ])
            .arg(db)
            .arg(&file),
    );
}

fn cli(db: &Path, args: &[&str]) -> String {
    stdout_of(
        Command::new(aisle_bin())
            .args(["funnel", "--format", "json", "--db"])
            .arg(db)
            .args(args),
    )
}

fn cli_rows(db: &Path, args: &[&str]) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&cli(db, args)).unwrap();
    doc["rows"].as_array().unwrap().clone()
}

/// A running `aisle dashboard` and the address it printed.
struct Dashboard {
    addr: String,
    child: ChildGuard,
}

impl Dashboard {
    fn start(dir: &Path, name: &str, args: &[&str]) -> Dashboard {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(aisle_bin());
        cmd.arg("dashboard").args(args);
        let child = ChildGuard::spawn(name, &mut cmd, &log);
        let addr = wait_until("the dashboard to print its address", DEADLINE, || {
            let text = std::fs::read_to_string(&log).ok()?;
            let rest = text.split("aisle dashboard: http://").nth(1)?;
            Some(rest.split('/').next()?.to_string())
        });
        Dashboard { addr, child }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// The rows of table `#id`: each row's key and its figures by field.
fn table(browser: &Browser, id: &str) -> Vec<(String, Value)> {
    let rows = browser.execute(&format!(
        "return Array.from(document.querySelectorAll('#{id} tr[data-key]')).map(tr => [tr.dataset.key,
           Object.fromEntries(Array.from(tr.querySelectorAll('td[data-field]'))
             .map(td => [td.dataset.field, td.querySelector('.v').textContent]))]);"
    ));
    rows.as_array()
        .unwrap_or_else(|| panic!("no table #{id} on {}", browser.url()))
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].clone()))
        .collect()
}

/// Checks one figure as shown (`1,234`, `12.3%`, `300 s`, `300 秒`, `–`)
/// against the JSON report's value.
fn assert_figure(shown: &str, expected: &Value, what: &str) {
    if expected.is_null() {
        assert_eq!(shown, "–", "{what}: expected no value");
        return;
    }
    if let Some(rate) = shown.strip_suffix('%') {
        let shown: f64 = rate.parse().unwrap_or_else(|_| panic!("{what}: `{shown}`"));
        let expected = expected.as_f64().unwrap() * 100.0;
        assert!(
            (shown - expected).abs() <= 0.05 + 1e-9,
            "{what}: page {shown}%, CLI {expected}%"
        );
        return;
    }
    if expected.is_f64() {
        // A figure per visit, shown to two decimals.
        let shown: f64 = shown
            .replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("{what}: `{shown}`"));
        let expected = expected.as_f64().unwrap();
        assert!(
            (shown - expected).abs() <= 0.005 + 1e-9,
            "{what}: page {shown}, CLI {expected}"
        );
        return;
    }
    let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(
        digits.parse::<i64>().ok(),
        expected.as_i64(),
        "{what}: page `{shown}`, CLI {expected}"
    );
}

/// The page's rows equal the CLI's rows, keyed by `key(cli_row)`.
fn assert_rows(
    page: &[(String, Value)],
    cli: &[Value],
    key: impl Fn(&Value) -> String,
    what: &str,
) {
    assert_eq!(
        page.len(),
        cli.len(),
        "{what}: {} rows on the page, {} from the CLI",
        page.len(),
        cli.len()
    );
    for row in cli {
        let k = key(row);
        let (_, cells) = page
            .iter()
            .find(|(pk, _)| *pk == k)
            .unwrap_or_else(|| panic!("{what}: no row `{k}` on the page"));
        let cells = cells.as_object().unwrap();
        assert!(!cells.is_empty(), "{what}: row `{k}` shows no figures");
        for (field, shown) in cells {
            assert_figure(
                shown.as_str().unwrap(),
                &row[field.as_str()],
                &format!("{what} `{k}` {field}"),
            );
        }
    }
}

/// The CLI's per-store rows summed into one: what the pages call the total.
fn sum(rows: &[Value]) -> Value {
    let fields = [
        "exposures",
        "pickups",
        "try_ons",
        "purchases",
        "journeys",
        "journeys_try_on",
        "journeys_purchase",
        "visits",
    ];
    let mut total = serde_json::Map::new();
    for field in fields {
        let n: u64 = rows.iter().map(|r| r[field].as_u64().unwrap()).sum();
        total.insert(field.to_string(), json!(n));
    }
    let ratio = |a: &str, b: &str| {
        let (a, b) = (total[a].as_u64().unwrap(), total[b].as_u64().unwrap());
        if b == 0 {
            Value::Null
        } else {
            json!(a as f64 / b as f64)
        }
    };
    let rates = [
        ("exposure_to_view", ratio("pickups", "exposures")),
        ("view_to_try_on", ratio("journeys_try_on", "journeys")),
        (
            "try_on_to_purchase",
            ratio("journeys_purchase", "journeys_try_on"),
        ),
        ("view_to_purchase", ratio("journeys_purchase", "journeys")),
    ];
    for (k, v) in rates {
        total.insert(k.to_string(), v);
    }
    Value::Object(total)
}

fn key_of(dims: &'static [&'static str]) -> impl Fn(&Value) -> String {
    move |row| {
        dims.iter()
            .map(|d| row[*d].as_str().unwrap_or("–").to_string())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The keys of `rows`, in order, as the pages write them.
fn key_rows(rows: &[Value], dims: &'static [&'static str]) -> Vec<String> {
    rows.iter().map(key_of(dims)).collect()
}

/// Table `#id` on the browser's page equals the CLI's rows keyed by `dims`.
fn assert_table(
    browser: &Browser,
    id: &str,
    cli: &[Value],
    dims: &'static [&'static str],
    what: &str,
) {
    assert_rows(&table(browser, id), cli, key_of(dims), what);
}

/// No console message at error level since the last check.
fn assert_quiet_console(browser: &Browser, page: &str) {
    let errors: Vec<(String, String)> = browser
        .console()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "{page}: console errors {errors:?}");
}

#[test]
fn every_page_in_both_languages_shows_the_figures_of_aisle_funnel() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let hq = HqCollector::start(dir.path(), &broker.url(), &[]);
    let (batches, events) = event_batches();
    publish(&broker.url(), &batches);
    publish(&broker.url(), &fleet_messages(UnixMillis::now()));
    wait_until("every event and fleet message stored", DEADLINE, || {
        let stored = count(&hq.db, "SELECT COUNT(*) FROM events") as usize;
        let gateways = count(&hq.db, "SELECT COUNT(*) FROM fleet_gateways");
        let tags = count(&hq.db, "SELECT COUNT(*) FROM fleet_tags");
        (stored == events && gateways == 2 && tags == 3).then_some(())
    });
    let db = hq.db.clone();
    let catalog = catalog(dir.path());
    let cat = catalog.to_str().unwrap();
    let directory = directory(dir.path());
    let stores = directory.to_str().unwrap();
    import_miniprogram(dir.path(), &db);
    let dashboard = Dashboard::start(
        dir.path(),
        "dashboard",
        &[
            "--db",
            db.to_str().unwrap(),
            "--catalog",
            cat,
            "--stores",
            stores,
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let browser = Browser::start(dir.path(), 1280, 1000);

    // The default Overview and SKU list were prewarmed at the start: once
    // `/api/status` says so, their first views compute nothing (and the
    // loop below checks every figure on them against the CLI).
    let status = || -> Value {
        serde_json::from_slice(&http::get(&dashboard.addr, "/api/status").body).unwrap()
    };
    let warmed = wait_until("the default views prewarmed", DEADLINE, || {
        let now = status();
        (now["prewarm"]["state"] == "done").then_some(now)
    });
    assert!(warmed["prewarm"]["runs"].as_u64() >= Some(1), "{warmed}");
    for path in ["/", "/skus?lang=zh-CN"] {
        assert_eq!(http::get(&dashboard.addr, path).status, 200, "{path}");
    }
    assert_eq!(
        status()["reports_computed"],
        warmed["reports_computed"],
        "the first views were served from the prewarmed reports"
    );

    let by_store = cli_rows(&db, &["--by", "store", "--catalog", cat]);
    let by_sku = cli_rows(&db, &["--by", "sku", "--catalog", cat]);
    for lang in LANGS {
        let visit = |path: &str, name: &str| {
            let sep = if path.contains('?') { '&' } else { '?' };
            browser.goto(&dashboard.url(&format!("{path}{sep}lang={lang}")));
            let html_lang = browser.execute("return document.documentElement.lang;");
            assert_eq!(html_lang, lang, "{path}");
            browser.screenshot(&shots.join(format!("{name}-{lang}.png")));
            assert_quiet_console(&browser, path);
        };

        // Overview: the totals, the channel row, each day and each store.
        visit("/", "overview");
        let kpis = browser.execute(
            "return Object.fromEntries(Array.from(document.querySelectorAll('#kpis .kpi'))
               .map(k => [k.dataset.field, k.querySelector('b').textContent]));",
        );
        let total = sum(&by_store);
        for (field, shown) in kpis.as_object().unwrap() {
            assert_figure(
                shown.as_str().unwrap(),
                &total[field.as_str()],
                &format!("total {field}"),
            );
        }
        let channels = table(&browser, "channels");
        let keys: Vec<&str> = channels.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["miniprogram", "store"],
            "the stores beside the import"
        );
        assert_rows(
            &channels,
            &cli_rows(&db, &["--by", "channel"]),
            key_of(&["channel"]),
            "channel",
        );
        let days = cli_rows(&db, &["--by", "day", "--stores", stores]);
        assert_table(&browser, "days", &days, &["day"], "day");
        assert_table(&browser, "stores", &by_store, &["store"], "store");

        // SKUs, with catalog names shown as text, never as markup.
        visit("/skus", "skus");
        assert_table(&browser, "skus", &by_sku, &["sku"], "sku");
        let evil = browser.text("#skus tr[data-key=\"TS-RED-L\"] td.name");
        assert_eq!(evil, EVIL);
        assert_eq!(browser.execute("return document.images.length;"), 0);

        // One SKU: total, per store, per day.
        visit("/sku?code=TS-RED-M", "sku");
        let total: Vec<Value> = by_sku
            .iter()
            .filter(|r| r["sku"] == "TS-RED-M")
            .cloned()
            .collect();
        assert_table(&browser, "sku-total", &total, &["sku"], "SKU total");
        let per_store: Vec<Value> = cli_rows(&db, &["--by", "sku,store", "--catalog", cat])
            .into_iter()
            .filter(|r| r["sku"] == "TS-RED-M")
            .collect();
        assert_table(&browser, "sku-stores", &per_store, &["store"], "SKU store");
        let sku_days: Vec<Value> = cli_rows(
            &db,
            &["--by", "sku,day", "--catalog", cat, "--stores", stores],
        )
        .into_iter()
        .filter(|r| r["sku"] == "TS-RED-M")
        .collect();
        assert_table(&browser, "days", &sku_days, &["day"], "SKU day");

        // Stores: visits per store, region, local day and hour; zones by
        // dwell; fixtures.
        visit("/stores", "stores");
        assert_table(&browser, "stores", &by_store, &["store"], "store");
        let with_stores = |by: &str| cli_rows(&db, &["--by", by, "--stores", stores]);
        assert_table(
            &browser,
            "regions",
            &with_stores("region"),
            &["region"],
            "region",
        );
        let store_days = with_stores("store,day");
        assert_table(
            &browser,
            "store-days",
            &store_days,
            &["store", "day"],
            "store day",
        );
        // S1's late counts fall on the next Shanghai day: three local days.
        let s1_days: Vec<&Value> = store_days.iter().filter(|r| r["store"] == "S1").collect();
        assert_eq!(s1_days.len(), 3, "S1's local days: {s1_days:?}");
        assert_table(
            &browser,
            "store-hours",
            &with_stores("store,hour"),
            &["store", "hour"],
            "store hour",
        );
        let zones = with_stores("zone");
        assert_table(&browser, "zones", &zones, &["zone"], "zone");
        let ranked: Vec<String> = browser
            .execute("return Array.from(document.querySelectorAll('#zones tr[data-key]')).map(t => t.dataset.key);")
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        let mut by_dwell = zones.clone();
        by_dwell.sort_by_key(|r| std::cmp::Reverse(r["dwell_s_total"].as_i64()));
        assert_eq!(
            ranked,
            key_rows(&by_dwell, &["zone"]),
            "zones by total dwell"
        );
        // Per region, by local day and by hour.
        let periods: [(&str, &str, &'static [&'static str]); 2] = [
            ("region-days", "region,day", &["region", "day"]),
            ("region-hours", "region,hour", &["region", "hour"]),
        ];
        for (id, by, dims) in periods {
            let rows = with_stores(by);
            assert!(
                rows.iter()
                    .any(|r| r["region"] == "East" && r["visits"].as_u64() > Some(0)),
                "{by}: {rows:?}"
            );
            assert_table(&browser, id, &rows, dims, by);
        }
        let fixtures = cli_rows(&db, &["--by", "store,fixture"]);
        assert_table(
            &browser,
            "fixtures",
            &fixtures,
            &["store", "fixture"],
            "fixture",
        );

        // Fleet: S1 online with its backlog, S2 offline, tags 9 and 11.
        visit("/fleet", "fleet");
        let (online, offline) = match lang {
            "en" => ("online", "offline"),
            _ => ("在线", "离线"),
        };
        assert_eq!(
            browser.text("#gateways tr[data-key=S1] [data-field=state]"),
            online
        );
        assert_eq!(
            browser.text("#gateways tr[data-key=S2] [data-field=state]"),
            offline
        );
        assert_figure(
            &browser.text("#gateways tr[data-key=S1] [data-field=spool_depth]"),
            &json!(1234),
            "spool depth",
        );
        assert_figure(
            &browser.text("#gateways tr[data-key=S1] [data-field=bad_frames]"),
            &json!(3),
            "bad frames",
        );
        let tags: Vec<String> = browser
            .execute("return Array.from(document.querySelectorAll('#tags tr[data-key]')).map(t => t.dataset.key);")
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(tags, ["S1/9", "S1/11"]);
    }

    // The store menu lists S3, which has only door counts.
    browser.goto(&dashboard.url("/skus?lang=en"));
    let menu = browser.execute(
        "return Array.from(document.querySelectorAll('#store-filter option')).map(o => o.value);",
    );
    assert_eq!(menu, json!(["", "S1", "S2", "S3"]));

    // Click the region filter, then add a brand: the SKU list is `aisle
    // funnel --region` and `--brand` over the same directory.
    browser.click("#region-filter option[value=East]");
    browser.click("#apply");
    wait_until("the region's page", DEADLINE, || {
        browser.url().contains("region=East").then_some(())
    });
    let with_dir = ["--by", "sku", "--catalog", cat, "--stores", stores];
    let east = cli_rows(&db, &[&with_dir[..], &["--region", "East"]].concat());
    assert!(
        !east.is_empty() && east != by_sku,
        "East is S1 and S3: {east:?}"
    );
    assert_table(&browser, "skus", &east, &["sku"], "East sku");
    // The store menu offers East's stores only.
    let store_menu = || {
        browser.execute(
            "return Array.from(document.querySelectorAll('#store-filter option')).map(o => o.value);",
        )
    };
    assert_eq!(store_menu(), json!(["", "S1", "S3"]));
    browser.screenshot(&shots.join("skus-region-en.png"));
    assert_quiet_console(&browser, "region filter");
    browser.click("#brand-filter option[value='aisle outlet']");
    browser.click("#apply");
    wait_until("the brand's page", DEADLINE, || {
        browser.url().contains("brand=aisle+outlet").then_some(())
    });
    // No store is in East and of the outlet brand.
    assert!(cli_rows(
        &db,
        &[
            &with_dir[..],
            &["--region", "East", "--brand", "aisle outlet"]
        ]
        .concat()
    )
    .is_empty());
    assert_eq!(
        browser.execute("return document.querySelectorAll('#skus').length;"),
        0
    );
    assert_eq!(store_menu(), json!([""]), "no store is East and outlet");
    browser.goto(&dashboard.url("/skus?lang=zh-CN&brand=aisle%20outlet"));
    assert_eq!(store_menu(), json!(["", "S2"]));
    let outlet = cli_rows(&db, &[&with_dir[..], &["--brand", "aisle outlet"]].concat());
    assert_eq!(
        outlet,
        cli_rows(&db, &["--by", "sku", "--catalog", cat, "--store", "S2"])
    );
    assert_table(&browser, "skus", &outlet, &["sku"], "outlet sku");
    let pager = browser.execute(
        "const p = document.querySelector('#pager'); return [p.dataset.page, p.dataset.pages, p.dataset.rows];",
    );
    assert_eq!(pager, json!(["1", "1", outlet.len().to_string()]));
    // A page past the end of the list: a 404 that says which page exists,
    // with the filters and a link to the last page.
    let past = http::get(&dashboard.addr, "/skus?page=999&lang=en");
    assert_eq!(past.status, 404);
    assert!(
        past.text().contains("Page 999 of 1 does not exist."),
        "{}",
        past.text()
    );
    browser.goto(&dashboard.url("/skus?lang=en&store=S2&sort=pickups&page=7"));
    assert_eq!(
        browser.text("#past-end a"),
        "Go to the last page",
        "{}",
        browser.text("#past-end")
    );
    assert!(browser
        .text("#past-end")
        .starts_with("Page 7 of 1 does not exist."));
    assert_eq!(
        browser
            .find_all("#store-filter option[value=S2][selected]")
            .len(),
        1
    );
    // The 404 itself is the browser's only console error here.
    let errors: Vec<(String, String)> = browser
        .console()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.iter().all(|(_, m)| m.contains("404")), "{errors:?}");
    browser.click("#last-page");
    wait_until("the last page", DEADLINE, || {
        browser.url().contains("page=1").then_some(())
    });
    assert!(browser.url().contains("store=S2") && browser.url().contains("sort=pickups"));
    let s2 = cli_rows(&db, &["--by", "sku", "--catalog", cat, "--store", "S2"]);
    assert_table(&browser, "skus", &s2, &["sku"], "last page S2 sku");
    assert_quiet_console(&browser, "the last page");

    let unknown = http::get(&dashboard.addr, "/skus?region=North");
    assert_eq!(unknown.status, 400);
    assert!(unknown.text().contains("East, West"), "{}", unknown.text());

    // Click a filter: store S2 on the SKU list.
    browser.goto(&dashboard.url("/skus?lang=en"));
    browser.click("#store-filter option[value=S2]");
    browser.click("#apply");
    wait_until("the filtered page", DEADLINE, || {
        browser.url().contains("store=S2").then_some(())
    });
    let s2 = cli_rows(&db, &["--by", "sku", "--catalog", cat, "--store", "S2"]);
    assert_table(&browser, "skus", &s2, &["sku"], "S2 sku");
    assert_quiet_console(&browser, "filtered SKUs");

    // Click a sort: pickups, largest first; the filter stays.
    browser.click("th[data-sort=pickups] a");
    wait_until("the sorted page", DEADLINE, || {
        browser.url().contains("sort=pickups").then_some(())
    });
    let sorted = table(&browser, "skus");
    assert_rows(&sorted, &s2, key_of(&["sku"]), "sorted S2 sku");
    let pickups: Vec<i64> = sorted
        .iter()
        .map(|(_, cells)| {
            let digits: String = cells["pickups"]
                .as_str()
                .unwrap()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap()
        })
        .collect();
    assert!(pickups.windows(2).all(|w| w[0] >= w[1]), "{pickups:?}");
    assert!(browser.url().contains("store=S2"));

    // The language switch keeps the page and its filters.
    browser.click("#lang-switch");
    wait_until("the Chinese page", DEADLINE, || {
        (browser.execute("return document.documentElement.lang;") == "zh-CN").then_some(())
    });
    assert!(browser.url().contains("store=S2") && browser.url().contains("sort=pickups"));
    assert_quiet_console(&browser, "switched language");

    // The channel filter: the online channel's SKUs, the rows of `--by
    // sku,channel` of that channel; the filter stays on the links.
    browser.goto(&dashboard.url("/skus?lang=en"));
    browser.click("#channel-filter option[value=miniprogram]");
    browser.click("#apply");
    wait_until("the online channel's page", DEADLINE, || {
        browser.url().contains("channel=miniprogram").then_some(())
    });
    let online: Vec<Value> = cli_rows(&db, &["--by", "sku,channel", "--catalog", cat])
        .into_iter()
        .filter(|r| r["channel"] == "miniprogram")
        .collect();
    assert!(!online.is_empty());
    assert_table(&browser, "skus", &online, &["sku"], "miniprogram sku");
    assert_quiet_console(&browser, "online channel");
    browser.click("#skus tr[data-key=TS-RED-M] a");
    wait_until("the SKU page of the channel", DEADLINE, || {
        browser.url().contains("code=TS-RED-M").then_some(())
    });
    assert!(browser.url().contains("channel=miniprogram"));
    let tee: Vec<Value> = online
        .iter()
        .filter(|r| r["sku"] == "TS-RED-M")
        .cloned()
        .collect();
    assert_table(&browser, "sku-total", &tee, &["sku"], "miniprogram SKU");
    let unknown = http::get(&dashboard.addr, "/skus?channel=tmall");
    assert_eq!(unknown.status, 400);
    assert!(unknown.text().contains("miniprogram"));

    // A range whose end is not after its start: refused alike by the API
    // and the CLI, never an empty report that reads as "nothing sold".
    let reversed = http::get(
        &dashboard.addr,
        "/api/funnel?from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z",
    );
    assert_eq!(reversed.status, 400);
    let cli_reversed = Command::new(aisle_bin())
        .args(["funnel", "--db"])
        .arg(&db)
        .args([
            "--from",
            "2026-11-21T00:00:00Z",
            "--to",
            "2026-11-20T00:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(!cli_reversed.status.success());
    assert!(String::from_utf8_lossy(&cli_reversed.stderr).contains("must be after --from"));

    // The API is the CLI, byte for byte.
    for (query, args) in [
        ("", vec!["--catalog", cat]),
        (
            "?by=sku,store&window=2h",
            vec!["--by", "sku,store", "--window", "2h", "--catalog", cat],
        ),
        (
            "?by=region,hour",
            vec!["--by", "region,hour", "--stores", stores],
        ),
        (
            "?by=sku,store&sku=TS-RED-M&sku=80614141123472&region=East",
            vec![
                "--by",
                "sku,store",
                "--sku",
                "TS-RED-M",
                "--sku",
                C,
                "--region",
                "East",
                "--catalog",
                cat,
                "--stores",
                stores,
            ],
        ),
        (
            "?by=store,day&brand=aisle",
            vec!["--by", "store,day", "--brand", "aisle", "--stores", stores],
        ),
        (
            "?by=zone&store=S1",
            vec!["--by", "zone", "--store", "S1", "--stores", stores],
        ),
        (
            "?by=style&store=S1&from=2026-11-21T00:00:00Z&channel=store",
            vec![
                "--by",
                "style",
                "--store",
                "S1",
                "--from",
                "2026-11-21T00:00:00Z",
                "--catalog",
                cat,
            ],
        ),
    ] {
        let api = http::get(&dashboard.addr, &format!("/api/funnel{query}"));
        assert_eq!(api.status, 200, "{}", api.text());
        assert_eq!(api.text(), cli(&db, &args), "/api/funnel{query}");
    }
    let fleet: Value =
        serde_json::from_slice(&http::get(&dashboard.addr, "/api/fleet").body).unwrap();
    assert_eq!(fleet["gateways"][0]["state"], "online");
    assert_eq!(fleet["gateways"][1]["state"], "offline");
    assert_eq!(fleet["tags_known"], 3);
    assert_eq!(
        fleet["tags"][0]["problems"],
        json!(["low_battery", "dropping"])
    );
    assert_eq!(fleet["tags"][1]["problems"], json!(["silent"]));

    // An unknown parameter is a 400 that names it, in the page and the API.
    let bad = http::get(&dashboard.addr, "/skus?colour=red");
    assert_eq!(bad.status, 400);
    browser.goto(&dashboard.url("/skus?colour=red&lang=en"));
    assert!(browser
        .text("#error")
        .starts_with("unknown query parameter `colour`"));
    let bad = http::get(&dashboard.addr, "/api/funnel?by=sku&format=csv");
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().starts_with("unknown query parameter `format`"),
        "{}",
        bad.text()
    );

    // A database that cannot be opened: a page that says so.
    let missing = Dashboard::start(
        dir.path(),
        "dashboard-missing",
        &[
            "--db",
            dir.path().join("nowhere.db").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(http::get(&missing.addr, "/").status, 503);
    browser.goto(&missing.url("/skus?lang=en"));
    assert!(
        browser.text("#error").contains("does not exist"),
        "{}",
        browser.text("#error")
    );
    browser.screenshot(&shots.join("database-missing-en.png"));
    drop(missing.child);
    drop(dashboard.child);
}

#[test]
fn listens_beyond_loopback_only_with_a_token_and_demands_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hq.db");
    let refused = Command::new(aisle_bin())
        .args([
            "dashboard",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("--auth-token-file"), "{message}");

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "a-long-dashboard-token\n").unwrap();
    let dashboard = Dashboard::start(
        dir.path(),
        "dashboard",
        &[
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
            "--auth-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let port = dashboard.addr.rsplit(':').next().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let without = http::get(&addr, "/fleet");
    assert_eq!(without.status, 401);
    assert!(without.header("www-authenticate").is_some());
    let wrong = http::request(
        &addr,
        "GET",
        "/fleet",
        &[("Authorization", "Bearer a-long-dashboard-tokem")],
        None,
    )
    .unwrap();
    assert_eq!(wrong.status, 401);
    let bearer = http::request(
        &addr,
        "GET",
        "/api/fleet",
        &[("Authorization", "Bearer a-long-dashboard-token")],
        None,
    )
    .unwrap();
    // The database does not exist yet: authorised, and told so.
    assert_eq!(bearer.status, 503, "{}", bearer.text());
    // Basic auth, any user, the token as password ("hq:a-long-dashboard-token").
    let basic = http::request(
        &addr,
        "GET",
        "/api/fleet",
        &[(
            "Authorization",
            "Basic aHE6YS1sb25nLWRhc2hib2FyZC10b2tlbg==",
        )],
        None,
    )
    .unwrap();
    assert_eq!(basic.status, 503, "{}", basic.text());
    assert!(!dashboard
        .child
        .log_text()
        .contains("a-long-dashboard-token"));
}
