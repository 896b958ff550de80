//! Touches: what shoppers do to a garment on its rail, as scene builders
//! over the models of [`super`]. The corpus draws them over its ranges and
//! the simulated store's tags play them for the shoppers' brushes, browses
//! and lifts. docs/pickup-models.md lists the ranges and the reasons.

use super::{
    apply, axis_angle, min_jerk, mul, random_unit, rotation, Drive, Hanger, Mat3, Scene, Vec3, G,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::{PI, TAU};
use std::ops::Range;

/// A duration drawn from `s` seconds, in whole milliseconds.
pub fn ms(rng: &mut ChaCha8Rng, s: Range<f64>) -> u64 {
    (rng.gen_range(s) * 1_000.0) as u64
}

/// A half-sine pulse of `duration_ms` with unit peak, at `t` ms into it.
fn half_sine(t: u64, duration_ms: u64) -> f64 {
    if t < duration_ms {
        (PI * t as f64 / duration_ms as f64).sin()
    } else {
        0.0
    }
}

/// A shove by a passing body: a half-sine angular push of 100–300 ms that
/// sets the garment swinging by about `deg`, mostly across the rail.
pub fn brush(scene: &mut Scene, hanger: &Hanger, deg: f64, rng: &mut ChaCha8Rng) -> String {
    let duration = ms(rng, 0.1..0.3);
    let along = rng.gen_range(0.0..0.4);
    let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
    // A pulse of peak α over T adds 2αT/π of angular rate; a swing of
    // amplitude θ at ω needs θω of it.
    let omega = TAU * hanger.swing_hz;
    let peak = deg.to_radians() * omega * PI / (2.0 * duration as f64 / 1_000.0);
    scene.rail(hanger, duration, |t| Drive {
        shove: [
            sign * peak * half_sine(t, duration),
            peak * along * half_sine(t, duration),
        ],
        ..Drive::default()
    });
    format!(
        "; brush {deg:.1}° over {duration} ms, {:.0} % along the rail",
        along * 100.0
    )
}

/// A browsing shopper slides the hanger along the rail: either the hand
/// carries it from one place to the next (minimum jerk: accelerate, then
/// brake) or gives it a push and lets the rail's friction stop it.
pub fn push(scene: &mut Scene, hanger: &Hanger, direction: f64, rng: &mut ChaCha8Rng) -> String {
    let peak_g = rng.gen_range(0.1..0.25);
    let duration = ms(rng, 0.5..2.0);
    let secs = duration as f64 / 1_000.0;
    if rng.gen_bool(0.5) {
        // Minimum-jerk slide of distance D over T peaks at 5.77·D/T².
        let distance = peak_g * G * secs * secs / 5.77;
        scene.rail(hanger, duration, |t| {
            let s = t as f64 / duration as f64;
            let a = distance / (secs * secs) * (60.0 * s - 180.0 * s * s + 120.0 * s * s * s);
            Drive {
                hook_accel: [direction * a, 0.0],
                ..Drive::default()
            }
        });
        format!("; slid {distance:.2} m along the rail in {duration} ms (peak {peak_g:.2} g)")
    } else {
        let friction_g = rng.gen_range(0.1..0.3);
        let speed = peak_g * G * secs * 2.0 / PI;
        let braking = (speed / (friction_g * G) * 1_000.0) as u64;
        scene.rail(hanger, duration + braking, |t| {
            let a = if t < duration {
                peak_g * G * half_sine(t, duration)
            } else {
                -friction_g * G
            };
            Drive {
                hook_accel: [direction * a, 0.0],
                ..Drive::default()
            }
        });
        format!(
            "; pushed at {peak_g:.2} g for {duration} ms, stopped by {friction_g:.2} g of friction in {braking} ms"
        )
    }
}

/// A sharp blow: a 10–30 ms angular push (a swing of 3–12°) and the
/// hanger's rattle, a decaying 15–40 Hz vibration of 0.5–3 g.
pub fn knock(scene: &mut Scene, hanger: &Hanger, rng: &mut ChaCha8Rng) -> String {
    let duration = ms(rng, 0.01..0.03);
    let deg: f64 = rng.gen_range(3.0..12.0);
    let omega = TAU * hanger.swing_hz;
    let peak = deg.to_radians() * omega * PI / (2.0 * duration as f64 / 1_000.0);
    let direction = random_unit(rng);
    let rattle_g = rng.gen_range(0.5..3.0);
    let rattle_hz = rng.gen_range(15.0..40.0);
    let decay_s = rng.gen_range(0.015..0.05);
    let angle = rng.gen_range(0.0..TAU);
    scene.rail(hanger, 400, |t| {
        let s = t as f64 / 1_000.0;
        let rattle = rattle_g * G * (-s / decay_s).exp() * (TAU * rattle_hz * s).sin();
        Drive {
            shove: [
                peak * angle.cos() * half_sine(t, duration),
                peak * angle.sin() * half_sine(t, duration),
            ],
            shock: direction.map(|d| d * rattle),
            ..Drive::default()
        }
    });
    format!("; knock: {deg:.1}° swing, rattle {rattle_g:.1} g at {rattle_hz:.0} Hz")
}

/// Slips off the hanger: free fall from 0.4–1.3 m while tumbling about the
/// garment's centre (the tag 5–25 cm from it, at up to 3 rad/s), an impact
/// of 10–25 ms, then lying on the floor for 6 s.
pub fn fall(
    scene: &mut Scene,
    spin_rad_s: Range<f64>,
    offset_m: Range<f64>,
    rng: &mut ChaCha8Rng,
) -> String {
    let start = scene.last();
    let height = rng.gen_range(0.4..1.3);
    let fall_s = (2.0 * height / G).sqrt();
    let fall_ms = (fall_s * 1_000.0) as u64;
    let impact_ms = ms(rng, 0.01..0.025);
    let spin_axis = random_unit(rng);
    let spin = rng.gen_range(spin_rad_s);
    let offset = rng.gen_range(offset_m);
    // The centre sits `offset` above the tag in the garment's frame, so the
    // tag starts where it hung.
    let up = apply(&start.orientation, [0.0, 0.0, offset]);
    let centre = [0, 1, 2].map(|i| start.position[i] + up[i]);
    let landed = mul(&rotation(spin_axis, spin * fall_s), &start.orientation);
    let v_impact = G * fall_s;
    let impact_s = impact_ms as f64 / 1_000.0;
    scene.carried(offset, fall_ms + impact_ms + 6_000, |t| {
        let s = t as f64 / 1_000.0;
        if t < fall_ms {
            let tumble = mul(&rotation(spin_axis, spin * s), &start.orientation);
            (
                [centre[0], centre[1], centre[2] - 0.5 * G * s * s],
                tumble,
                [0.0; 3],
            )
        } else {
            // Decelerates uniformly to rest over the impact.
            let into = ((t - fall_ms) as f64 / 1_000.0).min(impact_s);
            let depth = 0.5 * G * fall_s * fall_s + v_impact * into
                - 0.5 * v_impact / impact_s * into * into;
            ([centre[0], centre[1], centre[2] - depth], landed, [0.0; 3])
        }
    });
    format!(
        "; fell {height:.2} m tumbling at {spin:.1} rad/s (tag {offset:.2} m from the centre), impact {impact_ms} ms"
    )
}

/// Nobody touches it for 20 s: the hanger sags by up to 5° and a draught
/// sways it by up to 1.5°.
pub fn still(scene: &mut Scene, hanger: &Hanger, rng: &mut ChaCha8Rng) -> String {
    let sag: f64 = rng.gen_range(0.0..5.0);
    let draught: f64 = rng.gen_range(0.2..1.5);
    let draught_hz = rng.gen_range(0.05..0.3);
    let omega = TAU * hanger.swing_hz;
    scene.rail(hanger, 20_000, |t| {
        let s = t as f64 / 1_000.0;
        // A slow push that leans the garment by the sag over 20 s, and a
        // draught's gentle sway well below the swing frequency.
        let lean = sag.to_radians() * omega * omega / 20.0 * (s / 20.0).min(1.0);
        let sway = draught.to_radians() * omega * omega * (TAU * draught_hz * s).sin();
        Drive {
            shove: [sway, lean],
            ..Drive::default()
        }
    });
    format!("; sag {sag:.1}°, draught {draught:.1}° at {draught_hz:.2} Hz")
}

/// How a shopper holds a lifted garment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Eased off the rail and looked at with little tilt.
    Gentle,
    /// Held up, tilted and turned to look at it.
    Inspect,
    /// Draped over the arm and walked away with (to a fitting room).
    Carry,
}

/// One lift's drawn parameters.
#[derive(Debug, Clone)]
pub struct Lift {
    style: Style,
    /// Tilt while held, radians, about a horizontal axis at `azimuth`.
    tilt: f64,
    azimuth: f64,
    tilt_ms: u64,
    raise_m: f64,
    raise_ms: u64,
    toward_m: f64,
    /// Slow wander of the tilt (amplitude rad, Hz) and turning about the
    /// garment's own axis (amplitude rad, Hz).
    wander: (f64, f64),
    turn: (f64, f64),
    /// Hand tremor: peak acceleration m/s², Hz, direction.
    tremor: (f64, f64, Vec3),
    /// Walking: vertical acceleration m/s² and step rate Hz, from when.
    walk: Option<(f64, f64, u64)>,
    hold_ms: u64,
    back_ms: u64,
}

impl Lift {
    /// A lift of `style` held for a time drawn from `hold_s` seconds.
    pub fn draw(style: Style, hold_s: Range<f64>, rng: &mut ChaCha8Rng) -> Lift {
        let (tilt_deg, tilt_s, wander_deg, turn_deg): (
            Range<f64>,
            Range<f64>,
            Range<f64>,
            Range<f64>,
        ) = match style {
            Style::Gentle => (15.0..30.0, 0.8..2.0, 1.0..4.0, 0.0..20.0),
            Style::Inspect => (30.0..80.0, 0.4..1.2, 3.0..12.0, 10.0..90.0),
            Style::Carry => (30.0..90.0, 0.4..1.2, 2.0..8.0, 0.0..30.0),
        };
        let hold_ms = ms(rng, hold_s);
        Lift {
            style,
            tilt: rng.gen_range(tilt_deg).to_radians(),
            azimuth: rng.gen_range(0.0..TAU),
            tilt_ms: ms(rng, tilt_s),
            raise_m: rng.gen_range(0.03..0.10),
            raise_ms: ms(rng, 0.3..0.7),
            toward_m: rng.gen_range(0.1..0.4),
            wander: (
                rng.gen_range(wander_deg).to_radians(),
                rng.gen_range(0.1..0.6),
            ),
            turn: (
                rng.gen_range(turn_deg).to_radians(),
                rng.gen_range(0.05..0.3),
            ),
            tremor: (
                rng.gen_range(0.01..0.04) * G,
                rng.gen_range(8.0..12.0),
                random_unit(rng),
            ),
            walk: (style == Style::Carry).then(|| {
                (
                    rng.gen_range(0.1..0.3) * G,
                    rng.gen_range(1.6..2.2),
                    ms(rng, 1.0..3.0),
                )
            }),
            hold_ms,
            back_ms: ms(rng, 0.6..1.5),
        }
    }

    /// A lift by a shopper of the simulated store, held for `held_ms` and
    /// back on the rail at its end: turned and held up to look at (60–80°,
    /// reached in 0.4–0.6 s), a decisive lift whose detection latency the
    /// store's shopper model can count on.
    pub fn in_store(held_ms: u64, rng: &mut ChaCha8Rng) -> Lift {
        let mut lift = Lift::draw(Style::Inspect, 1.0..2.0, rng);
        lift.tilt = rng.gen_range(60f64..80.0).to_radians();
        lift.tilt_ms = ms(rng, 0.4..0.6);
        lift.back_ms = ms(rng, 0.5..0.8);
        lift.hold_ms = held_ms.saturating_sub(lift.back_ms);
        lift
    }

    pub fn describe(&self) -> String {
        format!(
            "; {:?} lift: tilt {:.0}° in {} ms, held {} ms{}",
            self.style,
            self.tilt.to_degrees(),
            self.tilt_ms,
            self.hold_ms,
            match self.walk {
                Some((a, hz, _)) => format!(", walked off ({:.2} g at {hz:.1} Hz)", a / G),
                None => String::new(),
            }
        )
    }

    /// Plays the lift into `scene`; returns when the garment was back on
    /// the rail, if it was.
    pub fn play(&self, scene: &mut Scene, hanger: &Hanger, rng: &mut ChaCha8Rng) -> Option<u64> {
        let rail = scene.hook();
        let axis = [self.azimuth.cos(), self.azimuth.sin(), 0.0];
        let phase = rng.gen_range(0.0..TAU);
        let (tremor_a, tremor_hz, tremor_dir) = self.tremor;
        let tremor_amp = tremor_a / (TAU * tremor_hz).powi(2);
        let held = |t: u64| -> (Vec3, Mat3) {
            let s = t as f64 / 1_000.0;
            let reach = min_jerk(t as f64 / self.raise_ms as f64);
            let toward = min_jerk((t as f64 - self.raise_ms as f64 * 0.5) / 800.0);
            let mut hook = [
                rail[0],
                rail[1] + self.toward_m * toward,
                rail[2] + self.raise_m * reach,
            ];
            let shake = tremor_amp * (TAU * tremor_hz * s + phase).sin();
            for (h, d) in hook.iter_mut().zip(tremor_dir) {
                *h += shake * d;
            }
            if let Some((accel, hz, from)) = self.walk {
                if t > from {
                    let w = (t - from) as f64 / 1_000.0;
                    let ramp = min_jerk(w / 0.5);
                    hook[2] -= ramp * accel / (TAU * hz).powi(2) * (TAU * hz * w).sin();
                    hook[1] += 1.2 * w * ramp;
                }
            }
            let grip = min_jerk(t as f64 / self.tilt_ms as f64);
            let tilt = grip * (self.tilt + self.wander.0 * (TAU * self.wander.1 * s + phase).sin());
            let turn = grip * self.turn.0 * (TAU * self.turn.1 * s).sin();
            let orientation = mul(&rotation(axis, tilt), &rotation([0.0, 0.0, 1.0], turn));
            (hook, orientation)
        };
        let hold_ms = self.hold_ms;
        if self.walk.is_some() {
            scene.carried(hanger.tag_depth_m, hold_ms, |t| {
                let (hook, o) = held(t);
                (hook, o, [0.0; 3])
            });
            return None;
        }
        let (last_hook, last_orientation) = held(hold_ms);
        let (undo_axis, undo_angle) = axis_angle(&last_orientation);
        let back_ms = self.back_ms;
        scene.carried(hanger.tag_depth_m, hold_ms + back_ms, |t| {
            if t < hold_ms {
                let (hook, o) = held(t);
                return (hook, o, [0.0; 3]);
            }
            // Back to the rail: the hook returns and the garment hangs
            // straight again.
            let s = min_jerk((t - hold_ms) as f64 / back_ms as f64);
            let hook = [0, 1, 2].map(|i| last_hook[i] + (rail[i] - last_hook[i]) * s);
            (hook, rotation(undo_axis, undo_angle * (1.0 - s)), [0.0; 3])
        });
        scene.rehang(rail);
        // Hung back with a little swing.
        let settle_deg: f64 = rng.gen_range(1.0..5.0);
        brush(scene, hanger, settle_deg, rng);
        Some(scene.len_ms())
    }
}
