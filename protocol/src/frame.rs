//! The messages exchanged between tags and the gateway over the radio link.
//!
//! A [`Frame`] is what travels inside one COBS packet (see [`crate::codec`]).
//! Every field is fixed-size or bounded so a frame fits the tag's RAM and the
//! radio budget: a typical uplink is 15–35 bytes on the wire.

use core::fmt;
use serde::{Deserialize, Serialize};

/// The commands moved to [`crate::command`]; these paths keep working.
pub use crate::command::{Command, CommandOutcome, PatchError, SettingsPatch};

/// Version carried as the first byte of every frame. A receiver that does not
/// know the version rejects the frame rather than misreading it.
pub const PROTOCOL_VERSION: u8 = 1;

/// One link-layer frame: a protocol version, then the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// [`PROTOCOL_VERSION`] of the sender; a receiver drops other versions.
    pub version: u8,
    /// What the frame carries.
    pub message: Message,
}

impl Frame {
    /// A frame of the current protocol version.
    pub fn new(message: Message) -> Self {
        Frame {
            version: PROTOCOL_VERSION,
            message,
        }
    }

    /// A frame carrying a tag's event.
    pub fn uplink(uplink: Uplink) -> Self {
        Frame::new(Message::Uplink(uplink))
    }

    /// A frame carrying a message to a tag.
    pub fn downlink(downlink: Downlink) -> Self {
        Frame::new(Message::Downlink(downlink))
    }
}

/// Direction-tagged payload. Tags ignore uplinks (other tags' chatter) and the
/// gateway ignores downlinks, so both can share one broadcast channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// From a tag to the gateway.
    Uplink(Uplink),
    /// From the gateway to a tag.
    Downlink(Downlink),
}

/// An event reported by a tag. `(tag, boot, seq)` names the event forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uplink {
    /// The tag's 32-bit id (from its config page).
    pub tag: u32,
    /// The tag's boot counter, persisted in flash and incremented per boot.
    pub boot: u32,
    /// Sequence number within this boot; starts at 0 and wraps at 65 535.
    pub seq: u16,
    /// Milliseconds since the event happened, recomputed at every
    /// retransmission. Tags have no wall clock; the gateway stamps
    /// `received_at - age_ms`.
    pub age_ms: u32,
    /// What the tag observed.
    pub event: TagEvent,
}

/// What a tag observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagEvent {
    /// The tag started. `config` says whether its config page was usable.
    Boot {
        /// The firmware now running.
        fw: FwVersion,
        /// Why the MCU reset.
        reset_reason: ResetReason,
        /// Whether the config page was usable.
        config: ConfigStatus,
    },
    /// Periodic health. `dropped` counts events this boot that were pushed out
    /// of a full outbox before the gateway acked them (cumulative, so a lost
    /// heartbeat loses no information).
    Heartbeat {
        /// Supply voltage in millivolts.
        battery_mv: u16,
        /// The firmware now running.
        fw: FwVersion,
        /// Events dropped from a full outbox this boot.
        dropped: u32,
    },
    /// A garment on a motion tag was lifted. The garment's EPC travels with
    /// the event so the gateway never needs a tag-to-garment table.
    PickedUp {
        /// The garment's EPC.
        epc: EpcBytes,
    },
    /// The garment has been still again; `held_ms` is how long it was held.
    PutDown {
        /// The garment's EPC.
        epc: EpcBytes,
        /// From the pickup to the first still moment.
        held_ms: u32,
    },
    /// A shopper has been present at a fixture for the minimum dwell time.
    DwellStart,
    /// The presence ended; `dwell_ms` is the whole visit's length.
    DwellEnd {
        /// From the first to the last presence of the visit.
        dwell_ms: u32,
    },
    /// A zone reader (fitting room, checkout) saw a garment, once per visit.
    EpcSeen {
        /// The garment's EPC.
        epc: EpcBytes,
        /// Signal strength of the read, dBm.
        rssi: i8,
    },
    /// An entrance counter's people counts for one period. Sent at most once
    /// a period and only when a count is non-zero; `age_ms` dates the
    /// period's start, so the event is stamped there.
    Entries {
        /// People who walked into the store during the period.
        entered: u16,
        /// People who walked out.
        exited: u16,
        /// The period's length.
        period_ms: u32,
    },
    /// An entrance counter's heartbeat: [`TagEvent::Heartbeat`]'s health
    /// plus whether a break-beam is blocked (a propped door, a pram left in
    /// the way), during which nobody is counted. A variant of its own,
    /// appended, rather than a field added to `Heartbeat`: frames from every
    /// tag already in the field still decode, and only entrance counters
    /// (which older gateways cannot use anyway) send it. Sent on schedule
    /// and at once when a beam blocks or clears.
    EntranceHeartbeat {
        /// Supply voltage in millivolts.
        battery_mv: u16,
        /// The firmware now running.
        fw: FwVersion,
        /// Events dropped from a full outbox this boot.
        dropped: u32,
        /// A beam has been broken for longer than the blocked threshold.
        beam_blocked: bool,
    },
    /// The tag carried out (or refused) the [`Downlink::Command`] numbered
    /// `id`. It travels through the outbox like any event, so the
    /// confirmation is retransmitted until the gateway acks it and survives
    /// a lost radio frame. Tags before this variant existed never send it;
    /// the gateway knows them by the firmware version in their Boot and
    /// Heartbeat and can only report a command to them as delivered.
    CommandDone {
        /// The command's number, as the gateway sent it.
        id: u16,
        /// What the tag did with it.
        outcome: CommandOutcome,
    },
}

/// Messages from the gateway to the tags. Every downlink names its tag:
/// the radio is a broadcast medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Downlink {
    /// The event `(tag, boot, seq)` is durably stored; the tag may forget it.
    Ack {
        /// The tag that sent the event.
        tag: u32,
        /// Its boot counter when it sent the event.
        boot: u32,
        /// The event's sequence number in that boot.
        seq: u16,
    },
    /// Replace the tag's detection thresholds (persisted by the tag).
    Configure {
        /// The tag to configure.
        tag: u32,
        /// The new thresholds, all of them.
        settings: Settings,
    },
    /// Blink the tag's LED for `duration_ms`, so a technician can find it.
    Identify {
        /// The tag to find.
        tag: u32,
        /// How long to blink.
        duration_ms: u32,
    },
    /// A numbered command the tag confirms with [`TagEvent::CommandDone`].
    /// Appended after the unnumbered `Configure` and `Identify`, which older
    /// tags still understand, so the postcard index of every existing
    /// downlink is unchanged; an older tag drops this variant as an
    /// undecodable frame.
    Command {
        /// The tag to command.
        tag: u32,
        /// The gateway's number for the command, echoed in the confirmation.
        id: u16,
        /// What to do.
        command: Command,
    },
}

impl Downlink {
    /// The tag this downlink is addressed to.
    pub fn tag(&self) -> u32 {
        match self {
            Downlink::Ack { tag, .. }
            | Downlink::Configure { tag, .. }
            | Downlink::Identify { tag, .. }
            | Downlink::Command { tag, .. } => *tag,
        }
    }
}

/// Detection thresholds, shared by the tag's config page and the
/// `Configure` downlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// |a − rest| above this (milli-g) counts as a moving sample.
    pub pickup_threshold_mg: u16,
    /// K of the last M samples must be moving to call a pickup.
    pub pickup_k: u8,
    /// M: the number of recent samples K is counted over.
    pub pickup_m: u8,
    /// Still for this long after a pickup means put down.
    pub still_ms: u32,
    /// Presence must last this long to count as a dwell.
    pub dwell_min_ms: u32,
    /// Presence gaps shorter than this do not split a dwell.
    pub dwell_gap_ms: u32,
    /// A reader reports a garment again only after not seeing it this long.
    pub reader_visit_ms: u32,
    /// Heartbeat period.
    pub heartbeat_s: u32,
}

impl Default for Settings {
    /// Conservative values that suit a hanger-mounted motion tag, a ceiling
    /// PIR over a table and a fitting-room reader.
    fn default() -> Self {
        Settings {
            pickup_threshold_mg: 150,
            pickup_k: 4,
            pickup_m: 6,
            still_ms: 5_000,
            dwell_min_ms: 8_000,
            dwell_gap_ms: 4_000,
            reader_visit_ms: 60_000,
            heartbeat_s: 300,
        }
    }
}

/// The first tag firmware that carries out [`Downlink::Command`] and
/// confirms it with [`TagEvent::CommandDone`]. Older tags drop the command
/// as an undecodable frame; the gateway reads a tag's version from its
/// Boot and Heartbeat events and can only report a command to an older
/// tag as delivered, never as done.
pub const FIRST_FW_WITH_COMMANDS: FwVersion = FwVersion {
    major: 0,
    minor: 2,
    patch: 0,
};

/// Firmware version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FwVersion {
    /// Incompatible changes.
    pub major: u8,
    /// Compatible features.
    pub minor: u8,
    /// Fixes.
    pub patch: u8,
}

impl fmt::Display for FwVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Why the tag's MCU last reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResetReason {
    /// Power was applied (a new battery).
    PowerOn,
    /// The supply dropped too low: a battery running out.
    Brownout,
    /// The watchdog fired: the firmware hung.
    Watchdog,
    /// The firmware asked for a reset.
    Software,
    /// The reset pin was pulled.
    Pin,
    /// The MCU did not say.
    Unknown,
}

/// What the tag found in its config page at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigStatus {
    /// The page was valid and is in use.
    Loaded,
    /// The page was erased; safe defaults are in use.
    Blank,
    /// The page failed its CRC or did not parse; safe defaults are in use.
    Corrupt,
}

/// Longest EPC a frame carries. SGTIN-198 takes 26 bytes in tag memory; 32 leaves room for
/// other 256-bit EPC schemes without changing the frame layout.
pub const EPC_MAX_BYTES: usize = 32;

/// An EPC's raw bytes as read from the tag's memory, at most
/// [`EPC_MAX_BYTES`]. Stored inline so frames never allocate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpcBytes {
    len: u8,
    bytes: [u8; EPC_MAX_BYTES],
}

impl EpcBytes {
    /// `None` when `bytes` is empty or longer than [`EPC_MAX_BYTES`].
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > EPC_MAX_BYTES {
            return None;
        }
        let mut out = EpcBytes {
            len: bytes.len() as u8,
            bytes: [0; EPC_MAX_BYTES],
        };
        out.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(out)
    }

    /// The EPC's bytes, as long as the EPC is.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Debug for EpcBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Epc(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02X}")?;
        }
        f.write_str(")")
    }
}

impl Serialize for EpcBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de> Deserialize<'de> for EpcBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = EpcBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "1 to {EPC_MAX_BYTES} EPC bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<EpcBytes, E> {
                EpcBytes::new(v).ok_or_else(|| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<EpcBytes, A::Error> {
                let mut buf = [0u8; EPC_MAX_BYTES];
                let mut n = 0;
                while let Some(b) = seq.next_element::<u8>()? {
                    if n == EPC_MAX_BYTES {
                        return Err(serde::de::Error::invalid_length(n + 1, &self));
                    }
                    buf[n] = b;
                    n += 1;
                }
                EpcBytes::new(&buf[..n]).ok_or_else(|| serde::de::Error::invalid_length(n, &self))
            }
        }
        d.deserialize_bytes(Visitor)
    }
}
