//! Dwell detection for fixture presence tags: turns PIR level samples into
//! `DwellStart` and `DwellEnd { dwell_ms }`.
//!
//! A visit opens at the first presence and closes once presence has been gone
//! for the gap tolerance, so a PIR that drops out and re-triggers while a
//! shopper browses does not split one visit into two. A visit is reported
//! only once it has lasted the minimum dwell time; passers-by are not.

use crate::pickup::saturate_u32;
use protocol::Settings;

/// What the dwell detector concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DwellEvent {
    /// Presence has lasted the minimum dwell time.
    DwellStart,
    /// The visit ended; `dwell_ms` runs from its first to its last presence.
    DwellEnd {
        /// From the visit's first to its last presence.
        dwell_ms: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    None,
    /// Presence since `start`, not yet long enough to report.
    Pending {
        start: u64,
    },
    /// Reported with `DwellStart`; the end will be reported too.
    Dwelling {
        start: u64,
    },
}

/// Dwell detector for one fixture. Feed it the PIR level whenever it is
/// sampled or changes, and call [`DwellDetector::poll`] by
/// [`DwellDetector::poll_timeout`] so a visit ends without a new sample.
#[derive(Debug, Clone)]
pub struct DwellDetector {
    min_ms: u64,
    gap_ms: u64,
    visit: Visit,
    /// The PIR level at the last sample.
    level: bool,
    /// When presence was last seen: the last high sample, or the falling edge.
    last_present: u64,
}

impl DwellDetector {
    /// A detector with the config page's dwell thresholds, nobody present.
    pub fn new(settings: &Settings) -> Self {
        let mut detector = DwellDetector {
            min_ms: 0,
            gap_ms: 0,
            visit: Visit::None,
            level: false,
            last_present: 0,
        };
        detector.update_settings(settings);
        detector
    }

    /// Applies new thresholds without ending an ongoing visit.
    pub fn update_settings(&mut self, settings: &Settings) {
        self.min_ms = u64::from(settings.dwell_min_ms);
        self.gap_ms = u64::from(settings.dwell_gap_ms);
    }

    /// True while nobody is at the fixture and nothing is pending.
    pub fn is_idle(&self) -> bool {
        self.visit == Visit::None
    }

    /// Feeds the PIR level at `now_ms`. At most one event per call; a second
    /// one due at the same moment comes from the next call or poll.
    pub fn sample(&mut self, now_ms: u64, present: bool) -> Option<DwellEvent> {
        // Whatever was due before this sample (typically the end of the
        // previous visit) is reported first; the sample still counts.
        if let Some(due) = self.poll(now_ms) {
            self.apply(now_ms, present);
            return Some(due);
        }
        self.apply(now_ms, present);
        self.poll(now_ms)
    }

    /// Reports what is due at `now_ms` without a new sample: a visit reaching
    /// the minimum dwell while the level stays high, or the end of a visit.
    pub fn poll(&mut self, now_ms: u64) -> Option<DwellEvent> {
        let present_until = if self.level {
            now_ms
        } else {
            self.last_present
        };
        match self.visit {
            Visit::None => None,
            Visit::Pending { start } | Visit::Dwelling { start }
                if !self.level && now_ms.saturating_sub(self.last_present) >= self.gap_ms =>
            {
                let reported = matches!(self.visit, Visit::Dwelling { .. });
                self.visit = Visit::None;
                reported.then(|| DwellEvent::DwellEnd {
                    dwell_ms: saturate_u32(self.last_present.saturating_sub(start)),
                })
            }
            Visit::Pending { start } if present_until.saturating_sub(start) >= self.min_ms => {
                self.visit = Visit::Dwelling { start };
                Some(DwellEvent::DwellStart)
            }
            Visit::Pending { .. } | Visit::Dwelling { .. } => None,
        }
    }

    /// When [`DwellDetector::poll`] may next have something to report.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.visit {
            Visit::None => None,
            _ if !self.level => Some(self.last_present.saturating_add(self.gap_ms)),
            Visit::Pending { start } => Some(start.saturating_add(self.min_ms)),
            Visit::Dwelling { .. } => None,
        }
    }

    fn apply(&mut self, now_ms: u64, present: bool) {
        if present {
            if self.visit == Visit::None {
                self.visit = Visit::Pending { start: now_ms };
            }
            self.last_present = now_ms;
        } else if self.level {
            // Falling edge: presence lasted until now.
            self.last_present = now_ms;
        }
        self.level = present;
    }
}

#[cfg(test)]
mod tests;
