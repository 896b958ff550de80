//! When to reopen a receiver, as a state machine without I/O: a receiver
//! that fails to open or vanishes is tried again with capped exponential
//! backoff, never in a spin, and a port that proved healthy starts the
//! backoff afresh.
//!
//! Fed `on_open_failed(now)`, `on_opened(now)`, `on_data()` and
//! `on_gone(now)`; each failure answers when to try next. The receiver
//! task in [`super`] sleeps until then.

use std::time::{Duration, Instant};

/// First wait before reopening a receiver; doubles up to [`MAX_BACKOFF`].
pub(super) const MIN_BACKOFF: Duration = Duration::from_millis(100);
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A port that stayed open this long without data was healthy: the next
/// failure starts the backoff afresh.
pub(super) const HEALTHY_AFTER: Duration = Duration::from_secs(2);

/// The next open attempt after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Retry {
    /// Not before this instant.
    pub at: Instant,
    /// The first failure to open since the port last worked: worth a log
    /// line (later ones would repeat it every few seconds).
    pub report: bool,
}

/// One receiver's reopen state.
#[derive(Debug, Clone)]
pub(super) struct Reopen {
    backoff: Duration,
    opened_at: Option<Instant>,
    open_failure_reported: bool,
}

impl Default for Reopen {
    fn default() -> Self {
        Reopen {
            backoff: MIN_BACKOFF,
            opened_at: None,
            open_failure_reported: false,
        }
    }
}

impl Reopen {
    /// Opening the port failed at `now`.
    pub(super) fn on_open_failed(&mut self, now: Instant) -> Retry {
        let report = !self.open_failure_reported;
        self.open_failure_reported = true;
        Retry {
            at: self.wait(now),
            report,
        }
    }

    /// The port opened at `now`.
    pub(super) fn on_opened(&mut self, now: Instant) {
        self.opened_at = Some(now);
        self.open_failure_reported = false;
    }

    /// The port delivered data: it works, so a later failure is a new one.
    pub(super) fn on_data(&mut self) {
        self.backoff = MIN_BACKOFF;
    }

    /// The open port vanished (EOF, I/O error) at `now`.
    pub(super) fn on_gone(&mut self, now: Instant) -> Instant {
        if self
            .opened_at
            .take()
            .is_some_and(|t| now.duration_since(t) >= HEALTHY_AFTER)
        {
            self.backoff = MIN_BACKOFF;
        }
        self.wait(now)
    }

    /// The current backoff from `now`, doubling it for the next failure.
    fn wait(&mut self, now: Instant) -> Instant {
        let at = now + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_opens_back_off_doubling_up_to_the_cap() {
        let t0 = Instant::now();
        let mut r = Reopen::default();
        let waits: Vec<Duration> = (0..8).map(|_| r.on_open_failed(t0).at - t0).collect();
        assert_eq!(
            waits[..7],
            [100, 200, 400, 800, 1600, 3200, 5000].map(Duration::from_millis)
        );
        assert_eq!(waits[7], MAX_BACKOFF);
    }

    #[test]
    fn only_the_first_failed_open_since_the_port_last_opened_is_reported() {
        let t0 = Instant::now();
        let mut r = Reopen::default();
        assert!(r.on_open_failed(t0).report);
        assert!(!r.on_open_failed(t0).report);
        r.on_opened(t0);
        assert!(r.on_open_failed(t0).report);
    }

    #[test]
    fn a_port_gone_at_once_keeps_backing_off() {
        let t0 = Instant::now();
        let mut r = Reopen::default();
        r.on_opened(t0);
        assert_eq!(
            r.on_gone(t0 + Duration::from_millis(10)),
            t0 + Duration::from_millis(110)
        );
        r.on_opened(t0);
        let again = r.on_gone(t0);
        assert_eq!(
            again - t0,
            Duration::from_millis(200),
            "no reset: it never worked"
        );
    }

    #[test]
    fn a_port_open_long_enough_starts_the_backoff_afresh() {
        let t0 = Instant::now();
        let mut r = Reopen::default();
        for _ in 0..5 {
            r.on_open_failed(t0);
        }
        r.on_opened(t0);
        let gone = t0 + HEALTHY_AFTER;
        assert_eq!(r.on_gone(gone) - gone, MIN_BACKOFF);
    }

    #[test]
    fn data_from_the_port_starts_the_backoff_afresh() {
        let t0 = Instant::now();
        let mut r = Reopen::default();
        for _ in 0..5 {
            r.on_open_failed(t0);
        }
        r.on_opened(t0);
        r.on_data();
        assert_eq!(r.on_gone(t0) - t0, MIN_BACKOFF);
    }
}
