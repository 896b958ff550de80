//! Checks a payload from the broker before anything of it is stored.
//!
//! A payload is judged as a whole first (JSON, schema version, sizes, the
//! store named in the topic), then event by event, so that one bad event
//! costs only itself. Pure: bytes in, verdict out; it never panics on input.

use protocol::batch::{Batch, BatchEnvelope, BatchEvent, SCHEMA_V1};
use protocol::stage::StoreEventKind;
use protocol::topics::{Topic, TopicKind};

/// Payloads above this are quarantined unread: no gateway batch is near it,
/// and it bounds what one message can make the collector parse.
const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
/// Events per batch; gateways batch far fewer (bounded by count and bytes).
const MAX_EVENTS_PER_BATCH: usize = 50_000;
/// Longest accepted event id, store id or other identifier.
const MAX_ID_CHARS: usize = 256;

/// The verdict on one payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Nothing of the payload counts.
    Rejected {
        reason: String,
    },
    Accepted(ValidBatch),
}

/// A batch whose envelope is good: its good events and its bad ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidBatch {
    pub store: String,
    pub gateway: String,
    pub batch_id: String,
    pub events: Vec<BatchEvent>,
    pub bad_events: Vec<BadEvent>,
}

/// One event of a good batch that failed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct BadEvent {
    /// Its position in the batch's `events` array.
    pub index: usize,
    pub reason: String,
    /// The event as received, re-serialised.
    pub raw: String,
}

/// The store segment of a store's events topic, if `topic` is one.
pub(crate) fn topic_store(topic: &str) -> Option<&str> {
    Topic::parse(topic)
        .ok()
        .filter(|t| t.kind == TopicKind::Events)
        .map(|t| t.store)
}

fn rejected(reason: impl Into<String>) -> Verdict {
    Verdict::Rejected {
        reason: reason.into(),
    }
}

/// Judges one payload received on `topic`.
pub fn validate(topic: &str, payload: &[u8]) -> Verdict {
    let Some(topic_store) = topic_store(topic) else {
        return rejected(format!(
            "topic `{topic}` is not {}",
            Topic::new("{store}", TopicKind::Events)
        ));
    };
    if payload.len() > MAX_PAYLOAD_BYTES {
        return rejected(format!(
            "payload is {} bytes, above the {MAX_PAYLOAD_BYTES} byte limit",
            payload.len()
        ));
    }
    // Fast path: a well-formed batch parses straight into its typed form,
    // without a JSON tree in between. Anything else takes the slow path,
    // which finds the precise reason and keeps the good events.
    if let Ok(batch) = serde_json::from_slice::<Batch>(payload) {
        if batch.schema == SCHEMA_V1 {
            if let Some(rejection) = check_envelope(
                topic_store,
                &batch.store,
                &batch.gateway,
                &batch.batch_id,
                batch.events.len(),
            ) {
                return rejection;
            }
            let mut events = Vec::with_capacity(batch.events.len());
            let mut bad_events = Vec::new();
            for (index, event) in batch.events.into_iter().enumerate() {
                match check_fields(&event) {
                    Ok(()) => events.push(event),
                    Err(reason) => {
                        let raw = serde_json::to_string(&event).unwrap_or_default();
                        bad_events.push(BadEvent { index, reason, raw });
                    }
                }
            }
            return Verdict::Accepted(ValidBatch {
                store: batch.store,
                gateway: batch.gateway,
                batch_id: batch.batch_id,
                events,
                bad_events,
            });
        }
    }
    let value: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(value) => value,
        Err(err) => return rejected(format!("not JSON: {err}")),
    };
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA_V1) => {}
        Some(other) => {
            return rejected(format!(
                "unknown schema `{other}` (this collector reads {SCHEMA_V1})"
            ))
        }
        None => return rejected(format!("no `schema` string (expected \"{SCHEMA_V1}\")")),
    }
    let envelope: BatchEnvelope = match serde_json::from_value(value) {
        Ok(envelope) => envelope,
        Err(err) => return rejected(format!("not a {SCHEMA_V1} batch: {err}")),
    };
    if let Some(rejection) = check_envelope(
        topic_store,
        &envelope.store,
        &envelope.gateway,
        &envelope.batch_id,
        envelope.events.len(),
    ) {
        return rejection;
    }
    let mut events = Vec::with_capacity(envelope.events.len());
    let mut bad_events = Vec::new();
    for (index, raw) in envelope.events.into_iter().enumerate() {
        let checked = serde_json::from_value::<BatchEvent>(raw.clone())
            .map_err(|err| format!("bad event: {err}"))
            .and_then(|event| check_fields(&event).map(|()| event));
        match checked {
            Ok(event) => events.push(event),
            Err(reason) => bad_events.push(BadEvent {
                index,
                reason,
                raw: raw.to_string(),
            }),
        }
    }
    Verdict::Accepted(ValidBatch {
        store: envelope.store,
        gateway: envelope.gateway,
        batch_id: envelope.batch_id,
        events,
        bad_events,
    })
}

/// The envelope's own checks: the store matches the topic, sizes are sane.
fn check_envelope(
    topic_store: &str,
    store: &str,
    gateway: &str,
    batch_id: &str,
    events: usize,
) -> Option<Verdict> {
    if store != topic_store {
        return Some(rejected(format!(
            "batch names store `{store}` but was published on the topic of store `{topic_store}`"
        )));
    }
    for (name, value) in [("gateway", gateway), ("batch_id", batch_id)] {
        if value.chars().count() > MAX_ID_CHARS {
            return Some(rejected(format!(
                "`{name}` is longer than {MAX_ID_CHARS} characters"
            )));
        }
    }
    if events > MAX_EVENTS_PER_BATCH {
        return Some(rejected(format!(
            "{events} events in one batch, above the limit of {MAX_EVENTS_PER_BATCH}"
        )));
    }
    None
}

/// An event's fields agree with each other.
fn check_fields(event: &BatchEvent) -> Result<(), String> {
    if event.id.is_empty() || event.id.chars().count() > MAX_ID_CHARS {
        return Err(format!("event id must be 1 to {MAX_ID_CHARS} characters"));
    }
    if event.stage != event.event.stage() {
        return Err(format!(
            "stage `{}` does not match event `{}`",
            event.stage, event.event
        ));
    }
    let item = matches!(
        event.event,
        StoreEventKind::ItemPickup | StoreEventKind::ItemTryOn | StoreEventKind::ItemPurchase
    );
    if item && (event.gtin.is_none() || event.serial.is_none()) {
        // The journey unit is a garment: without GTIN and serial the event
        // cannot be attributed, so it is kept visible here instead.
        return Err(format!(
            "{} without gtin and serial (EPC not an SGTIN?)",
            event.event
        ));
    }
    if event.event == StoreEventKind::StoreVisits {
        // A count without its period (or a period without its count) cannot
        // be put on a day or an hour, nor summed with other entrances'.
        match (event.count, event.duration_ms) {
            (None, _) => return Err("store_visits without a count".to_string()),
            (_, None | Some(0)) => {
                return Err(
                    "store_visits without a counting period (duration_ms, above 0)".to_string(),
                )
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
