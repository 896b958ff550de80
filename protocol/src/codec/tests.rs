use super::*;
use crate::frame::{
    Command, CommandOutcome, ConfigStatus, Downlink, EpcBytes, FwVersion, Message, PatchError,
    ResetReason, Settings, SettingsPatch, TagEvent, Uplink, EPC_MAX_BYTES,
};
use proptest::prelude::*;

extern crate std;
use std::vec::Vec;

const FW: FwVersion = FwVersion {
    major: 1,
    minor: 2,
    patch: 3,
};

fn epc() -> EpcBytes {
    // The GS1 TDS SGTIN-96 example.
    EpcBytes::new(&[
        0x30, 0x74, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0x00, 0x00, 0x1A, 0x85,
    ])
    .unwrap()
}

fn uplink(event: TagEvent) -> Frame {
    Frame::uplink(Uplink {
        tag: 1234,
        boot: 7,
        seq: 42,
        age_ms: 1500,
        event,
    })
}

/// One frame of every message and event variant.
fn every_variant() -> Vec<Frame> {
    std::vec![
        uplink(TagEvent::Boot {
            fw: FW,
            reset_reason: ResetReason::Watchdog,
            config: ConfigStatus::Corrupt
        }),
        uplink(TagEvent::Heartbeat {
            battery_mv: 2950,
            fw: FW,
            dropped: 3
        }),
        uplink(TagEvent::PickedUp { epc: epc() }),
        uplink(TagEvent::PutDown {
            epc: epc(),
            held_ms: 15_000
        }),
        uplink(TagEvent::DwellStart),
        uplink(TagEvent::DwellEnd { dwell_ms: 42_000 }),
        uplink(TagEvent::EpcSeen {
            epc: epc(),
            rssi: -61
        }),
        uplink(TagEvent::Entries {
            entered: 14,
            exited: 9,
            period_ms: 60_000
        }),
        uplink(TagEvent::EntranceHeartbeat {
            battery_mv: 3300,
            fw: FW,
            dropped: 0,
            beam_blocked: true
        }),
        Frame::downlink(Downlink::Ack {
            tag: 1234,
            boot: 7,
            seq: 42
        }),
        Frame::downlink(Downlink::Configure {
            tag: 1234,
            settings: Settings::default()
        }),
        Frame::downlink(Downlink::Identify {
            tag: 1234,
            duration_ms: 10_000
        }),
        uplink(TagEvent::CommandDone {
            id: 513,
            outcome: CommandOutcome::InvalidSettings
        }),
        Frame::downlink(Downlink::Command {
            tag: 1234,
            id: 513,
            command: Command::Identify {
                duration_ms: 60_000
            }
        }),
        Frame::downlink(Downlink::Command {
            tag: 1234,
            id: 514,
            command: Command::Configure {
                changes: {
                    let mut patch = SettingsPatch::default();
                    patch.set("pickup_threshold_mg", 200).unwrap();
                    patch.set("heartbeat_s", 60).unwrap();
                    patch
                }
            }
        }),
    ]
}

/// The largest frame there is: see `MAX_PAYLOAD_LEN`.
fn worst_case_frame() -> Frame {
    Frame::uplink(Uplink {
        tag: u32::MAX,
        boot: u32::MAX,
        seq: u16::MAX,
        age_ms: u32::MAX,
        event: TagEvent::PutDown {
            epc: EpcBytes::new(&[0xFF; EPC_MAX_BYTES]).unwrap(),
            held_ms: u32::MAX,
        },
    })
}

fn encode_vec(frame: &Frame) -> Vec<u8> {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    let n = encode(frame, &mut buf).unwrap();
    buf[..n].to_vec()
}

fn decode_all(decoder: &mut FrameDecoder, bytes: &[u8]) -> Vec<Result<Frame, DecodeError>> {
    decoder.feed(bytes).collect()
}

/// Wraps hand-made payload bytes the way `encode` does: CRC, COBS, delimiter.
pub(crate) fn wire(payload: &[u8]) -> Vec<u8> {
    let mut raw = payload.to_vec();
    raw.extend_from_slice(&checksum(payload).to_le_bytes());
    let mut out = std::vec![0u8; raw.len() + raw.len() / 254 + 2];
    let n = cobs::encode(&raw, &mut out);
    out.truncate(n);
    out.push(0);
    out
}

#[test]
fn every_variant_round_trips() {
    let mut decoder = FrameDecoder::new();
    for frame in every_variant() {
        let bytes = encode_vec(&frame);
        assert_eq!(bytes.last(), Some(&0));
        assert!(
            !bytes[..bytes.len() - 1].contains(&0),
            "COBS body holds no delimiter"
        );
        assert_eq!(decode_all(&mut decoder, &bytes), std::vec![Ok(frame)]);
    }
}

#[test]
fn older_heartbeats_decode_as_before_beside_the_entrance_heartbeat() {
    // postcard by hand: version 1, Message::Uplink (0), tag 1, boot 1, seq 0,
    // age 0, then the event: Heartbeat is variant 1 (battery 3000 as varint
    // B8 17, fw 0.1.0, dropped 0); EntranceHeartbeat, appended after
    // Entries, is variant 8 with the same fields and a bool after them.
    let head = [0x01, 0x00, 0x01, 0x01, 0x00, 0x00];
    let fields = [0xB8, 0x17, 0x00, 0x01, 0x00, 0x00];
    let fw = FwVersion {
        major: 0,
        minor: 1,
        patch: 0,
    };
    let mut old = head.to_vec();
    old.push(0x01);
    old.extend_from_slice(&fields);
    let mut new = head.to_vec();
    new.push(0x08);
    new.extend_from_slice(&fields);
    new.push(0x01);
    let with = |event| {
        Frame::uplink(Uplink {
            tag: 1,
            boot: 1,
            seq: 0,
            age_ms: 0,
            event,
        })
    };
    let heartbeat = with(TagEvent::Heartbeat {
        battery_mv: 3000,
        fw,
        dropped: 0,
    });
    let entrance = with(TagEvent::EntranceHeartbeat {
        battery_mv: 3000,
        fw,
        dropped: 0,
        beam_blocked: true,
    });
    let mut decoder = FrameDecoder::new();
    assert_eq!(
        decode_all(&mut decoder, &wire(&old)),
        std::vec![Ok(heartbeat)]
    );
    assert_eq!(
        decode_all(&mut decoder, &wire(&new)),
        std::vec![Ok(entrance.clone())]
    );
    assert_eq!(encode_vec(&entrance), wire(&new));
}

#[test]
fn numbered_commands_and_their_confirmation_are_appended_variants() {
    // postcard by hand. The downlink: version 1, Message::Downlink (1),
    // Downlink::Command is variant 3 after Ack, Configure and Identify; tag
    // 1234 as varint D2 09, id 5, Command::Identify (0), 10 000 ms as varint
    // 90 4E. The uplink: version 1, Message::Uplink (0), tag 1, boot 1,
    // seq 0, age 0, TagEvent::CommandDone is variant 9 after
    // EntranceHeartbeat; id 5, CommandOutcome::Applied (0).
    let downlink = [0x01, 0x01, 0x03, 0xD2, 0x09, 0x05, 0x00, 0x90, 0x4E];
    let uplink = [0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0x09, 0x05, 0x00];
    let identify = Frame::downlink(Downlink::Command {
        tag: 1234,
        id: 5,
        command: Command::Identify {
            duration_ms: 10_000,
        },
    });
    let done = Frame::uplink(Uplink {
        tag: 1,
        boot: 1,
        seq: 0,
        age_ms: 0,
        event: TagEvent::CommandDone {
            id: 5,
            outcome: CommandOutcome::Applied,
        },
    });
    assert_eq!(encode_vec(&identify), wire(&downlink));
    assert_eq!(encode_vec(&done), wire(&uplink));
    let mut decoder = FrameDecoder::new();
    assert_eq!(
        decode_all(&mut decoder, &wire(&downlink)),
        std::vec![Ok(identify)]
    );
    assert_eq!(
        decode_all(&mut decoder, &wire(&uplink)),
        std::vec![Ok(done)]
    );
}

#[test]
fn a_patch_changes_only_the_thresholds_it_names() {
    let before = Settings::default();
    let mut patch = SettingsPatch::default();
    patch.set("pickup_k", 3).unwrap();
    patch.set("still_ms", 9_000).unwrap();
    let after = patch.apply(before);
    assert_eq!(after.pickup_k, 3);
    assert_eq!(after.still_ms, 9_000);
    assert_eq!(
        Settings {
            pickup_k: before.pickup_k,
            still_ms: before.still_ms,
            ..after
        },
        before
    );
    assert_eq!(SettingsPatch::default().apply(before), before);
}

#[test]
fn a_patch_refuses_unknown_names_and_values_too_large_for_the_field() {
    let mut patch = SettingsPatch::default();
    assert_eq!(patch.set("pickup_q", 1), Err(PatchError::UnknownSetting));
    assert_eq!(
        patch.set("pickup_k", 256),
        Err(PatchError::OutOfRange { max: 255 })
    );
    assert_eq!(
        patch.set("pickup_threshold_mg", 65_536),
        Err(PatchError::OutOfRange { max: 65_535 })
    );
    assert_eq!(
        patch,
        SettingsPatch::default(),
        "a refused value changes nothing"
    );
    for (bit, name) in SettingsPatch::FIELDS.iter().enumerate() {
        let mut one = SettingsPatch::default();
        one.set(name, 1).unwrap();
        assert_eq!(one.mask, 1 << bit, "{name}");
    }
}

#[test]
fn checksum_is_crc32_iso_hdlc_in_every_build() {
    // The catalogue check value of CRC-32/ISO-HDLC. The firmware (no_std,
    // bitwise) and the gateway (std, slice-by-16 table) must agree; run the
    // tests with and without default features to check both.
    assert_eq!(checksum(b"123456789"), 0xCBF4_3926);
}

#[test]
fn ack_frame_matches_hand_computed_wire_bytes() {
    // postcard by hand: version 1, Message::Downlink (1), Downlink::Ack (0),
    // tag 1234 as varint D2 09, boot 7, seq 42 (2A). CRC-32 LE and COBS
    // computed with Python's zlib.crc32 and a separate COBS encoder.
    let frame = Frame::downlink(Downlink::Ack {
        tag: 1234,
        boot: 7,
        seq: 42,
    });
    let wire = [
        0x03, 0x01, 0x01, 0x09, 0xD2, 0x09, 0x07, 0x2A, 0xE3, 0x12, 0x31, 0xE7, 0x00,
    ];
    assert_eq!(encode_vec(&frame), wire);
    assert_eq!(
        decode_all(&mut FrameDecoder::new(), &wire),
        std::vec![Ok(frame)]
    );
}

#[test]
fn max_payload_len_is_tight() {
    let mut buf = [0u8; MAX_PAYLOAD_LEN + 8];
    let payload = postcard::to_slice(&worst_case_frame(), &mut buf).unwrap();
    assert_eq!(payload.len(), MAX_PAYLOAD_LEN);
}

#[test]
fn max_encoded_len_fits_the_worst_case_exactly() {
    let frame = worst_case_frame();
    let mut exact = [0u8; MAX_ENCODED_LEN];
    assert_eq!(encode(&frame, &mut exact), Ok(MAX_ENCODED_LEN));
    let mut short = [0u8; MAX_ENCODED_LEN - 1];
    assert_eq!(encode(&frame, &mut short), Err(EncodeError::BufferTooSmall));
    assert_eq!(
        decode_all(&mut FrameDecoder::new(), &exact),
        std::vec![Ok(frame)]
    );
}

#[test]
fn too_long_packet_is_reported_once_and_the_next_frame_decodes() {
    let frame = every_variant().remove(3);
    let mut input = std::vec![0x55u8; MAX_ENCODED_LEN + 100];
    input.push(0);
    input.extend(encode_vec(&frame));
    let results = decode_all(&mut FrameDecoder::new(), &input);
    assert_eq!(results, std::vec![Err(DecodeError::TooLong), Ok(frame)]);
}

#[test]
fn a_packet_one_byte_over_the_limit_is_too_long() {
    // MAX_ENCODED_LEN - 1 COBS bytes is the most a valid frame has.
    let mut input = std::vec![0x01u8; MAX_ENCODED_LEN];
    input.push(0);
    assert_eq!(
        decode_all(&mut FrameDecoder::new(), &input),
        std::vec![Err(DecodeError::TooLong)]
    );
}

#[test]
fn invalid_cobs_is_a_framing_error() {
    // The code byte promises 9 bytes but only 2 follow.
    let input = [0x0A, 0x11, 0x22, 0x00];
    assert_eq!(
        decode_all(&mut FrameDecoder::new(), &input),
        std::vec![Err(DecodeError::Framing)]
    );
}

#[test]
fn packet_too_short_for_a_crc_is_a_framing_error() {
    let input = [0x04, 0x01, 0x02, 0x03, 0x00];
    assert_eq!(
        decode_all(&mut FrameDecoder::new(), &input),
        std::vec![Err(DecodeError::Framing)]
    );
}

#[test]
fn corrupted_byte_is_a_crc_error() {
    let mut bytes = encode_vec(&every_variant()[2]);
    bytes[5] ^= 0x40;
    assert_ne!(bytes[5], 0);
    assert_eq!(
        decode_all(&mut FrameDecoder::new(), &bytes),
        std::vec![Err(DecodeError::Crc)]
    );
}

#[test]
fn intact_frame_of_another_version_is_unknown_version() {
    let future = Frame {
        version: 2,
        ..every_variant()[0].clone()
    };
    let bytes = encode_vec(&future);
    assert_eq!(
        decode_all(&mut FrameDecoder::new(), &bytes),
        std::vec![Err(DecodeError::UnknownVersion(2))]
    );
    assert_eq!(DecodeError::UnknownVersion(2).kind(), "unknown_version");
}

#[test]
fn intact_frame_that_does_not_parse_is_a_deserialize_error() {
    // Version 1, then Message variant 9, which does not exist.
    let unknown_variant = wire(&[PROTOCOL_VERSION, 9, 0]);
    // A valid frame's payload with one byte too many after it.
    let mut buf = [0u8; MAX_PAYLOAD_LEN];
    let mut trailing = postcard::to_slice(&every_variant()[4], &mut buf)
        .unwrap()
        .to_vec();
    trailing.push(0x01);
    // An EpcSeen with an empty EPC, which EpcBytes refuses.
    let empty_epc = wire(&[PROTOCOL_VERSION, 0, 1, 1, 1, 1, 6, 0, 0]);
    let mut decoder = FrameDecoder::new();
    for input in [unknown_variant, wire(&trailing), empty_epc] {
        assert_eq!(
            decode_all(&mut decoder, &input),
            std::vec![Err(DecodeError::Deserialize)]
        );
    }
}

#[test]
fn error_kinds_are_distinct() {
    let kinds = DecodeError::ALL.map(|e| e.kind());
    for (i, a) in kinds.iter().enumerate() {
        for b in &kinds[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn resynchronises_after_garbage() {
    let frames = every_variant();
    // Line noise with no delimiter merges with the next frame, which is
    // lost (the tag retransmits it); the frame after it decodes.
    let mut input = std::vec![0x13, 0x37, 0xFE];
    input.extend(encode_vec(&frames[0]));
    input.extend(encode_vec(&frames[1]));
    let results = decode_all(&mut FrameDecoder::new(), &input);
    assert_eq!(results.len(), 2);
    assert!(results[0].is_err());
    assert_eq!(results[1], Ok(frames[1].clone()));

    // Noise that ends in a delimiter costs nothing but an error.
    let mut input = std::vec![0xAA, 0x00, 0x00, 0x00, 0x42, 0x00];
    input.extend(encode_vec(&frames[2]));
    let results = decode_all(&mut FrameDecoder::new(), &input);
    assert_eq!(results.last(), Some(&Ok(frames[2].clone())));
    assert!(results[..results.len() - 1].iter().all(Result::is_err));
}

#[test]
fn runs_of_delimiters_yield_nothing() {
    assert!(decode_all(&mut FrameDecoder::new(), &[0, 0, 0, 0]).is_empty());
}

#[test]
fn byte_by_byte_feeding_equals_one_shot() {
    let mut input = Vec::new();
    for frame in every_variant() {
        input.extend(encode_vec(&frame));
        input.extend([0x99, 0x00]);
    }
    let one_shot = decode_all(&mut FrameDecoder::new(), &input);
    let mut decoder = FrameDecoder::new();
    let byte_by_byte: Vec<_> = input
        .iter()
        .flat_map(|b| decode_all(&mut decoder, &[*b]))
        .collect();
    assert_eq!(byte_by_byte, one_shot);
    assert_eq!(
        one_shot.iter().filter(|r| r.is_ok()).count(),
        every_variant().len()
    );
}

#[test]
fn reset_drops_a_partial_frame() {
    let frame = every_variant().remove(5);
    let bytes = encode_vec(&frame);
    let mut decoder = FrameDecoder::new();
    assert!(decode_all(&mut decoder, &bytes[..bytes.len() / 2]).is_empty());
    decoder.reset();
    assert_eq!(decode_all(&mut decoder, &bytes), std::vec![Ok(frame)]);
}

#[test]
fn every_single_bit_flip_is_rejected() {
    // CRC-32 detects every error of up to 3 bits in the raw packet; a flip
    // in a COBS code byte moves zeros around instead, which CRC catches with
    // 1 - 2^-32 odds. Either way no flip of these frames gets through.
    for frame in every_variant().into_iter().chain([worst_case_frame()]) {
        let bytes = encode_vec(&frame);
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let mut decoder = FrameDecoder::new();
            let mut results = decode_all(&mut decoder, &flipped);
            // A flipped delimiter leaves the frame unterminated; a delimiter
            // from the line ends it.
            results.extend(decode_all(&mut decoder, &[0]));
            assert!(
                results.iter().all(Result::is_err),
                "bit {bit} of {frame:?} gave {results:?}"
            );
        }
    }
}

fn epc_bytes() -> impl Strategy<Value = EpcBytes> {
    proptest::collection::vec(any::<u8>(), 1..=EPC_MAX_BYTES)
        .prop_map(|v| EpcBytes::new(&v).unwrap())
}

fn fw() -> impl Strategy<Value = FwVersion> {
    any::<(u8, u8, u8)>().prop_map(|(major, minor, patch)| FwVersion {
        major,
        minor,
        patch,
    })
}

fn tag_event() -> impl Strategy<Value = TagEvent> {
    let reset = prop_oneof![
        Just(ResetReason::PowerOn),
        Just(ResetReason::Brownout),
        Just(ResetReason::Watchdog),
        Just(ResetReason::Software),
        Just(ResetReason::Pin),
        Just(ResetReason::Unknown),
    ];
    let config = prop_oneof![
        Just(ConfigStatus::Loaded),
        Just(ConfigStatus::Blank),
        Just(ConfigStatus::Corrupt)
    ];
    prop_oneof![
        (fw(), reset, config).prop_map(|(fw, reset_reason, config)| TagEvent::Boot {
            fw,
            reset_reason,
            config
        }),
        (any::<u16>(), fw(), any::<u32>()).prop_map(|(battery_mv, fw, dropped)| {
            TagEvent::Heartbeat {
                battery_mv,
                fw,
                dropped,
            }
        }),
        epc_bytes().prop_map(|epc| TagEvent::PickedUp { epc }),
        (epc_bytes(), any::<u32>()).prop_map(|(epc, held_ms)| TagEvent::PutDown { epc, held_ms }),
        Just(TagEvent::DwellStart),
        any::<u32>().prop_map(|dwell_ms| TagEvent::DwellEnd { dwell_ms }),
        (epc_bytes(), any::<i8>()).prop_map(|(epc, rssi)| TagEvent::EpcSeen { epc, rssi }),
        (any::<u16>(), any::<u16>(), any::<u32>()).prop_map(|(entered, exited, period_ms)| {
            TagEvent::Entries {
                entered,
                exited,
                period_ms,
            }
        }),
        (any::<u16>(), fw(), any::<u32>(), any::<bool>()).prop_map(
            |(battery_mv, fw, dropped, beam_blocked)| TagEvent::EntranceHeartbeat {
                battery_mv,
                fw,
                dropped,
                beam_blocked,
            }
        ),
        (any::<u16>(), 0..3u8).prop_map(|(id, outcome)| TagEvent::CommandDone {
            id,
            outcome: [
                CommandOutcome::Applied,
                CommandOutcome::InvalidSettings,
                CommandOutcome::NotPersisted
            ][usize::from(outcome)],
        }),
    ]
}

pub(crate) fn settings() -> impl Strategy<Value = Settings> {
    (any::<(u16, u8, u8)>(), any::<(u32, u32, u32, u32, u32)>()).prop_map(
        |(
            (pickup_threshold_mg, pickup_k, pickup_m),
            (still_ms, dwell_min_ms, dwell_gap_ms, reader_visit_ms, heartbeat_s),
        )| {
            Settings {
                pickup_threshold_mg,
                pickup_k,
                pickup_m,
                still_ms,
                dwell_min_ms,
                dwell_gap_ms,
                reader_visit_ms,
                heartbeat_s,
            }
        },
    )
}

fn patch() -> impl Strategy<Value = SettingsPatch> {
    (any::<u8>(), settings()).prop_map(|(mask, values)| SettingsPatch { mask, values })
}

/// Any downlink, of every variant.
pub(crate) fn downlink() -> impl Strategy<Value = Downlink> {
    prop_oneof![
        any::<(u32, u32, u16)>().prop_map(|(tag, boot, seq)| Downlink::Ack { tag, boot, seq }),
        (any::<u32>(), settings())
            .prop_map(|(tag, settings)| Downlink::Configure { tag, settings }),
        any::<(u32, u32)>().prop_map(|(tag, duration_ms)| Downlink::Identify { tag, duration_ms }),
        (any::<(u32, u16, u32)>()).prop_map(|(tag, id, duration_ms)| Downlink::Command {
            tag,
            id,
            command: Command::Identify { duration_ms },
        }),
        (any::<(u32, u16)>(), patch()).prop_map(|((tag, id), changes)| Downlink::Command {
            tag,
            id,
            command: Command::Configure { changes },
        }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    let uplink = (
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u32>(),
        tag_event(),
    )
        .prop_map(|(tag, boot, seq, age_ms, event)| {
            Frame::uplink(Uplink {
                tag,
                boot,
                seq,
                age_ms,
                event,
            })
        });
    let downlink = downlink().prop_map(Frame::downlink);
    prop_oneof![uplink, downlink]
}

proptest! {
    #[test]
    fn frames_survive_encode_then_decode(frames in proptest::collection::vec(frame(), 1..8)) {
        let mut input = Vec::new();
        for f in &frames {
            let bytes = encode_vec(f);
            prop_assert!(bytes.len() <= MAX_ENCODED_LEN);
            input.extend(bytes);
        }
        let decoded: Vec<_> = decode_all(&mut FrameDecoder::new(), &input);
        let expected: Vec<_> = frames.into_iter().map(Ok).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn any_chunking_decodes_the_same(frames in proptest::collection::vec(frame(), 1..6), cuts in proptest::collection::vec(1usize..40, 0..30)) {
        let input: Vec<u8> = frames.iter().flat_map(encode_vec).collect();
        let mut decoder = FrameDecoder::new();
        let mut chunked = Vec::new();
        let mut rest = &input[..];
        for cut in cuts {
            let (chunk, tail) = rest.split_at(cut.min(rest.len()));
            chunked.extend(decode_all(&mut decoder, chunk));
            rest = tail;
        }
        chunked.extend(decode_all(&mut decoder, rest));
        let expected: Vec<_> = frames.into_iter().map(Ok).collect();
        prop_assert_eq!(chunked, expected);
    }

    #[test]
    fn random_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..10)) {
        let mut decoder = FrameDecoder::new();
        for chunk in chunks {
            // A random packet passing CRC-32 has odds of 2^-32; if one
            // does, it must still be a well-formed frame.
            for frame in decoder.feed(&chunk).flatten() {
                prop_assert_eq!(frame.version, PROTOCOL_VERSION);
            }
        }
    }

    #[test]
    fn truncated_frames_are_rejected(f in frame(), keep in 0usize..MAX_ENCODED_LEN) {
        let bytes = encode_vec(&f);
        let body = &bytes[..keep.min(bytes.len() - 2)];
        let mut input = body.to_vec();
        input.push(0);
        let results = decode_all(&mut FrameDecoder::new(), &input);
        prop_assert!(results.iter().all(Result::is_err), "{:?}", results);
    }

    #[test]
    fn corrupted_frames_are_never_accepted_as_another_frame(
        f in frame(),
        flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..6),
    ) {
        // Any number of flipped bits: CRC-32 lets a random corruption through
        // with odds of 2^-32 (about 6e-8 over this test's 256 cases), so a
        // failure here means a real bug, not bad luck.
        let bytes = encode_vec(&f);
        let mut flipped = bytes.clone();
        for (at, bit) in flips {
            flipped[at % bytes.len()] ^= 1 << bit;
        }
        let mut decoder = FrameDecoder::new();
        let mut results = decode_all(&mut decoder, &flipped);
        results.extend(decode_all(&mut decoder, &[0]));
        for got in results.into_iter().flatten() {
            prop_assert_eq!(&got, &f, "corrupted bytes {:02X?} decoded to another frame", flipped);
        }
    }
}

proptest! {
    #[test]
    fn cobs_decoder_agrees_with_the_cobs_crate(packet in proptest::collection::vec(1u8..=255, 1..300)) {
        let mut ours = packet.clone();
        let mut theirs = packet;
        let want = cobs::decode_in_place(&mut theirs).ok();
        let got = cobs_decode_in_place(&mut ours);
        prop_assert_eq!(got, want);
        if let Some(n) = got {
            prop_assert_eq!(&ours[..n], &theirs[..n]);
        }
    }

    #[test]
    fn cobs_decoder_inverts_the_cobs_encoder(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut buf = std::vec![0u8; cobs::max_encoding_length(raw.len())];
        let n = cobs::encode(&raw, &mut buf);
        buf.truncate(n);
        prop_assert_eq!(cobs_decode_in_place(&mut buf).map(|n| buf[..n].to_vec()), Some(raw));
    }
}

#[test]
fn error_index_is_the_position_in_all() {
    for (i, e) in DecodeError::ALL.iter().enumerate() {
        assert_eq!(e.index(), i, "{e:?}");
    }
    assert_eq!(
        DecodeError::UnknownVersion(7).index(),
        DecodeError::UnknownVersion(0).index()
    );
}

#[test]
fn a_tag_decodes_downlinks_and_passes_over_uplinks_unparsed() {
    let mut bytes = Vec::new();
    let frames = every_variant();
    for frame in &frames {
        bytes.extend(encode_vec(frame));
    }
    // Line noise, then a frame whose CRC is broken.
    bytes.extend([0x55, 0x13, 0x00]);
    let mut bad = encode_vec(&frames[0]);
    bad[3] ^= 0x20;
    bytes.extend(bad);
    let expected: Vec<Result<Option<Downlink>, DecodeError>> = frames
        .iter()
        .map(|f| match &f.message {
            Message::Uplink(_) => Ok(None),
            Message::Downlink(d) => Ok(Some(d.clone())),
        })
        .chain([Err(DecodeError::Framing), Err(DecodeError::Crc)])
        .collect();
    let mut decoder = FrameDecoder::new();
    let got: Vec<_> = decoder.feed_downlinks(&bytes).collect();
    assert_eq!(got, expected);
    // The full decoder agrees on which packets are bad.
    let full: Vec<_> = FrameDecoder::new()
        .feed(&bytes)
        .filter_map(Result::err)
        .collect();
    assert_eq!(full, [DecodeError::Framing, DecodeError::Crc]);
}

#[test]
fn a_downlink_with_trailing_bytes_is_refused_by_the_tag_decoder() {
    // version 1, Downlink (1), Ack (0), tag 1, boot 2, seq 3, then a stray
    // byte: an uplink may be left unread, a downlink must end exactly.
    let payload = [0x01, 0x01, 0x00, 0x01, 0x02, 0x03, 0x07];
    let got: Vec<_> = FrameDecoder::new()
        .feed_downlinks(&wire(&payload))
        .collect();
    assert_eq!(got, [Err(DecodeError::Deserialize)]);
    let got: Vec<_> = FrameDecoder::new()
        .feed_downlinks(&wire(&payload[..6]))
        .collect();
    assert_eq!(
        got,
        [Ok(Some(Downlink::Ack {
            tag: 1,
            boot: 2,
            seq: 3
        }))]
    );
}
