use super::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const SCHEMA: &str = include_str!("../../schema/batch.v1.json");

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("schema file is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("schema compiles")
}

fn ts(s: &str) -> UnixMillis {
    s.parse().unwrap()
}

/// An event with every optional field set, as the gateway writes a pickup.
fn pickup() -> BatchEvent {
    BatchEvent {
        id: event_id("S1", 1234, 7, 42),
        ts: ts("2026-11-20T09:59:58.120Z"),
        event: StoreEventKind::ItemPickup,
        stage: FunnelStage::View,
        tag: 1234,
        epc: Some("3074257BF7194E4000001A85".into()),
        gtin: Some("80614141123458".into()),
        serial: Some("6789".into()),
        duration_ms: Some(15_000),
        count: Some(3),
        fixture: Some("table-3".into()),
        zone: Some("denim".into()),
        gtins: Some(vec!["80614141123458".into()]),
    }
}

/// An event with every optional field absent.
fn bare(kind: StoreEventKind) -> BatchEvent {
    BatchEvent::new(
        event_id("S1", 99, 0, 0),
        ts("2026-11-20T10:00:00.000Z"),
        kind,
        99,
    )
}

fn batch(events: Vec<BatchEvent>) -> Batch {
    Batch {
        schema: SCHEMA_V1.into(),
        store: "S1".into(),
        gateway: "gw-1".into(),
        batch_id: "S1-gw-1-000001".into(),
        created_at: ts("2026-11-20T10:00:00.000Z"),
        events,
    }
}

fn sample_batch() -> Batch {
    let mut events = vec![pickup()];
    events.extend(StoreEventKind::ALL.map(bare));
    batch(events)
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn assert_valid(v: &Value) {
    let errors: Vec<String> = validator().iter_errors(v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{v}\n{errors:#?}");
}

#[test]
fn schema_is_a_valid_2020_12_schema() {
    jsonschema::meta::validate(&schema()).expect("schema passes its meta-schema");
    assert_eq!(schema()["properties"]["schema"]["const"], SCHEMA_V1);
}

#[test]
fn the_issue_example_is_valid_and_parses() {
    // The payload exactly as docs/design.md and `schema/batch.v1.json` specify it.
    let example = json!({"schema":"aisle.batch.v1","store":"S1","gateway":"gw-1","batch_id":"...","created_at":"2026-11-20T10:00:00.000Z",
        "events":[{"id":"...","ts":"2026-11-20T09:59:58.120Z","event":"item_pickup","stage":"view","tag":1234,
                   "epc":"3074257BF7194E4000001A85","gtin":"80614141123458","serial":"6789",
                   "duration_ms":15000,"count":null,"fixture":null,"zone":null,"gtins":null}]});
    assert_valid(&example);
    let parsed: Batch = serde_json::from_value(example.clone()).unwrap();
    assert_eq!(parsed.events[0].ts, ts("2026-11-20T09:59:58.120Z"));
    assert_eq!(serde_json::to_value(&parsed).unwrap(), example);
}

#[test]
fn an_entrance_count_is_a_visit_event() {
    let example = json!({"schema":"aisle.batch.v1","store":"S1","gateway":"gw-1","batch_id":"b","created_at":"2026-11-20T10:01:00.000Z",
        "events":[{"id":"S1-00000007-00000001-0003","ts":"2026-11-20T10:00:00.000Z","event":"store_visits","stage":"visit","tag":7,
                   "epc":null,"gtin":null,"serial":null,"duration_ms":60000,"count":4,"fixture":null,"zone":"main-door","gtins":null}]});
    assert_valid(&example);
    let parsed: Batch = serde_json::from_value(example.clone()).unwrap();
    assert_eq!(parsed.events[0].event, StoreEventKind::StoreVisits);
    assert_eq!(parsed.events[0].count, Some(4));
    assert_eq!(serde_json::to_value(&parsed).unwrap(), example);
    let mut wrong_stage = example.clone();
    wrong_stage["events"][0]["stage"] = json!("view");
    assert!(!validator().is_valid(&wrong_stage));
}

#[test]
fn batches_the_rust_types_write_are_schema_valid_and_read_back() {
    let b = sample_batch();
    let v = serde_json::to_value(&b).unwrap();
    assert_valid(&v);
    assert_eq!(serde_json::from_value::<Batch>(v).unwrap(), b);
}

#[test]
fn writers_emit_null_for_absent_optionals() {
    let v = serde_json::to_value(bare(StoreEventKind::FixtureDwell)).unwrap();
    for key in [
        "epc",
        "gtin",
        "serial",
        "duration_ms",
        "fixture",
        "zone",
        "gtins",
    ] {
        assert_eq!(v.get(key), Some(&Value::Null), "{key}");
    }
}

#[test]
fn schema_properties_are_exactly_the_keys_rust_emits() {
    let v = serde_json::to_value(sample_batch()).unwrap();
    let s = schema();
    assert_eq!(keys(&s["properties"]), keys(&v));
    assert_eq!(
        keys(&s["$defs"]["event"]["properties"]),
        keys(&v["events"][0])
    );
}

#[test]
fn schema_and_rust_agree_on_which_keys_are_required() {
    let full = serde_json::to_value(batch(vec![pickup()])).unwrap();
    let required: BTreeSet<String> = schema()["$defs"]["event"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    for key in keys(&full["events"][0]) {
        let mut without = full.clone();
        without["events"][0].as_object_mut().unwrap().remove(&key);
        let schema_ok = validator().is_valid(&without);
        let rust_ok = serde_json::from_value::<Batch>(without).is_ok();
        assert_eq!(
            schema_ok, rust_ok,
            "schema and Rust disagree on dropping {key}"
        );
        assert_eq!(!schema_ok, required.contains(&key), "{key}");
    }
    let top_required = schema()["required"].as_array().unwrap().len();
    for key in keys(&full) {
        let mut without = full.clone();
        without.as_object_mut().unwrap().remove(&key);
        assert!(
            !validator().is_valid(&without),
            "schema accepts a batch without {key}"
        );
        assert!(
            serde_json::from_value::<Batch>(without).is_err(),
            "Rust accepts a batch without {key}"
        );
    }
    assert_eq!(top_required, keys(&full).len());
}

#[test]
fn readers_ignore_unknown_fields() {
    let mut v = serde_json::to_value(batch(vec![pickup()])).unwrap();
    v["priority"] = json!("high");
    v["events"][0]["confidence"] = json!(0.9);
    assert_valid(&v);
    let parsed: Batch = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(parsed.events, vec![pickup()]);
    let envelope: BatchEnvelope = serde_json::from_value(v).unwrap();
    assert_eq!(envelope.events.len(), 1);
}

#[test]
fn bad_event_and_stage_names_are_rejected_by_both() {
    for (key, bad) in [
        ("event", "item_browse"),
        ("stage", "checkout"),
        ("event", "ItemPickup"),
    ] {
        let mut v = serde_json::to_value(batch(vec![pickup()])).unwrap();
        v["events"][0][key] = json!(bad);
        assert!(!validator().is_valid(&v), "schema accepts {key}={bad}");
        assert!(
            serde_json::from_value::<Batch>(v).is_err(),
            "Rust accepts {key}={bad}"
        );
    }
}

#[test]
fn schema_rejects_a_stage_that_does_not_match_the_event() {
    for kind in StoreEventKind::ALL {
        for stage in FunnelStage::ALL {
            let mut event = bare(kind);
            event.stage = stage;
            let v = serde_json::to_value(batch(vec![event])).unwrap();
            assert_eq!(
                validator().is_valid(&v),
                stage == kind.stage(),
                "{kind} / {stage}"
            );
        }
    }
}

#[test]
fn schema_rejects_timestamps_that_are_not_utc_with_milliseconds() {
    for bad in [
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00.000+08:00",
        "2026-11-20 10:00:00.000Z",
        "2026-11-20T10:00:00.00Z",
        "2026-13-20T10:00:00.000Z",
        "2026-11-20T24:00:00.000Z",
        "1795168798120",
    ] {
        let mut v = serde_json::to_value(batch(vec![pickup()])).unwrap();
        v["events"][0]["ts"] = json!(bad);
        assert!(!validator().is_valid(&v), "schema accepts ts {bad}");
        let mut v = serde_json::to_value(batch(vec![])).unwrap();
        v["created_at"] = json!(bad);
        assert!(!validator().is_valid(&v), "schema accepts created_at {bad}");
    }
    // Rust readers are lenient about offsets but not about garbage.
    let mut v = serde_json::to_value(batch(vec![pickup()])).unwrap();
    v["events"][0]["ts"] = json!("20 Nov 2026 10:00");
    assert!(serde_json::from_value::<Batch>(v).is_err());
}

#[test]
fn schema_rejects_other_versions_and_malformed_values() {
    let good = serde_json::to_value(batch(vec![pickup()])).unwrap();
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 6] = [
        ("schema v2", |v| v["schema"] = json!("aisle.batch.v2")),
        ("lower-case epc", |v| {
            v["events"][0]["epc"] = json!("3074257bf7194e4000001a85")
        }),
        ("13-digit gtin", |v| {
            v["events"][0]["gtin"] = json!("8061414112345")
        }),
        ("negative tag", |v| v["events"][0]["tag"] = json!(-1)),
        ("tag over 32 bits", |v| {
            v["events"][0]["tag"] = json!(4_294_967_296u64)
        }),
        ("events not an array", |v| v["events"] = json!({})),
    ];
    for (what, mutate) in mutations {
        let mut v = good.clone();
        mutate(&mut v);
        assert!(!validator().is_valid(&v), "schema accepts {what}");
    }
}

#[test]
fn event_ids_are_deterministic_and_distinct() {
    // 1234 = 0x4d2, 42 = 0x2a.
    assert_eq!(event_id("S1", 1234, 7, 42), "S1-000004d2-00000007-002a");
    assert_eq!(
        event_id("S-é", u32::MAX, 0xabcd_ef01, 0xbeef),
        "S-é-ffffffff-abcdef01-beef"
    );
    assert_eq!(event_id("S1", 1234, 7, 42), event_id("S1", 1234, 7, 42));
    let mut seen = BTreeSet::new();
    for store in ["S1", "S1-", "S", "1-S1"] {
        for tag in [0, 1, u32::MAX] {
            for boot in [0, 1, u32::MAX] {
                for seq in [0, 1, u16::MAX] {
                    assert!(
                        seen.insert(event_id(store, tag, boot, seq)),
                        "{store} {tag} {boot} {seq}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_new_event_is_at_its_kinds_stage_with_nothing_optional() {
    for kind in StoreEventKind::ALL {
        let e = BatchEvent::new("S1-x".into(), ts("2026-11-20T10:00:00.000Z"), kind, 5);
        assert_eq!((e.event, e.stage, e.tag), (kind, kind.stage(), 5));
        let json = serde_json::to_value(&e).unwrap();
        for key in [
            "epc",
            "gtin",
            "serial",
            "duration_ms",
            "fixture",
            "zone",
            "gtins",
        ] {
            assert!(json[key].is_null(), "{key} in {json}");
        }
    }
}
