//! A shopper at the store's door: in through one of its entrances, alone or
//! with a companion, and out again the way they came.

use super::{ms, Shopper, MAX_WAIT_MS, PAIR};
use crate::sim::door::{self, Crossing, Passage};
use crate::sim::shoppers::Visit;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

impl Shopper<'_> {
    /// Through one of the store's entrances, alone or with a companion,
    /// from `t` on; moves `t` to when the shopper reaches the racks. Returns
    /// the entrance and whether they came as a pair, or `None` for a store
    /// without entrances.
    pub(super) fn walk_in(&mut self, rng: &mut ChaCha8Rng, t: &mut u64) -> Option<(usize, bool)> {
        if self.layout.entrances == 0 {
            return None;
        }
        let entrance = rng.gen_range(0..self.layout.entrances);
        let pair = rng.gen_bool(PAIR);
        let passage = if pair { Passage::PairIn } else { Passage::In };
        let crossing = self.pass(entrance, passage, *t)?;
        self.visits.push(Visit {
            entrance,
            at: crossing.start,
            people: passage.entered(),
        });
        *t = crossing.span().end + ms(rng, 1_000, 2_000);
        Some((entrance, pair))
    }

    /// A passage through `entrance` at the first free moment from `t`; a
    /// door busy for longer than a shopper waits means the draft does not
    /// fit.
    pub(super) fn pass(&mut self, entrance: usize, passage: Passage, t: u64) -> Option<Crossing> {
        let taken = self.world.door[entrance].iter().map(Crossing::span).chain(
            self.crossings
                .iter()
                .filter(|(e, _)| *e == entrance)
                .map(|(_, c)| c.span()),
        );
        let start = door::free_slot(taken, t, passage.length_ms(), MAX_WAIT_MS);
        self.door_busy |= start.is_none();
        let crossing = Crossing {
            start: start?,
            passage,
        };
        self.crossings.push((entrance, crossing));
        Some(crossing)
    }
}
