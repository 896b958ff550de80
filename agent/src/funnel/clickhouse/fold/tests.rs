//! Garments read as numbers and folded per row, and exposures counted
//! from their ids' hashes, against SQLite's reader: garments with none to
//! several journeys, steps at one instant, events stored twice, events
//! before 1970, keys holding a NUL and dwells stored twice, fed through
//! the collector's validation into a real `clickhouse-server` and into
//! SQLite, give the same report for every report the fold serves, and
//! every way a garment or a row's exposures can take is taken.

use super::*;
use crate::event_store::EventFilter;
use crate::event_store::{EventStore, Received, SqliteStore, Target};
use crate::funnel::store::{journey_filter, report};
use crate::funnel::{Catalog, Dimension, StoreDirectory};
use crate::hq::validate::validate;
use aisle_system_tests::ClickHouse;
use protocol::topics::{Topic, TopicKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::time::Duration;

const GTINS: [&str; 3] = ["80614141123458", "80614141123465", "80614141123472"];
/// 2026-11-20T10:00:00Z.
const T0: i64 = 1_795_168_800_000;
const MINUTE: i64 = 60_000;

/// Batches of two stores' garments. Each garment's steps fall in bursts
/// an hour or more apart, so with a window of ten minutes to an hour a
/// garment makes zero to several journeys; some steps share an instant,
/// a few garments live in 1969, and every fourth batch is sent twice.
/// Two garments of S2 have a NUL in their GTIN or serial, which give the
/// same `store NUL gtin NUL serial`. Each store's dwells come in two
/// batches: the first, showing the first two GTINs, sent twice; the
/// second, showing the last two, once.
fn batches(seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for store in ["S1", "S2"] {
        let mut events: Vec<Value> = Vec::new();
        for garment in 0..120u32 {
            let gtin = GTINS[rng.gen_range(0..GTINS.len())];
            let base = if garment % 20 == 0 {
                -40 * MINUTE * 24 * 3
            } else {
                T0
            };
            let bursts = rng.gen_range(1..=4);
            for burst in 0..bursts {
                let start = base + burst * rng.gen_range(60..200) * MINUTE;
                for _ in 0..rng.gen_range(1..6) {
                    // Whole minutes, so steps often share an instant.
                    let ts = start + rng.gen_range(0..50) * MINUTE;
                    let (event, stage) = match rng.gen_range(0..5) {
                        0 | 1 => ("item_pickup", "view"),
                        2 | 3 => ("item_try_on", "try_on"),
                        _ => ("item_purchase", "purchase"),
                    };
                    let id = format!("{store}-{garment}-{}", events.len());
                    events.push(json!({"id": id, "ts": UnixMillis(ts).to_string(),
                        "event": event, "stage": stage, "tag": 7, "gtin": gtin,
                        "serial": garment.to_string()}));
                }
            }
        }
        if store == "S2" {
            for (n, (gtin, serial)) in [("8061\0X", "1"), ("8061", "X\u{0}1")].iter().enumerate() {
                let id = format!("{store}-nul-{n}");
                events.push(json!({"id": id, "ts": UnixMillis(T0 + MINUTE).to_string(),
                    "event": "item_pickup", "stage": "view", "tag": 7, "gtin": gtin,
                    "serial": serial}));
            }
        }
        for (i, chunk) in events.chunks(53).enumerate() {
            send(
                &mut out,
                store,
                &format!("b-{i}"),
                chunk,
                if i % 4 == 1 { 2 } else { 1 },
            );
        }
        for (i, shown) in [[GTINS[0], GTINS[1]], [GTINS[2], GTINS[1]]]
            .iter()
            .enumerate()
        {
            let dwells: Vec<Value> = (0..40i64)
                .map(|d| {
                    json!({"id": format!("{store}-dwell-{i}-{d}"),
                        "ts": UnixMillis(T0 + d * 7 * MINUTE).to_string(),
                        "event": "fixture_dwell", "stage": "exposure", "tag": 9,
                        "fixture": "rack-1", "duration_ms": 12_000, "gtins": shown})
                })
                .collect();
            send(
                &mut out,
                store,
                &format!("d-{i}"),
                &dwells,
                if i == 0 { 2 } else { 1 },
            );
        }
    }
    out
}

/// Appends one gateway batch of `events` from `store`, `times` times.
fn send(out: &mut Vec<(String, Vec<u8>)>, store: &str, id: &str, events: &[Value], times: usize) {
    let payload = json!({"schema": "aisle.batch.v1", "store": store,
        "gateway": "gw-1", "batch_id": id,
        "created_at": UnixMillis(T0).to_string(), "events": events})
    .to_string()
    .into_bytes();
    let topic = Topic::new(store, TopicKind::Events).to_string();
    for _ in 0..times {
        out.push((topic.clone(), payload.clone()));
    }
}

fn ingest(store: &mut EventStore, topic: &str, payload: &[u8]) {
    let verdict = validate(topic, payload);
    let counts = store
        .ingest(
            &[Received {
                topic,
                payload,
                verdict: &verdict,
            }],
            1,
        )
        .unwrap();
    assert_eq!(counts.quarantined_batches + counts.quarantined_events, 0);
}

#[test]
fn a_folded_report_equals_the_engines_scan_whichever_way_each_garment_and_exposure_went() {
    let server = ClickHouse::start();
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = EventStore::Sqlite(SqliteStore::open(&dir.path().join("hq.db")).unwrap());
    let target = Target::parse(&server.url("aisle")).unwrap();
    let mut ch = EventStore::open(&target, &Default::default()).unwrap();
    for (topic, payload) in batches(11) {
        ingest(&mut sqlite, &topic, &payload);
        ingest(&mut ch, &topic, &payload);
    }
    let EventStore::ClickHouse(clickhouse) = &ch else {
        unreachable!()
    };
    let catalog = Catalog::parse(&format!(
        "gtin,sku,style,name,colour,size\n{},SKU-A,ST-1,Tee,white,M\n{},SKU-B,ST-1,Tee,white,L\n",
        GTINS[0], GTINS[1]
    ))
    .unwrap();
    let stores = StoreDirectory::parse(
        "store,name,region,city,brand,timezone\nS1,Nanjing Rd,East,Shanghai,Aisle,Asia/Shanghai\n",
    )
    .unwrap();
    let filters = [
        EventFilter::default(),
        EventFilter {
            store: Some("S1".into()),
            ..EventFilter::default()
        },
        // Cuts through the bursts: journeys opened before `--to` finish
        // after it.
        EventFilter {
            from: Some(UnixMillis(T0 + 30 * MINUTE)),
            to: Some(UnixMillis(T0 + 200 * MINUTE)),
            ..EventFilter::default()
        },
        // Counts nothing (steps are on whole minutes) but reads the
        // window after it: no row may come of the steps read.
        EventFilter {
            from: Some(UnixMillis(T0 + 30_000)),
            to: Some(UnixMillis(T0 + 31_000)),
            ..EventFilter::default()
        },
    ];
    let bys = [
        vec![Dimension::Sku],
        vec![Dimension::Store],
        vec![Dimension::Sku, Dimension::Store],
        vec![Dimension::Style, Dimension::Region],
        vec![Dimension::Channel, Dimension::Brand],
    ];
    let mut total = Paths::default();
    let mut exposed = super::super::exposures::Paths::default();
    for by in &bys {
        for window_min in [10, 60] {
            for filter in &filters {
                let opts = FunnelOptions {
                    window: Duration::from_secs(60 * window_min),
                    by: by.clone(),
                    catalog: catalog.clone(),
                    stores: stores.clone(),
                };
                let context = format!("--by {by:?} --window {window_min}m {filter:?}");
                let from_sqlite = report(&sqlite, filter, &opts).unwrap();
                let from_ch = report(&ch, filter, &opts).unwrap();
                assert_eq!(from_ch.to_json(), from_sqlite.to_json(), "{context}");

                let mut builder = FunnelBuilder::until(&opts, filter.to);
                let fold = Fold::of(&Keys::of(&opts), &builder)
                    .unwrap_or_else(|| panic!("{context} is folded"));
                let journeys = journey_filter(filter, &opts);
                let paths = fold
                    .scan(clickhouse, &journeys, &opts, &mut builder)
                    .unwrap();
                total.folded += paths.folded;
                total.read_again += paths.read_again;
                total.nul_keys += paths.nul_keys;

                if super::super::exposures::by_hashes(&Keys::of(&opts)) {
                    let mut builder = FunnelBuilder::until(&opts, filter.to);
                    let paths =
                        super::super::exposures::count(clickhouse, filter, &opts, &mut builder)
                            .unwrap();
                    exposed.hashed += paths.hashed;
                    exposed.counted_again += paths.counted_again;
                }
            }
        }
    }
    assert!(
        total.folded > 0 && total.read_again > 0 && total.nul_keys > 0,
        "every way is taken: {total:?}"
    );
    assert!(
        exposed.hashed > 0 && exposed.counted_again > 0,
        "every way is taken: {exposed:?}"
    );
    // A report keyed by fixture, zone or time is not folded.
    for by in [Dimension::Fixture, Dimension::Zone, Dimension::Day] {
        let opts = FunnelOptions {
            by: vec![Dimension::Sku, by],
            ..FunnelOptions::default()
        };
        let builder = FunnelBuilder::new(&opts);
        assert!(Fold::of(&Keys::of(&opts), &builder).is_none(), "{by:?}");
    }
}
