//! The hand-written reader against postcard itself: same value and same
//! rest where postcard succeeds, `None` exactly where postcard fails.

use super::*;
use crate::codec::tests::{downlink, settings, wire};
use crate::codec::{decode_downlink_packet, DecodeError};
use crate::frame::{Command, Downlink, Settings, SettingsPatch, PROTOCOL_VERSION};
use proptest::prelude::*;

extern crate std;
use std::vec::Vec;

/// postcard's answer, in the reader's shape.
fn by_postcard(bytes: &[u8]) -> Option<(Downlink, &[u8])> {
    postcard::take_from_bytes::<Downlink>(bytes).ok()
}

fn postcard_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut buf = [0u8; 64];
    postcard::to_slice(value, &mut buf).unwrap().to_vec()
}

/// One downlink of every variant, with fields at varint boundaries.
fn every_downlink() -> Vec<Downlink> {
    let wide = Settings {
        pickup_threshold_mg: u16::MAX,
        pickup_k: 0,
        pickup_m: u8::MAX,
        still_ms: 127,
        dwell_min_ms: 128,
        dwell_gap_ms: 16_383,
        reader_visit_ms: 16_384,
        heartbeat_s: u32::MAX,
    };
    std::vec![
        Downlink::Ack {
            tag: 0,
            boot: u32::MAX,
            seq: u16::MAX
        },
        Downlink::Configure {
            tag: 128,
            settings: wide
        },
        Downlink::Identify {
            tag: u32::MAX,
            duration_ms: 0
        },
        Downlink::Command {
            tag: 7,
            id: 0,
            command: Command::Identify {
                duration_ms: 10_000
            },
        },
        Downlink::Command {
            tag: 7,
            id: u16::MAX,
            command: Command::Configure {
                changes: SettingsPatch {
                    mask: 0xFF,
                    values: wide
                },
            },
        },
    ]
}

#[test]
fn every_downlink_variant_reads_as_postcard_reads_it() {
    for d in every_downlink() {
        let bytes = postcard_bytes(&d);
        assert_eq!(
            Downlink::decode_postcard(&bytes),
            Some((d.clone(), &[][..]))
        );
        assert_eq!(Downlink::decode_postcard(&bytes), by_postcard(&bytes));
    }
}

#[test]
fn a_numbered_identify_reads_from_hand_computed_bytes() {
    // Command (3), tag 5, id 300 (0xAC 0x02), Identify (0), 1000 ms
    // (0xE8 0x07), then a byte that is not the downlink's.
    let bytes = [0x03, 0x05, 0xAC, 0x02, 0x00, 0xE8, 0x07, 0x42];
    let expected = Downlink::Command {
        tag: 5,
        id: 300,
        command: Command::Identify { duration_ms: 1000 },
    };
    assert_eq!(
        Downlink::decode_postcard(&bytes),
        Some((expected, &[0x42][..]))
    );
}

#[test]
fn varints_too_long_or_too_large_for_their_type_are_refused() {
    // u16: 3 bytes at most, the third at most 0x03.
    assert_eq!(
        PostcardReader::new(&[0xFF, 0xFF, 0x03]).u16(),
        Some(u16::MAX)
    );
    assert_eq!(PostcardReader::new(&[0xFF, 0xFF, 0x04]).u16(), None);
    assert_eq!(PostcardReader::new(&[0x80, 0x80, 0x80, 0x00]).u16(), None);
    // u32: 5 bytes at most, the fifth at most 0x0F.
    let max = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
    assert_eq!(PostcardReader::new(&max).u32(), Some(u32::MAX));
    assert_eq!(
        PostcardReader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x10]).u32(),
        None
    );
    // A non-minimal encoding is accepted, as postcard accepts it.
    assert_eq!(PostcardReader::new(&[0x81, 0x00]).u32(), Some(1));
}

/// Payload bytes `decode_downlink_packet` should give, worked out with
/// postcard: the version, the `Message` variant, then a whole downlink.
fn packet_by_postcard(payload: &[u8]) -> Result<Option<Downlink>, DecodeError> {
    match postcard::take_from_bytes::<u32>(&payload[1..]) {
        Ok((0, _)) => Ok(None),
        Ok((1, rest)) => match postcard::take_from_bytes::<Downlink>(rest) {
            Ok((d, [])) => Ok(Some(d)),
            _ => Err(DecodeError::Deserialize),
        },
        _ => Err(DecodeError::Deserialize),
    }
}

proptest! {
    #[test]
    fn any_downlink_reads_as_postcard_reads_it(
        d in downlink(),
        trailing in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut bytes = postcard_bytes(&d);
        let len = bytes.len();
        bytes.extend(&trailing);
        prop_assert_eq!(Downlink::decode_postcard(&bytes), Some((d, &trailing[..])));
        prop_assert_eq!(Downlink::decode_postcard(&bytes), by_postcard(&bytes));
        for cut in 0..len {
            prop_assert_eq!(Downlink::decode_postcard(&bytes[..cut]), None);
            prop_assert_eq!(by_postcard(&bytes[..cut]), None);
        }
    }

    #[test]
    fn a_downlink_with_one_byte_changed_reads_as_postcard_reads_it(
        d in downlink(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = postcard_bytes(&d);
        let at = at.index(bytes.len());
        bytes[at] = byte;
        prop_assert_eq!(Downlink::decode_postcard(&bytes), by_postcard(&bytes));
    }

    #[test]
    fn random_bytes_read_as_postcard_reads_them(
        variant in 0u8..6,
        command in 0u8..3,
        rest in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        // A plausible variant first, so the bytes reach every variant's
        // fields; and once with a plausible command variant after a tag
        // and an id.
        let mut bytes = std::vec![variant];
        bytes.extend(&rest);
        prop_assert_eq!(Downlink::decode_postcard(&bytes), by_postcard(&bytes));
        let mut bytes = std::vec![3, 9, 9, command];
        bytes.extend(&rest);
        prop_assert_eq!(Downlink::decode_postcard(&bytes), by_postcard(&bytes));
        prop_assert_eq!(Downlink::decode_postcard(&rest), by_postcard(&rest));
    }

    #[test]
    fn settings_and_varints_read_as_postcard_reads_them(
        s in settings(),
        bytes in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        let encoded = postcard_bytes(&s);
        prop_assert_eq!(PostcardReader::new(&encoded).settings(), Some(s));
        prop_assert_eq!(
            PostcardReader::new(&bytes).settings(),
            postcard::take_from_bytes::<Settings>(&bytes).ok().map(|(s, _)| s)
        );
        prop_assert_eq!(
            PostcardReader::new(&bytes).u16(),
            postcard::take_from_bytes::<u16>(&bytes).ok().map(|(v, _)| v)
        );
        prop_assert_eq!(
            PostcardReader::new(&bytes).u32(),
            postcard::take_from_bytes::<u32>(&bytes).ok().map(|(v, _)| v)
        );
    }

    #[test]
    fn the_tag_decoder_reads_packets_as_postcard_reads_them(
        message in 0u8..3,
        body in prop_oneof![
            downlink().prop_map(|d| postcard_bytes(&d)),
            proptest::collection::vec(any::<u8>(), 0..40),
        ],
        trailing in proptest::collection::vec(any::<u8>(), 0..2),
    ) {
        let mut payload = std::vec![PROTOCOL_VERSION, message];
        payload.extend(&body);
        payload.extend(&trailing);
        let got: Vec<_> = crate::FrameDecoder::new()
            .feed_downlinks(&wire(&payload))
            .collect();
        prop_assert_eq!(got, std::vec![packet_by_postcard(&payload)]);
        let mut cobs = wire(&payload);
        cobs.pop();
        prop_assert_eq!(decode_downlink_packet(&mut cobs), packet_by_postcard(&payload));
    }
}
