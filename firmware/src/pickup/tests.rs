use super::*;
use std::vec::Vec;

/// 25 Hz, the accelerometer's low-power rate on a hanger tag.
const PERIOD_MS: u64 = 40;
const HANGING: [i16; 3] = [0, 0, 1000];

/// Feeds samples and records each event with its time.
struct Trace {
    detector: PickupDetector,
    now: u64,
    noise: u32,
    events: Vec<(u64, MotionEvent)>,
}

impl Trace {
    fn new() -> Self {
        Trace {
            detector: PickupDetector::new(&Settings::default(), &PickupTuning::default()),
            now: 0,
            noise: 1,
            events: Vec::new(),
        }
    }

    /// Sensor noise of ±12 mg per axis, deterministic.
    fn jitter(&mut self) -> i16 {
        self.noise = self.noise.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        ((self.noise >> 16) % 25) as i16 - 12
    }

    fn hold(&mut self, accel: [i16; 3], ms: u64) {
        for _ in 0..ms / PERIOD_MS {
            let noisy = [
                accel[0] + self.jitter(),
                accel[1] + self.jitter(),
                accel[2] + self.jitter(),
            ];
            self.feed(noisy);
        }
    }

    fn feed(&mut self, accel: [i16; 3]) {
        if let Some(event) = self.detector.sample(self.now, accel) {
            self.events.push((self.now, event));
        }
        self.now += PERIOD_MS;
    }

    /// The events' kinds in order, without their times.
    fn kinds(&self) -> Vec<MotionEvent> {
        self.events.iter().map(|(_, e)| *e).collect()
    }

    /// Asserts the first event is a pickup.
    fn assert_picked_up_first(&self) {
        assert_eq!(
            self.events.first().map(|e| e.1),
            Some(MotionEvent::PickedUp),
            "{:?}",
            self.events
        );
    }

    /// Asserts the events are one pickup then one put-down; returns the
    /// hold time the put-down reports.
    fn one_hold_ms(&self) -> u32 {
        let kinds = self.kinds();
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert_eq!(kinds[0], MotionEvent::PickedUp);
        let MotionEvent::PutDown { held_ms } = kinds[1] else {
            panic!("{kinds:?}")
        };
        held_ms
    }

    /// A shopper turning the garment over: large, varying tilts.
    fn handle(&mut self, ms: u64) {
        let poses = [
            [450, 100, 880],
            [-300, 520, 790],
            [700, -200, 650],
            [100, 900, 300],
        ];
        for i in 0..ms / PERIOD_MS {
            let pose = poses[(i / 5) as usize % poses.len()];
            self.hold(pose, PERIOD_MS);
        }
    }
}

#[test]
fn real_pickup_reports_picked_up_then_put_down_with_hold_time() {
    let mut t = Trace::new();
    t.hold(HANGING, 2_000);
    let lifted_at = t.now;
    t.handle(3_000);
    let still_at = t.now;
    t.hold(HANGING, 7_000);

    assert_eq!(t.events.len(), 2, "{:?}", t.events);
    let (picked_at, picked) = t.events[0];
    assert_eq!(picked, MotionEvent::PickedUp);
    // The orientation must stay away from rest long enough to rule out a
    // push along the rail, but a lift is still reported within 2 s.
    assert!(
        picked_at > lifted_at + 4 * PERIOD_MS && picked_at <= lifted_at + 2_000,
        "picked up {} ms after the lift",
        picked_at - lifted_at
    );
    let (put_at, MotionEvent::PutDown { held_ms }) = t.events[1] else {
        panic!("{:?}", t.events)
    };
    assert!(
        put_at >= still_at + 5_000,
        "put down before still_ms of stillness"
    );
    // Held from the first moving sample to the first still one.
    let expected = still_at - lifted_at;
    assert!(
        held_ms as u64 + PERIOD_MS >= expected && held_ms as u64 <= expected + PERIOD_MS,
        "{held_ms} vs {expected}"
    );
}

/// A garment swinging on its hook after a brush: `amplitude_mg` of tilt
/// across the rail at `hz`, damped by `decay_per_s`, as a tag near the hook
/// sees it.
fn swing(t: &mut Trace, amplitude_mg: f64, hz: f64, decay_per_s: f64, ms: u64) {
    for i in 0..ms / PERIOD_MS {
        let s = (i * PERIOD_MS) as f64 / 1_000.0;
        let tilt =
            amplitude_mg * (-decay_per_s * s).exp() * (core::f64::consts::TAU * hz * s).sin();
        t.hold(
            [0, tilt as i16, 1_000 - (tilt * tilt / 2_000.0) as i16],
            PERIOD_MS,
        );
    }
}

#[test]
fn garment_swinging_after_a_brush_is_not_a_pickup() {
    for hz in [0.6, 0.8, 1.0, 1.2, 1.5] {
        let mut t = Trace::new();
        t.hold(HANGING, 2_000);
        // 18° of swing (309 mg), settling over a few seconds.
        swing(&mut t, 309.0, hz, 0.6, 8_000);
        t.hold(HANGING, 3_000);
        assert!(t.events.is_empty(), "{hz} Hz: {:?}", t.events);
    }
}

#[test]
fn push_along_the_rail_is_not_a_pickup() {
    for (peak_mg, ms) in [(250.0, 500), (250.0, 2_000), (100.0, 2_000)] {
        let mut t = Trace::new();
        t.hold(HANGING, 2_000);
        // The hook is slid along the rail, accelerating then braking: the
        // garment leans back, then forward, as long as the push lasts.
        for i in 0..ms / PERIOD_MS {
            let s = (i * PERIOD_MS) as f64 / ms as f64;
            let lean = peak_mg * (core::f64::consts::TAU * s).sin();
            t.hold([lean as i16, 0, 1_000], PERIOD_MS);
        }
        swing(&mut t, peak_mg / 2.0, 1.0, 0.6, 5_000);
        assert!(
            t.events.is_empty(),
            "{peak_mg} mg for {ms} ms: {:?}",
            t.events
        );
    }
}

#[test]
fn gentle_lift_of_fifteen_degrees_is_a_pickup() {
    let mut t = Trace::new();
    t.hold(HANGING, 2_000);
    // Eased off the rail and held at 15° (259 mg from rest) for 5 s.
    t.hold([259, 0, 966], 5_000);
    t.assert_picked_up_first();
}

#[test]
fn steady_hand_does_not_end_a_hold_and_hanging_back_is_no_new_pickup() {
    let mut t = Trace::new();
    t.hold(HANGING, 2_000);
    let lifted_at = t.now;
    // Lifted and held very steadily, tilted, for longer than still_ms.
    t.hold([500, 0, 866], 8_000);
    let back_at = t.now;
    t.hold(HANGING, 7_000);
    let held_ms = t.one_hold_ms();
    assert!(
        held_ms as u64 + PERIOD_MS >= back_at - lifted_at,
        "{held_ms}"
    );
}

#[test]
fn brush_against_the_rack_is_not_a_pickup() {
    let mut t = Trace::new();
    t.hold(HANGING, 2_000);
    t.feed([420, 310, 880]);
    t.feed([-380, 250, 930]);
    t.hold(HANGING, 5_000);
    // A knock: one violent sample.
    t.feed([2_500, -1_800, 1_400]);
    t.hold(HANGING, 5_000);
    assert!(t.events.is_empty(), "{:?}", t.events);
    assert!(t.detector.is_resting());
}

#[test]
fn long_hold_is_one_pickup_and_one_put_down() {
    let mut t = Trace::new();
    t.hold(HANGING, 1_000);
    t.handle(30_000);
    // Holding it up against the body: fairly still, but shorter than still_ms.
    t.hold([300, 200, 930], 3_000);
    t.handle(30_000);
    t.hold([0, 20, 1_000], 6_000);

    let held_ms = t.one_hold_ms();
    assert!(held_ms >= 62_000, "{held_ms}");
}

#[test]
fn garment_falling_off_its_hanger_is_not_a_pickup() {
    let mut t = Trace::new();
    t.hold(HANGING, 2_000);
    // Slips off: free fall for ~300 ms, an impact, a bounce, then lying on
    // its side on the floor.
    t.feed([120, 40, 700]);
    t.hold([15, -10, 30], 320);
    t.feed([1_900, -2_600, 700]);
    t.feed([-600, 900, 1_500]);
    t.feed([800, 200, 300]);
    t.hold([985, 0, 110], 10_000);
    assert!(t.events.is_empty(), "{:?}", t.events);
    assert!(t.detector.is_resting());

    // The floor orientation is the new reference: lifting it from there is a
    // pickup again. Hung up elsewhere than where it was lifted from, it is
    // put down after four times still_ms.
    t.handle(2_000);
    t.hold([0, 0, 1000], 21_000);
    let kinds = t.kinds();
    assert_eq!(kinds.first(), Some(&MotionEvent::PickedUp), "{kinds:?}");
    assert!(
        matches!(kinds.get(1), Some(MotionEvent::PutDown { .. })),
        "{kinds:?}"
    );
}

#[test]
fn slow_drift_of_the_rest_vector_is_followed_not_reported() {
    let mut t = Trace::new();
    // A sagging hanger tilts the tag by 300 mg over a minute.
    for step in 0..60 {
        t.hold([step * 5, 0, 1000], 1_000);
    }
    assert!(t.events.is_empty(), "{:?}", t.events);
}

#[test]
fn settings_out_of_range_are_clamped_not_trusted() {
    let settings = Settings {
        pickup_k: 0,
        pickup_m: 200,
        ..Settings::default()
    };
    let mut t = Trace {
        detector: PickupDetector::new(&settings, &PickupTuning::default()),
        ..Trace::new()
    };
    t.hold(HANGING, 1_000);
    t.handle(2_000);
    t.assert_picked_up_first();
}

#[test]
fn slow_deliberate_lift_is_a_pickup_not_absorbed_into_rest() {
    let mut t = Trace::new();
    t.hold(HANGING, 2_000);
    // Eased off the rail over 3 s, then held up to look at: each sample
    // differs little from the last, but the garment is far from its rest.
    let steps = (3_000 / PERIOD_MS) as i32;
    for i in 0..steps {
        t.hold(
            [(i * 500 / steps) as i16, 0, (1000 - i * 200 / steps) as i16],
            PERIOD_MS,
        );
    }
    t.hold([500, 0, 800], 3_000);
    t.assert_picked_up_first();
}

#[test]
fn detector_keeps_sampling_after_a_jolt_until_the_window_clears() {
    let mut t = Trace::new();
    t.hold(HANGING, 1_000);
    assert!(t.detector.is_resting());
    t.feed([400, 300, 900]);
    assert!(
        !t.detector.is_resting(),
        "a moving sample is still in the K-of-M window"
    );
    // M = 6: it leaves the window after six more samples.
    t.hold(HANGING, 5 * PERIOD_MS);
    assert!(!t.detector.is_resting());
    t.hold(HANGING, PERIOD_MS);
    assert!(t.detector.is_resting());
}

#[test]
fn fall_spinning_too_fast_for_free_fall_is_not_a_pickup() {
    // From the fall model (docs/pickup-models.md): tumbling at 4 rad/s
    // about the rail's axis (x) with the tag 0.3 m below the garment's
    // centre, the tag reads only the spin's pull towards the centre,
    // ω²r = 16 × 0.3 / 9.81 = 0.49 g along its own +z, never free fall.
    // A drop of 1 m lasts √(2 / 9.81) = 0.45 s and turns the garment by
    // 4 × 0.45 = 1.81 rad, so on the floor gravity reads
    // (0, 1000 sin 1.81, 1000 cos 1.81) = (0, 971, -237) mg.
    let mut t = Trace::new();
    t.hold(HANGING, 2_000);
    t.hold([0, 0, 489], 440);
    // The impact, clipped at ±2 g.
    t.feed([0, 2_000, 2_000]);
    t.hold([0, 971, -237], 6_000);
    assert!(t.events.is_empty(), "{:?}", t.events);
    assert!(t.detector.is_resting());
}

#[test]
fn gentle_slow_lift_after_a_jolt_is_still_a_pickup() {
    // A shopper yanks the hanger off the rail (a 1.8 g jolt as its hook
    // clears the rail), then eases it to 15° over 2 s (the gentle style's
    // slowest) and holds it there trembling: 30 mg of tremor at 10 Hz on
    // x, a tenth of the 259 mg the tilt moved it.
    let mut t = Trace::new();
    t.hold(HANGING, 2_000);
    let lifted_at = t.now;
    t.feed([0, 0, 1_800]);
    let steps = (2_000 / PERIOD_MS) as i32;
    for i in 0..steps {
        let s = f64::from(i) / f64::from(steps);
        // Minimum jerk: 10s³ − 15s⁴ + 6s⁵ of the way there.
        let done = s * s * s * (10.0 - 15.0 * s + 6.0 * s * s);
        let x = 259.0 * done;
        t.hold([x as i16, 0, (1_000.0 - 34.0 * done) as i16], PERIOD_MS);
    }
    for i in 0..(4_000 / PERIOD_MS) {
        let tremor =
            30.0 * (core::f64::consts::TAU * 10.0 * (i * PERIOD_MS) as f64 / 1_000.0).sin();
        t.hold([259 + tremor as i16, 0, 966], PERIOD_MS);
    }
    t.assert_picked_up_first();
    let picked_at = t.events[0].0;
    assert!(
        picked_at - lifted_at <= 4_000,
        "{} ms",
        picked_at - lifted_at
    );
}
