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
        entrance: EntranceSettings {
            min_break_ms: u16::MAX,
            blocked_ms: u32::MAX,
            period_ms: u32::MAX,
        },
        ..garment_tag()
    };
    assert_eq!(Config::from_image(&config.to_image().unwrap()), Ok(config));
}

/// A page as `aisle tag config` wrote it before layout version 2 (tag
/// 0x00C0FFEE, motion, 220 mg, still 7 s, EPC 3074257BF7194E4000001A85).
const VERSION_1_PAGE: [u8; 44] = [
    0x41, 0x49, 0x53, 0x01, 0x22, 0x00, 0xee, 0xff, 0x83, 0x06, 0x00, 0xdc, 0x01, 0x04, 0x06, 0xd8,
    0x36, 0xc0, 0x3e, 0xa0, 0x1f, 0xe0, 0xd4, 0x03, 0xac, 0x02, 0x01, 0x0c, 0x30, 0x74, 0x25, 0x7b,
    0xf7, 0x19, 0x4e, 0x40, 0x00, 0x00, 0x1a, 0x85, 0x4a, 0xda, 0x06, 0x4c,
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

/// A page as `aisle tag config` wrote it in layout version 2, built by
/// hand: the version 1 page's postcard part, tilt 180 mg for 450 mg·s,
/// and the CRC recomputed.
const VERSION_2_PAGE: [u8; 48] = [
    0x41, 0x49, 0x53, 0x02, 0x26, 0x00, 0xee, 0xff, 0x83, 0x06, 0x00, 0xdc, 0x01, 0x04, 0x06, 0xd8,
    0x36, 0xc0, 0x3e, 0xa0, 0x1f, 0xe0, 0xd4, 0x03, 0xac, 0x02, 0x01, 0x0c, 0x30, 0x74, 0x25, 0x7b,
    0xf7, 0x19, 0x4e, 0x40, 0x00, 0x00, 0x1a, 0x85, 0xb4, 0x00, 0xc2, 0x01, 0x74, 0xd5, 0xd0, 0x53,
];

#[test]
fn version_2_page_loads_with_default_entrance_thresholds() {
    let mut image = [0xFF; CONFIG_IMAGE_LEN];
    image[..VERSION_2_PAGE.len()].copy_from_slice(&VERSION_2_PAGE);
    let config = Config::from_image(&image).expect("a version 2 page still loads");
    assert_eq!((config.tag, config.role), (0x00C0_FFEE, Role::Motion));
    assert_eq!(config.settings.pickup_threshold_mg, 220);
    assert_eq!(
        config.pickup,
        PickupTuning {
            tilt_mg: 180,
            tilt_mg_s: 450
        }
    );
    assert_eq!(config.entrance, EntranceSettings::default());
}

#[test]
fn entrance_thresholds_round_trip_through_the_page() {
    let config = Config {
        entrance: EntranceSettings {
            min_break_ms: 60,
            blocked_ms: 45_000,
            period_ms: 300_000,
        },
        ..Config::fallback(0x0E17_0001, Role::Entrance)
    };
    assert_eq!(Config::from_image(&config.to_image().unwrap()), Ok(config));
}

#[test]
fn pages_are_written_in_the_current_layout_and_unknown_layouts_refused() {
    let mut image = garment_tag().to_image().unwrap();
    assert_eq!(&image[..4], b"AIS\x03");
    // A layout from a newer firmware is not guessed at, even with a
    // valid CRC.
    image[3] = 4;
    let end = HEADER_LEN + usize::from(u16::from_le_bytes([image[4], image[5]]));
    let crc = CRC32.checksum(&image[..end]);
    image[end..end + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(Config::from_image(&image), Err(ConfigStatus::Corrupt));
}

mod postcard_equivalence {
    use super::super::postcard_layout;
    use super::*;
    use proptest::prelude::*;

    fn config() -> impl Strategy<Value = Config> {
        let role = prop_oneof![
            Just(Role::Motion),
            Just(Role::Presence),
            Just(Role::Reader),
            Just(Role::Entrance),
        ];
        let epc = proptest::option::of(proptest::collection::vec(
            any::<u8>(),
            1..=protocol::frame::EPC_MAX_BYTES,
        ));
        let times = proptest::array::uniform5(any::<u32>());
        (
            any::<u32>(),
            role,
            (any::<u16>(), any::<u8>(), any::<u8>()),
            times,
            epc,
        )
            .prop_map(|(tag, role, (mg, k, m), t, epc)| Config {
                tag,
                role,
                settings: Settings {
                    pickup_threshold_mg: mg,
                    pickup_k: k,
                    pickup_m: m,
                    still_ms: t[0],
                    dwell_min_ms: t[1],
                    dwell_gap_ms: t[2],
                    reader_visit_ms: t[3],
                    heartbeat_s: t[4],
                },
                epc: epc.and_then(|bytes| EpcBytes::new(&bytes)),
                ..Config::fallback(0, Role::Motion)
            })
    }

    proptest! {
        #[test]
        fn reads_what_postcard_writes(config in config()) {
            let mut bytes = [0u8; 128];
            let written = postcard::to_slice(&config, &mut bytes).unwrap();
            prop_assert_eq!(postcard_layout::read(written), Some(config));
        }

        #[test]
        fn reads_whatever_postcard_reads(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
            let expected = postcard::from_bytes::<Config>(&bytes).ok();
            prop_assert_eq!(postcard_layout::read(&bytes), expected);
        }
    }
}

#[test]
fn default_thresholds_are_valid() {
    assert_eq!(validate(&Settings::default()), Ok(()));
}

#[test]
fn each_rule_refuses_what_would_break_a_detector() {
    let with = |change: fn(&mut Settings)| {
        let mut s = Settings::default();
        change(&mut s);
        validate(&s)
    };
    use InvalidSettings::*;
    assert_eq!(
        with(|s| s.pickup_threshold_mg = 0),
        Err(ZeroPickupThreshold)
    );
    assert_eq!(with(|s| s.pickup_k = 0), Err(PickupKOutsideWindow));
    assert_eq!(with(|s| s.pickup_k = 7), Err(PickupKOutsideWindow));
    assert_eq!(with(|s| s.pickup_k = 6), Ok(()));
    assert_eq!(with(|s| s.pickup_m = 0), Err(PickupWindowTooWide));
    assert_eq!(
        with(|s| (s.pickup_k, s.pickup_m) = (32, 32)),
        Ok(()),
        "the detector's whole 32-sample window"
    );
    assert_eq!(with(|s| s.pickup_m = 33), Err(PickupWindowTooWide));
    assert_eq!(with(|s| s.still_ms = 0), Err(ZeroPeriod));
    assert_eq!(with(|s| s.dwell_min_ms = 0), Err(ZeroPeriod));
    assert_eq!(with(|s| s.dwell_gap_ms = 0), Err(ZeroPeriod));
    assert_eq!(with(|s| s.reader_visit_ms = 0), Err(ZeroPeriod));
    assert_eq!(with(|s| s.heartbeat_s = 9), Err(HeartbeatTooShort));
    assert_eq!(with(|s| s.heartbeat_s = 10), Ok(()));
}
