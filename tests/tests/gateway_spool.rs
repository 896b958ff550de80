//! The spool's byte cap: when HQ is unreachable for long enough, the oldest
//! undelivered events make room for new ones, and the loss is counted.

use aisle_system_tests::delivery::ids_of;
use aisle_system_tests::{pickups, wait_until, GatewayRig, STEP};
use protocol::batch::event_id;

#[test]
fn at_the_spool_cap_drops_the_oldest_counts_them_and_keeps_ingesting() {
    let mut rig = GatewayRig::new(|store| {
        store.spool_max_bytes = Some(64 * 1024);
        store.garments = 1;
        store.status_interval_s = Some(1);
    });
    rig.broker.stop();
    rig.start_gateway();
    let tag = rig.store.garment_tags().next().unwrap();
    // Far more than 64 KiB of events, all from one tag, oldest first.
    let events = pickups([tag].into_iter(), 1, 0..2_000);
    for chunk in events.chunks(100) {
        // Acks keep coming at and past the cap: ingest never stops.
        rig.tags.deliver(chunk, STEP);
    }

    rig.broker.start_again();
    let status = rig.sub.wait_status(
        "status with the drops counted and the spool drained",
        STEP,
        |s| s["dropped_at_cap"].as_u64().unwrap_or(0) > 0 && s["spool_depth"].as_u64() == Some(0),
    );
    let dropped = status["dropped_at_cap"].as_u64().unwrap() as usize;
    rig.sub.barrier(STEP);

    let acked = ids_of(rig.store_id(), &rig.tags.acked());
    assert_eq!(acked.len(), events.len(), "every event was acked");
    let counts = rig.sub.id_counts();
    assert!(
        counts.values().all(|&n| n == 1),
        "an event was delivered twice"
    );
    assert!(
        counts.keys().all(|id| acked.contains(id)),
        "a delivered event was never sent"
    );
    assert_eq!(
        counts.len() + dropped,
        events.len(),
        "delivered + dropped_at_cap must account for every event"
    );
    // Oldest first: what survived is exactly the newest events.
    for seq in (events.len() - counts.len()) as u16..events.len() as u16 {
        assert!(
            counts.contains_key(&event_id("S1", tag, 1, seq)),
            "newer event seq {seq} was dropped"
        );
    }

    // And the gateway is still ingesting and delivering afterwards.
    let after = pickups([tag].into_iter(), 1, 2_000..2_010);
    rig.tags.deliver(&after, STEP);
    let after_ids = ids_of(
        rig.store_id(),
        &after.iter().map(aisle_system_tests::tags::key_of).collect(),
    );
    rig.sub.wait_for_ids(&after_ids, STEP);
    wait_until("the gateway still running", STEP, || {
        rig.gateway().is_running().then_some(())
    });
}

#[test]
fn starts_on_a_corrupt_spool_file_by_moving_it_aside() {
    let mut rig = GatewayRig::new(|store| store.status_interval_s = Some(1));
    let junk: Vec<u8> = (0..16_384u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&rig.store.spool, junk).unwrap();
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..5), STEP);
    aisle_system_tests::assert_delivered(
        rig.store_id(),
        &rig.tags,
        &rig.sub,
        aisle_system_tests::Faults::None,
        STEP,
    );
    rig.sub
        .wait_status("status counting the spool reset", STEP, |s| {
            s["spool_resets"] == 1
        });
    let spool_name = rig
        .store
        .spool
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let kept = std::fs::read_dir(rig.dir())
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{spool_name}.corrupt"))
        });
    assert!(
        kept,
        "the unreadable spool was deleted instead of kept for inspection"
    );
}

#[test]
fn moves_a_spool_with_damaged_pages_aside_and_ingests_again() {
    let mut rig = GatewayRig::new(|store| store.status_interval_s = Some(1));
    // Fill a real spool while HQ is unreachable, then stop cleanly.
    rig.broker.stop();
    rig.start_gateway();
    rig.tags
        .deliver(&pickups(rig.store.garment_tags(), 1, 0..200), STEP);
    rig.gateway().sigterm();
    assert!(rig.gateway().wait_exit(STEP).success());

    // A failing SD card: pages in the middle of the file turn to junk,
    // the header stays intact so the file still opens as SQLite.
    let mut bytes = std::fs::read(&rig.store.spool).unwrap();
    let len = bytes.len();
    assert!(len > 4 * 4096, "spool only {len} bytes; nothing to damage");
    for (i, b) in bytes[len / 3..2 * len / 3].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1];
    }
    std::fs::write(&rig.store.spool, bytes).unwrap();

    rig.broker.start_again();
    rig.start_gateway();
    let fresh = pickups(rig.store.garment_tags(), 2, 0..5);
    rig.tags.deliver(&fresh, STEP);
    let fresh_ids = ids_of(
        rig.store_id(),
        &fresh.iter().map(aisle_system_tests::tags::key_of).collect(),
    );
    rig.sub.wait_for_ids(&fresh_ids, STEP);
    // What was in the damaged file is lost, and status says so.
    rig.sub
        .wait_status("status counting the spool reset", STEP, |s| {
            s["spool_resets"] == 1
        });
    assert!(rig.gateway().is_running());
}
