use super::shopper::BRUSH_CLEARANCE_MS;
use super::*;

const MIN: u64 = 2_000;
const GAP: u64 = 600;
const STILL: u64 = 1_500;
const W: u64 = MIN_WINDOW_MS;
const LATENCY: u64 = 3 * SAMPLE_MS;

fn timing() -> Timing {
    Timing {
        dwell_min_ms: MIN,
        dwell_gap_ms: GAP,
        still_ms: STILL,
        pickup_latency_ms: LATENCY,
    }
}

/// Four fixtures with two SKUs each and four garments per SKU.
fn layout(propensity: impl Fn(usize) -> Propensity) -> Layout {
    let gtin = |sku: usize| format!("sku{sku}");
    let fixtures = (0..4)
        .map(|f| FixtureLayout {
            gtins: vec![gtin(2 * f), gtin(2 * f + 1)],
        })
        .collect();
    let garments = (0..32)
        .map(|g| {
            let sku = g / 4;
            GarmentLayout {
                fixture: sku / 2,
                gtin: gtin(sku),
                propensity: propensity(sku),
            }
        })
        .collect();
    Layout {
        fixtures,
        garments,
        readers: vec![ReaderKind::FittingRoom, ReaderKind::Checkout],
        entrances: 1,
    }
}

fn busy_day(seed: u64) -> (Layout, Script) {
    let layout = layout(|sku| Propensity {
        pickup: 0.3 + sku as f64 * 0.05,
        try_on: 0.5,
        purchase: 0.6,
    });
    let params = Params {
        seed,
        shopping_ms: 20 * 60_000,
        window_ms: W,
        shoppers_per_min: 12.0,
    };
    let script = generate(&layout, &timing(), &params);
    (layout, script)
}

#[test]
fn the_same_seed_gives_the_same_day_and_another_seed_another() {
    assert_eq!(busy_day(7).1, busy_day(7).1);
    assert_ne!(busy_day(7).1, busy_day(8).1);
}

#[test]
fn a_busy_day_exercises_every_behaviour() {
    let (_, script) = busy_day(1);
    let pass_bys = script
        .presence
        .iter()
        .flatten()
        .filter(|p| p.end - p.start <= MIN / 2)
        .count();
    let dropouts = script
        .dwells
        .iter()
        .filter(|d| {
            script.presence[d.fixture]
                .iter()
                .filter(|p| d.span.near(p, 0) && p.start >= d.span.start && p.end <= d.span.end)
                .count()
                == 2
        })
        .count();
    let relifts = script.journeys.iter().filter(|j| j.lifts.len() > 1).count();
    let direct_buys = script
        .journeys
        .iter()
        .filter(|j| j.purchase.is_some() && j.try_on.is_none())
        .count();
    let full = script
        .journeys
        .iter()
        .filter(|j| j.purchase.is_some() && j.try_on.is_some())
        .count();
    let brushes = script.brushes.iter().flatten().count();
    for (what, n) in [
        ("shoppers", script.shoppers),
        ("dwells", script.dwells.len()),
        ("pass-bys", pass_bys),
        ("PIR drop-outs", dropouts),
        ("brushes", brushes),
        ("re-lifts", relifts),
        ("purchases without try-on", direct_buys),
        ("purchases after try-on", full),
    ] {
        assert!(n > 0, "no {what} in a busy day");
    }
}

#[test]
fn the_door_sees_everyone_who_came_in_go_out_and_keeps_passages_apart() {
    use crate::sim::door::{Passage, DOOR_GAP_MS};
    for seed in 0..3 {
        let (_, script) = busy_day(seed);
        let door = &script.door[0];
        let count = |p: Passage| door.iter().filter(|c| c.passage == p).count();
        let (pairs, turn_backs) = (count(Passage::PairIn), count(Passage::TurnBack));
        assert!(
            pairs > 0 && turn_backs > 0,
            "seed {seed}: {pairs} pairs, {turn_backs} turn-backs"
        );
        // Everyone who came in left, as they came (alone or in a pair).
        assert_eq!(count(Passage::In), count(Passage::Out), "seed {seed}");
        assert_eq!(pairs, count(Passage::PairOut), "seed {seed}");
        let came_in: u64 = door.iter().map(|c| c.passage.entered()).sum();
        let visits: u64 = script.visits.iter().map(|v| v.people).sum();
        assert_eq!(
            came_in, visits,
            "seed {seed}: every passage in is a bookkept visit"
        );
        assert_eq!(
            script.visits.len(),
            script.shoppers,
            "seed {seed}: every shopper came in"
        );
        for w in door.windows(2) {
            assert!(
                w[0].span().end + DOOR_GAP_MS <= w[1].start,
                "seed {seed}: passages at {} and {} too close",
                w[0].start,
                w[1].start
            );
        }
    }
}

#[test]
fn some_shoppers_leave_without_touching_anything() {
    // A quiet hour, so that shoppers are rarely in the store together.
    let params = Params {
        seed: 2,
        shopping_ms: 60 * 60_000,
        window_ms: W,
        shoppers_per_min: 0.5,
    };
    let script = generate(&layout(|_| Propensity::default()), &timing(), &params);
    // A shopper who touched nothing left no presence, hold or read between
    // walking in and walking out.
    let untouched = script
        .visits
        .iter()
        .filter(|v| {
            let out = script.door[0]
                .iter()
                .find(|c| c.start > v.at && c.passage.exited() == v.people)
                .map_or(u64::MAX, |c| c.start);
            let inside = Span::new(v.at, out);
            !script
                .presence
                .iter()
                .flatten()
                .any(|p| inside.contains(p.start))
        })
        .count();
    assert!(untouched > 0, "every shopper went to a fixture");
}

#[test]
fn journeys_keep_the_gap_rule() {
    for seed in 0..5 {
        let (layout, script) = busy_day(seed);
        for g in 0..layout.garments.len() {
            let mut journeys: Vec<&Journey> =
                script.journeys.iter().filter(|j| j.garment == g).collect();
            journeys.sort_by_key(|j| j.lifts[0]);
            for j in &journeys {
                let first = j.lifts[0];
                let steps = j
                    .lifts
                    .iter()
                    .chain(&j.try_on)
                    .chain(&j.purchase)
                    .chain([&j.released]);
                for &step in steps {
                    assert!(
                        step >= first && step - first <= W / 2,
                        "seed {seed} garment {g}: step {step} of journey at {first}"
                    );
                }
            }
            for pair in journeys.windows(2) {
                assert!(
                    pair[1].lifts[0] >= pair[0].released + 2 * W,
                    "seed {seed} garment {g}: journeys too close"
                );
            }
        }
    }
}

#[test]
fn journey_steps_are_ordered_and_match_the_physical_facts() {
    let (layout, script) = busy_day(3);
    for j in &script.journeys {
        let read = |kind: ReaderKind, at: u64| {
            script.reads.iter().any(|r| {
                r.garment == j.garment && layout.readers[r.reader] == kind && r.span.start == at
            })
        };
        if let Some(t) = j.try_on {
            assert!(t > j.lifts[0] && read(ReaderKind::FittingRoom, t));
        }
        if let Some(p) = j.purchase {
            assert!(p > j.try_on.unwrap_or(j.lifts[0]) && read(ReaderKind::Checkout, p));
            assert!(
                j.released > p,
                "a bought garment's tag is detached after the checkout read"
            );
        }
        for &lift in &j.lifts {
            assert!(
                script.held[j.garment].iter().any(|h| h.start == lift),
                "lift without a hold"
            );
        }
    }
    let lifts = script.journeys.iter().map(|j| j.lifts.len()).sum::<usize>();
    let holds = script.held.iter().map(Vec::len).sum::<usize>();
    assert_eq!(lifts, holds, "every hold is a bookkept lift");
    let zone_reads = script
        .journeys
        .iter()
        .map(|j| usize::from(j.try_on.is_some()) + usize::from(j.purchase.is_some()))
        .sum::<usize>();
    assert_eq!(
        zone_reads,
        script.reads.len(),
        "every read is a bookkept step"
    );
}

#[test]
fn garment_motion_is_unambiguous_for_the_pickup_detector() {
    for seed in 0..5 {
        let (_, script) = busy_day(seed);
        for (g, holds) in script.held.iter().enumerate() {
            for pair in holds.windows(2) {
                assert!(
                    pair[1].start >= pair[0].end + 2 * STILL,
                    "seed {seed} garment {g}: lifted again before it was still"
                );
            }
            for &b in &script.brushes[g] {
                let instant = Span::new(b, b + 1);
                assert!(
                    holds.iter().all(|h| !h.near(&instant, BRUSH_CLEARANCE_MS)),
                    "seed {seed} garment {g}: brush at {b} near a lift"
                );
            }
            for pair in script.brushes[g].windows(2) {
                assert!(
                    pair[1] >= pair[0] + BRUSH_CLEARANCE_MS,
                    "seed {seed} garment {g}: brushes too close"
                );
            }
        }
    }
}

#[test]
fn fixture_presence_is_unambiguous_for_the_dwell_detector() {
    for seed in 0..5 {
        let (_, script) = busy_day(seed);
        for (f, spans) in script.presence.iter().enumerate() {
            let dwell_of = |s: &Span| {
                script
                    .dwells
                    .iter()
                    .find(|d| d.fixture == f && d.span.start <= s.start && s.end <= d.span.end)
            };
            for s in spans {
                if dwell_of(s).is_none() {
                    assert!(
                        s.end - s.start <= MIN / 2,
                        "seed {seed} fixture {f}: pass-by too long"
                    );
                }
            }
            for pair in spans.windows(2) {
                let gap = pair[1].start - pair[0].end;
                match (dwell_of(&pair[0]), dwell_of(&pair[1])) {
                    (Some(a), Some(b)) if a == b => {
                        assert!(gap <= GAP / 3, "seed {seed} fixture {f}: drop-out too long")
                    }
                    _ => assert!(
                        gap >= 3 * GAP,
                        "seed {seed} fixture {f}: two visits {gap} ms apart"
                    ),
                }
            }
        }
        for d in &script.dwells {
            assert!(d.span.end - d.span.start >= MIN * 3 / 2);
            let first = script.presence[d.fixture]
                .iter()
                .find(|p| p.start == d.span.start)
                .expect("dwell has presence");
            assert!(
                first.end - first.start >= MIN * 3 / 2 || first.end == d.span.end,
                "a drop-out comes after the minimum dwell"
            );
        }
    }
}

#[test]
fn everything_happens_within_the_shopping_time() {
    let (_, script) = busy_day(4);
    let shopping_ms = 20 * 60_000;
    assert!(script
        .presence
        .iter()
        .flatten()
        .all(|s| s.end <= shopping_ms));
    assert!(script
        .held
        .iter()
        .flatten()
        .all(|s| s.end + STILL <= shopping_ms));
    assert!(script.reads.iter().all(|r| r.span.end <= shopping_ms));
}

#[test]
fn sold_garments_are_never_lifted_again() {
    for seed in 0..5 {
        let (_, script) = busy_day(seed);
        for sold in script.journeys.iter().filter(|j| j.purchase.is_some()) {
            let later = script.held[sold.garment]
                .iter()
                .filter(|h| h.start > sold.released)
                .count();
            let brushed = script.brushes[sold.garment]
                .iter()
                .filter(|&&b| b > sold.lifts[0])
                .count();
            assert_eq!(
                (later, brushed),
                (0, 0),
                "seed {seed}: garment {} after its sale",
                sold.garment
            );
        }
    }
}

#[test]
fn propensities_decide_what_shoppers_do_with_each_sku() {
    let never = Propensity {
        pickup: 0.0,
        try_on: 1.0,
        purchase: 1.0,
    };
    let always = Propensity {
        pickup: 1.0,
        try_on: 1.0,
        purchase: 1.0,
    };
    let looks_only = Propensity {
        pickup: 1.0,
        try_on: 0.0,
        purchase: 1.0,
    };
    let layout = layout(|sku| match sku % 3 {
        0 => never,
        1 => always,
        _ => looks_only,
    });
    let params = Params {
        seed: 5,
        shopping_ms: 20 * 60_000,
        window_ms: W,
        shoppers_per_min: 12.0,
    };
    let script = generate(&layout, &timing(), &params);
    let sku_of = |j: &Journey| {
        layout.garments[j.garment]
            .gtin
            .trim_start_matches("sku")
            .parse::<usize>()
            .unwrap()
            % 3
    };
    assert!(
        script.journeys.iter().all(|j| sku_of(j) != 0),
        "a SKU nobody lifts has no journeys"
    );
    let bought: Vec<bool> = script
        .journeys
        .iter()
        .filter(|j| sku_of(j) == 1)
        .map(|j| j.purchase.is_some() && j.try_on.is_some())
        .collect();
    assert!(
        !bought.is_empty() && bought.iter().all(|&b| b),
        "a SKU everyone wants is always tried on and bought"
    );
    let tried = script
        .journeys
        .iter()
        .filter(|j| sku_of(j) == 2)
        .filter(|j| j.try_on.is_some())
        .count();
    assert_eq!(
        tried, 0,
        "a SKU nobody tries on never reaches the fitting room"
    );
}

#[test]
fn a_store_without_fitting_room_or_checkout_still_has_shoppers() {
    let mut layout = layout(|_| Propensity {
        pickup: 1.0,
        try_on: 1.0,
        purchase: 1.0,
    });
    layout.readers.clear();
    let params = Params {
        seed: 2,
        shopping_ms: 5 * 60_000,
        window_ms: W,
        shoppers_per_min: 12.0,
    };
    let script = generate(&layout, &timing(), &params);
    assert!(!script.journeys.is_empty());
    assert!(script
        .journeys
        .iter()
        .all(|j| j.try_on.is_none() && j.purchase.is_none()));
    assert!(script.reads.is_empty());
}

#[test]
fn every_journey_keeps_its_skus_pace() {
    for seed in 0..5 {
        let (layout, script) = busy_day(seed);
        let mut tried = 0;
        for j in &script.journeys {
            let pace = script.paces[&layout.garments[j.garment].gtin];
            if let Some(t) = j.try_on {
                assert_eq!(
                    t - (j.lifts[0] + LATENCY),
                    pace.view_to_try_on_ms,
                    "seed {seed}"
                );
                tried += 1;
                if let Some(p) = j.purchase {
                    assert_eq!(p - t, pace.try_on_to_purchase_ms, "seed {seed}");
                }
            }
        }
        assert!(tried > 10, "seed {seed}: only {tried} try-ons");
    }
}

#[test]
fn every_time_falls_on_a_sample() {
    let (_, script) = busy_day(6);
    let spans = script
        .presence
        .iter()
        .chain(&script.held)
        .flatten()
        .chain(script.reads.iter().map(|r| &r.span));
    for s in spans {
        assert_eq!((s.start % SAMPLE_MS, s.end % SAMPLE_MS), (0, 0), "{s:?}");
    }
    assert!(script.brushes.iter().flatten().all(|b| b % SAMPLE_MS == 0));
}

#[test]
fn paces_of_one_kind_share_a_parity_so_mixed_medians_are_whole_seconds() {
    let (_, script) = busy_day(4);
    for (gtin, pace) in &script.paces {
        assert_eq!(pace.view_to_try_on_ms % 2_000, 0, "{gtin}: {pace:?}");
        assert_eq!(
            pace.try_on_to_purchase_ms % 2_000,
            1_000,
            "{gtin}: {pace:?}"
        );
    }
}

#[test]
fn no_shopper_is_ever_late_for_a_pace() {
    let layout = layout(|_| Propensity {
        pickup: 1.0,
        try_on: 1.0,
        purchase: 1.0,
    });
    let params = Params {
        seed: 9,
        shopping_ms: 20 * 60_000,
        window_ms: W,
        shoppers_per_min: 12.0,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let paces = paces(&layout, &mut rng);
    let mut world = generate(
        &layout,
        &timing(),
        &Params {
            shoppers_per_min: 0.0,
            ..params
        },
    );
    world.paces = paces.clone();
    let mut arrival = 1_000;
    while arrival < 10 * 60_000 {
        let draft =
            Shopper::new(&layout, &timing(), &params, &paces, &world, true).walk(&mut rng, arrival);
        assert!(
            draft.feasible,
            "shopper arriving at {arrival} could not keep the pace"
        );
        if draft.fits(&timing(), &params) {
            draft.commit(&mut world);
        }
        arrival += 2_000;
    }
    let bought = world
        .journeys
        .iter()
        .filter(|j| j.purchase.is_some())
        .count();
    assert!(
        bought >= 10,
        "only {bought} purchases: the test exercised too little"
    );
}
