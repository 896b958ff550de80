//! The gateway process dying: a SIGKILL (power cut) loses nothing that was
//! acked to a tag, because acks follow the spool commit; and HQ learns of
//! it from the gateway's last will.

use aisle_system_tests::{
    assert_delivered, pickups, wait_until, Faults, GatewayRig, Subscriber, STEP,
};
use std::thread;

/// Power cuts per run: each lands at a random point of the commit/ack
/// cycle, so several make it likely one lands between an ack and a commit
/// if the gateway ever acked first.
const KILLS: usize = 3;

#[test]
fn sigkill_mid_stream_loses_no_acked_event_after_restart_on_the_same_spool() {
    let mut rig = GatewayRig::new(|_| {});
    rig.start_gateway();
    let garments: Vec<u32> = rig.store.garment_tags().collect();
    let total = 60 * garments.len();
    let args = rig.args.clone();
    let (tags, sub, gateway) = (&rig.tags, &rig.sub, rig.gateway.as_mut().unwrap());
    let acked_at_last_kill = thread::scope(|s| {
        s.spawn(|| {
            // The tags keep retransmitting unacked events while the gateway
            // is down, as real outboxes do.
            for chunk in 0..15u16 {
                tags.deliver(
                    &pickups(garments.iter().copied(), 1, chunk * 4..chunk * 4 + 4),
                    STEP,
                );
            }
        });
        let mut acked = 0;
        for kill in 1..=KILLS {
            let target = acked + 20;
            wait_until("more acks before the next kill", STEP, || {
                (tags.acked().len() >= target).then_some(())
            });
            acked = tags.acked().len();
            gateway.kill9();
            *gateway = args.spawn();
            wait_until("deliveries after the restart", STEP, || {
                (sub.distinct_delivered() >= 20 * kill).then_some(())
            });
        }
        acked
    });
    assert!(
        acked_at_last_kill < total,
        "the stream ended before the last kill; nothing was mid-stream"
    );
    assert_delivered(
        rig.store_id(),
        &rig.tags,
        &rig.sub,
        Faults::Resends(KILLS),
        STEP,
    );
}

#[test]
fn restart_after_sigkill_sends_the_spooled_backlog_without_new_traffic() {
    let mut rig = GatewayRig::new(|_| {});
    rig.broker.stop();
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..10), STEP);
    rig.gateway().kill9();
    rig.broker.start_again();
    // No tag sends anything now: the backlog must go out on its own.
    rig.start_gateway();
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
}

#[test]
fn sigterm_with_the_broker_down_exits_zero_and_keeps_events_for_the_next_start() {
    let mut rig = GatewayRig::new(|store| store.shutdown_grace_s = Some(1.0));
    rig.broker.stop();
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..5), STEP);
    rig.gateway().sigterm();
    let status = rig.gateway().wait_exit(STEP);
    assert!(
        status.success(),
        "gateway exited with {status} after SIGTERM with no broker"
    );

    rig.broker.start_again();
    rig.start_gateway();
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
}

#[test]
fn a_gateway_that_vanishes_leaves_its_last_will_as_the_retained_status() {
    let mut rig = GatewayRig::new(|_| {});
    rig.start_gateway();
    rig.sub
        .wait_status("an online status", STEP, |s| s["state"] == "online");
    rig.gateway().kill9();
    let will = rig.sub.wait_status("the last will", STEP, |s| {
        s["state"] == "offline" && s["reason"] == "connection lost"
    });
    assert_eq!(will["store"], rig.store_id(), "{will}");
    // Retained: an observer connecting now is told the same.
    let late = Subscriber::connect(&rig.broker.observer_url());
    let retained = late.wait_status("the retained status", STEP, |_| true);
    assert_eq!(retained["reason"], "connection lost", "{retained}");
}
