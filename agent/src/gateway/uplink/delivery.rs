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
//! Like the tag's `Outbox` (`firmware/src/outbox.rs`), it is driven from
//! outside: fed `on_connack`, `on_puback`, `on_error(now)`, asked what to do
//! with `poll_publish(now)` and when to wake with `poll_timeout`. It never
//! reads a clock or touches a socket; [`super::task`] is the shell that does.

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

/// A small deterministic generator for reconnect jitter (SplitMix64): the
/// gateway seeds it randomly, tests with a fixed seed.
#[derive(Debug, Clone)]
pub(super) struct Jitter(u64);

impl Jitter {
    /// The same delays for the same seed.
    pub(super) fn seeded(seed: u64) -> Self {
        Jitter(seed)
    }

    /// A seed different per process, from std's randomly keyed hasher:
    /// randomness enough for spreading retries.
    pub(super) fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        Jitter::seeded(hasher.finish())
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `base` plus up to half of it again: thousands of stores cut off by
    /// one HQ broker outage must not all retry in the same instant when it
    /// comes back.
    pub(super) fn spread(&mut self, base: Duration) -> Duration {
        let per_mille = (self.next() % 1000) as u32;
        base + base * per_mille / 2000
    }
}

/// A batch to read from the spool: events after spool id `after`, at most
/// `max_events` of them whose JSON fits in `max_bytes` (always at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fetch {
    pub after: i64,
    pub max_events: usize,
    pub max_bytes: usize,
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

    /// The broker accepted the connection: resend everything undelivered,
    /// from the oldest.
    pub(super) fn on_connack(&mut self) {
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
        Some(batch)
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
        if !self.is_connected() || self.inflight.batches() >= MAX_INFLIGHT_BATCHES {
            return None;
        }
        if !self
            .trigger
            .ready(self.head - self.cursor, now, self.draining)
        {
            return None;
        }
        Some(Fetch {
            after: self.cursor,
            max_events: self.max_events,
            max_bytes: self.max_bytes,
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
            Link::Up if self.inflight.batches() < MAX_INFLIGHT_BATCHES => self.trigger.deadline(),
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
