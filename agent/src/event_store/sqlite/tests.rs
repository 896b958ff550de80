//! The event store on real SQLite files: idempotent inserts, quarantine rows,
//! and the funnel read back through the index.

use super::*;
use crate::event_store::EventFilter;
use crate::funnel::engine::{compute, FunnelEvent, FunnelOptions};
use crate::funnel::store::assemble as report;
use crate::funnel::Dimension;
use crate::hq::validate::validate;
use protocol::topics::{Topic, TopicKind};
use serde_json::json;

/// Store S1's events topic.
fn topic() -> String {
    Topic::new("S1", TopicKind::Events).to_string()
}
const A: &str = "80614141123458";

fn event(id: &str, ts: &str, kind: &str, serial: &str) -> serde_json::Value {
    let stage = kind.parse::<StoreEventKind>().unwrap().stage();
    json!({"id": id, "ts": ts, "event": kind, "stage": stage.as_str(), "tag": 7,
           "epc": null, "gtin": A, "serial": serial, "fixture": null, "zone": null})
}

fn dwell(id: &str, ts: &str, gtins: &[&str]) -> serde_json::Value {
    json!({"id": id, "ts": ts, "event": "fixture_dwell", "stage": "exposure", "tag": 9,
           "fixture": "rack-1", "zone": "A", "duration_ms": 12000, "gtins": gtins})
}

fn payload(batch_id: &str, events: Vec<serde_json::Value>) -> Vec<u8> {
    json!({"schema": "aisle.batch.v1", "store": "S1", "gateway": "gw-1", "batch_id": batch_id,
           "created_at": "2026-11-20T10:00:00.000Z", "events": events})
    .to_string()
    .into_bytes()
}

fn ingest(store: &mut SqliteStore, topic: &str, payload: &[u8]) -> IngestCounts {
    let verdict = validate(topic, payload);
    store
        .ingest(
            &[Received {
                topic,
                payload,
                verdict: &verdict,
            }],
            1,
        )
        .unwrap()
}

fn count(store: &SqliteStore, sql: &str) -> i64 {
    store.connection().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn the_same_event_id_in_two_batches_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    let first = payload(
        "b-1",
        vec![event("S1-1", "2026-11-20T10:00:00Z", "item_pickup", "1")],
    );
    let second = payload(
        "b-2",
        vec![
            event("S1-1", "2026-11-20T10:00:00Z", "item_pickup", "1"),
            event("S1-2", "2026-11-20T10:00:05Z", "item_try_on", "1"),
        ],
    );
    assert_eq!(ingest(&mut store, &topic(), &first).inserted, 1);
    let again = ingest(&mut store, &topic(), &second);
    assert_eq!((again.inserted, again.duplicates), (1, 1));
    let replay = ingest(&mut store, &topic(), &second);
    assert_eq!((replay.inserted, replay.duplicates), (0, 2));
    assert_eq!(store.event_count().unwrap(), 2);
}

#[test]
fn rejected_payloads_and_bad_events_land_in_quarantine_with_reason_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    let counts = ingest(&mut store, &topic(), b"garbage");
    assert_eq!(counts.quarantined_batches, 1);
    let mut bad = event("S1-2", "2026-11-20T10:00:00Z", "item_pickup", "1");
    bad["ts"] = json!("2026-13-40");
    let counts = ingest(
        &mut store,
        &topic(),
        &payload(
            "b-1",
            vec![
                event("S1-1", "2026-11-20T10:00:00Z", "item_pickup", "1"),
                bad,
            ],
        ),
    );
    assert_eq!((counts.inserted, counts.quarantined_events), (1, 1));
    let (reason, raw): (String, Vec<u8>) = store
        .connection()
        .query_row(
            "SELECT reason, payload FROM quarantine WHERE event_index IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(reason.starts_with("not JSON"), "{reason}");
    assert_eq!(raw, b"garbage");
    let (index, batch_id): (i64, String) = store
        .connection()
        .query_row(
            "SELECT event_index, batch_id FROM quarantine WHERE event_index IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((index, batch_id.as_str()), (1, "b-1"));
    assert_eq!(store.quarantine_count().unwrap(), 2);
}

#[test]
fn reopening_keeps_the_data_and_refuses_a_foreign_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    let mut store = SqliteStore::open(&path).unwrap();
    ingest(
        &mut store,
        &topic(),
        &payload(
            "b-1",
            vec![event("S1-1", "2026-11-20T10:00:00Z", "item_pickup", "1")],
        ),
    );
    drop(store);
    assert_eq!(SqliteStore::open(&path).unwrap().event_count().unwrap(), 1);
    assert_eq!(
        SqliteStore::open_read_only(&path)
            .unwrap()
            .event_count()
            .unwrap(),
        1
    );
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .pragma_update(None, "user_version", 7)
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&other),
        Err(DbError::Version { found: 7, .. })
    ));
    assert!(matches!(
        SqliteStore::open_read_only(&dir.path().join("none.db")),
        Err(DbError::Missing(_))
    ));
}

#[test]
fn the_funnel_read_from_sqlite_matches_the_hand_computed_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    // Garment 1: pickup, re-pickup, try-on 30 s later, purchase 60 s after
    // that: one journey reaching purchase. Garment 2 (sent first, as a late
    // store would): pickup then a try-on 2 h later, outside the window.
    ingest(
        &mut store,
        &topic(),
        &payload(
            "b-2",
            vec![
                event("S1-5", "2026-11-20T12:00:01Z", "item_try_on", "2"),
                event("S1-4", "2026-11-20T10:00:00Z", "item_pickup", "2"),
            ],
        ),
    );
    ingest(
        &mut store,
        &topic(),
        &payload(
            "b-1",
            vec![
                dwell("S1-0", "2026-11-20T09:59:00Z", &[A, "80614141123465"]),
                event("S1-1", "2026-11-20T10:00:00Z", "item_pickup", "1"),
                event("S1-2", "2026-11-20T10:00:10Z", "item_pickup", "1"),
                event("S1-3", "2026-11-20T10:00:30Z", "item_try_on", "1"),
                event("S1-6", "2026-11-20T10:01:30Z", "item_purchase", "1"),
            ],
        ),
    );
    let opts = FunnelOptions::default();
    let from_db = report(&store, &EventFilter::default(), &opts).unwrap();
    let row = from_db
        .rows
        .iter()
        .find(|r| r.dims == vec![Some(A.to_string())])
        .unwrap();
    assert_eq!(
        (
            row.exposures,
            row.pickups,
            row.try_ons,
            row.purchases,
            row.journeys,
            row.journeys_try_on,
            row.journeys_purchase
        ),
        (1, 3, 2, 1, 2, 1, 1)
    );
    assert_eq!(
        (row.median_s_view_to_try_on, row.median_s_try_on_to_purchase),
        (Some(30), Some(60))
    );
    assert_eq!(
        from_db.rows.len(),
        2,
        "the second GTIN on the fixture has an exposure row"
    );

    // The same events through the in-memory engine give the same report.
    let mut events = Vec::new();
    let mut stmt = store
        .connection()
        .prepare("SELECT store, ts_ms, event, gtin, serial, fixture, id FROM events")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let id: String = r.get(6).unwrap();
        let gtins: Vec<String> = store
            .connection()
            .prepare("SELECT value FROM events, json_each(events.gtins) WHERE events.id = ?1")
            .unwrap()
            .query_map([&id], |g| g.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        events.push(FunnelEvent {
            store: r.get(0).unwrap(),
            ts: protocol::time::UnixMillis(r.get(1).unwrap()),
            kind: r.get::<_, String>(2).unwrap().parse().unwrap(),
            gtin: r.get(3).unwrap(),
            serial: r.get(4).unwrap(),
            fixture: r.get(5).unwrap(),
            gtins,
            zone: None,
            duration: None,
            count: None,
        });
    }
    assert_eq!(compute(events, &opts), from_db);

    // Filters: the late try-on is outside `--to`, and S2 has nothing.
    let to = EventFilter {
        to: Some("2026-11-20T11:00:00Z".parse().unwrap()),
        ..EventFilter::default()
    };
    let cut = report(&store, &to, &opts).unwrap();
    assert_eq!(
        cut.rows
            .iter()
            .find(|r| r.dims == vec![Some(A.to_string())])
            .unwrap()
            .try_ons,
        1
    );
    let s2 = EventFilter {
        store: Some("S2".into()),
        ..EventFilter::default()
    };
    assert!(report(
        &store,
        &s2,
        &FunnelOptions {
            by: vec![Dimension::Store],
            ..opts.clone()
        }
    )
    .unwrap()
    .rows
    .is_empty());

    // Some items only (`--sku`): A's report is A's row of the whole one;
    // B has its exposure and nothing else. Some stores only (`--region`):
    // S1's are everything, no store's are nothing.
    let only = |gtins: &[&str], stores: Option<Vec<String>>| {
        let filter = EventFilter {
            gtins: Some(gtins.iter().map(|g| g.to_string()).collect()),
            stores,
            ..EventFilter::default()
        };
        report(&store, &filter, &opts).unwrap().rows
    };
    let a = from_db
        .rows
        .iter()
        .find(|r| r.dims == vec![Some(A.to_string())]);
    assert_eq!(only(&[A], None), vec![a.unwrap().clone()]);
    let b = only(&["80614141123465"], None);
    assert_eq!((b.len(), b[0].exposures, b[0].pickups), (1, 1, 0));
    assert_eq!(only(&[A], Some(vec!["S1".into()])), only(&[A], None));
    assert!(only(&[A], Some(vec![])).is_empty());
    assert!(only(&[], None).is_empty());
    // The same with time bounds (a SKU's page): the dwells' lists are
    // searched for the GTINs instead of the totals read.
    let exposures_between = |gtins: &[&str]| {
        let filter = EventFilter {
            gtins: Some(gtins.iter().map(|g| g.to_string()).collect()),
            from: Some(protocol::time::UnixMillis(0)),
            to: Some(protocol::time::UnixMillis(i64::MAX / 4)),
            ..EventFilter::default()
        };
        let rows = report(&store, &filter, &opts).unwrap().rows;
        rows.iter().map(|r| r.exposures).collect::<Vec<_>>()
    };
    assert_eq!(exposures_between(&[A]), vec![1]);
    assert_eq!(exposures_between(&["80614141123465"]), vec![1]);
    assert_eq!(exposures_between(&[A, "80614141123465"]), vec![1, 1]);
    assert_eq!(exposures_between(&["0614141123458"]), Vec::<u64>::new());
    let everywhere = |stores: Vec<String>| {
        let filter = EventFilter {
            stores: Some(stores),
            ..EventFilter::default()
        };
        report(&store, &filter, &opts).unwrap()
    };
    assert_eq!(everywhere(vec!["S1".into(), "S9".into()]), from_db);
    assert!(everywhere(vec!["S2".into()]).rows.is_empty());
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM events, json_each(events.gtins)"
        ),
        2
    );
}

/// The `events` table and garment index of schema versions 1 and 2, as
/// those releases created them.
const EVENTS_V2: &str = "
CREATE TABLE events (
    id TEXT PRIMARY KEY, store TEXT NOT NULL, ts_ms INTEGER NOT NULL, event TEXT NOT NULL,
    stage TEXT NOT NULL, tag INTEGER NOT NULL, epc TEXT, gtin TEXT, serial TEXT, fixture TEXT,
    zone TEXT, duration_ms INTEGER, gateway TEXT NOT NULL, batch_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE INDEX events_by_garment ON events (store, gtin, serial, ts_ms, event, fixture)
    WHERE event <> 'fixture_dwell';
INSERT INTO events VALUES ('S1-1', 'S1', 1795168800000, 'item_pickup', 'view', 7, NULL,
    '80614141123458', '1', NULL, NULL, NULL, 'gw-1', 'b-0', 1);
";

fn visits(id: &str, ts: &str, count: u32) -> serde_json::Value {
    json!({"id": id, "ts": ts, "event": "store_visits", "stage": "visit", "tag": 3,
           "duration_ms": 900_000, "count": count, "zone": "main-door"})
}

#[test]
fn version_1_and_2_files_are_upgraded_in_place_and_then_store_visit_counts() {
    for version in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hq.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(EVENTS_V2).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        // A reader refuses the old file and says how to upgrade it.
        let err = SqliteStore::open_read_only(&path)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("upgraded by opening it for writing"), "{err}");

        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(count(&store, "PRAGMA user_version"), SCHEMA_VERSION);
        let counts = ingest(
            &mut store,
            &topic(),
            &payload(
                "b-1",
                vec![
                    visits("S1-v1", "2026-11-20T10:00:00Z", 17),
                    event("S1-2", "2026-11-20T10:00:05Z", "item_try_on", "1"),
                ],
            ),
        );
        assert_eq!((counts.inserted, counts.quarantined_events), (2, 0));
        assert_eq!(
            count(&store, "SELECT count FROM events WHERE id = 'S1-v1'"),
            17
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM events WHERE count IS NULL"),
            2,
            "the event stored before the upgrade and the try-on have no count"
        );
        drop(store);
        // The upgraded file reads, through its garment steps: the
        // old pickup and the new try-on 5 s later make one journey.
        let reader = SqliteStore::open_read_only(&path).unwrap();
        let report = report(&reader, &EventFilter::default(), &FunnelOptions::default()).unwrap();
        assert_eq!(report.rows.len(), 1, "{report:?}");
        assert_eq!(
            (report.rows[0].journeys, report.rows[0].journeys_try_on),
            (1, 1)
        );
    }
}

/// A schema 3 file as that release created it: `events` with `count`, the
/// garment index with `zone`, and the dwells-and-visits index. Garment A/7
/// has a pickup; A/007 (another garment: serials are text) a pickup; the
/// GTIN with leading zeros a pickup on serial "A1"; a try-on of A/007
/// arrives after the upgrade.
const EVENTS_V3: &str = "
CREATE TABLE events (
    id TEXT PRIMARY KEY, store TEXT NOT NULL, ts_ms INTEGER NOT NULL, event TEXT NOT NULL,
    stage TEXT NOT NULL, tag INTEGER NOT NULL, epc TEXT, gtin TEXT, serial TEXT, fixture TEXT,
    zone TEXT, duration_ms INTEGER, count INTEGER, gateway TEXT NOT NULL,
    batch_id TEXT NOT NULL, received_ms INTEGER NOT NULL
);
CREATE INDEX events_by_garment ON events (store, gtin, serial, ts_ms, event, fixture, zone)
    WHERE event NOT IN ('fixture_dwell', 'store_visits');
CREATE INDEX events_dwells_and_visits ON events (event, store, ts_ms, fixture, zone,
    duration_ms, count) WHERE event IN ('fixture_dwell', 'store_visits');
INSERT INTO events VALUES
    ('S1-1', 'S1', 1795168800000, 'item_pickup', 'view', 7, NULL, '80614141123458', '7',
     'rack-1', 'A', NULL, NULL, 'gw-1', 'b-0', 1),
    ('S1-2', 'S1', 1795168801000, 'item_pickup', 'view', 7, NULL, '80614141123458', '007',
     'rack-1', 'A', NULL, NULL, 'gw-1', 'b-0', 1),
    ('S1-3', 'S1', 1795168802000, 'item_pickup', 'view', 8, NULL, '00614141123452', 'A1',
     'rack-2', 'A', NULL, NULL, 'gw-1', 'b-0', 1),
    ('S1-4', 'S1', 1795168803000, 'fixture_dwell', 'exposure', 9, NULL, NULL, NULL,
     'rack-1', 'A', 12000, NULL, 'gw-1', 'b-0', 1);
";

/// (pickups, try_ons, journeys, journeys_try_on) of the row keyed `gtin`.
fn sku_row(report: &crate::funnel::report::FunnelReport, gtin: &str) -> (u64, u64, u64, u64) {
    let row = report
        .rows
        .iter()
        .find(|r| r.dims == vec![Some(gtin.to_string())])
        .unwrap_or_else(|| panic!("no row {gtin} in {report:?}"));
    (row.pickups, row.try_ons, row.journeys, row.journeys_try_on)
}

#[test]
fn a_version_3_file_gets_its_item_events_as_garment_steps_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(EVENTS_V3).unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    let err = SqliteStore::open_read_only(&path)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("upgraded by opening it for writing"), "{err}");

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(count(&store, "PRAGMA user_version"), SCHEMA_VERSION);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM garment_steps"), 3);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'events_by_garment'"
        ),
        0,
        "the old index is dropped"
    );
    // A try-on of A/007 5 s after its stored pickup, ingested after the
    // upgrade, joins that garment (not A/7): the upgrade keyed it as the
    // collector does.
    let counts = ingest(
        &mut store,
        &topic(),
        &payload(
            "b-1",
            vec![event("S1-5", "2026-11-20T10:00:06Z", "item_try_on", "007")],
        ),
    );
    assert_eq!(counts.inserted, 1);
    drop(store);
    assert_eq!(
        SqliteStore::open(&path).unwrap().event_count().unwrap(),
        5,
        "reopening upgrades nothing twice"
    );

    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(count(&reader, "SELECT COUNT(*) FROM garment_steps"), 4);
    let report = report(&reader, &EventFilter::default(), &FunnelOptions::default()).unwrap();
    assert_eq!(sku_row(&report, A), (2, 1, 2, 1));
    assert_eq!(sku_row(&report, "00614141123452"), (1, 0, 1, 0));
}

#[test]
fn garment_keys_match_between_rust_and_sql() {
    use super::garments::{gtin_key, serial_key, GTIN_KEY_SQL, SERIAL_KEY_SQL};
    use rusqlite::types::{ToSqlOutput, Value};
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let owned = |key: ToSqlOutput<'_>| match key {
        ToSqlOutput::Owned(v) => v,
        ToSqlOutput::Borrowed(v) => v.into(),
        other => panic!("{other:?}"),
    };
    let texts = [
        "80614141123458",
        "00614141123452",
        "00000000000000",
        "8061414112345",
        "806141411234580",
        "8061414112345a",
        "+8061414112345",
        "-8061414112345",
        " 8061414112345",
        "",
        "0",
        "00",
        "7",
        "007",
        "A1",
        "1e3",
        "123456789012345678",
        "1234567890123456789",
        "٣",
    ];
    for text in texts {
        for (rust, sql, column) in [
            (owned(gtin_key(text)), GTIN_KEY_SQL, "gtin"),
            (owned(serial_key(text)), SERIAL_KEY_SQL, "serial"),
        ] {
            let from_sql: Value = conn
                .query_row(
                    &format!("SELECT {sql} FROM (SELECT ?1 AS {column})"),
                    [text],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(rust, from_sql, "{column} {text:?}");
        }
    }
    // By hand: which become numbers.
    assert_eq!(
        owned(gtin_key("00614141123452")),
        Value::Integer(614_141_123_452)
    );
    assert_eq!(owned(serial_key("007")), Value::Text("007".into()));
    assert_eq!(owned(serial_key("0")), Value::Integer(0));
    assert_eq!(
        owned(serial_key("1234567890123456789")),
        Value::Text("1234567890123456789".into())
    );
}

#[test]
fn gtins_and_serials_of_any_form_read_back_as_sent_and_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    let with_gtin = |id: &str, ts: &str, kind: &str, gtin: &str, serial: &str| {
        let mut e = event(id, ts, kind, serial);
        e["gtin"] = json!(gtin);
        e
    };
    ingest(
        &mut store,
        &topic(),
        &payload(
            "b-1",
            vec![
                with_gtin(
                    "S1-1",
                    "2026-11-20T10:00:00Z",
                    "item_pickup",
                    "00614141123452",
                    "7",
                ),
                with_gtin(
                    "S1-2",
                    "2026-11-20T10:00:01Z",
                    "item_pickup",
                    "00614141123452",
                    "007",
                ),
                with_gtin(
                    "S1-3",
                    "2026-11-20T10:00:05Z",
                    "item_try_on",
                    "00614141123452",
                    "007",
                ),
                with_gtin(
                    "S1-4",
                    "2026-11-20T10:00:00Z",
                    "item_pickup",
                    "614141123452",
                    "7",
                ),
                with_gtin(
                    "S1-5",
                    "2026-11-20T10:00:00Z",
                    "item_pickup",
                    "SKU-x",
                    "99999999999999999999",
                ),
            ],
        ),
    );
    let report = report(&store, &EventFilter::default(), &FunnelOptions::default()).unwrap();
    assert_eq!(report.rows.len(), 3, "{report:?}");
    assert_eq!(sku_row(&report, "00614141123452"), (2, 1, 2, 1));
    assert_eq!(sku_row(&report, "614141123452"), (1, 0, 1, 0));
    assert_eq!(sku_row(&report, "SKU-x"), (1, 0, 1, 0));
}

#[test]
fn of_two_pickups_at_one_instant_the_first_named_fixture_opens_the_journey() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    let at = |id: &str, fixture: &str| {
        let mut e = event(id, "2026-11-20T10:00:00Z", "item_pickup", "1");
        e["fixture"] = json!(fixture);
        e
    };
    // Stored rack-b first: the table alone would put it first.
    ingest(
        &mut store,
        &topic(),
        &payload("b-1", vec![at("S1-1", "rack-b")]),
    );
    ingest(
        &mut store,
        &topic(),
        &payload("b-2", vec![at("S1-2", "rack-a")]),
    );
    let opts = FunnelOptions {
        by: vec![Dimension::Fixture],
        ..FunnelOptions::default()
    };
    let report = report(&store, &EventFilter::default(), &opts).unwrap();
    let journeys: Vec<(Option<String>, u64, u64)> = report
        .rows
        .iter()
        .map(|r| (r.dims[0].clone(), r.pickups, r.journeys))
        .collect();
    assert_eq!(
        journeys,
        vec![
            (Some("rack-a".to_string()), 1, 1),
            (Some("rack-b".to_string()), 1, 0)
        ]
    );
}

#[test]
fn a_report_of_some_gtins_finds_them_in_their_stored_form() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    let mut other = event("S1-2", "2026-11-20T10:00:00Z", "item_pickup", "2");
    other["gtin"] = json!("00614141123452");
    let mut odd = event("S1-3", "2026-11-20T10:00:00Z", "item_pickup", "3");
    odd["gtin"] = json!("SKU-x");
    ingest(
        &mut store,
        &topic(),
        &payload(
            "b-1",
            vec![
                event("S1-1", "2026-11-20T10:00:00Z", "item_pickup", "1"),
                other,
                odd,
            ],
        ),
    );
    let some = EventFilter {
        gtins: Some(vec!["00614141123452".to_string(), "SKU-x".to_string()]),
        ..EventFilter::default()
    };
    let report = report(&store, &some, &FunnelOptions::default()).unwrap();
    assert_eq!(report.rows.len(), 2, "{report:?}");
    assert_eq!(sku_row(&report, "00614141123452"), (1, 0, 1, 0));
    assert_eq!(sku_row(&report, "SKU-x"), (1, 0, 1, 0));
}

/// (store, GTIN, n) rows of a count.
type Counts = Vec<(String, String, i64)>;

/// Every `exposure_totals` row, and the same counted off the dwells' GTIN
/// lists themselves.
fn totals_and_rows(store: &SqliteStore) -> (Counts, Counts) {
    let read = |sql: &str| -> Counts {
        let mut stmt = store.connection().prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    (
        read("SELECT store, gtin, n FROM exposure_totals ORDER BY store, gtin"),
        read(
            "SELECT store, value, COUNT(*) FROM events, json_each(events.gtins)
             GROUP BY store, value ORDER BY store, value",
        ),
    )
}

#[test]
fn exposure_totals_count_each_dwell_once_however_often_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    const B: &str = "80614141123465";
    let first = payload(
        "b-1",
        vec![
            dwell("S1-d1", "2026-11-20T10:00:00Z", &[A, B]),
            dwell("S1-d2", "2026-11-20T10:01:00Z", &[A]),
        ],
    );
    // A redelivery, and a batch repeating d2 beside a new dwell.
    let second = payload(
        "b-2",
        vec![
            dwell("S1-d2", "2026-11-20T10:01:00Z", &[A]),
            dwell("S1-d3", "2026-11-20T10:02:00Z", &[B]),
        ],
    );
    // Folded between the first delivery and its redelivery, and after.
    ingest(&mut store, &topic(), &first);
    store.fold_exposures().unwrap();
    for batch in [&first, &second] {
        ingest(&mut store, &topic(), batch);
    }
    store.fold_exposures().unwrap();
    let (totals, rows) = totals_and_rows(&store);
    assert_eq!(
        totals,
        vec![
            ("S1".to_string(), A.to_string(), 2),
            ("S1".to_string(), B.to_string(), 2)
        ]
    );
    assert_eq!(totals, rows);
}

/// Turns a file of this schema into what a schema 5 release wrote: no
/// `gtins` column, the dwells-and-visits index without it, and one
/// `exposures` row per (dwell, GTIN).
fn as_version_5(store: &SqliteStore) {
    store
        .connection()
        .execute_batch(
            "CREATE TABLE exposures (
                 store    TEXT NOT NULL,
                 gtin     TEXT NOT NULL,
                 event_id TEXT NOT NULL,
                 fixture  TEXT,
                 ts_ms    INTEGER NOT NULL,
                 PRIMARY KEY (store, gtin, event_id)
             ) WITHOUT ROWID;
             INSERT INTO exposures (store, gtin, event_id, fixture, ts_ms)
                 SELECT store, value, events.id, fixture, ts_ms FROM events, json_each(events.gtins);
             DROP INDEX events_dwells_and_visits;
             ALTER TABLE events DROP COLUMN gtins;
             CREATE INDEX events_dwells_and_visits
                 ON events (event, store, ts_ms, fixture, zone, duration_ms, count)
                 WHERE event IN ('fixture_dwell', 'store_visits');
             PRAGMA user_version = 5;",
        )
        .unwrap();
}

#[test]
fn a_version_5_file_gets_its_exposures_moved_onto_the_dwells_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    const B: &str = "80614141123465";
    let opts = FunnelOptions {
        by: vec![Dimension::Sku, Dimension::Fixture, Dimension::Day],
        ..FunnelOptions::default()
    };
    let bounded = EventFilter {
        from: Some(protocol::time::UnixMillis(0)),
        to: Some(protocol::time::UnixMillis(i64::MAX / 4)),
        ..EventFilter::default()
    };
    let written = {
        let mut store = SqliteStore::open(&path).unwrap();
        ingest(
            &mut store,
            &topic(),
            &payload(
                "b-1",
                vec![
                    dwell("S1-d1", "2026-11-20T10:00:00Z", &[B, A, B]),
                    dwell("S1-d2", "2026-11-21T10:01:00Z", &[A]),
                    dwell("S1-d3", "2026-11-21T10:02:00Z", &[]),
                    event("S1-1", "2026-11-20T10:00:05Z", "item_pickup", "1"),
                ],
            ),
        );
        let written = report(&store, &bounded, &opts).unwrap();
        as_version_5(&store);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM exposures"), 3);
        written
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(count(&store, "PRAGMA user_version"), SCHEMA_VERSION);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'exposures'"
        ),
        0,
        "the exposure rows are gone"
    );
    let lists = |sql: &str| -> Vec<Option<String>> {
        let mut stmt = store.connection().prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert_eq!(
        lists("SELECT gtins FROM events WHERE event = 'fixture_dwell' ORDER BY id"),
        vec![
            Some(format!(r#"["{A}","{B}"]"#)),
            Some(format!(r#"["{A}"]"#)),
            None
        ],
        "each dwell's GTINs, each once and sorted, as the collector writes them"
    );
    drop(store);
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(report(&reader, &bounded, &opts).unwrap(), written);
    assert_eq!(
        count(
            &reader,
            "SELECT COUNT(*) FROM pragma_index_info('events_dwells_and_visits') WHERE name = 'gtins'"
        ),
        1,
        "the dwells' index covers their GTINs again"
    );
}

#[test]
fn the_collector_folds_the_exposures_into_the_totals_once_enough_have_gathered_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    const B: &str = "80614141123465";
    let folded = |store: &SqliteStore| {
        (
            count(store, "SELECT COALESCE(SUM(n), 0) FROM exposure_totals"),
            count(store, "SELECT upto FROM exposure_fold"),
        )
    };
    {
        let mut store = SqliteStore::open(&path).unwrap();
        store.fold_every(4);
        let batch = payload("b-1", vec![dwell("S1-d1", "2026-11-20T10:00:00Z", &[A, B])]);
        ingest(&mut store, &topic(), &batch);
        ingest(&mut store, &topic(), &batch);
        assert_eq!(folded(&store), (0, 0), "2 of 4, the redelivery adds none");
    }
    // A restarted collector counts what is not folded yet from the file.
    let mut store = SqliteStore::open(&path).unwrap();
    store.fold_every(4);
    ingest(
        &mut store,
        &topic(),
        &payload("b-2", vec![dwell("S1-d2", "2026-11-20T10:01:00Z", &[A])]),
    );
    assert_eq!(folded(&store), (0, 0), "3 of 4");
    ingest(
        &mut store,
        &topic(),
        &payload(
            "b-3",
            vec![
                event("S1-1", "2026-11-20T10:02:00Z", "item_pickup", "1"),
                dwell("S1-d3", "2026-11-20T10:03:00Z", &[B]),
            ],
        ),
    );
    let last = count(&store, "SELECT MAX(rowid) FROM events");
    assert_eq!(folded(&store), (4, last), "folded in the commit of the 4th");
    let (totals, rows) = totals_and_rows(&store);
    assert_eq!(totals, rows);
}

#[test]
fn a_report_without_time_bounds_counts_the_same_exposures_as_one_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    const B: &str = "80614141123465";
    ingest(
        &mut store,
        &topic(),
        &payload(
            "b-1",
            vec![
                dwell("S1-d1", "2026-11-20T10:00:00Z", &[A, B]),
                event("S1-1", "2026-11-20T10:00:05Z", "item_pickup", "1"),
            ],
        ),
    );
    // d1 is in the totals, d2 (and d1 delivered again) after them.
    store.fold_exposures().unwrap();
    ingest(
        &mut store,
        &topic(),
        &payload(
            "b-2",
            vec![
                dwell("S1-d1", "2026-11-20T10:00:00Z", &[A, B]),
                dwell("S1-d2", "2026-11-21T10:01:00Z", &[A]),
            ],
        ),
    );
    assert_eq!(count(&store, "SELECT SUM(n) FROM exposure_totals"), 2);
    drop(store);
    let reader = SqliteStore::open_read_only(&dir.path().join("hq.db")).unwrap();
    let opts = FunnelOptions {
        by: vec![Dimension::Sku],
        ..FunnelOptions::default()
    };
    // Bounds around every event: the exposures are counted off their rows.
    let bounded = EventFilter {
        from: Some(protocol::time::UnixMillis(0)),
        to: Some(protocol::time::UnixMillis(i64::MAX / 4)),
        ..EventFilter::default()
    };
    let all_time = report(&reader, &EventFilter::default(), &opts).unwrap();
    let with_bounds = report(&reader, &bounded, &opts).unwrap();
    let exposures = |r: &crate::funnel::report::FunnelReport| -> Vec<(Vec<Option<String>>, u64)> {
        r.rows
            .iter()
            .map(|row| (row.dims.clone(), row.exposures))
            .collect()
    };
    assert_eq!(
        exposures(&all_time),
        vec![
            (vec![Some(A.to_string())], 2),
            (vec![Some(B.to_string())], 1)
        ]
    );
    assert_eq!(exposures(&all_time), exposures(&with_bounds));
}

#[test]
fn a_version_4_file_gets_its_exposure_totals_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    const B: &str = "80614141123465";
    {
        let mut store = SqliteStore::open(&path).unwrap();
        ingest(
            &mut store,
            &topic(),
            &payload(
                "b-1",
                vec![
                    dwell("S1-d1", "2026-11-20T10:00:00Z", &[A, B]),
                    dwell("S1-d2", "2026-11-20T10:01:00Z", &[A]),
                ],
            ),
        );
        // As a schema 4 release left it: exposure rows, no totals table.
        as_version_5(&store);
        store
            .connection()
            .execute_batch("DROP TABLE exposure_totals; PRAGMA user_version = 4;")
            .unwrap();
    }
    let err = SqliteStore::open_read_only(&path)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("upgraded by opening it for writing"), "{err}");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(count(&store, "PRAGMA user_version"), SCHEMA_VERSION);
    let (totals, rows) = totals_and_rows(&store);
    assert_eq!(
        totals,
        vec![
            ("S1".to_string(), A.to_string(), 2),
            ("S1".to_string(), B.to_string(), 1)
        ]
    );
    assert_eq!(totals, rows);
}

/// Batch `b`: 200 pickups of garments `serial(n)`, n numbering the events.
fn pickups(b: usize, serial: impl Fn(usize) -> usize) -> Vec<u8> {
    let events = (0..200)
        .map(|i| {
            let n = b * 200 + i;
            let id = format!("S1-{n}");
            event(
                &id,
                "2026-11-20T10:00:00Z",
                "item_pickup",
                &serial(n).to_string(),
            )
        })
        .collect();
    payload(&format!("b-{b}"), events)
}

/// A new store in `dir` whose WAL is bounded at `limit`, and its WAL's path.
fn bounded_store(dir: &Path, limit: u64) -> (SqliteStore, PathBuf) {
    let mut store = SqliteStore::open(&dir.join("hq.db")).unwrap();
    store.bound_wal_at(limit);
    (store, dir.join("hq.db-wal"))
}

#[test]
fn the_wal_stays_bounded_while_commits_follow_each_other_without_a_pause() {
    let dir = tempfile::tempdir().unwrap();
    const LIMIT: u64 = 1 << 20;
    let (mut store, wal) = bounded_store(dir.path(), LIMIT);
    // Garments all over the key range, so every commit dirties pages of
    // the whole table; made beforehand, so the commits follow each other
    // while the checkpoint thread is still copying the last one.
    let batches: Vec<Vec<u8>> = (0..500)
        .map(|b| pickups(b, |n| n * 7919 % 100_003))
        .collect();
    let topic = topic();
    let verdicts: Vec<_> = batches.iter().map(|p| validate(&topic, p)).collect();
    let mut largest = 0;
    for (payload, verdict) in batches.iter().zip(&verdicts) {
        let received = Received {
            topic: &topic,
            payload,
            verdict,
        };
        store.ingest(&[received], 0).unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events"), 500 * 200);
    // One commit's pages may come on top of the limit before the next
    // commit truncates it.
    assert!(
        largest < 3 * LIMIT,
        "the WAL reached {largest} bytes against a limit of {LIMIT}"
    );
}

#[test]
fn a_wal_grown_behind_a_long_report_shrinks_back_once_the_report_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    const LIMIT: u64 = 256 << 10;
    let (mut store, wal) = bounded_store(dir.path(), LIMIT);
    let batch = |b| pickups(b, |n| n);
    ingest(&mut store, &topic(), &batch(0));
    // A report reading the first commit's snapshot: no checkpoint can
    // copy past it, so the WAL grows past the limit.
    let report = rusqlite::Connection::open(&path).unwrap();
    report.execute_batch("BEGIN").unwrap();
    assert_eq!(count_on(&report, "SELECT COUNT(*) FROM events"), 200);
    for b in 1..20 {
        ingest(&mut store, &topic(), &batch(b));
    }
    let grown = std::fs::metadata(&wal).unwrap().len();
    assert!(grown > 4 * LIMIT, "the WAL grew to {grown} bytes only");
    report.execute_batch("COMMIT").unwrap();
    drop(report);
    ingest(&mut store, &topic(), &batch(20));
    let after = std::fs::metadata(&wal).unwrap().len();
    assert!(
        after < grown / 2,
        "the WAL is still {after} bytes after the report ended (it was {grown})"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events"), 21 * 200);
}

fn count_on(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Store `shop`'s batch of `events`.
fn store_batch(shop: &str, events: Vec<serde_json::Value>) -> (String, Vec<u8>) {
    let topic = Topic::new(shop, TopicKind::Events).to_string();
    let body = json!({"schema": "aisle.batch.v1", "store": shop, "gateway": "gw-1",
                      "batch_id": format!("{shop}-b"), "created_at": "2026-11-20T10:00:00.000Z",
                      "events": events});
    (topic, body.to_string().into_bytes())
}

#[test]
fn a_report_over_many_stores_counts_each_as_its_own_report_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    // More stores than reader threads, of different sizes: store k has
    // k + 1 garments picked up, the first tried on, and bought in even k.
    let shops: Vec<String> = (0..9).map(|k| format!("S{k}")).collect();
    for (k, shop) in shops.iter().enumerate() {
        let mut events: Vec<serde_json::Value> = (0..=k)
            .map(|n| {
                let id = format!("{shop}-p{n}");
                event(&id, "2026-11-20T10:00:00Z", "item_pickup", &n.to_string())
            })
            .collect();
        events.push(event(
            &format!("{shop}-t"),
            "2026-11-20T10:05:00Z",
            "item_try_on",
            "0",
        ));
        if k % 2 == 0 {
            events.push(event(
                &format!("{shop}-b"),
                "2026-11-20T10:10:00Z",
                "item_purchase",
                "0",
            ));
        }
        let (topic, body) = store_batch(shop, events);
        ingest(&mut store, &topic, &body);
    }
    // Rows no collector writes: a store id that is not UTF-8, sorting
    // between S3 and S4, and a step code no funnel step has.
    store
        .connection()
        .execute_batch(&format!(
            "INSERT INTO garment_steps (store, gtin, serial, ts_ms, step, event)
             VALUES (CAST(X'5333FF' AS TEXT), {A}, 1, 1795168800000, 1, 1),
                    ('S3', {A}, 1, 1795168800001, 9, 2);"
        ))
        .unwrap();
    let opts = FunnelOptions {
        by: vec![Dimension::Store],
        ..FunnelOptions::default()
    };
    let all = report(&store, &EventFilter::default(), &opts).unwrap();
    let named: Vec<_> = all.rows.iter().map(|r| r.dims[0].clone()).collect();
    assert_eq!(named, shops.iter().cloned().map(Some).collect::<Vec<_>>());
    for (k, shop) in shops.iter().enumerate() {
        let row = &all.rows[k];
        let bought = u64::from(k % 2 == 0);
        assert_eq!(
            (row.pickups, row.try_ons, row.purchases),
            (k as u64 + 1, 1, bought),
            "{shop}"
        );
        assert_eq!(
            (row.journeys, row.journeys_try_on, row.journeys_purchase),
            (k as u64 + 1, 1, bought),
            "{shop}"
        );
        let alone = EventFilter {
            store: Some(shop.clone()),
            ..EventFilter::default()
        };
        let own = report(&store, &alone, &opts).unwrap();
        assert_eq!(own.rows, vec![row.clone()], "{shop}");
    }
}

#[test]
fn readers_map_files_past_2_gib() {
    // SQLite caps the map at its compile-time maximum, 2 GiB unless
    // .cargo/config.toml raises it; the 10 M-event file is larger.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    drop(SqliteStore::open(&path).unwrap());
    let reader = SqliteStore::open_read_only(&path).unwrap();
    let mapped: i64 = reader
        .connection()
        .pragma_query_value(None, "mmap_size", |r| r.get(0))
        .unwrap();
    assert_eq!(mapped, MMAP_BYTES);
}
