//! The labelled trace corpus of `firmware/corpus/`: garment tag traces of
//! each kind of touch, drawn from the models in [`super`] over the parameter
//! ranges a store produces, each named by its kind, split and seed.
//!
//! Two splits: `tuning`, on which the detector's defaults were chosen, and
//! `held-out`, never looked at while tuning, with its own seeds and wider
//! ranges (any mounting angle, 20 Hz as well as 25 Hz sampling, slower and
//! faster swings, deeper and shallower tags). The ranges are documented in
//! docs/pickup-models.md.

use super::touches::{self, ms, Lift, Style};
use super::{Drive, Hanger, Scene, Sensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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

    /// Traces of this kind in `split`. Falls are many: a fall the detector
    /// takes for a pickup is rare, and 20 of them could only tell 5 % steps.
    fn count(self, split: Split) -> u64 {
        match (self, split) {
            (Kind::Pickup, _) => 100,
            (Kind::Brush | Kind::Browse, _) => 40,
            (Kind::Knock, _) => 20,
            (Kind::Fall, Split::Tuning) => 100,
            (Kind::Fall, Split::HeldOut) => 200,
            (Kind::Still, _) => 10,
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
            for i in 0..kind.count(split) {
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
            fall_spin: 0.5..4.0,
            fall_offset_m: 0.05..0.3,
        },
        Split::HeldOut => Ranges {
            periods_ms: &[40, 50],
            any_mount: true,
            swing_hz: 0.6..1.5,
            damping: 0.05..0.25,
            tag_depth_m: 0.03..0.5,
            brush_deg: 3.0..20.0,
            hold_s: 2.5..12.0,
            fall_spin: 0.5..6.0,
            fall_offset_m: 0.03..0.4,
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
                notes.push_str(&touches::brush(&mut scene, &hanger, deg, &mut rng));
                scene.rail(&hanger, ms(&mut rng, 1.0..4.0), |_| Drive::default());
            }
            scene.rail(&hanger, 6_000, |_| Drive::default());
        }
        Kind::Browse => {
            let pushes = if rng.gen_bool(0.3) { 2 } else { 1 };
            let mut direction = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            for _ in 0..pushes {
                notes.push_str(&touches::push(&mut scene, &hanger, direction, &mut rng));
                scene.rail(&hanger, ms(&mut rng, 0.5..3.0), |_| Drive::default());
                direction = -direction;
            }
            scene.rail(&hanger, 6_000, |_| Drive::default());
        }
        Kind::Knock => {
            notes.push_str(&touches::knock(&mut scene, &hanger, &mut rng));
            scene.rail(&hanger, 7_000, |_| Drive::default());
        }
        Kind::Fall => {
            notes.push_str(&touches::fall(
                &mut scene,
                r.fall_spin.clone(),
                r.fall_offset_m.clone(),
                &mut rng,
            ));
        }
        Kind::Still => {
            notes.push_str(&touches::still(&mut scene, &hanger, &mut rng));
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
