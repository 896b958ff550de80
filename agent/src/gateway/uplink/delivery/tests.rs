//! Every transition of the delivery state machine, with a fixed jitter seed
//! and a hand-moved clock.

use super::*;

const LINGER: Duration = Duration::from_millis(200);
const MAX_EVENTS: usize = 100;
const MAX_BYTES: usize = 64 * 1024;
/// The JSON size of every event in these tests.
const EVENT_BYTES: usize = 200;

fn delivery() -> Delivery {
    Delivery::new(MAX_EVENTS, MAX_BYTES, LINGER, Jitter::seeded(7))
}

fn connected(t0: Instant) -> Delivery {
    let mut d = delivery();
    assert!(d.may_connect(t0));
    d.on_connack(None);
    d
}

fn batch(first: i64, last: i64) -> BatchRef {
    BatchRef {
        first,
        last,
        count: (last - first + 1) as usize,
        bytes: (last - first + 1) as usize * EVENT_BYTES,
        id: format!("b{first}"),
    }
}

/// Requests the batch `poll_publish` asks for as if the spool held every
/// id up to head, and has rumqttc write it with `pkid`.
fn send(d: &mut Delivery, now: Instant, pkid: u16) -> BatchRef {
    let fetch = d.poll_publish(now).expect("a batch is due");
    let fits = (fetch.max_bytes / EVENT_BYTES).clamp(1, fetch.max_events);
    let last = (fetch.after + fits as i64).min(d.head);
    let b = batch(fetch.after + 1, last);
    d.on_batch_requested(b.clone());
    d.on_outgoing(pkid);
    b
}

#[test]
fn nothing_is_published_before_the_first_connack() {
    let t0 = Instant::now();
    let mut d = delivery();
    d.on_head(500);
    assert!(!d.is_connected());
    assert_eq!(d.poll_publish(t0), None);
    assert_eq!(d.poll_timeout(), None, "the first attempt starts at once");
}

#[test]
fn a_full_batch_goes_at_once_from_the_oldest_event() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(250);
    assert_eq!(
        d.poll_publish(t0),
        Some(Fetch {
            after: 0,
            max_events: MAX_EVENTS,
            max_bytes: MAX_BYTES
        })
    );
    d.on_batch_requested(batch(1, 100));
    let next = d.poll_publish(t0).unwrap();
    assert_eq!(next.after, 100, "the next batch continues after the last");
}

#[test]
fn a_partial_batch_waits_for_its_linger() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(3);
    assert_eq!(d.poll_publish(t0), None);
    assert_eq!(d.poll_timeout(), Some(t0 + LINGER));
    assert_eq!(d.poll_publish(t0 + LINGER - Duration::from_millis(1)), None);
    assert!(d.poll_publish(t0 + LINGER).is_some());
    d.on_batch_requested(batch(1, 3));
    assert_eq!(d.poll_publish(t0 + LINGER), None, "caught up");
    assert_eq!(d.poll_timeout(), None);
}

#[test]
fn at_most_the_inflight_window_of_batches_await_puback() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(10_000);
    for pkid in 1..=MAX_INFLIGHT_BATCHES as u16 {
        send(&mut d, t0, pkid);
    }
    assert_eq!(d.poll_publish(t0), None, "window full");
    assert_eq!(d.poll_timeout(), None, "nothing to wake for but a PUBACK");
    assert!(d.on_puback(1).is_some());
    assert!(d.poll_publish(t0).is_some(), "a PUBACK opens the window");
}

#[test]
fn puback_releases_the_batch_it_carried_and_nothing_for_other_publishes() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_other_requested();
    d.on_outgoing(1);
    d.on_head(100);
    let b = send(&mut d, t0, 2);
    assert_eq!(d.on_puback(1), None, "a status publish carries no batch");
    assert_eq!(d.on_puback(2), Some(b));
    assert_eq!(d.on_puback(2), None, "a repeated PUBACK releases nothing");
}

#[test]
fn every_reconnect_resends_from_the_oldest_undelivered_event() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(300);
    send(&mut d, t0, 1);
    send(&mut d, t0, 2);
    assert!(d.on_puback(1).is_some());
    let out = d.on_error(t0);
    assert!(out.was_connected);
    assert!(!d.is_connected());
    assert_eq!(d.poll_publish(t0), None, "nothing goes out while down");
    assert_eq!(d.on_puback(2), None, "the old connection's acks are void");
    d.on_connack(None);
    // The spool deleted batch 1 on its PUBACK; "after 0" reads from the
    // oldest row still there, including the unacked batch 2.
    assert_eq!(d.poll_publish(t0).map(|f| f.after), Some(0));
}

#[test]
fn reconnects_back_off_doubling_with_jitter_up_to_the_cap() {
    let t0 = Instant::now();
    let mut d = delivery();
    let mut base = MIN_RECONNECT;
    let mut now = t0;
    for _ in 0..8 {
        let out = d.on_error(now);
        let wait = out.retry_at - now;
        assert!(
            wait >= base && wait < base * 3 / 2,
            "{wait:?} for base {base:?}"
        );
        assert_eq!(d.poll_timeout(), Some(out.retry_at));
        assert!(!d.may_connect(out.retry_at - Duration::from_millis(1)));
        assert!(d.may_connect(out.retry_at));
        now = out.retry_at;
        base = (base * 2).min(MAX_RECONNECT);
    }
    assert_eq!(base, MAX_RECONNECT);
    d.on_connack(None);
    let wait = d.on_error(now).retry_at - now;
    assert!(wait < MIN_RECONNECT * 3 / 2, "a ConnAck resets the backoff");
}

#[test]
fn jitter_is_reproducible_from_its_seed_and_spreads_delays() {
    let base = Duration::from_secs(2);
    let delays = |seed| {
        let mut j = Jitter::seeded(seed);
        (0..200).map(|_| j.spread(base)).collect::<Vec<_>>()
    };
    assert_eq!(delays(1), delays(1));
    assert_ne!(delays(1), delays(2));
    let all = delays(3);
    assert!(all.iter().all(|d| *d >= base && *d < base * 3 / 2));
    let distinct: std::collections::HashSet<_> = all.iter().collect();
    assert!(
        distinct.len() > 50,
        "only {} distinct delays",
        distinct.len()
    );
}

#[test]
fn only_the_first_failure_of_an_outage_is_reported() {
    let t0 = Instant::now();
    let mut d = delivery();
    assert!(d.on_error(t0).first);
    assert!(!d.on_error(t0).first);
    d.on_connack(None);
    let lost = d.on_error(t0);
    assert!(lost.first && lost.was_connected);
    let retry = d.on_error(t0);
    assert!(!retry.first && !retry.was_connected);
}

#[test]
fn draining_sends_a_partial_batch_at_once_and_ends_when_all_is_acked() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(2);
    assert_eq!(d.poll_publish(t0), None, "lingering");
    assert!(!d.is_draining());
    d.on_shutdown();
    assert!(d.is_draining());
    let b = send(&mut d, t0, 1);
    assert!(!d.is_drained(0), "receivers may still flush");
    d.on_ingest_done();
    assert!(!d.is_drained(0), "batch awaits its PUBACK");
    assert_eq!(d.on_puback(1), Some(b));
    assert!(!d.is_drained(2), "the spool has not deleted it yet");
    assert!(d.is_drained(0));
}

#[test]
fn not_draining_is_never_drained() {
    let mut d = connected(Instant::now());
    d.on_ingest_done();
    assert!(!d.is_drained(0));
}

#[test]
fn events_dropped_at_the_cap_are_skipped() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(500);
    assert!(d.poll_publish(t0).is_some());
    d.on_nothing_fetched();
    assert_eq!(d.poll_publish(t0), None, "nothing left up to head");
    d.on_head(600);
    assert_eq!(d.poll_publish(t0).map(|f| f.after), Some(500));
}

#[test]
fn a_broker_closing_twice_on_the_same_batch_gets_smaller_batches() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(100);
    send(&mut d, t0, 1);
    assert_eq!(d.on_error(t0).shrunk_to, None, "one loss is bad luck");
    d.on_connack(None);
    send(&mut d, t0, 1);
    let shrunk = MAX_BYTES / SHRINK_FACTOR;
    assert_eq!(d.on_error(t0).shrunk_to, Some(shrunk));
    d.on_connack(None);
    assert_eq!(d.poll_publish(t0).map(|f| f.max_bytes), Some(shrunk));
}

#[test]
fn a_loss_with_a_different_or_no_batch_on_the_wire_does_not_shrink() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(200);
    send(&mut d, t0, 1);
    d.on_error(t0);
    d.on_connack(None);
    // Nothing written this time: the loss says nothing about batch size.
    assert_eq!(d.on_error(t0).shrunk_to, None);
    d.on_connack(None);
    send(&mut d, t0, 1);
    assert_eq!(d.on_error(t0).shrunk_to, None, "the count started over");
    d.on_connack(None);
    let b = send(&mut d, t0, 1);
    assert_eq!(d.on_puback(1), Some(b), "acked: the batch was fine");
    send(&mut d, t0, 2);
    assert_eq!(d.on_error(t0).shrunk_to, None);
    d.on_connack(None);
    assert_eq!(d.poll_publish(t0).map(|f| f.max_bytes), Some(MAX_BYTES));
}

#[test]
fn a_single_event_batch_is_never_shrunk_below_one_event() {
    let t0 = Instant::now();
    let mut d = Delivery::new(1, MAX_BYTES, LINGER, Jitter::seeded(1));
    d.on_connack(None);
    d.on_head(1);
    for _ in 0..4 {
        d.on_connack(None);
        send(&mut d, t0, 1);
        assert_eq!(d.on_error(t0).shrunk_to, None);
    }
}

/// Connected with 100 events spooled, all of them written in one batch
/// with packet id 1.
fn one_batch_on_the_wire(t0: Instant) -> (Delivery, BatchRef) {
    let mut d = connected(t0);
    d.on_head(100);
    let b = send(&mut d, t0, 1);
    (d, b)
}

#[test]
fn batches_fit_under_the_brokers_maximum_packet_size() {
    let t0 = Instant::now();
    let mut d = delivery().with_packet_overhead(300);
    d.on_connack(Some(2_300));
    d.on_head(100);
    assert_eq!(d.poll_publish(t0).map(|f| f.max_bytes), Some(2_000));
    d.on_error(t0);
    d.on_connack(None);
    assert_eq!(
        d.poll_publish(t0).map(|f| f.max_bytes),
        Some(MAX_BYTES),
        "a broker without a limit gets the configured batches"
    );
}

#[test]
fn a_batch_refused_as_too_large_goes_again_in_halves_from_its_first_event() {
    let t0 = Instant::now();
    let (mut d, b) = one_batch_on_the_wire(t0);
    assert_eq!(b.count, 100);
    assert_eq!(
        d.on_refused(1, Refusal::TooLarge, t0),
        Some(Verdict::Split {
            batch: b.clone(),
            max_bytes: b.bytes / 2
        })
    );
    assert_eq!(d.on_puback(1), None, "a refused batch is never delivered");
    let again = send(&mut d, t0, 2);
    assert_eq!((again.first, again.last), (1, 50));
    assert!(again.bytes <= b.bytes / 2);
}

#[test]
fn a_single_event_refused_as_too_large_is_quarantined_and_passed_over() {
    let t0 = Instant::now();
    let mut d = Delivery::new(1, MAX_BYTES, LINGER, Jitter::seeded(1));
    d.on_connack(None);
    d.on_head(2);
    let b = send(&mut d, t0, 1);
    assert_eq!(
        d.on_refused(1, Refusal::TooLarge, t0),
        Some(Verdict::Quarantine(b))
    );
    assert_eq!(
        d.poll_publish(t0).map(|f| f.after),
        Some(1),
        "the next event goes; the refused one is not resent"
    );
}

#[test]
fn a_batch_refused_for_another_reason_goes_again_after_a_growing_backoff() {
    let t0 = Instant::now();
    let (mut d, b) = one_batch_on_the_wire(t0);
    let Some(Verdict::Retry { batch, retry_at }) = d.on_refused(1, Refusal::Other, t0) else {
        panic!("a refusal that is not about size is retried");
    };
    assert_eq!(batch, b);
    assert!(retry_at >= t0 + MIN_RECONNECT && retry_at <= t0 + MIN_RECONNECT * 3 / 2);
    assert_eq!(d.poll_publish(t0), None, "nothing goes during the backoff");
    assert_eq!(d.poll_timeout(), Some(retry_at));
    let again = send(&mut d, retry_at, 2);
    assert_eq!(again.first, 1, "from the refused batch's first event");
    let Some(Verdict::Retry {
        retry_at: second, ..
    }) = d.on_refused(2, Refusal::Other, retry_at)
    else {
        panic!("refused again");
    };
    assert!(
        second >= retry_at + MIN_RECONNECT * 2,
        "the backoff doubles"
    );
}

#[test]
fn a_refusal_without_a_packet_id_is_the_oldest_unanswered_publish() {
    let t0 = Instant::now();
    let mut d = connected(t0);
    d.on_head(100);
    d.on_other_requested();
    d.on_outgoing(1);
    let b = send(&mut d, t0, 2);
    assert_eq!(
        d.on_oldest_refused(t0),
        None,
        "the status went first: it was the one refused"
    );
    assert_eq!(d.on_puback(2), Some(b.clone()), "the batch is untouched");

    let mut d = connected(t0);
    d.on_head(100);
    d.on_other_requested();
    d.on_outgoing(1);
    let b = send(&mut d, t0, 2);
    assert_eq!(d.on_puback(1), None, "the status was acknowledged");
    assert!(matches!(
        d.on_oldest_refused(t0),
        Some(Verdict::Split { batch, .. }) if batch == b
    ));
}

#[test]
fn a_fetched_batch_over_the_brokers_limit_is_not_sent() {
    let t0 = Instant::now();
    let mut d = delivery();
    d.on_connack(Some(1_000));
    d.on_head(200);
    assert_eq!(d.check_fit(batch(1, 4), 1_000), Ok(batch(1, 4)));
    let Err(Verdict::Split { max_bytes, .. }) = d.check_fit(batch(1, 4), 1_500) else {
        panic!("four events over the limit are split");
    };
    assert!(max_bytes <= 1_000 - 500, "{max_bytes}");
    assert_eq!(
        d.check_fit(batch(1, 1), 1_500),
        Err(Verdict::Quarantine(batch(1, 1)))
    );
    assert_eq!(d.poll_publish(t0).map(|f| f.after), Some(1));
}
