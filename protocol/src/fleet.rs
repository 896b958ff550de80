//! One tag's health as a gateway publishes it on
//! `aisle/v1/stores/{store}/tags` (docs/gateway.md), and as HQ reads it:
//! one definition for both ends. Readers accept missing optional keys and
//! ignore unknown ones, as for the batch.

use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// Health of one tag, from its boots and heartbeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagHealth {
    /// The tag's id.
    pub tag: u32,
    /// When the gateway last heard the tag.
    pub last_seen: UnixMillis,
    /// The tag's boot counter at `last_seen`.
    pub boot: u32,
    /// The latest battery reading, from a heartbeat.
    pub battery_mv: Option<u16>,
    /// Events the tag dropped from a full outbox this boot (from heartbeats).
    pub dropped: Option<u32>,
    /// The firmware version, from a heartbeat.
    pub fw: Option<String>,
    /// Why the tag last reset, from its boot message.
    pub reset_reason: Option<String>,
    /// Entrance counters only: the latest counting period, the one place
    /// a period in which people only left shows. Absent for other tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<EntriesPeriod>,
    /// Entrance counters only: a break-beam is blocked (a propped door, a
    /// pram), so nobody is being counted. Absent for other tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beam_blocked: Option<bool>,
}

/// One counting period of an entrance, as its tag reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntriesPeriod {
    /// When the period began.
    pub start: UnixMillis,
    /// The period's length.
    pub period_ms: u32,
    /// People who came in during it.
    pub entered: u16,
    /// People who went out during it.
    pub exited: u16,
}
