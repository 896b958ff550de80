//! The ClickHouse event store against a real `clickhouse-server` started by
//! the system-test harness: the same payloads into ClickHouse and SQLite
//! give the same funnel for every key, window and filter, however often a
//! batch is stored; the schema version guard; one-line connection errors.

use super::*;
use crate::event_store::{EventFilter, EventStore, IngestCounts, Received, SqliteStore, Target};
use crate::funnel::{store::report, Catalog};
use crate::funnel::{Dimension, FunnelOptions, StoreDirectory};
use crate::hq::validate::validate;
use aisle_system_tests::clickhouse::{PASSWORD, USER};
use aisle_system_tests::ClickHouse;
use protocol::time::UnixMillis;
use protocol::topics::{Topic, TopicKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

const GTINS: [&str; 3] = ["80614141123458", "80614141123465", "80614141123472"];
const FIXTURES: [&str; 2] = ["rack-1", "table-2"];
const ZONES: [&str; 2] = ["denim", "knitwear"];
/// 2026-11-20T10:00:00Z: events spread over days around it, so several
/// month partitions are involved.
const T0: i64 = 1_795_168_800_000;

fn iso(ts_ms: i64) -> String {
    protocol::time::UnixMillis(ts_ms).to_string()
}

/// A seeded day of payloads from two stores: item events with tied
/// timestamps and fixtures (some none), dwells listing a GTIN twice,
/// batches that overlap, a bad event and a bad payload.
fn payloads(seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for store in ["S1", "S2"] {
        let mut events: Vec<Value> = Vec::new();
        for n in 0..400u32 {
            let id = format!("{store}-{n:08x}");
            // Whole minutes over ±40 days, so ties are frequent.
            let ts = T0 + 60_000 * rng.gen_range(-57_600i64..57_600) / 40;
            let ts = ts - ts % 60_000;
            let zone = match rng.gen_range(0..3) {
                0 => Value::Null,
                i => json!(ZONES[i - 1]),
            };
            if rng.gen_bool(0.05) {
                // Door counts every few hours, some in the small hours
                // where UTC and Shanghai days differ.
                events.push(json!({"id": id, "ts": iso(ts), "event": "store_visits",
                    "stage": "visit", "tag": 3, "zone": "main-door",
                    "duration_ms": 900_000, "count": rng.gen_range(0..40)}));
                continue;
            }
            if rng.gen_bool(0.15) {
                let shown = GTINS[rng.gen_range(0..3)];
                events.push(json!({"id": id, "ts": iso(ts), "event": "fixture_dwell",
                    "stage": "exposure", "tag": 9, "fixture": FIXTURES[rng.gen_range(0..2)],
                    "zone": zone, "duration_ms": rng.gen_range(500..90_000),
                    "gtins": [shown, shown, GTINS[0]]}));
                continue;
            }
            let (kind, stage) = match rng.gen_range(0..3) {
                0 => ("item_pickup", "view"),
                1 => ("item_try_on", "try_on"),
                _ => ("item_purchase", "purchase"),
            };
            let fixture = match rng.gen_range(0..3) {
                0 => Value::Null,
                i => json!(FIXTURES[i - 1]),
            };
            events.push(
                json!({"id": id, "ts": iso(T0 + (ts - T0) / 200), "event": kind,
                "stage": stage, "tag": 7, "gtin": GTINS[rng.gen_range(0..3)],
                "serial": rng.gen_range(0..12).to_string(), "fixture": fixture, "zone": zone}),
            );
        }
        events.push(
            json!({"id": format!("{store}-bad"), "ts": iso(T0), "event": "item_pickup",
            "stage": "purchase", "tag": 7, "gtin": GTINS[0], "serial": "1"}),
        );
        // Overlapping batches, sent out of order: each event is in one or
        // two of them.
        let mut batches: Vec<Vec<Value>> = events.chunks(37).map(<[Value]>::to_vec).collect();
        for i in 1..batches.len() {
            let carried = batches[i - 1][..5].to_vec();
            batches[i].extend(carried);
        }
        batches.reverse();
        for (i, events) in batches.into_iter().enumerate() {
            let payload = json!({"schema": "aisle.batch.v1", "store": store, "gateway": "gw-1",
                "batch_id": format!("b-{i}"), "created_at": iso(T0), "events": events});
            out.push((
                Topic::new(store, TopicKind::Events).to_string(),
                payload.to_string().into_bytes(),
            ));
        }
    }
    out.push((
        Topic::new("S1", TopicKind::Events).to_string(),
        b"{not json".to_vec(),
    ));
    out
}

fn ingest(store: &mut EventStore, topic: &str, payload: &[u8]) -> IngestCounts {
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

fn open(server: &ClickHouse, database: &str) -> EventStore {
    let target = Target::parse(&server.url(database)).unwrap();
    EventStore::open(&target, &Credentials::default()).unwrap()
}

fn catalog() -> Catalog {
    Catalog::parse(&format!(
        "gtin,sku,style,name,colour,size\n{},SKU-A,ST-1,Tee,white,M\n{},SKU-B,ST-1,Tee,white,L\n",
        GTINS[0], GTINS[1]
    ))
    .unwrap()
}

#[test]
fn clickhouse_and_sqlite_fed_the_same_payloads_report_the_same_funnel() {
    let server = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = EventStore::Sqlite(SqliteStore::open(&dir.path().join("hq.db")).unwrap());
    let mut ch = open(&server, "aisle");
    let payloads = payloads(7);
    let quarantined = |c: IngestCounts| c.quarantined_batches + c.quarantined_events;
    let (mut sqlite_quarantined, mut ch_quarantined) = (0, 0);
    for (i, (topic, payload)) in payloads.iter().enumerate() {
        sqlite_quarantined += quarantined(ingest(&mut sqlite, topic, payload));
        ch_quarantined += quarantined(ingest(&mut ch, topic, payload));
        // Every third batch redelivered: a second insert, a second part.
        if i % 3 == 0 {
            ch_quarantined += quarantined(ingest(&mut ch, topic, payload));
        }
    }
    let parts = server.query(
        "SELECT count() FROM system.parts WHERE database = 'aisle' AND table = 'events' AND active",
    );
    assert!(
        parts.trim().parse::<u64>().unwrap() > 1,
        "the repeats must sit in separate, unmerged parts for this test to mean anything"
    );
    assert_eq!(ch.event_count().unwrap(), sqlite.event_count().unwrap());
    // Quarantine is a log, in both stores: a payload delivered twice is
    // logged twice.
    assert_eq!(sqlite.quarantine_count().unwrap(), sqlite_quarantined);
    assert_eq!(ch.quarantine_count().unwrap(), ch_quarantined);
    assert!(sqlite_quarantined >= 3, "a bad payload and two bad events");

    let bys = [
        vec![Dimension::Sku],
        vec![Dimension::Store],
        vec![Dimension::Sku, Dimension::Store],
        vec![Dimension::Fixture],
        vec![Dimension::Store, Dimension::Fixture, Dimension::Sku],
        vec![Dimension::Style],
        vec![Dimension::Zone],
        vec![Dimension::Zone, Dimension::Hour],
        vec![Dimension::Fixture, Dimension::Zone],
        vec![Dimension::Region, Dimension::Day],
        vec![Dimension::Store, Dimension::Week],
        vec![Dimension::City, Dimension::Brand, Dimension::Hour],
        vec![Dimension::Day, Dimension::Sku],
    ];
    // S1 in Shanghai; S2 not listed (UTC, no region).
    let stores = StoreDirectory::parse(
        "store,name,region,city,brand,timezone\nS1,Nanjing Rd,East,Shanghai,Aisle,Asia/Shanghai\n",
    )
    .unwrap();
    let filters = [
        EventFilter::default(),
        EventFilter {
            store: Some("S2".into()),
            ..EventFilter::default()
        },
        EventFilter {
            from: Some(UnixMillis(T0 - 3_600_000)),
            to: Some(UnixMillis(T0 + 7_200_000)),
            ..EventFilter::default()
        },
        EventFilter {
            store: Some("no-such-store".into()),
            ..EventFilter::default()
        },
        // Through the item events' busiest minutes: journeys opened before
        // `--to` finish after it.
        EventFilter {
            from: Some(UnixMillis(T0 - 180_000)),
            to: Some(UnixMillis(T0 + 120_000)),
            ..EventFilter::default()
        },
    ];
    let (mut journeys, mut visits, mut dwells) = (0, 0, 0);
    for by in &bys {
        for window_ms in [60_000, 3_600_000, 86_400_000] {
            let window = std::time::Duration::from_millis(window_ms);
            for filter in &filters {
                let opts = FunnelOptions {
                    window,
                    by: by.clone(),
                    catalog: catalog(),
                    stores: stores.clone(),
                };
                let from_sqlite = report(&sqlite, filter, &opts).unwrap();
                let from_ch = report(&ch, filter, &opts).unwrap();
                assert_eq!(
                    from_ch.to_json(),
                    from_sqlite.to_json(),
                    "--by {by:?} --window {window_ms} {filter:?}"
                );
                journeys += from_ch.rows.iter().map(|r| r.journeys).sum::<u64>();
                visits += from_ch.rows.iter().filter_map(|r| r.visits).sum::<u64>();
                dwells += from_ch.rows.iter().filter_map(|r| r.dwells).sum::<u64>();
            }
        }
    }
    assert!(journeys > 0, "the generated payloads make journeys");
    assert!(visits > 0 && dwells > 0, "and door counts and dwells");
}

#[test]
fn a_database_with_an_unknown_schema_version_is_refused_and_left_as_it_is() {
    let server = ClickHouse::start();
    server.query("CREATE DATABASE future");
    server.query(
        "CREATE TABLE future.aisle_schema (version UInt32, created_ms Int64) \
         ENGINE = MergeTree() ORDER BY version",
    );
    server.query("INSERT INTO future.aisle_schema VALUES (3, 0)");
    let target = Target::parse(&server.url("future")).unwrap();
    for result in [
        EventStore::open(&target, &Credentials::default()),
        EventStore::open_read_only(&target, &Credentials::default()),
    ] {
        let err = result.err().expect("refused").to_string();
        assert!(err.contains("schema version 3"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    assert_eq!(
        server.query("SELECT name FROM system.tables WHERE database = 'future'"),
        "aisle_schema\n",
        "nothing created"
    );
}

#[test]
fn someone_elses_database_is_refused_and_a_missing_one_is_not_read() {
    let server = ClickHouse::start();
    server.query("CREATE DATABASE shop");
    server.query("CREATE TABLE shop.orders (id UInt64) ENGINE = MergeTree() ORDER BY id");
    let shop = Target::parse(&server.url("shop")).unwrap();
    let err = EventStore::open(&shop, &Credentials::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not an aisle event store"), "{err}");
    let missing = Target::parse(&server.url("nothing_here")).unwrap();
    let err = EventStore::open_read_only(&missing, &Credentials::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(
        server.query("SELECT count() FROM system.databases WHERE name = 'nothing_here'"),
        "0\n"
    );
}

#[test]
fn wrong_credentials_and_an_unreachable_server_are_one_line_errors() {
    let server = ClickHouse::start();
    let target = Target::parse(&server.url("aisle")).unwrap();
    let good = Credentials {
        user: Some(USER.into()),
        password: Some(PASSWORD.into()),
    };
    EventStore::open(&target, &good).unwrap();
    let wrong = Credentials {
        user: Some(USER.into()),
        password: Some("not-the-password".into()),
    };
    let err = EventStore::open(&target, &wrong).err().unwrap().to_string();
    assert!(err.contains("refused user `aisle`"), "{err}");
    assert!(err.contains("--db-password-file"), "{err}");
    assert!(
        !err.contains("not-the-password") && !err.contains('\n'),
        "{err}"
    );

    let closed = aisle_system_tests::mosquitto::free_port();
    let nowhere = Target::parse(&format!("clickhouse://127.0.0.1:{closed}/aisle")).unwrap();
    let err = EventStore::open(&nowhere, &Credentials::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("cannot reach ClickHouse at 127.0.0.1:"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn a_store_filter_is_a_literal_whatever_it_holds() {
    assert_eq!(quote(r"it's a \ store"), r"'it\'s a \\ store'");
    let server = ClickHouse::start();
    let mut ch = open(&server, "aisle");
    for (topic, payload) in payloads(3) {
        ingest(&mut ch, &topic, &payload);
    }
    let opts = FunnelOptions::default();
    for store in ["S1' OR store != '", r"S1\", "S1' --"] {
        let filter = EventFilter {
            store: Some(store.to_string()),
            ..EventFilter::default()
        };
        assert!(
            report(&ch, &filter, &opts).unwrap().rows.is_empty(),
            "{store}"
        );
    }
}

#[test]
fn a_version_1_database_is_upgraded_by_the_collector_and_then_stores_visit_counts() {
    let server = ClickHouse::start();
    // The tables of schema version 1, as that release created them.
    server.query("CREATE DATABASE old");
    server.query(
        "CREATE TABLE old.aisle_schema (version UInt32, created_ms Int64) \
         ENGINE = MergeTree() ORDER BY version",
    );
    server.query("INSERT INTO old.aisle_schema VALUES (1, 0)");
    server.query(
        "CREATE TABLE old.events (id String, store String, ts_ms Int64, event String, \
         stage String, tag UInt32, epc Nullable(String), gtin String, serial String, \
         fixture Nullable(String), zone Nullable(String), duration_ms Nullable(Int64), \
         gateway String, batch_id String, received_ms Int64) ENGINE = MergeTree() \
         PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000))) \
         ORDER BY (store, gtin, serial, ts_ms, id)",
    );
    server.query(
        "INSERT INTO old.events VALUES ('S1-1', 'S1', 1795168800000, 'item_pickup', 'view', \
         7, NULL, '80614141123458', '1', NULL, NULL, NULL, 'gw-1', 'b-0', 1)",
    );
    let target = Target::parse(&server.url("old")).unwrap();
    let err = EventStore::open_read_only(&target, &Credentials::default())
        .err()
        .expect("a reader asks for the upgrade")
        .to_string();
    assert!(
        err.contains("schema version 1") && err.contains("aisle hq"),
        "{err}"
    );

    let mut store = open(&server, "old");
    let payload = json!({"schema": "aisle.batch.v1", "store": "S1", "gateway": "gw-1",
        "batch_id": "b-1", "created_at": iso(T0), "events": [
            {"id": "S1-v1", "ts": iso(T0), "event": "store_visits", "stage": "visit", "tag": 3,
             "duration_ms": 900_000, "count": 17, "zone": "main-door"}]});
    let topic = Topic::new("S1", TopicKind::Events).to_string();
    let counts = ingest(&mut store, &topic, payload.to_string().as_bytes());
    assert_eq!((counts.inserted, counts.quarantined_events), (1, 0));
    assert_eq!(
        server.query("SELECT id, count FROM old.events ORDER BY id FORMAT TabSeparated"),
        "S1-1\t\\N\nS1-v1\t17\n"
    );
    assert_eq!(
        server.query("SELECT DISTINCT version FROM old.aisle_schema ORDER BY version"),
        "1\n2\n"
    );
    assert!(EventStore::open_read_only(&target, &Credentials::default()).is_ok());
}
