//! What the gateway tells HQ and store IT about itself: counters shared by
//! every stage, the retained status document on `…/status`, and tag health
//! on `…/tags`.
//!
//! Stages bump lock-free counters; the uplink snapshots them into JSON.

pub(crate) use protocol::fleet::EntriesPeriod;
use protocol::time::UnixMillis;
use protocol::DecodeError;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use tokio::sync::watch;

/// Unknown tag ids listed by id in the status (the count goes on beyond).
const UNKNOWN_IDS_LISTED: usize = 32;

/// Tags whose health is remembered; a store has a few thousand tags, this
/// bounds memory if a neighbour's tags are heard too.
const MAX_TAGS_TRACKED: usize = 65_536;

/// Counters and gauges of one gateway run.
#[derive(Default)]
pub(crate) struct Stats {
    /// Uplink frames decoded (duplicates included).
    pub(crate) received: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    /// Funnel events committed to the spool.
    pub(crate) spooled: AtomicU64,
    /// Funnel events whose batch the broker acknowledged.
    pub(crate) delivered: AtomicU64,
    pub(crate) dropped_at_cap: AtomicU64,
    /// Events from tag ids the config does not know.
    pub(crate) unknown_tag_events: AtomicU64,
    /// Garment reads by a tag that is not a configured reader: no stage.
    pub(crate) unrouted_reads: AtomicU64,
    pub(crate) acks_sent: AtomicU64,
    /// Acks not written because the port was gone or not draining.
    pub(crate) acks_dropped: AtomicU64,
    /// Unreadable spool files moved aside at start-up.
    pub(crate) spool_resets: AtomicU64,
    /// Failed spool commits (e.g. disk full); those events were not acked.
    pub(crate) spool_errors: AtomicU64,
    pub(crate) batches_delivered: AtomicU64,
    /// Batches the broker refused (a failure reason code, or too large for
    /// its packet limit); their events stayed in the spool.
    pub(crate) batches_refused: AtomicU64,
    /// Events in the spool's dead-letter table: single events the broker
    /// will never take, moved aside, not delivered.
    pub(crate) dead_letters: AtomicU64,
    pub(crate) spool_depth: AtomicU64,
    pub(crate) spool_bytes: AtomicU64,
    /// Spool time (unix ms) of the oldest undelivered event; 0 when empty.
    pub(crate) oldest_undelivered_ms: AtomicI64,
    /// Commands to tags by outcome: queued, confirmed, expired, refused
    /// (by the gateway or the tag, or applied but not persisted).
    commands: [AtomicU64; 4],
    broker_connected: AtomicBool,
    /// The broker answered this connection's subscription to HQ's commands.
    commands_subscribed: AtomicBool,
    /// Signalled whenever readiness may have changed.
    changes: Changes,
    bad_frames: [AtomicU64; DecodeError::ALL.len()],
    unknown: Mutex<UnknownTags>,
    receivers: Mutex<Vec<ReceiverStatus>>,
}

/// Wakes whoever waits for the gateway to be ready when a receiver's state
/// or the broker connection changes.
struct Changes(watch::Sender<()>);

impl Default for Changes {
    fn default() -> Self {
        Changes(watch::Sender::new(()))
    }
}

#[derive(Default)]
struct UnknownTags {
    /// Every distinct unknown id heard, up to [`MAX_TAGS_TRACKED`]: a tag is
    /// counted once however often it is heard, listed or not. Past the bound
    /// the count stays at it, which store IT reads as "a whole neighbourhood".
    heard: HashSet<u32>,
    /// The first [`UNKNOWN_IDS_LISTED`] of them, shown by id.
    listed: BTreeSet<u32>,
}

/// State of one receiver as shown in the status.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReceiverStatus {
    pub(crate) path: String,
    /// `open`, `gone` (waiting to reopen) or `closed` (shut down).
    pub(crate) state: &'static str,
    pub(crate) opens: u64,
    pub(crate) frames: u64,
}

impl Stats {
    pub(crate) fn new(receiver_paths: &[String]) -> Self {
        let stats = Stats::default();
        *stats.receivers.lock().unwrap_or_else(|p| p.into_inner()) = receiver_paths
            .iter()
            .map(|p| ReceiverStatus {
                path: p.clone(),
                state: "gone",
                opens: 0,
                frames: 0,
            })
            .collect();
        stats
    }

    /// Counts a command's state change.
    pub(crate) fn command_update(&self, u: &super::commands::CommandUpdate) {
        use super::commands::CommandState as S;
        let i = match u.state {
            S::Queued => 0,
            S::Confirmed => 1,
            S::Expired => 2,
            S::Refused | S::RejectedByTag | S::NotPersisted => 3,
            S::Delivered => return,
        };
        self.commands[i].fetch_add(1, Relaxed);
    }

    pub(crate) fn bad_frame(&self, e: &DecodeError) {
        self.bad_frames[e.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn bad_frames_total(&self) -> u64 {
        self.bad_frames.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Records an event from a tag the config does not know.
    pub(crate) fn unknown_tag(&self, tag: u32) {
        self.unknown_tag_events.fetch_add(1, Relaxed);
        let mut u = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        if u.heard.len() >= MAX_TAGS_TRACKED || !u.heard.insert(tag) {
            return;
        }
        if u.listed.len() < UNKNOWN_IDS_LISTED {
            u.listed.insert(tag);
        }
    }

    pub(crate) fn receiver(&self, index: usize, update: impl FnOnce(&mut ReceiverStatus)) {
        if let Some(r) = self
            .receivers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(index)
        {
            update(r);
        }
        self.changes.0.send_replace(());
    }

    /// Records whether the uplink holds a broker connection.
    pub(crate) fn set_broker_connected(&self, connected: bool) {
        self.broker_connected.store(connected, Relaxed);
        if !connected {
            self.commands_subscribed.store(false, Relaxed);
        }
        self.changes.0.send_replace(());
    }

    /// Records that the broker answered the subscription to HQ's commands.
    pub(crate) fn set_commands_subscribed(&self) {
        self.commands_subscribed.store(true, Relaxed);
        self.changes.0.send_replace(());
    }

    /// Whether the uplink is connected to the broker now.
    pub(crate) fn broker_connected(&self) -> bool {
        self.broker_connected.load(Relaxed)
    }

    /// Ready: connected to the broker, its answer to the commands
    /// subscription in, and every receiver open.
    pub(crate) fn is_ready(&self) -> bool {
        self.broker_connected.load(Relaxed)
            && self.commands_subscribed.load(Relaxed)
            && self
                .receivers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .all(|r| r.state == "open")
    }

    /// Resolves once [`Stats::is_ready`] holds (at once if it already does).
    pub(crate) async fn ready(&self) {
        let mut changes = self.changes.0.subscribe();
        // The sender lives in `self`, so this only ends when ready.
        let _ = changes.wait_for(|()| self.is_ready()).await;
    }

    /// The status document; `state` is `online` or `offline`.
    pub(crate) fn snapshot(
        &self,
        state: &str,
        store: &str,
        gateway: &str,
        started: UnixMillis,
        spool_max: u64,
        now: UnixMillis,
    ) -> StatusDoc {
        let unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = self.oldest_undelivered_ms.load(Relaxed);
        StatusDoc {
            state: state.to_owned(),
            store: store.to_owned(),
            gateway: gateway.to_owned(),
            version: env!("CARGO_PKG_VERSION"),
            at: now,
            uptime_s: (now.0 - started.0).max(0) as u64 / 1000,
            received: self.received.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            spooled: self.spooled.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            batches_delivered: self.batches_delivered.load(Relaxed),
            batches_refused: self.batches_refused.load(Relaxed),
            dead_letters: self.dead_letters.load(Relaxed),
            dropped_at_cap: self.dropped_at_cap.load(Relaxed),
            spool_depth: self.spool_depth.load(Relaxed),
            spool_bytes: self.spool_bytes.load(Relaxed),
            spool_max_bytes: spool_max,
            oldest_undelivered_age_s: if oldest == 0 {
                0
            } else {
                (now.0 - oldest).max(0) as u64 / 1000
            },
            bad_frames: DecodeError::ALL
                .iter()
                .map(|k| (k.kind(), self.bad_frames[k.index()].load(Relaxed)))
                .collect(),
            unknown_tags: unknown.heard.len() as u64,
            unknown_tag_ids: unknown.listed.iter().copied().collect(),
            unknown_tag_events: self.unknown_tag_events.load(Relaxed),
            unrouted_reads: self.unrouted_reads.load(Relaxed),
            acks_sent: self.acks_sent.load(Relaxed),
            acks_dropped: self.acks_dropped.load(Relaxed),
            spool_resets: self.spool_resets.load(Relaxed),
            spool_errors: self.spool_errors.load(Relaxed),
            commands: ["queued", "confirmed", "expired", "refused"]
                .into_iter()
                .zip(&self.commands)
                .map(|(k, n)| (k, n.load(Relaxed)))
                .collect(),
            receivers: self
                .receivers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Counters whose change is worth an immediate status publication:
    /// anything store IT must act on.
    pub(crate) fn alarm_fingerprint(&self) -> (u64, u64, u64, u64, u64, u64, Vec<&'static str>) {
        let receivers = self
            .receivers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|r| r.state)
            .collect();
        (
            self.dropped_at_cap.load(Relaxed),
            self.bad_frames_total(),
            self.unknown
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .heard
                .len() as u64,
            self.spool_resets.load(Relaxed),
            self.spool_errors.load(Relaxed),
            self.dead_letters.load(Relaxed),
            receivers,
        )
    }
}

/// The retained status document on `aisle/v1/stores/{store}/status`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StatusDoc {
    pub(crate) state: String,
    pub(crate) store: String,
    pub(crate) gateway: String,
    pub(crate) version: &'static str,
    pub(crate) at: UnixMillis,
    pub(crate) uptime_s: u64,
    pub(crate) received: u64,
    pub(crate) duplicates: u64,
    pub(crate) spooled: u64,
    pub(crate) delivered: u64,
    pub(crate) batches_delivered: u64,
    pub(crate) batches_refused: u64,
    pub(crate) dead_letters: u64,
    pub(crate) dropped_at_cap: u64,
    pub(crate) spool_depth: u64,
    pub(crate) spool_bytes: u64,
    pub(crate) spool_max_bytes: u64,
    pub(crate) oldest_undelivered_age_s: u64,
    pub(crate) bad_frames: BTreeMap<&'static str, u64>,
    pub(crate) unknown_tags: u64,
    pub(crate) unknown_tag_ids: Vec<u32>,
    pub(crate) unknown_tag_events: u64,
    pub(crate) unrouted_reads: u64,
    pub(crate) acks_sent: u64,
    pub(crate) acks_dropped: u64,
    pub(crate) spool_resets: u64,
    pub(crate) spool_errors: u64,
    /// Commands to tags, by outcome.
    pub(crate) commands: BTreeMap<&'static str, u64>,
    pub(crate) receivers: Vec<ReceiverStatus>,
}

/// The MQTT last will: what HQ sees when the gateway vanishes.
pub(crate) fn last_will(store: &str, gateway: &str) -> String {
    serde_json::json!({ "state": "offline", "store": store, "gateway": gateway, "reason": "connection lost" }).to_string()
}

mod tag_health;
pub(crate) use tag_health::TagHealthBook;

#[cfg(test)]
mod tests;
