use super::*;
use std::vec::Vec;

fn settings() -> Settings {
    Settings {
        dwell_min_ms: 8_000,
        dwell_gap_ms: 4_000,
        ..Settings::default()
    }
}

/// Drives a detector from a list of (time, level) edges, polling every
/// 100 ms in between as a tag's timer would, and records the events.
fn run(edges: &[(u64, bool)], until: u64) -> Vec<(u64, DwellEvent)> {
    let mut detector = DwellDetector::new(&settings());
    let mut events = Vec::new();
    let mut edges = edges.iter().peekable();
    let mut now = 0;
    while now <= until {
        while let Some(&&(at, level)) = edges.peek() {
            if at > now {
                break;
            }
            events.extend(detector.sample(at, level).map(|e| (at, e)));
            edges.next();
        }
        events.extend(detector.poll(now).map(|e| (now, e)));
        now += 100;
    }
    events
}

#[test]
fn pir_flicker_within_one_visit_is_one_dwell() {
    // A shopper browses from 1 s to 30 s; the PIR drops out three times for
    // up to 3 s (below the 4 s gap tolerance).
    let edges = [
        (1_000, true),
        (6_000, false),
        (9_000, true),
        (15_000, false),
        (16_500, true),
        (22_000, false),
        (24_500, true),
        (30_000, false),
    ];
    let events = run(&edges, 60_000);
    assert_eq!(
        events,
        [
            (9_000, DwellEvent::DwellStart),
            (34_000, DwellEvent::DwellEnd { dwell_ms: 29_000 })
        ]
    );
}

#[test]
fn two_separate_visits_are_two_dwells() {
    let edges = [
        (1_000, true),
        (12_000, false),
        (20_000, true),
        (40_000, false),
    ];
    let events = run(&edges, 60_000);
    assert_eq!(
        events,
        [
            (9_000, DwellEvent::DwellStart),
            (16_000, DwellEvent::DwellEnd { dwell_ms: 11_000 }),
            (28_000, DwellEvent::DwellStart),
            (44_000, DwellEvent::DwellEnd { dwell_ms: 20_000 }),
        ]
    );
}

#[test]
fn passer_by_shorter_than_min_dwell_is_not_reported() {
    let edges = [(1_000, true), (3_000, false), (5_000, true), (6_000, false)];
    assert!(run(&edges, 30_000).is_empty());
}

#[test]
fn end_is_detected_by_a_sample_when_nobody_polled() {
    let mut detector = DwellDetector::new(&settings());
    assert_eq!(detector.sample(0, true), None);
    assert_eq!(detector.sample(10_000, true), Some(DwellEvent::DwellStart));
    assert_eq!(detector.sample(12_000, false), None);
    // Much later a new shopper arrives: the old visit ends first, the new
    // one opens and is reported once it is long enough.
    assert_eq!(
        detector.sample(100_000, true),
        Some(DwellEvent::DwellEnd { dwell_ms: 12_000 })
    );
    assert_eq!(detector.poll_timeout(), Some(108_000));
    assert_eq!(detector.poll(108_000), Some(DwellEvent::DwellStart));
}

#[test]
fn poll_timeout_names_the_next_deadline() {
    let mut detector = DwellDetector::new(&settings());
    assert_eq!(detector.poll_timeout(), None);
    detector.sample(1_000, true);
    assert_eq!(detector.poll_timeout(), Some(9_000));
    detector.sample(3_000, false);
    assert_eq!(detector.poll_timeout(), Some(7_000));
    assert_eq!(detector.poll(7_000), None);
    assert!(detector.is_idle());
}
