//! Pickup detection for garment motion tags: turns accelerometer samples into
//! `PickedUp` and `PutDown { held_ms }`.
//!
//! A garment on its rail is brushed, pushed along the rail and knocked far
//! more often than it is lifted, so a pickup needs two things at once:
//! referenced motion (K of the last M samples further than the threshold
//! from the learned rest vector) and a lasting change of orientation. The
//! second is judged on the samples averaged over a hanger's swing: a garment
//! swinging on its hook returns to its rest orientation on average, and a
//! push along the rail tilts it only while the push lasts, while a garment in
//! a shopper's hands stays away from it. Time away from rest is weighed by
//! how far away, so a garment lifted high is reported sooner than one eased
//! off the rail. A garment falling off its hanger is in free fall first (|a|
//! near 0 g), which a hand never produces, so a fall is recognised and the
//! tag re-learns its rest vector on the floor instead of reporting a pickup.
//! A garment spinning as it falls reads the spin's pull instead of free
//! fall; it is told by what follows: a jolt (a light reading or the impact)
//! and at once lying dead still, away from rest, which a hand never does.

use protocol::Settings;

/// What the pickup detector concluded from a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MotionEvent {
    /// A shopper lifted the garment.
    PickedUp,
    /// The garment has been still for `still_ms`; `held_ms` runs from the
    /// moment it started moving to the moment it came to rest.
    PutDown {
        /// From the first moving sample to rest.
        held_ms: u32,
    },
}

/// The pickup detector's orientation thresholds, kept in the config page
/// next to [`Settings`] (layout version 2; a version 1 page loads with the
/// defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PickupTuning {
    /// The swing-averaged acceleration must differ from the rest vector by
    /// more than this (milli-g) to count towards a pickup.
    pub tilt_mg: u16,
    /// How much it must: the excess over `tilt_mg`, integrated over time, in
    /// milli-g × seconds. 150 is one second at 150 mg over the threshold, or
    /// three seconds at 50 mg over.
    pub tilt_mg_s: u16,
}

impl Default for PickupTuning {
    /// Chosen on the tuning half of the labelled trace corpus
    /// (`firmware/corpus/`, see BENCHMARKS.md): every lift found, a median
    /// of 1.6 s after it began, and no brush, push along the rail, knock or
    /// fall reported, with seven times the evidence the worst of them
    /// gathers.
    fn default() -> Self {
        PickupTuning {
            tilt_mg: 100,
            tilt_mg_s: 150,
        }
    }
}

/// |a| below this (milli-g) is free fall. Resting or hand-held, gravity alone
/// gives about 1000 mg; a dropped garment reads close to 0.
const FREE_FALL_MG: i32 = 350;

/// Free-fall samples among the last M that make a fall: 3 is 120 ms at
/// 25 Hz. A garment slipping off its hanger falls for 250 ms or more, while
/// a hand swinging a garment up fast can read near 0 g for a sample.
const FALL_SAMPLES: u32 = 3;

/// After a fall, the garment must lie still this long before the detector
/// trusts its new orientation as the rest vector.
const FALL_SETTLE_MS: u64 = 1_000;

/// The rest vector is learned only once the garment has been still this
/// long, so slow drift (temperature, a sagging hanger) is followed while a
/// garment eased off its rail, which never stays still, is not absorbed
/// into the reference.
const REST_SETTLE_MS: u64 = 1_000;

/// |a| outside these bounds (milli-g) is a jolt: a garment tumbling off
/// its hanger too fast for its tag to read free fall (the spin's pull,
/// ω²r, is 0.35–0.6 g), or the impact that ends a fall. A hand's raise and
/// a shopper's steps can reach them too; what tells a fall is what follows.
const LIGHT_MG: i32 = 600;
const JOLT_MG: i32 = 1_700;

/// A sample further than this (milli-g) from the one that opened a quiet
/// spell ends it. The sensor's noise (up to 10 mg RMS per axis, 4 mg steps)
/// stays inside it; a garment tilting in a hand does not.
const QUIET_MG: i32 = 60;

/// A jolt, then at once (within this, two samples at 20 Hz) a quiet spell
/// away from rest lasting [`QUIET_HOLD_MS`]: the garment landed somewhere
/// and lies there untouched. No hand stops a garment dead after a jolt.
const LANDING_GAP_MS: u32 = 100;
const QUIET_HOLD_MS: u32 = 400;

/// Rest-vector learning rate while still, as a shift: 1/16 of the
/// difference per sample.
const REST_LEARN_SHIFT: u32 = 4;

/// The rest vector and the swing filter are kept in 1/16 mg so learning and
/// filtering have no dead zone or rounding bias at small differences.
const FRACTION_BITS: u32 = 4;

/// Each of the two low-pass stages that average a swing out moves 1/16 of
/// the way to its input per sample: a time constant of 15.5 samples, 620 ms
/// at the tag's 25 Hz. A hanger on a rail swings at 0.6–1.5 Hz; the two
/// stages pass 10 % of a 0.8 Hz swing and 5 % of a 1.2 Hz one, and follow a
/// lift within about a second. (A shift, not a time-based weight: a divide
/// is a library call on a Cortex-M0 and the tag samples at a fixed rate.)
const SWING_SHIFT: u32 = 4;

/// Longest sample period the evidence trusts. After the MCU slept through a
/// still spell on wake-on-motion, the first sample counts as one of a 10 Hz
/// stream, not as the whole spell.
const MAX_SAMPLE_GAP_MS: u32 = 100;

/// Widest K-of-M window the detector keeps (one bit per sample).
pub const MAX_WINDOW: u8 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No sample yet: the first one becomes the rest vector.
    Unknown,
    /// Hanging or lying still; `rest` is the reference.
    Resting,
    /// In a shopper's hands since `since`.
    Held { since: u64 },
    /// Fell off its hanger; waiting to lie still on the floor.
    Falling,
}

/// Still-period tracking: the sample that opened the current still period and
/// when. Any sample further than the threshold from it restarts the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    accel: [i32; 3],
    since: u64,
}

impl Anchor {
    /// Restarts the period if the sample is further than `threshold_sq`
    /// (squared milli-g) from the anchor, or if no sample came before;
    /// returns how long the garment has stayed near it.
    fn hold(&mut self, now_ms: u64, accel: [i32; 3], threshold_sq: i64, state: State) -> u64 {
        if state == State::Unknown || distance_sq(accel, self.accel) > threshold_sq {
            *self = Anchor {
                accel,
                since: now_ms,
            };
        }
        now_ms.saturating_sub(self.since)
    }
}

/// Pickup detector for one motion tag. Feed it every accelerometer sample.
#[derive(Debug, Clone)]
pub struct PickupDetector {
    threshold_sq: i64,
    k: u32,
    m: u32,
    still_ms: u64,
    tilt_mg: i32,
    /// `tilt_mg_s` in milli-g × milliseconds.
    tilt_evidence: u32,
    state: State,
    /// The rest vector, in 1/16 mg.
    rest_q4: [i32; 3],
    /// The two swing-filter stages, in 1/16 mg; the second is the average.
    swing_q4: [[i32; 3]; 2],
    /// Excess of the averaged tilt over `tilt_mg` accumulated so far, in
    /// milli-g × milliseconds; 0 whenever the average is back near rest.
    evidence: u32,
    /// When the current run of moving samples began.
    moving_since: u64,
    /// When the last sample was taken, as a wrapping u32 (see `filter_swing`).
    last_ms: u32,
    /// Moving flags of the last `m` samples, newest in bit 0.
    window: u32,
    /// Free-fall flags of the last `m` samples, newest in bit 0.
    falls: u32,
    anchor: Anchor,
    /// Opens the current quiet spell (within [`QUIET_MG`]).
    quiet: Anchor,
    /// When the last jolt (|a| outside [`LIGHT_MG`]..[`JOLT_MG`]) was read,
    /// as a wrapping u32 like `last_ms`.
    jolt_ms: u32,
}

impl PickupDetector {
    /// A detector with these thresholds, its garment assumed at rest.
    pub fn new(settings: &Settings, tuning: &PickupTuning) -> Self {
        let mut detector = PickupDetector {
            threshold_sq: 0,
            k: 1,
            m: 1,
            still_ms: 0,
            tilt_mg: 0,
            tilt_evidence: 0,
            state: State::Unknown,
            rest_q4: [0; 3],
            swing_q4: [[0; 3]; 2],
            evidence: 0,
            moving_since: 0,
            last_ms: 0,
            window: 0,
            falls: 0,
            anchor: Anchor {
                accel: [0; 3],
                since: 0,
            },
            quiet: Anchor {
                accel: [0; 3],
                since: 0,
            },
            jolt_ms: 0,
        };
        detector.update_settings(settings);
        detector.tilt_mg = i32::from(tuning.tilt_mg);
        detector.tilt_evidence = u32::from(tuning.tilt_mg_s) * 1_000;
        detector
    }

    /// Applies new thresholds (a `Configure` downlink) without forgetting the
    /// rest vector or an ongoing hold. Out-of-range K/M are clamped so a bad
    /// config cannot disable detection or index past the window.
    pub fn update_settings(&mut self, settings: &Settings) {
        let threshold = i64::from(settings.pickup_threshold_mg.max(1));
        self.threshold_sq = threshold * threshold;
        let m = settings.pickup_m.clamp(1, MAX_WINDOW);
        self.m = u32::from(m);
        self.k = u32::from(settings.pickup_k.clamp(1, m));
        self.still_ms = u64::from(settings.still_ms);
        self.window &= self.window_mask();
        self.falls &= self.window_mask();
    }

    /// True while the garment hangs still and no recent sample moved: the
    /// MCU may stop sampling, arm the accelerometer's wake-on-motion
    /// interrupt and sleep. After a wake-up it keeps sampling until the K-of-M
    /// window is clear and the averaged tilt is back near rest, so a pickup
    /// is judged on consecutive samples.
    pub fn is_resting(&self) -> bool {
        self.state == State::Resting && self.window == 0 && self.evidence == 0
    }

    /// Feeds one sample (milli-g per axis) taken at `now_ms`.
    pub fn sample(&mut self, now_ms: u64, accel_mg: [i16; 3]) -> Option<MotionEvent> {
        let accel = accel_mg.map(i32::from);
        let rest = self.rest_q4.map(|r| r >> FRACTION_BITS);
        let moving = distance_sq(accel, rest) > self.threshold_sq;
        let magnitude_sq = magnitude_sq(accel);
        let free_fall = magnitude_sq < i64::from(FREE_FALL_MG * FREE_FALL_MG);
        // Outside LIGHT_MG..=JOLT_MG, in one unsigned comparison.
        let light_sq = i64::from(LIGHT_MG * LIGHT_MG);
        if (magnitude_sq - light_sq) as u64 > (i64::from(JOLT_MG * JOLT_MG) - light_sq) as u64 {
            self.jolt_ms = now_ms as u32;
        }
        let mask = self.window_mask();
        if self.window == 0 {
            self.moving_since = now_ms;
        }
        self.window = ((self.window << 1) | u32::from(moving)) & mask;
        self.falls = ((self.falls << 1) | u32::from(free_fall)) & mask;
        let still_for = self
            .anchor
            .hold(now_ms, accel, self.threshold_sq, self.state);
        let quiet_sq = i64::from(QUIET_MG * QUIET_MG);
        let quiet_for = self.quiet.hold(now_ms, accel, quiet_sq, self.state);
        self.filter_swing(now_ms, accel);

        match self.state {
            State::Unknown => {
                self.settle(accel);
                None
            }
            State::Resting => {
                if self.falls.count_ones() >= FALL_SAMPLES.min(self.m) {
                    self.state = State::Falling;
                    None
                } else if moving
                    && quiet_for >= u64::from(QUIET_HOLD_MS)
                    // Began 1..=LANDING_GAP_MS after the jolt.
                    && (self.quiet.since as u32).wrapping_sub(self.jolt_ms.wrapping_add(1)) < LANDING_GAP_MS
                {
                    // Landed and lying still: where it lies is its new rest.
                    self.settle(self.quiet.accel);
                    None
                } else if self.window.count_ones() >= self.k
                    && self.evidence >= self.tilt_evidence
                    // After a jolt, wait to see whether the garment lands.
                    && (now_ms as u32).wrapping_sub(self.jolt_ms) >= LANDING_GAP_MS + QUIET_HOLD_MS
                {
                    self.state = State::Held {
                        since: self.moving_since,
                    };
                    Some(MotionEvent::PickedUp)
                } else {
                    if !moving && still_for >= REST_SETTLE_MS {
                        self.learn_rest(accel);
                    }
                    None
                }
            }
            State::Held { since } => {
                // Hung back where it came from, it is put down after
                // `still_ms`; still anywhere else (held very steadily, or
                // laid on a table) only after four times as long, so a
                // steady hand does not end a hold early.
                let home = distance_sq(self.anchor.accel, rest) <= self.threshold_sq;
                let needed = if home {
                    self.still_ms
                } else {
                    4 * self.still_ms
                };
                if still_for >= needed {
                    let held_ms = self.anchor.since.saturating_sub(since);
                    self.settle(self.anchor.accel);
                    Some(MotionEvent::PutDown {
                        held_ms: saturate_u32(held_ms),
                    })
                } else {
                    None
                }
            }
            State::Falling => {
                if still_for >= FALL_SETTLE_MS {
                    self.settle(self.anchor.accel);
                }
                None
            }
        }
    }

    fn window_mask(&self) -> u32 {
        if self.m >= 32 {
            u32::MAX
        } else {
            (1 << self.m) - 1
        }
    }

    /// Runs the sample through the swing filter and weighs how far the
    /// average is from rest: the excess over `tilt_mg`, times the time it
    /// lasted, adds to the evidence; an average back near rest clears it.
    fn filter_swing(&mut self, now_ms: u64, accel: [i32; 3]) {
        // Milliseconds since boot wrap a u32 after 49 days; the difference
        // of two wrapped times is still right.
        let now = now_ms as u32;
        let dt = now.wrapping_sub(self.last_ms).min(MAX_SAMPLE_GAP_MS);
        self.last_ms = now;
        let mut distance_sq = 0;
        for axis in 0..3 {
            let [first, second] = &mut self.swing_q4;
            first[axis] += ((accel[axis] << FRACTION_BITS) - first[axis]) >> SWING_SHIFT;
            second[axis] += (first[axis] - second[axis]) >> SWING_SHIFT;
            let d = i64::from((second[axis] - self.rest_q4[axis]) >> FRACTION_BITS);
            distance_sq += d * d;
        }
        let excess = isqrt(distance_sq) as i32 - self.tilt_mg;
        self.evidence = if excess > 0 {
            self.evidence.saturating_add(excess as u32 * dt)
        } else {
            0
        };
    }

    /// Takes `accel` as the new rest vector and forgets the motion history,
    /// so the moves that led here do not count towards the next pickup.
    fn settle(&mut self, accel: [i32; 3]) {
        let rest = accel.map(|a| a << FRACTION_BITS);
        self.rest_q4 = rest;
        self.swing_q4 = [rest, rest];
        self.evidence = 0;
        self.window = 0;
        self.falls = 0;
        self.state = State::Resting;
    }

    fn learn_rest(&mut self, accel: [i32; 3]) {
        for (rest, a) in self.rest_q4.iter_mut().zip(accel) {
            *rest += ((a << FRACTION_BITS) - *rest) >> REST_LEARN_SHIFT;
        }
    }
}

/// Integer square root (floor), bit by bit: no floating point on the MCU.
/// Distances beyond the u32 range (garbage samples) saturate.
fn isqrt(n: i64) -> u32 {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    let mut root = 0u32;
    let mut bit = 1u32 << 30;
    while bit > n {
        bit >>= 2;
    }
    let mut rem = n;
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

fn distance_sq(a: [i32; 3], b: [i32; 3]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(&x, y)| i64::from(x - y) * i64::from(x - y))
        .sum()
}

fn magnitude_sq(a: [i32; 3]) -> i64 {
    distance_sq(a, [0; 3])
}

pub(crate) fn saturate_u32(ms: u64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
