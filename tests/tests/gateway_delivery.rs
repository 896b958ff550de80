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
        .all(|b| b.batch.events.len() <= rig.store.batch_max_events));
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

#[test]
fn keeps_events_from_unknown_tags_and_names_them_in_status() {
    let mut rig = GatewayRig::new(|store| store.status_interval_s = Some(1));
    rig.start_gateway();
    let (stray_garment, stray_fixture) = (9_999, 4_242);
    let mut events = pickups([stray_garment].into_iter(), 1, 0..3);
    events.push(dwell_end(stray_fixture, 1, 0, 9_000));
    events.extend(pickups(rig.store.garment_tags(), 1, 0..2));
    rig.tags.deliver(&events, STEP);

    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let status = rig
        .sub
        .wait_status("status naming both unknown tags", STEP, |s| {
            let ids = s["unknown_tag_ids"].as_array().cloned().unwrap_or_default();
            ids.contains(&stray_garment.into()) && ids.contains(&stray_fixture.into())
        });
    assert_eq!(status["unknown_tags"], 2, "{status}");
    let delivered: Vec<_> = rig
        .sub
        .batches()
        .into_iter()
        .flat_map(|b| b.batch.events)
        .collect();
    let dwell = delivered
        .iter()
        .find(|e| e.tag == stray_fixture)
        .expect("the stray dwell");
    assert_eq!(
        dwell.fixture, None,
        "an unknown presence tag has no fixture"
    );
}

#[test]
fn acks_each_event_on_the_receiver_it_came_from() {
    use aisle_system_tests::{SerialLink, TagWriter};
    let mut rig = GatewayRig::new(|_| {});
    let second = SerialLink::open_named(rig.dir(), "gateway-tty-2", "device-tty-2");
    rig.args.receivers.push(second.gateway_path());
    rig.start_gateway();
    let second_tags = TagWriter::open(&second.device_path());

    let garments: Vec<u32> = rig.store.garment_tags().collect();
    let (left, right) = garments.split_at(garments.len() / 2);
    let left_events = pickups(left.iter().copied(), 1, 0..10);
    let right_events = pickups(right.iter().copied(), 1, 0..10);
    std::thread::scope(|s| {
        s.spawn(|| second_tags.deliver(&right_events, STEP));
        rig.tags.deliver(&left_events, STEP);
    });
    assert_eq!(
        rig.tags.acked().len(),
        left_events.len(),
        "acks leaked onto the first port"
    );
    assert_eq!(
        second_tags.acked().len(),
        right_events.len(),
        "acks leaked onto the second port"
    );

    let mut all = rig.tags.acked();
    all.extend(second_tags.acked());
    let ids = aisle_system_tests::delivery::ids_of("S1", &all);
    rig.sub.wait_for_ids(&ids, STEP);
    rig.sub.barrier(STEP);
    assert!(
        rig.sub.id_counts().values().all(|&n| n == 1),
        "an event was delivered twice"
    );
    assert_eq!(rig.sub.id_counts().len(), ids.len());
}

#[test]
fn bounds_batches_by_event_count_and_bytes() {
    let mut rig = GatewayRig::new(|store| {
        store.batch_max_events = 7;
        store.batch_max_bytes = 1_024;
    });
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..12), STEP);
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    for b in rig.sub.batches() {
        assert!(
            b.batch.events.len() <= 7,
            "batch of {} events",
            b.batch.events.len()
        );
        assert!(b.payload_len <= 1_024, "batch of {} bytes", b.payload_len);
        assert!(
            !b.batch.events.is_empty(),
            "empty batch {}",
            b.batch.batch_id
        );
    }
}

#[test]
fn stamps_each_event_with_receive_time_minus_its_age() {
    let mut rig = GatewayRig::new(|_| {});
    rig.start_gateway();
    let mut event = pickups(rig.store.garment_tags(), 1, 0..1).remove(0);
    event.age_ms = 90_000;
    let now_ms = || {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        since.as_millis() as i64
    };
    let before = now_ms();
    rig.tags.deliver(std::slice::from_ref(&event), STEP);
    let after = now_ms();
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    let ts = rig.sub.batches()[0].batch.events[0].ts.0;
    assert!(
        (before - 90_000..=after - 90_000).contains(&ts),
        "ts {ts} not within [{}, {}]",
        before - 90_000,
        after - 90_000
    );
}

#[test]
fn writes_one_json_object_per_log_line_with_log_format_json() {
    let mut rig = GatewayRig::new(|_| {});
    rig.args.extra = vec!["--log-format".into(), "json".into()];
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..2), STEP);
    assert_delivered(rig.store_id(), &rig.tags, &rig.sub, Faults::None, STEP);
    rig.gateway().sigterm();
    assert!(rig.gateway().wait_exit(STEP).success());

    let log = rig.gateway().log_text();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the gateway logged nothing");
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            value.get("level").is_some(),
            "log line without a level: {line}"
        );
    }
}

#[test]
fn acks_boot_and_heartbeat_frames_without_publishing_them_as_funnel_events() {
    use protocol::{ConfigStatus, FwVersion, ResetReason, TagEvent, Uplink};
    let mut rig = GatewayRig::new(|_| {});
    rig.start_gateway();
    let tag = rig.store.garment_tags().next().unwrap();
    let fw = FwVersion {
        major: 1,
        minor: 2,
        patch: 3,
    };
    let health = [
        Uplink {
            tag,
            boot: 5,
            seq: 0,
            age_ms: 0,
            event: TagEvent::Boot {
                fw,
                reset_reason: ResetReason::PowerOn,
                config: ConfigStatus::Loaded,
            },
        },
        Uplink {
            tag,
            boot: 5,
            seq: 1,
            age_ms: 0,
            event: TagEvent::Heartbeat {
                battery_mv: 2_950,
                fw,
                dropped: 0,
            },
        },
    ];
    // Health frames need acks too: they sit in the tag's outbox like events.
    rig.tags.deliver(&health, STEP);
    let pickup = pickups([tag].into_iter(), 5, 2..3);
    rig.tags.deliver(&pickup, STEP);

    let pickup_id = event_id("S1", tag, 5, 2);
    rig.sub
        .wait_for_ids(&[pickup_id.clone()].into_iter().collect(), STEP);
    rig.sub.barrier(STEP);
    let counts = rig.sub.id_counts();
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        vec![&pickup_id],
        "only the pickup is a funnel event"
    );
}
