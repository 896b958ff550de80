//! The config page's `postcard(Config)` part, written and read by hand.
//!
//! The bytes are exactly postcard's (varint integers, `u8` as a raw byte,
//! enum variants and `Option` as a varint tag, bytes as a varint length then
//! the bytes), so pages of every layout version read as before; the tests
//! check the writer against postcard itself. Doing it by hand spares the
//! Cortex-M0 image serde's generic deserializer for one struct read once
//! per boot: about 1 KiB of its 16 KiB of flash.

use super::{Config, Role};
use crate::entrance::EntranceSettings;
use crate::pickup::PickupTuning;
use protocol::{EpcBytes, Settings};

/// Writes `config`'s postcard part into `out`; its length, or `None` when
/// `out` is too short.
pub(super) fn write(config: &Config, out: &mut [u8]) -> Option<usize> {
    let mut w = Writer { out, len: 0 };
    let s = &config.settings;
    w.varint(config.tag)?;
    w.varint(role_index(config.role))?;
    w.varint(u32::from(s.pickup_threshold_mg))?;
    w.byte(s.pickup_k)?;
    w.byte(s.pickup_m)?;
    for value in [
        s.still_ms,
        s.dwell_min_ms,
        s.dwell_gap_ms,
        s.reader_visit_ms,
        s.heartbeat_s,
    ] {
        w.varint(value)?;
    }
    match &config.epc {
        None => w.byte(0)?,
        Some(epc) => {
            let bytes = epc.as_bytes();
            w.byte(1)?;
            w.varint(bytes.len() as u32)?;
            for &b in bytes {
                w.byte(b)?;
            }
        }
    }
    Some(w.len)
}

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

fn role_index(role: Role) -> u32 {
    match role {
        Role::Motion => 0,
        Role::Presence => 1,
        Role::Reader => 2,
        Role::Entrance => 3,
    }
}

struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn byte(&mut self, b: u8) -> Option<()> {
        *self.out.get_mut(self.len)? = b;
        self.len += 1;
        Some(())
    }

    /// LEB128: seven bits a byte, low first, the top bit set on all but
    /// the last.
    fn varint(&mut self, mut value: u32) -> Option<()> {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80)?;
            value >>= 7;
        }
        self.byte(value as u8)
    }
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
