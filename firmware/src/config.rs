//! The tag's config page: who the tag is, what it does, its thresholds and,
//! for a garment tag, the garment's EPC.
//!
//! Layout of the page image (`CONFIG_IMAGE_LEN` bytes, the rest of the flash
//! page stays erased):
//!
//! | bytes | content |
//! | --- | --- |
//! | 0..4 | magic `AIS` + layout version (2; 1 is still read) |
//! | 4..6 | payload length, u16 LE |
//! | 6..6+n | payload: postcard(`Config`), then (since version 2) the pickup tuning |
//! | 6+n..10+n | CRC-32 (ISO HDLC) of bytes 0..6+n, LE |
//!
//! Version 2 appended the pickup detector's orientation thresholds
//! ([`PickupTuning`]: `tilt_mg`, `tilt_mg_s`, u16 LE each) to the version 1
//! payload, as fixed-width bytes outside postcard, which spares the
//! Cortex-M0 image a second decoder. A version 1 page, written before they
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
/// (a motion tag with a 32-byte EPC) takes about 80.
pub const CONFIG_IMAGE_LEN: usize = 128;

/// The magic, without the layout version byte that follows it.
const MAGIC: [u8; 3] = *b"AIS";
/// The layout this firmware writes.
const LAYOUT_VERSION: u8 = 2;
const HEADER_LEN: usize = 6;
const CRC_LEN: usize = 4;
const MAX_PAYLOAD: usize = CONFIG_IMAGE_LEN - HEADER_LEN - CRC_LEN;
/// Bytes of [`PickupTuning`] at the end of a version 2 payload.
const PICKUP_LEN: usize = 4;

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
            &mut image[HEADER_LEN..HEADER_LEN + MAX_PAYLOAD - PICKUP_LEN],
        )
        .map_err(|_| ConfigError::TooLarge)?
        .len();
        let pickup = HEADER_LEN + postcard_len;
        image[pickup..pickup + 2].copy_from_slice(&self.pickup.tilt_mg.to_le_bytes());
        image[pickup + 2..pickup + 4].copy_from_slice(&self.pickup.tilt_mg_s.to_le_bytes());
        let len = postcard_len + PICKUP_LEN;
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
        // A version 2 payload ends with the pickup tuning; version 1 has none.
        let mut postcard_end = end;
        let mut pickup = PickupTuning::default();
        if version == 2 {
            if len < PICKUP_LEN {
                return Err(ConfigStatus::Corrupt);
            }
            postcard_end = end - PICKUP_LEN;
            let b = &image[postcard_end..end];
            pickup = PickupTuning {
                tilt_mg: u16::from_le_bytes([b[0], b[1]]),
                tilt_mg_s: u16::from_le_bytes([b[2], b[3]]),
            };
        }
        match postcard::from_bytes::<Config>(&image[HEADER_LEN..postcard_end]) {
            Ok(config) => Ok(Config { pickup, ..config }),
            Err(_) => Err(ConfigStatus::Corrupt),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::RamFlash;

    fn garment_tag() -> Config {
        Config {
            tag: 0x00C0_FFEE,
            role: Role::Motion,
            settings: Settings {
                pickup_threshold_mg: 220,
                still_ms: 7_000,
                ..Settings::default()
            },
            epc: EpcBytes::new(&[
                0x30, 0x14, 0x1D, 0x8A, 0x0C, 0x00, 0x02, 0x80, 0x00, 0x00, 0x30, 0x39,
            ]),
            pickup: PickupTuning {
                tilt_mg: 180,
                tilt_mg_s: 450,
            },
            entrance: EntranceSettings::default(),
        }
    }

    #[test]
    fn config_page_round_trips_through_flash() {
        let mut flash = RamFlash::<4096, 1024>::new();
        garment_tag().store(&mut flash, 2048).unwrap();
        let (config, status) = Config::load(&mut flash, 2048, Config::fallback(1, Role::Presence));
        assert_eq!(status, ConfigStatus::Loaded);
        assert_eq!(config, garment_tag());
    }

    #[test]
    fn blank_page_falls_back_to_safe_defaults() {
        let mut flash = RamFlash::<4096, 1024>::new();
        let fallback = Config::fallback(42, Role::Motion);
        assert_eq!(
            Config::load(&mut flash, 0, fallback),
            (fallback, ConfigStatus::Blank)
        );
        assert_eq!(fallback.settings, Settings::default());
    }

    #[test]
    fn every_single_bit_flip_is_reported_corrupt() {
        let image = garment_tag().to_image().unwrap();
        let used = HEADER_LEN
            + postcard::to_slice(&garment_tag(), &mut [0; 128])
                .unwrap()
                .len()
            + CRC_LEN;
        for byte in 0..used {
            for bit in 0..8 {
                let mut bad = image;
                bad[byte] ^= 1 << bit;
                assert_eq!(
                    Config::from_image(&bad),
                    Err(ConfigStatus::Corrupt),
                    "byte {byte} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn corrupt_page_in_flash_falls_back_and_says_so() {
        let mut flash = RamFlash::<4096, 1024>::new();
        garment_tag().store(&mut flash, 1024).unwrap();
        flash.bytes_mut()[1024 + 9] ^= 0x40;
        let fallback = Config::fallback(7, Role::Motion);
        assert_eq!(
            Config::load(&mut flash, 1024, fallback),
            (fallback, ConfigStatus::Corrupt)
        );
    }

    #[test]
    fn motion_tag_without_epc_is_refused() {
        assert_eq!(
            Config::fallback(1, Role::Motion).to_image(),
            Err(ConfigError::MotionWithoutEpc)
        );
        assert!(Config::fallback(1, Role::Reader).to_image().is_ok());
    }

    #[test]
    fn largest_config_fits_the_image() {
        let config = Config {
            tag: u32::MAX,
            settings: Settings {
                pickup_threshold_mg: u16::MAX,
                pickup_k: u8::MAX,
                pickup_m: u8::MAX,
                still_ms: u32::MAX,
                dwell_min_ms: u32::MAX,
                dwell_gap_ms: u32::MAX,
                reader_visit_ms: u32::MAX,
                heartbeat_s: u32::MAX,
            },
            epc: EpcBytes::new(&[0xAB; protocol::frame::EPC_MAX_BYTES]),
            pickup: PickupTuning {
                tilt_mg: u16::MAX,
                tilt_mg_s: u16::MAX,
            },
            ..garment_tag()
        };
        assert_eq!(Config::from_image(&config.to_image().unwrap()), Ok(config));
    }

    /// A page as `aisle tag config` wrote it before layout version 2 (tag
    /// 0x00C0FFEE, motion, 220 mg, still 7 s, EPC 3074257BF7194E4000001A85).
    const VERSION_1_PAGE: [u8; 44] = [
        0x41, 0x49, 0x53, 0x01, 0x22, 0x00, 0xee, 0xff, 0x83, 0x06, 0x00, 0xdc, 0x01, 0x04, 0x06,
        0xd8, 0x36, 0xc0, 0x3e, 0xa0, 0x1f, 0xe0, 0xd4, 0x03, 0xac, 0x02, 0x01, 0x0c, 0x30, 0x74,
        0x25, 0x7b, 0xf7, 0x19, 0x4e, 0x40, 0x00, 0x00, 0x1a, 0x85, 0x4a, 0xda, 0x06, 0x4c,
    ];

    #[test]
    fn version_1_page_loads_with_default_pickup_tuning() {
        let mut image = [0xFF; CONFIG_IMAGE_LEN];
        image[..VERSION_1_PAGE.len()].copy_from_slice(&VERSION_1_PAGE);
        let config = Config::from_image(&image).expect("a version 1 page still loads");
        assert_eq!(config.tag, 0x00C0_FFEE);
        assert_eq!(config.role, Role::Motion);
        assert_eq!(
            config.settings,
            Settings {
                pickup_threshold_mg: 220,
                still_ms: 7_000,
                ..Settings::default()
            }
        );
        assert_eq!(
            config.epc.map(|e| e.as_bytes().to_vec()),
            Some(std::vec![
                0x30, 0x74, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0x00, 0x00, 0x1A, 0x85
            ])
        );
        assert_eq!(config.pickup, PickupTuning::default());
    }

    #[test]
    fn pages_are_written_in_the_current_layout_and_unknown_layouts_refused() {
        let mut image = garment_tag().to_image().unwrap();
        assert_eq!(&image[..4], b"AIS\x02");
        // A layout from a newer firmware is not guessed at, even with a
        // valid CRC.
        image[3] = 3;
        let end = HEADER_LEN + usize::from(u16::from_le_bytes([image[4], image[5]]));
        let crc = CRC32.checksum(&image[..end]);
        image[end..end + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Config::from_image(&image), Err(ConfigStatus::Corrupt));
    }
}
