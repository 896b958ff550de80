//! One shopper's day in the store: in through the door, the visits, lifts,
//! brushes, fitting room and checkout, and out again, planned against the facts other shoppers already
//! left in the script and kept only if they fit (see the rules in
//! [`super`]).
//!
//! Longer than most files here on purpose: the planner's steps check one
//! another's facts (a try-on needs its lift, a purchase its try-on, none may
//! overlap another shopper's), and read best in one place.

use super::{
    Dwell, Journey, Layout, Pace, Params, ReaderKind, Script, Span, Timing, Visit, ZoneRead,
    SAMPLE_MS,
};
use crate::sim::door::{Crossing, Passage};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// A shopper waits this long at most for a busy fixture.
const MAX_WAIT_MS: u64 = 3_000;
/// Bound on a fixture visit (waiting, the longest dwell with a re-lift, the
/// put-down time): shoppers do not start a visit that could not end by
/// closing time.
const LONGEST_VISIT_MS: u64 = MAX_WAIT_MS + 16_000 + 1_500;
/// Chance a visit is a pass-by rather than a dwell.
const PASS_BY: f64 = 0.3;
/// Chance a lifted garment that is not tried on is bought straight away.
const DIRECT_BUY: f64 = 0.1;
/// Chance a put-back garment is lifted again in the same visit.
const RELIFT: f64 = 0.2;
/// Chance a passing shopper brushes a garment on the rack.
const BRUSH: f64 = 0.5;
/// Chance a dwelling shopper browses the rack, pushing a garment they do not
/// lift along the rail.
const BROWSE: f64 = 0.5;
/// Chance a PIR drops out briefly in the middle of a dwell.
const DROPOUT: f64 = 0.3;
/// Chance a shopper comes with a companion, the two passing the door close
/// together (the companion touches nothing).
const PAIR: f64 = 0.2;
/// Chance a shopper who came in through a door only looks around and
/// leaves without going to any fixture.
const JUST_LOOKING: f64 = 0.15;
/// Most garments one shopper lifts at one fixture.
const MAX_LIFTS_PER_VISIT: usize = 2;
/// Brushes and browses stay this far from other touches and lifts of the
/// same garment: the swing they start has died down by then (the virtual
/// tags render 6 s of it), so each touch starts from a hanging garment.
pub(super) const BRUSH_CLEARANCE_MS: u64 = 7_000;

mod entrance;

/// A multiple of [`SAMPLE_MS`] between `lo` and `hi` (inclusive).
fn ms(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    rng.gen_range(lo.div_ceil(SAMPLE_MS)..=(hi / SAMPLE_MS).max(lo.div_ceil(SAMPLE_MS))) * SAMPLE_MS
}

/// One shopper's visit, built against the facts committed so far and added
/// to the script only if it fits.
pub(super) struct Shopper<'a> {
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
    pub(super) feasible: bool,
    /// True once a door stayed busy for longer than the shopper waits.
    door_busy: bool,
    presence: Vec<(usize, Span)>,
    held: Vec<(usize, Span)>,
    brushes: Vec<(usize, u64)>,
    browses: Vec<(usize, u64)>,
    reads: Vec<ZoneRead>,
    dwells: Vec<Dwell>,
    journeys: Vec<Journey>,
    /// Passages through an entrance: (entrance, crossing).
    crossings: Vec<(usize, Crossing)>,
    visits: Vec<Visit>,
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
    pub(super) fn new(
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
            door_busy: false,
            presence: Vec::new(),
            held: Vec::new(),
            brushes: Vec::new(),
            browses: Vec::new(),
            reads: Vec::new(),
            dwells: Vec::new(),
            journeys: Vec::new(),
            crossings: Vec::new(),
            visits: Vec::new(),
        }
    }

    /// Visits up to three fixtures, then the fitting room and the checkout
    /// with whatever the shopper carries. A shopper who carries something
    /// stops browsing, which keeps each journey well inside W/2.
    pub(super) fn walk(mut self, rng: &mut ChaCha8Rng, arrival: u64) -> Draft {
        let mut t = arrival;
        let door = self.walk_in(rng, &mut t);
        let just_looking = door.is_some() && rng.gen_bool(JUST_LOOKING);
        let fixtures = if just_looking {
            t += ms(rng, 3_000, 8_000);
            0
        } else {
            rng.gen_range(1..=3)
        };
        let mut carried = Vec::new();
        for _ in 0..fixtures {
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
        if let Some((entrance, pair)) = door {
            let out = if pair { Passage::PairOut } else { Passage::Out };
            let at = back_at + ms(rng, 1_000, 2_000);
            self.pass(entrance, out, at);
        }
        Draft {
            feasible: self.feasible,
            door_busy: self.door_busy,
            presence: self.presence,
            held: self.held,
            brushes: self.brushes,
            browses: self.browses,
            reads: self.reads,
            dwells: self.dwells,
            journeys: self.journeys,
            crossings: self.crossings,
            visits: self.visits,
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
        // A browsing shopper pushes aside one garment they do not lift.
        let unlifted: Vec<usize> = on_rack
            .iter()
            .copied()
            .filter(|g| !lifts.iter().any(|l| l.garment == *g))
            .collect();
        let browse = (!pass_by && !unlifted.is_empty() && rng.gen_bool(BROWSE)).then(|| {
            (
                unlifted[rng.gen_range(0..unlifted.len())],
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
        if let Some((g, at)) = browse {
            if self.can_brush(g, start + at) {
                self.browses.push((g, start + at));
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
            // Held long enough to be reported in hand (about a second, see
            // tags::PICKUP_LATENCY_MS), as shoppers look at what they lift.
            let first = Span::new(at, at + ms(rng, 2_500, 4_500));
            let mut holds = vec![first];
            if intent == Intent::PutBack && rng.gen_bool(RELIFT) {
                let again = first.end + ms(rng, 2 * still, 5 * still / 2);
                holds.push(Span::new(again, again + ms(rng, 2_000, 3_500)));
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

    /// Whether garment `g` may be brushed or pushed at `at`: it is on its
    /// rack and well away from other touches and from its journeys.
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

    /// When garment `g` was brushed or pushed, in this draft or before.
    fn brush_times(&self, g: usize) -> impl Iterator<Item = u64> + '_ {
        self.world.brushes[g]
            .iter()
            .chain(&self.world.browses[g])
            .copied()
            .chain(
                self.brushes
                    .iter()
                    .chain(&self.browses)
                    .filter(move |(b, _)| *b == g)
                    .map(|(_, t)| *t),
            )
    }
}

/// One shopper's facts, not yet part of the script.
pub(super) struct Draft {
    pub(super) feasible: bool,
    door_busy: bool,
    presence: Vec<(usize, Span)>,
    held: Vec<(usize, Span)>,
    brushes: Vec<(usize, u64)>,
    browses: Vec<(usize, u64)>,
    reads: Vec<ZoneRead>,
    dwells: Vec<Dwell>,
    journeys: Vec<Journey>,
    crossings: Vec<(usize, Crossing)>,
    visits: Vec<Visit>,
}

impl Draft {
    /// Whether the visit ends within the shopping time, every journey
    /// within W/2 of its first lift, and the doors let the shopper through.
    pub(super) fn fits(&self, timing: &Timing, params: &Params) -> bool {
        let last = self
            .presence
            .iter()
            .map(|(_, s)| s.end)
            .chain(self.held.iter().map(|(_, s)| s.end + timing.still_ms))
            .chain(self.reads.iter().map(|r| r.span.end))
            .chain(self.crossings.iter().map(|(_, c)| c.span().end))
            .max();
        let in_time = last.is_none_or(|l| l <= params.shopping_ms);
        let journeys_short = self
            .journeys
            .iter()
            .all(|j| j.released + timing.still_ms - j.lifts[0] <= params.window_ms / 2);
        self.feasible && !self.door_busy && in_time && journeys_short
    }

    pub(super) fn commit(self, script: &mut Script) {
        if self.presence.is_empty() && self.crossings.is_empty() {
            return;
        }
        for (e, c) in self.crossings {
            let door = &mut script.door[e];
            let at = door.partition_point(|x| x.start < c.start);
            door.insert(at, c);
        }
        script.visits.extend(self.visits);
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
        for (g, t) in self.browses {
            script.browses[g].push(t);
            script.browses[g].sort_unstable();
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
