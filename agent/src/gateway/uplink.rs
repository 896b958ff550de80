//! Uplink: batches from the spool to HQ over MQTT at QoS 1.
//!
//! The spool is the source of truth. A batch is deleted from it only on the
//! PUBACK of the publish that carried it, and after every ConnAck the uplink
//! starts again from the oldest undelivered event: rumqttc forgets unacked
//! publishes on a clean-session reconnect, so nothing else would resend them.
//! Batches are bounded by count, bytes and linger time; at most
//! [`MAX_INFLIGHT_BATCHES`] await their PUBACK at once.
//!
//! `delivery` holds that promise as a state machine without I/O, built
//! from the pure parts here ([`InFlight`], [`BatchTrigger`],
//! [`batch_payload`]); `task` is the shell that drives it, and `commands`
//! takes HQ's commands and publishes every command's updates on the same
//! connection.

mod commands;
mod delivery;
mod jitter;
mod refusal;
mod task;

pub(crate) use task::{run, Uplink};

use protocol::batch::SCHEMA_V1;
use protocol::time::UnixMillis;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Batches awaiting their PUBACK at once: enough to keep a long WAN link
/// busy, few enough that a reconnect resends little.
pub(crate) const MAX_INFLIGHT_BATCHES: usize = 8;

/// A batch on its way: the spool ids it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchRef {
    pub first: i64,
    pub last: i64,
    pub count: usize,
    /// Bytes of its events' JSON, for halving a batch the broker refused.
    pub bytes: usize,
    pub id: String,
}

/// What a publish request carried, in the order requests were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    Batch(BatchRef),
    /// Status or tag health: nothing to delete on its PUBACK.
    Other,
}

/// Maps rumqttc packet ids back to batches. rumqttc assigns the packet id
/// when it takes a request off its queue and reports it as
/// `Outgoing::Publish(pkid)`, in request order; so requests are queued here
/// and matched to packet ids as those events arrive. Written publishes are
/// kept in the order they went out, so the oldest unacknowledged one is
/// known when a broker refuses a packet without naming it.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    requested: VecDeque<Sent>,
    written: VecDeque<(u16, Sent)>,
}

impl InFlight {
    /// A publish was handed to the client.
    pub(crate) fn requested(&mut self, sent: Sent) {
        self.requested.push_back(sent);
    }

    /// The client wrote the oldest requested publish with packet id `pkid`.
    pub(crate) fn outgoing(&mut self, pkid: u16) {
        if let Some(sent) = self.requested.pop_front() {
            self.written.push_back((pkid, sent));
        }
    }

    /// The broker answered `pkid` (acknowledged or refused it): the batch
    /// it carried, if any.
    pub(crate) fn acked(&mut self, pkid: u16) -> Option<BatchRef> {
        let at = self.written.iter().position(|(p, _)| *p == pkid)?;
        match self.written.remove(at) {
            Some((_, Sent::Batch(b))) => Some(b),
            _ => None,
        }
    }

    /// The packet id of the oldest publish written and not yet answered.
    pub(crate) fn first_unanswered(&self) -> Option<u16> {
        self.written.front().map(|(pkid, _)| *pkid)
    }

    /// The oldest batch written to the connection and not yet acknowledged.
    pub(crate) fn oldest_written(&self) -> Option<&BatchRef> {
        self.written
            .iter()
            .filter_map(|(_, s)| match s {
                Sent::Batch(b) => Some(b),
                Sent::Other => None,
            })
            .min_by_key(|b| b.first)
    }

    /// Batches requested or written but not yet acknowledged.
    pub(crate) fn batches(&self) -> usize {
        self.requested
            .iter()
            .chain(self.written.iter().map(|(_, s)| s))
            .filter(|s| matches!(s, Sent::Batch(_)))
            .count()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.requested.is_empty() && self.written.is_empty()
    }

    /// A new connection: nothing of the old one will be acknowledged.
    pub(crate) fn reset(&mut self) {
        self.requested.clear();
        self.written.clear();
    }
}

/// Decides when the waiting events make a batch: when a full batch is
/// waiting, when the oldest waiting event has lingered long enough, or at
/// once while draining for shutdown.
#[derive(Debug)]
pub(crate) struct BatchTrigger {
    max_events: usize,
    linger: Duration,
    waiting_since: Option<Instant>,
}

impl BatchTrigger {
    pub(crate) fn new(max_events: usize, linger: Duration) -> Self {
        BatchTrigger {
            max_events,
            linger,
            waiting_since: None,
        }
    }

    /// `unsent` events are waiting at `now`; should a batch go now?
    pub(crate) fn ready(&mut self, unsent: i64, now: Instant, draining: bool) -> bool {
        if unsent <= 0 {
            self.waiting_since = None;
            return false;
        }
        let since = *self.waiting_since.get_or_insert(now);
        draining || unsent as usize >= self.max_events || now >= since + self.linger
    }

    /// Everything waiting was sent.
    pub(crate) fn caught_up(&mut self) {
        self.waiting_since = None;
    }

    /// When the oldest waiting event's linger ends, if any is waiting.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.waiting_since.map(|t| t + self.linger)
    }
}

/// Bytes of a batch besides its events, for sizing fetches.
pub(crate) fn envelope_overhead(store: &str, gateway: &str) -> usize {
    160 + 2 * (store.len() + gateway.len())
}

/// The batch JSON (schema `aisle.batch.v1`) around already-serialised
/// events, so events are serialised once, when spooled.
pub(crate) fn batch_payload(
    store: &str,
    gateway: &str,
    batch_id: &str,
    created_at: UnixMillis,
    events_json: &str,
) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    format!(
        "{{\"schema\":\"{SCHEMA_V1}\",\"store\":{},\"gateway\":{},\"batch_id\":{},\"created_at\":\"{created_at}\",\"events\":[{events_json}]}}",
        quote(store),
        quote(gateway),
        quote(batch_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::batch::{Batch, BatchEvent};
    use protocol::StoreEventKind;

    fn batch(first: i64) -> Sent {
        Sent::Batch(BatchRef {
            first,
            last: first + 9,
            count: 10,
            bytes: 1_000,
            id: format!("b{first}"),
        })
    }

    /// A batch, a status and a batch, written as packets 7, 8 and 9.
    fn batch_status_batch_written() -> InFlight {
        let mut f = InFlight::default();
        f.requested(batch(1));
        f.requested(Sent::Other);
        f.requested(batch(11));
        f.outgoing(7);
        f.outgoing(8);
        f.outgoing(9);
        f
    }

    #[test]
    fn packet_ids_map_to_batches_in_request_order_skipping_other_publishes() {
        let mut f = batch_status_batch_written();
        assert_eq!(f.batches(), 2);
        assert_eq!(f.acked(8), None, "status publish carries no batch");
        assert_eq!(f.acked(9).map(|b| b.first), Some(11));
        assert_eq!(f.acked(7).map(|b| b.first), Some(1));
        assert!(f.is_empty());
    }

    #[test]
    fn the_first_unanswered_publish_is_the_oldest_written_of_any_kind() {
        let mut f = batch_status_batch_written();
        assert_eq!(f.first_unanswered(), Some(7));
        f.acked(7);
        assert_eq!(f.first_unanswered(), Some(8), "a status publish counts");
        f.acked(8);
        assert_eq!(f.first_unanswered(), Some(9));
        assert_eq!(f.oldest_written().map(|b| b.first), Some(11));
    }

    #[test]
    fn reconnect_forgets_unacked_batches_so_they_are_fetched_again() {
        let mut f = InFlight::default();
        f.requested(batch(1));
        f.outgoing(1);
        f.reset();
        assert_eq!(f.acked(1), None);
        assert_eq!(f.batches(), 0);
    }

    #[test]
    fn trigger_fires_on_full_batch_linger_or_drain() {
        let t0 = Instant::now();
        let linger = Duration::from_millis(200);
        let mut t = BatchTrigger::new(500, linger);
        assert!(!t.ready(0, t0, false));
        assert!(!t.ready(10, t0, false));
        assert_eq!(t.deadline(), Some(t0 + linger));
        assert!(!t.ready(10, t0 + Duration::from_millis(199), false));
        assert!(t.ready(10, t0 + linger, false));
        t.caught_up();
        assert!(
            t.ready(500, t0 + linger, false),
            "a full batch goes at once"
        );
        let mut t = BatchTrigger::new(500, linger);
        assert!(t.ready(1, t0, true), "draining sends at once");
    }

    #[test]
    fn payload_is_a_valid_v1_batch() {
        let ev = BatchEvent {
            epc: Some("30".into()),
            ..BatchEvent::new(
                "S\"1-1".into(),
                UnixMillis(1_795_168_798_120),
                StoreEventKind::ItemPickup,
                3,
            )
        };
        let body = serde_json::to_string(&ev).unwrap();
        let json = batch_payload(
            "S\"1",
            "gw",
            "gw-1-1",
            UnixMillis(5),
            &format!("{body},{body}"),
        );
        let parsed: Batch = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.schema, SCHEMA_V1);
        assert_eq!(parsed.store, "S\"1");
        assert_eq!(parsed.created_at, UnixMillis(5));
        assert_eq!(parsed.events, vec![ev.clone(), ev]);
    }
}
