use super::*;
use crate::{EntranceSettings, PickupTuning};
use std::vec::Vec;

mod commands;
mod entrance;

const ID: u32 = 0x0A15_1E01;

fn boot() -> BootInfo {
    BootInfo {
        boot: 12,
        reset_reason: ResetReason::PowerOn,
        config_status: ConfigStatus::Loaded,
    }
}

fn epc() -> EpcBytes {
    EpcBytes::new(&[
        0x30, 0x14, 0x1D, 0x8A, 0x0C, 0x00, 0x02, 0x80, 0x00, 0x00, 0x30, 0x39,
    ])
    .unwrap()
}

fn motion_tag() -> Tag<8> {
    Tag::new(
        0,
        Config {
            tag: ID,
            role: Role::Motion,
            settings: Settings::default(),
            epc: Some(epc()),
            pickup: PickupTuning::default(),
            entrance: EntranceSettings::default(),
        },
        boot(),
    )
}

fn sent<const N: usize>(tag: &mut Tag<N>, now: u64) -> Vec<Uplink> {
    core::iter::from_fn(|| tag.poll_transmit(now)).collect()
}

#[test]
fn boot_event_is_sent_first_with_the_config_status() {
    let config = Config::fallback(ID, Role::Presence);
    let status = BootInfo {
        config_status: ConfigStatus::Corrupt,
        ..boot()
    };
    let mut tag = Tag::<8>::new(5, config, status);
    let uplinks = sent(&mut tag, 5);
    assert_eq!(uplinks.len(), 1);
    assert_eq!(
        (uplinks[0].tag, uplinks[0].boot, uplinks[0].seq),
        (ID, 12, 0)
    );
    assert_eq!(
        uplinks[0].event,
        TagEvent::Boot {
            fw: FW_VERSION,
            reset_reason: ResetReason::PowerOn,
            config: ConfigStatus::Corrupt
        }
    );
}

#[test]
fn pickup_carries_the_garments_epc() {
    let mut tag = motion_tag();
    for i in 0..20 {
        tag.accel_sample(i * 40, [0, 0, 1000]);
    }
    // Lifted and held tilted for 2 s.
    let events: Vec<_> = (20..70)
        .filter_map(|i| tag.accel_sample(i * 40, [600, 300, 700]))
        .collect();
    assert_eq!(events, [TagEvent::PickedUp { epc: epc() }]);
    let uplinks = sent(&mut tag, 2_800);
    assert_eq!(
        uplinks.last().map(|u| &u.event),
        Some(&TagEvent::PickedUp { epc: epc() })
    );
}

#[test]
fn unprovisioned_motion_tag_reports_no_pickups() {
    let mut tag = Tag::<8>::new(0, Config::fallback(ID, Role::Motion), boot());
    let events: Vec<_> = (0..40)
        .filter_map(|i| {
            tag.accel_sample(
                i * 40,
                if i < 20 {
                    [0, 0, 1000]
                } else {
                    [600, 300, 700]
                },
            )
        })
        .collect();
    assert_eq!(events, []);
}

#[test]
fn heartbeat_reports_battery_and_dropped_count_on_schedule() {
    let settings = Settings {
        heartbeat_s: 60,
        ..Settings::default()
    };
    let mut tag = Tag::<2>::new(
        0,
        Config {
            settings,
            ..Config::fallback(ID, Role::Presence)
        },
        boot(),
    );
    tag.set_battery_mv(2_950);
    // Three dwell visits while the gateway is away overflow the 2-slot outbox.
    for visit in 0..3u64 {
        let start = visit * 20_000 + 1_000;
        tag.presence_sample(start, true);
        tag.presence_sample(start + 9_000, true);
        tag.presence_sample(start + 10_000, false);
    }
    let is_heartbeat = |e: &TagEvent| matches!(e, TagEvent::Heartbeat { .. });
    let before: Vec<_> = core::iter::from_fn(|| tag.poll(59_999)).collect();
    assert_eq!(
        before,
        [TagEvent::DwellEnd { dwell_ms: 10_000 }],
        "no heartbeat before its time"
    );
    let heartbeat = core::iter::from_fn(|| tag.poll(60_000)).find(is_heartbeat);
    assert_eq!(
        heartbeat,
        Some(TagEvent::Heartbeat {
            battery_mv: 2_950,
            fw: FW_VERSION,
            dropped: tag.outbox().dropped()
        })
    );
    // Boot, 3 starts and 3 ends in 2 slots, and the heartbeat itself pushed
    // one more out: the heartbeat counts that one too.
    assert_eq!(tag.outbox().dropped(), 6);
    assert_eq!(tag.poll(119_999), None, "next heartbeat a period later");
    assert!(matches!(
        tag.poll(120_000),
        Some(TagEvent::Heartbeat { .. })
    ));
}

#[test]
fn dwell_end_is_reported_by_the_timer_without_a_new_sample() {
    let mut tag = Tag::<8>::new(0, Config::fallback(ID, Role::Presence), boot());
    tag.presence_sample(1_000, true);
    assert_eq!(tag.poll(9_000), Some(TagEvent::DwellStart));
    // The gateway acks everything, so only the dwell timer is left pending.
    for uplink in sent(&mut tag, 9_000) {
        tag.handle_downlink(
            9_000,
            &Downlink::Ack {
                tag: ID,
                boot: 12,
                seq: uplink.seq,
            },
        );
    }
    tag.presence_sample(20_000, false);
    let due = tag.poll_timeout(20_000);
    assert_eq!(due, 24_000);
    assert_eq!(tag.poll(due), Some(TagEvent::DwellEnd { dwell_ms: 19_000 }));
}

#[test]
fn ack_releases_the_event_and_other_tags_downlinks_are_ignored() {
    let mut tag = motion_tag();
    let boot_uplink = sent(&mut tag, 0).remove(0);
    let other = Downlink::Ack {
        tag: ID + 1,
        boot: 12,
        seq: boot_uplink.seq,
    };
    assert_eq!(tag.handle_downlink(10, &other), DownlinkEffect::Ignored);
    let ack = Downlink::Ack {
        tag: ID,
        boot: 12,
        seq: boot_uplink.seq,
    };
    assert_eq!(tag.handle_downlink(10, &ack), DownlinkEffect::Acked);
    assert_eq!(tag.handle_downlink(11, &ack), DownlinkEffect::Ignored);
    assert!(tag.outbox().is_empty());
}

#[test]
fn configure_changes_thresholds_of_the_running_detector() {
    let mut tag = Tag::<8>::new(0, Config::fallback(ID, Role::Presence), boot());
    let settings = Settings {
        dwell_min_ms: 2_000,
        ..Settings::default()
    };
    let effect = tag.handle_downlink(0, &Downlink::Configure { tag: ID, settings });
    assert_eq!(effect, DownlinkEffect::Configured);
    assert_eq!(tag.config().settings, settings);
    tag.presence_sample(1_000, true);
    assert_eq!(tag.presence_sample(3_000, true), Some(TagEvent::DwellStart));
}

#[test]
fn identify_blinks_for_the_requested_time_capped() {
    let mut tag = motion_tag();
    let effect = tag.handle_downlink(
        1_000,
        &Downlink::Identify {
            tag: ID,
            duration_ms: 10_000,
        },
    );
    assert_eq!(effect, DownlinkEffect::Identify { until_ms: 11_000 });
    assert!(tag.is_identifying(10_999));
    assert!(!tag.is_identifying(11_000));
    let effect = tag.handle_downlink(
        0,
        &Downlink::Identify {
            tag: ID,
            duration_ms: u32::MAX,
        },
    );
    assert_eq!(
        effect,
        DownlinkEffect::Identify {
            until_ms: u64::from(MAX_IDENTIFY_MS)
        }
    );
}

#[test]
fn fw_version_matches_the_crate_version() {
    let text = std::format!("{FW_VERSION}");
    assert_eq!(text, env!("CARGO_PKG_VERSION"));
}
