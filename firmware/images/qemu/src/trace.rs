//! The scripted accelerometer: one garment's afternoon, in virtual time.
//!
//! | from (ms) | what happens | expected report |
//! | --- | --- | --- |
//! | 0 | hanging still | Boot |
//! | 3 000 | brushed by a passing shopper (2 samples) | nothing |
//! | 6 000 | lifted and turned over for 3 s | PickedUp |
//! | 9 000 | hung back, still | PutDown { held_ms ≈ 2 900 } at ≈ 14 000 |
//! | 17 000 | slips off its hanger, falls, lies on the floor | nothing |
//! | 40 000 | end of the run | |
//!
//! Heartbeats every 10 s run alongside.

/// 25 Hz, the rate the detector uses while a garment may be handled.
pub const PERIOD_MS: u64 = 40;
pub const END_MS: u64 = 40_000;

const HANGING: [i16; 3] = [0, 0, 1000];
const ON_THE_FLOOR: [i16; 3] = [985, 0, 110];
const POSES: [[i16; 3]; 4] = [
    [450, 100, 880],
    [-300, 520, 790],
    [700, -200, 650],
    [100, 900, 300],
];

/// Plays the trace one sample per period, or sleeps through it with
/// wake-on-motion armed as the real LIS2DH12 does.
pub struct Accelerometer {
    next_at: u64,
    noise: u32,
    /// The noiseless value of the last sample delivered: the reference of
    /// the part's high-pass-filtered wake-on-motion comparison.
    last: [i16; 3],
}

impl Accelerometer {
    pub fn new() -> Self {
        Accelerometer {
            next_at: 0,
            noise: 1,
            last: HANGING,
        }
    }

    /// With wake-on-motion armed the MCU gets no samples: skips those up to
    /// `until` that stay within `threshold_mg` of the last one delivered and
    /// returns when the interrupt fires, if it does by then.
    pub fn wake_on_motion(&mut self, until: u64, threshold_mg: i32) -> Option<u64> {
        while self.next_at <= until {
            let moved = scene(self.next_at)
                .iter()
                .zip(self.last)
                .any(|(&a, b)| (i32::from(a) - i32::from(b)).abs() > threshold_mg);
            if moved {
                return Some(self.next_at);
            }
            self.next_at += PERIOD_MS;
        }
        None
    }

    pub fn next_sample_at(&self) -> u64 {
        self.next_at
    }

    /// The sample due by `now_ms`, if one is.
    pub fn sample(&mut self, now_ms: u64) -> Option<[i16; 3]> {
        if self.next_at > now_ms {
            return None;
        }
        let t = self.next_at;
        self.next_at += PERIOD_MS;
        let base = scene(t);
        self.last = base;
        Some(base.map(|axis| axis + self.jitter()))
    }

    /// ±12 mg of sensor noise, deterministic.
    fn jitter(&mut self) -> i16 {
        self.noise = self.noise.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        ((self.noise >> 16) % 25) as i16 - 12
    }
}

/// The noiseless acceleration at `t` ms.
fn scene(t: u64) -> [i16; 3] {
    match t {
        3_000 => [420, 310, 880],
        3_040 => [-380, 250, 930],
        6_000..9_000 => POSES[((t - 6_000) / 200) as usize % POSES.len()],
        17_000 => [120, 40, 700],
        // Free fall: close to 0 g on every axis.
        17_040..17_360 => [15, -10, 30],
        17_360 => [1_900, -2_600, 700],
        17_400 => [-600, 900, 1_500],
        17_440 => [800, 200, 300],
        17_480.. => ON_THE_FLOOR,
        _ => HANGING,
    }
}
