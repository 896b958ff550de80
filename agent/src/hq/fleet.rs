//! The fleet as HQ sees it: the latest status of every store's gateway and
//! the latest health of every tag, from the retained `…/status` documents
//! (and the last will that turns them `offline`) and the `…/tags` messages.
//!
//! Only the latest of each is kept, in tables apart from the events
//! (`fleet.sql`): a status replaces the previous one, so the dashboard can
//! say which stores are offline and since when, and which tags need a visit.
//! A payload that cannot be read is quarantined like a bad batch.

use crate::event_store::{DbError, EventStore, SqliteStore, StoreError};
use protocol::fleet::TagHealth;
use protocol::time::UnixMillis;
use protocol::topics::{Topic, TopicKind};
use rusqlite::{params, Connection};
use serde::Deserialize;

/// Applied with the event store's schema; idempotent (`IF NOT EXISTS`).
pub const SCHEMA: &str = include_str!("fleet.sql");

/// The two fleet topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetTopic {
    Status,
    Tags,
}

/// The kind and store of a fleet topic; `None` for any other topic.
pub fn fleet_topic(topic: &str) -> Option<(FleetTopic, &str)> {
    let topic = Topic::parse(topic).ok()?;
    let kind = match topic.kind {
        TopicKind::Status => FleetTopic::Status,
        TopicKind::Tags => FleetTopic::Tags,
        TopicKind::Events | TopicKind::Commands => return None,
    };
    Some((kind, topic.store))
}

/// The fields of a status document HQ relies on; the rest is kept as sent.
#[derive(Deserialize)]
pub(crate) struct StatusFields {
    pub(crate) state: String,
    store: Option<String>,
    pub(crate) gateway: Option<String>,
    pub(crate) at: Option<UnixMillis>,
}

#[derive(Deserialize)]
pub(crate) struct TagsMessage {
    store: Option<String>,
    pub(crate) gateway: Option<String>,
    pub(crate) tags: Vec<TagHealth>,
}

/// A fleet message read and checked, ready to store.
pub(crate) enum FleetUpdate {
    Status { fields: StatusFields, doc: String },
    Tags(TagsMessage),
}

/// Reads a fleet message from `store`'s topic, or says why it cannot.
pub(crate) fn parse(kind: FleetTopic, store: &str, payload: &[u8]) -> Result<FleetUpdate, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8".to_string())?;
    let (update, claimed) = match kind {
        FleetTopic::Status => {
            let fields: StatusFields =
                serde_json::from_str(text).map_err(|e| format!("status: {e}"))?;
            if fields.state.is_empty() {
                return Err("status: `state` is empty".to_string());
            }
            let claimed = fields.store.clone();
            let doc = text.to_string();
            (FleetUpdate::Status { fields, doc }, claimed)
        }
        FleetTopic::Tags => {
            let message: TagsMessage =
                serde_json::from_str(text).map_err(|e| format!("tags: {e}"))?;
            let claimed = message.store.clone();
            (FleetUpdate::Tags(message), claimed)
        }
    };
    match claimed {
        Some(claimed) if claimed != store => Err(format!(
            "store `{claimed}` in the payload does not match the topic's `{store}`"
        )),
        _ => Ok(update),
    }
}

/// One fleet payload as received.
pub struct FleetReceived<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
}

/// What one [`record`] call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FleetCounts {
    pub statuses: u64,
    pub tags: u64,
    pub quarantined: u64,
}

/// Stores `received` in one transaction: the latest status per store, the
/// latest health per tag, and unreadable payloads in quarantine. Messages
/// on other topics are ignored. When this returns `Ok`, everything is
/// committed and may be acked.
///
/// Both backends keep the same: SQLite updates its rows in place,
/// ClickHouse adds versioned rows that reads collapse
/// (agent/src/event_store/clickhouse/fleet.rs).
pub fn record(
    store: &mut EventStore,
    received: &[FleetReceived<'_>],
    received_ms: i64,
) -> Result<FleetCounts, StoreError> {
    Ok(match store {
        EventStore::Sqlite(db) => record_sqlite(db, received, received_ms)?,
        EventStore::ClickHouse(ch) => ch.record_fleet(received, received_ms)?,
    })
}

fn record_sqlite(
    store: &mut SqliteStore,
    received: &[FleetReceived<'_>],
    received_ms: i64,
) -> Result<FleetCounts, DbError> {
    let tx = store.connection_mut().transaction()?;
    let mut counts = FleetCounts::default();
    {
        // `since_ms` moves only when the state changes: a store that has
        // been offline for a day stays "offline since yesterday" however
        // often its retained status is delivered again.
        let mut status = tx.prepare_cached(
            "INSERT INTO fleet_gateways (store, gateway, state, since_ms, status_ms, received_ms, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6)
             ON CONFLICT (store) DO UPDATE SET
                 since_ms = CASE WHEN state = excluded.state THEN since_ms ELSE excluded.since_ms END,
                 gateway = COALESCE(excluded.gateway, gateway),
                 state = excluded.state,
                 status_ms = excluded.status_ms,
                 received_ms = excluded.received_ms,
                 status = excluded.status",
        )?;
        // Tag health messages may arrive out of order after a reconnect;
        // an older sighting never replaces a newer one.
        let mut tag = tx.prepare_cached(
            "INSERT INTO fleet_tags (store, tag, gateway, last_seen_ms, boot, battery_mv, dropped,
                 fw, reset_reason, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (store, tag) DO UPDATE SET
                 gateway = excluded.gateway, last_seen_ms = excluded.last_seen_ms,
                 boot = excluded.boot, battery_mv = excluded.battery_mv,
                 dropped = excluded.dropped, fw = excluded.fw,
                 reset_reason = excluded.reset_reason, received_ms = excluded.received_ms
             WHERE excluded.last_seen_ms >= fleet_tags.last_seen_ms",
        )?;
        let mut quarantine = tx.prepare_cached(
            "INSERT INTO quarantine (received_ms, topic, store, reason, payload)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for message in received {
            let Some((kind, shop)) = fleet_topic(message.topic) else {
                continue;
            };
            match parse(kind, shop, message.payload) {
                Ok(FleetUpdate::Status { fields, doc }) => {
                    // A last will carries no time of its own: it is as
                    // recent as its arrival.
                    let status_ms = fields.at.map_or(received_ms, |at| at.0);
                    status.execute(params![
                        shop,
                        fields.gateway,
                        fields.state,
                        received_ms,
                        status_ms,
                        doc
                    ])?;
                    counts.statuses += 1;
                }
                Ok(FleetUpdate::Tags(message)) => {
                    for health in &message.tags {
                        tag.execute(params![
                            shop,
                            health.tag,
                            message.gateway,
                            health.last_seen.0,
                            health.boot,
                            health.battery_mv,
                            health.dropped,
                            health.fw,
                            health.reset_reason,
                            received_ms
                        ])?;
                        counts.tags += 1;
                    }
                }
                Err(reason) => {
                    tracing::warn!(topic = message.topic, %reason, "fleet message quarantined");
                    quarantine.execute(params![
                        received_ms,
                        message.topic,
                        shop,
                        reason,
                        message.payload
                    ])?;
                    counts.quarantined += 1;
                }
            }
        }
    }
    tx.commit()?;
    Ok(counts)
}

/// A store's gateway as last reported.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayState {
    pub store: String,
    pub gateway: Option<String>,
    /// `online` or `offline`.
    pub state: String,
    /// When HQ first saw the current state.
    pub since_ms: i64,
    /// The time of the latest status.
    pub status_ms: i64,
    /// The latest status document as the gateway sent it.
    pub status: serde_json::Value,
}

/// A tag's latest health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagState {
    pub store: String,
    pub tag: u32,
    pub gateway: Option<String>,
    pub last_seen_ms: i64,
    pub boot: u32,
    pub battery_mv: Option<u16>,
    pub dropped: Option<u32>,
    pub fw: Option<String>,
}

/// Whether the fleet tables exist: a database written before they were
/// added, opened read-only, has none and simply shows no fleet.
fn has_fleet(conn: &Connection) -> Result<bool, DbError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'fleet_tags'",
        [],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

/// Every store's gateway, by store id.
pub fn gateways(store: &EventStore) -> Result<Vec<GatewayState>, StoreError> {
    Ok(match store {
        EventStore::Sqlite(db) => gateways_sqlite(db.connection())?,
        EventStore::ClickHouse(ch) => ch.fleet_gateways()?,
    })
}

fn gateways_sqlite(conn: &Connection) -> Result<Vec<GatewayState>, DbError> {
    if !has_fleet(conn)? {
        return Ok(Vec::new());
    }
    let mut query = conn.prepare(
        "SELECT store, gateway, state, since_ms, status_ms, status FROM fleet_gateways ORDER BY store",
    )?;
    let rows = query.query_map([], |r| {
        let status: String = r.get(5)?;
        Ok(GatewayState {
            store: r.get(0)?,
            gateway: r.get(1)?,
            state: r.get(2)?,
            since_ms: r.get(3)?,
            status_ms: r.get(4)?,
            status: serde_json::from_str(&status).unwrap_or(serde_json::Value::Null),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What makes a tag worth a technician's look.
#[derive(Debug, Clone, Copy)]
pub struct TagAlarms {
    /// Silent: last seen before this time (unix ms).
    pub silent_before_ms: i64,
    /// Low: a battery reading below this.
    pub low_battery_mv: u16,
}

/// How many tags HQ knows, and those that are silent, low on battery or
/// dropping events, by store and tag id.
pub fn tags_needing_attention(
    store: &EventStore,
    alarms: TagAlarms,
) -> Result<(u64, Vec<TagState>), StoreError> {
    Ok(match store {
        EventStore::Sqlite(db) => tags_sqlite(db.connection(), alarms)?,
        EventStore::ClickHouse(ch) => ch.fleet_tags_needing_attention(alarms)?,
    })
}

fn tags_sqlite(conn: &Connection, alarms: TagAlarms) -> Result<(u64, Vec<TagState>), DbError> {
    if !has_fleet(conn)? {
        return Ok((0, Vec::new()));
    }
    let known: i64 = conn.query_row("SELECT COUNT(*) FROM fleet_tags", [], |r| r.get(0))?;
    let mut query = conn.prepare(
        "SELECT store, tag, gateway, last_seen_ms, boot, battery_mv, dropped, fw FROM fleet_tags
         WHERE last_seen_ms < ?1 OR battery_mv < ?2 OR dropped > 0
         ORDER BY store, tag",
    )?;
    let rows = query.query_map(
        params![alarms.silent_before_ms, alarms.low_battery_mv],
        |r| {
            Ok(TagState {
                store: r.get(0)?,
                tag: r.get(1)?,
                gateway: r.get(2)?,
                last_seen_ms: r.get(3)?,
                boot: r.get(4)?,
                battery_mv: r.get(5)?,
                dropped: r.get(6)?,
                fw: r.get(7)?,
            })
        },
    )?;
    Ok((known as u64, rows.collect::<Result<_, _>>()?))
}

#[cfg(test)]
mod tests;
