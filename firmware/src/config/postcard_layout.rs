//! The config page's `postcard(Config)` part, read by hand (postcard
//! writes it).
//!
//! The layout is postcard's, read with protocol's [`PostcardReader`] (the
//! tag's downlink reader, so the image holds one varint decoder), so pages
//! of every layout version read as before; the tests check this reader
//! against postcard itself. Reading by hand spares the
//! Cortex-M0 image serde's deserializers for `Config`, its `Option` and
//! `EpcBytes`: 128 bytes of its 16 KiB of flash once the link decodes only
//! downlinks, the difference between fitting and not.

use super::{Config, Role};
use crate::entrance::EntranceSettings;
use crate::pickup::PickupTuning;
use protocol::{EpcBytes, PostcardReader};

/// Reads a postcard part; `None` when it does not parse. Trailing bytes
/// are ignored, as `postcard::from_bytes` does. The fields stored outside
/// postcard get their defaults.
pub(super) fn read(bytes: &[u8]) -> Option<Config> {
    let mut r = PostcardReader::new(bytes);
    let tag = r.u32()?;
    let role = match r.u32()? {
        0 => Role::Motion,
        1 => Role::Presence,
        2 => Role::Reader,
        3 => Role::Entrance,
        _ => return None,
    };
    let settings = r.settings()?;
    let epc = match r.byte()? {
        0 => None,
        1 => {
            let len = r.u32()? as usize;
            Some(EpcBytes::new(r.take(len)?)?)
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
