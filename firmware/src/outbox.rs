//! The tag's outbox: every event stays here, retransmitted with backoff, until
//! the gateway acks it (the gateway acks only once the event is durably
//! spooled, so an acked event is safe).
//!
//! Capacity is fixed; when a new event arrives at a full outbox the oldest is
//! dropped and counted. The count travels in every heartbeat, so a loss is
//! never silent. Like quinn-proto's `Connection`, the outbox is driven from
//! outside: `push` events, `poll_transmit` what to send, sleep until
//! `poll_timeout`, feed `on_ack`.

use crate::pickup::saturate_u32;
use protocol::{TagEvent, Uplink};

/// Wait after the first send before the first retransmission. A gateway
/// answers in tens of milliseconds; two seconds covers a busy channel
/// without wasting the radio budget on events that were received.
pub const FIRST_RETRY_MS: u64 = 2_000;

/// Backoff cap: during a long gateway outage an event costs one transmission
/// a minute or so, and is delivered within a minute of the gateway's return.
pub const MAX_RETRY_MS: u64 = 64_000;

#[derive(Debug, Clone)]
struct Pending {
    seq: u16,
    event: TagEvent,
    happened_at: u64,
    next_send: u64,
    attempts: u8,
}

/// Events awaiting the gateway's ack, at most `N` of them.
#[derive(Debug, Clone)]
pub struct Outbox<const N: usize> {
    tag: u32,
    boot: u32,
    next_seq: u16,
    dropped: u32,
    pending: heapless::Vec<Pending, N>,
}

impl<const N: usize> Outbox<N> {
    /// An empty outbox for `tag` in boot `boot`; sequence numbers start at 0.
    pub fn new(tag: u32, boot: u32) -> Self {
        Outbox {
            tag,
            boot,
            next_seq: 0,
            dropped: 0,
            pending: heapless::Vec::new(),
        }
    }

    /// Queues an event that happened at `now_ms` for immediate sending and
    /// returns its sequence number. A full outbox drops its oldest event.
    pub fn push(&mut self, now_ms: u64, event: TagEvent) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        if N == 0 {
            self.dropped = self.dropped.saturating_add(1);
            return seq;
        }
        if self.pending.is_full() {
            self.pending.remove(0);
            self.dropped = self.dropped.saturating_add(1);
        }
        // Cannot fail: there is room now.
        let _ = self.pending.push(Pending {
            seq,
            event,
            happened_at: now_ms,
            next_send: now_ms,
            attempts: 0,
        });
        seq
    }

    /// The next uplink to send at `now_ms`, oldest due event first, with its
    /// age as of now. Call until it returns `None`.
    pub fn poll_transmit(&mut self, now_ms: u64) -> Option<Uplink> {
        let tag = self.tag;
        let entry = self.pending.iter_mut().find(|p| p.next_send <= now_ms)?;
        entry.attempts = entry.attempts.saturating_add(1);
        entry.next_send = now_ms + retry_delay(tag, entry.seq, entry.attempts);
        Some(Uplink {
            tag,
            boot: self.boot,
            seq: entry.seq,
            age_ms: saturate_u32(now_ms.saturating_sub(entry.happened_at)),
            event: entry.event.clone(),
        })
    }

    /// When the next (re)transmission is due; `None` when nothing is pending.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.pending.iter().map(|p| p.next_send).min()
    }

    /// The gateway has stored `(boot, seq)`. Acks for other boots, unknown or
    /// already-acked sequence numbers are ignored. Returns whether an event
    /// was released.
    pub fn on_ack(&mut self, boot: u32, seq: u16) -> bool {
        if boot != self.boot {
            return false;
        }
        match self.pending.iter().position(|p| p.seq == seq) {
            Some(index) => {
                self.pending.remove(index);
                true
            }
            None => false,
        }
    }

    /// Events pushed out of a full outbox before they were acked, this boot.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Events awaiting an ack.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// True when the next push will drop the oldest event.
    pub fn is_full(&self) -> bool {
        self.pending.len() == N
    }

    pub fn tag(&self) -> u32 {
        self.tag
    }

    pub fn boot(&self) -> u32 {
        self.boot
    }
}

/// Exponential backoff with up to 25 % jitter. The jitter is a hash of the
/// tag, event and attempt rather than a random number: no RNG is needed, runs
/// are reproducible, and tags that lost the same gateway outage still spread
/// their retransmissions instead of colliding in lockstep.
fn retry_delay(tag: u32, seq: u16, attempts: u8) -> u64 {
    let doublings = u32::from(attempts.saturating_sub(1)).min(8);
    let base = (FIRST_RETRY_MS << doublings).min(MAX_RETRY_MS);
    let mut h = tag ^ (u32::from(seq) << 8) ^ u32::from(attempts);
    // A 32-bit integer finaliser (from MurmurHash3): cheap and well mixed.
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    base + u64::from(h) % (base / 4 + 1)
}

#[cfg(test)]
mod tests;
