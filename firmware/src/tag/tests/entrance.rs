//! A tag in the entrance role fed synthetic break-beam traces. Expected
//! counts come from the traces themselves: each walks a known number of
//! people through the door.

use crate::config::{Config, Role};
use crate::tag::{BootInfo, DownlinkEffect, Tag, FW_VERSION};
use protocol::{ConfigStatus, Downlink, ResetReason, TagEvent, Uplink};
use std::vec::Vec;

const ID: u32 = 0x0E17_0001;
/// The default count period.
const PERIOD: u64 = 60_000;

fn boot() -> BootInfo {
    BootInfo {
        boot: 3,
        reset_reason: ResetReason::PowerOn,
        config_status: ConfigStatus::Loaded,
    }
}

fn entrance_tag() -> Tag<8> {
    Tag::new(0, Config::fallback(ID, Role::Entrance), boot())
}

fn sent<const N: usize>(tag: &mut Tag<N>, now: u64) -> Vec<Uplink> {
    core::iter::from_fn(|| tag.poll_transmit(now)).collect()
}

/// Sends what is due at `now` and acks it, as a gateway in range does;
/// returns the events sent.
fn ack_all<const N: usize>(tag: &mut Tag<N>, now: u64) -> Vec<TagEvent> {
    let uplinks = sent(tag, now);
    for uplink in &uplinks {
        let ack = Downlink::Ack {
            tag: ID,
            boot: uplink.boot,
            seq: uplink.seq,
        };
        assert_eq!(tag.handle_downlink(now, &ack), DownlinkEffect::Acked);
    }
    uplinks.into_iter().map(|u| u.event).collect()
}

/// Feeds `steps` of (ms after `start`, beam A, beam B), returning the
/// events the samples produced.
fn walk<const N: usize>(
    tag: &mut Tag<N>,
    start: u64,
    steps: &[(u64, bool, bool)],
) -> Vec<TagEvent> {
    steps
        .iter()
        .filter_map(|&(dt, a, b)| tag.beam_sample(start + dt, a, b))
        .collect()
}

/// Someone walking in: breaks the street-side beam A, then B, clears A,
/// clears B.
const WALK_IN: [(u64, bool, bool); 4] = [
    (0, true, false),
    (150, true, true),
    (300, false, true),
    (450, false, false),
];

/// The mirror: store side first.
const WALK_OUT: [(u64, bool, bool); 4] = [
    (0, false, true),
    (150, true, true),
    (300, true, false),
    (450, false, false),
];

#[test]
fn a_person_walking_in_is_counted_once_at_the_end_of_the_period() {
    let mut tag = entrance_tag();
    ack_all(&mut tag, 0);
    assert_eq!(walk(&mut tag, 10_000, &WALK_IN), []);
    // Nothing until the period is over and its last changes have settled.
    let due = tag.poll_timeout(10_450);
    assert!(due > 10_450 && due <= PERIOD + 40, "due at {due}");
    assert_eq!(sent(&mut tag, PERIOD - 1), []);
    let now = PERIOD + 40;
    let uplinks = sent(&mut tag, now);
    let expected = TagEvent::Entries {
        entered: 1,
        exited: 0,
        period_ms: 60_000,
    };
    assert_eq!(
        uplinks.iter().map(|u| &u.event).collect::<Vec<_>>(),
        [&expected]
    );
    // Dated at the period's start (0), so the gateway stamps it there.
    assert_eq!(uplinks[0].age_ms, now as u32);
}

#[test]
fn a_person_walking_out_is_counted_as_exited() {
    let mut tag = entrance_tag();
    ack_all(&mut tag, 0);
    assert_eq!(walk(&mut tag, 5_000, &WALK_OUT), []);
    let uplinks = sent(&mut tag, PERIOD + 40);
    assert_eq!(
        uplinks.iter().map(|u| &u.event).collect::<Vec<_>>(),
        [&TagEvent::Entries {
            entered: 0,
            exited: 1,
            period_ms: 60_000
        }]
    );
}

fn heartbeat(beam_blocked: bool) -> TagEvent {
    TagEvent::EntranceHeartbeat {
        battery_mv: 0,
        fw: FW_VERSION,
        dropped: 0,
        beam_blocked,
    }
}

#[test]
fn a_beam_held_for_minutes_is_reported_blocked_at_once_and_counts_nobody() {
    let mut tag = entrance_tag();
    ack_all(&mut tag, 0);
    // A pram left across the street-side beam at 1 s, for three minutes;
    // someone squeezes past through the store-side beam meanwhile.
    assert_eq!(tag.beam_sample(1_000, true, false), None);
    let blocked_at = 1_000 + 20_000;
    assert_eq!(
        tag.poll_timeout(1_000),
        1_040,
        "wakes when the break settles"
    );
    assert_eq!(sent(&mut tag, 1_040), []);
    assert_eq!(
        tag.poll_timeout(1_040),
        blocked_at,
        "then to judge the block"
    );
    assert_eq!(sent(&mut tag, blocked_at - 1), []);
    assert_eq!(
        ack_all(&mut tag, blocked_at),
        [heartbeat(true)],
        "blocked is news now, not at the 300 s heartbeat"
    );
    walk(
        &mut tag,
        60_000,
        &[
            (0, true, true),
            (300, true, false),
            (400, true, true),
            (700, true, false),
        ],
    );
    // Cleared at 181 s: the next heartbeat says so.
    tag.beam_sample(181_000, false, false);
    assert_eq!(ack_all(&mut tag, 181_040), [heartbeat(false)]);
    // Nobody was counted in any period, so no Entries; the scheduled
    // heartbeat comes a full period after the last one.
    let events: Vec<_> = (182..=482)
        .flat_map(|s| ack_all(&mut tag, s * 1_000))
        .collect();
    assert_eq!(events, [heartbeat(false)]);
}
