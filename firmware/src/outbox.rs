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
    /// Fixed slots rather than a list: an ack frees a slot in place, with
    /// no shifting or swapping (which on a Cortex-M0+ pulls in `memmove`,
    /// 1.3 KiB of library code).
    slots: [Option<Pending>; N],
}

impl<const N: usize> Outbox<N> {
    /// An empty outbox for `tag` in boot `boot`; sequence numbers start at 0.
    pub fn new(tag: u32, boot: u32) -> Self {
        Outbox {
            tag,
            boot,
            next_seq: 0,
            dropped: 0,
            slots: [const { None }; N],
        }
    }

    /// Queues an event that happened at `now_ms` for immediate sending and
    /// returns its sequence number. A full outbox drops its oldest event.
    pub fn push(&mut self, now_ms: u64, event: TagEvent) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let free = self.slots.iter().position(Option::is_none);
        let Some(index) = free.or_else(|| self.oldest(|_| true)) else {
            // N == 0: nothing can be kept.
            self.dropped = self.dropped.saturating_add(1);
            return seq;
        };
        if free.is_none() {
            self.dropped = self.dropped.saturating_add(1);
        }
        self.slots[index] = Some(Pending {
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
        let index = self.oldest(|p| p.next_send <= now_ms)?;
        let entry = self.slots[index].as_mut()?;
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
        self.pending().map(|(_, p)| p.next_send).min()
    }

    /// The gateway has stored `(boot, seq)`. Acks for other boots, unknown or
    /// already-acked sequence numbers are ignored. Returns whether an event
    /// was released.
    pub fn on_ack(&mut self, boot: u32, seq: u16) -> bool {
        if boot != self.boot {
            return false;
        }
        match self
            .slots
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|p| p.seq == seq))
        {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    }

    /// The occupied slots with their indices.
    fn pending(&self) -> impl Iterator<Item = (usize, &Pending)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.as_ref().map(|p| (i, p)))
    }

    /// Slot index of the oldest event matching `filter`; age is how many
    /// pushes ago an event came, which survives sequence-number wrap.
    fn oldest(&self, filter: impl Fn(&Pending) -> bool) -> Option<usize> {
        let next = self.next_seq;
        let candidates = self.pending().filter(|(_, p)| filter(p));
        candidates
            .max_by_key(|(_, p)| next.wrapping_sub(p.seq))
            .map(|(index, _)| index)
    }

    /// Events pushed out of a full outbox before they were acked, this boot.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Events awaiting an ack.
    pub fn len(&self) -> usize {
        self.pending().count()
    }

    /// True when every event has been acked (or dropped).
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    /// True when the next push will drop the oldest event.
    pub fn is_full(&self) -> bool {
        self.slots.iter().all(Option::is_some)
    }

    /// The tag id its events are sent under.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The boot its events belong to.
    pub fn boot(&self) -> u32 {
        self.boot
    }
}

/// Exponential backoff with up to 25 % jitter. The jitter is a hash of the
/// tag, event and attempt rather than a random number: no RNG is needed, runs
/// are reproducible, and tags that lost the same gateway outage still spread
/// their retransmissions instead of colliding in lockstep.
/// 32-bit arithmetic on purpose: 64-bit division costs a Cortex-M0+ almost
/// 1 KiB of library code.
fn retry_delay(tag: u32, seq: u16, attempts: u8) -> u64 {
    let doublings = u32::from(attempts.saturating_sub(1)).min(8);
    let base = ((FIRST_RETRY_MS as u32) << doublings).min(MAX_RETRY_MS as u32);
    let mut h = tag ^ (u32::from(seq) << 8) ^ u32::from(attempts);
    // A 32-bit integer finaliser (from MurmurHash3): cheap and well mixed.
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    u64::from(base + h % (base / 4 + 1))
}

#[cfg(test)]
mod tests;
