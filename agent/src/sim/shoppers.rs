//! The seeded shopper model: who walks into the simulated store, where they
//! linger, what they brush against, lift, try on and buy, and who only
//! looks in at the door.
//!
//! The output is a [`Script`]: a timeline of physical facts (people in the
//! entrance's beams, presence in front of each fixture, each garment held, brushed or pushed along the rail by a
//! browsing shopper, each garment inside a
//! fitting room or at a checkout) that the virtual tags turn into sensor
//! traces, plus the model's own bookkeeping of counted dwells and garment
//! journeys and visits, from which the ground truth is computed. Pure and deterministic:
//! the same store, timing, parameters and seed give the same script, and
//! nothing here reads a clock. Times are milliseconds since the simulation
//! started.
//!
//! Every fact is kept unambiguous, so that neither the tags' detectors nor
//! HQ's funnel can see it two ways:
//! - passages through a door keep [`super::door::DOOR_GAP_MS`] from one
//!   another, each beam change lasting two samples;
//! - dwells last at least 1.5× the tags' minimum dwell, pass-bys at most half
//!   of it; PIR drop-outs inside a dwell are at most a third of the gap
//!   tolerance; visits to one fixture are separated by several gap tolerances;
//! - brushes and browses (a garment pushed along the rail) are never near
//!   another touch or a lift of the same garment, so each swing has died
//!   down before the next touch;
//! - every lift is held long enough to be reported while in hand;
//! - a put-back garment stays still for twice the put-down time before it is
//!   lifted again;
//! - the gap rule: every step of a garment's journey lies within W/2 of its
//!   first pickup, and the garment's next journey starts at least 2W after
//!   the last step of the previous one, so HQ's windowed funnel (window W)
//!   cannot depend on millisecond timing.

use super::door::{self, Crossing, Passage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shopper::Shopper;
use std::collections::BTreeMap;

/// A half-open stretch of time `[start, end)` in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn new(start: u64, end: u64) -> Self {
        Span { start, end }
    }

    pub fn contains(&self, t: u64) -> bool {
        self.start <= t && t < self.end
    }

    /// True when the spans come closer than `gap` to each other.
    fn near(&self, other: &Span, gap: u64) -> bool {
        self.start < other.end + gap && other.start < self.end + gap
    }
}

/// How likely a shopper is to take each step with a garment of one SKU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Propensity {
    /// Chance a shopper dwelling at the fixture lifts the garment.
    pub pickup: f64,
    /// Chance a lifted garment goes to the fitting room.
    pub try_on: f64,
    /// Chance a tried-on garment is bought.
    pub purchase: f64,
}

impl Default for Propensity {
    /// For SKUs the store config does not list.
    fn default() -> Self {
        Propensity {
            pickup: 0.3,
            try_on: 0.4,
            purchase: 0.5,
        }
    }
}

/// What the model needs to know about the store.
#[derive(Debug, Clone)]
pub struct Layout {
    pub fixtures: Vec<FixtureLayout>,
    pub garments: Vec<GarmentLayout>,
    /// Zone readers, in config order.
    pub readers: Vec<ReaderKind>,
    /// How many entrances (doors with a people counter) the store has.
    pub entrances: usize,
}

#[derive(Debug, Clone)]
pub struct FixtureLayout {
    /// The SKUs on display, as in the store config.
    pub gtins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct GarmentLayout {
    /// Index into [`Layout::fixtures`]: the rack the garment hangs on.
    pub fixture: usize,
    pub gtin: String,
    pub propensity: Propensity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderKind {
    FittingRoom,
    Checkout,
}

/// The virtual tags sample their sensors every 50 ms (20 Hz, a typical
/// accelerometer data rate for motion detection), and every time in the
/// model is a multiple of it, so the model knows the sample at which the
/// firmware will detect each presence and read, and a pickup's within the
/// spread of [`super::tags::PICKUP_LATENCY_MS`].
pub const SAMPLE_MS: u64 = 50;

/// The tags' detection settings the model must respect (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub dwell_min_ms: u64,
    pub dwell_gap_ms: u64,
    pub still_ms: u64,
    /// From the start of a lift to the pickup detector's verdict.
    pub pickup_latency_ms: u64,
}

impl From<&protocol::Settings> for Timing {
    fn from(s: &protocol::Settings) -> Self {
        Timing {
            dwell_min_ms: u64::from(s.dwell_min_ms),
            dwell_gap_ms: u64::from(s.dwell_gap_ms),
            still_ms: u64::from(s.still_ms),
            pickup_latency_ms: super::tags::PICKUP_LATENCY_MS,
        }
    }
}

/// How long shoppers take between the steps of a journey with one SKU.
/// Fixed per SKU (drawn from the seed), so HQ's medians per SKU are known
/// exactly, up to the link's latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// From the detected pickup to the first fitting-room read.
    pub view_to_try_on_ms: u64,
    /// From the first fitting-room read to the first checkout read.
    pub try_on_to_purchase_ms: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub seed: u64,
    /// Shoppers arrive and finish everything within this time.
    pub shopping_ms: u64,
    /// HQ's funnel window W.
    pub window_ms: u64,
    pub shoppers_per_min: f64,
}

/// A garment read by a zone reader while it was in the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneRead {
    /// Index into [`Layout::readers`].
    pub reader: usize,
    pub garment: usize,
    pub span: Span,
}

/// One garment journey as the shopper lived it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journey {
    pub garment: usize,
    /// Start of every lift (the first opens the journey).
    pub lifts: Vec<u64>,
    /// When the garment entered a fitting room.
    pub try_on: Option<u64>,
    /// When the garment reached a checkout.
    pub purchase: Option<u64>,
    /// When the garment was last released: back on its rack, or its tag
    /// detached at the checkout.
    pub released: u64,
}

impl Journey {
    /// From the first lift to the release.
    pub fn span(&self) -> Span {
        Span::new(self.lifts[0], self.released)
    }
}

/// People who came into the store through one entrance together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    /// Index into the store's entrances.
    pub entrance: usize,
    /// When they stepped into the door.
    pub at: u64,
    /// One, or two for a pair.
    pub people: u64,
}

/// A dwell long enough to count as an exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dwell {
    pub fixture: usize,
    pub span: Span,
}

/// Everything that physically happened in the simulated store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Per entrance, everyone who passed its beams, in time order.
    pub door: Vec<Vec<Crossing>>,
    /// Per fixture, the stretches someone stood in front of it (what a PIR sees).
    pub presence: Vec<Vec<Span>>,
    /// Per garment, the stretches it was in a shopper's hands.
    pub held: Vec<Vec<Span>>,
    /// Per garment, the instants a passing shopper brushed it.
    pub brushes: Vec<Vec<u64>>,
    /// Per garment, the instants a browsing shopper pushed it along the rail.
    pub browses: Vec<Vec<u64>>,
    pub reads: Vec<ZoneRead>,
    /// Bookkeeping: the dwells that count as exposures.
    pub dwells: Vec<Dwell>,
    /// Bookkeeping: every garment journey.
    pub journeys: Vec<Journey>,
    /// Bookkeeping: everyone who came in through an entrance.
    pub visits: Vec<Visit>,
    /// Shoppers who came in or did something (those whose visit did not fit
    /// the shopping time are turned away at the door and not counted).
    pub shoppers: usize,
    /// Each SKU's pace, by GTIN.
    pub paces: BTreeMap<String, Pace>,
}

/// Nothing happens in the first second, while the tags boot.
const WARMUP_MS: u64 = 1_000;
/// Paces are whole seconds from these lists. Each list holds seconds of one
/// parity, so the median of a row that mixes SKUs (by store, zone or
/// fixture), the mean of its middle two when they are even in number, is a
/// whole second too, never a half that the link's milliseconds of jitter
/// could round either way. The shortest pace to the
/// fitting room exceeds the longest dwell after a lift plus the walk, and the
/// shortest to the checkout the longest spread of try-ons plus the walk, so a
/// shopper is never late for their SKU's pace.
///
/// To the fitting room: a carried garment is lifted at least 0.6 s into a
/// visit that lasts at most 5 s, or until another garment lifted at most
/// 1.7 s in and held at most 4.5 s is back (no re-lifts while someone
/// carries): 6.7 s, then a walk of at most 2 s: 8.1 s after the lift, less
/// the detection latency. To the checkout: try-ons spread over at most
/// 3.1 s (1.1 s of lifts, 2 s of paces), then at most 3 s in the room and
/// 2.5 s of walk: 8.6 s.
const VIEW_TO_TRY_ON_S: [u64; 2] = [8, 10];
const TRY_ON_TO_PURCHASE_S: [u64; 2] = [9, 11];

/// The shortest funnel window the model supports: a journey (a dwell with
/// lifts, the paces to the fitting room and the checkout, the put-down time)
/// must fit in W/2.
pub const MIN_WINDOW_MS: u64 = 120_000;

/// Each SKU's pace, drawn in GTIN order.
pub fn paces(layout: &Layout, rng: &mut ChaCha8Rng) -> BTreeMap<String, Pace> {
    let gtins: std::collections::BTreeSet<&String> =
        layout.garments.iter().map(|g| &g.gtin).collect();
    gtins
        .into_iter()
        .map(|gtin| {
            let pace = Pace {
                view_to_try_on_ms: VIEW_TO_TRY_ON_S[rng.gen_range(0..2)] * 1_000,
                try_on_to_purchase_ms: TRY_ON_TO_PURCHASE_S[rng.gen_range(0..2)] * 1_000,
            };
            (gtin.clone(), pace)
        })
        .collect()
}

/// Runs the model.
pub fn generate(layout: &Layout, timing: &Timing, params: &Params) -> Script {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let paces = paces(layout, &mut rng);
    let mut script = Script {
        door: vec![Vec::new(); layout.entrances],
        presence: vec![Vec::new(); layout.fixtures.len()],
        held: vec![Vec::new(); layout.garments.len()],
        brushes: vec![Vec::new(); layout.garments.len()],
        browses: vec![Vec::new(); layout.garments.len()],
        reads: Vec::new(),
        dwells: Vec::new(),
        journeys: Vec::new(),
        visits: Vec::new(),
        shoppers: 0,
        paces: paces.clone(),
    };
    if layout.fixtures.is_empty() || params.shoppers_per_min <= 0.0 {
        return script;
    }
    let mean_gap_ms = 60_000.0 / params.shoppers_per_min;
    let mut arrival = WARMUP_MS as f64;
    loop {
        // Poisson arrivals: exponential gaps between shoppers.
        arrival += -mean_gap_ms * (1.0 - rng.gen::<f64>()).ln();
        if arrival >= params.shopping_ms as f64 {
            break;
        }
        let at = (arrival as u64).next_multiple_of(SAMPLE_MS);
        // A shopper whose purchases would not be through by closing time
        // comes back as one who only browses.
        let mut trial = rng.clone();
        let draft =
            Shopper::new(layout, timing, params, &paces, &script, true).walk(&mut trial, at);
        if draft.fits(timing, params) {
            rng = trial;
            draft.commit(&mut script);
        } else {
            let draft =
                Shopper::new(layout, timing, params, &paces, &script, false).walk(&mut rng, at);
            if draft.fits(timing, params) {
                draft.commit(&mut script);
            }
        }
        // Now and then someone on the street steps into the door and
        // thinks better of it.
        if layout.entrances > 0 && rng.gen_bool(TURN_BACK) {
            let entrance = rng.gen_range(0..layout.entrances);
            let door = &mut script.door[entrance];
            let length = Passage::TurnBack.length_ms();
            let slot = door::free_slot(door.iter().map(Crossing::span), at, length, 10_000);
            if let Some(start) = slot.filter(|s| s + length <= params.shopping_ms) {
                let crossing = Crossing {
                    start,
                    passage: Passage::TurnBack,
                };
                let i = door.partition_point(|c| c.start < start);
                door.insert(i, crossing);
            }
        }
    }
    script
}

/// Chance that someone turns back at the door, per shopper arriving.
const TURN_BACK: f64 = 0.15;

mod shopper;

#[cfg(test)]
mod tests;
