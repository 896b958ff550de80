//! Pickup detection for garment motion tags: turns accelerometer samples into
//! `PickedUp` and `PutDown { held_ms }`.
//!
//! Referenced motion: a sample is *moving* when it differs from the learned
//! rest vector by more than the threshold, and a pickup needs K of the last M
//! samples moving. A knock against the rack moves one or two samples and is
//! ignored. A garment falling off its hanger is in free fall first (|a| near
//! 0 g), which a hand never produces, so a fall is recognised and the tag
//! re-learns its rest vector on the floor instead of reporting a pickup.

use protocol::Settings;

/// What the pickup detector concluded from a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MotionEvent {
    /// Referenced motion began: a shopper lifted the garment.
    PickedUp,
    /// The garment has been still for `still_ms`; `held_ms` runs from the
    /// pickup to the moment it came to rest.
    PutDown { held_ms: u32 },
}

/// |a| below this (milli-g) is free fall. Resting or hand-held, gravity alone
/// gives about 1000 mg; a dropped garment reads close to 0.
const FREE_FALL_MG: i32 = 350;

/// After a fall, the garment must lie still this long before the detector
/// trusts its new orientation as the rest vector.
const FALL_SETTLE_MS: u64 = 1_000;

/// The rest vector is learned only once the garment has been still this
/// long, so slow drift (temperature, a sagging hanger) is followed while a
/// garment eased off its rail, which never stays still, is not absorbed
/// into the reference.
const REST_SETTLE_MS: u64 = 1_000;

/// Rest-vector learning rate while still, as a shift: 1/16 of the
/// difference per sample.
const REST_LEARN_SHIFT: u32 = 4;

/// The rest vector is kept in 1/16 mg so learning has no dead zone or
/// rounding bias at small differences.
const REST_FRACTION_BITS: u32 = 4;

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

/// Pickup detector for one motion tag. Feed it every accelerometer sample.
#[derive(Debug, Clone)]
pub struct PickupDetector {
    threshold_sq: i64,
    k: u32,
    m: u32,
    still_ms: u64,
    state: State,
    /// The rest vector, in 1/16 mg.
    rest_q4: [i32; 3],
    /// Moving flags of the last `m` samples, newest in bit 0.
    window: u32,
    /// Free-fall flags of the last `m` samples, newest in bit 0.
    falls: u32,
    anchor: Anchor,
}

impl PickupDetector {
    pub fn new(settings: &Settings) -> Self {
        let mut detector = PickupDetector {
            threshold_sq: 0,
            k: 1,
            m: 1,
            still_ms: 0,
            state: State::Unknown,
            rest_q4: [0; 3],
            window: 0,
            falls: 0,
            anchor: Anchor {
                accel: [0; 3],
                since: 0,
            },
        };
        detector.update_settings(settings);
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
    /// window is clear again, so a pickup is judged on consecutive samples.
    pub fn is_resting(&self) -> bool {
        self.state == State::Resting && self.window == 0
    }

    /// Feeds one sample (milli-g per axis) taken at `now_ms`.
    pub fn sample(&mut self, now_ms: u64, accel_mg: [i16; 3]) -> Option<MotionEvent> {
        let accel = accel_mg.map(i32::from);
        let rest = self.rest_q4.map(|r| r >> REST_FRACTION_BITS);
        let moving = distance_sq(accel, rest) > self.threshold_sq;
        let free_fall = magnitude_sq(accel) < i64::from(FREE_FALL_MG * FREE_FALL_MG);
        let mask = self.window_mask();
        self.window = ((self.window << 1) | u32::from(moving)) & mask;
        self.falls = ((self.falls << 1) | u32::from(free_fall)) & mask;
        let still_for = self.track_stillness(now_ms, accel);

        match self.state {
            State::Unknown => {
                self.settle(accel);
                None
            }
            State::Resting => {
                if self.falls != 0 {
                    self.state = State::Falling;
                    None
                } else if self.window.count_ones() >= self.k {
                    self.state = State::Held { since: now_ms };
                    Some(MotionEvent::PickedUp)
                } else {
                    if !moving && still_for >= REST_SETTLE_MS {
                        self.learn_rest(accel);
                    }
                    None
                }
            }
            State::Held { since } => {
                if still_for >= self.still_ms {
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

    /// Restarts the still period if the sample left the anchor's
    /// neighbourhood; returns how long the garment has been still.
    fn track_stillness(&mut self, now_ms: u64, accel: [i32; 3]) -> u64 {
        if self.state == State::Unknown || distance_sq(accel, self.anchor.accel) > self.threshold_sq
        {
            self.anchor = Anchor {
                accel,
                since: now_ms,
            };
        }
        now_ms.saturating_sub(self.anchor.since)
    }

    /// Takes `accel` as the new rest vector and forgets the motion history,
    /// so the moves that led here do not count towards the next pickup.
    fn settle(&mut self, accel: [i32; 3]) {
        self.rest_q4 = accel.map(|a| a << REST_FRACTION_BITS);
        self.window = 0;
        self.falls = 0;
        self.state = State::Resting;
    }

    fn learn_rest(&mut self, accel: [i32; 3]) {
        for (rest, a) in self.rest_q4.iter_mut().zip(accel) {
            *rest += ((a << REST_FRACTION_BITS) - *rest) >> REST_LEARN_SHIFT;
        }
    }
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
