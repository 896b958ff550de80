//! The entrance counter on synthetic beam traces sampled at 100 Hz: each
//! case is written as the beam edges a person makes, and the expected counts
//! follow from the rules in the module doc, worked out by hand.

use super::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const STEP_MS: u64 = 10;
const PERIOD_MS: u64 = 60_000;

/// A beam edge: at `t` ms, beam `A` (street side) or `B` (store side) goes
/// broken (`true`) or clear.
type Edge = (u64, char, bool);

/// Runs `counter` over `edges` from `from` to `until`, sampling every
/// 10 ms, and returns every report.
fn drive(counter: &mut EntranceCounter, edges: &[Edge], from: u64, until: u64) -> Vec<EntryCounts> {
    let mut levels = [false, false];
    let mut reports = Vec::new();
    let mut t = from;
    while t <= until {
        for &(at, beam, broken) in edges {
            if at <= t && at + STEP_MS > t {
                levels[if beam == 'A' { 0 } else { 1 }] = broken;
            }
        }
        reports.extend(counter.sample(t, levels[0], levels[1]));
        t += STEP_MS;
    }
    reports
}

/// A new counter with the default settings over `edges`, from 0 to `until`.
fn run(edges: &[Edge], until: u64) -> Vec<EntryCounts> {
    drive(
        &mut EntranceCounter::new(EntranceSettings::default()),
        edges,
        0,
        until,
    )
}

/// Totals over reports.
fn totals(reports: &[EntryCounts]) -> (u32, u32) {
    reports.iter().fold((0, 0), |(i, o), r| {
        (i + u32::from(r.entered), o + u32::from(r.exited))
    })
}

/// A person walking in from `t`: breaks A, 150 ms later B, clears A after
/// 500 ms in it, clears B 150 ms after that.
fn walk_in(t: u64) -> [Edge; 4] {
    [
        (t, 'A', true),
        (t + 150, 'B', true),
        (t + 500, 'A', false),
        (t + 650, 'B', false),
    ]
}

/// The mirror: walking out.
fn walk_out(t: u64) -> [Edge; 4] {
    [
        (t, 'B', true),
        (t + 150, 'A', true),
        (t + 500, 'B', false),
        (t + 650, 'A', false),
    ]
}

#[test]
fn a_person_walking_in_counts_one_entry_at_the_start_of_its_period() {
    let reports = run(&walk_in(1_000), 2 * PERIOD_MS);
    assert_eq!(
        reports,
        vec![EntryCounts {
            entered: 1,
            exited: 0,
            period_ms: 60_000,
            started_ms: 0
        }]
    );
}

#[test]
fn a_person_walking_out_counts_one_exit() {
    let reports = run(&walk_out(61_000), 3 * PERIOD_MS);
    assert_eq!(
        reports,
        vec![EntryCounts {
            entered: 0,
            exited: 1,
            period_ms: 60_000,
            started_ms: 60_000
        }]
    );
}

#[test]
fn nothing_is_reported_for_a_period_without_people() {
    assert_eq!(run(&[], 5 * PERIOD_MS), vec![]);
}

#[test]
fn a_period_is_reported_only_once_it_is_over() {
    let mut counter = EntranceCounter::new(EntranceSettings::default());
    let reports = drive(&mut counter, &walk_in(1_000), 0, PERIOD_MS - STEP_MS);
    assert_eq!(reports, vec![], "the period is still running");
    // Due once the period is over and a change at its very end has had
    // min_break_ms to settle.
    assert_eq!(counter.poll_timeout(), Some(PERIOD_MS + 40));
    assert_eq!(counter.poll(PERIOD_MS + 39), None);
    assert!(counter.poll(PERIOD_MS + 40).is_some());
}

#[test]
fn stepping_in_and_turning_back_counts_nothing() {
    // Into A, on into B, then back out: B clears first, A last.
    let into_both = [
        (1_000, 'A', true),
        (1_150, 'B', true),
        (1_400, 'B', false),
        (1_600, 'A', false),
    ];
    // Only as far as A.
    let only_a = [(5_000, 'A', true), (5_300, 'A', false)];
    // From inside, into B and back.
    let only_b = [(9_000, 'B', true), (9_300, 'B', false)];
    let edges: Vec<Edge> = into_both.into_iter().chain(only_a).chain(only_b).collect();
    let mut counter = EntranceCounter::new(EntranceSettings::default());
    let reports = drive(&mut counter, &edges, 0, 2 * PERIOD_MS);
    assert_eq!(reports, vec![]);
    assert_eq!(counter.turned_back(), 3);
}

#[test]
fn two_people_close_together_count_as_two() {
    // The second breaks A 50 ms after the first cleared it, while the first
    // is still in B: A↓ B↓ A↑ A↓ B↑ B↓ A↑ B↑.
    let mut edges = walk_in(1_000).to_vec();
    edges.extend(walk_in(1_550));
    let reports = run(&edges, 2 * PERIOD_MS);
    assert_eq!(totals(&reports), (2, 0));
}

#[test]
fn people_crossing_in_opposite_directions_count_one_each_way() {
    let mut edges = walk_in(1_000).to_vec();
    edges.extend(walk_out(3_000));
    let reports = run(&edges, 2 * PERIOD_MS);
    assert_eq!(totals(&reports), (1, 1));
}

#[test]
fn flicker_shorter_than_a_step_is_ignored() {
    // 20 ms blips on each beam, in walking-in order, and a 20 ms gap in a
    // real break that must not split it.
    let mut edges: Vec<Edge> = vec![
        (1_000, 'A', true),
        (1_020, 'A', false),
        (1_030, 'B', true),
        (1_050, 'B', false),
    ];
    edges.extend([
        (5_000, 'A', true),
        (5_150, 'B', true),
        (5_300, 'A', false),
        (5_320, 'A', true),
        (5_500, 'A', false),
        (5_650, 'B', false),
    ]);
    let reports = run(&edges, 2 * PERIOD_MS);
    assert_eq!(totals(&reports), (1, 0));
}

#[test]
fn a_beam_held_broken_for_minutes_is_blocked_and_counts_nothing() {
    let mut counter = EntranceCounter::new(EntranceSettings::default());
    let mut reports = Vec::new();
    // A pram stands in beam A from t = 1 s to t = 4 min; people walk
    // through beam B meanwhile.
    let mut t = 0;
    while t <= 6 * PERIOD_MS {
        let a = (1_000..240_000).contains(&t);
        let b = (30_000..30_300).contains(&t) || (90_000..90_300).contains(&t);
        reports.extend(counter.sample(t, a, b));
        if t == 21_000 {
            assert!(counter.is_blocked(), "blocked after 20 s");
        }
        t += STEP_MS;
    }
    assert!(!counter.is_blocked(), "clears with the beam");
    assert_eq!(counter.blocked_episodes(), 1);
    assert_eq!(reports, vec![]);
    // Counting resumes once it clears.
    reports.extend(drive(
        &mut counter,
        &walk_in(370_000),
        6 * PERIOD_MS + STEP_MS,
        8 * PERIOD_MS,
    ));
    assert_eq!(totals(&reports), (1, 0));
    assert_eq!(reports[0].started_ms, 360_000);
}

#[test]
fn passages_are_counted_in_the_period_they_ended_in() {
    // One in period 0, two in period 2, one out in period 2.
    let mut edges = walk_in(10_000).to_vec();
    edges.extend(walk_in(125_000));
    edges.extend(walk_in(130_000));
    edges.extend(walk_out(150_000));
    let reports = run(&edges, 4 * PERIOD_MS);
    assert_eq!(
        reports,
        vec![
            EntryCounts {
                entered: 1,
                exited: 0,
                period_ms: 60_000,
                started_ms: 0
            },
            EntryCounts {
                entered: 2,
                exited: 1,
                period_ms: 60_000,
                started_ms: 120_000
            },
        ]
    );
}

proptest! {
    /// However many people walk in and out one after another, with any
    /// spacing that leaves the beams clear between them, the counts equal
    /// them and every report is for a distinct, whole period.
    #[test]
    fn separate_passages_are_all_counted(
        passages in proptest::collection::vec((any::<bool>(), 700u64..20_000), 0..40),
    ) {
        let mut edges = Vec::new();
        let mut t = 1_000;
        let (mut ins, mut outs) = (0, 0);
        for (inward, gap) in passages {
            if inward {
                edges.extend(walk_in(t));
                ins += 1;
            } else {
                edges.extend(walk_out(t));
                outs += 1;
            }
            t += gap;
        }
        let reports = run(&edges, t + 2 * PERIOD_MS);
        prop_assert_eq!(totals(&reports), (ins, outs));
        for pair in reports.windows(2) {
            prop_assert!(pair[0].started_ms < pair[1].started_ms);
        }
        for r in &reports {
            prop_assert_eq!(r.started_ms % PERIOD_MS, 0);
            prop_assert!(r.entered > 0 || r.exited > 0);
        }
    }
}

#[test]
fn shift_and_subtract_division_agrees_with_the_library() {
    let cases = [
        (0, 1),
        (59_999, 60_000),
        (60_000, 60_000),
        (u64::MAX, 1),
        (u64::MAX, 60_000),
        (u64::MAX, u64::from(u32::MAX)),
        (1 << 63, 3),
        (123_456_789_012, 7),
    ];
    for (n, d) in cases {
        assert_eq!(super::div_u64(n, d), n / d, "{n} / {d}");
    }
}

#[test]
fn changes_fed_only_at_edges_without_polls_between_are_all_taken() {
    // The close-together trace, fed only when a beam changes and never
    // polled between: A's clear at 300 has settled by the time A breaks
    // again at 400 and must not be overwritten by it.
    let mut counter = EntranceCounter::new(EntranceSettings::default());
    for (t, a, b) in [
        (0, true, false),
        (150, true, true),
        (300, false, true),
        (400, true, true),
        (500, true, false),
        (600, true, true),
        (750, false, true),
        (900, false, false),
    ] {
        assert_eq!(counter.sample(1_000 + t, a, b), None);
    }
    let report = counter.poll(PERIOD_MS + 40).expect("period 0 reported");
    assert_eq!((report.entered, report.exited), (2, 0));
}
