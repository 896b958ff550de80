//! Reconnect and retry jitter: a small deterministic generator, seeded
//! randomly by the gateway and with a fixed seed by tests, so thousands of
//! stores do not retry in the same instant.

use std::time::Duration;

/// A small deterministic generator for reconnect jitter (SplitMix64): the
/// gateway seeds it randomly, tests with a fixed seed.
#[derive(Debug, Clone)]
pub(super) struct Jitter(u64);

impl Jitter {
    /// The same delays for the same seed.
    pub(super) fn seeded(seed: u64) -> Self {
        Jitter(seed)
    }

    /// A seed different per process, from std's randomly keyed hasher:
    /// randomness enough for spreading retries.
    pub(super) fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        Jitter::seeded(hasher.finish())
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `base` plus up to half of it again: thousands of stores cut off by
    /// one HQ broker outage must not all retry in the same instant when it
    /// comes back.
    pub(super) fn spread(&mut self, base: Duration) -> Duration {
        let per_mille = (self.next() % 1000) as u32;
        base + base * per_mille / 2000
    }
}
