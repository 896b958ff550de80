//! The fleet in ClickHouse: each store's latest gateway status (with the
//! last will that turns it offline) and each tag's latest health, the same
//! rows SQLite keeps (agent/src/hq/fleet.sql), for a chain whose events
//! live here.
//!
//! ClickHouse does not update rows in place, so both tables are
//! `ReplacingMergeTree`s: every update is a new row with a version, a
//! background merge keeps the highest version of each key, and every read
//! uses `FINAL` so it sees exactly that row before the merge has run.
//! - `fleet_gateways`, by store: the collector reads the stored row, folds
//!   the batch's statuses into it as SQLite's upsert does (`since_ms` moves
//!   only when the state changes; a last will without a gateway keeps the
//!   known one) and writes the result with a version above the stored one.
//! - `fleet_tags`, by (store, tag), versioned by `last_seen_ms`: an older
//!   sighting never replaces a newer one, and of equal ones the later
//!   written wins, as in SQLite.

use super::row_binary::RowWriter;
use super::{ClickHouseError, ClickHouseStore};
use crate::hq::fleet::{
    fleet_topic, parse, FleetCounts, FleetReceived, FleetUpdate, GatewayState, TagAlarms, TagState,
};
use std::collections::{BTreeMap, HashMap};

/// The statements that create the tables; `open` runs them with the others.
pub(super) fn schema(db: &str) -> [String; 2] {
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.fleet_gateways (
                store String, gateway Nullable(String), state String, since_ms Int64,
                status_ms Int64, received_ms Int64, status String, version UInt64
             ) ENGINE = ReplacingMergeTree(version) ORDER BY store"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {db}.fleet_tags (
                store String, tag UInt32, gateway Nullable(String), last_seen_ms Int64,
                boot UInt32, battery_mv Nullable(UInt16), dropped Nullable(UInt32),
                fw Nullable(String), reset_reason Nullable(String), received_ms Int64,
                version UInt64
             ) ENGINE = ReplacingMergeTree(version) ORDER BY (store, tag)"
        ),
    ]
}

/// A store's gateway row as the collector folds statuses into it.
struct GatewayRow {
    gateway: Option<String>,
    state: String,
    since_ms: i64,
    status_ms: i64,
    status: String,
    version: u64,
}

/// A tag's latest health in the batch being written.
struct TagRow {
    gateway: Option<String>,
    last_seen_ms: i64,
    boot: u32,
    battery_mv: Option<u16>,
    dropped: Option<u32>,
    fw: Option<String>,
    reset_reason: Option<String>,
}

/// A time as a version: times before 1970 are no tag's sighting.
fn version_of(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

impl ClickHouseStore {
    fn has_fleet(&self) -> Result<bool, ClickHouseError> {
        Ok(self.tables()?.iter().any(|t| t == "fleet_tags"))
    }

    /// Every stored gateway row, by store.
    fn stored_gateways(&self) -> Result<HashMap<String, GatewayRow>, ClickHouseError> {
        let mut out = HashMap::new();
        self.read_rows(
            &format!(
                "SELECT store, gateway, state, since_ms, status_ms, status, version
                 FROM {}.fleet_gateways FINAL FORMAT RowBinary",
                self.database()
            ),
            |r| {
                Ok((
                    r.string()?,
                    GatewayRow {
                        gateway: r.nullable_string()?,
                        state: r.string()?,
                        since_ms: r.i64()?,
                        status_ms: r.i64()?,
                        status: r.string()?,
                        version: r.u64()?,
                    },
                ))
            },
            &mut |(store, row)| {
                out.insert(store, row);
            },
        )?;
        Ok(out)
    }

    /// Stores `received` as [`crate::hq::fleet::record`] promises. When
    /// this returns `Ok`, ClickHouse holds every row; a failure part-way
    /// leaves rows a retry writes again with the same or a higher version,
    /// so the kept row is the one a single write would have kept.
    pub fn record_fleet(
        &mut self,
        received: &[FleetReceived<'_>],
        received_ms: i64,
    ) -> Result<FleetCounts, ClickHouseError> {
        let mut counts = FleetCounts::default();
        let mut quarantine = RowWriter::default();
        let mut stored: Option<HashMap<String, GatewayRow>> = None;
        let mut gateways: BTreeMap<String, GatewayRow> = BTreeMap::new();
        let mut tags: BTreeMap<(String, u32), TagRow> = BTreeMap::new();
        for message in received {
            let Some((kind, shop)) = fleet_topic(message.topic) else {
                continue;
            };
            match parse(kind, shop, message.payload) {
                Ok(FleetUpdate::Status { fields, doc }) => {
                    if stored.is_none() {
                        stored = Some(self.stored_gateways()?);
                    }
                    let before = gateways
                        .get(shop)
                        .or_else(|| stored.as_ref().and_then(|s| s.get(shop)));
                    let since_ms = match before {
                        Some(b) if b.state == fields.state => b.since_ms,
                        _ => received_ms,
                    };
                    let row = GatewayRow {
                        gateway: fields
                            .gateway
                            .or_else(|| before.and_then(|b| b.gateway.clone())),
                        since_ms,
                        // A last will carries no time of its own: it is as
                        // recent as its arrival.
                        status_ms: fields.at.map_or(received_ms, |at| at.0),
                        status: doc,
                        version: before
                            .map_or(0, |b| b.version + 1)
                            .max(version_of(received_ms)),
                        state: fields.state,
                    };
                    gateways.insert(shop.to_string(), row);
                    counts.statuses += 1;
                }
                Ok(FleetUpdate::Tags(message)) => {
                    for health in message.tags {
                        let key = (shop.to_string(), health.tag);
                        let newer = tags
                            .get(&key)
                            .is_none_or(|t| health.last_seen.0 >= t.last_seen_ms);
                        if newer {
                            tags.insert(
                                key,
                                TagRow {
                                    gateway: message.gateway.clone(),
                                    last_seen_ms: health.last_seen.0,
                                    boot: health.boot,
                                    battery_mv: health.battery_mv,
                                    dropped: health.dropped,
                                    fw: health.fw,
                                    reset_reason: health.reset_reason,
                                },
                            );
                        }
                        counts.tags += 1;
                    }
                }
                Err(reason) => {
                    tracing::warn!(topic = message.topic, %reason, "fleet message quarantined");
                    quarantine.i64(received_ms);
                    quarantine.string(message.topic);
                    quarantine.nullable_string(Some(shop));
                    quarantine.nullable_string(None);
                    quarantine.nullable_u32(None);
                    quarantine.string(&reason);
                    quarantine.bytes(message.payload);
                    counts.quarantined += 1;
                }
            }
        }
        let mut gateway_rows = RowWriter::default();
        for (store, g) in &gateways {
            gateway_rows.string(store);
            gateway_rows.nullable_string(g.gateway.as_deref());
            gateway_rows.string(&g.state);
            gateway_rows.i64(g.since_ms);
            gateway_rows.i64(g.status_ms);
            gateway_rows.i64(received_ms);
            gateway_rows.string(&g.status);
            gateway_rows.u64(g.version);
        }
        let mut tag_rows = RowWriter::default();
        for ((store, tag), t) in &tags {
            tag_rows.string(store);
            tag_rows.u32(*tag);
            tag_rows.nullable_string(t.gateway.as_deref());
            tag_rows.i64(t.last_seen_ms);
            tag_rows.u32(t.boot);
            tag_rows.nullable_u16(t.battery_mv);
            tag_rows.nullable_u32(t.dropped);
            tag_rows.nullable_string(t.fw.as_deref());
            tag_rows.nullable_string(t.reset_reason.as_deref());
            tag_rows.i64(received_ms);
            tag_rows.u64(version_of(t.last_seen_ms));
        }
        let db = self.database();
        for (table, columns, rows) in [
            ("quarantine", super::ingest::QUARANTINE_COLUMNS, &quarantine),
            (
                "fleet_gateways",
                "store, gateway, state, since_ms, status_ms, received_ms, status, version",
                &gateway_rows,
            ),
            (
                "fleet_tags",
                "store, tag, gateway, last_seen_ms, boot, battery_mv, dropped, fw, \
                 reset_reason, received_ms, version",
                &tag_rows,
            ),
        ] {
            if !rows.buf.is_empty() {
                self.http.insert(
                    &format!("INSERT INTO {db}.{table} ({columns}) FORMAT RowBinary"),
                    &rows.buf,
                )?;
            }
        }
        Ok(counts)
    }

    /// Every store's gateway, by store id.
    pub fn fleet_gateways(&self) -> Result<Vec<GatewayState>, ClickHouseError> {
        if !self.has_fleet()? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        self.read_rows(
            &format!(
                "SELECT store, gateway, state, since_ms, status_ms, status
                 FROM {}.fleet_gateways FINAL ORDER BY store FORMAT RowBinary",
                self.database()
            ),
            |r| {
                Ok(GatewayState {
                    store: r.string()?,
                    gateway: r.nullable_string()?,
                    state: r.string()?,
                    since_ms: r.i64()?,
                    status_ms: r.i64()?,
                    status: serde_json::from_str(&r.string()?).unwrap_or(serde_json::Value::Null),
                })
            },
            &mut |g| out.push(g),
        )?;
        Ok(out)
    }

    /// How many tags are known, and those that need a visit.
    pub fn fleet_tags_needing_attention(
        &self,
        alarms: TagAlarms,
    ) -> Result<(u64, Vec<TagState>), ClickHouseError> {
        if !self.has_fleet()? {
            return Ok((0, Vec::new()));
        }
        let db = self.database();
        let known = self.count(&format!("SELECT count() FROM {db}.fleet_tags FINAL"))?;
        let mut out = Vec::new();
        self.read_rows(
            &format!(
                "SELECT store, tag, gateway, last_seen_ms, boot, battery_mv, dropped, fw
                 FROM {db}.fleet_tags FINAL
                 WHERE last_seen_ms < {} OR battery_mv < {} OR dropped > 0
                 ORDER BY store, tag FORMAT RowBinary",
                alarms.silent_before_ms, alarms.low_battery_mv
            ),
            |r| {
                Ok(TagState {
                    store: r.string()?,
                    tag: r.u32()?,
                    gateway: r.nullable_string()?,
                    last_seen_ms: r.i64()?,
                    boot: r.u32()?,
                    battery_mv: if r.not_null()? { Some(r.u16()?) } else { None },
                    dropped: if r.not_null()? { Some(r.u32()?) } else { None },
                    fw: r.nullable_string()?,
                })
            },
            &mut |t| out.push(t),
        )?;
        Ok((known, out))
    }
}
