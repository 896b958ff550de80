//! The collector's counters and their Prometheus metrics
//! (`aisle hq --metrics ADDR`).
//!
//! The collector bumps [`CollectorStats`] as it commits; a scrape reads
//! them. docs/hq.md lists each metric.

use crate::event_store::IngestCounts;
use crate::metrics::{Exposition, MetricsError};
use protocol::time::UnixMillis;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Counters of one collector run.
#[derive(Default)]
pub(crate) struct CollectorStats {
    /// Batches committed with their events.
    pub batches_stored: AtomicU64,
    /// Batches rejected whole and kept in the quarantine table.
    pub batches_quarantined: AtomicU64,
    pub events_inserted: AtomicU64,
    /// Events whose id was already stored (a gateway's resend).
    pub events_duplicate: AtomicU64,
    /// Bad events of accepted batches, kept in the quarantine table.
    pub events_quarantined: AtomicU64,
    /// Commits that failed and were retried (the batches were not acked).
    pub commit_errors: AtomicU64,
    pub broker_connected: AtomicBool,
}

impl CollectorStats {
    /// Counts one committed group of `batches` batches.
    pub(crate) fn committed(&self, batches: usize, counts: &IngestCounts) {
        let stored = (batches as u64).saturating_sub(counts.quarantined_batches);
        self.batches_stored.fetch_add(stored, Relaxed);
        self.batches_quarantined
            .fetch_add(counts.quarantined_batches, Relaxed);
        self.events_inserted.fetch_add(counts.inserted, Relaxed);
        self.events_duplicate.fetch_add(counts.duplicates, Relaxed);
        self.events_quarantined
            .fetch_add(counts.quarantined_events, Relaxed);
    }
}

/// One scrape of the collector's metrics.
pub(crate) fn render(stats: &CollectorStats, started: UnixMillis) -> Result<String, MetricsError> {
    let mut e = Exposition::new();
    e.gauge_labelled(
        "aisle_hq_info",
        "The collector's version (always 1).",
        &["version"],
        [(vec![env!("CARGO_PKG_VERSION")], 1)],
    );
    e.gauge(
        "aisle_hq_start_time_seconds",
        "When this collector process started, in Unix seconds.",
        started.0 / 1000,
    );
    e.gauge(
        "aisle_hq_broker_connected",
        "1 while the collector is connected to the broker, 0 otherwise.",
        i64::from(stats.broker_connected.load(Relaxed)),
    );
    e.counter_by(
        "aisle_hq_batches_total",
        "Batches committed: stored, or quarantined whole (bad schema, store, size).",
        "result",
        [
            ("stored", stats.batches_stored.load(Relaxed)),
            ("quarantined", stats.batches_quarantined.load(Relaxed)),
        ],
    );
    e.counter_by(
        "aisle_hq_events_total",
        "Events of stored batches: inserted, duplicate (already stored) or quarantined.",
        "result",
        [
            ("inserted", stats.events_inserted.load(Relaxed)),
            ("duplicate", stats.events_duplicate.load(Relaxed)),
            ("quarantined", stats.events_quarantined.load(Relaxed)),
        ],
    );
    e.counter(
        "aisle_hq_commit_errors_total",
        "Failed commits to the event store, retried; their batches were not acked.",
        stats.commit_errors.load(Relaxed),
    );
    e.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_group_counts_stored_and_quarantined_batches() {
        let stats = CollectorStats::default();
        let counts = IngestCounts {
            inserted: 10,
            duplicates: 2,
            quarantined_batches: 1,
            quarantined_events: 3,
        };
        stats.committed(4, &counts);
        let text = render(&stats, UnixMillis(5_000)).unwrap();
        for line in [
            "aisle_hq_batches_total{result=\"stored\"} 3\n",
            "aisle_hq_batches_total{result=\"quarantined\"} 1\n",
            "aisle_hq_events_total{result=\"inserted\"} 10\n",
            "aisle_hq_events_total{result=\"duplicate\"} 2\n",
            "aisle_hq_events_total{result=\"quarantined\"} 3\n",
            "aisle_hq_start_time_seconds 5\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
