//! HQ's broker going away, or refusing what is sent: the gateway keeps
//! acking tags from its spool, sends everything once the broker is back,
//! fits batches to the broker's limits, and moves an event no broker limit
//! lets through to its dead-letter table, never losing it silently.

use aisle_system_tests::delivery::ids_of;
use aisle_system_tests::mosquitto::{Mosquitto, MosquittoOptions};
use aisle_system_tests::store::PRESENCE_TAG;
use aisle_system_tests::tags::{key_of, TEST_GTIN};
use aisle_system_tests::{
    assert_delivered, dwell_end, pickups, wait_until, Faults, GatewayRig, STEP,
};
use protocol::batch::event_id;
use protocol::epc::gtin_check_digit;
use std::collections::HashSet;
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
fn keeps_batches_under_the_brokers_maximum_packet_size_and_delivers_each_event_once() {
    // Far below the 64 KiB batches the store config allows: Mosquitto
    // announces the limit in its CONNACK and drops a client that exceeds it.
    let broker = Mosquitto::start_with(MosquittoOptions {
        max_packet_size: Some(4096),
        ..MosquittoOptions::default()
    });
    let mut rig = GatewayRig::with_broker(broker, |_| {});
    // Spooled while HQ is away, the backlog would leave in full-size batches.
    rig.broker.stop();
    rig.start_gateway();
    let events = pickups(rig.store.garment_tags(), 1, 0..40);
    rig.tags.deliver(&events, STEP);
    rig.broker.start_again();
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let largest = rig
        .sub
        .batches()
        .iter()
        .map(|b| b.payload_len)
        .max()
        .expect("batches");
    assert!(largest < 4096, "a batch of {largest} bytes went out");
    assert!(
        rig.sub.batches().len() > 1,
        "the backlog went in one batch; the limit was never tested"
    );
    assert!(
        !rig.broker.log().contains("oversize packet"),
        "the broker had to drop the gateway:\n{}",
        rig.broker.log()
    );
}

/// Fixture GTINs enough that one dwell event's JSON is larger than
/// [`MESSAGE_SIZE_LIMIT`] on its own, while a pickup is a tenth of it: the
/// garments' own GTIN and 399 more.
fn many_gtins() -> Vec<String> {
    let more = (0..399u64).map(|n| {
        let first13 = format!("{:013}", 8_061_414_100_000 + n);
        let check = gtin_check_digit(&first13).expect("13 digits");
        format!("{first13}{check}")
    });
    std::iter::once(TEST_GTIN.to_owned()).chain(more).collect()
}

/// Mosquitto's `message_size_limit` in these tests: above the gateway's
/// status document, a few pickups per batch.
const MESSAGE_SIZE_LIMIT: u32 = 4_000;

#[test]
fn splits_batches_over_the_brokers_message_size_limit_and_loses_nothing() {
    let broker = Mosquitto::start_with(MosquittoOptions {
        message_size_limit: Some(MESSAGE_SIZE_LIMIT),
        ..MosquittoOptions::default()
    });
    let mut rig = GatewayRig::with_broker(broker, |store| store.status_interval_s = Some(1));
    rig.broker.stop();
    rig.start_gateway();
    let events = pickups(rig.store.garment_tags(), 1, 0..40);
    rig.tags.deliver(&events, STEP);
    rig.broker.start_again();
    // Mosquitto answers an oversized publish with PUBACK 0x95 and drops the
    // connection; the client cannot read that PUBACK reason, and whether
    // the refusal or the dropped link reaches the gateway first is a race.
    // Either way the gateway shrinks its batches, resending what was in
    // flight, and loses nothing.
    assert_delivered(
        rig.store_id(),
        &rig.tags,
        &rig.sub,
        Faults::Resends(8),
        STEP,
    );
    let status = rig
        .sub
        .wait_status("a status after delivery", STEP, |s| s["spool_depth"] == 0);
    assert_eq!(status["dead_letters"], 0, "nothing was too large: {status}");
    let log = rig.gateway().log_text();
    assert!(
        log.contains("go again in smaller batches") || log.contains("sending smaller batches"),
        "the gateway never said why batches shrank:\n{log}"
    );
}

#[test]
fn moves_an_event_too_large_for_the_broker_to_the_dead_letter_table() {
    let broker = Mosquitto::start_with(MosquittoOptions {
        message_size_limit: Some(MESSAGE_SIZE_LIMIT),
        ..MosquittoOptions::default()
    });
    let mut rig = GatewayRig::with_broker(broker, |store| {
        store.status_interval_s = Some(1);
        store.fixture_gtins = many_gtins();
    });
    rig.start_gateway();
    let mut events = pickups(rig.store.garment_tags(), 1, 0..2);
    let dwell = dwell_end(PRESENCE_TAG, 1, 0, 9_000);
    events.push(dwell.clone());
    events.extend(pickups(rig.store.garment_tags(), 1, 2..4));
    rig.tags.deliver(&events, STEP);
    let dwell_id = event_id(rig.store_id(), PRESENCE_TAG, 1, 0);

    // Every pickup arrives; the dwell event is reported and kept, not lost.
    let pickup_ids: HashSet<String> = ids_of(
        rig.store_id(),
        &events.iter().filter(|u| **u != dwell).map(key_of).collect(),
    );
    rig.sub.wait_for_ids(&pickup_ids, STEP);
    let status = rig
        .sub
        .wait_status("the dead letter in the status", STEP, |s| {
            s["dead_letters"] == 1 && s["spool_depth"] == 0
        });
    assert!(status["batches_refused"].as_u64() > Some(0), "{status}");
    rig.sub.barrier(STEP);
    assert!(!rig.sub.has(&dwell_id), "the broker never took it");
    let spool = rusqlite::Connection::open_with_flags(
        &rig.store.spool,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let kept: Vec<(String, String)> = spool
        .prepare("SELECT body, reason FROM dead_letter")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let body: serde_json::Value = serde_json::from_str(&kept[0].0).unwrap();
    assert_eq!(body["id"], dwell_id.as_str());
    assert_eq!(body["gtins"].as_array().map(Vec::len), Some(400));
    assert!(
        kept[0].1.contains("larger than the broker"),
        "{}",
        kept[0].1
    );
    let log = rig.gateway().log_text();
    assert!(
        log.contains("dead_letter"),
        "the gateway never said where the event went:\n{log}"
    );
}
