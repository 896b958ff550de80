//! People counting at a store's entrance: two infrared break-beams a few
//! centimetres apart across the door, turned into counts of people who came
//! in and went out.
//!
//! Beam A is on the street side, beam B on the store side. A person is wider
//! than the gap, so someone walking in breaks A, then B, clears A, then
//! clears B; walking out is the mirror. A passage counts when a person
//! leaves the beams on the other side from where they came in: someone who
//! steps into the beams and turns back leaves on their own side and counts
//! as nothing.
//!
//! Each beam holds at most one person at a time (the gap is narrower than a
//! body), so two people walking close together are told apart when the
//! beams say so: the first clears the street-side beam and the second
//! breaks it again while the first is still in the store-side one. A
//! person who steps back onto the street-side beam while still in the
//! store-side one looks exactly like that, and is counted as the person
//! behind: beams cannot tell the two apart.
//!
//! The detector is pure: fed timestamped beam levels (`true` = broken) and
//! `now`, it never reads a clock. To save radio it reports counts, not
//! people: at most one [`EntryCounts`] per period, and only for a period in
//! which someone came or went.

/// The entrance counter's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntranceSettings {
    /// A beam level must hold this long to count: shorter breaks or gaps are
    /// flicker (sunlight, a swinging bag strap), not a person. A walking
    /// leg breaks a beam for well over 100 ms.
    pub min_break_ms: u16,
    /// A beam broken for this long is blocked (a propped door, a pram left
    /// in the way): nothing is counted until it clears, and the tag says so
    /// in its heartbeat.
    pub blocked_ms: u32,
    /// Counts are reported once per period of this length.
    pub period_ms: u32,
}

impl Default for EntranceSettings {
    fn default() -> Self {
        EntranceSettings {
            min_break_ms: 40,
            blocked_ms: 20_000,
            period_ms: 60_000,
        }
    }
}

/// The people who came in and went out during one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryCounts {
    /// People who walked into the store.
    pub entered: u16,
    /// People who walked out.
    pub exited: u16,
    /// The period's length.
    pub period_ms: u32,
    /// When the period started, in the tag's time: events are stamped at the
    /// start of their period.
    pub started_ms: u64,
}

/// Which side of the door a beam, or a person's first step, is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Beam A, the street side.
    Street,
    /// Beam B, the store side.
    Store,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Street => 0,
            Side::Store => 1,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Street => Side::Store,
            Side::Store => Side::Street,
        }
    }
}

/// A person in the beams: who (to tell whether one body covers both beams)
/// and which side they stepped in from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Person {
    id: u8,
    from: Side,
}

/// One beam's level, debounced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Beam {
    /// The accepted level (`true` = broken).
    level: bool,
    /// The latest sampled level, and since when it has held.
    raw: bool,
    raw_since: u64,
    /// Broken for longer than the blocked threshold.
    blocked: bool,
}

impl Beam {
    const CLEAR: Beam = Beam {
        level: false,
        raw: false,
        raw_since: 0,
        blocked: false,
    };
}

/// Counts of the period in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    index: u64,
    entered: u16,
    exited: u16,
}

/// The entrance counter. Feed it both beams' levels with
/// [`EntranceCounter::sample`] whenever they are sampled or change, and call
/// [`EntranceCounter::poll`] by [`EntranceCounter::poll_timeout`].
#[derive(Debug, Clone)]
pub struct EntranceCounter {
    settings: EntranceSettings,
    beams: [Beam; 2],
    /// Who is in each beam.
    in_beam: [Option<Person>; 2],
    next_id: u8,
    bucket: Bucket,
    /// A finished period waiting to be taken by `poll`.
    ready: Option<EntryCounts>,
    turned_back: u32,
    blocked_episodes: u16,
}

impl EntranceCounter {
    /// A counter with these thresholds and both beams clear.
    pub fn new(settings: EntranceSettings) -> Self {
        EntranceCounter {
            settings,
            beams: [Beam::CLEAR; 2],
            in_beam: [None, None],
            next_id: 0,
            bucket: Bucket {
                index: 0,
                entered: 0,
                exited: 0,
            },
            ready: None,
            turned_back: 0,
            blocked_episodes: 0,
        }
    }

    /// Applies new thresholds; counts so far are kept.
    pub fn update_settings(&mut self, settings: EntranceSettings) {
        self.settings = settings;
    }

    /// True while a beam is blocked (for the heartbeat).
    pub fn is_blocked(&self) -> bool {
        self.beams[0].blocked || self.beams[1].blocked
    }

    /// How many times since boot a beam was held broken past the blocked
    /// threshold.
    pub fn blocked_episodes(&self) -> u16 {
        self.blocked_episodes
    }

    /// People who stepped into the beams and went back the way they came,
    /// since boot.
    pub fn turned_back(&self) -> u32 {
        self.turned_back
    }

    /// Feeds both beams' levels at `now_ms` (`true` = broken), then reports
    /// what is due as [`EntranceCounter::poll`] does.
    pub fn sample(&mut self, now_ms: u64, beam_a: bool, beam_b: bool) -> Option<EntryCounts> {
        // A change that settled before this one must be taken first: a
        // caller that polled late would otherwise have it overwritten.
        self.settle(now_ms);
        for (beam, raw) in self.beams.iter_mut().zip([beam_a, beam_b]) {
            if beam.raw != raw {
                beam.raw = raw;
                beam.raw_since = now_ms;
            }
        }
        self.poll(now_ms)
    }

    /// Settles beam changes that have held long enough, in the order they
    /// happened, and returns a finished period's counts when one is due.
    pub fn poll(&mut self, now_ms: u64) -> Option<EntryCounts> {
        self.settle(now_ms);
        self.check_blocked(now_ms);
        if self.ready.is_none() {
            self.finish_period(now_ms);
        }
        self.ready.take()
    }

    /// Applies the beam changes that have held long enough by `now_ms`, in
    /// the order they happened.
    fn settle(&mut self, now_ms: u64) {
        while let Some(side) = self.next_settled_edge(now_ms) {
            let beam = &mut self.beams[side.index()];
            let at = beam.raw_since;
            beam.level = beam.raw;
            if beam.level {
                self.broken(side);
            } else if core::mem::take(&mut beam.blocked) {
                // Whoever was in the beams when it blocked is unknowable.
                self.in_beam = [None, None];
            } else {
                self.cleared(side, at);
            }
        }
    }

    /// When [`EntranceCounter::poll`] may next have something to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        // Plain loops and a sentinel rather than iterator chains over
        // `Option`s: half the code on a Cortex-M0. Times are milliseconds
        // since boot, far from overflowing.
        let min_break = u64::from(self.settings.min_break_ms);
        let mut due = u64::MAX;
        for b in &self.beams {
            if b.raw != b.level {
                due = due.min(b.raw_since + min_break);
            }
            if b.level && !b.blocked {
                due = due.min(b.raw_since + u64::from(self.settings.blocked_ms));
            }
        }
        if self.bucket.entered > 0 || self.bucket.exited > 0 {
            due = due.min(self.period_end(self.bucket.index) + min_break);
        }
        (due != u64::MAX).then_some(due)
    }

    /// The beam whose pending change settled first, if any has by `now_ms`.
    fn next_settled_edge(&self, now_ms: u64) -> Option<Side> {
        let min_break = u64::from(self.settings.min_break_ms);
        let mut first: Option<Side> = None;
        for side in [Side::Street, Side::Store] {
            let b = &self.beams[side.index()];
            let settled = b.raw != b.level && b.raw_since + min_break <= now_ms;
            // On a tie the street side goes first.
            if settled && first.is_none_or(|f| b.raw_since < self.beams[f.index()].raw_since) {
                first = Some(side);
            }
        }
        first
    }

    fn broken(&mut self, side: Side) {
        if self.is_blocked() {
            return;
        }
        // Someone in the other beam alone who came from the other side is
        // walking through and now covers both beams; anyone else breaking
        // this beam is a new person stepping in from this side.
        let walking_through = self.in_beam[side.other().index()]
            .filter(|p| p.from == side.other() && !self.covers_both(p));
        let person = walking_through.unwrap_or_else(|| {
            self.next_id = self.next_id.wrapping_add(1);
            Person {
                id: self.next_id,
                from: side,
            }
        });
        self.in_beam[side.index()] = Some(person);
    }

    fn cleared(&mut self, side: Side, at: u64) {
        let Some(person) = self.in_beam[side.index()].take() else {
            return;
        };
        if self.in_beam[side.other().index()] == Some(person) {
            // Still in the other beam: on their way.
            return;
        }
        if person.from == side {
            self.turned_back = self.turned_back.saturating_add(1);
        } else {
            self.count(person.from, at);
        }
    }

    fn covers_both(&self, person: &Person) -> bool {
        self.in_beam[0] == Some(*person) && self.in_beam[1] == Some(*person)
    }

    /// Counts one passage that ended at `at`, in the period it ended in.
    fn count(&mut self, from: Side, at: u64) {
        let index = div_u64(at, self.period());
        if index > self.bucket.index {
            self.close_bucket();
            self.bucket.index = index;
        }
        // A passage settled after its period was reported (the shell polled
        // late) counts in the period in progress rather than being lost.
        match from {
            Side::Street => self.bucket.entered = self.bucket.entered.saturating_add(1),
            Side::Store => self.bucket.exited = self.bucket.exited.saturating_add(1),
        }
    }

    fn check_blocked(&mut self, now_ms: u64) {
        let blocked_ms = u64::from(self.settings.blocked_ms);
        for beam in &mut self.beams {
            if beam.level && beam.raw && !beam.blocked && beam.raw_since + blocked_ms <= now_ms {
                beam.blocked = true;
                self.blocked_episodes = self.blocked_episodes.saturating_add(1);
            }
        }
    }

    /// Reports the bucket once its period is over and every change inside
    /// it has had time to settle.
    fn finish_period(&mut self, now_ms: u64) {
        let min_break = u64::from(self.settings.min_break_ms);
        if now_ms >= self.period_end(self.bucket.index) + min_break {
            self.close_bucket();
            self.bucket.index = div_u64(now_ms - min_break, self.period());
        }
    }

    /// Moves the bucket's counts to `ready` when there are any.
    fn close_bucket(&mut self) {
        let Bucket {
            index,
            entered,
            exited,
        } = self.bucket;
        if entered > 0 || exited > 0 {
            let counts = EntryCounts {
                entered,
                exited,
                period_ms: self.settings.period_ms,
                started_ms: index * self.period(),
            };
            // Two finished periods at once means the shell stopped polling
            // for a whole period; the older one is merged rather than lost.
            self.ready = Some(match self.ready.take() {
                Some(older) => EntryCounts {
                    entered: older.entered.saturating_add(entered),
                    exited: older.exited.saturating_add(exited),
                    period_ms: u32::try_from(self.period_end(index) - older.started_ms)
                        .unwrap_or(u32::MAX),
                    started_ms: older.started_ms,
                },
                None => counts,
            });
        }
        self.bucket.entered = 0;
        self.bucket.exited = 0;
    }

    fn period(&self) -> u64 {
        u64::from(self.settings.period_ms.max(1))
    }

    fn period_end(&self, index: u64) -> u64 {
        (index + 1) * self.period()
    }
}

/// `n / d` (`d > 0`) by shift and subtract. The library's 64-bit division
/// costs a Cortex-M0+ about 900 bytes of flash; this costs a few dozen and
/// runs once per passage or period, where its 64 steps do not matter.
fn div_u64(n: u64, d: u64) -> u64 {
    let mut quotient = 0;
    let mut rest: u64 = 0;
    for bit in (0..64).rev() {
        rest = (rest << 1) | ((n >> bit) & 1);
        if rest >= d {
            rest -= d;
            quotient |= 1 << bit;
        }
    }
    quotient
}

#[cfg(test)]
mod tests;
