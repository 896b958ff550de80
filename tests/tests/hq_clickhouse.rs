//! HQ on ClickHouse: `aisle hq --db clickhouse://…` and `aisle funnel --db
//! clickhouse://…` against a real `clickhouse-server` and a real Mosquitto.
//!
//! - A simulated store through gateway → Mosquitto → HQ: ClickHouse's funnel
//!   equals the simulator's truth, and `aisle funnel` prints byte for byte
//!   what it prints from SQLite fed the same batches, for every option.
//! - Two collectors in one share group, one SIGKILLed mid-stream and
//!   restarted; ClickHouse stopped for 20 s during ingest: every event
//!   stored, none counted twice.
//! - Repeated, overlapping, out-of-order, days-late and bad batches.
//! - Unreachable server, wrong credentials, unknown schema version: one
//!   line, non-zero exit, nothing written.
//! - A report whose per-garment grouping is bigger than the user's memory
//!   limit spills to disk and equals the unlimited user's.

use aisle_system_tests::clickhouse::{PASSWORD, TIGHT_MEMORY, TIGHT_USER, USER};
use aisle_system_tests::hq::spawn_subscribed;
use aisle_system_tests::{
    aisle_bin, demo_store, stdout_of, wait_until, ChildGuard, ClickHouse, GatewayArgs, Mosquitto,
    SerialLink,
};
use aisle_system_tests::{batch_json, publish_pairs};
use protocol::topics::{Topic, TopicKind};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);
const GTIN: &str = "80614141123458";
/// How long ClickHouse stays down in the outage test.
const OUTAGE: Duration = Duration::from_secs(20);

fn pickup(store: &str, n: u32, ts: &str) -> Value {
    json!({"id": format!("{store}-{n:08}"), "ts": ts, "event": "item_pickup",
           "stage": "view", "tag": n, "gtin": GTIN, "serial": n.to_string()})
}

fn topic(store: &str) -> String {
    Topic::new(store, TopicKind::Events).to_string()
}

/// 200 batches of 25 pickups from store S1: events S1-00000000 … S1-00004999.
fn backlog() -> Vec<(String, Vec<u8>)> {
    (0..200u32)
        .map(|b| {
            let events = (0..25)
                .map(|i| pickup("S1", b * 25 + i, "2026-11-20T10:00:00.000Z"))
                .collect();
            (topic("S1"), batch_json("S1", &format!("b-{b}"), events))
        })
        .collect()
}

/// A number ClickHouse answers, 0 while the table does not exist.
fn number(server: &ClickHouse, sql: &str) -> u64 {
    server
        .try_query(sql)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn distinct_events(server: &ClickHouse) -> u64 {
    number(server, "SELECT uniqExact(id) FROM aisle.events")
}

fn run_aisle(args: &[&str]) -> Output {
    Command::new(aisle_bin()).args(args).output().unwrap()
}

fn aisle_stdout(args: &[&str]) -> String {
    stdout_of(Command::new(aisle_bin()).args(args))
}

/// Asserts that `out` failed with exit 1 and one line on stderr holding
/// every one of `needles`.
fn assert_one_line_failure(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    }
}

// ---- a simulated store, SQLite and ClickHouse side by side ----

/// HQ's funnel window (the simulator needs at least 2m).
const WINDOW: &str = "2m";
const RUN_DEADLINE: Duration = Duration::from_secs(240);

fn spawn_hq(dir: &Path, broker: &Mosquitto, client_id: &str, db: &str) -> ChildGuard {
    let log_dir = dir.join(client_id);
    std::fs::create_dir_all(&log_dir).unwrap();
    spawn_subscribed(&log_dir, &broker.url(), db, &["--client-id", client_id])
}

#[test]
fn a_simulated_store_gives_the_truth_and_every_report_equals_sqlites() {
    let dir = tempfile::tempdir().unwrap();
    let server = ClickHouse::start();
    let broker = Mosquitto::start();
    let ch_db = server.url("aisle");
    let sqlite_db = dir.path().join("hq.sqlite");
    // Two collectors outside any group: each gets every batch.
    let _ch_hq = spawn_hq(dir.path(), &broker, "hq-clickhouse", &ch_db);
    let _sqlite_hq = spawn_hq(
        dir.path(),
        &broker,
        "hq-sqlite",
        sqlite_db.to_str().unwrap(),
    );
    let link = SerialLink::open(dir.path());
    let gateway_args = GatewayArgs::demo(broker.url(), link.gateway_path(), dir.path());
    let _gateway = gateway_args.spawn();
    let truth_path = dir.path().join("truth.json");
    let mut cmd = Command::new(aisle_bin());
    cmd.arg("simulate")
        .arg("--config")
        .arg(demo_store())
        .arg("--port")
        .arg(link.device_path())
        .arg("--truth")
        .arg(&truth_path)
        .args(["--seed", "21", "--duration", "40s", "--window", WINDOW])
        .env("RUST_LOG", "info");
    let mut sim = ChildGuard::spawn("aisle simulate", &mut cmd, &dir.path().join("sim.log"));
    let status = sim.wait_exit(RUN_DEADLINE);
    assert!(
        status.success(),
        "aisle simulate failed:\n{}",
        sim.log_tail()
    );
    let truth = std::fs::read_to_string(&truth_path).unwrap();

    let by_sku = |db: &str| {
        aisle_stdout(&[
            "funnel", "--format", "json", "--by", "sku", "--window", WINDOW, "--db", db,
        ])
    };
    // Both collectors have everything once both show the truth.
    wait_until("ClickHouse's funnel to equal the truth", DEADLINE, || {
        (by_sku(&ch_db) == truth).then_some(())
    });
    wait_until("SQLite's funnel to equal the truth", DEADLINE, || {
        (by_sku(sqlite_db.to_str().unwrap()) == truth).then_some(())
    });

    // A catalog naming some of the demo's GTINs, one style over two SKUs.
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "gtin,sku,style,name,colour,size\n\
         00614141100118,SHIRT-W-M,SHIRT,Linen shirt,white,M\n\
         00614141100125,SHIRT-B-M,SHIRT,Linen shirt,sky blue,M\n\
         00614141300310,JEANS-SLIM,JEANS,Slim jeans,indigo,32/32\n",
    )
    .unwrap();
    let catalog = catalog.to_str().unwrap();
    // The simulated day's first and last event bound the time filters.
    let span = server.query("SELECT min(ts_ms), max(ts_ms) FROM aisle.events");
    let (first, last): (i64, i64) = {
        let mut it = span.split_whitespace().map(|v| v.parse().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    let rfc3339 = |ms: i64| protocol::time::UnixMillis(ms).to_string();
    let middle = rfc3339((first + last) / 2);
    let after_first = rfc3339(first + 10_000);
    let store_id = server.query("SELECT any(store) FROM aisle.events");
    let store_id = store_id.trim();
    let variants: Vec<Vec<&str>> = vec![
        vec![],
        vec!["--by", "store"],
        vec!["--by", "sku,store", "--format", "csv"],
        vec!["--by", "fixture", "--format", "json"],
        vec!["--by", "store,fixture,sku"],
        vec!["--by", "style", "--catalog", catalog],
        vec!["--by", "sku", "--catalog", catalog, "--format", "csv"],
        vec!["--window", "30s"],
        vec!["--window", "1d", "--format", "json"],
        vec!["--from", &middle],
        vec!["--to", &middle, "--by", "fixture"],
        vec!["--from", &after_first, "--to", &middle, "--format", "csv"],
        vec!["--store", store_id],
        vec!["--store", "no-such-store", "--format", "json"],
    ];
    for variant in &variants {
        let with = |db: &str| {
            let mut args = vec!["funnel", "--db", db];
            args.extend(variant.iter().copied());
            aisle_stdout(&args)
        };
        assert_eq!(
            with(&ch_db),
            with(sqlite_db.to_str().unwrap()),
            "aisle funnel {variant:?}: ClickHouse (left) differs from SQLite (right)"
        );
    }
}

// ---- collectors and ClickHouse failing ----

/// Waits for all 5 000 events of [`backlog`] and checks that each is there
/// exactly once, as the report sees them.
fn assert_backlog_stored_once(server: &ClickHouse) {
    wait_until("5000 distinct events in ClickHouse", DEADLINE, || {
        (distinct_events(server) == 5000).then_some(())
    });
    let expected_ids = number(
        server,
        "SELECT count() FROM (SELECT DISTINCT id FROM aisle.events \
         WHERE id LIKE 'S1-0000%' AND length(id) = 11)",
    );
    assert_eq!(expected_ids, 5000, "only the published ids");
    let report: Value = serde_json::from_str(&aisle_stdout(&[
        "funnel",
        "--format",
        "json",
        "--db",
        &server.url("aisle"),
    ]))
    .unwrap();
    assert_eq!(report["rows"][0]["pickups"], 5000, "{report}");
    assert_eq!(report["rows"][0]["journeys"], 5000, "{report}");
}

#[test]
fn two_collectors_in_a_group_one_killed_and_restarted_store_every_event_once() {
    let server = ClickHouse::start();
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let db = server.url("aisle");
    let start = |name: &str| {
        let log_dir = dir.path().join(name);
        std::fs::create_dir_all(&log_dir).unwrap();
        spawn_subscribed(
            &log_dir,
            &broker.url(),
            &db,
            &["--share", "hq", "--client-id", name],
        )
    };
    let mut a = start("hq-a");
    let _b = start("hq-b");
    let batches = backlog();
    publish_pairs(&broker.url(), &batches[..100]);
    wait_until("some events stored", DEADLINE, || {
        (distinct_events(&server) > 0).then_some(())
    });
    a.kill9();
    // Queued by the broker, for the survivor and for hq-a's session.
    publish_pairs(&broker.url(), &batches[100..]);
    let _a = start("hq-a");
    assert_backlog_stored_once(&server);
}

#[test]
fn clickhouse_down_for_20_s_during_ingest_loses_and_doubles_nothing() {
    let mut server = ClickHouse::start();
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let hq = spawn_subscribed(dir.path(), &broker.url(), &server.url("aisle"), &[]);
    let batches = backlog();
    publish_pairs(&broker.url(), &batches[..100]);
    wait_until("some events stored", DEADLINE, || {
        (distinct_events(&server) > 0).then_some(())
    });
    server.stop();
    let down = Instant::now();
    publish_pairs(&broker.url(), &batches[100..]);
    wait_until("the collector to hold back its acks", DEADLINE, || {
        hq.log_text()
            .contains("cannot commit batches; retrying")
            .then_some(())
    });
    // The outage itself: no condition ends it, the test's scenario does.
    std::thread::sleep(OUTAGE.saturating_sub(down.elapsed()));
    server.start_again();
    assert_backlog_stored_once(&server);
}

#[test]
fn repeated_overlapping_late_and_bad_batches_count_once_or_are_quarantined() {
    let server = ClickHouse::start();
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let db = server.url("aisle");
    let _hq = spawn_subscribed(dir.path(), &broker.url(), &db, &[]);
    let today = "2026-11-20T10:00:00.000Z";
    let days_ago = "2026-11-16T09:00:00.000Z";
    let first = batch_json(
        "S1",
        "b-1",
        (1..=3).map(|n| pickup("S1", n, today)).collect(),
    );
    let overlapping = batch_json(
        "S1",
        "b-2",
        (3..=5).map(|n| pickup("S1", n, today)).collect(),
    );
    // Sent after today's, about four days ago: an earlier month partition
    // is not needed for this, only an earlier time than what came before.
    let late = batch_json(
        "S1",
        "b-0",
        (6..=7).map(|n| pickup("S1", n, days_ago)).collect(),
    );
    let mut unknown_event = pickup("S1", 8, today);
    unknown_event["event"] = json!("item_browse");
    let with_bad_event = batch_json("S1", "b-3", vec![pickup("S1", 9, today), unknown_event]);
    publish_pairs(
        &broker.url(),
        &[
            (topic("S1"), first.clone()),
            (topic("S1"), overlapping),
            (topic("S1"), first),
            (topic("S1"), late.clone()),
            (topic("S1"), late),
            (topic("S1"), b"{not json".to_vec()),
            (
                topic("S1"),
                batch_json("S2", "b-wrong-store", vec![pickup("S2", 1, today)]),
            ),
            (topic("S1"), with_bad_event),
        ],
    );
    wait_until("3 quarantine rows", DEADLINE, || {
        (number(&server, "SELECT count() FROM aisle.quarantine") == 3).then_some(())
    });
    wait_until("the last good event", DEADLINE, || {
        (number(
            &server,
            "SELECT count() FROM aisle.events WHERE id = 'S1-00000009'",
        ) > 0)
            .then_some(())
    });
    assert_eq!(distinct_events(&server), 8, "events 1-7 and 9");
    assert!(
        number(&server, "SELECT count() FROM aisle.events") > 8,
        "the repeats are stored and left to the reads"
    );
    assert_eq!(
        number(
            &server,
            "SELECT count() FROM aisle.quarantine WHERE reason LIKE 'not JSON%' \
             AND payload = '{not json' AND event_index IS NULL"
        ),
        1
    );
    assert_eq!(
        number(
            &server,
            "SELECT count() FROM aisle.quarantine WHERE reason LIKE '%store `S2`%'"
        ),
        1
    );
    assert_eq!(
        number(
            &server,
            "SELECT count() FROM aisle.quarantine WHERE batch_id = 'b-3' AND event_index = 1 \
             AND position(payload, 'item_browse') > 0"
        ),
        1
    );
    assert_eq!(
        number(
            &server,
            "SELECT count() FROM aisle.events WHERE store = 'S2'"
        ),
        0
    );
    let report: Value =
        serde_json::from_str(&aisle_stdout(&["funnel", "--format", "json", "--db", &db])).unwrap();
    assert_eq!(report["rows"][0]["pickups"], 8, "{report}");
    let late_only: Value = serde_json::from_str(&aisle_stdout(&[
        "funnel",
        "--format",
        "json",
        "--db",
        &db,
        "--to",
        "2026-11-17T00:00:00Z",
    ]))
    .unwrap();
    assert_eq!(late_only["rows"][0]["pickups"], 2, "{late_only}");
}

// ---- chain scale ----

#[test]
fn a_report_bigger_than_the_users_memory_limit_spills_to_disk_and_equals_the_unlimited_one() {
    use aisle_agent::event_store::{Credentials, EventStore, Target};
    let server = ClickHouse::start();
    let db = server.url("aisle");
    EventStore::open(&Target::parse(&db).unwrap(), &Credentials::default()).unwrap();
    // 600,000 garments.
    server.generate_chain("aisle", 3_000_000);
    // The premise: one group per garment does not fit in the tight user's
    // memory when nothing spills.
    let held = server.try_query_with(
        &format!("max_memory_usage={TIGHT_MEMORY}"),
        "SELECT groupArray(ts_ms), groupArray(cityHash64(id))
         FROM aisle.events GROUP BY store, gtin, serial FORMAT Null",
    );
    let refusal = held.expect_err("the grouping fits the tight limit; make the chain bigger");
    assert!(refusal.contains("Code: 241"), "{refusal}");

    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("ch.password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let password_file = password_file.to_str().unwrap();
    for by in ["sku", "store"] {
        let unlimited = aisle_stdout(&["funnel", "--by", by, "--format", "json", "--db", &db]);
        let tight = aisle_stdout(&[
            "funnel",
            "--by",
            by,
            "--format",
            "json",
            "--db",
            &db,
            "--db-user",
            TIGHT_USER,
            "--db-password-file",
            password_file,
        ]);
        assert!(tight == unlimited, "--by {by}: the reports differ");
        let report: Value = serde_json::from_str(&tight).unwrap();
        let pickups: u64 = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["pickups"].as_u64().unwrap())
            .sum();
        assert!(pickups >= 600_000, "every garment is picked up: {pickups}");
    }
}

// ---- refusals at start ----

#[test]
fn credentials_from_a_file_work_and_never_reach_the_log() {
    let server = ClickHouse::start();
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("ch.password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let hq = spawn_subscribed(
        dir.path(),
        &broker.url(),
        &server.url("aisle"),
        &[
            "--db-user",
            USER,
            "--db-password-file",
            password_file.to_str().unwrap(),
        ],
    );
    publish_pairs(
        &broker.url(),
        &[(
            topic("S1"),
            batch_json("S1", "b-1", vec![pickup("S1", 1, "2026-11-20T10:00:00Z")]),
        )],
    );
    wait_until("the event stored", DEADLINE, || {
        (distinct_events(&server) == 1).then_some(())
    });
    assert!(
        !hq.log_text().contains(PASSWORD),
        "the password is in the log"
    );
}

#[test]
fn unreachable_wrong_credentials_and_unknown_schema_are_refused_with_one_line() {
    let server = ClickHouse::start();
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let broker_url = broker.url();
    let hq = |db: &str, extra: &[&str]| {
        let mut args = vec!["hq", "--broker", &broker_url, "--db", db];
        args.extend_from_slice(extra);
        run_aisle(&args)
    };

    let closed = aisle_system_tests::mosquitto::free_port();
    let nowhere = format!("clickhouse://127.0.0.1:{closed}/aisle");
    assert_one_line_failure(&hq(&nowhere, &[]), &["cannot reach ClickHouse", "--db"]);
    assert_one_line_failure(
        &run_aisle(&["funnel", "--db", &nowhere]),
        &["cannot reach ClickHouse"],
    );

    let wrong = dir.path().join("wrong.password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let wrong = wrong.to_str().unwrap();
    let out = hq(
        &server.url("aisle"),
        &["--db-user", USER, "--db-password-file", wrong],
    );
    assert_one_line_failure(&out, &["refused user `aisle`", "--db-password-file"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not-the-password"));
    assert_eq!(
        number(
            &server,
            "SELECT count() FROM system.databases WHERE name = 'aisle'"
        ),
        0,
        "nothing written"
    );

    server.query("CREATE DATABASE future");
    server.query(
        "CREATE TABLE future.aisle_schema (version UInt32, created_ms Int64) \
         ENGINE = MergeTree() ORDER BY version",
    );
    server.query("INSERT INTO future.aisle_schema VALUES (7, 0)");
    assert_one_line_failure(
        &hq(&server.url("future"), &[]),
        &["schema version 7", "knows only version 2"],
    );
    assert_one_line_failure(
        &run_aisle(&["funnel", "--db", &server.url("future")]),
        &["schema version 7"],
    );
    assert_eq!(
        server.query("SELECT name FROM system.tables WHERE database = 'future'"),
        "aisle_schema\n",
        "nothing written"
    );
    assert_eq!(
        server.query("SELECT version FROM future.aisle_schema"),
        "7\n"
    );

    assert_one_line_failure(
        &hq("clickhouse://u:pw@127.0.0.1:8123/aisle", &[]),
        &["--db-password-file"],
    );
}
