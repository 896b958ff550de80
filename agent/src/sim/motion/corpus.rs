//! The labelled trace corpus of `firmware/corpus/`: garment tag traces of
//! each kind of touch, drawn from the models in [`super`] over the parameter
//! ranges a store produces, each named by its kind, split and seed.
//!
//! Two splits: `tuning`, on which the detector's defaults were chosen, and
//! `held-out`, never looked at while tuning, with its own seeds and wider
//! ranges (any mounting angle, 20 Hz as well as 25 Hz sampling, slower and
//! faster swings, deeper and shallower tags). The ranges are documented in
//! docs/pickup-models.md.

use super::{
    apply, axis_angle, min_jerk, mul, random_unit, rotation, Drive, Hanger, Mat3, Scene, Sensor,
    Vec3, G,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::{PI, TAU};
use std::ops::Range;

/// What happened to the garment in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A shopper lifted it off the rail.
    Pickup,
    /// A passing shopper brushed it: it swings on its hook.
    Brush,
    /// A browsing shopper pushed it along the rail.
    Browse,
    /// Knocked: a sharp blow, the hanger rattles, a small swing.
    Knock,
    /// It slipped off its hanger onto the floor.
    Fall,
    /// Nobody touched it: a draught and a sagging hanger only.
    Still,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Pickup,
        Kind::Brush,
        Kind::Browse,
        Kind::Knock,
        Kind::Fall,
        Kind::Still,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Pickup => "pickup",
            Kind::Brush => "brush",
            Kind::Browse => "browse",
            Kind::Knock => "knock",
            Kind::Fall => "fall",
            Kind::Still => "still",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Traces of this kind per split.
    fn count(self) -> u64 {
        match self {
            Kind::Pickup => 100,
            Kind::Brush | Kind::Browse => 40,
            Kind::Knock | Kind::Fall => 20,
            Kind::Still => 10,
        }
    }
}

/// Which part of the corpus a trace belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Split {
    Tuning,
    HeldOut,
}

impl Split {
    pub const ALL: [Split; 2] = [Split::Tuning, Split::HeldOut];

    pub fn name(self) -> &'static str {
        match self {
            Split::Tuning => "tuning",
            Split::HeldOut => "held-out",
        }
    }

    pub fn parse(name: &str) -> Option<Split> {
        Split::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Seeds never overlap between the splits.
    fn seed_base(self) -> u64 {
        match self {
            Split::Tuning => 1_000,
            Split::HeldOut => 9_000,
        }
    }
}

/// One labelled trace.
#[derive(Debug, Clone)]
pub struct Trace {
    pub kind: Kind,
    pub split: Split,
    pub seed: u64,
    pub period_ms: u64,
    /// For a pickup: when the hand started to lift the garment, and when
    /// it was back on the rail (`None`: carried away past the trace's end).
    pub lift: Option<(u64, Option<u64>)>,
    /// The drawn parameters, for people reading the labels.
    pub notes: String,
    pub samples: Vec<(u64, [i16; 3])>,
}

impl Trace {
    /// The trace's file name in the corpus.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.csv",
            self.split.name(),
            self.kind.name(),
            self.seed
        )
    }

    /// The CSV `aisle tag replay --role motion` reads.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("t_ms,x_mg,y_mg,z_mg\n");
        for (t, [x, y, z]) in &self.samples {
            out.push_str(&format!("{t},{x},{y},{z}\n"));
        }
        out
    }
}

/// Every trace of the corpus, in a fixed order.
pub fn corpus() -> Vec<Trace> {
    let mut traces = Vec::new();
    for split in Split::ALL {
        for kind in Kind::ALL {
            for i in 0..kind.count() {
                traces.push(generate(kind, split, split.seed_base() + i));
            }
        }
    }
    traces
}

/// The parameter ranges of a split.
struct Ranges {
    periods_ms: &'static [u64],
    any_mount: bool,
    swing_hz: Range<f64>,
    damping: Range<f64>,
    tag_depth_m: Range<f64>,
    brush_deg: Range<f64>,
    hold_s: Range<f64>,
    fall_spin: Range<f64>,
    fall_offset_m: Range<f64>,
}

fn ranges(split: Split) -> Ranges {
    match split {
        Split::Tuning => Ranges {
            periods_ms: &[40],
            any_mount: false,
            swing_hz: 0.8..1.2,
            damping: 0.08..0.2,
            tag_depth_m: 0.05..0.35,
            brush_deg: 4.0..18.0,
            hold_s: 3.0..10.0,
            fall_spin: 0.5..3.0,
            fall_offset_m: 0.05..0.25,
        },
        Split::HeldOut => Ranges {
            periods_ms: &[40, 50],
            any_mount: true,
            swing_hz: 0.6..1.5,
            damping: 0.05..0.25,
            tag_depth_m: 0.03..0.5,
            brush_deg: 3.0..20.0,
            hold_s: 2.5..12.0,
            fall_spin: 0.5..4.0,
            fall_offset_m: 0.03..0.3,
        },
    }
}

/// One trace of `kind` from `seed`: the same arguments give the same trace.
pub fn generate(kind: Kind, split: Split, seed: u64) -> Trace {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((kind as u64) << 32));
    let r = ranges(split);
    let period_ms = r.periods_ms[rng.gen_range(0..r.periods_ms.len())];
    let sensor = Sensor::draw(&mut rng, period_ms, r.any_mount);
    let hanger = Hanger {
        swing_hz: rng.gen_range(r.swing_hz.clone()),
        damping: rng.gen_range(r.damping.clone()),
        tag_depth_m: rng.gen_range(r.tag_depth_m.clone()),
    };
    let mut scene = Scene::new();
    let quiet = ms(&mut rng, 1.5..3.0);
    scene.rail(&hanger, quiet, |_| Drive::default());
    let mut notes = format!(
        "swing {:.2} Hz, damping {:.2}, tag {:.2} m below the hook, {} Hz",
        hanger.swing_hz,
        hanger.damping,
        hanger.tag_depth_m,
        1_000 / period_ms
    );
    let mut lift = None;
    match kind {
        Kind::Pickup => {
            let (back, what) = lift_garment(&mut scene, &hanger, &r, &mut rng);
            lift = Some((quiet, back));
            notes.push_str(&what);
            if back.is_some() {
                scene.rail(&hanger, 4_000, |_| Drive::default());
            }
        }
        Kind::Brush => {
            let brushes = if rng.gen_bool(0.2) { 2 } else { 1 };
            for _ in 0..brushes {
                let deg = rng.gen_range(r.brush_deg.clone());
                notes.push_str(&brush(&mut scene, &hanger, deg, &mut rng));
                scene.rail(&hanger, ms(&mut rng, 1.0..4.0), |_| Drive::default());
            }
            scene.rail(&hanger, 6_000, |_| Drive::default());
        }
        Kind::Browse => {
            let pushes = if rng.gen_bool(0.3) { 2 } else { 1 };
            let mut direction = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            for _ in 0..pushes {
                notes.push_str(&push(&mut scene, &hanger, direction, &mut rng));
                scene.rail(&hanger, ms(&mut rng, 0.5..3.0), |_| Drive::default());
                direction = -direction;
            }
            scene.rail(&hanger, 6_000, |_| Drive::default());
        }
        Kind::Knock => {
            notes.push_str(&knock(&mut scene, &hanger, &mut rng));
            scene.rail(&hanger, 7_000, |_| Drive::default());
        }
        Kind::Fall => {
            notes.push_str(&fall(&mut scene, &r, &mut rng));
        }
        Kind::Still => {
            notes.push_str(&still(&mut scene, &hanger, &mut rng));
        }
    }
    let samples = sensor.sample(&scene, &mut rng);
    Trace {
        kind,
        split,
        seed,
        period_ms,
        lift,
        notes,
        samples,
    }
}

/// A duration drawn from `s` seconds, in whole milliseconds.
fn ms(rng: &mut ChaCha8Rng, s: Range<f64>) -> u64 {
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
fn brush(scene: &mut Scene, hanger: &Hanger, deg: f64, rng: &mut ChaCha8Rng) -> String {
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
fn push(scene: &mut Scene, hanger: &Hanger, direction: f64, rng: &mut ChaCha8Rng) -> String {
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
fn knock(scene: &mut Scene, hanger: &Hanger, rng: &mut ChaCha8Rng) -> String {
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
fn fall(scene: &mut Scene, r: &Ranges, rng: &mut ChaCha8Rng) -> String {
    let start = scene.last();
    let height = rng.gen_range(0.4..1.3);
    let fall_s = (2.0 * height / G).sqrt();
    let fall_ms = (fall_s * 1_000.0) as u64;
    let impact_ms = ms(rng, 0.01..0.025);
    let spin_axis = random_unit(rng);
    let spin = rng.gen_range(r.fall_spin.clone());
    let offset = rng.gen_range(r.fall_offset_m.clone());
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
fn still(scene: &mut Scene, hanger: &Hanger, rng: &mut ChaCha8Rng) -> String {
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
enum Style {
    /// Eased off the rail and looked at with little tilt.
    Gentle,
    /// Held up, tilted and turned to look at it.
    Inspect,
    /// Draped over the arm and walked away with (to a fitting room).
    Carry,
}

/// A lift, from the rail into the hand and (unless carried away) back.
/// Returns when it was back on the rail, relative to the scene's start, and
/// notes. Also used by the simulated store's tags.
fn lift_garment(
    scene: &mut Scene,
    hanger: &Hanger,
    r: &Ranges,
    rng: &mut ChaCha8Rng,
) -> (Option<u64>, String) {
    let style = match rng.gen_range(0..4) {
        0 => Style::Gentle,
        1 => Style::Carry,
        _ => Style::Inspect,
    };
    let hold = Lift::draw(style, r.hold_s.clone(), rng);
    let notes = hold.describe();
    let back = hold.play(scene, hanger, rng);
    (back, notes)
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
    fn draw(style: Style, hold_s: Range<f64>, rng: &mut ChaCha8Rng) -> Lift {
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

    fn describe(&self) -> String {
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
    fn play(&self, scene: &mut Scene, hanger: &Hanger, rng: &mut ChaCha8Rng) -> Option<u64> {
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
