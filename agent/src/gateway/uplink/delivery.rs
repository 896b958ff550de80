//! The uplink's delivery promise as a state machine without I/O: every
//! event in the spool reaches the broker, from the oldest, however often the
//! connection drops.
//!
//! After every ConnAck it starts again from the oldest undelivered event (a
//! clean session forgets unacked publishes, so nothing else would resend
//! them); a lost connection is retried with capped, jittered backoff; at
//! shutdown it sends at once whatever waits and reports when nothing is
//! left. A broker that drops the connection every time the same batch goes
//! out (one larger than its maximum packet size) gets smaller batches.
//!
//! A batch the broker refuses is never taken for delivered: batches stay
//! under the Maximum Packet Size its CONNACK announces; one refused as too
//! large is sent again in halves; a single event too large for the broker
//! is moved to the spool's dead-letter table (see docs/gateway.md); one
//! refused for another reason is sent again after a backoff.
//!
//! Like the tag's `Outbox` (`firmware/src/outbox.rs`), it is driven from
//! outside: fed `on_connack`, `on_puback`, `on_error(now)`, asked what to do
//! with `poll_publish(now)` and when to wake with `poll_timeout`. It never
//! reads a clock or touches a socket; [`super::task`] is the shell that does.

use super::jitter::Jitter;
use super::{BatchRef, BatchTrigger, InFlight, Sent, MAX_INFLIGHT_BATCHES};
use std::time::{Duration, Instant};

/// Reconnect backoff: short at first (a broker restart), capped so a long
/// WAN outage costs one attempt every few seconds.
pub(super) const MIN_RECONNECT: Duration = Duration::from_millis(250);
pub(super) const MAX_RECONNECT: Duration = Duration::from_secs(5);

/// Connections lost in a row while the same batch was the oldest one
/// written and unacknowledged before batches shrink. One loss is any
/// network's bad luck; the broker closing on the same batch twice is a
/// batch it will not take.
const LOSSES_BEFORE_SHRINK: u32 = 2;

/// Each shrink divides the batch byte budget by this: from the default
/// 256 KiB a 1 KiB broker limit is reached in four shrinks, so a few
/// seconds of reconnects.
const SHRINK_FACTOR: usize = 4;

/// A batch to read from the spool: events after spool id `after`, at most
/// `max_events` of them whose JSON fits in `max_bytes` (always at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fetch {
    pub after: i64,
    pub max_events: usize,
    pub max_bytes: usize,
}

/// Why the broker did not take a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Larger than the broker accepts (reason code 0x95).
    TooLarge,
    /// Any other failure reason (not authorised, quota exceeded…).
    Other,
}

/// What becomes of a batch the broker refused or could not take; in every
/// case its events stay in the spool until one of these resolves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Sent again in smaller batches of at most `max_bytes` of events.
    Split { batch: BatchRef, max_bytes: usize },
    /// One event the broker will never take: move it to the dead-letter
    /// table, where an operator can see it.
    Quarantine(BatchRef),
    /// Sent again, from its first event, no sooner than `retry_at`.
    Retry { batch: BatchRef, retry_at: Instant },
}

/// What a failed or lost connection means, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outage {
    /// A working connection was lost (rather than an attempt failing).
    pub was_connected: bool,
    /// The first failure since the last ConnAck: worth a log line.
    pub first: bool,
    /// When the next connection attempt may start.
    pub retry_at: Instant,
    /// The batch byte budget was cut to this many bytes.
    pub shrunk_to: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Connecting; no attempt may start before `retry_at`.
    Down {
        retry_at: Option<Instant>,
        reported: bool,
    },
    Up,
}

/// The connection and delivery state of the uplink.
#[derive(Debug)]
pub(super) struct Delivery {
    link: Link,
    inflight: InFlight,
    trigger: BatchTrigger,
    max_events: usize,
    max_bytes: usize,
    /// Highest spool id handed to a publish on this connection.
    cursor: i64,
    /// Highest committed spool id.
    head: i64,
    backoff: Duration,
    jitter: Jitter,
    draining: bool,
    ingest_done: bool,
    /// The oldest written, unacked batch when connections were lost, and
    /// how many losses in a row found it so.
    suspect: Option<(i64, u32)>,
    /// Bytes a batch's packet adds to its events' JSON (MQTT header, topic,
    /// batch envelope), to fit batches under the broker's limit.
    packet_overhead: usize,
    /// The Maximum Packet Size of the broker's last CONNACK, if it set one.
    broker_max_packet: Option<usize>,
    /// No batch goes before this, after a refusal for a reason other than
    /// size; and the backoff the next such refusal waits.
    hold_until: Option<Instant>,
    refusal_backoff: Duration,
}

impl Delivery {
    /// A disconnected uplink whose batches hold at most `max_events` events
    /// and `max_bytes` of event JSON, waiting at most `linger` to fill.
    pub(super) fn new(
        max_events: usize,
        max_bytes: usize,
        linger: Duration,
        jitter: Jitter,
    ) -> Self {
        Delivery {
            link: Link::Down {
                retry_at: None,
                reported: false,
            },
            inflight: InFlight::default(),
            trigger: BatchTrigger::new(max_events, linger),
            max_events,
            max_bytes: max_bytes.max(1),
            cursor: 0,
            head: 0,
            backoff: MIN_RECONNECT,
            jitter,
            draining: false,
            ingest_done: false,
            suspect: None,
            packet_overhead: 0,
            broker_max_packet: None,
            hold_until: None,
            refusal_backoff: MIN_RECONNECT,
        }
    }

    /// Counts `bytes` per batch packet on top of its events' JSON.
    pub(super) fn with_packet_overhead(mut self, bytes: usize) -> Self {
        self.packet_overhead = bytes;
        self
    }

    /// The bytes of event JSON a batch may carry now: the configured budget
    /// (or what refusals cut it to), below the broker's packet limit.
    fn budget(&self) -> usize {
        match self.broker_max_packet {
            Some(max) => self
                .max_bytes
                .min(max.saturating_sub(self.packet_overhead))
                .max(1),
            None => self.max_bytes,
        }
    }

    /// A ConnAck came and no error since.
    pub(super) fn is_connected(&self) -> bool {
        self.link == Link::Up
    }

    /// Whether the network may be polled at `now`: not while waiting out a
    /// reconnect backoff.
    pub(super) fn may_connect(&self, now: Instant) -> bool {
        match self.link {
            Link::Down {
                retry_at: Some(t), ..
            } => now >= t,
            _ => true,
        }
    }

    /// The broker accepted the connection, announcing `max_packet` (its
    /// Maximum Packet Size) or no limit: resend everything undelivered,
    /// from the oldest, in batches that fit.
    pub(super) fn on_connack(&mut self, max_packet: Option<u32>) {
        self.broker_max_packet = max_packet.map(|m| m as usize);
        self.link = Link::Up;
        self.backoff = MIN_RECONNECT;
        self.inflight.reset();
        self.cursor = 0;
        self.trigger.caught_up();
    }

    /// The connection failed or could not be made at `now`.
    pub(super) fn on_error(&mut self, now: Instant) -> Outage {
        let (was_connected, first) = match self.link {
            Link::Up => (true, true),
            Link::Down { reported, .. } => (false, !reported),
        };
        let shrunk_to = if was_connected {
            self.note_loss()
        } else {
            None
        };
        self.inflight.reset();
        let retry_at = now + self.jitter.spread(self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_RECONNECT);
        self.link = Link::Down {
            retry_at: Some(retry_at),
            reported: true,
        };
        Outage {
            was_connected,
            first,
            retry_at,
            shrunk_to,
        }
    }

    /// Counts a lost connection against the oldest batch on the wire and
    /// shrinks batches once the same one was on the wire too often.
    fn note_loss(&mut self) -> Option<usize> {
        let Some(oldest) = self.inflight.oldest_written() else {
            self.suspect = None;
            return None;
        };
        let losses = match self.suspect {
            Some((first, n)) if first == oldest.first => n + 1,
            _ => 1,
        };
        if losses < LOSSES_BEFORE_SHRINK || oldest.count <= 1 {
            self.suspect = Some((oldest.first, losses));
            return None;
        }
        self.suspect = None;
        self.max_bytes = (self.max_bytes / SHRINK_FACTOR).max(1);
        Some(self.max_bytes)
    }

    /// rumqttc wrote the oldest requested publish with packet id `pkid`.
    pub(super) fn on_outgoing(&mut self, pkid: u16) {
        self.inflight.outgoing(pkid);
    }

    /// The broker acknowledged `pkid`: the batch now safe to delete, if it
    /// carried one.
    pub(super) fn on_puback(&mut self, pkid: u16) -> Option<BatchRef> {
        let batch = self.inflight.acked(pkid)?;
        if self.suspect.is_some_and(|(first, _)| first == batch.first) {
            self.suspect = None;
        }
        self.refusal_backoff = MIN_RECONNECT;
        Some(batch)
    }

    /// The broker refused `pkid` at `now`: what becomes of the batch it
    /// carried (`None` for a status or tag health publish). The batch is
    /// not delivered: its events stay in the spool.
    pub(super) fn on_refused(&mut self, pkid: u16, why: Refusal, now: Instant) -> Option<Verdict> {
        let batch = self.inflight.acked(pkid)?;
        if self.suspect.is_some_and(|(first, _)| first == batch.first) {
            self.suspect = None;
        }
        Some(self.refused(batch, why, now))
    }

    /// The broker refused a publish as too large without saying which (it
    /// closed the connection, or sent a reason the client could not read):
    /// brokers answer in order, so it is the oldest one not yet answered.
    /// Call before [`Delivery::on_error`] for the lost connection.
    pub(super) fn on_oldest_refused(&mut self, now: Instant) -> Option<Verdict> {
        let pkid = self.inflight.first_unanswered()?;
        self.on_refused(pkid, Refusal::TooLarge, now)
    }

    fn refused(&mut self, batch: BatchRef, why: Refusal, now: Instant) -> Verdict {
        if why == Refusal::TooLarge && batch.count <= 1 {
            return Verdict::Quarantine(batch);
        }
        // From its first event again; events of later batches on the wire
        // may go twice (HQ ignores repeats).
        self.cursor = self.cursor.min(batch.first - 1);
        match why {
            Refusal::TooLarge => {
                self.max_bytes = self.max_bytes.min(batch.bytes / 2).max(1);
                Verdict::Split {
                    batch,
                    max_bytes: self.budget(),
                }
            }
            Refusal::Other => {
                let retry_at = now + self.jitter.spread(self.refusal_backoff);
                self.refusal_backoff = (self.refusal_backoff * 2).min(MAX_RECONNECT);
                self.hold_until = Some(retry_at);
                Verdict::Retry { batch, retry_at }
            }
        }
    }

    /// Whether `batch`, fetched for [`Delivery::poll_publish`], fits the
    /// broker's packet limit as the `packet_bytes` it came to. If not, it
    /// is not sent: `Split` (fetch again, smaller) or, for one event,
    /// `Quarantine`, and the batch is passed over.
    pub(super) fn check_fit(
        &mut self,
        batch: BatchRef,
        packet_bytes: usize,
    ) -> Result<BatchRef, Verdict> {
        let Some(max) = self.broker_max_packet.filter(|max| packet_bytes > *max) else {
            return Ok(batch);
        };
        if batch.count <= 1 {
            self.cursor = self.cursor.max(batch.last);
            if self.cursor >= self.head {
                self.trigger.caught_up();
            }
            return Err(Verdict::Quarantine(batch));
        }
        // The envelope took more than estimated: cut the budget by the excess.
        self.max_bytes = self
            .budget()
            .saturating_sub(packet_bytes - max)
            .min(batch.bytes.saturating_sub(1))
            .max(1);
        Err(Verdict::Split {
            batch,
            max_bytes: self.budget(),
        })
    }

    /// The spool committed up to spool id `head`.
    pub(super) fn on_head(&mut self, head: i64) {
        self.head = head;
    }

    /// Shutdown: send whatever waits at once.
    pub(super) fn on_shutdown(&mut self) {
        self.draining = true;
    }

    /// Shutdown was requested: batches go without lingering.
    pub(super) fn is_draining(&self) -> bool {
        self.draining
    }

    /// Every receiver has flushed: no more events will come.
    pub(super) fn on_ingest_done(&mut self) {
        self.ingest_done = true;
    }

    /// A publish that carries no batch (status, tag health) was requested.
    pub(super) fn on_other_requested(&mut self) {
        self.inflight.requested(Sent::Other);
    }

    /// What to read from the spool for the next batch, if one should go at
    /// `now`. Answer with [`Delivery::on_batch_requested`] once it is handed
    /// to the client, or [`Delivery::on_nothing_fetched`]; if the client
    /// refuses it, stop asking until the next wake-up.
    pub(super) fn poll_publish(&mut self, now: Instant) -> Option<Fetch> {
        if !self.is_connected()
            || self.inflight.batches() >= MAX_INFLIGHT_BATCHES
            || self.hold_until.is_some_and(|t| now < t)
        {
            return None;
        }
        self.hold_until = None;
        if !self
            .trigger
            .ready(self.head - self.cursor, now, self.draining)
        {
            return None;
        }
        Some(Fetch {
            after: self.cursor,
            max_events: self.max_events,
            max_bytes: self.budget(),
        })
    }

    /// The fetch found nothing: every event up to head was dropped at the
    /// spool's cap.
    pub(super) fn on_nothing_fetched(&mut self) {
        self.cursor = self.cursor.max(self.head);
        self.trigger.caught_up();
    }

    /// `batch` was handed to the client.
    pub(super) fn on_batch_requested(&mut self, batch: BatchRef) {
        self.cursor = batch.last;
        self.inflight.requested(Sent::Batch(batch));
        if self.cursor >= self.head {
            self.trigger.caught_up();
        }
    }

    /// The next instant something is due: the end of a reconnect backoff,
    /// or the end of a waiting event's linger while a batch may go.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match self.link {
            Link::Down { retry_at, .. } => retry_at,
            Link::Up if self.inflight.batches() < MAX_INFLIGHT_BATCHES => {
                match (self.trigger.deadline(), self.hold_until) {
                    (Some(linger), Some(hold)) => Some(linger.max(hold)),
                    (linger, None) => linger,
                    (None, hold) => hold,
                }
            }
            Link::Up => None,
        }
    }

    /// Shutdown is complete: draining, no receiver will send more, nothing
    /// awaits a PUBACK and the spool (`spool_depth` events) is empty.
    pub(super) fn is_drained(&self, spool_depth: u64) -> bool {
        self.draining && self.ingest_done && self.inflight.is_empty() && spool_depth == 0
    }
}

#[cfg(test)]
mod tests;
