//! A fault-injecting link between the virtual tags and the serial port, in
//! the manner of smoltcp's `phy::FaultInjector`: it wraps the byte stream
//! and leaves the tags and the gateway untouched, so every fault is met by
//! the real protocol (CRC, COBS resynchronisation, dedup, retransmission).
//!
//! Seeded, so a faulty run is as reproducible as a clean one.

use protocol::Downlink;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::str::FromStr;

/// Probabilities (0..=1) of each fault, per frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// An uplink frame has one bit flipped (its CRC then fails).
    pub flip: f64,
    /// Line noise (random bytes, then a delimiter) precedes an uplink frame.
    pub garbage: f64,
    /// An uplink frame is sent twice.
    pub duplicate: f64,
    /// An uplink frame is lost.
    pub drop: f64,
    /// An ack from the gateway is lost before it reaches the tag.
    pub drop_ack: f64,
}

/// A `--faults` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad --faults `{0}`: write comma-separated NAME=PROBABILITY with names flip, garbage, duplicate, drop, drop-ack and probabilities 0 to 1 (e.g. flip=0.05,drop-ack=0.2)")]
pub struct BadFaults(String);

impl FromStr for Faults {
    type Err = BadFaults;

    fn from_str(s: &str) -> Result<Self, BadFaults> {
        let bad = || BadFaults(s.to_string());
        let mut faults = Faults::default();
        for item in s.split(',').filter(|i| !i.trim().is_empty()) {
            let (name, value) = item.split_once('=').ok_or_else(bad)?;
            let p: f64 = value.trim().parse().map_err(|_| bad())?;
            if !(0.0..=1.0).contains(&p) {
                return Err(bad());
            }
            let slot = match name.trim() {
                "flip" => &mut faults.flip,
                "garbage" => &mut faults.garbage,
                "duplicate" => &mut faults.duplicate,
                "drop" => &mut faults.drop,
                "drop-ack" => &mut faults.drop_ack,
                _ => return Err(bad()),
            };
            *slot = p;
        }
        Ok(faults)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "flip={},garbage={},duplicate={},drop={},drop-ack={}",
            self.flip, self.garbage, self.duplicate, self.drop, self.drop_ack
        )
    }
}

/// What the injector has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub flipped: u64,
    pub garbage: u64,
    pub duplicated: u64,
    pub dropped: u64,
    pub acks_dropped: u64,
}

/// Applies [`Faults`] to frames on their way through.
pub struct FaultInjector {
    faults: Faults,
    rng: ChaCha8Rng,
    stats: FaultStats,
}

/// Longest burst of line noise.
const MAX_GARBAGE: usize = 24;

impl FaultInjector {
    pub fn new(faults: Faults, seed: u64) -> Self {
        FaultInjector {
            faults,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xFA01_7000),
            stats: FaultStats::default(),
        }
    }

    /// Appends what actually goes on the wire for the encoded uplink
    /// `frame` (delimiter included) to `wire`.
    pub fn uplink(&mut self, frame: &[u8], wire: &mut Vec<u8>) {
        if self.chance(self.faults.drop) {
            self.stats.dropped += 1;
            return;
        }
        if self.chance(self.faults.garbage) {
            self.stats.garbage += 1;
            let len = self.rng.gen_range(1..=MAX_GARBAGE);
            wire.extend((0..len).map(|_| self.rng.gen::<u8>()));
            // Noise ends in a delimiter often enough in practice; without
            // one it would also corrupt the frame, which `flip` covers.
            wire.push(0);
        }
        let start = wire.len();
        wire.extend_from_slice(frame);
        if self.chance(self.faults.flip) && !frame.is_empty() {
            self.stats.flipped += 1;
            let at = start + self.rng.gen_range(0..frame.len());
            wire[at] ^= 1 << self.rng.gen_range(0..8);
        }
        if self.chance(self.faults.duplicate) {
            self.stats.duplicated += 1;
            wire.extend_from_slice(frame);
        }
    }

    /// Whether the downlink reaches the tags.
    pub fn downlink(&mut self, downlink: &Downlink) -> bool {
        if matches!(downlink, Downlink::Ack { .. }) && self.chance(self.faults.drop_ack) {
            self.stats.acks_dropped += 1;
            return false;
        }
        true
    }

    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.gen_bool(p.min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{encode, Frame, FrameDecoder, TagEvent, Uplink, MAX_ENCODED_LEN};

    fn frame(seq: u16) -> Vec<u8> {
        let uplink = Uplink {
            tag: 7,
            boot: 1,
            seq,
            age_ms: 5,
            event: TagEvent::DwellStart,
        };
        let mut buf = [0u8; MAX_ENCODED_LEN];
        let n = encode(&Frame::uplink(uplink), &mut buf).unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn parses_fault_specs_and_rejects_nonsense() {
        let f: Faults = "flip=0.05, garbage=0.1,duplicate=0.2,drop=0.01,drop-ack=0.3"
            .parse()
            .unwrap();
        assert_eq!(
            f,
            Faults {
                flip: 0.05,
                garbage: 0.1,
                duplicate: 0.2,
                drop: 0.01,
                drop_ack: 0.3
            }
        );
        assert_eq!("".parse::<Faults>().unwrap(), Faults::default());
        assert_eq!(f.to_string().parse::<Faults>().unwrap(), f);
        for bad in ["flip", "flip=2", "flip=-0.1", "bitrot=0.1", "flip=x"] {
            assert!(bad.parse::<Faults>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_clean_link_passes_frames_unchanged() {
        let mut link = FaultInjector::new(Faults::default(), 1);
        let mut wire = Vec::new();
        link.uplink(&frame(1), &mut wire);
        assert_eq!(wire, frame(1));
        assert!(link.downlink(&Downlink::Ack {
            tag: 7,
            boot: 1,
            seq: 1
        }));
    }

    #[test]
    fn faults_lose_or_repeat_frames_but_never_forge_one() {
        let faults = Faults {
            flip: 0.2,
            garbage: 0.2,
            duplicate: 0.2,
            drop: 0.1,
            drop_ack: 0.0,
        };
        let mut link = FaultInjector::new(faults, 2);
        let mut wire = Vec::new();
        for seq in 0..500 {
            link.uplink(&frame(seq), &mut wire);
        }
        let stats = link.stats();
        assert!(
            stats.flipped > 50 && stats.garbage > 50 && stats.duplicated > 50 && stats.dropped > 20,
            "{stats:?}"
        );
        let mut decoder = FrameDecoder::new();
        let decoded: Vec<u16> = decoder
            .feed(&wire)
            .filter_map(Result::ok)
            .map(|f| match f.message {
                protocol::Message::Uplink(u) => u.seq,
                other => panic!("forged {other:?}"),
            })
            .collect();
        // Every frame that arrives is one that was sent, in order, at most twice.
        assert!(decoded.windows(2).all(|w| w[0] <= w[1]));
        assert!(decoded.len() < 500 + stats.duplicated as usize);
        assert!(decoded.len() > 250);
    }

    #[test]
    fn drop_ack_loses_acks_only() {
        let mut link = FaultInjector::new(
            Faults {
                drop_ack: 1.0,
                ..Faults::default()
            },
            3,
        );
        assert!(!link.downlink(&Downlink::Ack {
            tag: 7,
            boot: 1,
            seq: 1
        }));
        assert!(link.downlink(&Downlink::Identify {
            tag: 7,
            duration_ms: 10
        }));
        assert_eq!(link.stats().acks_dropped, 1);
    }
}
