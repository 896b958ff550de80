//! The entrance scenario's break-beams: a store door's afternoon, in
//! virtual time. Beam A is on the street side, beam B on the store side;
//! counts are reported every [`PERIOD_MS`].
//!
//! | from (ms) | what happens | expected report |
//! | --- | --- | --- |
//! | 2 000, 5 000 | a shopper walks in, then another | |
//! | 8 000 | a shopper walks out | |
//! | 11 000 | someone steps into beam A and turns back | nothing |
//! | 14 000 | beam A flickers for 10 ms | nothing |
//! | 20 040 | period 0 over and settled | Entries { 2 in, 1 out } |
//! | 20 000–40 000 | nobody | nothing |
//! | 42 000 | two shoppers walk in close together | |
//! | 50 000 | a shopper walks out | |
//! | 60 040 | | Entries { 2 in, 1 out } |
//! | 61 000 | a pram left across beam A | |
//! | 81 000 | held 20 s: blocked | heartbeat, beam_blocked |
//! | 95 000 | the pram is moved | heartbeat, cleared, at 95 040 |
//! | 105 000 | a shopper walks in | |
//! | 120 040 | | Entries { 1 in, 0 out } |
//! | 130 000 | end of the run | |
//!
//! Heartbeats are due every 30 s besides.

/// The count period the scenario's tag is provisioned with.
pub const PERIOD_MS: u32 = 20_000;
pub const END_MS: u64 = 130_000;

/// Beam levels (A, B; `true` = broken) from each time on.
const EDGES: &[(u64, bool, bool)] = &[
    // In, in, out.
    (2_000, true, false),
    (2_150, true, true),
    (2_300, false, true),
    (2_450, false, false),
    (5_000, true, false),
    (5_150, true, true),
    (5_300, false, true),
    (5_450, false, false),
    (8_000, false, true),
    (8_150, true, true),
    (8_300, true, false),
    (8_450, false, false),
    // A turn-back, then flicker.
    (11_000, true, false),
    (11_300, false, false),
    (14_000, true, false),
    (14_010, false, false),
    // Two close together: the second breaks A while the first is in B.
    (42_000, true, false),
    (42_150, true, true),
    (42_300, false, true),
    (42_400, true, true),
    (42_500, true, false),
    (42_600, true, true),
    (42_750, false, true),
    (42_900, false, false),
    // Out.
    (50_000, false, true),
    (50_150, true, true),
    (50_300, true, false),
    (50_450, false, false),
    // The pram.
    (61_000, true, false),
    (95_000, false, false),
    // In.
    (105_000, true, false),
    (105_150, true, true),
    (105_300, false, true),
    (105_450, false, false),
];

/// Plays [`EDGES`], one change at a time.
pub struct Beams {
    next: usize,
}

impl Beams {
    pub fn new() -> Self {
        Beams { next: 0 }
    }

    /// When the beams next change.
    pub fn next_at(&self) -> Option<u64> {
        EDGES.get(self.next).map(|&(t, _, _)| t)
    }

    /// The change due by `now_ms`, if one is.
    pub fn sample(&mut self, now_ms: u64) -> Option<(bool, bool)> {
        let &(t, a, b) = EDGES.get(self.next)?;
        if t > now_ms {
            return None;
        }
        self.next += 1;
        Some((a, b))
    }
}
