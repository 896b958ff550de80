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

#[test]
fn a_turn_back_and_flicker_count_nobody_and_send_nothing() {
    let mut tag = entrance_tag();
    ack_all(&mut tag, 0);
    // Steps into the street-side beam and goes back out to the street.
    walk(&mut tag, 3_000, &[(0, true, false), (400, false, false)]);
    // Sunlight on the store-side beam: 15 ms blips, under min_break_ms.
    walk(
        &mut tag,
        9_000,
        &[
            (0, false, true),
            (15, false, false),
            (500, true, false),
            (510, false, false),
        ],
    );
    let events: Vec<_> = (1..=3 * PERIOD / 1_000)
        .flat_map(|s| ack_all(&mut tag, s * 1_000))
        .filter(|e| !matches!(e, TagEvent::EntranceHeartbeat { .. }))
        .collect();
    assert_eq!(events, [], "no passage, so no Entries in any period");
}

#[test]
fn two_people_walking_in_close_together_count_as_two() {
    let mut tag = entrance_tag();
    ack_all(&mut tag, 0);
    // The second breaks the street-side beam while the first is still in
    // the store-side one.
    walk(
        &mut tag,
        7_000,
        &[
            (0, true, false),
            (150, true, true),
            (300, false, true),
            (400, true, true),
            (500, true, false),
            (600, true, true),
            (750, false, true),
            (900, false, false),
        ],
    );
    assert_eq!(
        ack_all(&mut tag, PERIOD + 40),
        [TagEvent::Entries {
            entered: 2,
            exited: 0,
            period_ms: 60_000
        }]
    );
}

#[test]
fn counts_go_once_per_period_and_only_for_periods_with_people() {
    let mut tag = entrance_tag();
    ack_all(&mut tag, 0);
    // Two in and one out in period 0, nobody in period 1, one out in
    // period 2.
    walk(&mut tag, 1_000, &WALK_IN);
    walk(&mut tag, 20_000, &WALK_IN);
    walk(&mut tag, 40_000, &WALK_OUT);
    walk(&mut tag, 2 * PERIOD + 30_000, &WALK_OUT);
    let entries: Vec<_> = (1..=4 * PERIOD / 100)
        .flat_map(|t| ack_all(&mut tag, t * 100))
        .filter(|e| matches!(e, TagEvent::Entries { .. }))
        .collect();
    let period = |entered, exited| TagEvent::Entries {
        entered,
        exited,
        period_ms: 60_000,
    };
    assert_eq!(entries, [period(2, 1), period(0, 1)]);
}

#[test]
fn entries_are_resent_with_growing_age_until_acked_then_never() {
    let mut tag = entrance_tag();
    ack_all(&mut tag, 0);
    walk(&mut tag, 1_000, &WALK_IN);
    // No gateway in range for a while: every send of the event is lost.
    let mut sends = Vec::new();
    for t in (PERIOD..PERIOD + 30_000).step_by(10) {
        for uplink in sent(&mut tag, t) {
            if matches!(uplink.event, TagEvent::Entries { .. }) {
                sends.push((t, uplink.seq, uplink.age_ms));
            }
        }
    }
    assert!(sends.len() >= 3, "resent while unacked: {sends:?}");
    assert!(
        sends.iter().all(|&(_, seq, _)| seq == sends[0].1),
        "one event"
    );
    // Dated at the period's start (0): the age is the time of sending.
    assert!(sends.iter().all(|&(t, _, age)| u64::from(age) == t));
    // The gateway hears the next copy and acks it; nothing is resent.
    let now = PERIOD + 30_000;
    let ack = Downlink::Ack {
        tag: ID,
        boot: 3,
        seq: sends[0].1,
    };
    assert_eq!(tag.handle_downlink(now, &ack), DownlinkEffect::Acked);
    let later: Vec<_> = (0..600)
        .flat_map(|s| sent(&mut tag, now + s * 1_000))
        .filter(|u| matches!(u.event, TagEvent::Entries { .. }))
        .collect();
    assert_eq!(later, []);
}
