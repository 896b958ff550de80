//! Where the simulator's time meets the world's, in one place.
//!
//! Inside, the simulation runs on milliseconds since the store opened, a
//! `u64` like a tag's monotonic clock: the shopper model, the tags and the
//! truth all speak it. Spans that come from the command line or go to the
//! funnel are [`Duration`]s, and the one wall-clock instant the simulator
//! reads (for a fresh boot number) is a [`UnixMillis`]. Every conversion
//! between them is here, so none is scattered as a cast.

use protocol::time::UnixMillis;
use std::time::Duration;

/// A span of simulation time.
pub fn span(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A span in simulation milliseconds, saturating (at half a billion years).
pub fn sim_ms(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX)
}

/// A span in the funnel's signed milliseconds (its windows and step
/// gaps), saturating.
pub fn funnel_ms(span: Duration) -> i64 {
    i64::try_from(span.as_millis()).unwrap_or(i64::MAX)
}

/// The simulation clock: milliseconds since the store opened.
#[derive(Debug, Clone, Copy)]
pub struct SimClock(tokio::time::Instant);

impl SimClock {
    /// Opens the store now: simulation time 0.
    pub fn start() -> Self {
        SimClock(tokio::time::Instant::now())
    }

    pub fn now_ms(&self) -> u64 {
        sim_ms(self.0.elapsed())
    }
}

/// A boot number no earlier run used, as a real tag's persisted counter:
/// the wall clock's seconds (a `u32` until 2106).
pub fn fresh_boot(now: UnixMillis) -> u32 {
    u32::try_from(now.0.div_euclid(1_000)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_round_trip_and_saturate() {
        assert_eq!(sim_ms(span(90_000)), 90_000);
        assert_eq!(funnel_ms(span(3_600_000)), 3_600_000);
        assert_eq!(sim_ms(Duration::MAX), u64::MAX);
        assert_eq!(funnel_ms(Duration::MAX), i64::MAX);
    }

    #[test]
    fn boot_numbers_are_the_wall_clocks_seconds() {
        assert_eq!(fresh_boot(UnixMillis(1_764_547_200_999)), 1_764_547_200);
        assert_eq!(fresh_boot(UnixMillis(i64::MAX)), u32::MAX);
    }
}
