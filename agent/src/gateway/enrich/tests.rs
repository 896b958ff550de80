//! Dedup and enrichment on hand-built uplinks and the demo store's map.

use super::*;
use crate::config;
use protocol::{EpcBytes, FunnelStage};
use std::path::Path;

const STORE: &str = r#"store = "S1"
[broker]
url = "mqtt://localhost"
[spool]
path = "/tmp/x.sqlite"
[[fixtures]]
id = "F1"
zone = "womens-tops"
presence_tag = 1001
gtins = ["80614141123458"]
[[readers]]
tag = 2001
kind = "fitting_room"
zone = "fitting-room-1"
[[readers]]
tag = 2002
kind = "checkout"
zone = "till-1"
[[entrances]]
tag = 4001
zone = "main-door"
[[garments]]
tag = 3001
epc = "3074257BF7194E4000001A85"
fixture = "F1"
"#;

fn map() -> StoreMap {
    StoreMap::new(&config::parse(Path::new("t.toml"), STORE).unwrap())
}

fn epc() -> EpcBytes {
    EpcBytes::new(&epc::from_hex("3074257BF7194E4000001A85").unwrap()).unwrap()
}

fn up(tag: u32, age_ms: u32, event: TagEvent) -> Uplink {
    Uplink {
        tag,
        boot: 2,
        seq: 9,
        age_ms,
        event,
    }
}

fn funnel(o: Outcome) -> BatchEvent {
    match o.enriched {
        Enriched::Funnel(e) => e,
        other => panic!("expected a funnel event, got {other:?}"),
    }
}

#[test]
fn dwell_end_becomes_exposure_stamped_at_arrival_with_fixture_gtins() {
    let e = funnel(enrich(
        &map(),
        &up(1001, 500, TagEvent::DwellEnd { dwell_ms: 12_000 }),
        UnixMillis(100_000),
    ));
    assert_eq!(
        (e.event, e.stage),
        (StoreEventKind::FixtureDwell, FunnelStage::Exposure)
    );
    assert_eq!(e.ts, UnixMillis(100_000 - 500 - 12_000));
    assert_eq!(e.duration_ms, Some(12_000));
    assert_eq!(e.fixture.as_deref(), Some("F1"));
    assert_eq!(e.zone.as_deref(), Some("womens-tops"));
    assert_eq!(e.gtins, Some(vec!["80614141123458".to_owned()]));
    assert_eq!(e.id, "S1-000003e9-00000002-0009");
}

#[test]
fn pickup_carries_decoded_gtin_serial_and_home_fixture() {
    let e = funnel(enrich(
        &map(),
        &up(3001, 40, TagEvent::PickedUp { epc: epc() }),
        UnixMillis(5_000),
    ));
    assert_eq!(e.event, StoreEventKind::ItemPickup);
    assert_eq!(e.ts, UnixMillis(4_960));
    assert_eq!(e.epc.as_deref(), Some("3074257BF7194E4000001A85"));
    assert_eq!(
        (e.gtin.as_deref(), e.serial.as_deref()),
        (Some("80614141123458"), Some("6789"))
    );
    assert_eq!(e.fixture.as_deref(), Some("F1"));
}

#[test]
fn reads_map_to_try_on_and_purchase_by_reader_kind() {
    let seen = TagEvent::EpcSeen {
        epc: epc(),
        rssi: -50,
    };
    let try_on = funnel(enrich(&map(), &up(2001, 0, seen.clone()), UnixMillis(1)));
    assert_eq!(
        (try_on.event, try_on.zone.as_deref()),
        (StoreEventKind::ItemTryOn, Some("fitting-room-1"))
    );
    let bought = funnel(enrich(&map(), &up(2002, 0, seen), UnixMillis(1)));
    assert_eq!(
        (bought.event, bought.stage),
        (StoreEventKind::ItemPurchase, FunnelStage::Purchase)
    );
}

#[test]
fn read_by_an_unknown_tag_is_kept_aside_and_flagged() {
    let o = enrich(
        &map(),
        &up(
            9999,
            10,
            TagEvent::EpcSeen {
                epc: epc(),
                rssi: -50,
            },
        ),
        UnixMillis(100),
    );
    assert!(o.unknown_tag);
    assert!(matches!(
        o.enriched,
        Enriched::Unrouted(UnroutedRead {
            ts: UnixMillis(90),
            ..
        })
    ));
}

#[test]
fn dwell_from_an_unknown_tag_is_kept_without_a_fixture() {
    let o = enrich(
        &map(),
        &up(4242, 0, TagEvent::DwellEnd { dwell_ms: 9_000 }),
        UnixMillis(100_000),
    );
    assert!(o.unknown_tag);
    let e = funnel(o);
    assert_eq!((e.fixture, e.gtins, e.tag), (None, None, 4242));
}

#[test]
fn unlisted_tags_are_presumed_garments_when_no_garments_are_configured() {
    let no_garments = STORE.split("[[garments]]").next().unwrap();
    let bare = StoreMap::new(&config::parse(Path::new("t.toml"), no_garments).unwrap());
    let fw = protocol::FwVersion {
        major: 1,
        minor: 0,
        patch: 0,
    };
    let heartbeat = TagEvent::Heartbeat {
        battery_mv: 3000,
        fw,
        dropped: 0,
    };
    assert!(!enrich(&bare, &up(5555, 0, heartbeat.clone()), UnixMillis(1)).unknown_tag);
    assert!(
        !enrich(
            &bare,
            &up(5555, 0, TagEvent::PickedUp { epc: epc() }),
            UnixMillis(1)
        )
        .unknown_tag
    );
    assert!(
        enrich(
            &bare,
            &up(5555, 0, TagEvent::DwellEnd { dwell_ms: 1 }),
            UnixMillis(1)
        )
        .unknown_tag
    );
    assert!(
        enrich(&map(), &up(5555, 0, heartbeat), UnixMillis(1)).unknown_tag,
        "listed garments: unlisted is unknown"
    );
}

#[test]
fn non_sgtin_epc_is_kept_with_hex_only() {
    let raw = EpcBytes::new(&[0xE2, 0x00, 0x12]).unwrap();
    let e = funnel(enrich(
        &map(),
        &up(2001, 0, TagEvent::EpcSeen { epc: raw, rssi: 0 }),
        UnixMillis(1),
    ));
    assert_eq!((e.epc.as_deref(), e.gtin), (Some("E20012"), None));
}

#[test]
fn health_events_are_not_funnel_events() {
    for ev in [
        TagEvent::DwellStart,
        TagEvent::PutDown {
            epc: epc(),
            held_ms: 3,
        },
    ] {
        assert_eq!(
            enrich(&map(), &up(3001, 0, ev), UnixMillis(1)).enriched,
            Enriched::Health
        );
    }
}

fn entries(entered: u16, exited: u16) -> TagEvent {
    TagEvent::Entries {
        entered,
        exited,
        period_ms: 60_000,
    }
}

#[test]
fn entries_become_visits_stamped_at_the_period_start_with_the_door_zone() {
    // Received 70 s after the period began: 60 s of period, 10 s in the outbox.
    let o = enrich(
        &map(),
        &up(4001, 70_000, entries(3, 5)),
        UnixMillis(1_000_000),
    );
    assert!(!o.unknown_tag);
    let e = funnel(o);
    assert_eq!(
        (e.event, e.stage),
        (StoreEventKind::StoreVisits, FunnelStage::Visit)
    );
    assert_eq!(e.ts, UnixMillis(930_000));
    assert_eq!((e.count, e.duration_ms), (Some(3), Some(60_000)));
    assert_eq!(e.zone.as_deref(), Some("main-door"));
    assert_eq!(
        (e.fixture, e.gtin, e.epc, e.gtins),
        (None, None, None, None)
    );
    assert_eq!(e.id, "S1-00000fa1-00000002-0009");
}

#[test]
fn a_period_in_which_people_only_left_is_health_only() {
    let o = enrich(&map(), &up(4001, 0, entries(0, 4)), UnixMillis(1));
    assert_eq!(o.enriched, Enriched::Health);
    assert!(!o.unknown_tag);
}

#[test]
fn entries_from_an_unknown_tag_are_visits_without_a_zone_and_flagged() {
    let o = enrich(&map(), &up(4999, 0, entries(2, 0)), UnixMillis(50_000));
    assert!(o.unknown_tag);
    let e = funnel(o);
    assert_eq!(
        (e.event, e.count, e.zone),
        (StoreEventKind::StoreVisits, Some(2), None)
    );
    // Without [[garments]], an unlisted tag is presumed a garment's, but a
    // garment cannot count people.
    let no_garments = STORE.split("[[garments]]").next().unwrap();
    let bare = StoreMap::new(&config::parse(Path::new("t.toml"), no_garments).unwrap());
    assert!(enrich(&bare, &up(4999, 0, entries(2, 0)), UnixMillis(1)).unknown_tag);
    assert!(!enrich(&bare, &up(4001, 0, entries(2, 0)), UnixMillis(1)).unknown_tag);
}

#[test]
fn dedup_forgets_the_oldest_key_beyond_capacity() {
    let mut d = Dedup::new(2);
    let k = |seq| EventKey {
        tag: 1,
        boot: 1,
        seq,
    };
    d.remember(k(1));
    d.remember(k(2));
    d.remember(k(2));
    assert!(d.contains(&k(1)) && d.contains(&k(2)));
    d.remember(k(3));
    assert!(!d.contains(&k(1)));
    assert!(d.contains(&k(2)) && d.contains(&k(3)));
}

#[test]
fn each_epc_keeps_its_own_names_while_remembered_and_after_the_memo_refills() {
    let map = map();
    let pickup = |epc| {
        funnel(enrich(
            &map,
            &up(3001, 0, TagEvent::PickedUp { epc }),
            UnixMillis(1),
        ))
    };
    let names = |e: BatchEvent| (e.epc, e.gtin, e.serial);
    let sgtin = (
        Some("3074257BF7194E4000001A85".to_owned()),
        Some("80614141123458".to_owned()),
        Some("6789".to_owned()),
    );
    assert_eq!(names(pickup(epc())), sgtin);
    let other = EpcBytes::new(&[0xE2, 0x00, 0x12]).unwrap();
    assert_eq!(
        names(pickup(other)),
        (Some("E20012".to_owned()), None, None)
    );
    assert_eq!(names(pickup(epc())), sgtin, "remembered");
    // More distinct EPCs than the memo holds: it starts over, and still
    // names each EPC by its own bytes.
    for i in 0..=EPC_MEMO_CAPACITY as u32 {
        let raw = EpcBytes::new(&i.to_be_bytes()).unwrap();
        let hex = format!("{i:08X}");
        assert_eq!(names(pickup(raw)).0, Some(hex));
    }
    assert_eq!(names(pickup(epc())), sgtin, "decoded again");
}
