//! The seeded shopper model: who walks into the simulated store, where they
//! linger, what they brush against, lift, try on and buy.
//!
//! The output is a [`Script`]: a timeline of physical facts (presence in front
//! of each fixture, each garment held or brushed, each garment inside a
//! fitting room or at a checkout) that the virtual tags turn into sensor
//! traces, plus the model's own bookkeeping of counted dwells and garment
//! journeys, from which the ground truth is computed. Pure and deterministic:
//! the same store, timing, parameters and seed give the same script, and
//! nothing here reads a clock. Times are milliseconds since the simulation
//! started.
//!
//! Every fact is kept unambiguous, so that neither the tags' detectors nor
//! HQ's funnel can see it two ways:
//! - dwells last at least 1.5× the tags' minimum dwell, pass-bys at most half
//!   of it; PIR drop-outs inside a dwell are at most a third of the gap
//!   tolerance; visits to one fixture are separated by several gap tolerances;
//! - brushes are shorter than the pickup detector's K samples and never near
//!   another brush or a lift of the same garment;
//! - a put-back garment stays still for twice the put-down time before it is
//!   lifted again;
//! - the gap rule: every step of a garment's journey lies within W/2 of its
//!   first pickup, and the garment's next journey starts at least 2W after
//!   the last step of the previous one, so HQ's windowed funnel (window W)
//!   cannot depend on millisecond timing.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
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
/// model is a multiple of it, so the model knows the exact sample at which
/// the firmware will detect each fact.
pub const SAMPLE_MS: u64 = 50;

/// The tags' detection settings the model must respect (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub dwell_min_ms: u64,
    pub dwell_gap_ms: u64,
    pub still_ms: u64,
    /// From the first moving sample to the pickup detector's verdict: K
    /// moving samples are needed, so K − 1 sample periods.
    pub pickup_latency_ms: u64,
}

impl From<&protocol::Settings> for Timing {
    fn from(s: &protocol::Settings) -> Self {
        Timing {
            dwell_min_ms: u64::from(s.dwell_min_ms),
            dwell_gap_ms: u64::from(s.dwell_gap_ms),
            still_ms: u64::from(s.still_ms),
            pickup_latency_ms: u64::from(s.pickup_k.max(1) - 1) * SAMPLE_MS,
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

/// A dwell long enough to count as an exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dwell {
    pub fixture: usize,
    pub span: Span,
}

/// Everything that physically happened in the simulated store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Per fixture, the stretches someone stood in front of it (what a PIR sees).
    pub presence: Vec<Vec<Span>>,
    /// Per garment, the stretches it was in a shopper's hands.
    pub held: Vec<Vec<Span>>,
    /// Per garment, the instants a passing shopper brushed it.
    pub brushes: Vec<Vec<u64>>,
    pub reads: Vec<ZoneRead>,
    /// Bookkeeping: the dwells that count as exposures.
    pub dwells: Vec<Dwell>,
    /// Bookkeeping: every garment journey.
    pub journeys: Vec<Journey>,
    /// Shoppers who did something (those whose visit did not fit the shopping
    /// time are turned away at the door and not counted).
    pub shoppers: usize,
    /// Each SKU's pace, by GTIN.
    pub paces: BTreeMap<String, Pace>,
}

/// Nothing happens in the first second, while the tags boot.
const WARMUP_MS: u64 = 1_000;
/// A shopper waits this long at most for a busy fixture.
const MAX_WAIT_MS: u64 = 3_000;
/// Bound on a fixture visit (waiting, the longest dwell with a re-lift, the
/// put-down time): shoppers do not start a visit that could not end by
/// closing time.
const LONGEST_VISIT_MS: u64 = MAX_WAIT_MS + 12_000 + 1_500;
/// Chance a visit is a pass-by rather than a dwell.
const PASS_BY: f64 = 0.3;
/// Chance a lifted garment that is not tried on is bought straight away.
const DIRECT_BUY: f64 = 0.1;
/// Chance a put-back garment is lifted again in the same visit.
const RELIFT: f64 = 0.2;
/// Chance a passing shopper brushes a garment on the rack.
const BRUSH: f64 = 0.5;
/// Chance a PIR drops out briefly in the middle of a dwell.
const DROPOUT: f64 = 0.3;
/// Most garments one shopper lifts at one fixture.
const MAX_LIFTS_PER_VISIT: usize = 2;
/// Brushes stay this far from other brushes and lifts of the same garment, so
/// the pickup detector's K-of-M window never sees two of them together.
const BRUSH_CLEARANCE_MS: u64 = 1_500;

/// Paces are whole seconds in these ranges. The shortest pace to the
/// fitting room exceeds the longest dwell after a lift plus the walk, and the
/// shortest to the checkout the longest spread of try-ons plus the walk, so a
/// shopper is never late for their SKU's pace.
///
/// To the fitting room: a carried garment is detected at least 0.75 s into
/// a dwell of at most 5 s (no re-lifts while someone carries), then a walk
/// of at most 2 s: 6.25 s. To the checkout: try-ons spread over at most
/// 3.1 s (1.1 s of lifts, 2 s of paces), then at most 3 s in the room and
/// 2.5 s of walk: 8.6 s.
const VIEW_TO_TRY_ON_S: std::ops::RangeInclusive<u64> = 7..=9;
const TRY_ON_TO_PURCHASE_S: std::ops::RangeInclusive<u64> = 9..=11;

/// The shortest funnel window the model supports: a journey (a dwell with
/// lifts, the paces to the fitting room and the checkout, the put-down time)
/// must fit in W/2.
pub const MIN_WINDOW_MS: u64 = 120_000;

/// A multiple of [`SAMPLE_MS`] between `lo` and `hi` (inclusive).
fn ms(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    rng.gen_range(lo.div_ceil(SAMPLE_MS)..=(hi / SAMPLE_MS).max(lo.div_ceil(SAMPLE_MS))) * SAMPLE_MS
}

/// Each SKU's pace, drawn in GTIN order.
pub fn paces(layout: &Layout, rng: &mut ChaCha8Rng) -> BTreeMap<String, Pace> {
    let gtins: std::collections::BTreeSet<&String> =
        layout.garments.iter().map(|g| &g.gtin).collect();
    gtins
        .into_iter()
        .map(|gtin| {
            let pace = Pace {
                view_to_try_on_ms: rng.gen_range(VIEW_TO_TRY_ON_S) * 1_000,
                try_on_to_purchase_ms: rng.gen_range(TRY_ON_TO_PURCHASE_S) * 1_000,
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
        presence: vec![Vec::new(); layout.fixtures.len()],
        held: vec![Vec::new(); layout.garments.len()],
        brushes: vec![Vec::new(); layout.garments.len()],
        reads: Vec::new(),
        dwells: Vec::new(),
        journeys: Vec::new(),
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
    }
    script
}

/// One shopper's visit, built against the facts committed so far and added
/// to the script only if it fits.
struct Shopper<'a> {
    layout: &'a Layout,
    timing: &'a Timing,
    params: &'a Params,
    paces: &'a BTreeMap<String, Pace>,
    world: &'a Script,
    /// Whether the shopper may take garments to the fitting room or the
    /// checkout, or only browse.
    may_carry: bool,
    /// False once the shopper could not keep a SKU's pace (the paces are
    /// chosen so this does not happen; such a shopper would be dropped).
    feasible: bool,
    presence: Vec<(usize, Span)>,
    held: Vec<(usize, Span)>,
    brushes: Vec<(usize, u64)>,
    reads: Vec<ZoneRead>,
    dwells: Vec<Dwell>,
    journeys: Vec<Journey>,
}

/// What a shopper means to do with a garment they lift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    /// Look at it and hang it back (perhaps lifting it once more).
    PutBack,
    TryOn,
    /// Buy it without trying it on.
    Buy,
}

/// A planned lift, relative to the start of the visit.
struct Lift {
    garment: usize,
    intent: Intent,
    /// The stretches in hand while at the fixture; a carried garment's first
    /// hold only says when it was lifted.
    holds: Vec<Span>,
}

/// A garment a shopper walks on with.
struct Carried {
    journey: usize,
    lifted_at: u64,
    intent: Intent,
}

impl<'a> Shopper<'a> {
    fn new(
        layout: &'a Layout,
        timing: &'a Timing,
        params: &'a Params,
        paces: &'a BTreeMap<String, Pace>,
        world: &'a Script,
        may_carry: bool,
    ) -> Self {
        Shopper {
            may_carry,
            layout,
            timing,
            params,
            paces,
            world,
            feasible: true,
            presence: Vec::new(),
            held: Vec::new(),
            brushes: Vec::new(),
            reads: Vec::new(),
            dwells: Vec::new(),
            journeys: Vec::new(),
        }
    }

    /// Visits up to three fixtures, then the fitting room and the checkout
    /// with whatever the shopper carries. A shopper who carries something
    /// stops browsing, which keeps each journey well inside W/2.
    fn walk(mut self, rng: &mut ChaCha8Rng, arrival: u64) -> Draft {
        let mut t = arrival;
        let mut carried = Vec::new();
        for _ in 0..rng.gen_range(1..=3) {
            // Near closing time shoppers only browse what still fits.
            if t + LONGEST_VISIT_MS > self.params.shopping_ms {
                break;
            }
            let fixture = rng.gen_range(0..self.layout.fixtures.len());
            t = self.visit(rng, fixture, t, &mut carried) + ms(rng, 1_000, 2_000);
            if !carried.is_empty() {
                break;
            }
        }
        let (tried, mut to_buy): (Vec<Carried>, Vec<Carried>) =
            carried.into_iter().partition(|c| c.intent == Intent::TryOn);
        let mut put_back = Vec::new();
        match self.reader(rng, ReaderKind::FittingRoom) {
            Some(room) if !tried.is_empty() => {
                // Each garment is first read its SKU's pace after its pickup
                // was detected (the shopper lingers in the room until all are).
                let first_read = |s: &Self, c: &Carried| {
                    c.lifted_at + s.timing.pickup_latency_ms + s.pace(c).view_to_try_on_ms
                };
                let entered = tried
                    .iter()
                    .map(|c| first_read(&self, c))
                    .min()
                    .unwrap_or(t);
                let left = tried
                    .iter()
                    .map(|c| first_read(&self, c))
                    .max()
                    .unwrap_or(t)
                    + ms(rng, 2_000, 3_000);
                self.feasible &= entered >= t;
                for c in tried {
                    let read = first_read(&self, &c);
                    let journey = &mut self.journeys[c.journey];
                    journey.try_on = Some(read);
                    self.reads.push(ZoneRead {
                        reader: room,
                        garment: journey.garment,
                        span: Span::new(read, left),
                    });
                    let p = self.layout.garments[journey.garment].propensity.purchase;
                    if rng.gen_bool(p.clamp(0.0, 1.0)) {
                        to_buy.push(c);
                    } else {
                        put_back.push(c);
                    }
                }
                t = left;
            }
            _ => put_back.extend(tried),
        }
        match self.reader(rng, ReaderKind::Checkout) {
            Some(till) if !to_buy.is_empty() => {
                let arrived = t + ms(rng, 1_500, 2_500);
                // A tried-on garment is read its SKU's pace after its try-on;
                // one bought straight from the rack when the shopper arrives.
                let first_read = |s: &Self, c: &Carried| {
                    s.journeys[c.journey]
                        .try_on
                        .map_or(arrived, |tried| tried + s.pace(c).try_on_to_purchase_ms)
                };
                let left = to_buy
                    .iter()
                    .map(|c| first_read(&self, c))
                    .max()
                    .unwrap_or(arrived)
                    + ms(rng, 800, 1_500);
                for c in to_buy.drain(..) {
                    let read = first_read(&self, &c);
                    self.feasible &= read >= arrived;
                    let journey = &mut self.journeys[c.journey];
                    journey.purchase = Some(read);
                    self.reads.push(ZoneRead {
                        reader: till,
                        garment: journey.garment,
                        span: Span::new(read, left),
                    });
                    // The cashier detaches the tag and drops it in the box of
                    // detached tags, where it lies still.
                    self.release(&c, left + 300);
                }
                t = left;
            }
            _ => {}
        }
        // What is not bought goes back on its rack on the shopper's way out.
        let back_at = t + ms(rng, 1_500, 2_500);
        for c in put_back.into_iter().chain(to_buy) {
            self.release(&c, back_at);
        }
        Draft {
            feasible: self.feasible,
            presence: self.presence,
            held: self.held,
            brushes: self.brushes,
            reads: self.reads,
            dwells: self.dwells,
            journeys: self.journeys,
        }
    }

    fn pace(&self, c: &Carried) -> Pace {
        self.paces[&self.layout.garments[self.journeys[c.journey].garment].gtin]
    }

    fn reader(&self, rng: &mut ChaCha8Rng, kind: ReaderKind) -> Option<usize> {
        let of_kind: Vec<usize> = (0..self.layout.readers.len())
            .filter(|&i| self.layout.readers[i].eq(&kind))
            .collect();
        (!of_kind.is_empty()).then(|| of_kind[rng.gen_range(0..of_kind.len())])
    }

    fn release(&mut self, c: &Carried, at: u64) {
        let journey = &mut self.journeys[c.journey];
        journey.released = at;
        self.held
            .push((journey.garment, Span::new(c.lifted_at, at)));
    }

    /// One stop at a fixture, starting no earlier than `t`; returns when the
    /// shopper leaves it (or `t` if the fixture stayed busy too long).
    fn visit(
        &mut self,
        rng: &mut ChaCha8Rng,
        fixture: usize,
        t: u64,
        carried: &mut Vec<Carried>,
    ) -> u64 {
        let min = self.timing.dwell_min_ms;
        // Plan the visit relative to its start, then find a free slot for it
        // and keep only the lifts and brush the garments allow.
        let pass_by = rng.gen_bool(PASS_BY);
        let mut length = if pass_by {
            ms(rng, min / 5, min / 2)
        } else {
            ms(rng, min * 3 / 2, min * 5 / 2)
        };
        let dropout = (!pass_by && rng.gen_bool(DROPOUT)).then(|| {
            (
                ms(rng, min * 3 / 2, min * 2),
                ms(rng, SAMPLE_MS, self.timing.dwell_gap_ms / 3),
            )
        });
        let on_rack = self.garments_on(rng, fixture, t);
        let mut lifts = if pass_by {
            Vec::new()
        } else {
            self.plan_lifts(rng, &on_rack)
        };
        // Someone about to walk off with a garment does not linger: no
        // re-lifts, which bounds the dwell and keeps the paces feasible.
        if lifts.iter().any(|l| l.intent != Intent::PutBack) {
            lifts.iter_mut().for_each(|l| l.holds.truncate(1));
        }
        let brush = (!on_rack.is_empty() && rng.gen_bool(BRUSH)).then(|| {
            (
                on_rack[rng.gen_range(0..on_rack.len())],
                ms(rng, 0, length - SAMPLE_MS),
            )
        });
        // The shopper stays until every put-back garment is back on the rack.
        for lift in lifts.iter().filter(|l| l.intent == Intent::PutBack) {
            length = length.max(lift.holds.last().map_or(0, |h| h.end) + 500);
        }

        let Some(start) = self.free_slot(fixture, t, length) else {
            return t;
        };
        let span = Span::new(start, start + length);
        match dropout {
            Some((after, gap)) if after + gap < length => {
                self.presence
                    .push((fixture, Span::new(start, start + after)));
                self.presence
                    .push((fixture, Span::new(start + after + gap, span.end)));
            }
            _ => self.presence.push((fixture, span)),
        }
        if !pass_by {
            self.dwells.push(Dwell { fixture, span });
        }
        for lift in lifts {
            let first = start + lift.holds[0].start;
            if !self.can_start_journey(lift.garment, first) {
                continue;
            }
            let mut journey = Journey {
                garment: lift.garment,
                lifts: Vec::new(),
                try_on: None,
                purchase: None,
                // Until a carried garment is released, its journey may
                // last up to W/2: nothing else may touch it meanwhile.
                released: first + self.params.window_ms / 2,
            };
            if lift.intent == Intent::PutBack {
                for h in &lift.holds {
                    let held = Span::new(start + h.start, start + h.end);
                    self.held.push((lift.garment, held));
                    journey.lifts.push(held.start);
                    journey.released = held.end;
                }
            } else {
                journey.lifts.push(first);
                carried.push(Carried {
                    journey: self.journeys.len(),
                    lifted_at: first,
                    intent: lift.intent,
                });
            }
            self.journeys.push(journey);
        }
        if let Some((g, at)) = brush {
            if self.can_brush(g, start + at) {
                self.brushes.push((g, start + at));
            }
        }
        span.end
    }

    /// Which garments on the rack the shopper lifts, when (relative to the
    /// start of the visit) and what they mean to do with them.
    fn plan_lifts(&self, rng: &mut ChaCha8Rng, on_rack: &[usize]) -> Vec<Lift> {
        let still = self.timing.still_ms;
        let mut lifts = Vec::new();
        for &garment in on_rack {
            let propensity = self.layout.garments[garment].propensity;
            if lifts.len() == MAX_LIFTS_PER_VISIT
                || !rng.gen_bool(propensity.pickup.clamp(0.0, 1.0))
            {
                continue;
            }
            let at = ms(rng, 600, 1_200) + lifts.len() as u64 * 500;
            let intent = if !self.may_carry {
                Intent::PutBack
            } else if rng.gen_bool(propensity.try_on.clamp(0.0, 1.0)) {
                Intent::TryOn
            } else if rng.gen_bool(DIRECT_BUY) {
                Intent::Buy
            } else {
                Intent::PutBack
            };
            let first = Span::new(at, at + ms(rng, 1_000, 2_500));
            let mut holds = vec![first];
            if intent == Intent::PutBack && rng.gen_bool(RELIFT) {
                let again = first.end + ms(rng, 2 * still, 5 * still / 2);
                holds.push(Span::new(again, again + ms(rng, 800, 1_500)));
            }
            lifts.push(Lift {
                garment,
                intent,
                holds,
            });
        }
        lifts
    }

    /// The garments still on the fixture's rack at `t` (not sold by then),
    /// in the random order the shopper looks at them.
    fn garments_on(&self, rng: &mut ChaCha8Rng, fixture: usize, t: u64) -> Vec<usize> {
        let mut on_rack: Vec<usize> = (0..self.layout.garments.len())
            .filter(|&g| self.layout.garments[g].fixture == fixture)
            .filter(|&g| {
                !self
                    .journeys_of(g)
                    .any(|j| j.purchase.is_some_and(|p| p <= t))
            })
            .collect();
        on_rack.shuffle(rng);
        on_rack
    }

    /// The earliest start in `[t, t + MAX_WAIT_MS]` at which a presence of
    /// `length` keeps its distance from every other presence at the fixture.
    fn free_slot(&self, fixture: usize, t: u64, length: u64) -> Option<u64> {
        let sep = self.presence_separation();
        let taken: Vec<Span> = self.world.presence[fixture]
            .iter()
            .copied()
            .chain(
                self.presence
                    .iter()
                    .filter(|(f, _)| *f == fixture)
                    .map(|(_, s)| *s),
            )
            .collect();
        let candidates =
            std::iter::once(t).chain(taken.iter().map(|s| s.end + sep).filter(|&c| c > t));
        candidates
            .filter(|&c| c <= t + MAX_WAIT_MS)
            .filter(|&c| !taken.iter().any(|s| s.near(&Span::new(c, c + length), sep)))
            .min()
    }

    /// Visits to one fixture stay this far apart, so the dwell detector's
    /// gap tolerance never joins two shoppers into one dwell.
    fn presence_separation(&self) -> u64 {
        (3 * self.timing.dwell_gap_ms).max(1_500)
    }

    /// The journeys of garment `g` committed or drafted so far, each as the
    /// stretch from its first lift to its release.
    fn journeys_of(&self, g: usize) -> impl Iterator<Item = &Journey> + '_ {
        self.world
            .journeys
            .iter()
            .chain(self.journeys.iter())
            .filter(move |j| j.garment == g)
    }

    /// Whether a journey of garment `g` may open at `at`: the garment has not
    /// been sold, no other journey is within 2W (the gap rule, with this one
    /// assumed to last up to W/2) and it was not just brushed.
    fn can_start_journey(&self, g: usize, at: u64) -> bool {
        let w = self.params.window_ms;
        let mine = Span::new(at, at + w / 2);
        let apart = self.journeys_of(g).all(|j| !j.span().near(&mine, 2 * w));
        let sold = self
            .journeys_of(g)
            .any(|j| j.purchase.is_some() && j.lifts[0] < at);
        let brushed = self
            .brush_times(g)
            .any(|b| b + BRUSH_CLEARANCE_MS > at && b < mine.end);
        apart && !sold && !brushed
    }

    /// Whether garment `g` may be brushed at `at`: it is on its rack and
    /// well away from other brushes and from its journeys.
    fn can_brush(&self, g: usize, at: u64) -> bool {
        let instant = Span::new(at, at + 1);
        let clear = BRUSH_CLEARANCE_MS + self.timing.still_ms;
        let sold = self
            .journeys_of(g)
            .any(|j| j.purchase.is_some() && j.lifts[0] <= at);
        let near_journey = self.journeys_of(g).any(|j| j.span().near(&instant, clear));
        let near_brush = self
            .brush_times(g)
            .any(|b| Span::new(b, b + 1).near(&instant, BRUSH_CLEARANCE_MS));
        !sold && !near_journey && !near_brush
    }

    fn brush_times(&self, g: usize) -> impl Iterator<Item = u64> + '_ {
        self.world.brushes[g].iter().copied().chain(
            self.brushes
                .iter()
                .filter(move |(b, _)| *b == g)
                .map(|(_, t)| *t),
        )
    }
}

/// One shopper's facts, not yet part of the script.
struct Draft {
    feasible: bool,
    presence: Vec<(usize, Span)>,
    held: Vec<(usize, Span)>,
    brushes: Vec<(usize, u64)>,
    reads: Vec<ZoneRead>,
    dwells: Vec<Dwell>,
    journeys: Vec<Journey>,
}

impl Draft {
    /// Whether the visit ends within the shopping time and every journey
    /// within W/2 of its first lift.
    fn fits(&self, timing: &Timing, params: &Params) -> bool {
        let last = self
            .presence
            .iter()
            .map(|(_, s)| s.end)
            .chain(self.held.iter().map(|(_, s)| s.end + timing.still_ms))
            .chain(self.reads.iter().map(|r| r.span.end))
            .max();
        let in_time = last.is_none_or(|l| l <= params.shopping_ms);
        let journeys_short = self
            .journeys
            .iter()
            .all(|j| j.released + timing.still_ms - j.lifts[0] <= params.window_ms / 2);
        self.feasible && in_time && journeys_short
    }

    fn commit(self, script: &mut Script) {
        if self.presence.is_empty() {
            return;
        }
        for (f, s) in self.presence {
            insert_sorted(&mut script.presence[f], s);
        }
        for (g, s) in self.held {
            insert_sorted(&mut script.held[g], s);
        }
        for (g, t) in self.brushes {
            script.brushes[g].push(t);
            script.brushes[g].sort_unstable();
        }
        script.reads.extend(self.reads);
        script.dwells.extend(self.dwells);
        script.journeys.extend(self.journeys);
        script.shoppers += 1;
    }
}

fn insert_sorted(spans: &mut Vec<Span>, s: Span) {
    let at = spans.partition_point(|x| x.start < s.start);
    spans.insert(at, s);
}

#[cfg(test)]
mod tests;
