//! The gateway's normal life: events in from a receiver, enriched batches out
//! to HQ exactly once, and a clean shutdown that loses nothing.

use aisle_system_tests::store::{CHECKOUT_TAG, FITTING_ROOM_TAG, PRESENCE_TAG};
use aisle_system_tests::tags::TEST_GTIN;
use aisle_system_tests::{
    assert_delivered, dwell_end, epc_seen, pickups, Faults, GatewayRig, STEP,
};
use protocol::batch::event_id;
use protocol::{FunnelStage, StoreEventKind};

#[test]
fn delivers_every_acked_event_exactly_once_with_its_funnel_stage() {
    let mut rig = GatewayRig::new(|_| {});
    rig.start_gateway();
    let garments: Vec<u32> = rig.store.garment_tags().collect();
    let mut events = pickups(garments.iter().copied(), 1, 0..25);
    events.push(dwell_end(PRESENCE_TAG, 1, 0, 12_000));
    events.push(epc_seen(FITTING_ROOM_TAG, 1, 0, garments[0]));
    events.push(epc_seen(CHECKOUT_TAG, 1, 0, garments[0]));
    rig.tags.deliver(&events, STEP);

    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);

    let delivered: Vec<_> = rig
        .sub
        .batches()
        .into_iter()
        .flat_map(|b| b.batch.events)
        .collect();
    let find = |tag, seq| {
        let id = event_id("S1", tag, 1, seq);
        delivered
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("{id} not delivered"))
            .clone()
    };
    let pickup = find(garments[3], 7);
    assert_eq!(
        (pickup.event, pickup.stage),
        (StoreEventKind::ItemPickup, FunnelStage::View)
    );
    assert_eq!(pickup.tag, garments[3]);
    assert_eq!(pickup.gtin.as_deref(), Some(TEST_GTIN));
    assert_eq!(
        pickup.serial.as_deref(),
        Some(garments[3].to_string().as_str())
    );

    let dwell = find(PRESENCE_TAG, 0);
    assert_eq!(
        (dwell.event, dwell.stage),
        (StoreEventKind::FixtureDwell, FunnelStage::Exposure)
    );
    assert_eq!(dwell.fixture.as_deref(), Some("F1"));
    assert_eq!(dwell.zone.as_deref(), Some("womens-tops"));
    assert_eq!(dwell.duration_ms, Some(12_000));
    assert_eq!(dwell.gtins, Some(vec![TEST_GTIN.to_string()]));

    let try_on = find(FITTING_ROOM_TAG, 0);
    assert_eq!(
        (try_on.event, try_on.stage),
        (StoreEventKind::ItemTryOn, FunnelStage::TryOn)
    );
    assert_eq!(try_on.zone.as_deref(), Some("fitting-room-1"));
    assert_eq!(try_on.gtin.as_deref(), Some(TEST_GTIN));

    let purchase = find(CHECKOUT_TAG, 0);
    assert_eq!(
        (purchase.event, purchase.stage),
        (StoreEventKind::ItemPurchase, FunnelStage::Purchase)
    );
    assert_eq!(purchase.zone.as_deref(), Some("checkout-1"));

    let batches = rig.sub.batches();
    assert!(batches
        .iter()
        .all(|b| b.batch.events.len() <= rig.store.batch_max_events as usize));
    assert!(batches.iter().all(|b| b.batch.gateway == "gw-S1"));
    rig.sub
        .wait_status("an online status", STEP, |s| s["state"] == "online");
}

#[test]
fn sigterm_publishes_lingering_events_and_exits_zero() {
    let mut rig = GatewayRig::new(|store| {
        // Events are still waiting for their batch when SIGTERM arrives, so
        // only the shutdown path can publish them.
        store.linger_ms = 30_000;
        store.batch_max_events = 10_000;
    });
    rig.start_gateway();
    rig.sub
        .wait_status("an online status", STEP, |s| s["state"] == "online");
    let events = pickups(rig.store.garment_tags(), 1, 0..10);
    rig.tags.deliver(&events, STEP);
    assert!(
        rig.sub.batches().is_empty(),
        "a batch left before its linger; the test proves nothing"
    );

    rig.gateway().sigterm();
    let status = rig.gateway().wait_exit(STEP);
    assert!(
        status.success(),
        "gateway exited with {status} after SIGTERM"
    );

    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let last = rig.sub.latest_status().expect("a status");
    assert_eq!(
        last["state"], "offline",
        "the retained status after a clean stop: {last}"
    );
}
