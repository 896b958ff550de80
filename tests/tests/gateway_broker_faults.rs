//! HQ's broker going away: the gateway keeps acking tags from its spool and
//! sends everything once the broker is back.

use aisle_system_tests::delivery::ids_of;
use aisle_system_tests::mosquitto::{Mosquitto, MosquittoOptions};
use aisle_system_tests::{assert_delivered, pickups, wait_until, Faults, GatewayRig, STEP};
use std::thread;

/// Rounds of 4 pickups per garment the tags send while the fault happens.
const CHUNKS: u16 = 30;

#[test]
fn spools_while_the_broker_is_down_at_start_and_delivers_when_it_comes_up() {
    let mut rig = GatewayRig::new(|_| {});
    // The observer's persistent session exists; now HQ's broker goes away.
    rig.broker.stop();
    rig.start_gateway();
    let events = pickups(rig.store.garment_tags(), 1, 0..20);
    // Acks need only the spool, not the broker.
    rig.tags.deliver(&events, STEP);
    assert!(
        rig.gateway().is_running(),
        "gateway gave up without a broker"
    );

    rig.broker.start_again();
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
}

#[test]
fn resends_unacked_batches_after_the_broker_restarts_mid_stream() {
    let mut rig = GatewayRig::new(|_| {});
    rig.start_gateway();
    let garments: Vec<u32> = rig.store.garment_tags().collect();
    let total = CHUNKS as usize * 4 * garments.len();
    let store = rig.store.store.clone();
    let (tags, sub, broker) = (&rig.tags, &rig.sub, &mut rig.broker);
    let acked_at_restart = thread::scope(|s| {
        s.spawn(|| {
            for chunk in 0..CHUNKS {
                tags.deliver(
                    &pickups(garments.iter().copied(), 1, chunk * 4..chunk * 4 + 4),
                    STEP,
                );
            }
        });
        wait_until("first deliveries", STEP, || {
            (sub.distinct_delivered() >= 40).then_some(())
        });
        // A hung broker: the gateway keeps acking tags and publishing into a
        // connection nobody reads, so batches are in flight when it stops.
        broker.freeze();
        wait_until(
            "events acked but not delivered while the broker hangs",
            STEP,
            || {
                let undelivered = ids_of(&store, &tags.acked())
                    .into_iter()
                    .filter(|id| !sub.has(id))
                    .count();
                (undelivered >= 40).then_some(())
            },
        );
        let acked = tags.acked().len();
        broker.restart();
        acked
    });
    assert!(
        acked_at_restart < total,
        "the stream ended before the restart; nothing was mid-stream"
    );
    assert_delivered(
        rig.store_id(),
        &rig.tags,
        &rig.sub,
        Faults::Resends(1),
        STEP,
    );
}

#[test]
fn shrinks_batches_the_broker_refuses_as_too_large_and_delivers_each_event_once() {
    // Far below the 64 KiB batches the store config allows: Mosquitto
    // drops the connection of a client sending a larger packet.
    let broker = Mosquitto::start_with(MosquittoOptions {
        max_packet_size: Some(4096),
        ..MosquittoOptions::default()
    });
    let mut rig = GatewayRig::with_broker(broker, |_| {});
    // Spooled while HQ is away, the backlog leaves in full-size batches.
    rig.broker.stop();
    rig.start_gateway();
    let events = pickups(rig.store.garment_tags(), 1, 0..40);
    rig.tags.deliver(&events, STEP);
    rig.broker.start_again();
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let log = rig.gateway().log_text();
    assert!(
        log.contains("sending smaller batches"),
        "the gateway never said why batches shrank:\n{log}"
    );
}
