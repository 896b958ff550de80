use super::*;
use protocol::{EpcBytes, TagEvent};
use std::vec::Vec;

fn picked(n: u8) -> TagEvent {
    TagEvent::PickedUp {
        epc: EpcBytes::new(&[0x30, n]).unwrap(),
    }
}

/// Everything the outbox sends at `now`.
fn drain<const N: usize>(outbox: &mut Outbox<N>, now: u64) -> Vec<Uplink> {
    core::iter::from_fn(|| outbox.poll_transmit(now)).collect()
}

#[test]
fn events_get_consecutive_sequence_numbers_and_are_sent_at_once() {
    let mut outbox = Outbox::<8>::new(7, 3);
    outbox.push(100, picked(1));
    outbox.push(150, TagEvent::DwellStart);
    let sent = drain(&mut outbox, 200);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].tag, sent[0].boot, sent[0].seq, sent[0].age_ms),
        (7, 3, 0, 100)
    );
    assert_eq!(
        (sent[1].seq, sent[1].age_ms, &sent[1].event),
        (1, 50, &TagEvent::DwellStart)
    );
}

#[test]
fn lost_acks_cause_retransmission_with_growing_backoff_and_fresh_age() {
    let mut outbox = Outbox::<8>::new(7, 3);
    outbox.push(0, picked(1));
    let mut sends = Vec::new();
    // Step through time in 100 ms ticks for ten minutes, never acking.
    for now in (0..600_000).step_by(100) {
        for uplink in drain(&mut outbox, now) {
            sends.push((now, uplink.age_ms));
        }
    }
    assert!(sends.len() >= 8, "{sends:?}");
    for (now, age) in &sends {
        assert_eq!(u64::from(*age), *now, "age_ms is recomputed at every send");
    }
    let gaps: Vec<u64> = sends.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps[0] >= FIRST_RETRY_MS);
    assert!(
        gaps[1] > gaps[0] && gaps[2] > gaps[1],
        "backoff grows: {gaps:?}"
    );
    assert!(
        gaps.iter().all(|&g| g <= MAX_RETRY_MS * 5 / 4 + 100),
        "backoff is capped: {gaps:?}"
    );
    assert_eq!(outbox.len(), 1, "an unacked event is never given up");
}

#[test]
fn ack_stops_retransmission_and_duplicate_or_stale_acks_are_harmless() {
    let mut outbox = Outbox::<8>::new(7, 3);
    let first = outbox.push(0, picked(1));
    let second = outbox.push(0, picked(2));
    assert_eq!(drain(&mut outbox, 0).len(), 2);

    assert!(outbox.on_ack(3, first));
    assert!(!outbox.on_ack(3, first), "duplicate ack");
    assert!(!outbox.on_ack(2, second), "ack from a previous boot");
    assert!(!outbox.on_ack(3, 999), "ack for an unknown seq");

    let resent = drain(&mut outbox, MAX_RETRY_MS * 2);
    assert_eq!(resent.iter().map(|u| u.seq).collect::<Vec<_>>(), [second]);
    assert!(outbox.on_ack(3, second));
    assert!(outbox.is_empty());
    assert_eq!(outbox.poll_timeout(), None);
    assert_eq!(drain(&mut outbox, MAX_RETRY_MS * 4), []);
}

#[test]
fn full_outbox_drops_the_oldest_and_counts_it() {
    let mut outbox = Outbox::<4>::new(7, 3);
    for n in 0..7 {
        outbox.push(u64::from(n), picked(n));
    }
    assert_eq!(outbox.dropped(), 3);
    let seqs: Vec<u16> = drain(&mut outbox, 10).iter().map(|u| u.seq).collect();
    assert_eq!(seqs, [3, 4, 5, 6]);
}

#[test]
fn poll_timeout_is_the_earliest_retransmission() {
    let mut outbox = Outbox::<4>::new(7, 3);
    assert_eq!(outbox.poll_timeout(), None);
    outbox.push(1_000, picked(1));
    assert_eq!(outbox.poll_timeout(), Some(1_000));
    drain(&mut outbox, 1_000);
    let due = outbox.poll_timeout().unwrap();
    assert!(due >= 1_000 + FIRST_RETRY_MS);
    assert_eq!(drain(&mut outbox, due - 1), []);
    assert_eq!(drain(&mut outbox, due).len(), 1);
}

#[test]
fn sequence_numbers_wrap_after_65535() {
    let mut outbox = Outbox::<2>::new(7, 3);
    for _ in 0..=u16::MAX {
        outbox.push(0, TagEvent::DwellStart);
    }
    assert_eq!(outbox.push(0, TagEvent::DwellStart), 0);
}
