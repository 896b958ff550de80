//! People at the store's entrance: who walks through its two break-beams,
//! and the beam levels the entrance tag samples.
//!
//! Beam A is on the street side, beam B on the store side, a few centimetres
//! apart; a person is wider than the gap, so someone walking in breaks A,
//! then B, clears A, then clears B. Each [`Passage`] is drawn once as beam
//! spans and sampled by the virtual entrance tag, whose detector is the
//! firmware's own: the model says what happened, the detector decides what
//! it counts, and the truth counts what happened.
//!
//! Every phase of a passage (one beam broken, both, the other) lasts at
//! least two of the tags' samples, and the passages of different people at
//! one door keep [`DOOR_GAP_MS`] apart, so the detector's debounce sees
//! every beam change: a miscount here would be a bug in the detector, not an
//! artefact of the sampling.

use super::shoppers::Span;

/// Between one party's last beam clearing and the next party's first beam
/// breaking: far above the detector's debounce, short enough for a queue.
pub const DOOR_GAP_MS: u64 = 600;

/// What one party did in the beams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passage {
    /// One person walked in.
    In,
    /// One person walked out.
    Out,
    /// Two people walked in one behind the other: the second broke the
    /// street-side beam while the first was still in the store-side one.
    PairIn,
    /// Two people walked out close together.
    PairOut,
    /// Someone on the street stepped into the door, through both beams
    /// almost, and went back out: not a visit.
    TurnBack,
}

/// One person walking through, relative to the passage's start, as beam
/// spans (A, B). Body 35 cm deep, beams 15 cm apart, walking 1 m/s.
const WALK: [(u64, u64); 2] = [(0, 350), (150, 500)];
/// The second of a pair steps into beam A 100 ms after the first left it,
/// while the first is still in beam B.
const PAIR_OFFSET_MS: u64 = 450;

impl Passage {
    /// People who came into the store.
    pub fn entered(self) -> u64 {
        match self {
            Passage::In => 1,
            Passage::PairIn => 2,
            Passage::Out | Passage::PairOut | Passage::TurnBack => 0,
        }
    }

    /// People who left the store.
    pub fn exited(self) -> u64 {
        match self {
            Passage::Out => 1,
            Passage::PairOut => 2,
            Passage::In | Passage::PairIn | Passage::TurnBack => 0,
        }
    }

    /// The spans each beam is broken, relative to the start: `[A, B]`.
    fn beams(self) -> [Vec<Span>; 2] {
        let walk = |at: u64| WALK.map(|(s, e)| Span::new(at + s, at + e));
        let mirror = |[a, b]: [Vec<Span>; 2]| [b, a];
        match self {
            Passage::In => walk(0).map(|s| vec![s]),
            Passage::Out => mirror(Passage::In.beams()),
            Passage::PairIn => {
                let (first, second) = (walk(0), walk(PAIR_OFFSET_MS));
                [0, 1].map(|beam| vec![first[beam], second[beam]])
            }
            Passage::PairOut => mirror(Passage::PairIn.beams()),
            // Into beam B and back while still in beam A.
            Passage::TurnBack => [vec![Span::new(0, 500)], vec![Span::new(150, 300)]],
        }
    }

    /// From the first beam breaking to the last clearing.
    pub fn length_ms(self) -> u64 {
        self.beams()
            .iter()
            .flatten()
            .map(|s| s.end)
            .max()
            .unwrap_or(0)
    }
}

/// One party's passage through one door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossing {
    /// When the first beam broke.
    pub start: u64,
    pub passage: Passage,
}

impl Crossing {
    /// From the first beam breaking to the last clearing.
    pub fn span(&self) -> Span {
        Span::new(self.start, self.start + self.passage.length_ms())
    }

    /// Whether beams A and B are broken at `t`.
    pub fn beams_at(&self, t: u64) -> (bool, bool) {
        let Some(rel) = t.checked_sub(self.start) else {
            return (false, false);
        };
        let [a, b] = self.passage.beams();
        let broken = |spans: &[Span]| spans.iter().any(|s| s.contains(rel));
        (broken(&a), broken(&b))
    }
}

/// The beams' levels at `t` for a door's crossings, sorted by start.
pub fn beams_at(crossings: &[Crossing], t: u64) -> (bool, bool) {
    // Crossings keep apart, so at most the last one started is in the beams.
    let started = crossings.partition_point(|c| c.start <= t);
    started
        .checked_sub(1)
        .map_or((false, false), |i| crossings[i].beams_at(t))
}

/// The earliest start in `[t, t + max_wait]` at which a passage of `length`
/// keeps [`DOOR_GAP_MS`] from every crossing in `taken`.
pub fn free_slot(
    taken: impl Iterator<Item = Span> + Clone,
    t: u64,
    length: u64,
    max_wait: u64,
) -> Option<u64> {
    let candidates = std::iter::once(t).chain(
        taken
            .clone()
            .map(|s| s.end + DOOR_GAP_MS)
            .filter(|&c| c > t),
    );
    candidates
        .filter(|&c| c <= t + max_wait)
        .filter(|&c| {
            let mine = Span::new(c, c + length);
            !taken
                .clone()
                .any(|s| s.start < mine.end + DOOR_GAP_MS && mine.start < s.end + DOOR_GAP_MS)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::shoppers::SAMPLE_MS;
    use firmware::entrance::{EntranceCounter, EntranceSettings};

    /// Runs the firmware's detector over `crossings`, sampled as the virtual
    /// tag samples, and returns (entered, exited, turned back).
    fn detect(crossings: &[Crossing]) -> (u64, u64, u32) {
        let mut counter = EntranceCounter::new(EntranceSettings {
            period_ms: 10_000,
            ..EntranceSettings::default()
        });
        let end = crossings.last().map_or(0, |c| c.span().end) + 20_000;
        let (mut entered, mut exited) = (0, 0);
        for t in (0..end).step_by(SAMPLE_MS as usize) {
            let (a, b) = beams_at(crossings, t);
            if let Some(counts) = counter.sample(t, a, b) {
                entered += u64::from(counts.entered);
                exited += u64::from(counts.exited);
            }
        }
        (entered, exited, counter.turned_back())
    }

    fn at(start: u64, passage: Passage) -> Crossing {
        Crossing { start, passage }
    }

    #[test]
    fn a_person_walking_in_breaks_a_then_b_clears_a_then_b() {
        let c = at(1_000, Passage::In);
        let levels: Vec<(bool, bool)> = [1_000, 1_150, 1_350, 1_500]
            .iter()
            .map(|&t| c.beams_at(t))
            .collect();
        assert_eq!(
            levels,
            [(true, false), (true, true), (false, true), (false, false)]
        );
        assert_eq!(c.span(), Span::new(1_000, 1_500));
    }

    #[test]
    fn every_passage_is_counted_by_the_firmware_detector_as_it_happened() {
        for passage in [
            Passage::In,
            Passage::Out,
            Passage::PairIn,
            Passage::PairOut,
            Passage::TurnBack,
        ] {
            let (entered, exited, turned) = detect(&[at(2_000, passage)]);
            assert_eq!(
                (entered, exited),
                (passage.entered(), passage.exited()),
                "{passage:?}"
            );
            assert_eq!(
                turned,
                u32::from(passage == Passage::TurnBack),
                "{passage:?}"
            );
        }
    }

    #[test]
    fn a_queue_at_the_door_is_counted_person_by_person() {
        let passages = [
            Passage::In,
            Passage::PairIn,
            Passage::TurnBack,
            Passage::Out,
            Passage::In,
            Passage::PairOut,
        ];
        let mut crossings: Vec<Crossing> = Vec::new();
        for p in passages {
            let start = free_slot(
                crossings.iter().map(Crossing::span),
                1_000,
                p.length_ms(),
                60_000,
            )
            .expect("a free slot");
            crossings.push(at(start, p));
        }
        let spans: Vec<Span> = crossings.iter().map(Crossing::span).collect();
        assert!(
            spans
                .windows(2)
                .all(|w| w[0].end + DOOR_GAP_MS <= w[1].start),
            "{spans:?}"
        );
        assert_eq!(detect(&crossings), (4, 3, 1));
    }
}
