use super::*;
use crate::funnel::engine::{compute, FunnelEvent};
use crate::funnel::report::FunnelReport;
use crate::funnel::{Dimension, FunnelOptions};
use crate::sim::shoppers::Span;
use crate::sim::shoppers::{
    generate, FixtureLayout, GarmentLayout, Layout, Params, Propensity, ReaderKind, Timing,
};
use crate::sim::truth;
use protocol::time::UnixMillis;
use protocol::StoreEventKind;
use std::collections::HashSet;

const W: u64 = 120_000;

/// Four fixtures with two SKUs each and four garments per SKU, a fitting
/// room, a checkout and an entrance.
fn store() -> (Layout, TagIds) {
    let gtin = |sku: usize| format!("sku{sku}");
    let fixtures = (0..4)
        .map(|f| FixtureLayout {
            gtins: vec![gtin(2 * f), gtin(2 * f + 1)],
        })
        .collect();
    let garments = (0..32)
        .map(|g| GarmentLayout {
            fixture: g / 8,
            gtin: gtin(g / 4),
            propensity: Propensity {
                pickup: 0.4,
                try_on: 0.6,
                purchase: 0.6,
            },
        })
        .collect();
    let layout = Layout {
        fixtures,
        garments,
        readers: vec![ReaderKind::FittingRoom, ReaderKind::Checkout],
        entrances: 1,
    };
    let ids = TagIds {
        garments: (0..32u8)
            .map(|g| {
                (
                    3000 + u32::from(g),
                    EpcBytes::new(&[0x30, 0x74, g, 1, 2, 3]).unwrap(),
                )
            })
            .collect(),
        fixtures: (0..4).map(|f| 1000 + f).collect(),
        readers: vec![2000, 2001],
        entrances: vec![4000],
    };
    (layout, ids)
}

/// A stand-in for the gateway: stamps each new event `now − age_ms` and
/// maps it to a funnel event as docs/design.md says. `acks` decides, per
/// received frame, whether its ack reaches the tag.
struct Gateway<'a> {
    layout: &'a Layout,
    ids: &'a TagIds,
    seen: HashSet<(u32, u32, u16)>,
    events: Vec<FunnelEvent>,
    /// People the entrance counted in and out, and its reports of a period
    /// with arrivals (each becomes one `store_visits` event).
    entered: u64,
    exited: u64,
    visit_events: u64,
}

impl Gateway<'_> {
    fn receive(&mut self, now: u64, u: &Uplink) {
        if !self.seen.insert((u.tag, u.boot, u.seq)) {
            return;
        }
        let happened = now as i64 - i64::from(u.age_ms);
        let garment = |epc: &EpcBytes| {
            self.ids
                .garments
                .iter()
                .position(|(_, e)| e == epc)
                .unwrap()
        };
        let item = |kind, epc: &EpcBytes| FunnelEvent {
            store: "S".into(),
            ts: UnixMillis(happened),
            kind,
            gtin: Some(self.layout.garments[garment(epc)].gtin.clone()),
            serial: Some(garment(epc).to_string()),
            fixture: None,
            gtins: Vec::new(),
            zone: None,
            duration: None,
            count: None,
        };
        let event = match &u.event {
            TagEvent::DwellEnd { dwell_ms } => {
                let fixture = self.ids.fixtures.iter().position(|&f| f == u.tag).unwrap();
                FunnelEvent {
                    store: "S".into(),
                    ts: UnixMillis(happened - i64::from(*dwell_ms)),
                    kind: StoreEventKind::FixtureDwell,
                    gtin: None,
                    serial: None,
                    fixture: Some(fixture.to_string()),
                    gtins: self.layout.fixtures[fixture].gtins.clone(),
                    zone: None,
                    duration: None,
                    count: None,
                }
            }
            TagEvent::PickedUp { epc } => item(StoreEventKind::ItemPickup, epc),
            TagEvent::Entries {
                entered, exited, ..
            } => {
                assert!(self.ids.entrances.contains(&u.tag));
                self.entered += u64::from(*entered);
                self.exited += u64::from(*exited);
                self.visit_events += u64::from(*entered > 0);
                return;
            }
            TagEvent::EpcSeen { epc, .. } => {
                let reader = self.ids.readers.iter().position(|&r| r == u.tag).unwrap();
                match self.layout.readers[reader] {
                    ReaderKind::FittingRoom => item(StoreEventKind::ItemTryOn, epc),
                    ReaderKind::Checkout => item(StoreEventKind::ItemPurchase, epc),
                }
            }
            _ => return,
        };
        self.events.push(event);
    }
}

struct Day {
    truth: FunnelReport,
    seen: FunnelReport,
    /// People who came in, as the shoppers did and as the entrance counted.
    visits: u64,
    entered: u64,
    exited: u64,
    store: VirtualStore,
}

/// Runs `minutes` of shopping plus time to settle, sample by sample.
fn run_day(seed: u64, minutes: u64, mut ack: impl FnMut(&Uplink) -> bool) -> Day {
    let (layout, ids) = store();
    let timing = Timing::from(&settings());
    let params = Params {
        seed,
        shopping_ms: minutes * 60_000,
        window_ms: W,
        shoppers_per_min: 10.0,
    };
    let script = generate(&layout, &timing, &params);
    assert!(
        script.brushes.iter().flatten().count() > 0,
        "the day has brushes"
    );
    assert!(
        script.browses.iter().flatten().count() > 0,
        "the day has browses"
    );
    let truth = truth::report(&layout, &script, &timing, W);
    let visits = script.visits.iter().map(|v| v.people).sum();
    let mut store = VirtualStore::boot(&ids, script, 1, seed);
    let mut gateway = Gateway {
        layout: &layout,
        ids: &ids,
        seen: HashSet::new(),
        events: Vec::new(),
        entered: 0,
        exited: 0,
        visit_events: 0,
    };
    let mut now = 0;
    while now < params.shopping_ms + 70_000 {
        store.advance(now);
        for u in store.poll_transmit(now) {
            gateway.receive(now, &u);
            if ack(&u) {
                store.handle_downlink(
                    now,
                    &Downlink::Ack {
                        tag: u.tag,
                        boot: u.boot,
                        seq: u.seq,
                    },
                );
            }
        }
        now += SAMPLE_MS;
    }
    let opts = FunnelOptions {
        window: std::time::Duration::from_millis(W),
        by: vec![Dimension::Sku],
        ..FunnelOptions::default()
    };
    assert!(
        visits == 0 || gateway.visit_events > 1,
        "a day's visits span several counting periods"
    );
    Day {
        truth,
        seen: compute(gateway.events, &opts),
        visits,
        entered: gateway.entered,
        exited: gateway.exited,
        store,
    }
}

#[test]
fn the_tags_report_exactly_what_the_shoppers_did() {
    for seed in 0..3 {
        let day = run_day(seed, 10, |_| true);
        assert!(
            day.truth
                .rows
                .iter()
                .map(|r| r.journeys_purchase)
                .sum::<u64>()
                > 0,
            "seed {seed}: nothing sold"
        );
        assert_eq!(day.seen, day.truth, "seed {seed}");
        assert!(day.visits > 0, "seed {seed}: nobody came in");
        // Everyone who came in also left before the day ended.
        assert_eq!(
            (day.entered, day.exited),
            (day.visits, day.visits),
            "seed {seed}"
        );
        assert_eq!((day.store.unacked(), day.store.dropped()), (0, 0));
    }
}

#[test]
fn lost_acks_cost_retransmissions_not_events() {
    // Every first transmission's ack is lost: each event goes out twice.
    let mut first = HashSet::new();
    let day = run_day(4, 5, |u| !first.insert((u.tag, u.seq)));
    assert_eq!(day.seen, day.truth);
    let stats = day.store.stats();
    assert_eq!(day.store.unacked(), 0);
    assert_eq!(stats.acked, stats.events);
    assert!(stats.frames >= 2 * stats.events, "{stats:?}");
}

#[test]
fn without_acks_the_outbox_keeps_every_event_until_full() {
    let day = run_day(5, 3, |_| false);
    let stats = day.store.stats();
    assert_eq!(stats.acked, 0);
    let kept = day.store.unacked() as u64 + day.store.dropped();
    assert_eq!(
        kept, stats.events,
        "each event is either waiting or counted as dropped"
    );
    // The tags never stop reporting: everything was sent at least once.
    assert_eq!(day.seen, day.truth);
}

/// One garment's script: lifted during `held`, brushed at `brushes`, pushed
/// along the rail at `browses`.
fn one_garment(held: Vec<Span>, brushes: Vec<u64>, browses: Vec<u64>) -> Script {
    Script {
        door: Vec::new(),
        presence: Vec::new(),
        held: vec![held],
        brushes: vec![brushes],
        browses: vec![browses],
        reads: Vec::new(),
        dwells: Vec::new(),
        journeys: Vec::new(),
        visits: Vec::new(),
        shoppers: 0,
        paces: Default::default(),
    }
}

/// The firmware's pickup detector, with the store's settings, over the
/// garment's samples from 0 to `until`: when it reported pickups.
fn pickups(garment: &Garment, until: u64, noise: &mut ChaCha8Rng) -> Vec<u64> {
    let mut detector = firmware::PickupDetector::new(&settings(), &PickupTuning::default());
    (0..until / SAMPLE_MS)
        .map(|i| i * SAMPLE_MS)
        .filter(|&t| {
            detector.sample(t, garment.sample(t, noise)) == Some(firmware::MotionEvent::PickedUp)
        })
        .collect()
}

#[test]
fn store_lifts_are_reported_within_the_latency_the_shopper_model_counts_on() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut latencies = Vec::new();
    for _ in 0..150 {
        // The shortest hold the shopper model plans.
        let held = Span::new(2_000, 4_500);
        let garment = Garment::new(
            &one_garment(vec![held], Vec::new(), Vec::new()),
            0,
            &mut rng,
        );
        let reported = pickups(&garment, 12_000, &mut rng);
        assert_eq!(reported.len(), 1, "one pickup per lift: {reported:?}");
        latencies.push(reported[0] - held.start);
    }
    let (min, max) = (
        latencies.iter().min().unwrap(),
        latencies.iter().max().unwrap(),
    );
    // HQ's medians are whole seconds: an error under 0.5 s never shows.
    assert!(
        PICKUP_LATENCY_MS.abs_diff(*min) < 400 && PICKUP_LATENCY_MS.abs_diff(*max) < 400,
        "latencies {min}..={max} ms, assumed {PICKUP_LATENCY_MS} ms"
    );
}

#[test]
fn store_brushes_and_browses_are_not_pickups() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for _ in 0..100 {
        let script = one_garment(Vec::new(), vec![2_000], vec![10_000]);
        let garment = Garment::new(&script, 0, &mut rng);
        assert_eq!(pickups(&garment, 18_000, &mut rng), Vec::<u64>::new());
    }
}

#[test]
fn a_virtual_tag_carries_out_numbered_commands_and_confirms_them() {
    let garment = 3000;
    let ids = TagIds {
        garments: vec![(garment, EpcBytes::new(&[0x30, 0x74, 1, 2]).unwrap())],
        fixtures: Vec::new(),
        readers: Vec::new(),
        entrances: Vec::new(),
    };
    let script = one_garment(Vec::new(), Vec::new(), Vec::new());
    let mut store = VirtualStore::boot(&ids, script, 1, 9);
    store.advance(0);
    let boot = store.poll_transmit(0);
    assert!(matches!(
        boot[..],
        [Uplink {
            event: TagEvent::Boot { .. },
            ..
        }]
    ));
    let mut changes = protocol::SettingsPatch::default();
    changes.set("pickup_threshold_mg", 400).unwrap();
    let commands = [
        (5, protocol::Command::Configure { changes }),
        (6, protocol::Command::Identify { duration_ms: 3_000 }),
    ];
    for (id, command) in commands {
        store.handle_downlink(
            100,
            &Downlink::Command {
                tag: garment,
                id,
                command,
            },
        );
    }
    // A tag the store does not have: nobody answers.
    store.handle_downlink(
        100,
        &Downlink::Command {
            tag: garment + 1,
            id: 7,
            command: protocol::Command::Identify { duration_ms: 1 },
        },
    );
    let done: Vec<_> = store
        .poll_transmit(100)
        .into_iter()
        .filter(|u| matches!(u.event, TagEvent::CommandDone { .. }))
        .map(|u| (u.tag, u.event))
        .collect();
    let applied = |id| TagEvent::CommandDone {
        id,
        outcome: protocol::CommandOutcome::Applied,
    };
    assert_eq!(done, [(garment, applied(5)), (garment, applied(6))]);
}
