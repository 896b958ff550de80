//! What the validator accepts, and the reason it gives for what it does not.

use super::*;
use serde_json::json;

/// Store S1's events topic.
fn topic() -> String {
    Topic::new("S1", TopicKind::Events).to_string()
}

fn pickup(id: &str) -> serde_json::Value {
    json!({"id": id, "ts": "2026-11-20T09:59:58.120Z", "event": "item_pickup", "stage": "view", "tag": 7,
           "epc": "3074257BF7194E4000001A85", "gtin": "80614141123458", "serial": "6789",
           "fixture": null, "zone": null, "duration_ms": null, "gtins": null})
}

fn batch(store: &str, events: Vec<serde_json::Value>) -> Vec<u8> {
    json!({"schema": SCHEMA_V1, "store": store, "gateway": "gw-1", "batch_id": "b-1",
           "created_at": "2026-11-20T10:00:00.000Z", "events": events})
    .to_string()
    .into_bytes()
}

fn reason(verdict: Verdict) -> String {
    match verdict {
        Verdict::Rejected { reason } => reason,
        Verdict::Accepted(batch) => panic!("accepted: {batch:?}"),
    }
}

fn accepted(verdict: Verdict) -> ValidBatch {
    match verdict {
        Verdict::Accepted(batch) => batch,
        Verdict::Rejected { reason } => panic!("rejected: {reason}"),
    }
}

#[test]
fn accepts_a_good_batch() {
    let batch = accepted(validate(
        &topic(),
        &batch("S1", vec![pickup("S1-1"), pickup("S1-2")]),
    ));
    assert_eq!(
        (
            batch.store.as_str(),
            batch.events.len(),
            batch.bad_events.len()
        ),
        ("S1", 2, 0)
    );
    assert_eq!(batch.events[0].gtin.as_deref(), Some("80614141123458"));
}

#[test]
fn rejects_a_payload_that_is_not_json() {
    assert!(reason(validate(&topic(), b"\xff{not json")).starts_with("not JSON"));
}

#[test]
fn rejects_an_unknown_schema_even_if_the_rest_is_v2_shaped() {
    let payload = json!({"schema": "aisle.batch.v2", "store": "S1", "things": []}).to_string();
    assert!(
        reason(validate(&topic(), payload.as_bytes())).contains("unknown schema `aisle.batch.v2`")
    );
    assert!(reason(validate(&topic(), b"[1,2]")).contains("no `schema`"));
}

#[test]
fn rejects_a_store_that_differs_from_the_topic() {
    let why = reason(validate(&topic(), &batch("S2", vec![pickup("S2-1")])));
    assert!(why.contains("`S2`") && why.contains("`S1`"), "{why}");
}

#[test]
fn rejects_a_batch_missing_envelope_fields_and_a_foreign_topic() {
    let payload = json!({"schema": SCHEMA_V1, "store": "S1", "events": []}).to_string();
    assert!(reason(validate(&topic(), payload.as_bytes())).contains("missing field"));
    assert!(reason(validate(
        &Topic::new("S1", TopicKind::Status).to_string(),
        &batch("S1", vec![])
    ))
    .contains("topic"));
}

#[test]
fn rejects_oversized_payloads_unread() {
    let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    assert!(reason(validate(&topic(), &big)).contains("byte limit"));
}

#[test]
fn quarantines_bad_events_alone_and_keeps_the_rest() {
    let mut unknown = pickup("S1-2");
    unknown["event"] = json!("item_browse");
    let mut bad_ts = pickup("S1-3");
    bad_ts["ts"] = json!("yesterday");
    let mut no_id = pickup("S1-4");
    no_id.as_object_mut().unwrap().remove("id");
    let mut wrong_stage = pickup("S1-5");
    wrong_stage["stage"] = json!("purchase");
    let mut no_gtin = pickup("S1-6");
    no_gtin["gtin"] = json!(null);
    let events = vec![
        pickup("S1-1"),
        unknown,
        bad_ts,
        no_id,
        wrong_stage,
        no_gtin,
        json!(42),
    ];
    let batch = accepted(validate(&topic(), &batch("S1", events)));
    assert_eq!(batch.events.len(), 1);
    let indexes: Vec<usize> = batch.bad_events.iter().map(|b| b.index).collect();
    assert_eq!(indexes, vec![1, 2, 3, 4, 5, 6]);
    let reasons: Vec<&str> = batch.bad_events.iter().map(|b| b.reason.as_str()).collect();
    assert!(reasons[0].contains("item_browse"), "{reasons:?}");
    assert!(reasons[1].contains("RFC 3339"), "{reasons:?}");
    assert!(reasons[2].contains("missing field `id`"), "{reasons:?}");
    assert!(reasons[3].contains("does not match"), "{reasons:?}");
    assert!(reasons[4].contains("without gtin"), "{reasons:?}");
    assert!(batch.bad_events[0].raw.contains("item_browse"));
}

#[test]
fn reads_the_store_from_the_topic() {
    let events = Topic::new("S-042", TopicKind::Events).to_string();
    assert_eq!(topic_store(&events), Some("S-042"));
    for kind in [TopicKind::Status, TopicKind::Tags, TopicKind::Commands] {
        assert_eq!(topic_store(&Topic::new("S-042", kind).to_string()), None);
    }
    assert_eq!(topic_store(&events.replace("S-042", "a/b")), None);
}

#[test]
fn quarantines_a_mismatched_stage_in_an_otherwise_well_formed_batch() {
    let mut wrong_stage = pickup("S1-2");
    wrong_stage["stage"] = json!("try_on");
    let batch = accepted(validate(
        &topic(),
        &batch("S1", vec![pickup("S1-1"), wrong_stage]),
    ));
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.bad_events.len(), 1);
    assert_eq!(batch.bad_events[0].index, 1);
    assert!(batch.bad_events[0].reason.contains("does not match"));
    assert!(
        batch.bad_events[0].raw.contains("\"S1-2\""),
        "{}",
        batch.bad_events[0].raw
    );
}

fn visits(id: &str, count: serde_json::Value, period: serde_json::Value) -> serde_json::Value {
    json!({"id": id, "ts": "2026-11-20T10:00:00.000Z", "event": "store_visits", "stage": "visit",
           "tag": 3, "epc": null, "gtin": null, "serial": null, "duration_ms": period,
           "count": count, "fixture": null, "zone": "main-door", "gtins": null})
}

#[test]
fn keeps_a_store_visits_count_without_a_garment() {
    let batch = accepted(validate(
        &topic(),
        &batch("S1", vec![visits("S1-v1", json!(12), json!(900_000))]),
    ));
    assert_eq!(batch.bad_events, vec![]);
    assert_eq!(
        (batch.events[0].count, batch.events[0].duration_ms),
        (Some(12), Some(900_000))
    );
}

#[test]
fn quarantines_store_visits_without_a_count_or_a_period_and_keeps_the_rest() {
    let batch = accepted(validate(
        &topic(),
        &batch(
            "S1",
            vec![
                visits("S1-v1", json!(null), json!(900_000)),
                pickup("S1-1"),
                visits("S1-v2", json!(4), json!(null)),
                visits("S1-v3", json!(4), json!(0)),
                visits("S1-v4", json!(0), json!(60_000)),
            ],
        ),
    ));
    // A count of 0 is a quiet period, not a missing one.
    let kept: Vec<&str> = batch.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(kept, ["S1-1", "S1-v4"]);
    let bad: Vec<(usize, &str)> = batch
        .bad_events
        .iter()
        .map(|b| (b.index, b.reason.as_str()))
        .collect();
    assert_eq!(
        bad,
        [
            (0, "store_visits without a count"),
            (
                2,
                "store_visits without a counting period (duration_ms, above 0)"
            ),
            (
                3,
                "store_visits without a counting period (duration_ms, above 0)"
            ),
        ]
    );
}
