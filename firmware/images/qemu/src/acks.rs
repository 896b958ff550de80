//! The entrance scenario's gateway: it hears the tag's uplinks and acks
//! each, as a gateway in range does, except that the first copy of every
//! Entries event is "lost": it acks the retransmission. So the run shows an
//! event resent until acked, and never again after.
//!
//! It decodes with the protocol crate's full frame decoder, the gateway's.

use protocol::{encode, Downlink, Frame, FrameDecoder, Message, TagEvent, MAX_ENCODED_LEN};

/// An ack reaches the tag this long after the uplink: a gateway acks once
/// the event is on disk.
const ACK_LATENCY_MS: u64 = 50;
/// Acks waiting for delivery; the tag sends a handful of frames at most
/// between two wake-ups.
const QUEUE: usize = 8;
/// Entries events whose first copy was dropped, by sequence number.
const LOST_MAX: usize = 16;

pub struct AckingGateway {
    decoder: FrameDecoder,
    /// Ack frames and when each reaches the tag.
    queue: [(u64, [u8; MAX_ENCODED_LEN], usize); QUEUE],
    queued: usize,
    lost: [u16; LOST_MAX],
    lost_len: usize,
}

impl AckingGateway {
    pub fn new() -> Self {
        AckingGateway {
            decoder: FrameDecoder::new(),
            queue: [(0, [0; MAX_ENCODED_LEN], 0); QUEUE],
            queued: 0,
            lost: [0; LOST_MAX],
            lost_len: 0,
        }
    }

    /// The radio heard the tag send `bytes` at `now_ms`.
    pub fn hear(&mut self, now_ms: u64, bytes: &[u8]) {
        let mut uplinks = [None; 4];
        let mut n = 0;
        for frame in self.decoder.feed(bytes).flatten() {
            if let (Message::Uplink(uplink), Some(slot)) = (frame.message, uplinks.get_mut(n)) {
                let entries = matches!(uplink.event, TagEvent::Entries { .. });
                *slot = Some((uplink.tag, uplink.boot, uplink.seq, entries));
                n += 1;
            }
        }
        for (tag, boot, seq, entries) in uplinks.into_iter().flatten() {
            let first_entries = entries && !self.lost[..self.lost_len].contains(&seq);
            if first_entries && self.lost_len < LOST_MAX {
                self.lost[self.lost_len] = seq;
                self.lost_len += 1;
                continue;
            }
            self.queue_ack(now_ms + ACK_LATENCY_MS, Downlink::Ack { tag, boot, seq });
        }
    }

    /// When the next ack reaches the tag.
    pub fn next_at(&self) -> Option<u64> {
        self.queue[..self.queued].iter().map(|q| q.0).min()
    }

    /// Moves the acks that have reached the tag by `now_ms` into `out`.
    pub fn receive(&mut self, now_ms: u64, out: &mut [u8]) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.queued {
            let (at, bytes, len) = self.queue[i];
            if at <= now_ms && n + len <= out.len() {
                out[n..n + len].copy_from_slice(&bytes[..len]);
                n += len;
                self.queued -= 1;
                self.queue[i] = self.queue[self.queued];
            } else {
                i += 1;
            }
        }
        n
    }

    fn queue_ack(&mut self, at: u64, ack: Downlink) {
        let mut bytes = [0; MAX_ENCODED_LEN];
        // An ack always fits MAX_ENCODED_LEN; a full queue loses the ack,
        // as a busy channel would, and the tag resends.
        if let (Ok(len), true) = (
            encode(&Frame::downlink(ack), &mut bytes),
            self.queued < QUEUE,
        ) {
            self.queue[self.queued] = (at, bytes, len);
            self.queued += 1;
        }
    }
}
