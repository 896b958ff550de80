//! Properties that must hold for any input: nothing panics on bad data, and
//! the outbox never loses an event silently.

use firmware::{Config, DwellDetector, Outbox, PickupDetector, PickupTuning, ReaderNode};
use proptest::prelude::*;
use protocol::{EpcBytes, Settings, TagEvent};

fn settings() -> impl Strategy<Value = Settings> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(threshold, k, m, still, min, gap, visit, heartbeat)| Settings {
                pickup_threshold_mg: threshold,
                pickup_k: k,
                pickup_m: m,
                still_ms: still,
                dwell_min_ms: min,
                dwell_gap_ms: gap,
                reader_visit_ms: visit,
                heartbeat_s: heartbeat,
            },
        )
}

#[derive(Debug, Clone)]
enum Op {
    Push,
    Ack(u16),
    Transmit,
    Wait(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Push),
        (0u16..40).prop_map(Op::Ack),
        Just(Op::Transmit),
        (0u32..100_000).prop_map(Op::Wait),
    ]
}

proptest! {
    #[test]
    fn config_page_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Config::from_image(&bytes);
    }

    #[test]
    fn detectors_never_panic_on_any_samples_or_settings(
        settings in settings(),
        tuning in (any::<u16>(), any::<u16>())
            .prop_map(|(tilt_mg, tilt_mg_s)| PickupTuning { tilt_mg, tilt_mg_s }),
        samples in proptest::collection::vec((0u64..10_000, any::<[i16; 3]>(), any::<bool>(), any::<u8>()), 0..200),
    ) {
        let mut pickup = PickupDetector::new(&settings, &tuning);
        let mut dwell = DwellDetector::new(&settings);
        let mut reader = ReaderNode::new(&settings);
        let mut now = 0u64;
        for (step, accel, present, garment) in samples {
            now += step;
            pickup.sample(now, accel);
            dwell.sample(now, present);
            dwell.poll(now);
            reader.read(now, EpcBytes::new(&[0x30, garment]).unwrap(), -40);
        }
    }

    /// Every event pushed is, at any moment, either acked, still pending or
    /// counted as dropped.
    #[test]
    fn outbox_accounts_for_every_event(ops in proptest::collection::vec(op(), 0..300)) {
        let mut outbox = Outbox::<8>::new(1, 1);
        let mut now = 0u64;
        let (mut pushed, mut acked) = (0u32, 0u32);
        for op in ops {
            match op {
                Op::Push => {
                    outbox.push(now, TagEvent::DwellStart);
                    pushed += 1;
                }
                Op::Ack(seq) => acked += u32::from(outbox.on_ack(1, seq)),
                Op::Transmit => while let Some(uplink) = outbox.poll_transmit(now) {
                    prop_assert!(u64::from(uplink.age_ms) <= now);
                },
                Op::Wait(ms) => now += u64::from(ms),
            }
            prop_assert_eq!(pushed, acked + outbox.len() as u32 + outbox.dropped());
        }
    }
}
