//! A hand-written reader of postcard's layout for what a tag decodes: its
//! downlinks and its config page's `Settings`.
//!
//! postcard writes integers as varints, a `u8` or `bool` as one byte, an
//! enum variant or `Option` as a varint index, bytes as a varint length
//! then the bytes. This reader accepts exactly what postcard's
//! deserializer accepts for these types (the tests check it against
//! postcard over every downlink and over random and truncated bytes), and
//! spares a Cortex-M0 image serde's visitors for them: about 1 KiB of its
//! 16 KiB of flash. The host keeps decoding with serde.

use crate::frame::{Command, Downlink, Settings, SettingsPatch};

/// Reads postcard-encoded values off the front of a byte slice. Every
/// method returns `None` where postcard would fail (too few bytes, a
/// varint too long or too large for its type, an unknown variant); the
/// reader's position is then unspecified.
#[derive(Debug, Clone)]
pub struct PostcardReader<'a> {
    bytes: &'a [u8],
}

impl<'a> PostcardReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        PostcardReader { bytes }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// One raw byte: a `u8`, or the tag of an `Option` or a `bool`.
    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    /// The next `len` bytes.
    pub fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken)
    }

    /// A `u32` (or an enum's variant index): at most five bytes, the fifth
    /// holding the top four bits only.
    pub fn u32(&mut self) -> Option<u32> {
        self.varint(5, 0x0F)
    }

    /// A `u16`: at most three bytes, the third holding the top two bits.
    pub fn u16(&mut self) -> Option<u16> {
        // Three 7-bit groups, the last capped at 2 bits: always fits.
        self.varint(3, 0x03).map(|v| v as u16)
    }

    /// A varint of at most `max_len` bytes whose last byte is at most
    /// `last_max` (postcard's overflow rule).
    fn varint(&mut self, max_len: u32, last_max: u8) -> Option<u32> {
        let mut value = 0u32;
        for i in 0..max_len {
            let b = self.byte()?;
            value |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return (i + 1 < max_len || b <= last_max).then_some(value);
            }
        }
        None
    }

    /// A [`Settings`], field by field in declaration order.
    pub fn settings(&mut self) -> Option<Settings> {
        Some(Settings {
            pickup_threshold_mg: self.u16()?,
            pickup_k: self.byte()?,
            pickup_m: self.byte()?,
            still_ms: self.u32()?,
            dwell_min_ms: self.u32()?,
            dwell_gap_ms: self.u32()?,
            reader_visit_ms: self.u32()?,
            heartbeat_s: self.u32()?,
        })
    }

    /// A [`Downlink`]: its variant index, then that variant's fields.
    pub fn downlink(&mut self) -> Option<Downlink> {
        let variant = self.u32()?;
        let tag = self.u32()?;
        Some(match variant {
            0 => Downlink::Ack {
                tag,
                boot: self.u32()?,
                seq: self.u16()?,
            },
            1 => Downlink::Configure {
                tag,
                settings: self.settings()?,
            },
            2 => Downlink::Identify {
                tag,
                duration_ms: self.u32()?,
            },
            3 => Downlink::Command {
                tag,
                id: self.u16()?,
                command: self.command()?,
            },
            _ => return None,
        })
    }

    fn command(&mut self) -> Option<Command> {
        Some(match self.u32()? {
            0 => Command::Identify {
                duration_ms: self.u32()?,
            },
            1 => Command::Configure {
                changes: SettingsPatch {
                    mask: self.byte()?,
                    values: self.settings()?,
                },
            },
            _ => return None,
        })
    }
}

impl Downlink {
    /// Reads a downlink from the front of postcard bytes, as
    /// `postcard::take_from_bytes::<Downlink>` would, without serde: the
    /// downlink and the bytes after it, or `None` where postcard fails.
    /// What a tag uses (see [`crate::codec::decode_downlink_packet`]).
    pub fn decode_postcard(bytes: &[u8]) -> Option<(Downlink, &[u8])> {
        let mut reader = PostcardReader::new(bytes);
        let downlink = reader.downlink()?;
        Some((downlink, reader.rest()))
    }
}

#[cfg(test)]
mod tests;
