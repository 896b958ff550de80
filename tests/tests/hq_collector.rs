//! The HQ collector (`aisle hq`) against a real Mosquitto: validation and
//! quarantine, idempotent storage, the persistent session across a kill -9,
//! shared subscriptions refused on SQLite, TLS with a password, a clean stop
//! on SIGTERM, and the fleet: each store's latest status (and last will) and
//! tag health. (Shared groups on ClickHouse: `hq_clickhouse.rs`.)
//! The event store is read back with SQLite and with `aisle funnel`.

use aisle_system_tests::{
    aisle_bin, batch_json, publish_and_vanish, publish_pairs, stdout_of, tls, wait_until,
    HqCollector, Message, Mosquitto, MosquittoOptions,
};
use protocol::topics::{Topic, TopicKind};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);
const GTIN: &str = "80614141123458";

/// Reads of a collector's database, for the assertions.
trait Readback {
    fn count(&self, sql: &str) -> i64;
    fn wait_events(&self, n: i64);
}

impl Readback for HqCollector {
    fn count(&self, sql: &str) -> i64 {
        count(&self.db, sql)
    }

    fn wait_events(&self, n: i64) {
        wait_until(&format!("{n} events in the store"), DEADLINE, || {
            (self.count("SELECT COUNT(*) FROM events") == n).then_some(())
        });
    }
}

fn count(db: &Path, sql: &str) -> i64 {
    if !db.exists() {
        return 0;
    }
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

fn ids(db: &Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn.prepare("SELECT id FROM events ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn pickup(store: &str, n: u32) -> Value {
    json!({"id": format!("{store}-{n:08}"), "ts": "2026-11-20T10:00:00.000Z", "event": "item_pickup",
           "stage": "view", "tag": n, "epc": null, "gtin": GTIN, "serial": n.to_string(),
           "fixture": null, "zone": null, "duration_ms": null, "gtins": null})
}

fn topic(store: &str) -> String {
    Topic::new(store, TopicKind::Events).to_string()
}

fn funnel_json(db: &Path) -> Value {
    let out = stdout_of(
        Command::new(aisle_bin())
            .args(["funnel", "--format", "json", "--db"])
            .arg(db),
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn quarantines_bad_batches_and_bad_events_and_stores_the_rest() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let hq = HqCollector::start(dir.path(), &broker.url(), &[]);
    let mut unknown_event = pickup("S1", 3);
    unknown_event["event"] = json!("item_browse");
    publish_pairs(
        &broker.url(),
        &[
            (topic("S1"), b"{not json".to_vec()),
            (
                topic("S1"),
                json!({"schema": "aisle.batch.v9", "store": "S1"})
                    .to_string()
                    .into_bytes(),
            ),
            (
                topic("S1"),
                batch_json("S2", "b-wrong-store", vec![pickup("S2", 1)]),
            ),
            (
                topic("S1"),
                batch_json(
                    "S1",
                    "b-1",
                    vec![pickup("S1", 1), pickup("S1", 2), unknown_event],
                ),
            ),
        ],
    );
    hq.wait_events(2);
    wait_until("4 quarantine rows", DEADLINE, || {
        (hq.count("SELECT COUNT(*) FROM quarantine") == 4).then_some(())
    });
    assert_eq!(
        hq.count("SELECT COUNT(*) FROM quarantine WHERE event_index IS NULL"),
        3
    );
    assert_eq!(
        hq.count("SELECT COUNT(*) FROM quarantine WHERE reason LIKE 'not JSON%'"),
        1
    );
    assert_eq!(
        hq.count("SELECT COUNT(*) FROM quarantine WHERE reason LIKE 'unknown schema%'"),
        1
    );
    assert_eq!(
        hq.count("SELECT COUNT(*) FROM quarantine WHERE reason LIKE '%store `S2`%'"),
        1
    );
    assert_eq!(
        hq.count("SELECT COUNT(*) FROM quarantine WHERE event_index = 2 AND batch_id = 'b-1'"),
        1
    );
    assert_eq!(
        hq.count("SELECT COUNT(*) FROM events WHERE store = 'S2'"),
        0
    );
    assert_eq!(funnel_json(&hq.db)["rows"][0]["pickups"], 2);
}

#[test]
fn duplicate_ids_across_batches_and_replayed_batches_count_once() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let hq = HqCollector::start(dir.path(), &broker.url(), &[]);
    let first = batch_json("S1", "b-1", (1..=3).map(|n| pickup("S1", n)).collect());
    let overlapping = batch_json("S1", "b-2", (3..=5).map(|n| pickup("S1", n)).collect());
    let last = batch_json("S1", "b-3", vec![pickup("S1", 6)]);
    publish_pairs(
        &broker.url(),
        &[
            (topic("S1"), first.clone()),
            (topic("S1"), overlapping),
            (topic("S1"), first),
            (topic("S1"), last),
        ],
    );
    // Batches on one topic arrive in order, so once event 6 is stored the
    // replays before it have been handled too.
    wait_until("the last batch", DEADLINE, || {
        (hq.count("SELECT COUNT(*) FROM events WHERE id = 'S1-00000006'") == 1).then_some(())
    });
    assert_eq!(hq.count("SELECT COUNT(*) FROM events"), 6);
    let report = funnel_json(&hq.db);
    assert_eq!(
        (
            report["rows"][0]["pickups"].as_u64(),
            report["rows"][0]["journeys"].as_u64()
        ),
        (Some(6), Some(6))
    );
}

#[test]
fn batches_queued_and_in_flight_across_a_kill_9_are_stored_exactly_once() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut hq = HqCollector::start(dir.path(), &broker.url(), &[]);
    let batches: Vec<(String, Vec<u8>)> = (0..200u32)
        .map(|b| {
            (
                topic("S1"),
                batch_json(
                    "S1",
                    &format!("b-{b}"),
                    (0..25).map(|i| pickup("S1", b * 25 + i)).collect(),
                ),
            )
        })
        .collect();
    publish_pairs(&broker.url(), &batches[..100]);
    // Kill it while it is part-way through the first hundred batches (or
    // just after): whatever it had not acked, the broker still holds.
    wait_until("some events stored", DEADLINE, || {
        (hq.count("SELECT COUNT(*) FROM events") > 0).then_some(())
    });
    hq.child.kill9();
    // These are queued by the broker for the collector's persistent session.
    publish_pairs(&broker.url(), &batches[100..]);
    let restarted = HqCollector::start(dir.path(), &broker.url(), &[]);
    restarted.wait_events(5000);
    let stored = ids(&restarted.db);
    let expected: Vec<String> = (0..5000u32).map(|n| format!("S1-{n:08}")).collect();
    assert_eq!(stored, expected, "every published event once, none missing");
    assert_eq!(funnel_json(&restarted.db)["rows"][0]["pickups"], 5000);
}

#[test]
fn a_shared_group_on_sqlite_files_is_refused() {
    // A group splits every store's batches between its members; with a
    // SQLite file each, each file would hold part of each garment's events.
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(aisle_bin())
        .args(["hq", "--broker", &broker.url(), "--share", "hq", "--db"])
        .arg(dir.path().join("hq.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--share needs an event store the whole group writes to")
            && stderr.contains("clickhouse://"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(!dir.path().join("hq.db").exists(), "nothing written");
}

#[test]
fn connects_over_tls_with_a_password() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = tls::make_server_pki(pki_dir.path());
    let passwd = tls::mosquitto_password_file(pki_dir.path(), "hq", "s3cret-hq");
    let broker = Mosquitto::start_with(MosquittoOptions {
        tls: Some(pki.clone()),
        password_file: Some(passwd),
        allow_anonymous: false,
        ..MosquittoOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "s3cret-hq\n").unwrap();
    let hq = HqCollector::start(
        dir.path(),
        &broker.url(),
        &[
            "--username",
            "hq",
            "--password-file",
            password_file.to_str().unwrap(),
            "--ca-file",
            pki.ca.to_str().unwrap(),
        ],
    );
    publish_pairs(
        &broker.observer_url(),
        &[(topic("S1"), batch_json("S1", "b-1", vec![pickup("S1", 1)]))],
    );
    hq.wait_events(1);
    assert!(
        !hq.child.log_text().contains("s3cret-hq"),
        "the password is in the log"
    );
}

#[test]
fn sigterm_stops_the_collector_cleanly() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut hq = HqCollector::start(dir.path(), &broker.url(), &[]);
    publish_pairs(
        &broker.url(),
        &[(topic("S1"), batch_json("S1", "b-1", vec![pickup("S1", 1)]))],
    );
    hq.wait_events(1);
    hq.child.sigterm();
    let status = hq.child.wait_exit(DEADLINE);
    assert!(
        status.success(),
        "exit status {status}\n{}",
        hq.child.log_tail()
    );
}

/// The latest of a store's fleet rows, read back: (state, since_ms, gateway)
/// and the number of tag rows.
fn fleet_row(db: &Path, store: &str) -> Option<(String, i64, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT state, since_ms, gateway FROM fleet_gateways WHERE store = ?1",
        [store],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .ok()
}

#[test]
fn keeps_each_stores_latest_status_its_last_will_and_tag_health() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let status = |state: &str| {
        json!({"state": state, "store": "S1", "gateway": "gw-1", "at": "2026-11-20T10:00:00.000Z",
               "spool_depth": 4, "dropped_at_cap": 0})
        .to_string()
    };
    // Retained before HQ starts: the broker hands it to the new collector.
    aisle_system_tests::publish(
        &broker.url(),
        &[Message::retained(
            Topic::new("S1", TopicKind::Status).to_string(),
            status("online"),
        )],
    );
    let hq = HqCollector::start(dir.path(), &broker.url(), &[]);
    wait_until("S1 online in the fleet table", DEADLINE, || {
        fleet_row(&hq.db, "S1").filter(|r| r.0 == "online")
    });
    let tags = json!({"store": "S1", "gateway": "gw-1", "at": "2026-11-20T10:00:00.000Z", "tags": [
        {"tag": 7, "last_seen": "2026-11-20T10:00:00.000Z", "boot": 2, "battery_mv": 2950,
         "dropped": 0, "fw": "1.0.0", "reset_reason": "PowerOn"},
        {"tag": 9, "last_seen": "2026-11-20T09:59:00.000Z", "boot": 1, "battery_mv": 2210,
         "dropped": 3, "fw": "1.0.0", "reset_reason": null}]});
    // A gateway that publishes its health and then loses its link: the
    // broker publishes its last will, which HQ must record as offline.
    let will =
        json!({"state": "offline", "store": "S1", "gateway": "gw-1", "reason": "connection lost"});
    publish_and_vanish(
        &broker.url(),
        &[Message::new(
            Topic::new("S1", TopicKind::Tags).to_string(),
            tags.to_string(),
        )],
        Message::retained(
            Topic::new("S1", TopicKind::Status).to_string(),
            will.to_string(),
        ),
    );
    let (state, since_ms, gateway) = wait_until("S1 offline in the fleet table", DEADLINE, || {
        fleet_row(&hq.db, "S1").filter(|r| r.0 == "offline")
    });
    assert_eq!(gateway, "gw-1");
    assert!(since_ms > 0, "{state} since {since_ms}");
    wait_until("both tags stored", DEADLINE, || {
        (count(&hq.db, "SELECT COUNT(*) FROM fleet_tags WHERE store = 'S1'") == 2).then_some(())
    });
    assert_eq!(
        count(
            &hq.db,
            "SELECT battery_mv FROM fleet_tags WHERE store = 'S1' AND tag = 9"
        ),
        2210
    );
    // A status for another store's topic is not believed.
    aisle_system_tests::publish(
        &broker.url(),
        &[Message::new(
            Topic::new("S2", TopicKind::Status).to_string(),
            status("online"),
        )],
    );
    wait_until("the misaddressed status quarantined", DEADLINE, || {
        (count(
            &hq.db,
            &format!(
                "SELECT COUNT(*) FROM quarantine WHERE topic = '{}'",
                Topic::new("S2", TopicKind::Status)
            ),
        ) == 1)
            .then_some(())
    });
    assert!(fleet_row(&hq.db, "S2").is_none());
    assert_eq!(count(&hq.db, "SELECT COUNT(*) FROM events"), 0);
}

#[test]
fn a_backlog_the_broker_sends_all_at_once_is_stored_without_stalling() {
    // No in-flight window: the broker sends the whole queued backlog
    // without waiting for acks, so the collector receives far faster than
    // its acks can go out. It once stopped for good there: its writer
    // waited for room to queue an ack while the connection task, the one
    // that sends acks, waited for room in the writer's queue.
    let broker = Mosquitto::start_with(MosquittoOptions {
        max_inflight_messages: Some(0),
        ..MosquittoOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut hq = HqCollector::start(dir.path(), &broker.url(), &[]);
    hq.child.kill9();
    let batches: Vec<(String, Vec<u8>)> = (0..6000u32)
        .map(|b| {
            let shop = format!("S{}", b % 7);
            let events = vec![pickup(&shop, b)];
            (topic(&shop), batch_json(&shop, &format!("b-{b}"), events))
        })
        .collect();
    publish_pairs(&broker.url(), &batches);
    let restarted = HqCollector::start(dir.path(), &broker.url(), &[]);
    restarted.wait_events(6000);
    assert_eq!(funnel_json(&restarted.db)["rows"][0]["pickups"], 6000);
}
