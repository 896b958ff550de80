//! The reports the dashboard keeps between requests: each report is
//! computed once per state of the event store, however many requests ask
//! for it at the same moment (a request for a report being computed waits
//! for that computation), and kept for repeat views while no event is added.
//!
//! Memory stays bounded: at most [`CACHED_REPORTS`] reports of at most
//! [`CACHED_ROWS_MAX`] rows each, plus the reports of the chain-wide
//! default views (`prewarm::DEFAULT_VIEWS`), which are kept until the data
//! changes whatever else is asked for, so the prewarm's work is not evicted.

use crate::event_store::{EventFilter, StoreError};
use crate::funnel::report::FunnelReport;
use crate::funnel::Dimension;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Reports kept for repeat views. Each costs a pass over the events; the
/// morning's analysts open the same few pages, and a report stays right
/// until the collector stores another event.
const CACHED_REPORTS: usize = 32;
/// Reports larger than this are not kept (`--by sku,store` over a whole
/// chain has a million rows).
const CACHED_ROWS_MAX: usize = 50_000;

/// What a report depends on: its parameters and the store's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReportKey {
    pub filter: EventFilter,
    pub window: Duration,
    pub by: Vec<Dimension>,
    /// The store's change marker (`EventStore::change_marker`): rows are
    /// only ever added, so an unchanged marker means unchanged data.
    pub last_event: (i64, i64),
}

/// One report, being computed or computed: whoever gets to it first
/// computes it, everyone else blocks in `get_or_init` until it is there.
/// `None` means the computation failed.
type Flight = Arc<OnceLock<Option<Arc<FunnelReport>>>>;

struct Entry {
    key: ReportKey,
    flight: Flight,
    /// Kept until the data changes, whatever else is asked for: a
    /// prewarmed default view.
    pinned: bool,
}

/// The kept reports, most recently added last.
#[derive(Default)]
pub(super) struct ReportCache {
    entries: Mutex<Vec<Entry>>,
    /// Reports computed since the start (not served from the cache), for
    /// `/api/status`.
    computed: AtomicU64,
}

impl ReportCache {
    /// The report for `key`: the kept one, the one being computed (waiting
    /// for it), or `compute`'s, kept for the next request.
    pub(super) fn get_or_compute(
        &self,
        key: ReportKey,
        compute: impl Fn() -> Result<FunnelReport, StoreError>,
    ) -> Result<Arc<FunnelReport>, StoreError> {
        let flight = self.flight(&key);
        let mut failure = None;
        let outcome = flight.get_or_init(|| {
            self.computed.fetch_add(1, Ordering::Relaxed);
            match compute() {
                Ok(report) => Some(Arc::new(report)),
                Err(e) => {
                    failure = Some(e);
                    None
                }
            }
        });
        match (outcome, failure) {
            (Some(report), _) => {
                if report.rows.len() > CACHED_ROWS_MAX {
                    self.forget(&flight);
                }
                Ok(report.clone())
            }
            (None, Some(e)) => {
                self.forget(&flight);
                Err(e)
            }
            // The computation this request waited for failed (and was
            // forgotten): this request tries once itself, to say why.
            (None, None) => {
                self.computed.fetch_add(1, Ordering::Relaxed);
                compute().map(Arc::new)
            }
        }
    }

    /// The entry of `key`, added (and an older one evicted) if there is none.
    fn flight(&self, key: &ReportKey) -> Flight {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Reports of older data can never be asked for again.
        entries.retain(|e| e.key.last_event == key.last_event);
        if let Some(entry) = entries.iter().find(|e| e.key == *key) {
            return entry.flight.clone();
        }
        if entries.iter().filter(|e| !e.pinned).count() >= CACHED_REPORTS {
            if let Some(oldest) = entries.iter().position(|e| !e.pinned) {
                entries.remove(oldest);
            }
        }
        let flight = Flight::default();
        entries.push(Entry {
            key: key.clone(),
            flight: flight.clone(),
            pinned: super::prewarm::is_default_view(&key.filter, key.window, &key.by),
        });
        flight
    }

    fn forget(&self, flight: &Flight) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| !Arc::ptr_eq(&e.flight, flight));
    }

    /// How many reports were computed rather than served from the cache.
    pub(super) fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    fn key(window_s: u64, by: Dimension) -> ReportKey {
        ReportKey {
            filter: EventFilter::default(),
            window: Duration::from_secs(window_s),
            by: vec![by],
            last_event: (1, 0),
        }
    }

    fn report() -> Result<FunnelReport, StoreError> {
        Ok(FunnelReport::new(
            Duration::from_secs(3600),
            vec![Dimension::Sku],
            Vec::new(),
        ))
    }

    #[test]
    fn a_report_asked_for_by_many_at_once_is_computed_once() {
        let cache = ReportCache::default();
        let computations = AtomicU64::new(0);
        let start = Barrier::new(8);
        let reports: Vec<Arc<FunnelReport>> = std::thread::scope(|scope| {
            let asks: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        cache
                            .get_or_compute(key(3600, Dimension::Sku), || {
                                computations.fetch_add(1, Ordering::Relaxed);
                                report()
                            })
                            .unwrap()
                    })
                })
                .collect();
            asks.into_iter().map(|a| a.join().unwrap()).collect()
        });
        assert_eq!(computations.load(Ordering::Relaxed), 1);
        assert_eq!(cache.computed(), 1);
        assert!(reports.iter().all(|r| Arc::ptr_eq(r, &reports[0])));
    }

    #[test]
    fn a_failed_report_is_not_kept() {
        let cache = ReportCache::default();
        let failed = cache.get_or_compute(key(3600, Dimension::Sku), || {
            Err(rusqlite::Error::InvalidQuery.into())
        });
        assert!(failed.is_err());
        assert!(cache
            .get_or_compute(key(3600, Dimension::Sku), report)
            .is_ok());
        assert_eq!(cache.computed(), 2);
    }

    #[test]
    fn a_default_view_outlasts_any_number_of_other_reports_until_the_data_changes() {
        let cache = ReportCache::default();
        let default = cache
            .get_or_compute(key(3600, Dimension::Sku), report)
            .unwrap();
        let early = cache
            .get_or_compute(key(3600, Dimension::Fixture), report)
            .unwrap();
        for window_s in 1..=CACHED_REPORTS as u64 {
            cache
                .get_or_compute(key(window_s, Dimension::Sku), report)
                .unwrap();
        }
        let never = || -> Result<FunnelReport, StoreError> { panic!("computed again") };
        let again = cache
            .get_or_compute(key(3600, Dimension::Sku), never)
            .unwrap();
        assert!(Arc::ptr_eq(&default, &again));
        let evicted = cache
            .get_or_compute(key(3600, Dimension::Fixture), report)
            .unwrap();
        assert!(
            !Arc::ptr_eq(&early, &evicted),
            "the oldest other report goes"
        );
        let changed = ReportKey {
            last_event: (2, 0),
            ..key(3600, Dimension::Sku)
        };
        let fresh = cache.get_or_compute(changed, report).unwrap();
        assert!(!Arc::ptr_eq(&default, &fresh));
    }
}
