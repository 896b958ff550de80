//! Numbered commands: carried out once, confirmed through the outbox.

use super::{epc, motion_tag, sent, ID};
use crate::config::{Config, Role};
use crate::tag::{BootInfo, DownlinkEffect, Tag, FW_VERSION, MAX_IDENTIFY_MS};
use protocol::{
    Command, CommandOutcome, ConfigStatus, Downlink, ResetReason, Settings, SettingsPatch,
    TagEvent, FIRST_FW_WITH_COMMANDS,
};
use std::vec::Vec;

fn command(id: u16, command: Command) -> Downlink {
    Downlink::Command {
        tag: ID,
        id,
        command,
    }
}

/// A Configure command changing the named settings.
fn configure(id: u16, changes: &[(&str, u32)]) -> Downlink {
    let mut patch = SettingsPatch::default();
    for &(name, value) in changes {
        patch.set(name, value).unwrap();
    }
    command(id, Command::Configure { changes: patch })
}

fn identify(id: u16, duration_ms: u32) -> Downlink {
    command(id, Command::Identify { duration_ms })
}

/// The confirmations the tag sends at `now`, in order.
fn confirmations<const N: usize>(tag: &mut Tag<N>, now: u64) -> Vec<(u16, CommandOutcome)> {
    sent(tag, now)
        .into_iter()
        .filter_map(|u| match u.event {
            TagEvent::CommandDone { id, outcome } => Some((id, outcome)),
            _ => None,
        })
        .collect()
}

fn presence_tag() -> Tag<8> {
    let boot = BootInfo {
        boot: 1,
        reset_reason: ResetReason::PowerOn,
        config_status: ConfigStatus::Loaded,
    };
    Tag::new(0, Config::fallback(ID, Role::Presence), boot)
}

#[test]
fn an_identify_command_blinks_as_the_unnumbered_one_and_is_confirmed() {
    let mut tag = motion_tag();
    let effect = tag.handle_downlink(1_000, &identify(3, 10_000));
    assert_eq!(effect, DownlinkEffect::Identify { until_ms: 11_000 });
    assert!(tag.is_identifying(10_999));
    assert!(!tag.is_identifying(11_000));
    assert_eq!(
        confirmations(&mut tag, 1_000),
        [(3, CommandOutcome::Applied)]
    );
    // The same cap as the unnumbered Identify.
    let effect = tag.handle_downlink(2_000, &identify(4, u32::MAX));
    assert_eq!(
        effect,
        DownlinkEffect::Identify {
            until_ms: 2_000 + u64::from(MAX_IDENTIFY_MS)
        }
    );
}

#[test]
fn a_configure_command_changes_only_what_it_names_and_is_confirmed_once_stored() {
    let mut tag = presence_tag();
    let effect = tag.handle_downlink(0, &configure(9, &[("dwell_min_ms", 2_000)]));
    assert_eq!(effect, DownlinkEffect::ConfiguredByCommand { id: 9 });
    let expected = Settings {
        dwell_min_ms: 2_000,
        ..Settings::default()
    };
    assert_eq!(tag.config().settings, expected);
    // Nothing is confirmed before the shell says whether the page took it.
    assert_eq!(confirmations(&mut tag, 0), []);
    tag.config_stored(0, 9, true);
    assert_eq!(confirmations(&mut tag, 0), [(9, CommandOutcome::Applied)]);
    // The running detector uses the new minimum: 2 s of presence is a dwell.
    tag.presence_sample(1_000, true);
    assert_eq!(tag.presence_sample(3_000, true), Some(TagEvent::DwellStart));
}

#[test]
fn a_configure_that_would_leave_invalid_thresholds_changes_nothing_and_says_so() {
    let mut tag = presence_tag();
    // The default window is 4 of 6: K = 7 is more than the window holds.
    let effect = tag.handle_downlink(0, &configure(1, &[("pickup_k", 7)]));
    assert_eq!(effect, DownlinkEffect::Confirmed);
    assert_eq!(tag.config().settings, Settings::default());
    // A heartbeat every second would crowd the channel.
    let effect = tag.handle_downlink(0, &configure(2, &[("heartbeat_s", 1)]));
    assert_eq!(effect, DownlinkEffect::Confirmed);
    assert_eq!(tag.config().settings, Settings::default());
    assert_eq!(
        confirmations(&mut tag, 0),
        [
            (1, CommandOutcome::InvalidSettings),
            (2, CommandOutcome::InvalidSettings)
        ]
    );
}

#[test]
fn a_configure_the_page_did_not_take_is_confirmed_not_persisted_but_in_force() {
    let mut tag = presence_tag();
    tag.handle_downlink(0, &configure(5, &[("dwell_gap_ms", 9_000)]));
    tag.config_stored(0, 5, false);
    assert_eq!(
        confirmations(&mut tag, 0),
        [(5, CommandOutcome::NotPersisted)]
    );
    assert_eq!(tag.config().settings.dwell_gap_ms, 9_000);
}

#[test]
fn a_repeated_command_is_confirmed_again_but_not_carried_out_again() {
    let mut tag = presence_tag();
    tag.handle_downlink(0, &configure(7, &[("dwell_min_ms", 2_000)]));
    tag.config_stored(0, 7, true);
    // An older gateway's unnumbered Configure changes the threshold again;
    // a late resend of command 7 must not undo that.
    let later = Settings {
        dwell_min_ms: 3_000,
        ..Settings::default()
    };
    tag.handle_downlink(
        10,
        &Downlink::Configure {
            tag: ID,
            settings: later,
        },
    );
    let effect = tag.handle_downlink(20, &configure(7, &[("dwell_min_ms", 2_000)]));
    assert_eq!(effect, DownlinkEffect::Confirmed);
    assert_eq!(tag.config().settings, later);
    assert_eq!(
        confirmations(&mut tag, 20),
        [(7, CommandOutcome::Applied), (7, CommandOutcome::Applied)]
    );

    // A repeated Identify does not restart the blink.
    tag.handle_downlink(1_000, &identify(8, 2_000));
    assert_eq!(
        tag.handle_downlink(2_500, &identify(8, 2_000)),
        DownlinkEffect::Confirmed
    );
    assert!(!tag.is_identifying(3_000));

    // A repeat of a refused command is refused again, not retried.
    tag.handle_downlink(4_000, &configure(9, &[("pickup_m", 0)]));
    tag.handle_downlink(4_100, &configure(9, &[("pickup_m", 0)]));
    let done = confirmations(&mut tag, 4_100);
    assert_eq!(
        done[done.len() - 2..],
        [
            (9, CommandOutcome::InvalidSettings),
            (9, CommandOutcome::InvalidSettings)
        ]
    );
}

#[test]
fn another_tags_command_is_ignored() {
    let mut tag = presence_tag();
    let before = tag.outbox().len();
    let other = Downlink::Command {
        tag: ID + 1,
        id: 1,
        command: Command::Identify { duration_ms: 5_000 },
    };
    assert_eq!(tag.handle_downlink(0, &other), DownlinkEffect::Ignored);
    assert!(!tag.is_identifying(1));
    assert_eq!(tag.outbox().len(), before);
    // Nor does it count as this tag's last command.
    assert_eq!(
        tag.handle_downlink(0, &identify(1, 5_000)),
        DownlinkEffect::Identify { until_ms: 5_000 }
    );
}

/// Hangs the garment still for 0.8 s, then lifts it and holds it tilted
/// for 2 s (as `pickup_carries_the_garments_epc`): 735 mg from rest.
fn lift<const N: usize>(tag: &mut Tag<N>, from_ms: u64) -> Vec<TagEvent> {
    for i in 0..20 {
        tag.accel_sample(from_ms + i * 40, [0, 0, 1000]);
    }
    (20..70)
        .filter_map(|i| tag.accel_sample(from_ms + i * 40, [600, 300, 700]))
        .collect()
}

#[test]
fn a_raised_pickup_threshold_stops_a_lift_from_counting() {
    // |(600, 300, 700) − (0, 0, 1000)| = √540 000 ≈ 735 mg: a pickup at the
    // default 150 mg, not at 800 mg.
    assert_eq!(
        lift(&mut motion_tag(), 0),
        [TagEvent::PickedUp { epc: epc() }]
    );
    let mut tag = motion_tag();
    let effect = tag.handle_downlink(0, &configure(1, &[("pickup_threshold_mg", 800)]));
    assert_eq!(effect, DownlinkEffect::ConfiguredByCommand { id: 1 });
    tag.config_stored(0, 1, true);
    assert_eq!(lift(&mut tag, 0), []);
}

#[test]
fn this_firmware_confirms_commands() {
    assert!(FW_VERSION >= FIRST_FW_WITH_COMMANDS);
}
