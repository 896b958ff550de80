use super::*;
use protocol::SettingsPatch;

const TAG: u32 = 3001;
const NEW_FW: FwVersion = FIRST_CONFIRMING_FW;
const OLD_FW: FwVersion = FwVersion {
    major: 0,
    minor: 1,
    patch: 0,
};

fn at(ms: i64) -> UnixMillis {
    UnixMillis(ms)
}

fn identify(seq: i64, tag: u32, expires_at: i64) -> Pending {
    Pending {
        seq,
        tag,
        command: Command::Identify { duration_ms: 5_000 },
        source: Source::Local,
        expires_at: at(expires_at),
        delivered: false,
    }
}

fn configure(seq: i64, tag: u32, expires_at: i64) -> Pending {
    let mut changes = SettingsPatch::default();
    changes.set("pickup_k", 4).unwrap();
    Pending {
        command: Command::Configure { changes },
        ..identify(seq, tag, expires_at)
    }
}

fn states(updates: &[CommandUpdate]) -> Vec<(i64, CommandState, bool)> {
    updates
        .iter()
        .map(|u| (u.seq, u.state, u.is_final))
        .collect()
}

#[test]
fn sends_the_oldest_command_after_each_uplink_until_confirmed() {
    let mut q = CommandQueue::default();
    q.insert(identify(7, TAG, 10_000));
    q.insert(configure(8, TAG, 10_000));

    let first = q.on_heard(TAG, at(100));
    assert_eq!(
        first.downlink,
        Some(Downlink::Command {
            tag: TAG,
            id: 7,
            command: Command::Identify { duration_ms: 5_000 }
        })
    );
    assert_eq!(
        states(&first.updates),
        [(7, CommandState::Delivered, false)]
    );

    // Not confirmed yet: sent again, without a second `delivered`.
    let again = q.on_heard(TAG, at(200));
    assert!(matches!(
        again.downlink,
        Some(Downlink::Command { id: 7, .. })
    ));
    assert!(again.updates.is_empty());

    let done = q.on_done(TAG, 7, CommandOutcome::Applied, at(300)).unwrap();
    assert_eq!(
        (done.seq, done.state, done.is_final),
        (7, CommandState::Confirmed, true)
    );
    // A repeated confirmation finds nothing.
    assert_eq!(q.on_done(TAG, 7, CommandOutcome::Applied, at(310)), None);

    let next = q.on_heard(TAG, at(400));
    assert!(matches!(
        next.downlink,
        Some(Downlink::Command {
            id: 8,
            command: Command::Configure { .. },
            ..
        })
    ));
}

#[test]
fn other_tags_get_nothing_and_a_confirmation_must_name_tag_and_id() {
    let mut q = CommandQueue::default();
    q.insert(identify(7, TAG, 10_000));
    assert_eq!(q.on_heard(TAG + 1, at(100)), Heard::default());
    q.on_heard(TAG, at(100));
    assert_eq!(
        q.on_done(TAG + 1, 7, CommandOutcome::Applied, at(200)),
        None
    );
    assert_eq!(q.on_done(TAG, 8, CommandOutcome::Applied, at(200)), None);
    assert_eq!(q.len(), 1);
}

#[test]
fn maps_each_outcome_to_its_final_state() {
    for (outcome, state) in [
        (CommandOutcome::Applied, CommandState::Confirmed),
        (CommandOutcome::InvalidSettings, CommandState::RejectedByTag),
        (CommandOutcome::NotPersisted, CommandState::NotPersisted),
    ] {
        let mut q = CommandQueue::default();
        q.insert(configure(1, TAG, 10_000));
        q.on_heard(TAG, at(10));
        let u = q.on_done(TAG, 1, outcome, at(20)).unwrap();
        assert_eq!(u.state, state);
        assert!(u.is_final);
        assert_eq!(u.reason.is_some(), state != CommandState::Confirmed);
    }
}

#[test]
fn expires_commands_at_their_expiry_whether_sent_or_not() {
    let mut q = CommandQueue::default();
    q.insert(identify(1, TAG, 1_000));
    q.insert(identify(2, TAG + 1, 2_000));
    q.on_heard(TAG, at(500));
    assert!(q.expire(at(999)).is_empty());
    let first = q.expire(at(1_000));
    assert_eq!(states(&first), [(1, CommandState::Expired, true)]);
    assert!(first[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("did not confirm"));
    // An expired command is never sent, even before the expiry check.
    assert_eq!(q.on_heard(TAG + 1, at(2_000)).downlink, None);
    let second = q.expire(at(2_000));
    assert!(second[0].reason.as_deref().unwrap().contains("not heard"));
    assert_eq!(q.len(), 0);
}

#[test]
fn an_old_tag_gets_the_unnumbered_identify_and_no_configure() {
    let mut q = CommandQueue::default();
    q.note_firmware(TAG, OLD_FW);
    q.insert(identify(1, TAG, 10_000));
    q.insert(configure(2, TAG, 10_000));
    let first = q.on_heard(TAG, at(10));
    assert_eq!(
        first.downlink,
        Some(Downlink::Identify {
            tag: TAG,
            duration_ms: 5_000
        })
    );
    assert_eq!(states(&first.updates), [(1, CommandState::Delivered, true)]);
    assert!(first.updates[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("cannot confirm"));
    let second = q.on_heard(TAG, at(20));
    assert_eq!(second.downlink, None);
    assert_eq!(states(&second.updates), [(2, CommandState::Refused, true)]);
    assert_eq!(q.len(), 0);
}

#[test]
fn a_tag_that_upgraded_gets_numbered_commands() {
    let mut q = CommandQueue::default();
    q.note_firmware(TAG, OLD_FW);
    q.note_firmware(TAG, NEW_FW);
    q.insert(identify(1, TAG, 10_000));
    assert!(matches!(
        q.on_heard(TAG, at(10)).downlink,
        Some(Downlink::Command { .. })
    ));
}

#[test]
fn bounds_the_queue_per_tag_and_in_total() {
    let mut q = CommandQueue::default();
    for seq in 0..MAX_PER_TAG as i64 {
        assert_eq!(q.admit(TAG, None), Admission::Admit);
        q.insert(identify(seq, TAG, 10_000));
    }
    assert!(matches!(q.admit(TAG, None), Admission::Full(r) if r.contains("tag 3001")));
    let mut seq = 100;
    let mut tag = 1;
    while q.len() < MAX_QUEUED {
        assert_eq!(q.admit(tag, None), Admission::Admit);
        q.insert(identify(seq, tag, 10_000));
        seq += 1;
        tag += 1;
    }
    assert!(matches!(q.admit(99_999, None), Admission::Full(r) if r.contains("already holds")));
}

#[test]
fn queues_an_hq_command_id_once() {
    let mut q = CommandQueue::default();
    assert_eq!(q.admit(TAG, Some("hq-1")), Admission::Admit);
    q.insert(Pending {
        source: Source::Hq { id: "hq-1".into() },
        ..identify(1, TAG, 10_000)
    });
    assert_eq!(q.admit(TAG, Some("hq-1")), Admission::Duplicate);
    // Still a duplicate after the command ended.
    q.expire(at(10_000));
    assert_eq!(q.admit(TAG, Some("hq-1")), Admission::Duplicate);
    assert_eq!(q.admit(TAG, Some("hq-2")), Admission::Admit);
}

#[test]
fn wire_ids_wrap_with_the_row_id() {
    assert_eq!(identify(65_536 + 5, TAG, 0).wire_id(), 5);
    assert_eq!(identify(65_535, TAG, 0).wire_id(), 65_535);
}
