//! The JSON batch a gateway publishes to HQ on `aisle/v1/stores/{store}/events`.
//!
//! The layout is a public contract with HQ teams: `schema/batch.v1.json` is
//! its JSON Schema, and a test keeps the two in step. Writers emit every key
//! (absent values as `null`); readers accept missing optional keys and ignore
//! unknown ones, so the schema can grow without breaking old collectors.

use crate::stage::{FunnelStage, StoreEventKind};
use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// The `schema` value of this version of the batch.
pub const SCHEMA_V1: &str = "aisle.batch.v1";

/// One batch of store events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// [`SCHEMA_V1`] for this layout.
    pub schema: String,
    /// The store id; equals the topic's store.
    pub store: String,
    /// The gateway's id within the store.
    pub gateway: String,
    /// Unique per batch, for logs and the event store's provenance columns.
    pub batch_id: String,
    /// When the gateway assembled the batch.
    pub created_at: UnixMillis,
    /// The events, oldest first.
    pub events: Vec<BatchEvent>,
}

/// A batch whose events are not yet validated: HQ checks the envelope first
/// and then each event on its own, so one bad event does not cost the rest.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchEnvelope {
    /// [`SCHEMA_V1`] for this layout.
    pub schema: String,
    /// The store id; equals the topic's store.
    pub store: String,
    /// The gateway's id within the store.
    pub gateway: String,
    /// Unique per batch, for logs and the event store's provenance columns.
    pub batch_id: String,
    /// When the gateway assembled the batch.
    pub created_at: UnixMillis,
    /// The events, each checked on its own.
    pub events: Vec<serde_json::Value>,
}

/// One funnel event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchEvent {
    /// Deterministic from (store, tag, boot, seq): see [`event_id`].
    pub id: String,
    /// When it happened (gateway receive time minus the tag's `age_ms`).
    pub ts: UnixMillis,
    /// What happened in the store.
    pub event: StoreEventKind,
    /// The funnel stage it reaches ([`StoreEventKind::stage`]).
    pub stage: FunnelStage,
    /// The reporting tag's id.
    pub tag: u32,
    /// The garment's EPC as upper-case hex, on item events.
    #[serde(default)]
    pub epc: Option<String>,
    /// GTIN-14 decoded from the EPC, when it is an SGTIN.
    #[serde(default)]
    pub gtin: Option<String>,
    /// The garment's serial decoded from the EPC.
    #[serde(default)]
    pub serial: Option<String>,
    /// Dwell length on `fixture_dwell`; the counting period on `store_visits`.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// People who came in during the period, on `store_visits`.
    #[serde(default)]
    pub count: Option<u32>,
    /// The fixture, on `fixture_dwell` (None from an unknown presence tag).
    #[serde(default)]
    pub fixture: Option<String>,
    /// The zone: the fixture's zone, or the fitting room / checkout.
    #[serde(default)]
    pub zone: Option<String>,
    /// The fixture's GTINs on display, on `fixture_dwell`.
    #[serde(default)]
    pub gtins: Option<Vec<String>>,
}

impl BatchEvent {
    /// An event of `kind` at its stage, with every optional field absent;
    /// the caller fills in what the event carries.
    pub fn new(id: String, ts: UnixMillis, kind: StoreEventKind, tag: u32) -> Self {
        BatchEvent {
            id,
            ts,
            event: kind,
            stage: kind.stage(),
            tag,
            epc: None,
            gtin: None,
            serial: None,
            duration_ms: None,
            count: None,
            fixture: None,
            zone: None,
            gtins: None,
        }
    }
}

/// The event id for event `(tag, boot, seq)` of `store`. Fixed-width hex
/// after the store id keeps ids unique even if a store id contains `-`, and
/// readable enough to trace an event back to a tag.
pub fn event_id(store: &str, tag: u32, boot: u32, seq: u16) -> String {
    // Written digit by digit: the gateway names every event it spools, and
    // `format!` cost as much as the rest of the name's JSON.
    let mut id = String::with_capacity(store.len() + 23);
    id.push_str(store);
    for (value, digits) in [(tag, 8), (boot, 8), (u32::from(seq), 4)] {
        id.push('-');
        for shift in (0..digits).rev() {
            let nibble = (value >> (shift * 4)) & 0xf;
            id.push(char::from_digit(nibble, 16).unwrap_or('0'));
        }
    }
    id
}

#[cfg(test)]
mod tests;
