//! The fleet tables' promises, on the SQLite store.

use super::*;

fn store() -> (tempfile::TempDir, EventStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::Sqlite(SqliteStore::open(&dir.path().join("hq.db")).unwrap());
    (dir, store)
}

fn put(store: &mut EventStore, topic: &str, payload: &str, now: i64) -> FleetCounts {
    record(
        store,
        &[FleetReceived {
            topic,
            payload: payload.as_bytes(),
        }],
        now,
    )
    .unwrap()
}

const ONLINE: &str = r#"{"state":"online","store":"S1","gateway":"gw-1","at":"2026-11-20T10:00:00.000Z","spool_depth":3}"#;
const WILL: &str =
    r#"{"state":"offline","store":"S1","gateway":"gw-1","reason":"connection lost"}"#;

#[test]
fn keeps_the_latest_status_and_since_when_its_state_holds() {
    let (_dir, mut store) = store();
    put(&mut store, "aisle/v1/stores/S1/status", ONLINE, 1_000);
    put(&mut store, "aisle/v1/stores/S1/status", ONLINE, 2_000);
    let gw = &gateways(&store).unwrap()[0];
    assert_eq!((gw.state.as_str(), gw.since_ms), ("online", 1_000));
    assert_eq!(gw.status["spool_depth"], 3);
    put(&mut store, "aisle/v1/stores/S1/status", WILL, 5_000);
    let gw = &gateways(&store).unwrap()[0];
    assert_eq!(
        (gw.state.as_str(), gw.since_ms, gw.status_ms),
        ("offline", 5_000, 5_000)
    );
    assert_eq!(gw.gateway.as_deref(), Some("gw-1"));
}

#[test]
fn an_older_tag_sighting_never_replaces_a_newer_one() {
    let (_dir, mut store) = store();
    let tags = |seen: &str, mv: u16| {
        format!(
            r#"{{"store":"S1","gateway":"gw-1","at":"{seen}","tags":[{{"tag":7,"last_seen":"{seen}","boot":1,"battery_mv":{mv},"dropped":0,"fw":"1.0.0","reset_reason":null}}]}}"#
        )
    };
    put(
        &mut store,
        "aisle/v1/stores/S1/tags",
        &tags("2026-11-20T10:00:00Z", 2900),
        1,
    );
    put(
        &mut store,
        "aisle/v1/stores/S1/tags",
        &tags("2026-11-20T09:00:00Z", 2100),
        2,
    );
    let alarms = TagAlarms {
        silent_before_ms: 0,
        low_battery_mv: 2400,
    };
    let (known, attention) = tags_needing_attention(&store, alarms).unwrap();
    assert_eq!((known, attention.len()), (1, 0));
    put(
        &mut store,
        "aisle/v1/stores/S1/tags",
        &tags("2026-11-20T11:00:00Z", 2100),
        3,
    );
    let (_, attention) = tags_needing_attention(&store, alarms).unwrap();
    assert_eq!(attention[0].battery_mv, Some(2100));
}

#[test]
fn quarantines_unreadable_and_misaddressed_fleet_messages() {
    let (_dir, mut store) = store();
    let counts = put(&mut store, "aisle/v1/stores/S2/status", ONLINE, 1);
    assert_eq!(counts.quarantined, 1);
    let counts = put(&mut store, "aisle/v1/stores/S1/tags", "{not json", 1);
    assert_eq!(counts.quarantined, 1);
    assert_eq!(store.quarantine_count().unwrap(), 2);
    assert!(gateways(&store).unwrap().is_empty());
}

#[test]
fn only_status_and_tags_topics_are_fleet_topics() {
    assert_eq!(
        fleet_topic("aisle/v1/stores/S1/status"),
        Some((FleetTopic::Status, "S1"))
    );
    assert_eq!(
        fleet_topic("aisle/v1/stores/S1/tags"),
        Some((FleetTopic::Tags, "S1"))
    );
    assert_eq!(fleet_topic("aisle/v1/stores/S1/events"), None);
    assert_eq!(fleet_topic("aisle/v1/stores//status"), None);
}
