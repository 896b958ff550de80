//! The config page's `postcard(Config)` part, read by hand (postcard
//! writes it).
//!
//! The layout is postcard's (varint integers, `u8` as a raw byte, enum
//! variants and `Option` as a varint tag, bytes as a varint length then the
//! bytes), so pages of every layout version read as before; the tests check
//! this reader against postcard itself. Reading by hand spares the
//! Cortex-M0 image serde's deserializers for `Config`, its `Option` and
//! `EpcBytes`: 128 bytes of its 16 KiB of flash once the link decodes only
//! downlinks, the difference between fitting and not.

use super::{Config, Role};
use crate::entrance::EntranceSettings;
use crate::pickup::PickupTuning;
use protocol::{EpcBytes, Settings};

/// Reads a postcard part; `None` when it does not parse. Trailing bytes
/// are ignored, as `postcard::from_bytes` does. The fields stored outside
/// postcard get their defaults.
pub(super) fn read(bytes: &[u8]) -> Option<Config> {
    let mut r = Reader { bytes };
    let tag = r.varint()?;
    let role = match r.varint()? {
        0 => Role::Motion,
        1 => Role::Presence,
        2 => Role::Reader,
        3 => Role::Entrance,
        _ => return None,
    };
    let settings = Settings {
        pickup_threshold_mg: u16::try_from(r.varint()?).ok()?,
        pickup_k: r.byte()?,
        pickup_m: r.byte()?,
        still_ms: r.varint()?,
        dwell_min_ms: r.varint()?,
        dwell_gap_ms: r.varint()?,
        reader_visit_ms: r.varint()?,
        heartbeat_s: r.varint()?,
    };
    let epc = match r.byte()? {
        0 => None,
        1 => {
            let len = r.varint()? as usize;
            let bytes = r.bytes.get(..len)?;
            Some(EpcBytes::new(bytes)?)
        }
        _ => return None,
    };
    Some(Config {
        tag,
        role,
        settings,
        epc,
        pickup: PickupTuning::default(),
        entrance: EntranceSettings::default(),
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    /// A u32 varint of at most five bytes whose value fits, as postcard
    /// accepts.
    fn varint(&mut self) -> Option<u32> {
        let mut value = 0u32;
        for shift in [0, 7, 14, 21, 28] {
            let b = self.byte()?;
            if shift == 28 && b > 0x0F {
                return None;
            }
            value |= u32::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}
