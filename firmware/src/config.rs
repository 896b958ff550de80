//! The tag's config page: who the tag is, what it does, its thresholds and,
//! for a garment tag, the garment's EPC.
//!
//! Layout of the page image (`CONFIG_IMAGE_LEN` bytes, the rest of the flash
//! page stays erased):
//!
//! | bytes | content |
//! | --- | --- |
//! | 0..4 | magic `AIS` + layout version (3; 1 and 2 are still read) |
//! | 4..6 | payload length, u16 LE |
//! | 6..6+n | payload: postcard(`Config`), then (since version 2) the pickup tuning, then (since version 3) the entrance thresholds |
//! | 6+n..10+n | CRC-32 (ISO HDLC) of bytes 0..6+n, LE |
//!
//! Version 2 appended the pickup detector's orientation thresholds
//! ([`PickupTuning`]: `tilt_mg`, `tilt_mg_s`, u16 LE each) to the version 1
//! payload, and version 3 the entrance counter's ([`EntranceSettings`]:
//! `min_break_ms` u16, `blocked_ms` u32, `period_ms` u32, LE), as
//! fixed-width bytes outside postcard, which spares the Cortex-M0 image a
//! second decoder. A page of an earlier version, written before they
//! existed, loads with their defaults, so tags provisioned earlier keep
//! booting with their own id, role, EPC and thresholds.
//!
//! A blank (erased) or corrupt page never stops a tag: it falls back to safe
//! defaults and says so in its Boot event, so the gateway shows the tag as
//! unprovisioned instead of the tag going silent.

use crate::entrance::EntranceSettings;
use crate::pickup::PickupTuning;
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use protocol::{ConfigStatus, EpcBytes, Settings};
use serde::{Deserialize, Serialize};

/// Bytes of the page image `aisle tag config` writes. The largest config
/// (a motion tag with a 32-byte EPC) takes about 90.
pub const CONFIG_IMAGE_LEN: usize = 128;

/// The magic, without the layout version byte that follows it.
const MAGIC: [u8; 3] = *b"AIS";
/// The layout this firmware writes.
const LAYOUT_VERSION: u8 = 3;
const HEADER_LEN: usize = 6;
const CRC_LEN: usize = 4;
const MAX_PAYLOAD: usize = CONFIG_IMAGE_LEN - HEADER_LEN - CRC_LEN;
/// Bytes of [`PickupTuning`] after the postcard part (since version 2).
const PICKUP_LEN: usize = 4;
/// Bytes of [`EntranceSettings`] after the pickup tuning (since version 3).
const ENTRANCE_LEN: usize = 10;
/// Fixed-width bytes after the postcard part in the current layout.
const TAIL_LEN: usize = PICKUP_LEN + ENTRANCE_LEN;

// The page is read once per boot: a bitwise CRC costs nothing there and
// saves the 1 KiB table on a 16 KiB part.
static CRC32: crc::Crc<u32, crc::NoTable> =
    crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISO_HDLC);

/// What a tag does in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// On a garment: reports pickups and put-downs.
    Motion,
    /// On a fixture, with a PIR: reports dwells.
    Presence,
    /// A fitting-room or checkout UHF reader: reports garments seen.
    Reader,
    /// At the store's entrance, with two break-beams: reports people who
    /// came in and went out. Appended last so older pages keep their
    /// encoding.
    Entrance,
}

/// One tag's provisioning, stored in its config page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The tag's 32-bit id, unique in its store.
    pub tag: u32,
    /// What the tag senses and reports.
    pub role: Role,
    /// Its detectors' thresholds.
    pub settings: Settings,
    /// The garment a motion tag is attached to; `None` for other roles.
    pub epc: Option<EpcBytes>,
    /// Since layout version 2; stored after the postcard part, not in it.
    #[serde(skip)]
    pub pickup: PickupTuning,
    /// The entrance counter's thresholds; stored after the postcard part.
    #[serde(skip)]
    pub entrance: EntranceSettings,
}

/// Why a config cannot be written to a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A motion tag reports the garment's EPC with every event; without one
    /// its pickups could not be attributed to a garment.
    #[error("a motion tag needs the garment's EPC")]
    MotionWithoutEpc,
    /// Does not fit the page image; cannot happen with protocol's types.
    #[error("config does not fit the {CONFIG_IMAGE_LEN}-byte page image")]
    TooLarge,
}

impl Config {
    /// Safe defaults for a tag whose page is blank or corrupt: the hardware's
    /// own id and role, default thresholds and no garment. Such a tag still
    /// boots, heartbeats and can be found with Identify; a motion tag without
    /// an EPC reports no pickups, since it could not say which garment moved.
    pub fn fallback(tag: u32, role: Role) -> Self {
        Config {
            tag,
            role,
            settings: Settings::default(),
            epc: None,
            pickup: PickupTuning::default(),
            entrance: EntranceSettings::default(),
        }
    }

    /// The page image for this config, padded with erased bytes (`0xFF`).
    pub fn to_image(&self) -> Result<[u8; CONFIG_IMAGE_LEN], ConfigError> {
        if self.role == Role::Motion && self.epc.is_none() {
            return Err(ConfigError::MotionWithoutEpc);
        }
        let mut image = [0xFF; CONFIG_IMAGE_LEN];
        let postcard_len = postcard::to_slice(
            self,
            &mut image[HEADER_LEN..HEADER_LEN + MAX_PAYLOAD - TAIL_LEN],
        )
        .map_err(|_| ConfigError::TooLarge)?
        .len();
        let tail = HEADER_LEN + postcard_len;
        let e = &self.entrance;
        let mut at = tail;
        for field in [
            &self.pickup.tilt_mg.to_le_bytes()[..],
            &self.pickup.tilt_mg_s.to_le_bytes(),
            &e.min_break_ms.to_le_bytes(),
            &e.blocked_ms.to_le_bytes(),
            &e.period_ms.to_le_bytes(),
        ] {
            image[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        let len = postcard_len + TAIL_LEN;
        image[..3].copy_from_slice(&MAGIC);
        image[3] = LAYOUT_VERSION;
        // MAX_PAYLOAD < 2^16, so the length fits.
        image[4..HEADER_LEN].copy_from_slice(&(len as u16).to_le_bytes());
        let end = HEADER_LEN + len;
        let crc = CRC32.checksum(&image[..end]);
        image[end..end + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
        Ok(image)
    }

    /// Reads a page image: the config, or why it cannot be used
    /// ([`ConfigStatus::Blank`] or [`ConfigStatus::Corrupt`]).
    pub fn from_image(image: &[u8]) -> Result<Config, ConfigStatus> {
        let header = image.get(..HEADER_LEN).ok_or(ConfigStatus::Corrupt)?;
        if header.iter().all(|&b| b == 0xFF) {
            return Err(ConfigStatus::Blank);
        }
        let version = header[3];
        if header[..3] != MAGIC || !(1..=LAYOUT_VERSION).contains(&version) {
            return Err(ConfigStatus::Corrupt);
        }
        let len = usize::from(u16::from_le_bytes([header[4], header[5]]));
        if len > MAX_PAYLOAD {
            return Err(ConfigStatus::Corrupt);
        }
        let end = HEADER_LEN + len;
        let stored = image.get(end..end + CRC_LEN).ok_or(ConfigStatus::Corrupt)?;
        if CRC32.checksum(&image[..end]).to_le_bytes() != stored {
            return Err(ConfigStatus::Corrupt);
        }
        // The fixed-width tail: the pickup tuning since version 2, the
        // entrance thresholds since version 3; older pages get defaults.
        let tail_len = match version {
            1 => 0,
            2 => PICKUP_LEN,
            _ => TAIL_LEN,
        };
        if len < tail_len {
            return Err(ConfigStatus::Corrupt);
        }
        let postcard_end = end - tail_len;
        let b = &image[postcard_end..end];
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut pickup = PickupTuning::default();
        let mut entrance = EntranceSettings::default();
        if version >= 2 {
            pickup = PickupTuning {
                tilt_mg: u16_at(0),
                tilt_mg_s: u16_at(2),
            };
        }
        if version >= 3 {
            entrance = EntranceSettings {
                min_break_ms: u16_at(4),
                blocked_ms: u32_at(6),
                period_ms: u32_at(10),
            };
        }
        match postcard_layout::read(&image[HEADER_LEN..postcard_end]) {
            Some(config) => Ok(Config {
                pickup,
                entrance,
                ..config
            }),
            None => Err(ConfigStatus::Corrupt),
        }
    }

    /// Loads the config page at `offset`, falling back to `fallback` when it
    /// is blank, corrupt or unreadable. The status goes into the Boot event.
    pub fn load<F: ReadNorFlash>(
        flash: &mut F,
        offset: u32,
        fallback: Config,
    ) -> (Config, ConfigStatus) {
        let mut image = [0u8; CONFIG_IMAGE_LEN];
        if flash.read(offset, &mut image).is_err() {
            return (fallback, ConfigStatus::Corrupt);
        }
        match Config::from_image(&image) {
            Ok(config) => (config, ConfigStatus::Loaded),
            Err(status) => (fallback, status),
        }
    }

    /// Writes this config to the page at `offset` (erasing it first), e.g.
    /// after a `Configure` downlink changed the thresholds. A power cut in
    /// between leaves a blank page, which boots with safe defaults and is
    /// reported as such.
    pub fn store<F: NorFlash>(
        &self,
        flash: &mut F,
        offset: u32,
    ) -> Result<(), StoreError<F::Error>> {
        let image = self.to_image().map_err(StoreError::Config)?;
        let page = F::ERASE_SIZE as u32;
        let start = offset - offset % page;
        flash
            .erase(start, start + page)
            .map_err(StoreError::Flash)?;
        flash.write(offset, &image).map_err(StoreError::Flash)
    }
}

/// Why [`Config::store`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError<E: core::fmt::Debug> {
    /// The config cannot be written as a page.
    #[error(transparent)]
    Config(ConfigError),
    /// The flash refused the erase or the write.
    #[error("config page flash error: {0:?}")]
    Flash(E),
}

/// Shortest heartbeat period a numbered Configure may set. A few hundred
/// tags share one radio channel; a heartbeat every few seconds from each
/// would crowd out their events.
pub const MIN_HEARTBEAT_S: u32 = 10;

/// Why [`validate`] refused thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidSettings {
    /// `pickup_threshold_mg` is 0: every sample would count as moving.
    ZeroPickupThreshold,
    /// `pickup_k` is 0, or above `pickup_m`: a pickup could never (or
    /// would always) be called.
    PickupKOutsideWindow,
    /// `pickup_m` is 0, or wider than the detector's window
    /// ([`crate::pickup::MAX_WINDOW`] samples).
    PickupWindowTooWide,
    /// `still_ms`, `dwell_min_ms`, `dwell_gap_ms` or `reader_visit_ms` is
    /// 0: every still sample would end a hold, every presence start a
    /// dwell, every gap split one, every read be reported.
    ZeroPeriod,
    /// `heartbeat_s` is below [`MIN_HEARTBEAT_S`].
    HeartbeatTooShort,
}

/// The rules thresholds set by a numbered Configure command must follow;
/// the tag refuses the command (`InvalidSettings`) and changes nothing
/// otherwise. One place for them, documented in docs/firmware.md. The
/// unnumbered Configure of older gateways is not checked, as before.
pub fn validate(settings: &Settings) -> Result<(), InvalidSettings> {
    let s = settings;
    if s.pickup_threshold_mg == 0 {
        return Err(InvalidSettings::ZeroPickupThreshold);
    }
    if s.pickup_m == 0 || s.pickup_m > crate::pickup::MAX_WINDOW {
        return Err(InvalidSettings::PickupWindowTooWide);
    }
    if s.pickup_k == 0 || s.pickup_k > s.pickup_m {
        return Err(InvalidSettings::PickupKOutsideWindow);
    }
    if [
        s.still_ms,
        s.dwell_min_ms,
        s.dwell_gap_ms,
        s.reader_visit_ms,
    ]
    .contains(&0)
    {
        return Err(InvalidSettings::ZeroPeriod);
    }
    if s.heartbeat_s < MIN_HEARTBEAT_S {
        return Err(InvalidSettings::HeartbeatTooShort);
    }
    Ok(())
}

mod postcard_layout;

#[cfg(test)]
mod tests;
